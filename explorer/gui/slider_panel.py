"""Latent sliders: one slider per latent dimension and the decoded image, updated live while dragging."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from explorer.core.codes import decode_codes, prior_codes
from explorer.core.latent import sliders as core
from explorer.gui.images import to_qimage

RANGE_TEXT = {"prior": "±3σ of the prior p(z)", "fitted": "±2σ of the codes' fitted Gaussian"}


def _value_text(v: float) -> str:
    """Slider read-out with a sign and two decimals; never "−0.00"."""
    v = float(v)
    return f"{0.0 if abs(v) < 0.005 else v:+.2f}"


class DecodedImageView(QWidget):
    """Paints the image decoded from the latest latent code, decoding at most once per paint.

    A code change only marks the image stale and schedules a repaint; the decode happens
    in :meth:`paintEvent`, of whatever code is current then. Slider bursts between two
    paints therefore cost one decode, never a queue of stale frames.

    Parameters
    ----------
    parent : QWidget, optional
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._model = None
        self._z: np.ndarray | None = None
        self._stale = False
        self._qimage = None
        self._image: np.ndarray | None = None
        self.smooth = False
        self.background = QColor(255, 255, 255)
        self.decode_count = 0

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(280, 280)

    def set_model(self, model) -> None:
        """The model whose decoder renders the codes (None clears)."""
        self._model = model
        self._z = None
        self._image = self._qimage = None
        self.update()

    def set_code(self, z) -> None:
        """Show the decoded image of ``z`` ((d,) float) at the next paint."""
        self._z = None if z is None else np.asarray(z, dtype=np.float32)
        self._stale = True
        self.update()

    def image(self) -> np.ndarray | None:
        """The image shown, ``(C, H, W)`` float32 in [0, 1] (decoding now if stale), or None."""
        self._refresh()
        return self._image

    def _refresh(self) -> None:
        if not self._stale:
            return
        self._stale = False
        if self._model is None or self._z is None:
            self._image = self._qimage = None
            return
        self._image = decode_codes(self._model, self._z[None])[0]
        self._qimage = to_qimage(self._image)
        self.decode_count += 1

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._refresh()
        p = QPainter(self)
        p.fillRect(self.rect(), self.background)
        if self._qimage is not None:
            w, h = self._qimage.width(), self._qimage.height()
            side = min(self.width() / w, self.height() / h)
            if not self.smooth and side >= 1:
                side = float(int(side))  # whole pixels: every model pixel the same size
            tw, th = w * side, h * side
            target = QRectF((self.width() - tw) / 2, (self.height() - th) / 2, tw, th)
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.smooth)
            p.drawImage(target, self._qimage)
        p.end()


