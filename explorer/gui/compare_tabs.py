"""The Compare view's tabs and strip: synced interpolation, scorecard, the same images, the hover strip."""

from __future__ import annotations

import html
import textwrap

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from explorer.gui.dialogs import ask_save_path
from explorer.gui.images import pixmap_scale, to_qimage

__all__ = ["HoverStrip", "SyncedInterpolationView", "ScorecardView", "SameImagesView"]


class HoverStrip(QWidget):
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
        self.table.verticalHeader().setMaximumWidth(480)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setWordWrap(True)
        outer.addWidget(self.table, 1)
        self.notes = QLabel("Compute the scorecard: clustering and reconstruction of every compared model on the "
                            "same images. Likelihood, sample quality, disentanglement and the human test join it "
                            "from each model's Evaluate panels (compared only where N and settings agree).", self)
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
            # the units and N wrapped under the name (one line was cut off at the header's width)
            units = textwrap.fill(f"({c.detail})", 64, break_on_hyphens=False, break_long_words=False)
            item = QTableWidgetItem(c.name + ("\n" + units if c.detail else ""))
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

        rgb = np.ascontiguousarray(np.asarray(image.convert("RGB")))
        h, w = rgb.shape[:2]
        from PySide6.QtGui import QImage

        qimg = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
        self.page.setPixmap(QPixmap.fromImage(qimg))
