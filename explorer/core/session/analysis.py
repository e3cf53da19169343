"""The computing side of a session: GAN points, projections and k-means as tasks applied to their own model."""

from __future__ import annotations

import time
from collections.abc import Sequence

from explorer.core import embedding as emb
from explorer.core.heavy import load_estimators, load_sklearn
from explorer.core.projection.spec import ProjectionSpec
from explorer.core.session.state import GanPoints, ModelState, Task

__all__ = ["Analyses"]


class Analyses:
    """Methods of :class:`~explorer.core.session.Session` that make tasks: inversion, projections, k-means.

    A mixin: it uses the session's signals, state look-ups and caches.
    """

    def set_gan_points(self, key: str, source: str, n: int = 0) -> Task | None:
        """Show a GAN's prior samples, or ``n`` dataset images at codes found by GAN inversion.

        Parameters
        ----------
        key : str
            A GAN without encoder.
        source : {"prior", "inverted"}
        n : int
            Dataset images to invert (a seeded sample; all when 0 or ≥ N), with the
            session's reconstruction settings for the inversion.

        Returns
        -------
        Task or None
            The inversion task (None for prior samples, which the encode task makes).

        Raises
        ------
        ValueError
            An unknown ``source``.
        """
        from explorer.core.reconstruction.inverted import inversion_summary, inverted_dataset_codes

        if source not in ("prior", "inverted"):
            raise ValueError(f"source must be 'prior' or 'inverted', got {source!r}")
        m = self.state(key)
        if m is None or m.entry is None or m.model.has_encoder or self.dataset is None:
            return None
        dataset, dataset_id, stores = self.dataset, self.dataset_id, self.inverted_stores
        n = min(int(n), len(dataset)) if n else len(dataset)
        m.gan_points = GanPoints(source, n)
        self.mark_dirty()
        if source == "prior":
            prior, m.prior_codes = m.prior_codes, None
            if m.codes is not None and m.codes.source != "prior":
                self._set_codes(m, prior)  # None: sampled again by the encode task
            return None
        settings = self.inversion_settings()
        seed = self.dataset_spec.seed if self.dataset_spec is not None else 0
        model, file_hash = m.entry.model, m.entry.file_hash

        def invert_points(ctx):
            store = stores.get(model, file_hash, dataset_id, len(dataset), settings)
            return inverted_dataset_codes(store, dataset, n if n < len(dataset) else None, seed, ctx)

        def apply(codes):
            if self.state(key) is not m or dataset_id != self.dataset_id or m.gan_points.source != "inverted":
                return
            if m.codes is not None and m.codes.source == "prior":
                m.prior_codes = m.codes
            self._set_status(m, "")
            self._set_codes(m, codes)

        shown = "the prior samples" if m.codes is None or m.codes.source == "prior" else "the points shown"
        self._set_status(m, f"Finding codes for {n:,} dataset images by GAN inversion "
                            f"({inversion_summary(settings)}); {shown} stay until then.")
        return Task(f"invert-points:{key}", "invert", invert_points,
                    f"GAN inversion of {n:,} images ({m.name})", apply, key)

    def inversion_settings(self):
        """The GAN-inversion settings of the reconstruction settings (an ``InversionSettings``)."""
        from explorer.core.reconstruction.inversion import InversionSettings

        raw = dict(self.settings.get("reconstruction", {}).get("inversion", {}))
        return InversionSettings(**raw) if raw else InversionSettings()

    # ------------------------------------------------------------------ projections

    def projection_key(self, m: ModelState, spec: ProjectionSpec) -> str:
        """The projection-cache key of ``spec`` on ``m``'s current codes."""
        return emb.projection_key(m.file_hash or "", emb.codes_identity(self.dataset_id or "", m.codes), spec,
                                  len(m.codes.z))

    def _initial_projection(self, m: ModelState) -> Task | None:
        """First embedding of a model's codes: the spec asked for when cached, else PCA (or z itself when d = 2)."""
        d = m.codes.z.shape[1]
        if m.want_spec is not None:  # a restored session: its projection, from the cache or computed
            spec = m.want_spec if m.want_spec.method != "identity" or d == 2 else emb.default_spec(d)
            return None if self.show_cached(m.key, spec) else self.project(m.key, spec)
        spec = self.projection
        if spec.method in ("pca", "identity"):
            spec = emb.default_spec(d)
        if self.show_cached(m.key, spec):
            return None
        if spec.method in ("umap", "tsne"):
            wanted, spec = spec, emb.default_spec(d)
            if self.show_cached(m.key, spec):
                return None
            task = self.project(m.key, spec)
            self._set_status(m, f"{wanted.label()} is not computed for this model yet — press Compute in "
                                f"“Projection and colours”; {spec.label()} shown meanwhile.", until=wanted)
            return task
        return self.project(m.key, spec)

    def show_cached(self, key: str, spec: ProjectionSpec) -> bool:
        """Show ``spec``'s embedding of model ``key`` if it is in memory or the disk cache; True if shown."""
        m = self.state(key)
        if m is None or m.codes is None:
            return False
        hit = m.embeddings.get(spec)
        if hit is None:
            hit = emb.cached_embedding(self.projection_key(m, spec), spec, len(m.codes.z), self.projection_cache)
        if hit is None:
            return False
        self._show(m, hit)
        return True

    def _show(self, m: ModelState, result: emb.EmbeddingResult) -> None:
        m.embeddings[result.spec] = result
        if result.spec == m.want_spec or (m.want_spec is None and m.want_view_range is not None):
            m.want_spec, m.view_range, m.want_view_range = None, m.want_view_range, None
        changed, first = m.shown != result.spec, m.shown is None
        m.shown = result.spec
        if m.clustering is not None and m.clustering.space == "embedding" and changed:
            m.clustering = None  # it clustered another embedding
            self.clustering_changed.emit(m.key)
        if m.status_until is None or result.spec == m.status_until:
            self._set_status(m, "")  # e.g. "Computing UMAP…; PCA shown meanwhile" ends when the UMAP is shown
        self.embedding_changed.emit(m.key)
        if changed and not first:
            self.mark_dirty()

    def project(self, key: str, spec: ProjectionSpec) -> Task | None:
        """Show ``spec``'s embedding of model ``key``: from the cache at once (None), else a task.

        Raises
        ------
        ValueError
            The identity asked for codes that are not 2-D.
        """
        m = self.state(key)
        if m is None or m.codes is None or self.dataset_id is None:
            return None
        if self.show_cached(key, spec):
            return None
        codes = m.codes
        if spec.method == "identity" and codes.z.shape[1] != 2:
            raise ValueError(f"The latent space of {m.name} has d = {codes.z.shape[1]}, so it cannot be shown "
                             "as is; choose PCA, UMAP or t-SNE.")
        remote = spec.method in ("umap", "tsne") and self.use_workers
        compute = self.projection_worker(spec.method).run if remote else None
        cache, pkey = self.projection_cache, self.projection_key(m, spec)
        requested_at = time.monotonic()  # the user's wait (meta "waited_s") counts from the request

        def fn(ctx):
            if spec.method in ("pca", "identity"):
                load_estimators()  # not k-means and the metrics (~0.1 s more) before the first embedding
            else:
                load_sklearn()
            return emb.project_cached(codes.z, spec, pkey, cache, compute=compute, ctx=ctx,
                                      requested_at=requested_at)

        def apply(result):
            # only the model's latest projection request counts (closed, new points or a newer request: dropped)
            if self.state(key) is m and m.codes is codes and m.busy.get("projection") is task:
                self._show(m, result)

        def failed(_message: str):
            if self.state(key) is m and m.codes is codes:
                m.projection_failed = True  # said once (the job's error); not tried again by itself
                m.want_spec = m.want_view_range = None

        if spec.method in ("umap", "tsne"):
            shown = m.shown.label() if m.shown is not None else ""
            self._set_status(m, f"Computing {spec.label()}…" + (f" {shown} shown meanwhile." if shown else ""),
                             until=spec if shown else None)
        kind = f"projection:{spec.method}" if remote else f"projection:{key}"
        task = Task(kind, "projection", fn, f"{spec.name} of {len(codes.z):,} codes ({m.name})", apply, key,
                    on_failed=failed, detail=spec.label())
        return task

    # ------------------------------------------------------------------ clustering

    def _clustering_points(self, m: ModelState, space: str):
        if m is None or m.codes is None or m.embedding is None:
            raise ValueError("Open a model and wait for its embedding before running k-means.")
        return m.codes.z if space == "latent" else m.embedding.embedding

    def kmeans(self, key: str, space: str | None = None, k: int | None = None, seed: int | None = None) -> Task:
        """A k-means task on model ``key``'s codes or shown embedding (default: the clustering settings).

        Parameters
        ----------
        key : str
            The model.
        space : {"latent", "embedding"}, optional
            Its codes z ``(N, d)`` or its shown 2-D embedding ``(N, 2)``.
        k : int, optional
            Clusters, 1 ≤ k ≤ N.
        seed : int, optional
            ``KMeans`` random_state.

        Returns
        -------
        Task
            Its result is a :class:`~explorer.core.clustering.ClusteringResult` (scores against the
            labels: Rosenberg & Hirschberg 2007 V-measure, ARI, NMI, silhouette), applied to that model.

        Raises
        ------
        ValueError
            The model has no codes or embedding yet.
        """
        from explorer.core.clustering import cluster

        s = self.clustering_settings
        space, k, seed = space or s.space, int(k or s.k), int(s.seed if seed is None else seed)
        m = self.state(key)
        x = self._clustering_points(m, space)
        codes, shown, labels = m.codes, m.shown, m.codes.labels

        def run(ctx):
            load_sklearn()
            ctx.progress(0.0, f"k-means on the {space} space, k = {k}")
            return cluster(x, k, seed=seed, space=space, labels_true=labels, with_silhouette=True)

        def apply(result):
            if self.state(key) is m and m.codes is codes and (space == "latent" or m.shown == shown):
                m.clustering = result
                self.clustering_changed.emit(key)
                self.mark_dirty()

        return Task(f"kmeans:{key}", "kmeans", run, f"k-means (k = {k}, {m.name})", apply, key)

    def k_sweep(self, key: str, space: str | None = None, ks: Sequence[int] | None = None,
                seed: int | None = None) -> Task:
        """A task running k-means for each k of ``ks`` (default: the sweep range) on model ``key``.

        Parameters
        ----------
        key : str
        space : {"latent", "embedding"}, optional
        ks : sequence of int, optional
        seed : int, optional

        Returns
        -------
        Task
            Its result, one :class:`~explorer.core.clustering.ClusteringResult` per k, is that model's sweep.

        Raises
        ------
        ValueError
            The model has no codes or embedding yet.
        """
        from explorer.core.clustering import k_sweep

        s = self.clustering_settings
        space, seed = space or s.space, int(s.seed if seed is None else seed)
        ks = [int(k) for k in (ks if ks is not None else range(s.sweep[0], s.sweep[1] + 1))]
        m = self.state(key)
        x = self._clustering_points(m, space)
        codes, labels = m.codes, m.codes.labels

        def run(ctx):
            load_sklearn()
            return k_sweep(x, ks, labels_true=labels, seed=seed, ctx=ctx, space=space)

        def apply(results):
            if self.state(key) is m and m.codes is codes:
                m.sweep = list(results)
                self.sweep_changed.emit(key)

        return Task(f"kmeans-sweep:{key}", "sweep", run, f"k-means sweep (k = {ks[0]}…{ks[-1]}, {m.name})",
                    apply, key)
