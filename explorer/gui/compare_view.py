"""The Compare view: 2–4 models' embeddings as small multiples, linked hover and selection, one colouring."""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from explorer.core.compare.align import ALIGNMENTS
from explorer.core.session import Session
from explorer.gui.colors import categorical_palette, continuous_colors, label_colors, plain_ticks
from explorer.gui.dialogs import ask_save_path
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


class SyncedInterpolationView(QWidget):
    """The same two dataset images interpolated in every compared model, one frame slider, played in sync.

    Signals
    -------
    interpolate_requested(int)
        Frames T wanted: interpolate between the first two selected images.
    export_requested(str)
        A movie path (.gif or .mp4) to write the synced frames to.
    """

    interpolate_requested = Signal(int)
    export_requested = Signal(str)

    def __init__(self, size_px: int = 168, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.size_px = size_px
        self.runs = []
        outer = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.build_button = QPushButton("Interpolate between two selected images", self)
        self.build_button.setToolTip("Each model interpolates between its own codes of the same two dataset "
                                     "images — the two lowest dataset indices of the selection, from the lower "
                                     "to the higher (the interpolation settings' lerp/slerp)")
        bar.addWidget(self.build_button)
        bar.addWidget(QLabel("Frames:", self))
        self.frames_spin = QSpinBox(self)
        self.frames_spin.setRange(2, 2000)
        self.frames_spin.setValue(30)
        bar.addWidget(self.frames_spin)
        self.play_button = QPushButton("Play", self, checkable=True)
        self.play_button.setEnabled(False)
        bar.addWidget(self.play_button)
        self.export_button = QPushButton("Export movie…", self)
        self.export_button.setEnabled(False)
        bar.addWidget(self.export_button)
        bar.addStretch(1)
        outer.addLayout(bar)
        self.status = QLabel("Select two images in any view (the same images in every model), then "
                             "interpolate.", self)
        self.status.setWordWrap(True)
        outer.addWidget(self.status)
        self.row = QHBoxLayout()
        self.row.setSpacing(12)
        outer.addLayout(self.row)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setEnabled(False)
        outer.addWidget(self.slider)
        outer.addStretch(1)
        self.cells: list[tuple[QLabel, QLabel]] = []
        self.timer = QTimer(self, interval=83)
        self.timer.timeout.connect(self._next_frame)
        self.build_button.clicked.connect(lambda: self.interpolate_requested.emit(self.frames_spin.value()))
        self.play_button.toggled.connect(lambda on: self.timer.start() if on else self.timer.stop())
        self.slider.valueChanged.connect(self.show_frame)
        self.export_button.clicked.connect(self._on_export)

    def set_runs(self, runs, fps: float = 12.0) -> None:
        """Show `SyncedInterpolation` runs (empty: nothing) at frame 0."""
        for holder, _img in self.cells:
            holder.deleteLater()
        self.cells = []
        self.runs = list(runs)
        playable = [r for r in self.runs if r.frames is not None]
        for r in self.runs:
            holder = QWidget(self)
            box = QVBoxLayout(holder)
            img = QLabel(holder)
            img.setFixedSize(self.size_px, self.size_px)
            img.setAlignment(Qt.AlignmentFlag.AlignCenter)
            img.setStyleSheet("background: #f2f2f2; border: 1px solid #ddd;")
            if r.frames is None:
                img.setText("—")
            cap = QLabel(f"{html.escape(r.name)}<br><span style='color:#666'>{html.escape(r.note)}</span>", holder)
            cap.setTextFormat(Qt.TextFormat.RichText)
            cap.setWordWrap(True)
            cap.setAlignment(Qt.AlignmentFlag.AlignHCenter)
            cap.setFixedWidth(self.size_px + 20)
            box.addWidget(img, 0, Qt.AlignmentFlag.AlignHCenter)
            box.addWidget(cap)
            box.addStretch(1)
            holder.setMinimumHeight(self.size_px + 64)  # room for the two caption lines under the frame
            self.row.addWidget(holder)
            self.cells.append((holder, img))
        n = playable[0].frames.shape[0] if playable else 0
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(n - 1, 0))
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        for w in (self.slider, self.play_button, self.export_button):
            w.setEnabled(bool(playable))
        if not playable:
            self.play_button.setChecked(False)
        self.timer.setInterval(int(round(1000 / max(fps, 1.0))))
        self.show_frame(0)

    def show_frame(self, t: int) -> None:
        """Show frame ``t`` of every model."""
        for r, (_holder, img) in zip(self.runs, self.cells, strict=True):
            if r.frames is None or not 0 <= t < len(r.frames):
                continue
            frame = r.frames[t]
            w, h = pixmap_scale(frame.shape[1:], self.size_px)
            img.setPixmap(QPixmap.fromImage(to_qimage(frame)).scaled(
                w, h, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation))

    def _next_frame(self) -> None:
        if self.slider.maximum() > 0:
            self.slider.setValue((self.slider.value() + 1) % (self.slider.maximum() + 1))

    def _on_export(self) -> None:
        path = ask_save_path(self, "Export synced interpolation", "interpolation_compare.gif",
                             "Movies (*.gif *.mp4)")
        if path:
            self.export_requested.emit(path)


