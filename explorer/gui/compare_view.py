"""The Compare view: 2–4 models' embeddings as small multiples, linked hover and selection, one colouring."""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from explorer.core.compare.align import ALIGNMENTS
from explorer.core.session import Session
from explorer.gui.colors import categorical_palette, continuous_colors, label_colors, plain_ticks
from explorer.gui.embedding_view import EmbeddingView
from explorer.gui.images import pixmap_scale, to_qimage

__all__ = ["CompareView", "ComparePresenter", "CompareMode", "ALIGN_TEXT"]

#: What the alignment menu says for each method.
ALIGN_TEXT = {"none": "Not aligned (each as computed)",
              "procrustes": "Procrustes onto the first (rotate/flip only)",
              "aligned-umap": "AlignedUMAP (fitted on all models)"}


class _HoverStrip(QWidget):
    """The hovered dataset image once, then each compared model's reconstruction of it with its PSNR."""

    def __init__(self, size_px: int = 84, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.size_px = size_px
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(4, 2, 4, 2)
        self._layout.setSpacing(10)
        self._cells: list[tuple[QLabel, QLabel]] = []
        self.hint = QLabel("Hover a point: the same image is ringed in every model's embedding and shown here "
                           "with each model's reconstruction.", self)
        self.hint.setStyleSheet("color: #555;")
        self._layout.addWidget(self.hint)
        self._layout.addStretch(1)
        self.setMinimumHeight(size_px + 40)

    def show_images(self, items) -> None:
        """Show `HoverImage` items (empty: the hint)."""
        for img, cap in self._cells:
            img.deleteLater()
            cap.deleteLater()
        self._cells = []
        self.hint.setVisible(not items)
        for k, item in enumerate(items):
            box = QVBoxLayout()
            img = QLabel(self)
            img.setAlignment(Qt.AlignmentFlag.AlignCenter)
            img.setFixedSize(self.size_px, self.size_px)
            img.setStyleSheet("background: #f2f2f2; border: 1px solid #ddd;")
            if item.image is not None:
                qimg = to_qimage(item.image)
                w, h = pixmap_scale(item.image.shape[1:], self.size_px)
                img.setPixmap(QPixmap.fromImage(qimg).scaled(w, h, Qt.AspectRatioMode.KeepAspectRatio,
                                                             Qt.TransformationMode.FastTransformation))
            else:
                img.setText("—")
            text = html.escape(item.label)
            if item.psnr_db is not None:
                text += f"<br>{item.psnr_db:.1f} dB PSNR"
            text += f"<br><span style='color:#666'>{html.escape(item.note)}</span>"
            cap = QLabel(text, self)
            cap.setTextFormat(Qt.TextFormat.RichText)
            cap.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            cap.setWordWrap(True)
            cap.setFixedWidth(max(self.size_px + 40, 130))
            box.addWidget(img, 0, Qt.AlignmentFlag.AlignHCenter)
            box.addWidget(cap)
            holder = QWidget(self)
            holder.setLayout(box)
            self._layout.insertWidget(k + 1, holder)
            self._cells.append((holder, cap))

    @property
    def count(self) -> int:
        """Number of images shown."""
        return len(self._cells)


class CompareView(QWidget):
    """Small multiples of the compared models' embeddings, their controls and the hover strip.

    The widget only draws; `ComparePresenter` keeps it in line with the session.

    Signals
    -------
    align_requested(str)
        The user chose an alignment (:data:`explorer.core.compare.align.ALIGNMENTS`).
    colour_model_requested(str)
        The user chose the model whose clusters / latent dimension colour every view (a key).
    """

    align_requested = Signal(str)
    colour_model_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None, threaded: bool = True) -> None:
        super().__init__(parent)
        self._threaded = threaded
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Align:", self))
        self.align_combo = QComboBox(self)
        for method in ALIGNMENTS:
            self.align_combo.addItem(ALIGN_TEXT[method], method)
        self.align_combo.setToolTip("Procrustes may only rotate and flip (and shift) each embedding onto the "
                                    "first model's, on the dataset images both show; distances are unchanged.")
        self.align_combo.activated.connect(lambda i: self.align_requested.emit(self.align_combo.itemData(i)))
        bar.addWidget(self.align_combo)
        bar.addSpacing(16)
        bar.addWidget(QLabel("Clusters / z[dim] of:", self))
        self.colour_combo = QComboBox(self)
        self.colour_combo.setToolTip("With colour by k-means cluster or latent dimension, every view is "
                                     "coloured by this model's clusters or z[dim], matched by dataset image.")
        self.colour_combo.activated.connect(
            lambda i: self.colour_model_requested.emit(self.colour_combo.itemData(i)))
        bar.addWidget(self.colour_combo)
        bar.addStretch(1)
        self.summary = QLabel("", self)
        self.summary.setStyleSheet("color: #444;")
        bar.addWidget(self.summary)
        outer.addLayout(bar)
        self.legend = QLabel("", self)  # one legend for every view: they share the colouring
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        outer.addWidget(self.legend)
        self.grid = QGridLayout()
        self.grid.setSpacing(6)
        outer.addLayout(self.grid, 1)
        self.message = QLabel("", self)
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #555;")
        self.message.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        outer.addWidget(self.message)
        self.strip = _HoverStrip(parent=self)
        outer.addWidget(self.strip)
        self.views: list[EmbeddingView] = []
        self.notes: list[QLabel] = []

    def set_count(self, n: int) -> list[EmbeddingView]:
        """Have ``n`` embedding views (1×2, 1×3 or 2×2), reusing the ones there are."""
        while len(self.views) > n:
            view, note = self.views.pop(), self.notes.pop()
            self.grid.removeWidget(view)
            self.grid.removeWidget(note)
            view.close()
            view.deleteLater()
            note.deleteLater()
        while len(self.views) < n:
            view = EmbeddingView(self, threaded=self._threaded)
            view.setMinimumSize(240, 220)
            for axis in ("bottom", "left"):
                plain_ticks(view.plot_item.getAxis(axis))
            note = QLabel("", self)
            note.setWordWrap(True)
            note.setStyleSheet("color: #555; font-size: 11px;")
            self.views.append(view)
            self.notes.append(note)
        columns = 2 if n == 4 else max(n, 1)
        for i, (view, note) in enumerate(zip(self.views, self.notes, strict=True)):
            r, c = divmod(i, columns)
            self.grid.addWidget(view, 2 * r, c)
            self.grid.addWidget(note, 2 * r + 1, c)
        return self.views


