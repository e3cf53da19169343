"""Two-way glue between the session and the model list, projection and clustering panels (no state of its own)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSignalBlocker

from explorer.core import captions
from explorer.core.session import Session
from explorer.gui.session_runner import SessionRunner

__all__ = ["ModelListBinding", "ProjectionBinding", "ClusteringBinding", "ReconstructionBinding", "space_labels"]


def space_labels(session: Session, key: str | None) -> tuple[str, str]:
    """Names of the two spaces k-means can run on, for model ``key``: its codes z and its shown embedding."""
    m = session.state(key)
    if m is None or m.codes is None:
        return "Latent codes z", "2-D embedding"
    d = m.codes.z.shape[1]
    latent = ("Inverted latent codes" if m.codes.source == "inverted" else "Latent codes") + f" z (d = {d})"
    shown = m.shown.label() if m.shown is not None else "not shown yet"
    return latent, f"2-D embedding ({shown})"


class ModelListBinding:
    """The model list and dataset line show the session's models (in their order) and dataset.

    Parameters
    ----------
    session : Session
    panel : explorer.gui.model_panel.ModelPanel
    """

    def __init__(self, session: Session, panel) -> None:
        self.session, self.panel = session, panel
        self.pending: list[str] = []  # names of files being read before they are added
        panel.active_model_changed.connect(self._on_row_chosen)
        for signal in (session.models_changed, session.dataset_changed):
            signal.connect(self.refresh)
        session.active_changed.connect(lambda _k: self.refresh())
        session.codes_changed.connect(lambda _k: self.refresh_dataset_line())

    def _on_row_chosen(self, row: int) -> None:
        if 0 <= row < len(self.session.models):
            self.session.set_active(self.session.models[row].key)

    def refresh(self) -> None:
        """Rows in the session's order; the active one selected; details of the active model."""
        s, rows = self.session, []
        for m in s.models:
            if m.entry is not None:
                info = m.entry.info or {}
                trained = f"trained on {info['dataset']}" if info.get("dataset") else ""
                epochs = f"{info['epochs']} epochs" if info.get("epochs") else ""
                tip = "\n".join(x for x in (str(m.path), m.entry.summary, ", ".join(y for y in (trained, epochs) if y),
                                            f"SHA-256 {m.entry.file_hash[:16]}…") if x)
                rows.append((m.name, m.entry.summary, tip))
            else:
                rows.append((m.name, "loading…", str(m.path)))
        active = next((i for i, m in enumerate(s.models) if m.key == s.active_key), -1)
        with QSignalBlocker(self.panel):
            self.panel.set_models(rows, active)
        m = s.active
        if m is not None and m.entry is None:
            self.panel.set_details(f"{m.name}: loading the model…")
        else:
            self.panel.set_details(captions.model_details(m.entry.info) + f"\ncomputes on {m.entry.device}"
                                   if m is not None else "")
        self.refresh_dataset_line()

    def refresh_dataset_line(self) -> None:
        """Name, N, shape, classes of the dataset, with the active model's notes (resizing)."""
        from explorer.core.workspace import dataset_line

        ds = self.session.dataset
        if ds is None:
            if not self.session.dataset_loading:
                self.panel.set_dataset("No dataset open.")
            return
        notes = list(ds.notes)
        m = self.session.active
        if m is not None and m.codes is not None and m.codes.source != "prior":
            notes += [n for n in m.codes.notes if n not in notes]
        self.panel.set_dataset(dataset_line(ds), notes)


