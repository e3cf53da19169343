"""Soak test: thousands of synchronous repaints of the embedding view in one process."""

import gc
import sys
import time

from PySide6 import QtCore

from explorer.gui.colors import label_colors

from .conftest import PaintCounter, show_embedding_view
from .synthetic import blobs


def test_thousands_of_repaints_do_not_leak_none(qtbot):
    """3000 pans with a synchronous repaint each, through raster and glyph modes.

    PySide6 6.12.0 on CPython 3.11 drops a reference to None on every void Qt
    call, which ends in "Fatal Python error: none_dealloc"; None's reference
    count must not fall here. (It rises instead, by about 20 per repaint:
    pyqtgraph 0.14.0's AxisItem on PySide6 6.11.3 keeps references to None,
    which is harmless.)
    """
    view = show_embedding_view(qtbot, threaded=False)
    xy, lab = blobs(70_000, seed=7)
    colors, legend = label_colors(lab)
    view.set_points(xy, colors, legend=legend)
    view.flush()
    vb, viewport = view.view_box, view.plot_widget.viewport()
    scene = view.plot_widget.scene()
    painted = PaintCounter()
    viewport.installEventFilter(painted)

    def pans(count, step):
        for k in range(count):
            r = vb.viewRect()
            dx = step * r.width() * (1 if (k // 4) % 2 == 0 else -1)
            vb.setRange(xRange=(r.left() + dx, r.right() + dx), yRange=(r.top(), r.bottom()), padding=0)
            viewport.repaint()
            view.hover_at(vb.mapViewToScene(QtCore.QPointF(*xy[k % len(xy)])))
            if k % 250 == 249:  # let the view settle and redraw now and then
                view.flush()
                view._rebuild()
                view.flush()

    pans(50, 0.02)  # warm up caches before counting
    gc.collect()
    none_before = sys.getrefcount(None)
    t0 = time.perf_counter()
    pans(2500, 0.02)
    assert view.render_mode == "raster"
    x, y = xy[0]
    vb.setRange(xRange=(x - 1.0, x + 1.0), yRange=(y - 1.0, y + 1.0), padding=0)
    view.flush()
    view._rebuild()
    assert view.render_mode == "glyph"
    pans(500, 0.02)
    elapsed = time.perf_counter() - t0
    gc.collect()
    none_after = sys.getrefcount(None)

    assert painted.count >= 3000  # every pan really repainted the view
    assert none_after >= none_before - 500, (none_before, none_after)
    assert scene is view.plot_widget.scene()  # still alive and drawing
    img = view.plot_widget.grab().toImage()
    assert not img.isNull()
    print(f"3000 pans in {elapsed:.1f} s, {painted.count} paints; refcount(None) {none_before} -> {none_after}")
