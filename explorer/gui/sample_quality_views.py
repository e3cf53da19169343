"""The Sample-quality panel's parts: the metrics table, the precision/recall and density/coverage plots, the grids."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from explorer.gui.images import grid_image, to_pixmap

__all__ = ["MetricsTable", "ScorePlot", "SamplesGrid", "MemorisationGrid", "PlotExport", "format_number"]

#: Colours of the plots' points: the model, the real-vs-real floor, the reconstructions.
COLOURS = {"model": (31, 119, 180), "floor": (127, 127, 127), "reconstructions": (255, 127, 14)}
NAMES = {"model": "model samples", "floor": "real-vs-real floor", "reconstructions": "reconstructions"}


def format_number(v, spread=None) -> str:
    """A table cell: ``"12.34 ± 0.56"``, ``"0.46 [0.37, 0.56]"`` (an interval) or ``"n/a"``."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    fmt = (lambda x: f"{x:.3f}") if abs(v) < 10 else (lambda x: f"{x:.2f}")  # noqa: E731
    text = fmt(v)
    if isinstance(spread, (list, tuple)) and len(spread) == 2:
        text += f" [{fmt(spread[0])}, {fmt(spread[1])}]"
    elif spread is not None:
        text += f" ± {fmt(spread)}"
    return text


class MetricsTable(QTableWidget):
    """metric | value ± spread | real-vs-real floor | reconstructions | extractor | N | real set."""

    HEADERS = ("metric", "model samples", "real-vs-real floor", "reconstructions", "extractor", "N", "real set")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(self.HEADERS), parent)
        self.setHorizontalHeaderLabels(self.HEADERS)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().hide()
        self.setWordWrap(False)  # one line per metric; the full text is in each cell's tooltip
        h = self.horizontalHeader()
        for i in range(len(self.HEADERS)):
            h.setSectionResizeMode(i, QHeaderView.ResizeMode.ResizeToContents)
        h.setSectionResizeMode(len(self.HEADERS) - 1, QHeaderView.ResizeMode.Stretch)
        for i, tip in enumerate(("", "value ± spread of the model's samples", "N real images of the other split "
                                 "vs the real set: what real images score", "decode(encode(x)) vs the originals x",
                                 "", "samples (and floor images)", "the images the samples are compared with")):
            if tip:
                self.horizontalHeaderItem(i).setToolTip(tip)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(620, 220)

    def set_rows(self, rows: list[dict]) -> None:
        """Fill from `explorer.core.session.sample_quality.table_rows`."""
        self.setRowCount(len(rows))
        for i, r in enumerate(rows):
            extractor = r.get("extractor") or ""
            cells = (r["metric"], format_number(r["value"], r["spread"]),
                     format_number(r["floor"], r["floor_spread"]) if r["floor"] is not None else "—",
                     format_number(r["reconstructions"]) if r["reconstructions"] is not None else "—",
                     extractor.split(" (")[0], "" if r["n_samples"] is None else f"{r['n_samples']:,}",
                     r.get("real_set") or "")
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(r["units"] if j < 4 else (extractor if j == 4 else text))
                if j in (1, 2, 3, 5):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(i, j, item)
        self.resizeRowsToContents()

    def cell_text(self, row: int, col: int) -> str:
        item = self.item(row, col)
        return "" if item is None else item.text()


class PlotExport:
    """What `explorer.gui.view_export.export_view` needs of a plain pyqtgraph PlotWidget."""

    render_mode = "vector"

    def __init__(self, plot: pg.PlotWidget) -> None:
        self.plot_item = plot.getPlotItem()

    def flush(self) -> None:
        pass