class ProjectionBinding:
    """The projection panel asks the session for projections, colouring and markers, and shows its state.

    Parameters
    ----------
    session : Session
    panel : explorer.gui.projection_panel.ProjectionPanel
    runner : SessionRunner
    show_error : callable
        ``show_error(sentence)``.
    inversion_text : callable
        ``inversion_text() -> str``: the GAN-inversion settings in words (for the GAN box).
    """

    def __init__(self, session: Session, panel, runner: SessionRunner, show_error: Callable[[str], None],
                 inversion_text: Callable[[], str]) -> None:
        self.session, self.panel, self.runner = session, panel, runner
        self.show_error, self.inversion_text = show_error, inversion_text
        panel.spec_changed.connect(self._on_spec_changed)
        panel.projection_requested.connect(self.request)
        panel.colouring_changed.connect(lambda mode, dim: session.set_colour(mode, dim))
        panel.marker_changed.connect(lambda size, opacity: session.set_marker(size, opacity))
        panel.gan_box.points_requested.connect(self._on_gan_points_requested)
        for signal in (session.active_changed, session.codes_changed, session.embedding_changed,
                       session.clustering_changed, session.busy_changed, session.models_changed,
                       session.evaluation_changed, session.dataset_changed):
            signal.connect(self._on_changed)
        session.colouring_changed.connect(self._show_colouring)
        session.marker_changed.connect(lambda: panel.set_marker(*session.marker))
        session.settings_changed.connect(self._on_settings_changed)
        session.active_changed.connect(lambda _k: self._follow_shown_spec())
        session.embedding_changed.connect(lambda key: key == session.active_key and self._follow_shown_spec())

    def _follow_shown_spec(self) -> None:
        """The panel shows the active model's projection (switching models, or its embedding changed)."""
        m = self.session.active
        if m is not None and m.shown is not None and m.shown != self.panel.spec():
            self.panel.set_spec(m.shown)
            self.session.set_projection(m.shown)

    def _on_settings_changed(self, group: str) -> None:
        if group == "projection" and self.panel.spec() != self.session.projection:
            self.panel.set_spec(self.session.projection)  # e.g. a restored session's (no request: it is shown)

    def request(self, spec) -> int | None:
        """Show ``spec``'s embedding of the active model (cached at once, else a job)."""
        s = self.session
        s.set_projection(spec)
        m = s.active
        if m is None or m.codes is None:
            return None
        try:
            task = s.project(m.key, spec)
        except ValueError as exc:
            self.show_error(str(exc))
            return None
        return self.runner.submit(task)

    def _on_spec_changed(self, spec) -> None:
        """A cached embedding of the new spec is shown at once; otherwise nothing until Compute."""
        s = self.session
        m = s.active
        if m is None or m.codes is None or spec.method in ("pca", "identity"):
            return  # PCA / identity are requested right away by the panel
        s.set_projection(spec)
        if not s.show_cached(m.key, spec):
            self.panel.set_status(f"{spec.label()} is not computed yet: press Compute.")

    def _on_gan_points_requested(self, source: str, n: int) -> None:
        m = self.session.active
        if m is not None:
            self.runner.submit(self.session.set_gan_points(m.key, source, n))
            self.runner.follow_up()  # back to prior samples: sampled again

    def _on_changed(self, *_args) -> None:
        s, panel = self.session, self.panel
        m = s.active
        codes = m.codes if m is not None else None
        d = codes.z.shape[1] if codes is not None else (m.model.latent_dim if m is not None and m.model else 0)
        panel.set_latent_dim(d)
        busy = m is not None and "projection" in m.busy
        panel.set_busy(busy)
        if busy:
            panel.set_status(f"Computing {m.busy['projection'].detail}…")
        elif m is not None and m.embedding is not None:
            res = m.embedding
            source = "read from the cache" if res.from_cache else _computed_in(res.meta)
            panel.set_status(f"Shown: {res.spec.label()}, {source}.")
        else:
            panel.set_status("")
        has_labels = codes is not None and codes.labels is not None
        why = ("prior samples of a GAN have no labels" if codes is not None and codes.source == "prior"
               else "the dataset has no labels")
        panel.set_colour_available("label", has_labels, why)
        panel.set_colour_available("cluster", m is not None and m.clustering is not None,
                                   "run k-means in the Clustering panel first")
        panel.set_colour_available("inversion_error", codes is not None and codes.fit_error is not None,
                                   "only dataset images at GAN-inverted codes have an inversion error")
        panel.set_colour_available("nll", codes is not None and codes.of_dataset and s.per_image_series() is not None,
                                   "estimate the likelihood of dataset images in the Likelihood panel first")
        ds = s.dataset
        factors = ds.factor_names if ds is not None and ds.factors is not None else ()
        panel.set_factor_names(factors or (() if ds is None or ds.factors is None
                                           else [f"factor {i}" for i in range(ds.factors.shape[1])]))
        panel.set_colour_available("factor", bool(panel.factor_combo.count()) and codes is not None
                                   and codes.of_dataset, "the dataset has no ground-truth factors (e.g. dSprites has)")
        self._show_colouring()
        self.update_gan_box()

    def _show_colouring(self) -> None:
        """The colour selector shows what colours the points (the preference stays in the session)."""
        col = self.session.effective_colour()
        if self.session.active is not None and self.session.active.codes is not None:
            self.panel.set_colour_mode(col.mode, col.dim, emit=False)

    def update_gan_box(self) -> None:
        """Show the GAN points box for a GAN without encoder, with the session's inversion settings."""
        s, box = self.session, self.panel.gan_box
        m = s.active
        visible = m is not None and m.model is not None and not m.model.has_encoder and s.dataset is not None
        if visible == box.isHidden():
            box.setVisible(visible)
        if visible:
            box.set_context(len(s.dataset), m.codes.source if m.codes is not None else None, self.inversion_text())
            from explorer.core.reconstruction.inverted import inversion_time_note

            box.set_time_text(inversion_time_note(m.model, s.inversion_settings()))
            box.set_busy("invert" in m.busy)


