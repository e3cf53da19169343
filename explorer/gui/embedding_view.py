"""Scatter view of a 2-D embedding that stays interactive at a million points."""

from __future__ import annotations

import concurrent.futures
import logging
import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from explorer.core.spatial import PointIndex
from explorer.gui.embedding_interaction import PointerInteraction
from explorer.gui.embedding_items import (
    BoundsItem,
    EmbeddingViewBox,
    RasterJob,
    ScatterItem,
    place_colorbar,
    place_legend,
    style_axes,
)
from explorer.gui.view_export import EXPORT_FORMATS, export_view

__all__ = ["EmbeddingView", "export_view", "SELECTION_MODES", "EXPORT_FORMATS"]  # the last two re-exported

log = logging.getLogger(__name__)

#: Selection modes: a click always picks the nearest point; in "rect" and
#: "lasso" a left drag draws the region instead of panning.
SELECTION_MODES = ("click", "rect", "lasso")
#: Milliseconds after new points arrive when their k-d tree is built (after the first paint, before a hover).
INDEX_DELAY_MS = 250

_INK = QtGui.QColor(30, 30, 30)
_SELECT = QtGui.QColor(20, 20, 20)


class EmbeddingView(PointerInteraction, QtWidgets.QWidget):
    """Scatter plot of a 2-D embedding, interactive up to millions of points.

    Few points in view (at most ``glyph_threshold``) are drawn as real markers
    (a pyqtgraph ``ScatterPlotItem``); more are rasterised with numpy
    (:func:`explorer.core.spatial.rasterize`) into an image at screen
    resolution, which is moved and scaled while the user pans and zooms and
    rebuilt in a worker thread once the view has settled. Both paths draw the
    same discs with the same colour, size and opacity, so the switch is not
    visible. Hover and picking use a k-d tree (:class:`PointIndex`).

    The view holds no application state beyond what it draws: the caller passes
    coordinates and colours in and listens to the signals.

    Parameters
    ----------
    parent : QWidget, optional
    glyph_threshold : int
        Largest number of points in view drawn as glyphs (default 30 000).
    settle_ms : int
        Quiet time after the last pan/zoom/resize before the raster is rebuilt.
    threaded : bool
        Rebuild rasters in a worker thread (default) or on the GUI thread.

    Signals
    -------
    hovered(int)
        Index of the point under the cursor, -1 when there is none. Emitted only
        when it changes; mouse moves are coalesced (at most one lookup per
        ``hover_interval_ms``).
    selection_changed(object)
        Sorted int64 ndarray of the selected point indices (possibly empty).
    """

    hovered = QtCore.Signal(int)
    selection_changed = QtCore.Signal(object)
    _raster_ready = QtCore.Signal(object)

    hover_interval_ms = 16
    _RING_MAX = 300
    _DOT_MAX = 50_000
    #: Extra area rendered around the view, as a fraction of its size per side,
    #: so that small pans show points before the rebuild.
    margin = 0.10

    def __init__(self, parent=None, glyph_threshold=30_000, settle_ms=120, threaded=True):
        super().__init__(parent)
        self._glyph_threshold = int(glyph_threshold)
        self._threaded = bool(threaded)
        self._executor = None
        self._future = None
        self._generation = 0
        self.last_raster_seconds = float("nan")

        self._xy = np.empty((0, 2))
        self._colors = np.empty((0, 4), np.uint8)
        self._draw_colors = self._colors  # alpha multiplied by the opacity
        self._labels = None
        self._index = PointIndex(self._xy)
        self._color_ids = np.empty(0, np.intp)
        self._unique_colors = np.empty((0, 4), np.uint8)
        self._brushes = {}
        self._point_px = 5.0
        self._opacity = 0.8
        self._mode = "empty"  # "glyph", "raster" or "empty": what is on screen
        self._selection = np.empty(0, np.int64)
        self._hover = -1
        self._hover_pos = None
        self._lasso = []

        # --- widgets and items
        self._vb = EmbeddingViewBox(self)
        self._plot_widget = pg.PlotWidget(viewBox=self._vb, background="w")
        self._plot_widget.setAntialiasing(True)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._plot_widget)
        plot = self.plot_item
        plot.setMenuEnabled(False, True)  # keep the ViewBox menu, drop the PlotItem options
        self._plot_widget.scene().contextMenu = []  # our own "Export view…" replaces pyqtgraph's
        self._style_axes()
        self._vb.setAspectLocked(True)

        self._bounds_item = BoundsItem()
        plot.addItem(self._bounds_item)
        self._raster_item = pg.ImageItem(axisOrder="row-major")
        self._raster_item.setZValue(0)
        self._glyph_item = ScatterItem(pxMode=True, symbol="o", pen=None, antialias=True)
        self._glyph_item.setZValue(1)
        self._ring_pen = pg.mkPen(_SELECT, width=1.2)
        self._dot_brush = pg.mkBrush(20, 20, 20, 210)
        self._selected_item = ScatterItem(pxMode=True, symbol="o", brush=None, pen=self._ring_pen)
        self._selected_item.setZValue(2)
        self._shape_item = QtWidgets.QGraphicsPathItem()
        pen = pg.mkPen(_SELECT, width=1.2, style=QtCore.Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self._shape_item.setPen(pen)
        self._shape_item.setBrush(QtGui.QBrush(QtGui.QColor(0, 0, 0, 18)))
        self._shape_item.setZValue(0.5)  # under the points: its fill does not wash them out
        self._path_item = pg.PlotCurveItem(pen=pg.mkPen(_INK, width=2), antialias=True)
        self._path_item.setZValue(4)
        self._path_ends = ScatterItem(pxMode=True, symbol="o", size=8,
                                       brush=pg.mkBrush("w"), pen=pg.mkPen(_INK, width=1.5))
        self._path_ends.setZValue(5)
        self._marker_item = ScatterItem(pxMode=True, symbol="star", size=18,
                                         brush=pg.mkBrush(255, 255, 255), pen=pg.mkPen(_INK, width=1.5))
        self._marker_item.setZValue(6)
        self._marker_label = pg.TextItem("", color=_INK, anchor=(-0.1, 1.1),
                                         fill=pg.mkBrush(255, 255, 255, 200))
        self._marker_label.setZValue(6)
        self._hover_item = ScatterItem(pxMode=True, symbol="o", brush=None,
                                        pen=pg.mkPen(_INK, width=1.5))
        self._hover_item.setZValue(7)
        self._glyph_item.setOpacity(self._opacity)  # the default marker, as `set_marker` would set it
        self._glyph_item.setSize(self._point_px)
        self._hover_item.setSize(self._point_px + 6)
        for item in (self._raster_item, self._glyph_item, self._selected_item, self._shape_item,
                     self._path_item, self._path_ends, self._marker_item, self._marker_label,
                     self._hover_item):
            plot.addItem(item, ignoreBounds=True)
        self._marker_label.hide()
        self._shape_item.hide()

        self._message_item = pg.TextItem("", color=(70, 70, 70), anchor=(0, 0),
                                         fill=pg.mkBrush(255, 255, 255, 215))
        self._message_item.setParentItem(self._vb)  # view pixels: stays put while panning
        self._message_item.setPos(8, 6)
        self._message_item.setZValue(20)
        self._message_item.hide()

        # legend right of the plot (never over the points); in the layout so it
        # is part of every export
        self._legend = pg.LegendItem(labelTextColor=_INK, labelTextSize="9pt", frame=False,
                                     verSpacing=-4)
        # pyqtgraph's legend floats over a view and ignores transformations; ours sits in the
        # layout, where that only kept it at screen size in a PNG exported at scale 2
        self._legend.setFlag(self._legend.GraphicsItemFlag.ItemIgnoresTransformations, False)
        self._legend.hide()
        self._colorbar = None

        # --- context menu
        menu = self._vb.menu
        menu.addSeparator()
        self._export_action = menu.addAction("Export view…")
        self._export_action.triggered.connect(self._on_export_requested)

        # --- timers and signals
        self._settle_timer = QtCore.QTimer(self, singleShot=True, interval=int(settle_ms))
        self._settle_timer.timeout.connect(self._rebuild)  # the view has settled: draw it
        self._hover_timer = QtCore.QTimer(self, singleShot=True, interval=self.hover_interval_ms)
        self._hover_timer.timeout.connect(self._on_hover_timeout)
        self._vb.sigRangeChanged.connect(self._on_range_changed)
        self._vb.sigResized.connect(self._on_range_changed)
        self._plot_widget.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self._plot_widget.viewport().installEventFilter(self)  # mouse leaving: no hover
        self._raster_ready.connect(self._on_raster_ready)

    # ------------------------------------------------------------------ properties

    @property
    def plot_item(self):
        """pyqtgraph.PlotItem: the plot (axes, view box, legend and colour bar)."""
        return self._plot_widget.getPlotItem()

    @property
    def plot_widget(self):
        """pyqtgraph.PlotWidget: the graphics view holding :attr:`plot_item`."""
        return self._plot_widget

    @property
    def view_box(self):
        """pyqtgraph.ViewBox: the data area."""
        return self._vb

    @property
    def glyph_threshold(self):
        """int: most points in view that are drawn as glyphs; more are rasterised."""
        return self._glyph_threshold

    @glyph_threshold.setter
    def glyph_threshold(self, value):
        self._glyph_threshold = int(value)
        self._on_range_changed()  # redraw once settled

    @property
    def render_mode(self):
        """str: what is on screen: "glyph", "raster" or "empty"."""
        return self._mode

    @property
    def point_count(self):
        """int: number of points set."""
        return len(self._xy)

    @property
    def selection(self):
        """ndarray, shape (k,), int64: indices of the selected points (a copy)."""
        return self._selection.copy()

    @property
    def selection_mode(self):
        """str: one of :data:`SELECTION_MODES`."""
        return self._vb.select_mode

    # ------------------------------------------------------------------ public API

    def set_points(self, xy, colors, labels=None, legend=None, colorbar=None):
        """Show a new embedding (clears hover and selection, fits the view).

        Parameters
        ----------
        xy : array_like, shape (N, 2), float
            Embedding coordinates (data units). NaN rows are not drawn.
        colors : array_like, shape (N, 4) or (4,), uint8
            Straight RGBA per point (see :mod:`explorer.gui.colors`).
        labels : sequence of str, shape (N,), optional
            Text shown next to the hovered point.
        legend : list of (str, rgba), optional
            Categorical legend entries, drawn right of the plot.
        colorbar : tuple (cmap, vmin, vmax, title), optional
            Colour bar for a continuous colouring, drawn right of the plot.

        Raises
        ------
        ValueError
            If the shapes or dtype do not match.
        """
        xy = np.array(xy, dtype=np.float64, copy=True).reshape(-1, 2) if np.size(xy) else np.empty((0, 2))
        colors = np.asarray(colors)
        if colors.dtype != np.uint8:
            raise ValueError(f"colors must be uint8 RGBA, got dtype {colors.dtype}")
        if colors.shape == (4,):
            colors = np.tile(colors, (len(xy), 1))
        if colors.shape != (len(xy), 4):
            raise ValueError(f"colors must have shape ({len(xy)}, 4), got {colors.shape}")
        if labels is not None and len(labels) != len(xy):
            raise ValueError(f"labels must have {len(xy)} entries, got {len(labels)}")
        self._xy = xy
        self._xy.setflags(write=False)
        self._colors = np.ascontiguousarray(colors)
        self._labels = labels
        self._index = index = PointIndex(xy)
        # the k-d tree (and scipy) after the first paint, before the first hover: the paint scans with numpy
        QtCore.QTimer.singleShot(INDEX_DELAY_MS, lambda: index.prepare() if index is self._index else None)
        packed = self._colors.view(np.uint32)[:, 0]
        uniq, inverse = np.unique(packed, return_inverse=True)
        self._unique_colors = uniq.view(np.uint8).reshape(-1, 4)
        self._color_ids = inverse.ravel()
        self._brushes = {}
        self._update_draw_colors()
        self._selection = np.empty(0, np.int64)
        self._selected_item.setData([], [])
        self._shape_item.hide()
        self._set_hover(-1)
        self._set_legend(legend)
        self._set_colorbar(colorbar)
        self.plot_item.layout.activate()  # legend/colour bar resize the data area now, not later
        finite = np.isfinite(xy).all(axis=1)
        if finite.any():
            lo, hi = xy[finite].min(axis=0), xy[finite].max(axis=0)
            self._bounds_item.set_bounds(((lo[0], hi[0]), (lo[1], hi[1])))
            self._vb.autoRange(padding=0.04)
        else:
            self._bounds_item.set_bounds(None)
        self._rebuild()

    def set_marker(self, size_px, opacity):
        """Marker diameter in screen pixels and opacity in [0, 1] for all points (default 5, 0.8).

        The opacity multiplies each colour's alpha; overlapping markers build up
        as they do when drawn one by one.
        """
        size_px, opacity = float(size_px), float(opacity)
        if not size_px > 0 or not 0.0 <= opacity <= 1.0:
            raise ValueError(f"need size_px > 0 and 0 <= opacity <= 1, got {size_px}, {opacity}")
        if (size_px, opacity) == (self._point_px, self._opacity):
            return  # nothing to redraw (the presenter sets the marker after every new set of points)
        self._point_px, self._opacity = size_px, opacity
        self._glyph_item.setOpacity(opacity)
        self._glyph_item.setSize(size_px)
        self._hover_item.setSize(size_px + 6)
        self._apply_selection(self._selection)  # marks sized to the new markers
        self._update_draw_colors()
        self._on_range_changed()  # glyphs change now; the raster once a slider settles

    def set_overlay_path(self, xy):
        """Draw a polyline over the points (e.g. an interpolation path); None clears it.

        Parameters
        ----------
        xy : array_like, shape (M, 2), float, or None
        """
        if xy is None or len(xy) == 0:
            self._path_item.setData([], [])
            self._path_ends.setData([], [])
            return
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        self._path_item.setData(xy[:, 0], xy[:, 1])
        ends = xy[[0, -1]] if len(xy) > 1 else xy
        self._path_ends.setData(ends[:, 0], ends[:, 1])

    def set_marker_point(self, xy, label=""):
        """Mark one position (e.g. the current latent code) with a star and a label.

        Parameters
        ----------
        xy : (float, float) or None
            Position in data units; None hides the marker.
        label : str
        """
        if xy is None:
            self._marker_item.setData([], [])
            self._marker_label.hide()
            return
        x, y = map(float, xy)
        self._marker_item.setData([x], [y])
        self._marker_label.setText(str(label))
        self._marker_label.setPos(x, y)
        self._marker_label.setVisible(bool(label))

    def set_message(self, text):
        """Show a note in the top-left corner of the plot (empty text hides it)."""
        self._message_item.setText(str(text or ""))
        self._message_item.setVisible(bool(text))

    def set_axis_labels(self, x_label, y_label):
        """Axis titles, e.g. ``("UMAP 1", "UMAP 2")``."""
        self.plot_item.setLabel("bottom", x_label)
        self.plot_item.setLabel("left", y_label)

    def set_selection_mode(self, mode):
        """Choose what a left drag does: "click" (pan), "rect" or "lasso" (select)."""
        if mode not in SELECTION_MODES:
            raise ValueError(f"selection mode must be one of {SELECTION_MODES}, got {mode!r}")
        self._vb.select_mode = mode

    def set_selection(self, indices):
        """Select points by index (emits :attr:`selection_changed` if it changes).

        Parameters
        ----------
        indices : array_like of int
        """
        idx = np.unique(np.asarray(indices, dtype=np.int64).ravel())
        if len(idx) and (idx[0] < 0 or idx[-1] >= len(self._xy)):
            raise ValueError("selection indices out of range")
        self._apply_selection(idx)

    def clear_selection(self):
        """Select nothing."""
        self._shape_item.hide()
        self._apply_selection(np.empty(0, np.int64))

    def hover_at(self, scene_pos):
        """Look up the point under a scene position now (what a mouse move does).

        Parameters
        ----------
        scene_pos : QPointF
            Position in scene coordinates.

        Returns
        -------
        int
            Index of the hovered point or -1; :attr:`hovered` is emitted if it changed.
        """
        self._hover_pos = None
        self._set_hover(self._pick(scene_pos))
        return self._hover

    def show_linked_hover(self, index):
        """Ring point ``index`` (-1: none) as hovered elsewhere, without emitting :attr:`hovered`."""
        index = int(index)
        if index < 0 or index >= len(self._xy):
            self._hover_item.setData([], [])
        else:
            self._hover_item.setData([self._xy[index, 0]], [self._xy[index, 1]])
        self._hover = index if 0 <= index < len(self._xy) else -1

    def flush(self, timeout=10.0):
        """Bring the drawing up to date now: rebuild if a rebuild is pending and wait for it."""
        if self._settle_timer.isActive():
            self._settle_timer.stop()
            self._rebuild()
        fut = self._future
        if fut is not None:
            job = fut.result(timeout=timeout)
            self._on_raster_ready(job)

    # ------------------------------------------------------------------ drawing

    def _style_axes(self):
        style_axes(self.plot_item, _INK)

    def _set_legend(self, legend):
        place_legend(self.plot_item, self._legend, legend, self._point_px)

    def _set_colorbar(self, colorbar):
        self._colorbar = place_colorbar(self.plot_item, self._colorbar, colorbar)

    def _update_draw_colors(self):
        if self._opacity >= 1.0:
            self._draw_colors = self._colors
        else:
            c = self._colors.copy()
            c[:, 3] = np.rint(c[:, 3] * self._opacity).astype(np.uint8)
            self._draw_colors = c

    def _brushes_for(self, ids):
        """Object array of QBrush, one per colour id (cached per unique colour)."""
        uniq = np.unique(ids)
        table = np.empty(len(self._unique_colors), dtype=object)
        for u in uniq:
            b = self._brushes.get(u)
            if b is None:
                r, g, bl, a = (int(v) for v in self._unique_colors[u])
                b = self._brushes[u] = QtGui.QBrush(QtGui.QColor(r, g, bl, a))
            table[u] = b
        return table[ids]

    def _render_geometry(self):
        """Pixel-aligned area to draw, with a margin: (data rect, width px, height px, dpr) or None."""
        vb = self._vb
        sr = vb.sceneBoundingRect()
        if sr.width() < 2 or sr.height() < 2:
            return None
        dpr = self._plot_widget.devicePixelRatioF() or 1.0
        mx, my = math.ceil(sr.width() * self.margin), math.ceil(sr.height() * self.margin)
        left, right = math.floor(sr.left()) - mx, math.ceil(sr.right()) + mx
        top, bottom = math.floor(sr.top()) - my, math.ceil(sr.bottom()) + my
        p0 = vb.mapSceneToView(QtCore.QPointF(left, bottom))
        p1 = vb.mapSceneToView(QtCore.QPointF(right, top))
        rect = (p0.x(), p0.y(), p1.x(), p1.y())
        if not (rect[2] > rect[0] and rect[3] > rect[1]):
            return None
        return rect, int(round((right - left) * dpr)), int(round((bottom - top) * dpr)), dpr

    def _rebuild(self):
        """Choose glyphs or raster for the current view and (re)draw."""
        self._settle_timer.stop()
        self._generation += 1
        if len(self._xy) == 0:
            self._future = None
            self._glyph_item.setData([], [])
            self._raster_item.clear()
            self._mode = "empty"
            return
        geometry = self._render_geometry()
        if geometry is None:
            return
        vr = self._vb.viewRect()
        n_view = self._index.estimate_in_rect(vr.left(), vr.top(), vr.right(), vr.bottom())
        if self.glyph_threshold < n_view <= 2 * self.glyph_threshold:  # bound is <= 2x exact
            n_view = len(self._index.in_rect(vr.left(), vr.top(), vr.right(), vr.bottom()))
        if n_view <= self.glyph_threshold:
            self._show_glyphs(geometry[0])
        else:
            self._start_raster(*geometry)

    def _show_glyphs(self, rect):
        self._future = None
        sub = self._index.in_rect(*rect)
        xy = self._xy[sub]
        self._glyph_item.setData(x=xy[:, 0], y=xy[:, 1], brush=self._brushes_for(self._color_ids[sub]),
                                 size=self._point_px, symbol="o", pen=None)
        self._glyph_item.show()
        self._raster_item.hide()
        self._mode = "glyph"

    def _start_raster(self, rect, width, height, dpr):
        job = RasterJob(self._generation, self._xy, self._draw_colors, rect, width, height,
                         self._point_px * dpr)
        if not self._threaded:
            self._future = None
            self._on_raster_ready(job.run())
            return
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="embedding-raster")
        if self._future is not None:
            self._future.cancel()  # a queued, stale job is dropped; a running one is ignored
        fut = self._executor.submit(job.run)
        self._future = fut
        fut.add_done_callback(self._emit_ready)

    def _emit_ready(self, fut):
        # worker thread: hand the finished job to the GUI thread (queued connection)
        if fut.cancelled():
            return
        if fut.exception() is not None:
            log.error("embedding raster rebuild failed", exc_info=fut.exception())
            return
        try:
            self._raster_ready.emit(fut.result())
        except RuntimeError:  # the view was deleted meanwhile
            pass

    def _on_raster_ready(self, job):
        if job.generation != self._generation or job.image is None:
            return  # stale: the view moved on since this job started
        self._future = None
        self.last_raster_seconds = job.seconds
        x0, y0, x1, y1 = job.rect
        image, job.image = job.image, None  # applied once (flush() and the signal may both deliver it)
        self._raster_item.setImage(image, autoLevels=False, levels=None)
        self._raster_item.setRect(QtCore.QRectF(x0, y0, x1 - x0, y1 - y0))
        self._raster_item.show()
        self._glyph_item.hide()
        self._glyph_item.setData([], [])
        self._mode = "raster"

    # ------------------------------------------------------------------ events

    def _on_range_changed(self, *args):
        if len(self._xy):
            self._settle_timer.start()

    #: Called instead of the view's own dialog by right-click ▸ Export view (the window's File ▸ Export).
    export_requested_handler = None

    def _on_export_requested(self):
        if self.export_requested_handler is not None:
            self.export_requested_handler()
            return
        from explorer.gui.dialogs import ask_save_path

        path = ask_save_path(self, "Export view", "embedding.png",
                             "PNG image (*.png);;SVG vector (*.svg);;PDF document (*.pdf)")
        if path:
            try:
                export_view(self, path)
            except (OSError, ValueError) as exc:
                QtWidgets.QMessageBox.warning(self, "Export view", str(exc))

    def eventFilter(self, watched, event):  # noqa: N802 - Qt override
        if event.type() == QtCore.QEvent.Type.Leave and watched is self._plot_widget.viewport():
            self._hover_pos = None
            self._set_hover(-1)
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event):  # noqa: N802 - Qt override
        if event.key() == QtCore.Qt.Key.Key_Escape and len(self._selection):
            self.clear_selection()
            event.accept()
        else:
            super().keyPressEvent(event)

    def closeEvent(self, event):  # noqa: N802 - Qt override
        self._shutdown()
        super().closeEvent(event)

    def _shutdown(self):
        self._generation += 1
        self._settle_timer.stop()
        self._hover_timer.stop()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        self._future = None