class ScorecardView(QWidget):
    """The compared models' scorecard: one row per model, best per column in bold, "n.s." marks, exports.

    Signals
    -------
    compute_requested(int, tuple)
        N images and the code precisions to measure.
    export_requested(str)
        A path (.csv, .json, .md or .tex).
    """

    compute_requested = Signal(int, tuple)
    export_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        outer = QVBoxLayout(self)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Images N:", self))
        self.n_spin = QSpinBox(self)
        self.n_spin.setRange(10, 1_000_000)
        self.n_spin.setValue(1000)
        self.n_spin.setSingleStep(500)
        self.n_spin.setToolTip("Every model is measured on the same seeded sample of N dataset images")
        bar.addWidget(self.n_spin)
        bar.addWidget(QLabel("Precisions:", self))
        self.precisions_edit = QLineEdit("float32 8bit", self)
        self.precisions_edit.setToolTip("Code precisions of the reconstruction columns: float32, float16, 2bit…16bit")
        bar.addWidget(self.precisions_edit)
        self.compute_button = QPushButton("Compute scorecard", self)
        bar.addWidget(self.compute_button)
        self.export_button = QPushButton("Export…", self)
        self.export_button.setEnabled(False)
        self.export_button.setToolTip("CSV, JSON (evaluate's records and the table), Markdown or LaTeX (booktabs)")
        bar.addWidget(self.export_button)
        bar.addStretch(1)
        outer.addLayout(bar)
        self.table = QTableWidget(0, 0, self)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setMaximumWidth(460)
        self.table.setWordWrap(True)
        outer.addWidget(self.table, 1)
        self.notes = QLabel("Compute the scorecard: clustering and reconstruction of every compared model on the "
                            "same images.", self)
        self.notes.setWordWrap(True)
        self.notes.setStyleSheet("color: #444;")
        outer.addWidget(self.notes)
        self.compute_button.clicked.connect(self._on_compute)
        self.export_button.clicked.connect(self._on_export)

    def precisions(self) -> tuple:
        """The precisions typed, in order."""
        return tuple(p for p in self.precisions_edit.text().replace(",", " ").split() if p)

    def _on_compute(self) -> None:
        self.compute_requested.emit(self.n_spin.value(), self.precisions())

    def _on_export(self) -> None:
        path = ask_save_path(self, "Export scorecard", "scorecard.tex",
                             "LaTeX table (*.tex);;CSV (*.csv);;Markdown (*.md);;JSON (*.json)")
        if path:
            self.export_requested.emit(path)

    def show_card(self, card) -> None:
        """Fill the table from a `explorer.core.compare.scorecard.Scorecard`: one row per measurement, one
        column per model (2–4 models fit the panel; the exports keep one row per model, as papers do)."""
        from explorer.core.compare.tables import format_value

        cols = card.columns
        self.table.clear()
        self.table.setRowCount(len(cols))
        self.table.setColumnCount(len(card.names))
        self.table.setHorizontalHeaderLabels(card.names)
        for i, c in enumerate(cols):
            item = QTableWidgetItem(c.name + (f" ({c.detail})" if c.detail else ""))
            item.setToolTip(c.header + ("" if c.direction is None else f" — {c.direction} is better"))
            self.table.setVerticalHeaderItem(i, item)
        for j, row in enumerate(card.cells):
            for i, (c, cell) in enumerate(zip(cols, row, strict=True)):
                text = format_value(cell.value, c.fmt)
                if cell.ci95 is not None:
                    text += f" [{format_value(cell.ci95[0], c.fmt)}, {format_value(cell.ci95[1], c.fmt)}]"
                if cell.not_significant:
                    text += " (n.s.)"
                item = QTableWidgetItem(text)
                if cell.best:
                    f = item.font()
                    f.setBold(True)
                    item.setFont(f)
                    item.setToolTip("best of the row")
                elif cell.not_significant:
                    item.setToolTip("not significantly different from the best (paired bootstrap, 95 %)")
                self.table.setItem(i, j, item)
        self.table.resizeRowsToContents()
        self.export_button.setEnabled(True)
        notes = list(card.notes) or [f"N = {card.n_images:,} images, the same for every model."]
        self.notes.setText(" ".join(notes))


