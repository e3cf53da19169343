"""Tests for EmbeddingView: hover, selection, raster/glyph drawing and export."""

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtTest, QtWidgets
from skimage.measure import points_in_poly

from explorer.gui.colors import label_colors
from explorer.gui.embedding_view import export_view

from .conftest import show_embedding_view
from .synthetic import blobs

Qt = QtCore.Qt


# ---------------------------------------------------------------- helpers

def widget_pos(view, x, y):
    """Data coordinates -> position in the plot widget's viewport (pixels)."""
    scene = view.view_box.mapViewToScene(QtCore.QPointF(x, y))
    return view.plot_widget.mapFromScene(scene)


def to_data(view, pos):
    """Viewport pixel position -> data coordinates, as the view maps events."""
    p = view.view_box.mapSceneToView(view.plot_widget.mapToScene(pos))
    return p.x(), p.y()


def send_mouse(widget, kind, pos, button=Qt.MouseButton.LeftButton, buttons=None,
               modifiers=Qt.KeyboardModifier.NoModifier):
    pos = QtCore.QPointF(pos)
    glob = QtCore.QPointF(widget.mapToGlobal(pos.toPoint()))
    if buttons is None:
        buttons = Qt.MouseButton.NoButton if kind == QtCore.QEvent.Type.MouseButtonRelease else button
    ev = QtGui.QMouseEvent(kind, pos, glob, button if kind != QtCore.QEvent.Type.MouseMove
                           else Qt.MouseButton.NoButton, buttons, modifiers)
    QtWidgets.QApplication.sendEvent(widget, ev)


def drag(view, points):
    """Left-drag through viewport positions (press, moves, release).

    Moves are spaced by more than 10 ms: pyqtgraph drops mouse moves above its
    ``mouseRateLimit`` (100 Hz).
    """
    vp = view.plot_widget.viewport()
    etype = QtCore.QEvent.Type
    send_mouse(vp, etype.MouseButtonPress, points[0])
    for p in points[1:]:
        QtTest.QTest.qWait(12)
        send_mouse(vp, etype.MouseMove, p, buttons=Qt.MouseButton.LeftButton)
    QtTest.QTest.qWait(12)
    send_mouse(vp, etype.MouseButtonRelease, points[-1])


def grab_rgb(view):
    img = view.plot_widget.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB888)
    ptr = img.constBits()
    arr = np.frombuffer(ptr, np.uint8, img.sizeInBytes()).reshape(img.height(), img.bytesPerLine())
    return arr[:, :img.width() * 3].reshape(img.height(), img.width(), 3).copy()


def labelled(n, seed=0):
    xy, lab = blobs(n, seed)
    colors, legend = label_colors(lab)
    return xy, colors, legend


# ---------------------------------------------------------------- hover

def test_hover_at_a_points_screen_position_returns_its_index(embedding_view, qtbot):
    view = embedding_view
    xy, colors, legend = labelled(3000)
    view.set_points(xy, colors, legend=legend)
    view.flush()
    rng = np.random.default_rng(1)
    for i in rng.choice(len(xy), 5, replace=False):
        pos = widget_pos(view, *xy[i])
        # the point nearest to the cursor's (pixel-rounded) position
        px, py = to_data(view, pos)
        expected = int(np.argmin(np.hypot(xy[:, 0] - px, xy[:, 1] - py)))
        with qtbot.waitSignal(view.hovered, timeout=2000, check_params_cb=lambda k, e=expected: k == e):
            qtbot.mouseMove(view.plot_widget.viewport(), pos)
    # far from every point: -1
    empty = widget_pos(view, xy[:, 0].max() + 1000, xy[:, 1].max() + 1000)
    assert view.hover_at(view.plot_widget.mapToScene(empty)) == -1


def test_hover_coalesces_mouse_moves(embedding_view, qtbot, monkeypatch):
    view = embedding_view
    xy, colors, _ = labelled(2000)
    view.set_points(xy, colors)
    calls = []
    original = view._index.nearest
    monkeypatch.setattr(view._index, "nearest", lambda *a, **k: calls.append(a) or original(*a, **k))
    scene = view.plot_widget.scene()
    for i in range(200):  # a burst of moves, faster than the hover interval
        scene.sigMouseMoved.emit(view.view_box.mapViewToScene(QtCore.QPointF(*xy[i])))
    qtbot.wait(3 * view.hover_interval_ms + 20)
    assert 1 <= len(calls) <= 3
    np.testing.assert_allclose(calls[-1], xy[199])  # the latest position wins


