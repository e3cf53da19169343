"""Draws the session's active embedding on an EmbeddingView and turns hover/selection into session changes."""

from __future__ import annotations

import html
import textwrap

import numpy as np
from PySide6.QtCore import QObject, QPointF, Signal

from explorer.core import captions
from explorer.core.session import Session
from explorer.gui.colors import categorical_palette, continuous_colors, label_colors, plain_ticks

__all__ = ["EmbeddingPresenter", "view_message", "wrap"]


def wrap(text: str, width: int) -> str:
    """Wrap each line of ``text`` at word boundaries to at most ``width`` characters."""
    return "\n".join("\n".join(textwrap.wrap(line, width)) or "" for line in text.split("\n"))


def view_message(session: Session, empty_note: str = "", pending: bool = False) -> str:
    """The sentences the embedding shows over its points for the session's active model."""
    m, lines = session.active, []
    if m is not None and m.preview:
        lines.append(f"Loading {m.name}: the embedding of its cached codes is shown meanwhile.")
    elif m is None or (m.entry is None and m.codes is None):
        if m is not None or pending:
            task = (m.busy.get("peek") or m.busy.get("open")) if m is not None else None
            lines.append(f"{task.label}…" if task is not None else "Opening the model…")
        elif empty_note:
            lines.append(empty_note)
        else:
            lines.append("No model open: File ▸ Open model… or drop a checkpoint on this window.")
    elif session.dataset is None:
        lines.append("Loading the dataset…" if session.dataset_loading else
                     "No dataset open: File ▸ Open dataset… (or drop a dataset file on this window).")
    if m is not None and m.codes is not None and m.codes.source == "prior":
        lines.extend(m.codes.notes)
        lines.append("To see real images, choose “Dataset images, inverted z” under Points of a GAN "
                     "(Projection and colours).")
    if m is not None and m.status:
        lines.append(m.status)
    return wrap("\n".join(lines), 90)