class ScorePlot(pg.PlotWidget):
    """Precision against recall (or density against coverage) of the model, the floor and the reconstructions."""

    def __init__(self, x_name: str, y_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="w")
        self.x_name, self.y_name = x_name, y_name
        self.setLabel("bottom", x_name)
        self.setLabel("left", y_name)
        self.showGrid(x=True, y=True, alpha=0.25)
        self.setMouseEnabled(False, False)
        self.setMinimumSize(180, 150)
        self.points: dict[str, tuple[float, float]] = {}
        self._legend = self.addLegend(offset=(-5, -5), labelTextSize="8pt")  # bottom right: rarely a point there

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(260, 200)

    def set_points(self, points: dict[str, tuple[float, float] | None], title: str = "") -> None:
        """Draw ``{"model": (x, y), "floor": …, "reconstructions": …}`` (None / NaN: left out)."""
        self.clear()
        self._legend.clear()
        self.points = {}
        y_max = 1.05
        for name, xy in points.items():
            if xy is None or not all(v is not None and math.isfinite(v) for v in xy):
                continue
            x, y = float(xy[0]), float(xy[1])
            self.points[name] = (x, y)
            y_max = max(y_max, y * 1.1)
            self.addItem(pg.ScatterPlotItem([x], [y], size=11, brush=pg.mkBrush(*COLOURS[name]),
                                            pen=pg.mkPen("k", width=0.5), name=NAMES[name]))
            label = pg.TextItem(f"({x:.2f}, {y:.2f})", color=COLOURS[name], anchor=(1.05, 1) if x > 0.6 else (-0.05, 1))
            label.setPos(x, y)
            self.addItem(label)
        self.setXRange(0, 1.05, padding=0)
        self.setYRange(0, y_max, padding=0)
        self.setTitle(title, size="9pt")


class SamplesGrid(QLabel):
    """The first samples as one grid image, nearest-neighbour upscaled by a whole factor."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.images: np.ndarray | None = None

    def set_images(self, images: np.ndarray | None, ncols: int = 16, zoom: int = 2) -> None:
        self.images = images
        if images is None or len(images) == 0:
            self.clear()
            self.setText("No samples yet.")
            return
        grid = grid_image(images, ncols=ncols, pad=1)
        self.setPixmap(to_pixmap(grid.transpose(2, 0, 1), zoom * max(grid.shape[:2]), smooth=False))


class MemorisationGrid(QWidget):
    """Rows of sample | three nearest training images, each with its distance under it."""

    def __init__(self, parent: QWidget | None = None, icon_px: int = 56) -> None:
        super().__init__(parent)
        self.icon_px = icon_px
        self.grid = QGridLayout(self)
        self.grid.setSpacing(4)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.rows = None

    def set_rows(self, rows, unit: str = "") -> None:
        """Show `MemorisationRows` (None: clear)."""
        while self.grid.count():
            w = self.grid.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        self.rows = rows
        if rows is None or rows.neighbours is None:
            return
        for j, title in enumerate(("sample", "nearest", "2nd", "3rd")[:1 + rows.neighbours.shape[1]]):
            head = QLabel(f"<b>{title}</b>")
            head.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.grid.addWidget(head, 0, j)
        for i in range(len(rows.samples)):
            cells = [(rows.samples[i], f"#{int(rows.sample_indices[i])}")]
            cells += [(rows.neighbours[i, j], f"d = {rows.distances[i, j]:.3g}{unit}")
                      for j in range(rows.neighbours.shape[1])]
            for j, (img, caption) in enumerate(cells):
                box = QLabel()
                box.setPixmap(to_pixmap(img, self.icon_px))
                box.setAlignment(Qt.AlignmentFlag.AlignCenter)
                box.setToolTip(caption if j == 0 else f"training image {int(rows.train_indices[i, j - 1])}, "
                               f"distance {rows.distances[i, j - 1]:.4g}")
                text = QLabel(caption)
                text.setAlignment(Qt.AlignmentFlag.AlignCenter)
                text.setStyleSheet("color: #444; font-size: 8pt;")
                self.grid.addWidget(box, 1 + 2 * i, j)
                self.grid.addWidget(text, 2 + 2 * i, j)

    def distance_texts(self) -> list[str]:
        """The captions under the neighbour images, row by row (for tests)."""
        out = []
        for i in range(self.grid.rowCount()):
            for j in range(1, self.grid.columnCount()):
                item = self.grid.itemAtPosition(i, j)
                if item is not None and isinstance(item.widget(), QLabel) and item.widget().text().startswith("d ="):
                    out.append(item.widget().text())
        return out
