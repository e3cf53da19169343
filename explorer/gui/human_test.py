"""The human real-vs-fake test window (HYPE∞-style): one image at a time, full screen, answered with the keyboard."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from explorer.gui.images import to_pixmap

__all__ = ["HumanTestWindow", "HELP", "result_text"]

HELP = "← or R: real · → or F: fake · Esc: stop"
REAL_KEYS = (Qt.Key.Key_Left, Qt.Key.Key_R)
FAKE_KEYS = (Qt.Key.Key_Right, Qt.Key.Key_F)


def result_text(result: dict) -> str:
    """The end screen's sentences for `HumanTest.result` (error rate in %, its Wilson 95 % interval, the counts)."""
    n = result["n_answered"]
    if not n:
        return "No answers were given; nothing is kept."
    lo, hi = result["ci95"]
    return (f"Human error rate {100 * result['error_rate']:.1f} % "
            f"(Wilson 95 % interval {100 * lo:.1f}–{100 * hi:.1f} %), N = {n} answers of {result['n_trials']} trials\n"
            f"{result['fake_called_real']} of {result['n_fake_answered']} generated images called real · "
            f"{result['real_called_fake']} of {result['n_real_answered']} real images called fake\n"
            "50 % means people cannot tell real from generated.")


class _ImageLabel(QLabel):
    """Shows one (C, H, W) image as large as fits, nearest-neighbour upscaled by a whole factor."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image = None
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setMinimumSize(56, 56)

    def set_image(self, image) -> None:
        self._image = image
        self._redraw()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._redraw()

    def _redraw(self) -> None:
        if self._image is None:
            self.clear()
            return
        side = max(28, min(self.width(), self.height()) - 8)
        self.setPixmap(to_pixmap(self._image, side, smooth=False))


class HumanTestWindow(QWidget):
    """Full-screen real/fake test over a `explorer.core.session.sample_quality.HumanTrials` (talk-mode styling).

    ← or R answers "real", → or F "fake"; Esc stops early (the answered trials count). At the
    end it shows the human error rate with its Wilson 95 % interval and the counts; Esc or
    Enter then closes it.

    Signals
    -------
    finished(object)
        Once, with the `HumanTrials`, when the last trial is answered or the user stopped.
    """

    finished = Signal(object)

    def __init__(self, trials, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.trials = trials
        self.done = False
        self.setWindowTitle(f"Latent Explorer — human real/fake test of {trials.test.model}")
        self.setStyleSheet("background: black; color: white;")
        self.image_view = _ImageLabel(self)
        big, small = QFont(), QFont()
        big.setPointSize(28)
        small.setPointSize(14)
        self.caption = QLabel(self)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setFont(big)
        self.caption.setWordWrap(True)
        self.progress = QLabel(self)
        self.progress.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.progress.setFont(small)
        self.progress.setStyleSheet("color: #ccc")
        self.help = QLabel(HELP, self)
        self.help.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.help.setFont(small)
        self.help.setStyleSheet("color: #999")
        lay = QVBoxLayout(self)
        lay.addWidget(self.image_view, 1)
        lay.addWidget(self.caption)
        lay.addWidget(self.progress)
        lay.addWidget(self.help)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._show_current()

    def start(self, full_screen: bool = True) -> None:
        """Show (full screen by default) and take the keyboard."""
        if full_screen:
            self.showFullScreen()
        else:
            self.show()
        self.activateWindow()
        self.setFocus()

    # ------------------------------------------------------------------ keys

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt override
        key = event.key()
        if self.done:
            if key in (Qt.Key.Key_Escape, Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
                self.close()
            return
        if key in REAL_KEYS or key in FAKE_KEYS:
            self.trials.answer(key in REAL_KEYS)
            self._show_current()
        elif key == Qt.Key.Key_Escape:
            self._finish()
        else:
            super().keyPressEvent(event)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        if not self.done:
            self._finish()  # closed by the window manager: what was answered still counts
        super().closeEvent(event)

    # ------------------------------------------------------------------ internals

    def _show_current(self) -> None:
        t = self.trials.current
        if t is None:
            self._finish()
            return
        self.image_view.set_image(self.trials.image(t))
        self.caption.setText("Real or fake?")
        self.progress.setText(f"Image {t + 1} of {len(self.trials)} · half are real images "
                              f"({self.trials.dataset or 'the dataset'}), half samples of {self.trials.test.model}")

    def _finish(self) -> None:
        if self.done:
            return
        self.done = True
        result = self.trials.test.result()
        self.image_view.set_image(None)
        self.caption.setText(result_text(result))
        self.progress.setText("Kept in the session (Sample quality panel, family “human”)." if result["n_answered"]
                              else "")
        self.help.setText("Esc or Enter: close")
        self.finished.emit(self.trials)