class EmbeddingPresenter(QObject):
    """Keeps an :class:`~explorer.gui.embedding_view.EmbeddingView` in line with a session's active model.

    It draws the points of the model's shown embedding with the session's colouring
    (legend or colour bar), title and axis labels, shows the session's selection, and
    reports the user's hover and selection back to the session. Everything it draws comes
    from the session; it keeps no state but what is on the view.

    Parameters
    ----------
    session : Session
    view : EmbeddingView
    hover_preview, image_grid : optional
        The "Image under cursor" panel and the selection grid (None in figures).
    interactive : bool
        False for figures: no hover, no selection feedback, no view-range tracking.

    Signals
    -------
    embedding_shown(object)
        An ``EmbeddingResult`` was just put on the view.
    """

    embedding_shown = Signal(object)

    def __init__(self, session: Session, view, hover_preview=None, image_grid=None, *, interactive: bool = True,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.view = session, view
        self.hover_preview, self.image_grid = hover_preview, image_grid
        self.interactive = interactive
        self.empty_note = ""
        self.pending = False  # a model file is being opened (before it is in the session)
        self._shown = None  # (key, codes, EmbeddingResult) on the view
        self._drawn = None  # what the colours on the view were made from (see _colour_signature)
        self._updating_selection = False
        for axis in ("bottom", "left"):  # unitless coordinates: plain tick values, no "(x0.001)"
            plain_ticks(view.plot_item.getAxis(axis))
        s = session
        self._links = [(s.active_changed, self._on_active_changed), (s.models_changed, self.refresh),
                       (s.dataset_changed, self.refresh), (s.codes_changed, self._on_model_event),
                       (s.embedding_changed, self._on_model_event), (s.clustering_changed, self._on_model_event),
                       (s.status_changed, self._on_status_changed), (s.colouring_changed, self._on_colouring),
                       (s.marker_changed, self._on_marker), (s.selection_changed, self._on_session_selection)]
        for signal, slot in self._links:
            signal.connect(slot)
        if interactive:
            view.hovered.connect(self._on_hovered)
            view.selection_changed.connect(self._on_view_selection)
            view.view_box.sigRangeChangedManually.connect(self._on_range_changed_manually)
        self.view.set_marker(*s.marker)

    def close(self) -> None:
        """Stop observing the session (a figure's presenter, before its view goes)."""
        for signal, slot in self._links:
            signal.disconnect(slot)
        self._links = []

    def _on_active_changed(self, _key: str) -> None:
        self.refresh()

    def _on_colouring(self) -> None:
        self.redraw()

    def _on_marker(self) -> None:
        self.view.set_marker(*self.session.marker)

    # ------------------------------------------------------------------ what is shown

    @property
    def shown_key(self) -> str | None:
        """Key of the model whose points are on the view."""
        return self._shown[0] if self._shown else None

    @property
    def shown_codes(self):
        """The LatentCodes behind the points on the view, or None."""
        return self._shown[1] if self._shown else None

    @property
    def shown_embedding(self):
        """The EmbeddingResult on the view, or None."""
        return self._shown[2] if self._shown else None

    def _on_model_event(self, key: str) -> None:
        if key == self.session.active_key:
            self.refresh()

    def _on_status_changed(self, key: str) -> None:
        if key == self.session.active_key:
            self.update_message()

    def refresh(self) -> None:
        """Bring the view in line with the active model (new points, new embedding, or nothing)."""
        m = self.session.active
        res = m.embedding if m is not None and m.codes is not None else None
        if res is None:
            if self._shown is not None and m is not None and m.key == self._shown[0] and m.codes is not None:
                self.update_message()  # new points of this model: the old ones stay until their embedding
                return
            if self._shown is not None:
                self.clear()
            self.update_message()
            return
        if self._shown is not None and self._shown[0] == m.key and self._shown[1] is m.codes \
                and self._shown[2] is res:
            if self._colour_signature() != self._drawn:
                self.redraw()  # same points, another colouring (e.g. a new clustering coloured by)
            else:
                self._show_selection()
                self.update_message()
            return
        same_points = self._shown is not None and self._shown[0] == m.key and self._shown[1] is m.codes
        self._shown = (m.key, m.codes, res)
        if not same_points and self.interactive:
            if self.hover_preview is not None:
                self.hover_preview.clear()
            self.view.set_marker_point(None)
        self.redraw(keep_range=same_points, new_points=True)
        self.embedding_shown.emit(res)

    def _colour_signature(self):
        """What decides the colours and captions of the shown points: mode, dimension, the clustering."""
        m = self.session.state(self.shown_key)
        if m is None:
            return None
        col = self.session.effective_colour(m.key)
        source = {"cluster": m.clustering, "nll": m.evaluations.get("likelihood")}.get(col.mode)
        return col.mode, col.dim, _Same(source)  # the object itself: its id() could be reused by a newer one

    def clear(self) -> None:
        """No points on the view."""
        self._shown = self._drawn = None
        self.view.set_points(np.empty((0, 2)), np.empty((0, 4), np.uint8))
        self.view.set_axis_labels("", "")
        self.set_title(None)
        if self.image_grid is not None:
            self.image_grid.clear()
        if self.hover_preview is not None:
            self.hover_preview.clear()
        self.update_message()

    def update_message(self) -> None:
        """The sentences over the plot (loading, GAN prior samples, this model's status)."""
        self.view.set_message(view_message(self.session, self.empty_note, self.pending))

    def redraw(self, keep_range: bool = True, new_points: bool = False) -> None:
        """Put the shown embedding on the view with the session's colouring, title, legend and selection."""
        if self._shown is None:
            return
        s, (key, codes, result) = self.session, self._shown
        m = s.state(key)
        vb = self.view.view_box
        old_range = vb.viewRange() if keep_range and not new_points else None
        col = s.colouring(key)
        self._drawn = self._colour_signature()
        legend = colorbar = None
        if col.categories is not None:  # label, cluster, a factor with few values
            colors, legend = label_colors(col.categories, col.names)
        elif col.values is not None:  # z[j], inversion error, −log p(x), a finer factor
            colors, (cmap, vmin, vmax) = continuous_colors(col.values, "viridis", col.vmin, col.vmax)
            colorbar = (cmap, vmin, vmax, f"{col.title} (clipped to 1st–99th percentile)")
        else:
            colors = np.tile(categorical_palette(1)[0], (len(codes.z), 1))
        hover_labels = None
        ds = s.dataset
        if codes.labels is not None:
            names = captions.label_names(codes.labels, ds.class_names if ds is not None else None)
            hover_labels = np.asarray(names, dtype=object)[codes.labels]
        ds_name = f"{ds.name}" + (f" ({ds.split})" if ds.split else "") if ds is not None else ""
        parts = captions.caption_parts(m.name, codes, result.spec, ds_name)
        if col.mode == "cluster":
            parts = (*parts[:2], f"{parts[2]} · colour: {col.title}")
        self.set_title(parts)
        self.view.set_axis_labels(*captions.axis_labels(result.spec, result.meta))
        self.view.set_points(result.embedding, colors, labels=hover_labels, legend=legend, colorbar=colorbar)
        self.view.set_marker(*s.marker)
        rng = old_range if old_range is not None else (m.view_range if m is not None else None)
        if rng is not None:
            vb.setRange(xRange=rng[0], yRange=rng[1], padding=0)
        self._show_selection()
        self.update_message()

    def set_title(self, parts: tuple[str, str, str] | None) -> None:
        """Plot title (in every export) from the caption's (model, points, projection); a long one wraps after
        the points' description."""
        plot = self.view.plot_item
        if not parts:
            plot.setTitle(None)
            return
        text = " · ".join(parts)
        lines = 2 if len(text) > 80 else 1
        shown = (html.escape(" · ".join(parts[:2])) + "<br>" + html.escape(parts[2])) if lines == 2 \
            else html.escape(text)
        plot.setTitle(shown, size="9pt", color="#333333")
        height = 18 * lines + 10
        plot.titleLabel.setMaximumHeight(height)
        plot.layout.setRowFixedHeight(0, height)
        plot.titleLabel.setMinimumWidth(0)  # a long title must not push the legend out of the plot

    # ------------------------------------------------------------------ selection

    def _show_selection(self) -> None:
        points = self.session.selected_points(self.shown_key)
        self._updating_selection = True
        try:
            if not np.array_equal(points, self.view.selection):
                if len(points):
                    self.view.set_selection(points)
                else:
                    self.view.clear_selection()
        finally:
            self._updating_selection = False
        self._fill_grid(points)

    def _on_session_selection(self) -> None:
        if self._shown is not None:
            self._show_selection()

    def _on_view_selection(self, indices) -> None:
        if self._updating_selection or self._shown is None:
            return
        self.session.select_points(self._shown[0], indices)
        if len(indices) == 1:
            self._on_hovered(int(indices[0]))

    def _fill_grid(self, points: np.ndarray) -> None:
        grid = self.image_grid
        if grid is None:
            return
        codes = self.shown_codes
        if codes is None or len(points) == 0:
            grid.clear()
            return
        s = self.session
        ds = s.dataset
        class_names = ds.class_names if ds is not None and codes.of_dataset else None
        m = s.state(self.shown_key)
        clustering = m.clustering if s.effective_colour(m.key).mode == "cluster" else None
        texts = captions.selection_captions(points, codes.labels, class_names,
                                            clustering.labels if clustering is not None else None)
        images = codes.images
        if codes.indices is None:
            grid.set_items(lambda i: images[i], points, texts)
        else:  # the grid numbers images by dataset index
            grid.set_items(lambda i: images[codes.points_of([i])[0]], codes.dataset_indices(points), texts)

    def mark_grid_item(self, index: int) -> None:
        """Star on the embedding at the grid's image (a dataset index, or a prior sample's point)."""
        codes, res = self.shown_codes, self.shown_embedding
        label = f"#{index}"
        if codes is not None and codes.indices is not None:
            index = int(codes.points_of([index])[0])
        if res is None or not 0 <= index < len(res.embedding):
            return
        self.view.set_marker_point(res.embedding[index], label)
        self._on_hovered(index)

    # ------------------------------------------------------------------ hover and zoom

    def _on_range_changed_manually(self, *_args) -> None:
        if self._shown is not None:
            (x0, x1), (y0, y1) = self.view.view_box.viewRange()
            self.session.set_view_range(self._shown[0], ((x0, x1), (y0, y1)))

    def fit(self) -> None:
        """Show all points (and forget the saved zoom)."""
        self.view.view_box.autoRange(padding=0.04)
        if self._shown is not None:
            self.session.set_view_range(self._shown[0], None)

    def _on_hovered(self, index: int) -> None:
        codes = self.shown_codes
        if self.hover_preview is None or index < 0 or codes is None or index >= len(codes.z):
            return  # keep the last image: moving between points does not flicker
        s = self.session
        ds = s.dataset
        class_names = ds.class_names if ds is not None and codes.of_dataset else None
        m = s.state(self.shown_key)
        cluster_id = int(m.clustering.labels[index]) if m is not None and m.clustering is not None else None
        caption = captions.hover_caption(index, codes.labels, class_names) or None
        image = codes.images[index]
        note = None
        if codes.source == "inverted":
            mse = f" · MSE {float(codes.fit_error[index]):.4f}" if codes.fit_error is not None else ""
            note = "z inverted" + mse
            generated = codes.generated[index] if codes.generated is not None else None
            if generated is not None and generated.shape[0] == image.shape[0] and generated.shape != image.shape:
                from explorer.data import resize_images  # the dataset is shown at its own resolution

                generated = resize_images(generated[None], *image.shape[1:])[0]
            if generated is not None and generated.shape == image.shape:
                gap = np.ones((image.shape[0], image.shape[1], max(1, image.shape[2] // 14)), np.float32)
                image = np.concatenate([image, gap, generated], axis=2)
                note = "left: the image · right: G(z), z inverted" + mse
        self.hover_preview.show_point(image, int(codes.dataset_indices([index])[0]) if codes.of_dataset else index,
                                      caption, cluster_id, note)

    def unhover(self) -> None:
        """Take the hover ring off (it is not part of a figure)."""
        self.view.hover_at(QPointF(-1e9, -1e9))


class _Same:
    """Wraps an object so that signatures compare it by identity (a dataclass's == would compare its arrays)."""

    __slots__ = ("obj",)

    def __init__(self, obj) -> None:
        self.obj = obj

    def __eq__(self, other) -> bool:
        return isinstance(other, _Same) and other.obj is self.obj

    __hash__ = None
