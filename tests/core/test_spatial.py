"""Tests for explorer.core.spatial: the k-d tree index and the numpy rasteriser."""

import math

import numpy as np
import pytest
from skimage.measure import points_in_poly

from explorer.core.spatial import PointIndex, marker_stamp, rasterize


@pytest.fixture(scope="module")
def cloud():
    rng = np.random.default_rng(0)
    xy = np.concatenate([rng.normal(size=(4000, 2)), rng.uniform(-3, 3, size=(1000, 2))])
    xy[::97] = np.nan  # rows that must never be returned
    return xy


def brute_nearest(xy, x, y, max_dist=None):
    d = np.hypot(xy[:, 0] - x, xy[:, 1] - y)
    d[~np.isfinite(d)] = np.inf
    i = int(np.argmin(d))
    if not np.isfinite(d[i]) or (max_dist is not None and d[i] > max_dist):
        return -1, np.inf
    return i, d[i]


def brute_rect(xy, x0, y0, x1, y1):
    xa, xb = sorted((x0, x1))
    ya, yb = sorted((y0, y1))
    with np.errstate(invalid="ignore"):
        m = (xy[:, 0] >= xa) & (xy[:, 0] <= xb) & (xy[:, 1] >= ya) & (xy[:, 1] <= yb)
    return np.flatnonzero(m)


def test_nearest_matches_brute_force(cloud):
    idx = PointIndex(cloud)
    rng = np.random.default_rng(1)
    for x, y in rng.uniform(-4, 4, size=(300, 2)):
        i_ref, d_ref = brute_nearest(cloud, x, y)
        i = idx.nearest(x, y)
        assert i >= 0
        # ties are possible in principle; compare distances, then indices
        assert math.isclose(np.hypot(*(cloud[i] - (x, y))), d_ref, rel_tol=1e-12)
        for r in (0.01, 0.1):
            i_ref, _ = brute_nearest(cloud, x, y, max_dist=r)
            assert (idx.nearest(x, y, max_dist=r) == -1) == (i_ref == -1)


def test_nearest_max_dist_is_inclusive_and_empty_index():
    idx = PointIndex(np.array([[0.0, 0.0], [3.0, 4.0]]))
    assert idx.nearest(3.0, 5.0, max_dist=1.0) == 1  # distance exactly 1 counts
    assert idx.nearest(3.0, 5.0, max_dist=0.999) == -1
    assert idx.nearest(float("nan"), 0.0) == -1
    empty = PointIndex(np.empty((0, 2)))
    assert empty.nearest(0, 0) == -1
    assert len(empty.in_rect(-1, -1, 1, 1)) == 0
    with pytest.raises(ValueError):
        PointIndex(np.zeros((3, 3)))


@pytest.mark.parametrize("rect", [
    (-1.0, -1.0, 1.0, 1.0),
    (1.0, 2.0, -0.5, -0.25),      # corners in any order
    (-3.0, -0.01, 3.0, 0.01),     # thin horizontal strip (many tiles)
    (0.2, -3.0, 0.21, 3.0),       # thin vertical strip
    (-10.0, -10.0, 10.0, 10.0),   # everything
    (5.0, 5.0, 6.0, 6.0),         # nothing
])
def test_in_rect_matches_brute_force(cloud, rect):
    got = PointIndex(cloud).in_rect(*rect)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, brute_rect(cloud, *rect))


def test_in_rect_includes_points_on_the_edges():
    g = np.stack(np.meshgrid(np.arange(10.0), np.arange(10.0)), -1).reshape(-1, 2) * 0.25
    idx = PointIndex(g)
    for rect in [(0.5, 0.75, 1.25, 1.75), (0.75, 0.75, 0.75, 0.75), (0.0, 1.0, 2.25, 1.0)]:
        np.testing.assert_array_equal(idx.in_rect(*rect), brute_rect(g, *rect))
        assert len(idx.in_rect(*rect)) > 0


def test_in_polygon_matches_brute_force(cloud):
    t = np.linspace(0, 2 * np.pi, 50, endpoint=False)
    r = 1.5 + 0.8 * np.sin(5 * t)  # a star-shaped freehand lasso
    lasso = np.column_stack([r * np.cos(t) + 0.3, r * np.sin(t) - 0.2])
    idx = PointIndex(cloud)
    finite = np.flatnonzero(np.isfinite(cloud).all(axis=1))
    ref = finite[points_in_poly(cloud[finite], lasso)]
    got = idx.in_polygon(lasso)
    np.testing.assert_array_equal(got, ref)
    assert 100 < len(got) < len(cloud)
    assert len(idx.in_polygon(lasso[:2])) == 0  # a line selects nothing


# ---------------------------------------------------------------- rasteriser

