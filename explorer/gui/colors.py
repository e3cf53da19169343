"""Colours for embeddings: categorical palettes, continuous colour maps and colour bars."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

__all__ = [
    "TAB10", "TAB20", "MISSING_RGBA", "categorical_palette", "label_colors",
    "get_colormap", "continuous_colors", "make_colorbar",
]


def _hex(codes):
    return np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] + [255] for c in codes], np.uint8)


#: Tableau 10 (matplotlib's ``tab10``), shape (10, 4) uint8 RGBA.
TAB10 = _hex("#1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b #e377c2 #7f7f7f #bcbd22 #17becf".split())
#: Tableau 20 (matplotlib's ``tab20``): the tab10 hues, each with a light variant.
TAB20 = _hex(("#1f77b4 #aec7e8 #ff7f0e #ffbb78 #2ca02c #98df8a #d62728 #ff9896 #9467bd #c5b0d5 "
              "#8c564b #c49c94 #e377c2 #f7b6d2 #7f7f7f #c7c7c7 #bcbd22 #dbdb8d #17becf #9edae5").split())
TAB10.setflags(write=False)
TAB20.setflags(write=False)
#: Colour for points without a value (NaN), RGBA uint8.
MISSING_RGBA = (190, 190, 190, 255)


def categorical_palette(n):
    """Distinct colours for ``n`` classes.

    Parameters
    ----------
    n : int
        Number of classes (>= 0).

    Returns
    -------
    ndarray, shape (n, 4), uint8
        RGBA: tab10 for n <= 10, tab20 for n <= 20; above 20, hues evenly
        spaced around the colour wheel in two lightness steps (classes are then
        hard to tell apart; prefer a continuous colour map or fewer clusters).
    """
    n = int(n)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if n <= 10:
        return TAB10[:n].copy()
    if n <= 20:
        return TAB20[:n].copy()
    out = np.empty((n, 4), np.uint8)
    for i in range(n):
        c = pg.intColor(i, hues=(n + 1) // 2, values=2, minValue=170, maxValue=235, sat=190)
        out[i] = c.red(), c.green(), c.blue(), 255
    return out


def label_colors(labels, names=None):
    """Colour each point by its class label.

    Parameters
    ----------
    labels : array_like, shape (N,)
        Class of each point (ints or strings). Classes are ordered by value.
    names : mapping or sequence, optional
        Display name per class value (e.g. ``{0: "T-shirt"}`` or a list indexed
        by integer label). Default: ``str(value)``.

    Returns
    -------
    colors : ndarray, shape (N, 4), uint8
        RGBA per point from :func:`categorical_palette`.
    legend : list of (str, tuple of 4 int)
        ``(name, rgba)`` per class, in class order, for ``EmbeddingView.set_points``.
    """
    labels = np.asarray(labels)
    classes, codes = np.unique(labels, return_inverse=True)
    if np.issubdtype(labels.dtype, np.integer) and labels.size and labels.min() >= 0:
        # integer classes keep their colour whichever classes a subsample happens to hold
        n_names = len(names) if names is not None and hasattr(names, "__len__") else 0
        pal = categorical_palette(max(int(labels.max()) + 1, n_names))
        slots = classes.astype(np.int64)
    else:
        pal = categorical_palette(len(classes))
        slots = np.arange(len(classes))
    colors = pal[slots[codes.ravel()]]
    legend = []
    for k, value in zip(slots, classes, strict=True):
        value = value.item() if hasattr(value, "item") else value
        if names is None:
            name = str(value)
        else:
            try:
                name = str(names[value])
            except (KeyError, IndexError, TypeError):
                name = str(value)
        legend.append((name, tuple(int(v) for v in pal[k])))
    return colors, legend


def get_colormap(name):
    """A pyqtgraph colour map by name ("viridis", "magma", "CET-D1", ...).

    Parameters
    ----------
    name : str or pyqtgraph.ColorMap

    Returns
    -------
    pyqtgraph.ColorMap

    Raises
    ------
    ValueError
        If no bundled colour map has that name.
    """
    if isinstance(name, pg.ColorMap):
        return name
    try:
        cmap = pg.colormap.get(name)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        raise ValueError(f"unknown colour map {name!r}; try 'viridis', 'magma' or 'CET-D1'") from exc
    if cmap is None:
        raise ValueError(f"unknown colour map {name!r}; try 'viridis', 'magma' or 'CET-D1'")
    return cmap


def continuous_colors(values, cmap="viridis", vmin=None, vmax=None):
    """Colour each point by a continuous value, e.g. one latent dimension ``z[:, j]``.

    Parameters
    ----------
    values : array_like, shape (N,), float
        Value per point; NaN gets :data:`MISSING_RGBA`.
    cmap : str or pyqtgraph.ColorMap
        Colour map (see :func:`get_colormap`).
    vmin, vmax : float, optional
        Values mapped to the ends of the map (clipped beyond). Default: the
        finite minimum and maximum of ``values``.

    Returns
    -------
    colors : ndarray, shape (N, 4), uint8
        RGBA per point, from a 256-entry lookup table of the map.
    colorbar : tuple
        ``(cmap, vmin, vmax)`` as used, to pass on as ``EmbeddingView``'s
        ``colorbar=(cmap, vmin, vmax, title)``.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    finite = np.isfinite(v)
    if vmin is None:
        vmin = float(v[finite].min()) if finite.any() else 0.0
    if vmax is None:
        vmax = float(v[finite].max()) if finite.any() else 1.0
    if not vmax > vmin:
        vmax = vmin + 1.0
    lut = get_colormap(cmap).getLookupTable(0.0, 1.0, 256, alpha=True, mode=pg.ColorMap.BYTE)
    lut = np.asarray(lut, np.uint8)
    t = np.zeros(len(v))
    t[finite] = np.clip((v[finite] - vmin) / (vmax - vmin), 0.0, 1.0)
    colors = lut[np.rint(t * 255).astype(np.intp)]
    colors[~finite] = MISSING_RGBA
    return colors, (cmap, float(vmin), float(vmax))


