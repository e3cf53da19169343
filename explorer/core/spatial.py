"""Spatial index and numpy rasteriser for 2-D point sets (hover, picking, drawing)."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from skimage.measure import points_in_poly

from explorer.importing import load

__all__ = ["PointIndex", "rasterize", "marker_stamp"]

# A rectangle query is answered by a few square (Chebyshev-ball) queries of the
# k-d tree laid along the rectangle's long side; at most this many squares.
_MAX_TILES = 32


class PointIndex:
    """Spatial index over a 2-D point set for nearest-point and region queries.

    Wraps :class:`scipy.spatial.cKDTree`; every query costs O(log N + k) for k
    returned points, so hover and picking never scan all points.

    Parameters
    ----------
    xy : array_like, shape (N, 2), float
        Point coordinates (data units). Rows with a NaN or infinite coordinate
        are kept in the numbering but are never returned by a query.

    Raises
    ------
    ValueError
        If ``xy`` does not have shape (N, 2).

    Notes
    -----
    Returned indices are int64 positions into ``xy``, sorted ascending (region
    queries) so results compare equal to a brute-force scan.

    The tree (and scipy, ~0.6 s of CPU to import) is built at the first query that needs it
    or by :meth:`prepare`; until then :meth:`estimate_in_rect` counts with numpy (exactly),
    so a window paints its first embedding without loading scipy.
    """

    def __init__(self, xy):
        xy = np.asarray(xy, dtype=np.float64)
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise ValueError(f"xy must have shape (N, 2), got {xy.shape}")
        self._xy = xy
        finite = np.isfinite(xy).all(axis=1)
        self._ids = None if finite.all() else np.flatnonzero(finite)
        self._pts = xy if self._ids is None else xy[self._ids]
        self._kd = None  # built by `_tree` when first needed

    @property
    def _tree(self):
        """The k-d tree of the finite points (None when there are none), built on first use."""
        if self._kd is None and len(self._pts):
            # balanced_tree=False / compact_nodes=False: ~2x faster build, same queries.
            load("scipy.spatial")
            from scipy.spatial import cKDTree  # here: scipy.spatial takes ~0.6 s of CPU to import

            self._kd = cKDTree(self._pts, balanced_tree=False, compact_nodes=False)
        return self._kd

    def _in_box(self, x0, y0, x1, y1) -> np.ndarray:
        """Mask over the finite points: inside the closed rectangle spanned by two corners."""
        xa, xb = sorted((float(x0), float(x1)))
        ya, yb = sorted((float(y0), float(y1)))
        p = self._pts
        return (p[:, 0] >= xa) & (p[:, 0] <= xb) & (p[:, 1] >= ya) & (p[:, 1] <= yb)

    def prepare(self) -> None:
        """Build the k-d tree now (e.g. just after the first paint) instead of at the first hover."""
        self._tree  # noqa: B018 - the property builds it

    def __len__(self):
        return len(self._xy)

    @property
    def xy(self):
        """ndarray, shape (N, 2), float64: the indexed coordinates (read only)."""
        return self._xy

    def _global(self, local):
        local = np.asarray(local, dtype=np.int64)
        return local if self._ids is None else self._ids[local]

    def nearest(self, x, y, max_dist=None):
        """Index of the point nearest to ``(x, y)`` (Euclidean, data units).

        Parameters
        ----------
        x, y : float
            Query position in data units.
        max_dist : float or None
            Only points at distance <= ``max_dist`` count; None means no limit.

        Returns
        -------
        int
            Index into ``xy``, or -1 if no point qualifies (or the index is empty).
        """
        if self._tree is None or not (math.isfinite(x) and math.isfinite(y)):
            return -1
        bound = np.inf if max_dist is None else float(max_dist)
        if bound < 0:
            return -1
        # cKDTree's bound is strict (<); nudge it so max_dist is inclusive.
        dist, i = self._tree.query((x, y), k=1, distance_upper_bound=np.nextafter(bound, np.inf))
        if not np.isfinite(dist):
            return -1
        return int(self._global(i))

    @staticmethod
    def _tiles(x0, y0, x1, y1):
        """Squares (centres, half side) covering a rectangle, laid along its long side."""
        xa, xb = sorted((float(x0), float(x1)))
        ya, yb = sorted((float(y0), float(y1)))
        w, h = xb - xa, yb - ya
        long_side, short_side = max(w, h), min(w, h)
        if short_side * _MAX_TILES >= long_side and short_side > 0:
            # squares of the short side, first and last flush with the ends:
            # no overhang, and neighbours overlap so each point is in <= 2
            n = max(1, math.ceil(long_side / short_side))
            side = short_side
            t = np.linspace(side / 2, long_side - side / 2, n) if n > 1 else np.array([long_side / 2])
        else:  # very thin: _MAX_TILES squares side by side, overhanging the short sides
            n = _MAX_TILES if long_side > 0 else 1
            side = long_side / n
            t = (np.arange(n) + 0.5) * side
        # Pad a little so points exactly on an edge survive rounding; callers
        # test exactly afterwards.
        pad = 1e-9 * max(abs(xa), abs(xb), abs(ya), abs(yb), side, 1e-300)
        if w >= h:
            centres = np.column_stack([xa + t, np.full(n, (ya + yb) / 2)])
        else:
            centres = np.column_stack([np.full(n, (xa + xb) / 2), ya + t])
        return (xa, ya, xb, yb), centres, side / 2 + pad

    def in_rect(self, x0, y0, x1, y1):
        """Indices of the points inside the closed rectangle spanned by two corners.

        Parameters
        ----------
        x0, y0, x1, y1 : float
            Opposite corners, data units, in any order.

        Returns
        -------
        ndarray, shape (k,), int64
            Sorted indices ``i`` with ``min(x0,x1) <= x_i <= max(x0,x1)`` and the
            same for y.
        """
        if not len(self._pts) or not all(map(math.isfinite, (x0, y0, x1, y1))):
            return np.empty(0, np.int64)
        if self._kd is None:  # no tree yet (first paint): one numpy scan, the same answer
            return self._global(np.flatnonzero(self._in_box(x0, y0, x1, y1)))
        (xa, ya, xb, yb), centres, half = self._tiles(x0, y0, x1, y1)
        hits = self._tree.query_ball_point(centres, half, p=np.inf)
        if len(hits) == 1:
            cand = np.asarray(hits[0], dtype=np.int64)
        else:
            cand = np.unique(np.concatenate([np.asarray(h, dtype=np.int64) for h in hits]))
        cand = self._global(cand)
        px, py = self._xy[cand, 0], self._xy[cand, 1]
        keep = (px >= xa) & (px <= xb) & (py >= ya) & (py <= yb)
        return np.sort(cand[keep])

    def estimate_in_rect(self, x0, y0, x1, y1):
        """Upper bound on the number of points in a rectangle, without listing them.

        Counts the points in the squares :meth:`in_rect` queries, which cover
        the rectangle and overlap each other: at most twice the true count when
        the rectangle's sides are within a factor 32 of each other (thinner
        rectangles are covered by squares that overhang them).

        Returns
        -------
        int
            ``>= len(self.in_rect(x0, y0, x1, y1))``.
        """
        if not len(self._pts) or not all(map(math.isfinite, (x0, y0, x1, y1))):
            return 0
        if self._kd is None:  # no tree yet: count exactly with numpy (≤ the bound) rather than build it
            return int(np.count_nonzero(self._in_box(x0, y0, x1, y1)))
        _, centres, half = self._tiles(x0, y0, x1, y1)
        return int(np.sum(self._tree.query_ball_point(centres, half, p=np.inf, return_length=True)))

    def in_polygon(self, vertices):
        """Indices of the points inside a polygon (e.g. a freehand lasso).

        The polygon's bounding box is looked up in the tree first; only those
        candidates are tested with :func:`skimage.measure.points_in_poly`.

        Parameters
        ----------
        vertices : array_like, shape (M, 2), float
            Polygon vertices in data units; the polygon is closed implicitly.

        Returns
        -------
        ndarray, shape (k,), int64
            Sorted indices of the points inside; empty if M < 3. Points exactly
            on an edge follow ``points_in_poly``'s convention.
        """
        v = np.asarray(vertices, dtype=np.float64)
        if v.ndim != 2 or v.shape[1] != 2:
            raise ValueError(f"vertices must have shape (M, 2), got {v.shape}")
        v = v[np.isfinite(v).all(axis=1)]
        if len(v) < 3:
            return np.empty(0, np.int64)
        (xa, ya), (xb, yb) = v.min(axis=0), v.max(axis=0)
        cand = self.in_rect(xa, ya, xb, yb)
        if len(cand) == 0:
            return cand
        inside = points_in_poly(self._xy[cand], v)
        return cand[inside]


@lru_cache(maxsize=64)
def _stamp(point_px):
    side = int(math.ceil(point_px + 1))
    ss = 16  # sub-samples per pixel side for the coverage integral
    c = (np.arange(side * ss) + 0.5) / ss - side / 2
    inside = (c[:, None] ** 2 + c[None, :] ** 2) <= (point_px / 2) ** 2
    cov = inside.reshape(side, ss, side, ss).mean(axis=(1, 3)).astype(np.float32)
    cov.setflags(write=False)
    return cov


def marker_stamp(point_px):
    """Anti-aliased coverage of one round marker, as Qt draws pyqtgraph's ``'o'``.

    Parameters
    ----------
    point_px : float
        Marker diameter in pixels (> 0).

    Returns
    -------
    ndarray, shape (S, S), float32
        Fraction of each pixel covered by a disc of diameter ``point_px`` centred
        in an ``S = ceil(point_px + 1)`` square, in [0, 1] (read only). This is
        the symbol image that ``ScatterPlotItem`` caches in its atlas.
    """
    if not point_px > 0:
        raise ValueError(f"point_px must be > 0, got {point_px}")
    return _stamp(float(point_px))


def _runs(mask):
    """Rows of a row-convex footprint as (dy, dx0, dx1): its run of True per row."""
    out = []
    for dy, row in enumerate(mask):
        nz = np.flatnonzero(row)
        if len(nz):
            if nz[-1] - nz[0] + 1 != len(nz):
                raise ValueError("footprint rows must be contiguous")
            out.append((dy, int(nz[0]), int(nz[-1])))
    return out


# Image-space filters on the "anchor grid": a marker whose stamp's top-left
# pixel is (ay, ax) in the image sits at anchor (ay + s - 1, ax + s - 1), where
# s is the stamp side, and reaches output pixels (ay + dy, ax + dx) for
# 0 <= dy, dx < s. Output pixel p therefore collects anchors p + s - 1 - d.


def _box_sum(planes, mask, side, h, w):
    """Per output pixel, the sum of each plane over a footprint (planes: (C, ha, wa)).

    ``mask`` (side, side) must be convex along columns. Column sums are built by
    adding shifted rows, growing from the shortest column run to the longest
    (nested for a disc), then shifted columns are added up: no cumulative sums,
    which numpy does not vectorise.
    """
    by_run = {}
    for dx, dy0, dy1 in _runs(mask.T):
        by_run.setdefault((dy0, dy1), []).append(dx)
    out = np.zeros((planes.shape[0], h, w), np.float32)
    vsum, cur = None, None
    for (dy0, dy1) in sorted(by_run, key=lambda r: r[1] - r[0]):
        rows = range(dy0, dy1 + 1)
        if cur is not None and cur[0] >= dy0 and cur[1] <= dy1:
            rows = [dy for dy in rows if not cur[0] <= dy <= cur[1]]  # extend the last sum
        else:
            vsum = None
        for dy in rows:
            r = side - 1 - dy
            if vsum is None:
                vsum = planes[:, r:r + h].copy()
            else:
                vsum += planes[:, r:r + h]
        cur = (dy0, dy1)
        for dx in by_run[(dy0, dy1)]:
            out += vsum[:, :, side - 1 - dx:side - 1 - dx + w]
    return out


def _top_two_per_pixel(top, stamp, h, w):
    """Per output pixel, the last two markers drawn that reach it.

    ``top`` (ha, wa) holds 1 + draw position of each anchor's last marker (0 =
    none). Returns ``(rank1, tap1, rank2, tap2)``: ranks as in ``top`` (0 = no
    marker) of the topmost and the next marker, and the flat stamp index
    ``dy * side + dx`` at which each covers the pixel.
    """
    side = stamp.shape[0]
    taps = np.flatnonzero(stamp.ravel() > 0)
    bits = max(1, int(taps.max()).bit_length())
    dtype = np.int32 if int(top.max(initial=0)) < 2 ** (31 - bits) else np.int64
    key = top.astype(dtype) << bits  # rank in the high bits, the tap in the low ones
    best = np.zeros((h, w), dtype)
    second = np.zeros((h, w), dtype)
    tmp = np.empty((h, w), dtype)
    low = np.empty((h, w), dtype)
    for k in taps:
        dy, dx = divmod(int(k), side)
        r, c = side - 1 - dy, side - 1 - dx
        np.add(key[r:r + h, c:c + w], dtype(k), out=tmp)
        np.minimum(best, tmp, out=low)
        np.maximum(second, low, out=second)
        np.maximum(best, tmp, out=best)
    mask = dtype((1 << bits) - 1)
    return best >> bits, best & mask, second >> bits, second & mask


def _log_transmittance(count, alpha, stamp, h, w):
    """Sum over markers covering each pixel of log(1 - alpha * coverage).

    ``count`` is markers per anchor, ``alpha`` a scalar in [0, 1).
    """
    side = stamp.shape[0]
    interior = stamp >= 1.0
    log_t = np.zeros((h, w), np.float32)
    runs = _runs(interior)
    if runs:  # full-coverage core: one box sum
        log_t += np.float32(math.log1p(-alpha)) * _box_sum(count[None], interior, side, h, w)[0]
    rim = (stamp > 0) & ~interior
    tmp = np.empty((h, w), np.float32)
    for cov in np.unique(stamp[rim]):  # taps with equal coverage share one multiply
        tmp[...] = 0.0
        for dy, dx in np.argwhere(rim & (stamp == cov)):
            r, c = side - 1 - dy, side - 1 - dx
            tmp += count[r:r + h, c:c + w]
        log_t += np.float32(math.log1p(-alpha * float(cov))) * tmp
    return log_t


_BAND_ROWS = 64  # rows per band: keeps the float32 temporaries in L2 cache


def _compose(out, top, count, anchor_rgba, packed, stamp, levels):
    """Blend the binned markers into ``out`` (h, w, 4) uint8; anchors cover h + side - 1 rows."""
    h, w = out.shape[:2]
    side = stamp.shape[0]
    ha, wa = top.shape
    # --- alpha is exact: source-over alpha is 1 - prod(1 - a_i * coverage_i)
    if len(levels) == 1:
        log_t = _log_transmittance(count, min(levels[0] / 255.0, _MAX_ALPHA), stamp, h, w)
    else:
        log_t = np.zeros((h, w), np.float32)
        for lev in levels:
            cnt = np.where(anchor_rgba[..., 3] == lev, count, np.float32(0))
            log_t += _log_transmittance(cnt, min(lev / 255.0, _MAX_ALPHA), stamp, h, w)
    alpha = -np.expm1(log_t)
    del log_t

    # --- colour: the two topmost markers exactly (with their coverage of the
    # pixel), over the mean colour of the markers below them
    rank1, tap1, rank2, tap2 = _top_two_per_pixel(top, stamp, h, w)
    cov = stamp.ravel()
    rgba1 = packed[rank1].view(np.uint8).reshape(h, w, 4)
    rgba2 = packed[rank2].view(np.uint8).reshape(h, w, 4)
    op1 = np.minimum(rgba1[..., 3] * np.float32(1 / 255), np.float32(_MAX_ALPHA))
    op2 = np.minimum(rgba2[..., 3] * np.float32(1 / 255), np.float32(_MAX_ALPHA))
    a1 = cov[tap1] * op1
    a2 = cov[tap2] * op2  # 0 where there is no second marker (rgba2 = 0)
    uniform = len(levels) == 1
    weight = count if uniform else count * (anchor_rgba[..., 3] * np.float32(1 / 255))
    planes = np.empty((4, ha, wa), np.float32)
    for k in range(3):
        np.multiply(anchor_rgba[..., k], weight, out=planes[k])
    planes[3] = weight
    sums = _box_sum(planes, stamp > 0, side, h, w)
    del planes
    # weights of the two top markers in the sums
    w1 = (rank1 > 0).astype(np.float32) if uniform else op1 * (rank1 > 0)
    w2 = (rank2 > 0).astype(np.float32) if uniform else op2 * (rank2 > 0)
    w_rest = sums[3] - w1 - w2
    w_rest *= w_rest > 1e-3  # 0 where no third marker
    # alpha left for the rest: alpha = a1 + (1-a1) * (a2 + (1-a2) * a_rest)
    a_rest = ((alpha - a1) / (1.0 - a1) - a2) / (1.0 - a2)
    np.clip(a_rest, 0.0, 1.0, out=a_rest)
    a_rest *= w_rest > 0
    k2 = (1.0 - a1) * a2
    k3 = (1.0 - a1) * (1.0 - a2) * a_rest
    norm = a1 + k2 + k3
    norm += norm <= 0  # 1 where nothing is drawn
    k1 = a1 / norm
    k2 /= norm
    g = k3 / (norm * (w_rest + (w_rest <= 0)))  # weight of each marker below the top two
    k1 -= g * w1
    k2 -= g * w2
    for k in range(3):  # colour = k1*c1 + k2*c2 + g * (sum(w_i c_i) - w1 c1 - w2 c2)
        c = g * sums[k]
        c += k1 * rgba1[..., k]
        c += k2 * rgba2[..., k]
        np.clip(c, 0, 255, out=c)
        out[..., k] = c + 0.5
    out[..., 3] = alpha * 255.0 + 0.5  # nothing drawn: alpha and colour are 0


_MAX_ALPHA = 0.999  # keeps log(1 - alpha) finite; 0.999 * 255 rounds to 255


def rasterize(xy, colors_rgba, view_rect, width_px, height_px, point_px, order=None,
              origin="upper"):
    """Draw round markers into an RGBA image the way pyqtgraph's scatter would.

    Each point is a disc of diameter ``point_px`` whose anti-aliased coverage is
    :func:`marker_stamp`, placed on the pixel grid as Qt places cached symbol
    images (top-left corner rounded to a whole pixel), and blended with
    "source over" in draw order (later points on top). Blending is done in image
    space: O(N) to bin the points, then O(width_px * height_px * point_px)
    filters, so 1 M points cost little more than 50 k.

    Accuracy against drawing the markers one by one: the alpha of every pixel is
    exact (it does not depend on order); the two topmost markers at each pixel
    are blended exactly, with their coverage; those below them count with their
    mean colour. So the colour is exact where at most three markers overlap or
    the lower ones share one colour. Markers whose top-left corners fall on the
    same pixel are represented by the last one drawn, for colour (not alpha).
    On a dense four-class test (1,500 markers of 5 px in 120 x 100 px), the
    mean error over white is ~1-2 of 255; against Qt drawing the same glyphs,
    ~0.2 (opaque) to ~0.6 (opacity 0.6).

    Parameters
    ----------
    xy : array_like, shape (N, 2), float
        Point coordinates in data units; non-finite rows are not drawn.
    colors_rgba : array_like, shape (N, 4) or (4,), uint8
        Straight (not premultiplied) RGBA per point, or one colour for all. The
        alpha channel is the marker's opacity.
    view_rect : tuple of 4 float
        ``(x_min, y_min, x_max, y_max)``, the data area the image covers: image
        column c spans x in ``x_min + [c, c + 1) * (x_max - x_min) / width_px``,
        and likewise rows in y (from ``y_max`` down for ``origin="upper"``).
    width_px, height_px : int
        Image size in pixels (> 0).
    point_px : float
        Marker diameter in pixels (> 0).
    order : array_like, shape (K,), int, optional
        Draw order: ``order[k]`` is the index of the k-th point drawn, so later
        entries lie on top; points not listed are not drawn. Default: index
        order, as ``ScatterPlotItem`` draws.
    origin : {"upper", "lower"}
        Whether image row 0 is at ``y_max`` (as in PNG files) or at ``y_min``
        (as pyqtgraph's row-major ``ImageItem`` in a y-up plot expects).

    Returns
    -------
    ndarray, shape (height_px, width_px, 4), uint8
        Straight RGBA, alpha 0 where no marker reaches. Deterministic: the same
        inputs give the same image bit for bit.

    Raises
    ------
    ValueError
        On mismatched shapes or dtypes, an empty view rectangle, a non-positive
        size, or an order entry out of range.
    """
    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"xy must have shape (N, 2), got {xy.shape}")
    n = len(xy)
    colors = np.asarray(colors_rgba)
    if colors.dtype != np.uint8:
        raise ValueError(f"colors_rgba must be uint8, got {colors.dtype}")
    if colors.shape == (4,):
        colors = np.tile(colors, (n, 1))
    elif colors.shape != (n, 4):
        raise ValueError(f"colors_rgba must have shape (N, 4) or (4,), got {colors.shape} for N={n}")
    w, h = int(width_px), int(height_px)
    if w <= 0 or h <= 0:
        raise ValueError(f"image size must be positive, got {width_px}x{height_px}")
    x0, y0, x1, y1 = map(float, view_rect)
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"view_rect needs x_max > x_min and y_max > y_min, got {view_rect}")
    if origin not in ("upper", "lower"):
        raise ValueError(f"origin must be 'upper' or 'lower', got {origin!r}")
    if order is not None:
        order = np.asarray(order, dtype=np.int64)
        if order.ndim != 1 or (len(order) and (order.min() < 0 or order.max() >= n)):
            raise ValueError("order must be a 1-D array of indices into xy")
        xy, colors = xy[order], colors[order]

    stamp = marker_stamp(point_px)
    side = stamp.shape[0]
    ha, wa = h + side - 1, w + side - 1  # anchor grid
    out = np.zeros((h, w, 4), np.uint8)
    if len(xy) == 0:
        return out

    # --- O(N): anchor of every marker, then per anchor the count and the last one.
    sx, sy = w / (x1 - x0), h / (y1 - y0)
    shift = side - 1 + 0.5 - side / 2
    with np.errstate(invalid="ignore", over="ignore"):
        ax = np.floor((xy[:, 0] - x0) * sx + shift)
        ay = np.floor(((y1 - xy[:, 1]) if origin == "upper" else (xy[:, 1] - y0)) * sy + shift)
        keep = (ax >= 0) & (ax < wa) & (ay >= 0) & (ay < ha) & (colors[:, 3] > 0)
    kept = np.flatnonzero(keep)
    if len(kept) == 0:
        return out
    flat = (ay[kept] * wa + ax[kept]).astype(np.intp)
    count = np.bincount(flat, minlength=ha * wa).astype(np.float32).reshape(ha, wa)
    top = np.zeros(ha * wa, np.int32)  # 1 + draw position of the last marker, 0 = none
    np.maximum.at(top, flat, (kept + 1).astype(np.int32))
    top = top.reshape(ha, wa)
    packed = np.zeros(len(xy) + 1, np.uint32)  # colour by 1 + draw position
    packed[1:] = np.ascontiguousarray(colors).view(np.uint32)[:, 0]

    # --- per anchor: colour and alpha of its last marker
    anchor_rgba = packed[top].view(np.uint8).reshape(ha, wa, 4)
    levels = np.flatnonzero(np.bincount(anchor_rgba[..., 3][count > 0], minlength=256))

    # --- image space, in bands of rows so the temporaries stay in cache
    for r0 in range(0, h, _BAND_ROWS):
        r1 = min(h, r0 + _BAND_ROWS)
        rows = slice(r0, r1 + side - 1)
        _compose(out[r0:r1], top[rows], count[rows], anchor_rgba[rows], packed, stamp, levels)
    return out
