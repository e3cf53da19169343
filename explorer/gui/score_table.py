"""Widgets of the clustering panel: a score table that copies as TSV, and the k-sweep plot."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QColor, QFont, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QMenu, QTableWidget, QWidget

__all__ = ["FULL_NAME_ROLE", "ScoreTable", "SweepPlot"]

#: Item data role holding a column's full name (the header shows a short one).
FULL_NAME_ROLE = int(Qt.ItemDataRole.UserRole) + 1


class SweepPlot(pg.PlotWidget):
    """The plot of a k sweep's scores against k (its axes styled by :meth:`style_sweep`)."""

    def style_sweep(self, k_line, curve_style: dict, ink) -> dict:
        """Axes, labels, the k marker line and one curve per score (``key -> (rgba, pen style, symbol)``).

        Returns ``{key: PlotDataItem}``.
        """
        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(False, False)
        plot.hideButtons()
        font = QFont()
        font.setPointSizeF(8.5)
        for name in ("left", "bottom"):
            axis = plot.getAxis(name)
            axis.setPen(pg.mkPen(ink, width=1))
            axis.setTextPen(pg.mkPen(ink))
            axis.setTickFont(font)
            axis.setStyle(tickLength=-4)
        plot.setLabel("bottom", "k (clusters)", color="#1e1e1e")
        plot.setLabel("left", "score", color="#1e1e1e")
        plot.showGrid(x=False, y=True, alpha=0.15)
        plot.addItem(k_line, ignoreBounds=True)
        k_line.hide()
        curves = {}
        for key, (rgba, style, symbol) in curve_style.items():
            color = QColor(*(int(v) for v in rgba))
            curve = pg.PlotDataItem(pen=pg.mkPen(color, width=1.6, style=style), symbol=symbol, symbolSize=6,
                                    symbolPen=pg.mkPen(color), symbolBrush=pg.mkBrush(color), antialias=True)
            curve.setZValue(2 if key == "nmi" else 1)
            plot.addItem(curve)
            curves[key] = curve
        plot.layout.setContentsMargins(2, 4, 8, 2)
        self.setToolTip("Click to set k")
        return curves

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