def make_colorbar(cmap, vmin, vmax, title="", width=14):
    """A non-interactive colour bar for a continuous colouring.

    Parameters
    ----------
    cmap : str or pyqtgraph.ColorMap
    vmin, vmax : float
        Range shown on the bar's axis.
    title : str
        Axis label, e.g. ``"z[3]"``.
    width : int
        Bar width in pixels.

    Returns
    -------
    pyqtgraph.ColorBarItem
        Styled for a white background; add it to a layout (it is not linked to
        any image, so it never changes an item's levels).
    """
    bar = pg.ColorBarItem(values=(float(vmin), float(vmax)), width=width,
                          colorMap=get_colormap(cmap), label=None,
                          interactive=False, colorMapMenu=False, pen="k")
    ink = pg.mkColor(30, 30, 30)
    for name in ("left", "right", "top", "bottom"):
        bar.getAxis(name).setPen(pg.mkPen(ink))
    axis = bar.axis  # the right-hand axis carries the values
    axis.setTextPen(pg.mkPen(ink))
    axis.setStyle(tickLength=-4, maxTextLevel=0)
    if title:
        axis.setLabel(title, color=ink.name())
        axis.label.setFont(pg.QtGui.QFont(axis.label.font().family(), 10))
        axis.setWidth(62)
    plain_ticks(axis)
    return bar


def plain_ticks(axis) -> None:
    """Show an axis's values as they are: no SI scaling, no "(x0.001)" multiplier.

    pyqtgraph scales a unitless axis whose values lie in (0, 1) by 1000 and says so in
    the label; ``enableAutoSIPrefix(False)`` alone (pyqtgraph 0.14) hides that
    multiplier but keeps the scaling, so ticks of 0.02 would read "20". Emptying the
    ranges in which SI scaling applies turns the scaling itself off.

    Parameters
    ----------
    axis : pyqtgraph.AxisItem
    """
    axis.setSIPrefixEnableRanges(())
    axis.enableAutoSIPrefix(False)