def paint_reference(xy, colors, rect, w, h, point_px, order=None):
    """Markers painted one by one with source-over (float64), as Qt would."""
    stamp = marker_stamp(point_px).astype(np.float64)
    side = stamp.shape[0]
    x0, y0, x1, y1 = rect
    colors = np.broadcast_to(np.asarray(colors), (len(xy), 4))
    acc = np.zeros((h, w, 4))
    for i in (range(len(xy)) if order is None else order):
        px = (xy[i, 0] - x0) * w / (x1 - x0)
        py = (y1 - xy[i, 1]) * h / (y1 - y0)
        ax, ay = math.floor(px - side / 2 + 0.5), math.floor(py - side / 2 + 0.5)
        a, c = colors[i, 3] / 255.0, colors[i, :3] / 255.0
        for dy in range(side):
            for dx in range(side):
                yy, xx = ay + dy, ax + dx
                if 0 <= yy < h and 0 <= xx < w and stamp[dy, dx] > 0:
                    al = a * stamp[dy, dx]
                    acc[yy, xx, :3] = al * c + (1 - al) * acc[yy, xx, :3]
                    acc[yy, xx, 3] = al + (1 - al) * acc[yy, xx, 3]
    out = np.zeros((h, w, 4))
    m = acc[..., 3] > 0
    out[m, :3] = acc[m, :3] / acc[m, 3:4]
    out[..., 3] = acc[..., 3]
    return np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8)


def over_white(img):
    a = img[..., 3:4] / 255.0
    return img[..., :3] * a + 255.0 * (1 - a)


def test_marker_stamp_area():
    for d in (2.0, 5.0, 7.5, 12.0):
        s = marker_stamp(d)
        assert s.shape == (math.ceil(d + 1),) * 2
        assert s.sum() == pytest.approx(math.pi * d * d / 4, rel=0.01)
        np.testing.assert_array_equal(s, s[::-1, ::-1])  # centred


def test_isolated_markers_are_exact():
    rng = np.random.default_rng(2)
    xy = np.column_stack([np.arange(12) * 10.0 + 5 + rng.uniform(-1, 1, 12),
                          np.full(12, 15.0) + rng.uniform(-1, 1, 12)])
    colors = rng.integers(0, 256, (12, 4)).astype(np.uint8)
    colors[:, 3] = 180
    img = rasterize(xy, colors, (0, 0, 120, 30), 120, 30, 6.0)
    ref = paint_reference(xy, colors, (0, 0, 120, 30), 120, 30, 6.0)
    np.testing.assert_array_equal(img[..., 3], ref[..., 3])
    drawn = ref[..., 3] > 0
    assert np.abs(img[drawn, :3].astype(int) - ref[drawn, :3]).max() <= 1


def test_colour_at_a_points_pixel():
    xy = np.array([[2.53, 7.46], [7.53, 2.46]])
    colors = np.array([[255, 0, 0, 255], [0, 0, 255, 255]], np.uint8)
    img = rasterize(xy, colors, (0, 0, 10, 10), 100, 100, 8.0)
    # (2.5, 7.5) lies at column 25, row 25 (row 0 is y = 10)
    np.testing.assert_array_equal(img[25, 25], [255, 0, 0, 255])
    np.testing.assert_array_equal(img[75, 75], [0, 0, 255, 255])
    assert img[50, 50, 3] == 0
    lower = rasterize(xy, colors, (0, 0, 10, 10), 100, 100, 8.0, origin="lower")
    np.testing.assert_array_equal(lower, img[::-1])


def test_up_to_three_overlapping_markers_are_exact():
    xy = np.array([[4.02, 5.03], [5.31, 5.23], [4.63, 4.13]])  # off pixel-rounding ties
    colors = np.array([[200, 30, 30, 150], [30, 30, 200, 220], [20, 160, 40, 180]], np.uint8)
    img = rasterize(xy, colors, (0, 0, 10, 10), 100, 100, 20.0)
    ref = paint_reference(xy, colors, (0, 0, 10, 10), 100, 100, 20.0)
    assert np.abs(img.astype(int) - ref).max() <= 1


@pytest.mark.parametrize("opacity", [255, 140])
def test_overlapping_markers_match_painting_in_order(opacity):
    rng = np.random.default_rng(3)
    palette = np.array([[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40]], np.uint8)
    n = 1500
    lab = rng.integers(0, 4, n)
    xy = rng.normal(size=(4, 2))[lab] * 2.5 + rng.normal(size=(n, 2))  # four touching clusters
    colors = np.column_stack([palette[lab], np.full(n, opacity)]).astype(np.uint8)
    img = rasterize(xy, colors, (-6, -5, 6, 5), 120, 100, 5.0)
    ref = paint_reference(xy, colors, (-6, -5, 6, 5), 120, 100, 5.0)
    assert np.abs(img[..., 3].astype(int) - ref[..., 3]).max() <= 1  # alpha is exact
    diff = np.abs(over_white(img) - over_white(ref))
    assert diff.mean() < 2.5, diff.mean()  # on a 0..255 scale
    assert np.percentile(diff, 99) < 40
    # one colour for all: blending order does not matter, colour is exact
    same = rasterize(xy, colors[0], (-6, -5, 6, 5), 120, 100, 5.0)
    ref_same = paint_reference(xy, colors[0], (-6, -5, 6, 5), 120, 100, 5.0)
    assert np.abs(same.astype(int) - ref_same).max() <= 1


