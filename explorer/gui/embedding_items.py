"""pyqtgraph items of the embedding view: data bounds, scatter, view box (selection drags), raster job, and
the axes, legend and colour bar of its plot."""

from __future__ import annotations

import time

import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from explorer.core.spatial import rasterize
from explorer.gui.colors import make_colorbar

__all__ = ["BoundsItem", "ScatterItem", "EmbeddingViewBox", "RasterJob", "style_axes", "place_legend", "place_colorbar"]


class BoundsItem(pg.GraphicsObject):
    """Invisible item that tells the ViewBox the data extent (for "View All")."""

    def __init__(self):
        super().__init__()
        self._bounds = None  # ((xmin, xmax), (ymin, ymax)) or None

    def set_bounds(self, bounds):
        self._bounds = bounds
        self.prepareGeometryChange()
        self.informViewBoundsChanged()

    def dataBounds(self, ax, frac=1.0, orthoRange=None):  # noqa: N802, N803 - pyqtgraph override
        return (None, None) if self._bounds is None else self._bounds[ax]

    def boundingRect(self):  # noqa: N802 - Qt override
        return QtCore.QRectF()

    def paint(self, painter, option, widget=None):
        pass


class ScatterItem(pg.ScatterPlotItem):
    """ScatterPlotItem that leaves clicks and hovers to the view box (picking uses the index)."""

    def mouseClickEvent(self, ev):  # noqa: N802 - pyqtgraph override
        ev.ignore()

    def hoverEvent(self, ev):  # noqa: N802 - pyqtgraph override
        pass


class EmbeddingViewBox(pg.ViewBox):
    """ViewBox that hands left clicks and (in rect/lasso mode) left drags to its owner."""

    def __init__(self, owner):
        super().__init__()
        self._owner = owner
        self.select_mode = "click"

    def mouseClickEvent(self, ev):  # noqa: N802 - pyqtgraph override
        if ev.button() == QtCore.Qt.MouseButton.LeftButton:
            ev.accept()
            self._owner._on_click(self.mapToView(ev.pos()), ev.modifiers())
        else:
            super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802 - pyqtgraph override
        if (axis is None and self.select_mode in ("rect", "lasso")
                and ev.button() == QtCore.Qt.MouseButton.LeftButton):
            ev.accept()
            self._owner._on_select_drag(self.mapToView(ev.buttonDownPos()), self.mapToView(ev.pos()),
                                        ev.isStart(), ev.isFinish(), ev.modifiers())
        else:
            super().mouseDragEvent(ev, axis)


class RasterJob:
    """Inputs of one raster rebuild; runs in a worker thread (numpy only)."""

    __slots__ = ("generation", "xy", "colors", "rect", "width", "height", "point_px", "image", "seconds")

    def __init__(self, generation, xy, colors, rect, width, height, point_px):
        self.generation = generation
        self.xy, self.colors = xy, colors
        self.rect, self.width, self.height, self.point_px = rect, width, height, point_px
        self.image = None
        self.seconds = 0.0

    def run(self):
        t0 = time.perf_counter()
        self.image = rasterize(self.xy, self.colors, self.rect, self.width, self.height,
                               self.point_px, origin="lower")
        self.seconds = time.perf_counter() - t0
        return self


def style_axes(plot, ink) -> None:
    """Axes on all four sides of ``plot``, ticks inward, values on the left and bottom only, drawn in ``ink``."""
    font = QtGui.QFont()
    font.setPointSizeF(9.0)
    for name in ("left", "bottom", "top", "right"):
        plot.showAxis(name)
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(ink, width=1))
        axis.setTextPen(pg.mkPen(ink))
        axis.setTickFont(font)
        axis.setStyle(tickLength=-4, maxTextLevel=0)  # label major ticks only
        if name in ("top", "right"):
            axis.setStyle(showValues=False)
    plot.getAxis("left").setWidth(48)
    plot.getAxis("bottom").setHeight(36)
    for name in ("left", "bottom"):
        plot.getAxis(name).label.setFont(QtGui.QFont(font.family(), 10))
    plot.layout.setContentsMargins(4, 6, 10, 4)


def place_legend(plot, legend_item, legend, point_px: float) -> None:
    """Fill ``plot``'s legend column with ``legend`` entries ``(name, rgba)``; None or ``[]`` removes the legend.

    The entries are laid out at once: Qt posts the layout request, and a view exported, or
    switched from a colour bar, before the event loop ran it showed the names stacked in one
    place with the old width until the window was resized.
    """
    layout = plot.layout
    legend_item.clear()
    if not legend:
        if legend_item.parentItem() is not None:
            layout.removeItem(legend_item)
            legend_item.setParentItem(None)
            legend_item.scene().removeItem(legend_item)
        legend_item.hide()
        return
    if legend_item.parentItem() is None:
        layout.addItem(legend_item, 2, 6, alignment=QtCore.Qt.AlignmentFlag.AlignTop)
    size = max(point_px + 3, 8)
    for name, rgba in legend:
        sample = pg.ScatterPlotItem(symbol="o", size=size, pen=None, brush=pg.mkBrush(*rgba))
        legend_item.addItem(sample, str(name))
    legend_item.setColumnCount(1 if len(legend) <= 12 else 2)
    legend_item.layout.setContentsMargins(6, 0, 0, 0)
    for _sample, label in legend_item.items:
        label.updateGeometry()
    legend_item.layout.invalidate()
    legend_item.layout.activate()
    hint = legend_item.layout.preferredSize()
    legend_item.setFixedHeight(hint.height())  # do not stretch over the plot's height
    legend_item.setFixedWidth(hint.width())
    legend_item.show()
    legend_item.layout.activate()


def place_colorbar(plot, old_bar, colorbar):
    """Replace ``plot``'s colour bar ``old_bar`` (or None) by one for ``(cmap, vmin, vmax, title)``, or by none.

    Returns the new colour bar item (laid out at once, ticks and title included), or None.
    """
    layout = plot.layout
    if old_bar is not None:
        layout.removeItem(old_bar)
        old_bar.setParentItem(None)
        if old_bar.scene() is not None:
            old_bar.scene().removeItem(old_bar)
        layout.setColumnFixedWidth(4, 0)
    if colorbar is None:
        return None
    cmap, vmin, vmax, title = colorbar
    bar = make_colorbar(cmap, vmin, vmax, title)
    layout.addItem(bar, 2, 5)
    layout.setColumnFixedWidth(4, 12)
    bar.layout.activate()
    return bar
