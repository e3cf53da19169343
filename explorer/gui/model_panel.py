"""Left dock: the open models (one active) and the line describing the open dataset."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

__all__ = ["ModelPanel"]


def _heading(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


class ModelPanel(QWidget):
    """The model list (click a row to make that model active) and the dataset line.

    The panel shows what it is given and reports clicks; opening, closing and
    encoding are the window's business.

    Parameters
    ----------
    parent : QWidget, optional

    Signals
    -------
    active_model_changed(int)
        The user picked the model at this row.
    open_model_requested()
        "Open model…" was clicked.
    close_model_requested(int)
        "Close" was clicked with this row selected.
    open_dataset_requested()
        "Open dataset…" was clicked.
    """

    active_model_changed = Signal(int)
    open_model_requested = Signal()
    close_model_requested = Signal(int)
    open_dataset_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._updating = False

        self.model_list = QListWidget(self)
        self.model_list.setAlternatingRowColors(True)
        self.model_list.setUniformItemSizes(False)
        self.model_list.setWordWrap(True)
        self.model_list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.model_list.setAccessibleName("Open models")
        self.model_list.currentRowChanged.connect(self._on_current_row_changed)
        self.model_list.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.model_list.setMinimumHeight(60)
        self.model_list.setMaximumHeight(220)

        self.details_label = QLabel(self)
        self.details_label.setWordWrap(True)
        self.details_label.setTextFormat(Qt.TextFormat.PlainText)
        self.details_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_label.setStyleSheet("color: #333;")
        self.details_label.setAccessibleName("Active model")

        self.empty_label = QLabel(self)
        self.empty_label.setWordWrap(True)
        self.empty_label.setTextFormat(Qt.TextFormat.PlainText)
        self.empty_label.setStyleSheet("color: #555;")

        self.open_button = QPushButton("Open model…", self)
        self.open_button.setToolTip("Open a checkpoint (.pt), Python adapter (.py) or TorchScript file")
        self.open_button.clicked.connect(self.open_model_requested)
        self.close_button = QPushButton("Close", self)
        self.close_button.setToolTip("Close the selected model")
        self.close_button.clicked.connect(self._on_close_clicked)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.close_button)
        buttons.addStretch(1)

        self.dataset_label = QLabel("No dataset open", self)
        self.dataset_label.setWordWrap(True)
        self.dataset_label.setTextFormat(Qt.TextFormat.PlainText)
        self.dataset_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.dataset_label.setAccessibleName("Dataset")
        self.notes_label = QLabel(self)
        self.notes_label.setWordWrap(True)
        self.notes_label.setTextFormat(Qt.TextFormat.PlainText)
        self.notes_label.setStyleSheet("color: #555;")
        self.notes_label.hide()
        self.dataset_button = QPushButton("Open dataset…", self)
        self.dataset_button.setToolTip("Open a dataset: IDX folder, .npz / .npy file or a folder of class subfolders")
        self.dataset_button.clicked.connect(self.open_dataset_requested)

        rule = QFrame(self)
        rule.setFrameShape(QFrame.Shape.HLine)
        rule.setFrameShadow(QFrame.Shadow.Sunken)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(_heading("Models", self))
        layout.addWidget(self.model_list)
        layout.addWidget(self.empty_label)
        layout.addLayout(buttons)
        layout.addWidget(self.details_label)
        layout.addWidget(rule)
        layout.addWidget(_heading("Dataset", self))
        layout.addWidget(self.dataset_label)
        layout.addWidget(self.notes_label)
        dataset_buttons = QHBoxLayout()
        dataset_buttons.setContentsMargins(0, 0, 0, 0)
        dataset_buttons.addWidget(self.dataset_button)
        dataset_buttons.addStretch(1)
        layout.addLayout(dataset_buttons)
        layout.addStretch(1)
        self.set_models([], -1)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(260, 420)

    # ------------------------------------------------------------------ public API

    def set_models(self, rows: Sequence[tuple[str, str, str]], active: int) -> None:
        """Show the open models.

        Parameters
        ----------
        rows : sequence of (name, summary, tooltip)
            One per model: file name, one-line summary (kind, d, image shape, encoder)
            and a tooltip (full path, provenance).
        active : int
            Row of the active model, -1 for none.
        """
        self._updating = True
        try:
            self.model_list.clear()
            for name, summary, tooltip in rows:
                item = QListWidgetItem(f"{name}\n{summary}")
                item.setToolTip(tooltip)
                self.model_list.addItem(item)
            self.model_list.setCurrentRow(active if 0 <= active < len(rows) else -1)
        finally:
            self._updating = False
        self.close_button.setEnabled(bool(rows))
        self.model_list.setVisible(bool(rows))
        self.empty_label.setVisible(not rows)

    def set_details(self, text: str) -> None:
        """Lines about the active model (kind, d, parameters, training) under the list; empty hides them."""
        self.details_label.setText(text)
        self.details_label.setVisible(bool(text))

    def details_text(self) -> str:
        """The details shown about the active model."""
        return self.details_label.text()

    def set_empty_text(self, text: str) -> None:
        """Text shown instead of the list when no model is open."""
        self.empty_label.setText(text)

    def set_dataset(self, line: str, notes: Sequence[str] = ()) -> None:
        """Show the dataset line (name, N, image shape, labels/factors) and its notes (resizing...)."""
        self.dataset_label.setText(line)
        text = "\n".join(n for n in notes if n)
        self.notes_label.setText(text)
        self.notes_label.setVisible(bool(text))

    def dataset_text(self) -> str:
        """The dataset line and notes as shown."""
        notes = self.notes_label.text()
        return self.dataset_label.text() + (f"\n{notes}" if notes else "")

    def active_row(self) -> int:
        """Row of the selected (active) model, -1 for none."""
        return self.model_list.currentRow()

    # ------------------------------------------------------------------ slots

    @Slot(int)
    def _on_current_row_changed(self, row: int) -> None:
        if not self._updating and row >= 0:
            self.active_model_changed.emit(row)

    @Slot()
    def _on_close_clicked(self) -> None:
        row = self.model_list.currentRow()
        if row >= 0:
            self.close_model_requested.emit(row)