class SliderPanel(QWidget):
    """One slider per latent dimension, most active first, and the decoded image.

    Sliders span ±3σ of the prior or ±2σ of the codes' fitted Gaussian; each row shows
    the value and the dimension's score (average KL to the prior in nats for a VAE, else
    the codes' variance). Dragging redraws the image live (see :class:`DecodedImageView`).

    Signals
    -------
    code_changed(object)
        The latent code ``z`` ((d,) float32 copy) changed.
    traversal_requested()
        The user asked for a traversal grid of the current code.
    from_selection_requested()
        The user asked for the code of the point selected on the embedding.
    talk_requested()
        The user asked for talk mode (full screen).
    """

    code_changed = Signal(object)
    traversal_requested = Signal()
    from_selection_requested = Signal()
    talk_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = None
        self._codes = None
        self._z = np.zeros(0, np.float32)
        self._base = np.zeros(0, np.float32)
        self._ranges = np.zeros((0, 2))
        self.scores: core.DimensionScores | None = None
        self._sliders: list[QSlider] = []
        self._values: list[QLabel] = []
        self._rows: list[int] = []  # slider row i -> latent dimension
        self._seed = 0
        self._updating = False

        self.image_view = DecodedImageView(self)
        self.range_combo = QComboBox()
        for key in core.RANGE_MODES:
            self.range_combo.addItem(RANGE_TEXT[key], key)
        self.range_combo.setToolTip("Range of every slider")
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Back to the starting code (the selected point, or the prior mean 0)")
        self.random_button = QPushButton("Random from prior")
        self.selected_button = QPushButton("From selected point")
        self.selected_button.setEnabled(False)
        self.traversal_button = QPushButton("Traversal grid…")
        self.talk_button = QPushButton("Talk mode")
        self.talk_button.setToolTip("Full screen, large type, keyboard control (F11)")
        self.info_label = QLabel("Open a model to move through its latent space.")
        self.info_label.setWordWrap(True)
        from explorer.gui.direction_sliders import DirectionBox

        self.directions = DirectionBox(self)  # sliders along GANSpace / SeFa / attribute directions (controller-wired)

        self._rows_widget = QWidget()
        self._grid = QGridLayout(self._rows_widget)
        self._grid.setContentsMargins(2, 2, 2, 2)
        self._grid.setVerticalSpacing(1)
        self._grid.setColumnStretch(1, 1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self._rows_widget)
        self.scroll.setMinimumWidth(260)

        buttons = QHBoxLayout()
        for b in (self.reset_button, self.random_button, self.selected_button):
            buttons.addWidget(b)
        top = QHBoxLayout()
        top.addWidget(QLabel("Range"))
        top.addWidget(self.range_combo, 1)
        top.addWidget(self.traversal_button)
        top.addWidget(self.talk_button)
        left = QVBoxLayout()
        left.addLayout(top)
        left.addLayout(buttons)
        left.addWidget(self.info_label)
        left.addWidget(self.directions)
        left.addWidget(self.scroll, 1)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(left, 3)
        lay.addWidget(self.image_view, 2)

        self.range_combo.currentIndexChanged.connect(self._on_range_changed)
        self.reset_button.clicked.connect(self.reset)
        self.random_button.clicked.connect(self._on_random_clicked)
        self.selected_button.clicked.connect(self.from_selection_requested)
        self.traversal_button.clicked.connect(self.traversal_requested)
        self.talk_button.clicked.connect(self.talk_requested)
        self._set_enabled(False)

    # ------------------------------------------------------------------ public API

    def set_model(self, model, codes=None, scores: core.DimensionScores | None = None) -> None:
        """Show sliders for ``model`` (None clears).

        Parameters
        ----------
        model : models.base.GenerativeModel or None
        codes : array_like, shape (N, d), optional
            Dataset codes (for the fitted range and, without ``scores``, the variance order).
        scores : DimensionScores, optional
            Order and read-outs; default the codes' variance (natural order without codes).
        """
        self.model = model
        self._codes = None if codes is None else np.asarray(codes)
        self.image_view.set_model(model)
        if model is None:
            self._build_rows(0)
            self.info_label.setText("Open a model to move through its latent space.")
            self._set_enabled(False)
            return
        d = int(model.latent_dim)
        if scores is None:
            scores = core.dimension_scores(model, codes=self._codes)
        self.scores = scores
        fitted = self.range_combo.model().item(1)
        fitted.setEnabled(self._codes is not None)
        if self._codes is None:
            self.range_combo.setCurrentIndex(0)
        self._ranges = core.slider_ranges(self.range_mode(), d, self._codes)
        self._base = np.zeros(d, np.float32)
        self._z = self._base.copy()
        self._build_rows(d)
        self._set_enabled(True)
        self._update_info()
        self._sync_sliders()
        self._emit()

    def set_scores(self, scores: core.DimensionScores) -> None:
        """Re-order the sliders by new scores (e.g. the KL once computed)."""
        if self.model is None or len(scores.values) != len(self._z):
            return
        self.scores = scores
        self._build_rows(len(self._z))
        self._update_info()
        self._sync_sliders()

    def range_mode(self) -> str:
        """"prior" or "fitted"."""
        return self.range_combo.currentData() or "prior"

    def ranges(self) -> np.ndarray:
        """``(d, 2)`` slider ranges."""
        return self._ranges.copy()

    def code(self) -> np.ndarray:
        """The current latent code, ``(d,)`` float32 copy."""
        return self._z.copy()

    def order(self) -> list[int]:
        """Latent dimensions in slider order (most active first)."""
        return list(self._rows)

    def set_code(self, z, as_base: bool = True) -> None:
        """Move every slider to ``z`` ((d,)); with ``as_base`` Reset returns to it."""
        z = np.asarray(z, dtype=np.float32).ravel()
        if self.model is None or len(z) != len(self._z):
            return
        self._z = z.copy()
        if as_base:
            self._base = z.copy()
        self._sync_sliders()
        self._emit()

    def set_value(self, dim: int, value: float) -> None:
        """Set one latent dimension (moves its slider)."""
        self._z[int(dim)] = float(value)
        self._sync_sliders([int(dim)])
        self._emit()

    def set_selection_available(self, available: bool) -> None:
        """Enable "From selected point"."""
        self.selected_button.setEnabled(bool(available) and self.model is not None)

    def reset(self) -> None:
        """Back to the starting code."""
        self.set_code(self._base, as_base=False)

    def random_from_prior(self) -> None:
        """A new sample from the prior p(z) (seeded, a new seed per press)."""
        if self.model is None:
            return
        self._seed += 1
        self.set_code(prior_codes(self.model, 1, seed=self._seed)[0], as_base=False)

    def slider(self, dim: int) -> QSlider:
        """The slider of latent dimension ``dim``."""
        return self._sliders[self._rows.index(int(dim))]

    # ------------------------------------------------------------------ internals

    def _set_enabled(self, on: bool) -> None:
        for w in (self.range_combo, self.reset_button, self.random_button, self.traversal_button, self.talk_button):
            w.setEnabled(on)
        if not on:
            self.selected_button.setEnabled(False)

    def _update_info(self) -> None:
        d = len(self._z)
        kind = self.scores.kind if self.scores is not None else "variance"
        how = ("sorted by average KL to the prior (nats)" if kind == "kl"
               else "sorted by the variance of the codes")
        self.info_label.setText(f"{d} latent dimensions, {how}.")

    def _build_rows(self, d: int) -> None:
        while self._grid.count():
            item = self._grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self._sliders, self._values = [], []
        self._rows = [int(k) for k in (self.scores.order if self.scores is not None and d else range(d))]
        for i, dim in enumerate(self._rows):
            name = QLabel(f"z{dim}")
            s = QSlider(Qt.Orientation.Horizontal)
            s.setRange(0, core.SLIDER_STEPS)
            s.setPageStep(core.SLIDER_STEPS // 20)
            s.setMinimumWidth(100)
            s.valueChanged.connect(lambda step, dim=dim: self._on_slider_moved(dim, step))
            value = QLabel("+0.00")
            value.setMinimumWidth(44)
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            score = QLabel(self.scores.text(dim) if self.scores is not None else "")
            score.setStyleSheet("color: #666")
            self._grid.addWidget(name, i, 0)
            self._grid.addWidget(s, i, 1)
            self._grid.addWidget(value, i, 2)
            self._grid.addWidget(score, i, 3)
            self._sliders.append(s)
            self._values.append(value)

    def _sync_sliders(self, dims=None) -> None:
        self._updating = True
        try:
            for i, dim in enumerate(self._rows):
                if dims is not None and dim not in dims:
                    continue
                lo, hi = self._ranges[dim]
                self._sliders[i].setValue(core.value_to_step(self._z[dim], lo, hi))
                self._values[i].setText(_value_text(self._z[dim]))
        finally:
            self._updating = False

    def _emit(self) -> None:
        self.image_view.set_code(self._z)
        self.code_changed.emit(self._z.copy())

    def _on_slider_moved(self, dim: int, step: int) -> None:
        if self._updating:
            return
        lo, hi = self._ranges[dim]
        self._z[dim] = core.step_to_value(step, lo, hi)
        self._values[self._rows.index(dim)].setText(_value_text(self._z[dim]))
        self._emit()

    def _on_range_changed(self, _index: int) -> None:
        if self.model is None:
            return
        self._ranges = core.slider_ranges(self.range_mode(), len(self._z), self._codes)
        self._sync_sliders()

    def _on_random_clicked(self) -> None:
        self.random_from_prior()
