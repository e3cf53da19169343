"""Compare mode of a session: 2–4 models' embeddings side by side, linked by dataset index."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from explorer.core import captions
from explorer.core.compare.align import (
    ALIGNMENTS,
    Alignment,
    align_embeddings,
    aligned_umap,
    aligned_umap_cancellable,
)
from explorer.core.projection.spec import ProjectionSpec
from explorer.core.session.state import Task

__all__ = ["MAX_COMPARED", "ComparePanel", "HoverImage", "SyncedInterpolation", "CompareViews"]

#: Most models shown side by side.
MAX_COMPARED = 4


@dataclass(frozen=True)
class ComparePanel:
    """One model's part of the Compare view.

    Attributes
    ----------
    key : str
        The model's session key.
    name : str
        File name.
    kind : str
        "vae", "gan" or "ali".
    latent_dim : int
        d.
    source : {"encoder", "inverted", "prior"}
        Where the points' codes come from: the encoder, GAN inversion of dataset images
        (said in the title), or prior samples (not dataset images: not linked to the others).
    spec : ProjectionSpec
        The projection of this model's codes.
    embedding : numpy.ndarray
        (N, 2) float64, moved by ``alignment``.
    dataset_indices : numpy.ndarray or None
        (N,) int64 dataset index of each point; None for prior samples.
    alignment : Alignment or None
        How ``embedding`` was moved onto the first linked model (None when not linked).
    title : str
        "name · d = … · projection · alignment[ · z inverted]".
    notes : tuple of str
        Resizing to the model's input, prior samples not linked, AlignedUMAP pending.
    """

    key: str
    name: str
    kind: str
    latent_dim: int
    source: str
    spec: ProjectionSpec
    embedding: np.ndarray
    dataset_indices: np.ndarray | None
    alignment: Alignment | None
    title: str
    notes: tuple[str, ...] = ()

    @property
    def linked(self) -> bool:
        """True when the points are dataset images (hover and selection link them to the others)."""
        return self.dataset_indices is not None


@dataclass(frozen=True)
class HoverImage:
    """A hovered dataset image through one model (or the image itself).

    Attributes
    ----------
    key : str or None
        Model key; None for the original image.
    label : str
        "image #i" or the model's name.
    image : numpy.ndarray or None
        (C, H, W) float32 in [0, 1] at the dataset's resolution; None when the model has no
        reconstruction of it (prior samples, an image not inverted).
    note : str
        "decode(encode(x))", "G(z), z inverted", or why there is no image.
    psnr_db : float or None
        PSNR of the reconstruction against the image (data range 1.0) at the model's input
        resolution; None for the original.
    """

    key: str | None
    label: str
    image: np.ndarray | None
    note: str
    psnr_db: float | None = None


@dataclass(frozen=True)
class SyncedInterpolation:
    """One model's interpolation between the same two dataset images as the other compared models.

    Attributes
    ----------
    key : str
    name : str
    frames : numpy.ndarray or None
        (T, C, H, W) float32 in [0, 1] at the dataset's resolution (T equal for every model);
        None when the model has no code for one of the images.
    note : str
        "slerp between the encoder's codes", "… inverted codes", or why there are no frames.
    """

    key: str
    name: str
    frames: np.ndarray | None
    note: str


class CompareViews:
    """Methods of :class:`~explorer.core.session.Session` for its Compare mode.

    A mixin: it uses the session's signals (``compare_changed``, ``hover_changed``), models,
    dataset and ``mark_dirty``. The selection is the session's (dataset indices), so every
    model's view shows the same images selected.
    """

    # ------------------------------------------------------------------ settings

    def set_compare_mode(self, on: bool) -> None:
        """Show the Compare view (True) or the single active model (False)."""
        on = bool(on)
        if on != self.compare_mode:
            self.compare_mode = on
            self.compare_changed.emit()
            self.mark_dirty()

    def set_compare(self, keys=None, align: str | None = None, colour_key: str | None = "") -> None:
        """Choose the compared models, their alignment and the model whose clusters/dimension colour all.

        Parameters
        ----------
        keys : sequence of str, optional
            2–4 open models, the first is the reference of the alignment. Unknown keys are
            dropped; more than `MAX_COMPARED` are cut.
        align : {"none", "procrustes", "aligned-umap"}, optional
        colour_key : str or None, optional
            The model whose k-means clusters or latent dimension colour every view (None:
            the first compared model); "" leaves it unchanged.

        Raises
        ------
        ValueError
            An unknown alignment.
        """
        new = self.compare
        if keys is not None:
            open_keys = {m.key for m in self.models}
            seen: list[str] = []
            for k in keys:
                if k in open_keys and k not in seen:
                    seen.append(k)
            new = replace(new, keys=tuple(seen[:MAX_COMPARED]))
        if align is not None:
            if align not in ALIGNMENTS:
                raise ValueError(f"alignment must be one of {', '.join(ALIGNMENTS)}, got {align!r}")
            new = replace(new, align=align)
        if colour_key != "":
            new = replace(new, colour_key=colour_key if colour_key is None or self.state(colour_key) else None)
        if new != self.compare:
            self.compare = new
            self.compare_changed.emit()
            self.mark_dirty()

    def compared_keys(self) -> list[str]:
        """The models shown side by side: the chosen ones still open, else the first `MAX_COMPARED`."""
        open_keys = [m.key for m in self.models]
        keys = [k for k in self.compare.keys if k in open_keys]
        return keys if keys else open_keys[:MAX_COMPARED]

    def compare_colour_key(self) -> str | None:
        """The model whose clusters or latent dimension colour every compared view (the chosen one, else the
        first whose points are dataset images)."""
        keys = self.compared_keys()
        k = self.compare.colour_key
        if k in keys:
            return k
        linked = [k for k in keys if (m := self.state(k)) is not None and m.codes is not None and m.codes.of_dataset]
        return linked[0] if linked else (keys[0] if keys else None)

    def _forget_compared(self, key: str) -> None:
        """Model ``key`` was closed: drop it from the comparison (no event: models_changed follows)."""
        c = self.compare
        self.compare = replace(c, keys=tuple(k for k in c.keys if k != key),
                               colour_key=None if c.colour_key == key else c.colour_key)
        self.aligned_umap_result = None
        if self.scorecard is not None and key in self.scorecard["keys"]:
            self.scorecard = None  # it has a row of the closed model
            self.scorecard_changed.emit()

    # ------------------------------------------------------------------ hover (not saved)

    def set_hovered(self, dataset_index: int | None) -> None:
        """The dataset image under the cursor in any view (None: none); every compared view rings it."""
        i = -1 if dataset_index is None or dataset_index < 0 else int(dataset_index)
        if i != self.hovered:
            self.hovered = i
            self.hover_changed.emit(i)

    # ------------------------------------------------------------------ what the views show

    def compare_panels(self) -> list[ComparePanel]:
        """The compared models that have an embedding, aligned as the settings ask.

        Returns
        -------
        list of ComparePanel
            In the order of `compared_keys`; models without codes or an embedding yet are
            left out. The first linked panel is the alignment's reference.
        """
        ds = self.dataset
        shown = []
        for key in self.compared_keys():
            m = self.state(key)
            if m is None or m.codes is None or m.embedding is None or m.entry is None:
                continue
            shown.append(m)
        linked = [m for m in shown if m.codes.of_dataset]
        align = self.compare.align
        aligned: dict[str, tuple[np.ndarray, Alignment]] = {}
        pending_umap = False
        if align == "aligned-umap":
            res = self.aligned_umap_result
            if res is not None and self._same_codes(res["for"], self._umap_signature(linked)):
                aligned = res["embeddings"]
            else:
                pending_umap = True
        unaligned: dict[str, str] = {}
        if not aligned and align != "none" and len(linked) >= 1:
            ref = linked[0]
            ref_idx = ref.codes.dataset_indices(np.arange(len(ref.codes.z)))
            out, als = align_embeddings([ref.embedding.embedding], [ref_idx], "procrustes")
            aligned[ref.key] = (out[0], als[0])
            for m in linked[1:]:  # each on its own: one model sharing too few images leaves the others aligned
                idx = m.codes.dataset_indices(np.arange(len(m.codes.z)))
                try:
                    out, als = align_embeddings([ref.embedding.embedding, m.embedding.embedding], [ref_idx, idx],
                                                "procrustes")
                    aligned[m.key] = (out[1], als[1])
                except ValueError:
                    shared = len(np.intersect1d(ref_idx, idx))
                    unaligned[m.key] = (f"{m.name} shares {shared} image{'s' if shared != 1 else ''} with "
                                        f"{ref.name}: not aligned (Procrustes needs 2).")
        panels = []
        ds_shape = ds.image_shape if ds is not None else None
        ds_name = (f"{ds.name}" + (f" ({ds.split})" if ds.split else "")) if ds is not None else ""
        for m in shown:
            codes, res = m.codes, m.embedding
            emb, alignment = aligned.get(m.key, (np.asarray(res.embedding, np.float64), None))
            parts = captions.caption_parts(m.name, codes, res.spec, ds_name)
            title = [m.name, f"d = {m.entry.model.latent_dim}", parts[2]]
            notes = []
            if alignment is not None and m is not linked[0]:
                title.append("Procrustes-aligned" if alignment.method == "procrustes" else "AlignedUMAP")
                notes.append(alignment.describe())
            elif alignment is not None and alignment.method == "aligned-umap":
                title.append("AlignedUMAP")
            if codes.source == "inverted":
                title.append("z inverted")
            if not codes.of_dataset:
                notes.append(f"{m.name} shows samples from the prior, not dataset images: they are not linked; "
                             "show inverted codes of dataset images (GAN points) to compare it.")
            if ds_shape is not None and tuple(m.entry.model.image_shape) != tuple(ds_shape):
                c, h, w = m.entry.model.image_shape
                notes.append(f"{m.name}: images resized from {ds_shape[1]}×{ds_shape[2]} to {h}×{w} "
                             f"({c} channel{'s' if c > 1 else ''}) for its input.")
            if m.key in unaligned:
                notes.append(unaligned[m.key])
            if pending_umap and codes.of_dataset:
                notes.append("AlignedUMAP has not been computed for these codes yet; shown: Procrustes.")
            idx = codes.dataset_indices(np.arange(len(codes.z))) if codes.of_dataset else None
            panels.append(ComparePanel(m.key, m.name, m.entry.model.kind, int(m.entry.model.latent_dim),
                                       codes.source, res.spec, emb, idx, alignment, " · ".join(title),
                                       tuple(notes)))
        return panels

    def compare_colouring(self, panel: ComparePanel) -> captions.Colouring:
        """The one colouring of every compared view, mapped onto ``panel``'s points by dataset index.

        Class colours come from the dataset labels; cluster and latent-dimension colours
        from the model `compare_colour_key` (its k-means clusters, its ``z[dim]``). Points
        that model does not show (a GAN's inverted subset) are "not in <model>" (cluster
        mode) or missing (NaN, drawn grey) in dimension mode.
        """
        ds = self.dataset
        n = len(panel.embedding)
        mode = self.colour.mode
        if panel.dataset_indices is None:  # prior samples: their own colouring
            return self.colouring(panel.key) or captions.colouring("none", n)
        idx = panel.dataset_indices
        source = self.state(self.compare_colour_key())
        if mode == "cluster" and source is not None and source.clustering is not None and source.codes.of_dataset:
            c = source.clustering
            rows = source.codes.points_of(idx)
            k = int(c.labels.max()) + 1 if len(c.labels) else 0
            cats = np.where(rows >= 0, c.labels[np.clip(rows, 0, None)], k).astype(np.int64)
            names = tuple(f"cluster {i}" for i in range(k)) + (f"not in {source.name}",)
            space = "latent space z" if c.space == "latent" else "2-D embedding"
            return captions.Colouring("cluster", categories=cats, names=names,
                                      title=f"k-means of {source.name}, k = {c.k}, on its {space}")
        if mode == "dimension" and source is not None and source.codes is not None and source.codes.of_dataset:
            dim = min(self.colour.dim, source.codes.z.shape[1] - 1)
            rows = source.codes.points_of(idx)
            values = np.full(n, np.nan)
            ok = rows >= 0
            values[ok] = source.codes.z[rows[ok], dim]
            full = source.codes.z[:, dim].astype(np.float64)
            lo, hi = np.percentile(full, [1, 99]) if len(full) else (0.0, 1.0)
            return captions.Colouring("dimension", values=values, vmin=float(lo), vmax=float(hi),
                                      title=f"z[{dim}] of {source.name}")
        if mode == "factor" and ds is not None and ds.factors is not None and self.colour.dim < ds.factors.shape[1]:
            from explorer.data.factor_values import value_labels

            levels = np.unique(ds.factors[:, self.colour.dim])
            return captions.colouring("factor", n, factors=ds.factors[idx], dim=self.colour.dim,
                                      factor_names=ds.factor_names, factor_levels=levels,
                                      value_names=value_labels(ds, self.colour.dim, levels, True))
        series = self._compared_nll_series() if mode == "nll" else None
        if series is not None and panel.key in series:  # each model's own −log p(x), one unit, one range for all
            values, title = series[panel.key]
            every = np.concatenate([v[np.isfinite(v)] for v, _ in series.values()])
            lo, hi = np.percentile(every, [1, 99])
            hi = hi if hi > lo else lo + 1.0
            return captions.Colouring("nll", values=values[idx], vmin=float(lo), vmax=float(hi),
                                      title=f"{title} of each model")
        if mode in ("label", "cluster", "dimension", "nll", "factor") and ds is not None and ds.labels is not None:
            return captions.colouring("label", n, labels=ds.labels[idx], class_names=ds.class_names)
        return captions.colouring("none", n)

    def _compared_nll_series(self) -> dict | None:
        """``key -> (values over the dataset, title)`` of the compared models' −log p(x) in ONE unit.

        Bits/dim when every compared model with a likelihood has it, else nats (a colour range
        never mixes the two); None when no compared model has one.
        """
        from explorer.core.session.evaluations import PER_IMAGE_SERIES, series_title

        n = len(self.dataset) if self.dataset is not None else 0
        evs = {k: ev for k in self.compared_keys() if (ev := self.evaluation(k, "likelihood")) is not None
               and ev.dataset_id == self.dataset_id}
        for _family, name, title in PER_IMAGE_SERIES:
            got = {k: ev.per_image(name, n) for k, ev in evs.items()}
            got = {k: v for k, v in got.items() if v is not None and np.isfinite(v).any()}
            if got and len(got) == len(evs):
                return {k: (v, series_title(evs[k], title, v)) for k, v in got.items()}
        return None

    def compared_points(self, key: str) -> np.ndarray:
        """Point indices of model ``key`` showing the hovered dataset image (empty when none or not shown)."""
        m = self.state(key)
        if m is None or m.codes is None or self.hovered < 0 or not m.codes.of_dataset:
            return np.empty(0, np.int64)
        p = m.codes.points_of([self.hovered])
        return p[p >= 0]

    def hover_images(self, dataset_index: int) -> list[HoverImage]:
        """The dataset image and its reconstruction by each compared model (quick: one image).

        Encoder models decode the encoder's code (posterior mean); GANs without encoder show
        ``G(z)`` of the inverted code when that image was inverted. Reconstructions are
        resized back to the dataset's resolution to be shown beside it; the PSNR (dB, data
        range 1.0) is measured at the model's input resolution, as everywhere else.

        Parameters
        ----------
        dataset_index : int
            0 <= index < N.

        Returns
        -------
        list of HoverImage
            The original first, then one per compared model that has codes.

        Raises
        ------
        IndexError
            The index is outside the dataset.
        """
        from explorer.core.reconstruction.metrics import psnr
        from explorer.data import fit_to_model

        ds = self.dataset
        if ds is None or not 0 <= int(dataset_index) < len(ds):
            raise IndexError(f"dataset index {dataset_index} is outside the open dataset")
        i = int(dataset_index)
        original = ds.images[i]
        out = [HoverImage(None, f"image #{i}", original, "the dataset image")]
        one = replace(ds, images=ds.images[i:i + 1], labels=None, factors=None, indices=None, notes=())
        for key in self.compared_keys():
            m = self.state(key)
            if m is None or m.entry is None or m.codes is None:
                continue
            model = m.entry.model
            x = fit_to_model(one, model.image_shape).images
            if model.has_encoder:
                import torch

                with torch.no_grad():
                    xr = model.decode(model.encode(torch.from_numpy(np.ascontiguousarray(x))))
                xr = np.clip(xr.detach().cpu().numpy().astype(np.float32), 0.0, 1.0)
                note = "decode(encode(x))"
            else:
                p = m.codes.points_of([i]) if m.codes.source == "inverted" else np.array([-1])
                if p[0] < 0 or m.codes.generated is None:
                    why = "not inverted" if m.codes.source == "inverted" else "prior samples; no inverted codes"
                    out.append(HoverImage(key, m.name, None, f"no reconstruction ({why})"))
                    continue
                xr = m.codes.generated[p[0]][None]
                note = "G(z), z inverted"
            if not np.isfinite(xr).all():
                out.append(HoverImage(key, m.name, None, f"{m.name} decoded non-finite values"))
                continue
            value = float(psnr(x, xr)[0])
            shown = xr[0]
            if shown.shape != original.shape:
                shown = _to_shape(xr, original.shape)
            out.append(HoverImage(key, m.name, shown, note, value))
        return out

    def compare_interpolation(self, first: int, second: int, frames: int | None = None,
                              method: str | None = None) -> list[SyncedInterpolation]:
        """Interpolate between the same two dataset images in every compared model, frame for frame.

        Each model interpolates between its own codes of the two images (encoder output; a
        GAN's inverted codes) with the session's interpolation settings (``method``
        lerp/slerp, ``frames``), `explorer.core.latent.interpolation.interpolation_path`, and
        decodes the path; frames are shown at the dataset's resolution so they line up.

        Parameters
        ----------
        first, second : int
            Dataset indices, 0 <= i < N, different.
        frames : int, optional
            Frames T (2–2000), default the interpolation settings' (30).
        method : {"lerp", "slerp"}, optional
            Default the interpolation settings' ("slerp").

        Returns
        -------
        list of SyncedInterpolation
            One per compared model with codes, in order.

        Raises
        ------
        ValueError
            Indices outside the dataset or equal, or a bad ``frames`` / ``method``.
        """
        from explorer.core.latent.interpolation import interpolation_frames, interpolation_path

        ds = self.dataset
        n = len(ds) if ds is not None else 0
        if not (0 <= int(first) < n and 0 <= int(second) < n) or int(first) == int(second):
            raise ValueError(f"interpolation needs two different dataset images (0–{n - 1}), "
                             f"got {first} and {second}")
        settings = self.settings.get("interpolation", {})
        frames = int(frames if frames is not None else settings.get("frames", 30))
        method = method if method is not None else settings.get("method", "slerp")
        if method not in ("lerp", "slerp") or not 2 <= frames <= 2000:
            raise ValueError(f"interpolation needs lerp or slerp and 2–2000 frames, got {method!r}, {frames}")
        out = []
        for key in self.compared_keys():
            m = self.state(key)
            if m is None or m.entry is None or m.codes is None:
                continue
            if not m.codes.of_dataset:
                out.append(SyncedInterpolation(key, m.name, None, "prior samples: no codes of dataset images"))
                continue
            rows = m.codes.points_of([first, second])
            if (rows < 0).any():
                missing = [f"#{i}" for i, r in zip((first, second), rows, strict=True) if r < 0]
                out.append(SyncedInterpolation(key, m.name, None, f"{' and '.join(missing)} not inverted"))
                continue
            path = interpolation_path(m.codes.z[rows].astype(np.float64), frames, method)
            images = interpolation_frames(m.entry.model, path.astype(np.float32))
            if not np.isfinite(images).all():
                out.append(SyncedInterpolation(key, m.name, None, f"{m.name} decoded non-finite values"))
                continue
            if ds is not None and images.shape[1:] != ds.image_shape:
                images = np.stack([_to_shape(f[None], ds.image_shape) for f in images])
            what = "inverted codes" if m.codes.source == "inverted" else "the encoder's codes"
            out.append(SyncedInterpolation(key, m.name, images, f"{method} between {what}"))
        return out

    def compare_inversion_tasks(self, n: int) -> list[Task]:
        """Let the compared GANs without encoder take part: invert ``n`` dataset images for each.

        The same seeded images for every GAN (the session's reconstruction settings for the
        inversion; `Analyses.set_gan_points`), kept in the shared inverted-codes store.

        Returns
        -------
        list of Task
            One per compared GAN that shows prior samples (none when all are linked).
        """
        tasks = []
        for key in self.compared_keys():
            m = self.state(key)
            if m is not None and m.entry is not None and not m.entry.model.has_encoder \
                    and (m.codes is None or m.codes.source == "prior"):
                task = self.set_gan_points(key, "inverted", int(n))
                if task is not None:
                    tasks.append(task)
        return tasks

    # ------------------------------------------------------------------ AlignedUMAP (a task)

    def _umap_signature(self, models) -> tuple:
        """The models and the very codes objects an AlignedUMAP was fitted on (compared with `_same_codes`)."""
        return tuple((m.key, m.codes) for m in models)

    @staticmethod
    def _same_codes(a: tuple, b: tuple) -> bool:
        """Two `_umap_signature` s name the same models with the same codes objects (identity, not ``id()``:
        a freed object's id can be reused by new codes)."""
        return len(a) == len(b) and all(ka == kb and ca is cb for (ka, ca), (kb, cb) in zip(a, b, strict=True))

    def aligned_umap_task(self, seed: int = 0) -> Task | None:
        """Fit umap-learn's AlignedUMAP on the compared models' codes (dataset images only).

        Returns
        -------
        Task or None
            None when fewer than two compared models show dataset images. The result is
            kept for those codes; `compare_panels` uses it while the setting is "aligned-umap".
        """
        linked = [m for k in self.compared_keys() if (m := self.state(k)) is not None
                  and m.codes is not None and m.codes.of_dataset]
        if len(linked) < 2:
            return None
        codes = [m.codes.z for m in linked]
        idx = [m.codes.dataset_indices(np.arange(len(m.codes.z))) for m in linked]
        signature = self._umap_signature(linked)
        keys = [m.key for m in linked]

        def fit(ctx):
            if ctx is not None:
                ctx.check()
            if not self.use_workers:  # the CLI and tests: in this process
                return aligned_umap(codes, idx, seed=seed)
            return aligned_umap_cancellable(codes, idx, seed=seed, ctx=ctx)  # the window: cancel kills it

        def apply(result):
            embeddings, alignments = result
            if not self._same_codes(self._umap_signature([self.state(k) for k in keys if self.state(k) is not None]),
                                    signature):
                return  # the codes changed meanwhile
            self.aligned_umap_result = {"for": signature, "embeddings": {
                k: (e, a) for k, e, a in zip(keys, embeddings, alignments, strict=True)}}
            self.compare_changed.emit()

        return Task("compare-aligned-umap", "compare", fit, f"AlignedUMAP of {len(linked)} models", apply)


def _to_shape(images: np.ndarray, shape) -> np.ndarray:
    """(1, C, H, W) images → (C0, H0, W0): channels converted, resized (Lanczos) to the dataset's."""
    from explorer.data import resize_images

    x = images
    c0 = shape[0]
    if x.shape[1] != c0:
        # the dataset's own conversions (explorer.data.fit_to_model): BT.601 luma, or the grey channel repeated
        x = (np.tensordot(x[:, :3], np.array([0.299, 0.587, 0.114], np.float32), axes=([1], [0]))[:, None]
             if c0 == 1 else np.repeat(x[:, :1], c0, axis=1))
    if x.shape[2:] != tuple(shape[1:]):
        x = resize_images(np.ascontiguousarray(x, np.float32), shape[1], shape[2])
    return x[0].astype(np.float32)