class ClusteringBinding:
    """The clustering panel runs k-means on the active model through the session and shows that model's result.

    Parameters
    ----------
    session : Session
    panel : explorer.gui.clustering_panel.ClusteringPanel
    runner : SessionRunner
    show_error : callable
    """

    def __init__(self, session: Session, panel, runner: SessionRunner, show_error: Callable[[str], None]) -> None:
        self.session, self.panel, self.runner, self.show_error = session, panel, runner, show_error
        panel.run_requested.connect(self.run_kmeans)
        panel.sweep_requested.connect(self.run_k_sweep)
        panel.colour_by_cluster_changed.connect(self._on_colour_by_cluster)
        self._previous_mode = "label"
        session.active_changed.connect(lambda _k: self.refresh())
        for signal in (session.codes_changed, session.embedding_changed, session.clustering_changed,
                       session.sweep_changed):
            signal.connect(self._on_model_event)
        session.busy_changed.connect(self._on_busy)
        session.colouring_changed.connect(self._show_colour_check)
        session.settings_changed.connect(self._on_settings_changed)

    def _on_settings_changed(self, group: str) -> None:
        if group != "clustering":
            return
        c, panel = self.session.clustering_settings, self.panel
        panel.set_k(c.k)
        panel.set_seed(c.seed)
        panel.set_space(c.space)
        panel.set_sweep_range(*c.sweep)

    def run_kmeans(self, space: str, k: int, seed: int) -> int | None:
        """k-means on the active model's codes or shown embedding, as a job."""
        s = self.session
        s.set_clustering_settings(space=space, k=int(k), seed=int(seed))
        try:
            task = s.kmeans(s.active_key, space, k, seed)
        except ValueError as exc:
            self.show_error(str(exc))
            return None
        return self.runner.submit(task)

    def run_k_sweep(self, space: str, ks, seed: int) -> int | None:
        """k-means for each k in ``ks`` on the active model, as a job."""
        s = self.session
        ks = [int(k) for k in ks]
        s.set_clustering_settings(space=space, seed=int(seed), sweep=(ks[0], ks[-1]))
        try:
            task = s.k_sweep(s.active_key, space, ks, seed)
        except ValueError as exc:
            self.show_error(str(exc))
            return None
        return self.runner.submit(task)

    def _on_model_event(self, key: str) -> None:
        if key == self.session.active_key:
            self.refresh()

    def _on_busy(self, key: str, family: str, _busy: bool) -> None:
        if key == self.session.active_key and family in ("kmeans", "sweep"):
            self._show_busy()

    def _show_busy(self) -> None:
        m = self.session.active
        self.panel.set_busy(m is not None and ("kmeans" in m.busy or "sweep" in m.busy))

    def refresh(self) -> None:
        """Spaces named for the active model, then its clustering and sweep (or nothing)."""
        s, panel = self.session, self.panel
        m = s.active
        latent, embedding = space_labels(s, s.active_key)
        panel.set_spaces(latent, embedding)
        codes = m.codes if m is not None else None
        if codes is None:  # nothing to cluster yet: no claim about the dataset's labels
            why = "k-means clusters a model's codes: open a model (and a dataset) first."
        elif codes.source == "prior":
            why = "Homogeneity, completeness and V-measure need labels; samples from the prior p(z) have none."
        else:
            why = None
        panel.set_has_labels(codes is not None and codes.labels is not None, why)
        panel.clear()
        if m is not None and m.clustering is not None:  # the settings say what the result below was made with
            panel.set_k(m.clustering.k)
            panel.set_seed(m.clustering.seed)
            panel.set_space(m.clustering.space)
            panel.show_result(m.clustering, latent if m.clustering.space == "latent" else embedding)
        if m is not None and m.sweep:
            panel.show_sweep(m.sweep, latent if m.sweep[0].space == "latent" else embedding)
        self._show_busy()
        self._show_colour_check()

    def _show_colour_check(self) -> None:
        want = self.session.effective_colour().mode == "cluster"
        if self.panel.colour_by_cluster() != want:
            self.panel.set_colour_by_cluster(want, emit=False)

    def _on_colour_by_cluster(self, on: bool) -> None:
        s = self.session
        if on and s.colour.mode != "cluster":
            self._previous_mode = s.colour.mode
            s.set_colour("cluster")
        elif not on and s.colour.mode == "cluster":
            s.set_colour(self._previous_mode if self._previous_mode != "cluster" else "label")