class ComparePresenter(QObject):
    """Keeps a `CompareView` in line with the session's Compare mode.

    Everything it draws comes from :meth:`Session.compare_panels`, :meth:`Session.compare_colouring`,
    the session's selection (dataset indices) and hovered image. A hover or a selection in one
    view goes to the session, which every view then shows.
    """

    def __init__(self, session: Session, view: CompareView, runner=None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.view, self.runner = session, view, runner
        self.panels = []
        self._legend_entries: dict = {}
        self._legend_title = ""
        self._updating = False
        s = session
        self._links = [(s.compare_changed, self.refresh), (s.models_changed, self.refresh),
                       (s.dataset_changed, self.refresh), (s.codes_changed, self._on_model_event),
                       (s.embedding_changed, self._on_model_event), (s.clustering_changed, self._on_model_event),
                       (s.colouring_changed, self.refresh), (s.marker_changed, self._on_marker),
                       (s.selection_changed, self._show_selection), (s.hover_changed, self._on_hover_changed)]
        for signal, slot in self._links:
            signal.connect(slot)
        view.align_requested.connect(self._on_align)
        view.colour_model_requested.connect(lambda key: s.set_compare(colour_key=key))
        self._wired: set[int] = set()

    def close(self) -> None:
        """Stop observing the session."""
        for signal, slot in self._links:
            signal.disconnect(slot)
        self._links = []

    @property
    def active(self) -> bool:
        """The session shows the Compare view."""
        return bool(self.session.compare_mode)

    def _on_model_event(self, key: str) -> None:
        if self.active and key in self.session.compared_keys():
            self.refresh()

    def _on_align(self, method: str) -> None:
        s = self.session
        s.set_compare(align=method)
        if method == "aligned-umap":
            task = s.aligned_umap_task()
            if task is not None and self.runner is not None:
                self.runner.submit(task)

    def _on_marker(self) -> None:
        for view in self.view.views:
            view.set_marker(*self.session.marker)

    def refresh(self) -> None:
        """Redraw every compared model's embedding (when the Compare view is shown)."""
        if not self.active:
            return
        s = self.session
        panels = s.compare_panels()
        self.panels = panels
        views = self.view.set_count(len(panels))
        self._legend_entries, self._legend_title = {}, ""
        for i, view in enumerate(views):
            if id(view) not in self._wired:
                view.hovered.connect(lambda point, v=view: self._on_view_hovered(v, point))
                view.selection_changed.connect(lambda pts, v=view: self._on_view_selection(v, pts))
                self._wired.add(id(view))
            self._draw(view, panels[i], self.view.notes[i], i == len(views) - 1)
        self._show_legend()
        self._fill_controls()
        n_open = len(s.models)
        if not panels:
            text = ("Open two to four models on the same dataset to compare them." if n_open < 2 else
                    "Waiting for the compared models' codes and embeddings…")
        elif len(panels) < len(s.compared_keys()):
            text = "Some compared models have no embedding yet; they appear when it is computed."
        else:
            ds = s.dataset
            text = (f"{len(panels)} models on {ds.name if ds is not None else 'the dataset'}: the same dataset "
                    "images are linked in every view (hover, selection)." if ds is not None else "")
        self.view.message.setText(text)
        self._show_selection()
        self._on_hover_changed(s.hovered)

    def _show_legend(self) -> None:
        entries = "  ".join(
            f"<span style='color: rgb({r},{g},{b}); font-size: 14px;'>&#9679;</span>&nbsp;{html.escape(name)}"
            for name, (r, g, b, _a) in self._legend_entries.items())
        title = html.escape(self._legend_title)
        self.view.legend.setText(f"<b>{title}</b>" + (f": {entries}" if entries else "") if title else "")

    def _fill_controls(self) -> None:
        s, v = self.session, self.view
        v.align_combo.setCurrentIndex(max(0, v.align_combo.findData(s.compare.align)))
        v.colour_combo.blockSignals(True)
        v.colour_combo.clear()
        for key in s.compared_keys():
            m = s.state(key)
            v.colour_combo.addItem(m.name, key)
        v.colour_combo.setCurrentIndex(max(0, v.colour_combo.findData(s.compare_colour_key())))
        v.colour_combo.blockSignals(False)
        col = s.colour.mode
        v.summary.setText({"label": "colour: class", "cluster": "colour: k-means clusters of one model",
                           "dimension": f"colour: z[{s.colour.dim}] of one model"}.get(col, "colour: none"))

    def _draw(self, view: EmbeddingView, panel, note: QLabel, last: bool) -> None:
        s = self.session
        col = s.compare_colouring(panel)
        colorbar = None
        if col.mode in ("label", "cluster"):
            colors, legend = label_colors(col.categories, col.names)
            if panel.linked:
                self._legend_entries.update({name: rgba for name, rgba in legend})
                self._legend_title = col.title
        elif col.mode in ("dimension", "inversion_error"):
            colors, (cmap, vmin, vmax) = continuous_colors(col.values, "viridis", col.vmin, col.vmax)
            if last:  # one colour bar, on the last view: every view has the same range
                colorbar = (cmap, vmin, vmax, f"{col.title} (clipped to 1st–99th percentile)")
            self._legend_title = (f"{col.title}: viridis, 1st–99th percentile of that model's codes; "
                                  "grey: not shown by it")
        else:
            colors = np.tile(categorical_palette(1)[0], (len(panel.embedding), 1))
        parts = panel.title.split(" · ")
        top, bottom = " · ".join(parts[:2]), " · ".join(parts[2:])
        view.plot_item.setTitle(html.escape(top) + ("<br>" + html.escape(bottom) if bottom else ""),
                                size="9pt", color="#333333")
        view.plot_item.titleLabel.setMaximumHeight(40)
        view.plot_item.layout.setRowFixedHeight(0, 40)
        view.set_points(panel.embedding, colors, colorbar=colorbar)
        view.set_marker(*s.marker)
        note.setText(" ".join(panel.notes))
        note.setVisible(bool(panel.notes))

    # ------------------------------------------------------------------ linking

    def _panel_of(self, view: EmbeddingView):
        try:
            return self.panels[self.view.views.index(view)]
        except (ValueError, IndexError):
            return None

    def _on_view_hovered(self, view: EmbeddingView, point: int) -> None:
        panel = self._panel_of(view)
        if panel is None:
            return
        if point < 0 or not panel.linked:
            self.session.set_hovered(None)
            return
        self.session.set_hovered(int(panel.dataset_indices[point]))

    def _on_hover_changed(self, dataset_index: int) -> None:
        s = self.session
        for view, panel in zip(self.view.views, self.panels, strict=False):
            points = s.compared_points(panel.key)
            view.show_linked_hover(int(points[0]) if len(points) else -1)
        if dataset_index >= 0 and self.active:
            self.view.strip.show_images(s.hover_images(dataset_index))
        elif not self.active:
            self.view.strip.show_images([])

    def _on_view_selection(self, view: EmbeddingView, points) -> None:
        if self._updating:
            return
        panel = self._panel_of(view)
        if panel is not None:
            self.session.select_points(panel.key, points)

    def _show_selection(self) -> None:
        if not self.active:
            return
        self._updating = True
        try:
            for view, panel in zip(self.view.views, self.panels, strict=False):
                points = self.session.selected_points(panel.key)
                if not np.array_equal(points, view.selection):
                    if len(points):
                        view.set_selection(points)
                    else:
                        view.clear_selection()
        finally:
            self._updating = False


class CompareMode(QObject):
    """The "Compare models side by side" action and the switch of a stack between the single view and Compare.

    Parameters
    ----------
    session : Session
    stack : QStackedWidget
        Holds ``single`` and ``compare_view``.
    single : QWidget
        The active model's embedding view.
    compare_view : CompareView
    runner : explorer.gui.session_runner.SessionRunner
        Runs the AlignedUMAP task.
    """

    def __init__(self, session: Session, stack: QStackedWidget, single: QWidget, compare_view: CompareView,
                 runner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.stack, self.single, self.compare_view = session, stack, single, compare_view
        self.presenter = ComparePresenter(session, compare_view, runner, parent=self)
        self.action = QAction("&Compare models side by side", self, checkable=True)
        self.action.setShortcut("Ctrl+M")
        self.action.setToolTip("Show 2–4 open models' embeddings side by side, linked by dataset image")
        self.action.toggled.connect(session.set_compare_mode)
        session.compare_changed.connect(self._on_compare_changed)

    def _on_compare_changed(self) -> None:
        on = bool(self.session.compare_mode)
        if self.action.isChecked() != on:
            self.action.setChecked(on)
        self.stack.setCurrentWidget(self.compare_view if on else self.single)
        if on:
            self.presenter.refresh()