# ---------------------------------------------------------------- selection

def test_click_selects_the_nearest_point(embedding_view, qtbot):
    view = embedding_view
    xy, colors, _ = labelled(1000)
    view.set_points(xy, colors)
    pos = widget_pos(view, *xy[17])
    with qtbot.waitSignal(view.selection_changed) as blocker:
        qtbot.mouseClick(view.plot_widget.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    px, py = to_data(view, pos)
    expected = int(np.argmin(np.hypot(xy[:, 0] - px, xy[:, 1] - py)))
    np.testing.assert_array_equal(blocker.args[0], [expected])


def test_rectangle_drag_selects_like_brute_force(embedding_view, qtbot):
    view = embedding_view
    xy, colors, _ = labelled(20000)
    view.set_points(xy, colors)
    view.set_selection_mode("rect")
    rect = view.plot_widget.viewport().rect()
    a = QtCore.QPoint(int(rect.width() * 0.30), int(rect.height() * 0.25))
    b = QtCore.QPoint(int(rect.width() * 0.62), int(rect.height() * 0.70))
    with qtbot.waitSignal(view.selection_changed) as blocker:
        drag(view, [a, QtCore.QPoint((a.x() + b.x()) // 2, a.y() + 40), b])
    (x0, y0), (x1, y1) = to_data(view, a), to_data(view, b)
    xa, xb, ya, yb = min(x0, x1), max(x0, x1), min(y0, y1), max(y0, y1)
    ref = np.flatnonzero((xy[:, 0] >= xa) & (xy[:, 0] <= xb) & (xy[:, 1] >= ya) & (xy[:, 1] <= yb))
    assert len(ref) > 100
    np.testing.assert_array_equal(blocker.args[0], ref)
    np.testing.assert_array_equal(view.selection, ref)


def test_lasso_drag_selects_like_brute_force(embedding_view, qtbot):
    view = embedding_view
    xy, colors, _ = labelled(20000, seed=3)
    view.set_points(xy, colors)
    view.set_selection_mode("lasso")
    r = view.plot_widget.viewport().rect()
    cx, cy, rad = r.width() / 2, r.height() / 2, min(r.width(), r.height()) * 0.3
    t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    wobble = 1 + 0.35 * np.sin(3 * t)  # a non-convex freehand loop
    pts = [QtCore.QPoint(int(cx + rad * w * np.cos(a)), int(cy + rad * w * np.sin(a)))
           for a, w in zip(t, wobble, strict=True)]
    with qtbot.waitSignal(view.selection_changed) as blocker:
        drag(view, pts)
    poly = np.array([to_data(view, p) for p in pts])
    ref = np.flatnonzero(points_in_poly(xy, poly))
    assert len(ref) > 100
    np.testing.assert_array_equal(blocker.args[0], ref)

    # shift adds to the selection; an empty click clears it
    view.set_selection_mode("rect")
    view.select_rect(-1e9, -1e9, -1e9 + 1, -1e9 + 1, Qt.KeyboardModifier.ShiftModifier)
    np.testing.assert_array_equal(view.selection, ref)
    with qtbot.waitSignal(view.selection_changed) as blocker:
        view.clear_selection()
    assert len(blocker.args[0]) == 0


# ---------------------------------------------------------------- drawing

def test_glyph_raster_switch_at_threshold(embedding_view):
    view = embedding_view
    view.glyph_threshold = 500
    xy, colors, _ = labelled(1000)
    view.set_points(xy[:500], colors[:500])
    view.flush()
    assert view.render_mode == "glyph"
    view.set_points(xy[:501], colors[:501])
    view.flush()
    assert view.render_mode == "raster"
    # zoom in until few points are in view: glyphs again
    x, y = xy[0]
    view.view_box.setRange(xRange=(x - 0.3, x + 0.3), yRange=(y - 0.3, y + 0.3), padding=0)
    view.flush()
    assert view.render_mode == "glyph"


def test_raster_has_the_points_colour_at_its_pixel(embedding_view):
    view = embedding_view
    view.glyph_threshold = 100
    xy, _, _ = labelled(2000)
    xy = np.vstack([xy, [[xy[:, 0].max() + 3, xy[:, 1].mean()]]])  # an isolated last point
    colors = np.tile(np.array([[40, 40, 40, 255]], np.uint8), (len(xy), 1))
    colors[-1] = (214, 39, 40, 255)
    view.set_points(xy, colors)
    view.set_marker(9, 1.0)
    view.flush()
    assert view.render_mode == "raster"
    pos = widget_pos(view, *xy[-1])
    rgb = grab_rgb(view)
    np.testing.assert_array_equal(rgb[pos.y(), pos.x()], [214, 39, 40])
    # the translucent marker is its colour blended over the white background
    view.set_marker(9, 0.5)
    view.flush()
    rgb = grab_rgb(view)
    expected = np.round(0.5 * np.array([214, 39, 40]) + 0.5 * 255)
    assert np.abs(rgb[pos.y(), pos.x()].astype(int) - expected).max() <= 2


@pytest.mark.parametrize("opacity", [1.0, 0.6])
def test_raster_and_glyphs_look_the_same(embedding_view, opacity):
    view = embedding_view
    xy, colors, legend = labelled(4000, seed=5)
    view.set_points(xy, colors, legend=legend)
    view.set_marker(6, opacity)
    view.glyph_threshold = 10_000
    view.flush()
    assert view.render_mode == "glyph"
    glyphs = grab_rgb(view).astype(int)
    view.glyph_threshold = 10
    view._rebuild()
    view.flush()
    assert view.render_mode == "raster"
    raster = grab_rgb(view).astype(int)
    diff = np.abs(glyphs - raster)
    drawn = (glyphs < 250).any(axis=-1) | (raster < 250).any(axis=-1)
    assert drawn.sum() > 10_000
    # on a 0..255 scale, over the pixels that show points
    assert diff[drawn].mean() < 1.5, diff[drawn].mean()  # measured: 0.2 (opaque), 0.6 (0.6)
    assert np.percentile(diff[drawn], 95) <= 4


def test_the_default_marker_needs_no_set_marker_and_setting_it_again_redraws_nothing(embedding_view):
    """Glyphs start at the default 5 px and opacity 0.8 (as the raster does); the presenter's repeated
    ``set_marker`` after every new set of points then schedules no second drawing."""
    view = embedding_view
    xy, colors, legend = labelled(4000, seed=5)
    view.set_points(xy, colors, legend=legend)
    view.glyph_threshold = 10_000
    view.flush()
    assert view.render_mode == "glyph"
    assert view._glyph_item.opacity() == pytest.approx(0.8)
    glyphs = grab_rgb(view).astype(int)
    view.set_marker(5, 0.8)
    assert not view._settle_timer.isActive()  # the same marker: nothing to redraw
    view.glyph_threshold = 10
    view._rebuild()
    view.flush()
    assert view.render_mode == "raster"
    raster = grab_rgb(view).astype(int)
    drawn = (glyphs < 250).any(axis=-1) | (raster < 250).any(axis=-1)
    assert drawn.sum() > 10_000
    assert np.abs(glyphs - raster)[drawn].mean() < 1.5
    view.set_marker(6, 0.8)
    assert view._settle_timer.isActive() and view._glyph_item.opacity() == pytest.approx(0.8)


def test_message_marker_and_path_are_drawn(embedding_view):
    view = embedding_view
    xy, colors, _ = labelled(500)
    view.set_points(xy, colors)
    view.set_message("GAN without encoder: showing 10,000 samples from the prior p(z)")
    assert view._message_item.isVisible() and "p(z)" in view._message_item.toPlainText()
    view.set_message("")
    assert not view._message_item.isVisible()
    view.set_marker_point(xy[3], "current z")
    assert view._marker_label.isVisible()
    view.set_marker_point(None)
    assert not view._marker_label.isVisible()
    view.set_overlay_path(xy[:4])
    x, y = view._path_item.getData()
    np.testing.assert_allclose(np.column_stack([x, y]), xy[:4])
    view.set_overlay_path(None)


def test_legend_and_colour_bar_come_and_go(embedding_view):
    from explorer.gui.colors import continuous_colors

    view = embedding_view
    xy, colors, legend = labelled(500)
    def layout_items():
        return [view.plot_item.layout.itemAt(i) for i in range(view.plot_item.layout.count())]

    view.set_points(xy, colors, legend=legend)
    assert view._legend in layout_items() and view._colorbar is None
    cont, (cmap, lo, hi) = continuous_colors(xy[:, 0], "viridis")
    view.set_points(xy, cont, colorbar=(cmap, lo, hi, "z[0]"))
    assert view._legend not in layout_items() and view._colorbar in layout_items()
    assert view._colorbar.axis.labelText == "z[0]"
    view.set_points(xy, colors)
    assert view._legend not in layout_items() and view._colorbar is None
    view.set_points(xy, colors, legend=legend)
    assert view._legend in layout_items()


def test_bad_input_is_rejected(embedding_view):
    view = embedding_view
    with pytest.raises(ValueError):
        view.set_points(np.zeros((3, 2)), np.zeros((3, 4)))  # not uint8
    with pytest.raises(ValueError):
        view.set_points(np.zeros((3, 2)), np.zeros((2, 4), np.uint8))
    with pytest.raises(ValueError):
        view.set_selection_mode("magic")
    with pytest.raises(ValueError):
        view.set_marker(0, 0.5)


# ---------------------------------------------------------------- export

def test_context_menu_offers_export(embedding_view):
    texts = [a.text() for a in embedding_view.view_box.menu.actions()]
    assert "Export view…" in texts


@pytest.mark.parametrize("raster", [False, True])
def test_export_png_svg_pdf(embedding_view, tmp_path, raster):
    view = embedding_view
    xy, colors, legend = labelled(3000)
    names = [name for name, _ in legend]
    view.set_points(xy, colors, legend=legend)
    view.set_axis_labels("UMAP 1", "UMAP 2")
    view.glyph_threshold = 100 if raster else 10_000
    view.flush()
    assert view.render_mode == ("raster" if raster else "glyph")

    png = export_view(view, tmp_path / "view.png")
    img = QtGui.QImage(png)
    size = view.plot_item.sceneBoundingRect().size()
    assert (img.width(), img.height()) == (int(size.width()), int(size.height()))
    big = QtGui.QImage(export_view(view, tmp_path / "big.png", scale=2.0))
    assert big.width() == 2 * int(size.width())

    svg = export_view(view, tmp_path / "view.svg")
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    text = Path(svg).read_text(encoding="utf-8")
    assert all(name in text for name in names)  # the legend is in the figure
    assert "<image" in text and text.count("<path") < 200  # the points are one image, glyphs or not

    pdf = export_view(view, tmp_path / "view.pdf")
    data = Path(pdf).read_bytes()
    assert data.startswith(b"%PDF") and b"%%EOF" in data[-1024:] and len(data) > 2000

    assert sorted(os.listdir(tmp_path)) == ["big.png", "view.pdf", "view.png", "view.svg"]  # no temp files
    with pytest.raises(ValueError):
        export_view(view, tmp_path / "view.jpg")


def test_png_at_scale_two_scales_the_legend_too(embedding_view, tmp_path):
    """A print-quality PNG (scale 2) is the same figure twice as large: the legend's ink twice as tall and wide."""
    view = embedding_view
    xy, colors, legend = labelled(500)
    view.set_points(xy, colors, legend=legend)
    view.flush()
    right = view.view_box.sceneBoundingRect().right() - view.plot_item.sceneBoundingRect().left()

    def legend_ink(path, scale):
        img = QtGui.QImage(str(path)).convertToFormat(QtGui.QImage.Format.Format_RGB888)
        arr = np.frombuffer(img.constBits(), np.uint8, count=img.bytesPerLine() * img.height())
        arr = arr.reshape(img.height(), img.bytesPerLine())[:, : 3 * img.width()].reshape(img.height(), img.width(), 3)
        band = arr[:, int((right + 4) * scale):]  # right of the plotted area: the legend only
        rows, cols = np.nonzero((band < 200).any(axis=2))
        return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1

    h1, w1 = legend_ink(export_view(view, tmp_path / "one.png"), 1)
    h2, w2 = legend_ink(export_view(view, tmp_path / "two.png", scale=2.0), 2)
    assert h1 > 20 and w1 > 10
    assert h2 == pytest.approx(2 * h1, rel=0.1) and w2 == pytest.approx(2 * w1, rel=0.15)


def test_threaded_rebuild_and_close_while_busy(qtbot):
    view = show_embedding_view(qtbot, (700, 500), glyph_threshold=1000, settle_ms=20)  # threaded
    xy, colors, _ = labelled(60_000)
    view.set_points(xy, colors)
    qtbot.waitUntil(lambda: view.render_mode == "raster", timeout=10_000)
    first = view._raster_item.image
    r = view.view_box.viewRect()
    view.view_box.setRange(xRange=(r.left() + r.width() / 3, r.right()), padding=0)
    qtbot.waitUntil(lambda: view._raster_item.image is not first, timeout=10_000)
    assert view.render_mode == "raster"
    view.set_marker(7, 0.5)  # starts a rebuild; closing must wait for it cleanly
    view.close()