def test_draw_order_decides_what_is_on_top():
    xy = np.array([[5.0, 5.0], [5.1, 5.0]])
    colors = np.array([[255, 0, 0, 255], [0, 255, 0, 255]], np.uint8)
    centre = (50, 50)
    assert tuple(rasterize(xy, colors, (0, 0, 10, 10), 100, 100, 10)[centre]) == (0, 255, 0, 255)
    on_top = rasterize(xy, colors, (0, 0, 10, 10), 100, 100, 10, order=[1, 0])[centre]
    assert tuple(on_top) == (255, 0, 0, 255)
    only_first = rasterize(xy, colors, (0, 0, 10, 10), 100, 100, 10, order=[0])
    assert only_first[50, 60, 3] == 0 or tuple(only_first[centre]) == (255, 0, 0, 255)


def test_rasterize_is_deterministic_and_culls():
    rng = np.random.default_rng(4)
    xy = rng.normal(size=(20000, 2)) * 3
    colors = rng.integers(0, 256, (20000, 4)).astype(np.uint8)
    a = rasterize(xy, colors, (-2, -1, 2, 1), 200, 100, 4)
    b = rasterize(xy.copy(), colors.copy(), (-2, -1, 2, 1), 200, 100, 4)
    np.testing.assert_array_equal(a, b)
    inside = PointIndex(xy).in_rect(-2.5, -1.5, 2.5, 1.5)  # view plus a marker's reach
    c = rasterize(xy[inside], colors[inside], (-2, -1, 2, 1), 200, 100, 4)
    np.testing.assert_array_equal(a, c)


def test_rasterize_single_colour_empty_and_errors():
    xy = np.array([[0.5, 0.5], [np.nan, 0.1]])
    img = rasterize(xy, np.array([10, 20, 30, 255], np.uint8), (0, 0, 1, 1), 10, 10, 3)
    np.testing.assert_array_equal(img[5, 5], [10, 20, 30, 255])
    assert rasterize(np.empty((0, 2)), np.empty((0, 4), np.uint8), (0, 0, 1, 1), 4, 3, 3).shape == (3, 4, 4)
    with pytest.raises(ValueError):
        rasterize(xy, np.zeros((2, 4)), (0, 0, 1, 1), 10, 10, 3)  # not uint8
    with pytest.raises(ValueError):
        rasterize(xy, np.zeros((3, 4), np.uint8), (0, 0, 1, 1), 10, 10, 3)
    with pytest.raises(ValueError):
        rasterize(xy, np.zeros((2, 4), np.uint8), (0, 0, 0, 1), 10, 10, 3)
    with pytest.raises(ValueError):
        rasterize(xy, np.zeros((2, 4), np.uint8), (0, 0, 1, 1), 0, 10, 3)


def test_estimate_in_rect_is_an_upper_bound(cloud):
    idx = PointIndex(cloud)
    rng = np.random.default_rng(5)
    for _ in range(50):
        x0, y0 = rng.uniform(-3, 3, 2)
        w, h = rng.uniform(0.1, 3.2, 2)  # sides within a factor 32
        exact = len(idx.in_rect(x0, y0, x0 + w, y0 + h))
        est = idx.estimate_in_rect(x0, y0, x0 + w, y0 + h)
        assert exact <= est <= 2 * exact


def test_queries_before_the_tree_is_built_give_the_same_answers_and_load_no_tree():
    """The first paint counts and lists points with numpy; the k-d tree comes with the first hover or prepare()."""
    rng = np.random.default_rng(5)
    xy = rng.normal(size=(3000, 2))
    xy[::97] = np.nan  # rows that are never returned
    lazy, built = PointIndex(xy), PointIndex(xy)
    built.prepare()
    assert lazy._kd is None and built._kd is not None
    finite = np.isfinite(xy).all(axis=1)
    for _ in range(40):
        x0, x1 = np.sort(rng.normal(size=2) * 1.5)
        y0, y1 = np.sort(rng.normal(size=2) * 1.5)
        want = np.flatnonzero(finite & (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1))
        np.testing.assert_array_equal(lazy.in_rect(x1, y1, x0, y0), want)
        np.testing.assert_array_equal(built.in_rect(x0, y0, x1, y1), want)
        assert lazy.estimate_in_rect(x0, y0, x1, y1) == len(want) <= built.estimate_in_rect(x0, y0, x1, y1)
    assert lazy._kd is None  # counting and listing built nothing
    i = lazy.nearest(0.0, 0.0)
    assert lazy._kd is not None and i == built.nearest(0.0, 0.0)