class SameImagesView(QWidget):
    """The scorecard's images through every model: the reconstructions page and the rate–distortion plot.

    Signals
    -------
    rd_requested(int)
        Images to measure the rate–distortion curves on.
    """

    rd_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from explorer.gui.compare_figures import rate_distortion_layout

        outer = QVBoxLayout(self)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Images shown:", self))
        self.n_show = QSpinBox(self)
        self.n_show.setRange(1, 32)
        self.n_show.setValue(8)
        bar.addWidget(self.n_show)
        bar.addWidget(QLabel("Precision:", self))
        self.precision_combo = QComboBox(self)
        bar.addWidget(self.precision_combo)
        bar.addSpacing(20)
        self.rd_button = QPushButton("Rate–distortion of all models", self)
        self.rd_button.setToolTip("Every model's code at each precision, beside JPEG and WebP, on the scorecard's "
                                  "first N images (the same compression ratio for all: original image bits / "
                                  "code bits)")
        self.rd_n = QSpinBox(self)
        self.rd_n.setRange(10, 100_000)
        self.rd_n.setValue(200)
        bar.addWidget(self.rd_button)
        bar.addWidget(QLabel("on N:", self))
        bar.addWidget(self.rd_n)
        bar.addStretch(1)
        outer.addLayout(bar)
        self.status = QLabel("Compute the scorecard first: these are its images and codes.", self)
        self.status.setWordWrap(True)
        outer.addWidget(self.status)
        self.page = QLabel(self)
        self.page.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        scroll = QScrollArea(self)
        scroll.setWidget(self.page)
        scroll.setWidgetResizable(True)
        outer.addWidget(scroll, 3)
        self.rd_plot = rate_distortion_layout([], "")
        self.rd_plot.setMinimumHeight(260)
        outer.addWidget(self.rd_plot, 2)
        self.rd_button.clicked.connect(lambda: self.rd_requested.emit(self.rd_n.value()))

    def show_page(self, image) -> None:
        """Show a PIL image (the reconstructions page)."""
        import numpy as np

        rgb = np.ascontiguousarray(np.asarray(image.convert("RGB")))
        h, w = rgb.shape[:2]
        from PySide6.QtGui import QImage

        qimg = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
        self.page.setPixmap(QPixmap.fromImage(qimg))


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
        self.invert_button = QPushButton("Invert images for GANs", self)
        self.invert_button.setToolTip("GANs without encoder take part through the codes of the same dataset "
                                      "images found by GAN inversion (a seeded sample of this many images)")
        self.invert_spin = QSpinBox(self)
        self.invert_spin.setRange(10, 100_000)
        self.invert_spin.setValue(500)
        self.invert_spin.setSingleStep(100)
        bar.addWidget(self.invert_button)
        bar.addWidget(self.invert_spin)
        self.invert_button.hide()
        self.invert_spin.hide()
        outer.addLayout(bar)
        self.tabs = QTabWidget(self)
        outer.addWidget(self.tabs, 1)
        page = QWidget(self)
        self.tabs.addTab(page, "Embeddings")
        self.interpolation = SyncedInterpolationView(parent=self)
        self.tabs.addTab(self.interpolation, "Interpolation")
        self.scorecard = ScorecardView(self)
        self.tabs.addTab(self.scorecard, "Scorecard")
        self.same_images = SameImagesView(self)
        self.tabs.addTab(self.same_images, "Same images")
        outer = QVBoxLayout(page)
        outer.setContentsMargins(0, 4, 0, 0)
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

    #: Emitted (debounced) after the view was resized: the presenter refits the plots.
    resized = Signal()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self.resized.emit()

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
        self._fitted_for: tuple = ()
        self._updating = False
        s = session
        self._links = [(s.compare_changed, self.refresh), (s.models_changed, self.refresh),
                       (s.dataset_changed, self.refresh), (s.codes_changed, self._on_model_event),
                       (s.embedding_changed, self._on_model_event), (s.clustering_changed, self._on_model_event),
                       (s.colouring_changed, self.refresh), (s.marker_changed, self._on_marker),
                       (s.selection_changed, self._show_selection), (s.hover_changed, self._on_hover_changed),
                       (s.settings_changed, self._on_settings), (s.scorecard_changed, self._on_scorecard)]
        for signal, slot in self._links:
            signal.connect(slot)
        view.align_requested.connect(self._on_align)
        view.invert_button.clicked.connect(self._on_invert)
        view.interpolation.interpolate_requested.connect(self.interpolate)
        view.interpolation.frames_spin.valueChanged.connect(
            lambda v: s.update_settings("interpolation", frames=int(v)))  # one interpolation setting
        view.interpolation.export_requested.connect(self.export_interpolation)
        view.scorecard.compute_requested.connect(self.compute_scorecard)
        view.scorecard.export_requested.connect(self.export_scorecard)
        view.same_images.rd_requested.connect(self.compute_rd)
        view.same_images.n_show.valueChanged.connect(lambda _v: self._show_same_images())
        view.same_images.precision_combo.activated.connect(lambda _i: self._show_same_images())
        view.colour_model_requested.connect(lambda key: s.set_compare(colour_key=key))
        self._wired: set[int] = set()
        self._strip_timer = QTimer(self, singleShot=True, interval=40)
        self._strip_timer.timeout.connect(self.update_strip)
        # a plot fitted while the grid was still being laid out shows part of its points: refit after resizes
        self._fit_timer = QTimer(self, singleShot=True, interval=150)
        self._fit_timer.timeout.connect(self.fit_views)
        view.resized.connect(self._fit_timer.start)

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

    def compute_scorecard(self, n: int, precisions: tuple) -> None:
        """Measure the compared models on the same N images (a job)."""
        from explorer.core.reconstruction.quantize import parse_precision

        sv = self.view.scorecard
        try:
            for p in precisions:
                parse_precision(p)
        except ValueError as exc:
            sv.notes.setText(f"Precision: {exc}.")
            return
        task = self.session.scorecard_task(n, precisions or ("float32",))
        if task is None:
            sv.notes.setText("Open a dataset and the models to compare first.")
            return
        sv.notes.setText(f"{task.label}…")
        if self.runner is not None:
            self.runner.submit(task)
        else:
            self.session.run(task)

    def _on_scorecard(self) -> None:
        sc = self.session.scorecard
        if sc is None:
            return
        self.view.scorecard.show_card(sc["card"])
        combo = self.view.same_images.precision_combo
        precisions = list(sc["comparison"].settings.get("precisions", ()))
        if [combo.itemText(i) for i in range(combo.count())] != precisions:
            combo.clear()
            combo.addItems(precisions)
        self._show_same_images()
        rows = sc.get("rd")
        if rows is not None:
            from explorer.gui.compare_figures import fill_rate_distortion

            c = sc["comparison"]
            n = rows[0]["n_images"] if rows else 0
            split = f" ({c.dataset.split})" if c.dataset.split else ""
            fill_rate_distortion(self.view.same_images.rd_plot, rows,
                                 f"{len(c.runs)} models on {c.dataset.name}{split}, {n:,} images")

    def _show_same_images(self) -> None:
        """The reconstructions page of the scorecard's first images at the chosen precision."""
        sc, si = self.session.scorecard, self.view.same_images
        if sc is None:
            return
        from explorer.core.compare.pages import reconstructions_page
        from explorer.core.compare.report import reconstruction_grid

        c = sc["comparison"]
        try:
            rows = reconstruction_grid(c, si.n_show.value(), max(0, si.precision_combo.currentIndex()))
        except ValueError as exc:
            si.status.setText(str(exc))
            return
        si.show_page(reconstructions_page(rows, f"The same {len(rows[0]['indices'])} images through every model", 2.0))
        si.status.setText(f"The first {len(rows[0]['indices'])} of the scorecard's {c.n_images:,} images (seed "
                          f"{c.settings.get('seed', 0)}): originals, then each model's reconstruction with its PSNR "
                          "(dB) and SSIM; a GAN's through its inverted code.")

    def compute_rd(self, n: int) -> None:
        """Rate–distortion curves of the scorecard's models (a job)."""
        task = self.session.compare_rd_task(n)
        if task is None:
            self.view.same_images.status.setText("Compute the scorecard (with reconstruction) first.")
            return
        if self.runner is not None:
            self.runner.submit(task)
        else:
            self.session.run(task)

    def export_scorecard(self, path: str) -> None:
        """Write the scorecard (.csv, .json, .md, .tex) and say where."""
        try:
            out = self.session.export_scorecard(path)
        except (OSError, ValueError) as exc:
            self.view.scorecard.notes.setText(f"Could not export: {exc}")
            return
        self.view.scorecard.notes.setText(f"Wrote {out}.")

    def _on_settings(self, group: str) -> None:
        if group == "interpolation":
            spin = self.view.interpolation.frames_spin
            frames = int(self.session.settings.get("interpolation", {}).get("frames", 30))
            if spin.value() != frames:
                spin.blockSignals(True)
                spin.setValue(frames)
                spin.blockSignals(False)

    def _on_invert(self) -> None:
        tasks = self.session.compare_inversion_tasks(self.view.invert_spin.value())
        if self.runner is not None:
            self.runner.submit_all(tasks)

    def interpolate(self, frames: int) -> None:
        """Interpolate between the first two selected dataset images in every compared model."""
        s, iv = self.session, self.view.interpolation
        sel = s.selection
        if len(sel) < 2:
            iv.status.setText(f"Select two images first ({len(sel)} selected): the two lowest dataset indices "
                              "of the selection are the ends.")
            return
        method = s.settings.get("interpolation", {}).get("method", "slerp")
        try:
            runs = s.compare_interpolation(int(sel[0]), int(sel[1]), frames, method)
        except ValueError as exc:
            iv.status.setText(str(exc))
            return
        iv.set_runs(runs, float(s.settings.get("interpolation", {}).get("fps", 12)))
        iv.status.setText(f"{method} from image #{sel[0]} to #{sel[1]}, {frames} frames, in every compared "
                          "model; drag the slider or play.")

    def export_interpolation(self, path: str) -> None:
        """Write the synced frames side by side as a GIF/MP4 (a job), captioned with the models."""
        from explorer.core.latent.movie import write_movie

        runs = [r for r in self.view.interpolation.runs if r.frames is not None]
        if not runs:
            return
        grid = np.stack([r.frames for r in runs], axis=1)[:, None]  # (T, 1, M, C, H, W)
        caption = " | ".join(r.name for r in runs)
        fps = float(self.session.settings.get("interpolation", {}).get("fps", 12))
        iv = self.view.interpolation

        def write(ctx):
            return write_movie(path, grid, fps=fps, scale=4, caption=caption, ctx=ctx)

        if self.runner is not None:
            self.runner.submit_job("compare-movie", write, label="Writing the synced interpolation",
                                   on_done=lambda p: iv.status.setText(f"Wrote {p}"))
        else:
            iv.status.setText(f"Wrote {write(None)}")

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
        linked = [i for i, p in enumerate(panels) if p.linked]
        last_linked = linked[-1] if linked else len(panels) - 1  # the shared colour bar: a linked panel's range
        for i, view in enumerate(views):
            if id(view) not in self._wired:
                view.hovered.connect(lambda point, v=view: self._on_view_hovered(v, point))
                view.selection_changed.connect(lambda pts, v=view: self._on_view_selection(v, pts))
                self._wired.add(id(view))
            self._draw(view, panels[i], self.view.notes[i], i == last_linked)
        self._show_legend()
        shown = tuple((p.key, id(s.state(p.key).embedding)) for p in panels)
        if shown != self._fitted_for:  # new points: fit once the grid has its final size; a zoom stays otherwise
            self._fitted_for = shown
            QTimer.singleShot(0, self.fit_views)
        self._fill_controls()
        gans_on_prior = any((m := s.state(k)) is not None and m.entry is not None and not m.entry.model.has_encoder
                            and m.codes is not None and m.codes.source == "prior" for k in s.compared_keys())
        self.view.invert_button.setVisible(gans_on_prior)
        self.view.invert_spin.setVisible(gans_on_prior)
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

    def fit_views(self) -> None:
        """Show all points of every compared view."""
        for view in self.view.views:
            view.view_box.autoRange(padding=0.04)

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
            if m.codes is None or m.codes.of_dataset:  # prior samples cannot colour dataset images
                v.colour_combo.addItem(m.name, key)
        v.colour_combo.setCurrentIndex(max(0, v.colour_combo.findData(s.compare_colour_key())))
        v.colour_combo.blockSignals(False)
        # what is drawn, which may stand in for what was asked (clusters before k-means ran: classes)
        linked = [p for p in self.panels if p.linked]
        title = s.compare_colouring(linked[0]).title if linked else ""
        v.summary.setText(f"colour: {title}" if title else "colour: none")

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
        projection = parts[2] if len(parts) > 2 else ""
        if len(projection) > 26:  # e.g. UMAP with all its parameters: the tooltip keeps the whole title
            projection = projection[:24] + "…"
        top, bottom = " · ".join(parts[:2]), " · ".join([projection, *parts[3:]]) if projection else ""
        view.setToolTip(panel.title)
        view.plot_item.setTitle(html.escape(top) + ("<br>" + html.escape(bottom) if bottom else ""),
                                size="9pt", color="#333333")
        view.plot_item.titleLabel.setMinimumWidth(0)  # a long title must not widen the plot past its cell
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
        """Ring the hovered image in every view now; the reconstructions strip follows once the cursor rests."""
        s = self.session
        for view, panel in zip(self.view.views, self.panels, strict=False):
            points = s.compared_points(panel.key)
            view.show_linked_hover(int(points[0]) if len(points) else -1)
        if self.active:
            self._strip_timer.start()  # decoding one image per model: not on every mouse move

    def update_strip(self) -> None:
        """Show the hovered image and each compared model's reconstruction of it (or keep the last)."""
        s, i = self.session, self.session.hovered
        if i < 0 or not self.active or s.dataset is None or i >= len(s.dataset):
            return
        try:
            self.view.strip.show_images(s.hover_images(i))
        except (ValueError, IndexError) as exc:  # e.g. a model decoding NaN: one sentence, not an escaped slot
            self.view.message.setText(str(exc))

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
                 runner, hover_preview=None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.stack, self.single, self.compare_view = session, stack, single, compare_view
        self.hover_preview = hover_preview
        self.presenter = ComparePresenter(session, compare_view, runner, parent=self)
        self.action = QAction("&Compare models side by side", self, checkable=True)
        self.action.setShortcut("Ctrl+M")
        self.action.setToolTip("Show 2–4 open models' embeddings side by side, linked by dataset image")
        self.action.toggled.connect(session.set_compare_mode)
        session.compare_changed.connect(self._on_compare_changed)
        session.hover_changed.connect(self._on_hover_changed)

    def _on_hover_changed(self, i: int) -> None:
        """The "Image under cursor" panel shows the image hovered in any compared view."""
        s, preview = self.session, self.hover_preview
        if preview is None or not s.compare_mode or i < 0 or s.dataset is None or i >= len(s.dataset):
            return
        ds = s.dataset
        label = None
        if ds.labels is not None:
            lab = int(ds.labels[i])
            label = ds.class_names[lab] if ds.class_names is not None and lab < len(ds.class_names) else str(lab)
        preview.show_point(ds.images[i], i, label, None, "hovered in the Compare view")

    def _on_compare_changed(self) -> None:
        on = bool(self.session.compare_mode)
        if self.action.isChecked() != on:
            self.action.setChecked(on)
        self.stack.setCurrentWidget(self.compare_view if on else self.single)
        if on:
            self.presenter.refresh()