class ReconstructionBinding:
    """The Reconstructions panel measures the session's active model on its dataset, with its selection; its
    settings live in the session.

    Parameters
    ----------
    session : Session
    panel : explorer.gui.reconstruction_panel.ReconstructionPanel
    on_inversion_changed : callable
        Called when the GAN-inversion settings changed (the GAN points box says them).
    """

    def __init__(self, session: Session, panel, on_inversion_changed: Callable[[], None]) -> None:
        self.session, self.panel, self.on_inversion_changed = session, panel, on_inversion_changed
        for signal in (session.models_changed, session.active_changed, session.codes_changed,
                       session.dataset_changed):
            signal.connect(lambda *_a: self.update_context())
        session.selection_changed.connect(lambda: panel.set_selection(session.selection))
        session.settings_changed.connect(self._on_settings_changed)
        for spin in (panel.steps_spin, panel.restarts_spin, panel.n_spin, panel.seed_spin, panel.dataset_n_spin):
            spin.valueChanged.connect(lambda _v: self._on_panel_changed())
        for combo in (panel.source_combo, panel.precision_combo, panel.sample_combo, panel.dataset_combo):
            combo.currentIndexChanged.connect(lambda _i: self._on_panel_changed())

    def update_context(self) -> None:
        """The panel measures the active model (None: nothing) on the open dataset."""
        m, s = self.session.active, self.session
        entry = m.entry if m is not None else None
        self.panel.set_context(entry.model if entry is not None else None, s.dataset,
                               entry.name if entry is not None else "",
                               model_hash=entry.file_hash if entry is not None else None,
                               dataset_id=s.dataset_id, stores=s.inverted_stores)

    def _on_panel_changed(self) -> None:
        current = self.session.settings["reconstruction"].get("inversion", {})
        new = self.panel.settings()
        new["inversion"] = {**current, **new["inversion"]}  # lr, λ... of a session file stay
        self.session.update_settings("reconstruction", **new)

    def _on_settings_changed(self, group: str) -> None:
        if group == "reconstruction":
            self.panel.apply_settings(self.session.settings["reconstruction"])
            self.on_inversion_changed()


def _computed_in(meta: dict) -> str:
    """The panel's words for a computed embedding: the wall time the user waited, then the fit's share."""
    fit = float(meta.get("elapsed_s", 0.0))
    waited = float(meta.get("waited_s", fit))
    if waited - fit >= 0.05:
        return f"computed in {waited:.1f} s (fit {fit:.1f} s; now cached)"
    return f"computed in {waited:.1f} s (now cached)"
