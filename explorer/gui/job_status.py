"""Status-bar widget listing running jobs: label, progress, message and a cancel button per job."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QStatusBar,
    QStyle,
    QToolButton,
    QWidget,
)

from explorer.gui.jobs import JobRunner

__all__ = ["JobStatusWidget"]

#: Steps of the progress bars (per-mille, so slow jobs still move visibly).
_STEPS = 1000


class _ElidedLabel(QLabel):
    """A one-line label that elides its text on the right to the width it gets; full text in the tooltip."""

    def __init__(self, parent: QWidget | None = None, max_width: int = 260) -> None:
        super().__init__(parent)
        self._full = ""
        self._max_width = max_width
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setMinimumWidth(40)

    def full_text(self) -> str:
        """The text before elision."""
        return self._full

    def set_full_text(self, text: str) -> None:
        """Show ``text``, elided to the label's width."""
        self._full = " ".join(text.split())  # one line
        self.setToolTip(self._full)
        self.updateGeometry()
        self._refresh()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        hint = super().sizeHint()
        width = self.fontMetrics().horizontalAdvance(self._full) + 4
        return QSize(max(self.minimumWidth(), min(width, self._max_width)), hint.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(self.minimumWidth(), super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._refresh()

    def _refresh(self) -> None:
        elided = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, max(self.width(), 0))
        super().setText(elided)


class _JobRow(QWidget):
    """One running job: label, progress bar with percent, elided message, cancel button."""

    def __init__(self, kind: str, request_id: int, label: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.request_id = request_id
        self.label = QLabel(label, self)
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setRange(0, 0)  # busy until the first progress report
        self.progress_bar.setFormat("%p%")
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setFixedWidth(110)
        self.progress_bar.setMaximumHeight(16)
        self.message_label = _ElidedLabel(self)
        self.cancel_button = QToolButton(self)
        self.cancel_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_DialogCancelButton))
        self.cancel_button.setAutoRaise(True)
        self.cancel_button.setToolTip(f"Cancel {label}")
        self.cancel_button.setAccessibleName(f"Cancel {label}")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.setSpacing(4)
        layout.addWidget(self.label)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.message_label, 1)
        layout.addWidget(self.cancel_button)

    def set_progress(self, fraction: float, message: str) -> None:
        """Show ``fraction`` in [0, 1] as a percentage and ``message`` beside it."""
        if self.progress_bar.maximum() != _STEPS:
            self.progress_bar.setRange(0, _STEPS)
        self.progress_bar.setValue(round(min(max(fraction, 0.0), 1.0) * _STEPS))
        self.message_label.set_full_text(message)


class JobStatusWidget(QWidget):
    """The main window's view of its :class:`~explorer.gui.jobs.JobRunner`, for the status bar.

    One row per running job — its label, a progress bar with the percentage, the
    latest message (elided; full text in the tooltip) and a cancel button whose
    tooltip is ``"Cancel <label>"``. A row disappears when its job finishes,
    fails or is cancelled; the widget hides itself when no job runs. A failed
    job's message is shown for a few seconds in the status bar and re-emitted as
    :attr:`error_reported` — showing a dialog is the window's business.

    Parameters
    ----------
    runner : JobRunner
        The runner whose jobs are shown.
    status_bar : QStatusBar, optional
        Where failure messages go; defaults to the status bar this widget is
        added to (``statusBar().addPermanentWidget(widget)``), if any.
    parent : QWidget, optional
        Qt parent.
    message_timeout_ms : int, default 8000
        How long a failure message stays in the status bar (milliseconds).

    Signals
    -------
    error_reported(label: str, message: str)
        A job failed; ``message`` is one sentence for the user.
    """

    error_reported = Signal(str, str)

    def __init__(
        self,
        runner: JobRunner,
        status_bar: QStatusBar | None = None,
        parent: QWidget | None = None,
        *,
        message_timeout_ms: int = 8000,
    ) -> None:
        super().__init__(parent)
        self._runner = runner
        self._status_bar = status_bar
        self._message_timeout_ms = int(message_timeout_ms)
        self._rows: dict[int, _JobRow] = {}
        self._labels: dict[int, str] = {}
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(8)
        runner.job_started.connect(self._on_job_started)
        runner.job_progress.connect(self._on_job_progress)
        runner.job_finished.connect(self._on_job_finished)
        runner.job_failed.connect(self._on_job_failed)
        runner.job_cancelled.connect(self._on_job_cancelled)
        self.hide()

    def rows(self) -> list[_JobRow]:
        """The rows shown, oldest first (each has ``kind``, ``request_id``, ``label``,
        ``progress_bar``, ``message_label`` and ``cancel_button``)."""
        return list(self._rows.values())

    def row(self, request_id: int) -> _JobRow | None:
        """The row of request ``request_id``, or None once that job has ended."""
        return self._rows.get(request_id)

    # ----------------------------------------------------------------- slots

    @Slot(str, int, str)
    def _on_job_started(self, kind: str, request_id: int, label: str) -> None:
        row = _JobRow(kind, request_id, label, self)
        row.cancel_button.clicked.connect(lambda _checked=False, rid=request_id: self._on_cancel_clicked(rid))
        self._rows[request_id] = row
        self._labels[request_id] = label
        self._layout.addWidget(row)
        self._update_visibility()

    @Slot(str, int, float, str)
    def _on_job_progress(self, kind: str, request_id: int, fraction: float, message: str) -> None:
        row = self._rows.get(request_id)
        if row is not None:
            row.set_progress(fraction, message)

    @Slot(str, int, object)
    def _on_job_finished(self, kind: str, request_id: int, result: object) -> None:
        self._remove_row(request_id)

    @Slot(str, int, str)
    def _on_job_failed(self, kind: str, request_id: int, message: str) -> None:
        label = self._labels.get(request_id, kind)
        self._remove_row(request_id)
        bar = self._status_bar
        if bar is None and isinstance(self.parentWidget(), QStatusBar):
            bar = self.parentWidget()
        if bar is not None:
            bar.showMessage(message, self._message_timeout_ms)
        self.error_reported.emit(label, message)

    @Slot(str, int)
    def _on_job_cancelled(self, kind: str, request_id: int) -> None:
        self._remove_row(request_id)

    def _on_cancel_clicked(self, request_id: int) -> None:
        row = self._rows.get(request_id)
        if row is not None and self._runner.current_request(row.kind) == request_id:
            self._runner.cancel(row.kind)  # emits job_cancelled, which removes the row

    def _remove_row(self, request_id: int) -> None:
        self._labels.pop(request_id, None)
        row = self._rows.pop(request_id, None)
        if row is None:
            return
        self._layout.removeWidget(row)
        row.hide()
        row.deleteLater()
        self._update_visibility()

    def _update_visibility(self) -> None:
        # Shown only while jobs run; never turned into a top-level window by showing it unparented.
        if self.parentWidget() is not None:
            self.setVisible(bool(self._rows))
