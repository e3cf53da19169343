"""The view-side state of a session: colouring, marker, selection, zoom, slider codes, keypoints, panel settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from explorer.core import captions
from explorer.core.projection.spec import ProjectionSpec
from explorer.core.session.panel_settings import PANEL_SETTINGS, check_panel_value
from explorer.core.session.state import COLOUR_MODES, Colour, Keypoint

__all__ = ["ViewState"]


class ViewState:
    """Methods of :class:`~explorer.core.session.Session` that change what is drawn, not what is computed.

    A mixin: it uses the session's signals, ``models`` and ``mark_dirty``.
    """

    def set_projection(self, spec: ProjectionSpec) -> None:
        """The projection the user asks for (the panel's choice)."""
        if spec != self.projection:
            self.projection = spec
            self.settings_changed.emit("projection")
            self.mark_dirty()

    def set_clustering_settings(self, **changes) -> None:
        """Change k-means settings (``space``, ``k``, ``seed``, ``sweep``)."""
        new = replace(self.clustering_settings, **changes)
        if new != self.clustering_settings:
            self.clustering_settings = new
            self.settings_changed.emit("clustering")
            self.mark_dirty()


    def set_colour(self, mode: str, dim: int | None = None) -> None:
        """Colour points by ``mode`` (:data:`COLOUR_MODES`); ``dim`` is the latent dimension for "dimension".

        Raises
        ------
        ValueError
            An unknown mode or a negative dimension.
        """
        if mode not in COLOUR_MODES:
            raise ValueError(f"colour mode must be one of {', '.join(COLOUR_MODES)}, got {mode!r}")
        dim = self.colour.dim if dim is None else int(dim)
        if dim < 0:
            raise ValueError(f"latent dimension must be >= 0, got {dim}")
        new = Colour(mode, dim)
        if new != self.colour:
            self.colour = new
            self.colouring_changed.emit()
            self.mark_dirty()

    def effective_colour(self, key: str | None = None) -> Colour:
        """The colouring model ``key`` (default: active) can show: the preference, or what stands in for it."""
        m = self.state(key) if key is not None else self.active
        codes = m.codes if m is not None else None
        mode = self.colour.mode
        if mode == "cluster" and (m is None or m.clustering is None):
            mode = "label"
        if mode == "inversion_error" and (codes is None or codes.fit_error is None):
            mode = "label"
        if mode == "nll" and (m is None or codes is None or not codes.of_dataset
                              or self.per_image_series(m.key) is None):
            mode = "label"
        ds = self.dataset
        if mode == "factor" and (ds is None or ds.factors is None or codes is None or not codes.of_dataset
                                 or self.colour.dim >= ds.factors.shape[1]):
            mode = "label"
        if mode == "label" and (codes is None or codes.labels is None):
            mode = "none"
        if mode == "factor":
            return Colour(mode, self.colour.dim)
        dim = min(self.colour.dim, codes.z.shape[1] - 1) if codes is not None else self.colour.dim
        return Colour(mode, dim)

    def colouring(self, key: str | None = None) -> captions.Colouring | None:
        """The :class:`~explorer.core.captions.Colouring` of model ``key``'s points (default: active)."""
        m = self.state(key) if key is not None else self.active
        if m is None or m.codes is None:
            return None
        codes, col, n = m.codes, self.effective_colour(m.key), len(m.codes.z)
        ds = self.dataset
        if col.mode == "cluster":
            c = m.clustering
            space = "latent space z" if c.space == "latent" else "2-D embedding"
            return captions.colouring("cluster", n, clusters=c.labels,
                                      cluster_title=f"k-means, k = {c.k}, on the {space}")
        if col.mode == "dimension":
            return captions.colouring("dimension", n, z=codes.z, dim=col.dim)
        if col.mode == "label":
            names = ds.class_names if ds is not None and codes.of_dataset else None
            return captions.colouring("label", n, labels=codes.labels, class_names=names)
        if col.mode == "inversion_error":
            return captions.colouring("inversion_error", n, errors=codes.fit_error)
        if col.mode == "nll":
            values, title = self.per_image_series(m.key)
            return captions.colouring("nll", n, values=values[codes.indices] if codes.indices is not None else values,
                                      value_title=title)
        if col.mode == "factor":
            from explorer.data.factor_values import value_labels

            f = ds.factors if codes.indices is None else ds.factors[codes.indices]
            levels = np.unique(ds.factors[:, col.dim])
            return captions.colouring("factor", n, factors=f, dim=col.dim, factor_names=ds.factor_names,
                                      factor_levels=levels, value_names=value_labels(ds, col.dim, levels, True))
        return captions.colouring("none", n)

    def set_view_range(self, key: str, view_range) -> None:
        """The zoom of model ``key``'s embedding: ``((x0, x1), (y0, y1))`` in embedding units, or None (fit)."""
        m = self.state(key)
        if m is None:
            return
        rng = None if view_range is None else tuple((float(a), float(b)) for a, b in view_range)
        if rng != m.view_range:
            m.view_range = rng
            self.mark_dirty()

    def set_marker(self, size_px: float, opacity: float) -> None:
        """Marker size (pixels, > 0) and opacity (0–1) of the embedding's points."""
        new = (float(size_px), float(opacity))
        if new != self.marker:
            self.marker = new
            self.marker_changed.emit()
            self.mark_dirty()

    def select(self, dataset_indices) -> None:
        """Select dataset images (every model's view shows the same images selected)."""
        idx = np.unique(np.asarray(dataset_indices, dtype=np.int64).ravel())
        if self.dataset is not None:
            idx = idx[(idx >= 0) & (idx < len(self.dataset))]
        if not np.array_equal(idx, self.selection):
            self.selection = idx
            self.selection_changed.emit()
            self.mark_dirty()

    def select_points(self, key: str, points) -> None:
        """Select points of model ``key``'s embedding: dataset images, or prior samples of a GAN."""
        m = self.state(key)
        points = np.asarray(points, dtype=np.int64).ravel()
        if m is None or m.codes is None:
            return
        if m.codes.of_dataset:
            self.prior_selection.pop(key, None)
            self.select(m.codes.dataset_indices(points))
        else:
            self.prior_selection[key] = np.unique(points[(points >= 0) & (points < len(m.codes.z))])
            self.selection_changed.emit()

    def selected_points(self, key: str | None = None) -> np.ndarray:
        """Point indices (int64, increasing) of the selection in model ``key``'s embedding (default: active)."""
        m = self.state(key) if key is not None else self.active
        if m is None or m.codes is None:
            return np.empty(0, np.int64)
        if not m.codes.of_dataset:
            return self.prior_selection.get(m.key, np.empty(0, np.int64))
        pts = m.codes.points_of(self.selection)
        return np.sort(pts[pts >= 0])

    # ------------------------------------------------------------------ sliders, keypoints, settings

    def set_slider_code(self, key: str, z) -> None:
        """The latent sliders' code ``(d,)`` of model ``key``.

        Raises
        ------
        ValueError
            ``z`` is not ``(d,)`` for the model's latent dimension, or not finite.
        """
        m = self.state(key)
        if m is None:
            return
        z = np.asarray(z, dtype=np.float32).ravel()
        d = m.model.latent_dim if m.model is not None else (m.codes.z.shape[1] if m.codes is not None else len(z))
        if z.shape != (d,) or not np.all(np.isfinite(z)):
            raise ValueError(f"the slider code of {m.name} must be {d} finite numbers, got shape {z.shape}")
        if m.slider_code is None or not np.array_equal(z, m.slider_code):
            m.slider_code = z
            self.slider_code_changed.emit(key)
            self.mark_dirty()

    def add_keypoint(self, key: str, z, label: str, dataset_index: int | None = None) -> None:
        """Append an interpolation keypoint ``z`` ``(d,)`` to model ``key``."""
        m = self.state(key)
        if m is None:
            return
        m.keypoints.append(Keypoint(np.asarray(z, np.float32).ravel().copy(), str(label),
                                    None if dataset_index is None else int(dataset_index)))
        self.keypoints_changed.emit(key)
        self.mark_dirty()

    def set_keypoints(self, key: str, keypoints: Sequence[Keypoint]) -> None:
        """Replace model ``key``'s interpolation keypoints."""
        m = self.state(key)
        if m is None:
            return
        new = list(keypoints)
        same = len(new) == len(m.keypoints) and all(
            a.label == b.label and a.dataset_index == b.dataset_index and np.array_equal(a.z, b.z)
            for a, b in zip(new, m.keypoints, strict=True))
        if not same:
            m.keypoints = new
            self.keypoints_changed.emit(key)
            self.mark_dirty()

    def clear_keypoints(self, key: str) -> None:
        """Remove model ``key``'s interpolation keypoints."""
        m = self.state(key)
        if m is not None and m.keypoints:
            m.keypoints = []
            self.keypoints_changed.emit(key)
            self.mark_dirty()

    def update_settings(self, group: str, **values) -> None:
        """Change panel settings of ``group`` ("interpolation", "traversal", "reconstruction", or a judging panel's:
        "likelihood", "sample_quality", "disentanglement" — `explorer.core.session.panel_settings`).

        Raises
        ------
        ValueError
            An unknown group, or a judging panel's value out of what a session file accepts
            (`explorer.core.session.panel_settings.check_panel_value`; nothing is changed).
        """
        if group not in self.settings:
            raise ValueError(f"unknown settings group {group!r}; choose one of {', '.join(self.settings)}")
        if group in PANEL_SETTINGS:  # what the session file would refuse is refused here, before it is kept
            values = {key: check_panel_value(group, key, value) for key, value in values.items()}
        new = {**self.settings[group], **values}
        if new != self.settings[group]:
            self.settings[group] = new
            self.settings_changed.emit(group)
            self.mark_dirty()
