"""Widgets of the clustering panel: a score table that copies as TSV, and the k-sweep plot."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QMenu, QTableWidget, QWidget

__all__ = ["FULL_NAME_ROLE", "ScoreTable", "SweepPlot"]

#: Item data role holding a column's full name (the header shows a short one).
FULL_NAME_ROLE = int(Qt.ItemDataRole.UserRole) + 1


class SweepPlot(pg.PlotWidget):
    """White pyqtgraph plot with a modest preferred size (a QGraphicsView asks for 640 x 480)."""

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(320, 260)


class ScoreTable(QTableWidget):
    """Read-only table whose selection (or, with none, all of it) Ctrl+C copies as tab-separated text."""

    def __init__(self, rows: int, columns: int, parent: QWidget | None = None) -> None:
        super().__init__(rows, columns, parent)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._on_context_menu_requested)
        self.extra_actions: list = []  # (text, slot) added to the context menu

    def as_tsv(self, selected_only: bool = True) -> str:
        """Visible cells as tab-separated text with a header line: the selection's rows and columns, or all."""
        rows = [r for r in range(self.rowCount()) if not self.isRowHidden(r)]
        cols = [c for c in range(self.columnCount()) if not self.isColumnHidden(c)]
        ranges = self.selectedRanges() if selected_only else []
        if ranges:
            picked = {(r, c) for rg in ranges for r in range(rg.topRow(), rg.bottomRow() + 1)
                      for c in range(rg.leftColumn(), rg.rightColumn() + 1)}
            rows = [r for r in rows if any((r, c) in picked for c in cols)]
            cols = [c for c in cols if any((r, c) in picked for r in rows)]
        header = [self.horizontalHeaderItem(c).data(FULL_NAME_ROLE) or self.horizontalHeaderItem(c).text()
                  for c in cols]
        lines = ["\t".join(header)]
        for r in rows:
            lines.append("\t".join(self.item(r, c).text() if self.item(r, c) else "" for c in cols))
        return "\n".join(lines) + "\n"

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt override
        if event.matches(QKeySequence.StandardKey.Copy):
            QGuiApplication.clipboard().setText(self.as_tsv())
            event.accept()
            return
        super().keyPressEvent(event)

    @Slot("QPoint")
    def _on_context_menu_requested(self, pos) -> None:
        menu = QMenu(self)
        copy = menu.addAction("Copy")
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.setEnabled(bool(self.selectedRanges()))
        copy.triggered.connect(lambda: QGuiApplication.clipboard().setText(self.as_tsv()))
        menu.addAction("Copy table").triggered.connect(
            lambda: QGuiApplication.clipboard().setText(self.as_tsv(selected_only=False)))
        for text, slot in self.extra_actions:
            menu.addAction(text).triggered.connect(slot)
        menu.exec(self.viewport().mapToGlobal(pos))

    def fit_height(self, max_rows: int | None = None) -> None:
        """Fix the height to show all visible rows (or at most ``max_rows``) without a scroll bar."""
        rows = [r for r in range(self.rowCount()) if not self.isRowHidden(r)]
        if max_rows is not None:
            rows = rows[:max_rows]
        header = self.horizontalHeader()
        height = 0 if header.isHidden() else header.sizeHint().height()
        height += sum(self.rowHeight(r) for r in rows)
        self.setFixedHeight(height + 2 * self.frameWidth())
