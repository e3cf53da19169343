"""Talk mode: the slider image or the interpolation movie full screen, large type, keyboard control."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from explorer.gui.slider_panel import DecodedImageView

HELP = "←/→ value · ↑/↓ dimension · space play · R random · M movie/sliders · Esc leave"
STEP_FRACTION = 0.05  # arrow step: 5 % of the slider's range
CYCLE_FRAMES = 40  # an animated dimension sweeps its range in 40 ticks each way


class TalkModeView(QWidget):
    """Full-screen view over a :class:`SliderPanel` and an :class:`InterpolationPanel`.

    Two modes: "sliders" (the slider code; arrows change the value of one dimension or
    pick another; space animates that dimension across its range) and "movie" (the
    interpolation path; arrows step frames, space plays and pauses). It edits the panels
    themselves, so the embedding marker follows and nothing is lost on leaving.

    Signals
    -------
    mode_changed(str)
        "sliders" or "movie".
    """

    mode_changed = Signal(str)

    def __init__(self, slider_panel, interpolation_panel, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("Latent Explorer — talk mode")
        self.sliders = slider_panel
        self.interp = interpolation_panel
        self.mode = "sliders"
        self.row = 0  # index into the slider order (most active first)
        self._phase = 0
        self.setStyleSheet("background: black; color: white;")
        self.image_view = DecodedImageView(self)
        self.image_view.background = QColor(0, 0, 0)
        self.caption = QLabel()
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        big = QFont()
        big.setPointSize(28)
        self.caption.setFont(big)
        self.help = QLabel(HELP)
        self.help.setAlignment(Qt.AlignmentFlag.AlignCenter)
        small = QFont()
        small.setPointSize(14)
        self.help.setFont(small)
        self.help.setStyleSheet("color: #999")
        lay = QVBoxLayout(self)
        lay.addWidget(self.image_view, 1)
        lay.addWidget(self.caption)
        lay.addWidget(self.help)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._on_tick)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        slider_panel.code_changed.connect(self._on_code_changed)
        interpolation_panel.frame_changed.connect(self._on_frame_changed)
        interpolation_panel.play_button.toggled.connect(lambda _on: self._update_caption())

    # ------------------------------------------------------------------ public API

    def start(self, full_screen: bool = True) -> None:
        """Show (full screen by default) in movie mode if a path is built, else sliders."""
        self.image_view.set_model(self.sliders.model)
        self.set_mode("movie" if self.interp.path is not None else "sliders")
        if full_screen:
            self.showFullScreen()
        else:
            self.show()
        self.activateWindow()
        self.setFocus()

    def set_mode(self, mode: str) -> None:
        """"sliders" or "movie" (movie only when a path is built)."""
        if mode == "movie" and self.interp.path is None:
            mode = "sliders"
        self.timer.stop()
        self.mode = mode
        if mode == "movie":
            self.image_view.set_code(self.interp.path[max(self.interp.frame, 0)])
        else:
            self.image_view.set_code(self.sliders.code())
        self._update_caption()
        self.mode_changed.emit(mode)

    def dim(self) -> int | None:
        """The latent dimension the arrows change (sliders mode)."""
        order = self.sliders.order()
        return order[self.row % len(order)] if order else None

    # ------------------------------------------------------------------ keys

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt override
        key = event.key()
        if key == Qt.Key.Key_Escape:
            self.leave()
        elif key == Qt.Key.Key_Space:
            self._toggle_play()
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            sign = 1 if key == Qt.Key.Key_Right else -1
            if self.mode == "movie":
                self.interp.step(sign)
            else:
                self._nudge(sign)
        elif key in (Qt.Key.Key_Up, Qt.Key.Key_Down) and self.mode == "sliders":
            self.timer.stop()
            self.row += -1 if key == Qt.Key.Key_Up else 1
            self.row %= max(len(self.sliders.order()), 1)
            self._update_caption()
        elif key == Qt.Key.Key_R:
            if self.mode == "movie":
                self.set_mode("sliders")
            self.sliders.random_from_prior()
        elif key == Qt.Key.Key_M:
            self.set_mode("sliders" if self.mode == "movie" else "movie")
        else:
            super().keyPressEvent(event)

    def leave(self) -> None:
        """Stop playing and close."""
        self.timer.stop()
        if self.interp.play_button.isChecked():
            self.interp.play_button.setChecked(False)
        self.close()

    # ------------------------------------------------------------------ internals

    def _nudge(self, sign: int) -> None:
        dim = self.dim()
        if dim is None:
            return
        lo, hi = self.sliders.ranges()[dim]
        z = self.sliders.code()
        self.sliders.set_value(dim, float(np.clip(z[dim] + sign * STEP_FRACTION * (hi - lo), lo, hi)))

    def _toggle_play(self) -> None:
        if self.mode == "movie":
            self.interp.toggle_play()
        elif self.timer.isActive():
            self.timer.stop()
        else:
            self._phase = 0
            self.timer.start(40)
        self._update_caption()

    def _on_tick(self) -> None:
        dim = self.dim()
        if dim is None:
            self.timer.stop()
            return
        lo, hi = self.sliders.ranges()[dim]
        self._phase = (self._phase + 1) % (2 * CYCLE_FRAMES)
        s = self._phase / CYCLE_FRAMES
        u = s if s <= 1 else 2 - s  # triangle wave 0 → 1 → 0
        self.sliders.set_value(dim, lo + (hi - lo) * u)

    def _on_code_changed(self, z) -> None:
        if self.mode == "sliders" and self.isVisible():
            self.image_view.set_code(z)
            self._update_caption()

    def _on_frame_changed(self, i: int) -> None:
        if self.mode == "movie" and self.isVisible() and self.interp.path is not None:
            self.image_view.set_code(self.interp.path[i])
            self._update_caption()

    def _update_caption(self) -> None:
        if self.mode == "movie" and self.interp.path is not None:
            state = "playing" if self.interp.play_button.isChecked() else "paused"
            self.caption.setText(f"{self.interp.method()} · frame {self.interp.frame + 1} / "
                                 f"{len(self.interp.path)} · {state}")
            return
        dim = self.dim()
        if dim is None:
            self.caption.setText("no model")
            return
        z = self.sliders.code()
        score = self.sliders.scores.text(dim) if self.sliders.scores is not None else ""
        if score and self.sliders.scores.kind == "kl":
            score = "KL " + score
        self.caption.setText(f"z{dim} = {z[dim]:+.2f}" + (f"   ({score})" if score else ""))

