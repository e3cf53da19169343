"""Tests for explorer.gui.colors: palettes, label colours, continuous colour maps."""

import numpy as np
import pyqtgraph as pg
import pytest

from explorer.gui.colors import (
    MISSING_RGBA,
    TAB10,
    TAB20,
    categorical_palette,
    continuous_colors,
    label_colors,
    make_colorbar,
    plain_ticks,
)


def test_palettes_are_tableau():
    np.testing.assert_array_equal(TAB10[0], [31, 119, 180, 255])   # tab:blue
    np.testing.assert_array_equal(TAB10[3], [214, 39, 40, 255])    # tab:red
    np.testing.assert_array_equal(TAB20[1], [174, 199, 232, 255])  # light blue
    np.testing.assert_array_equal(categorical_palette(7), TAB10[:7])
    np.testing.assert_array_equal(categorical_palette(15), TAB20[:15])
    many = categorical_palette(30)
    assert many.shape == (30, 4) and len(np.unique(many.view(np.uint32))) == 30


def test_label_colors_and_legend():
    labels = np.array([3, 1, 3, 7])
    colors, legend = label_colors(labels, names={1: "Trouser", 3: "Dress"})
    assert [name for name, _ in legend] == ["Trouser", "Dress", "7"]
    # integer labels keep their own palette slot, whichever classes are present
    np.testing.assert_array_equal(colors[[0, 1, 3]], TAB10[[3, 1, 7]])
    assert legend[1][1] == tuple(TAB10[3])  # "Dress" is class 3


def test_continuous_colors_follow_the_colour_map():
    values = np.array([0.0, 0.25, 1.0, 2.0, np.nan])
    colors, (cmap, lo, hi) = continuous_colors(values, "viridis", vmin=0.0, vmax=1.0)
    ref = pg.colormap.get("viridis").map(np.array([0.0, 0.25, 1.0, 1.0]), mode=pg.ColorMap.BYTE)
    assert np.abs(colors[:4].astype(int) - ref).max() <= 2  # 256-entry lookup table
    np.testing.assert_array_equal(colors[4], MISSING_RGBA)
    assert (cmap, lo, hi) == ("viridis", 0.0, 1.0)
    with pytest.raises(ValueError):
        continuous_colors(values, "no-such-map")


def test_colorbar(qapp):
    bar = make_colorbar("magma", -2.0, 3.0, "z[1]")
    assert bar.axis.labelText == "z[1]" and tuple(bar.values) == (-2.0, 3.0)


def _tick_texts(axis, lo, hi):
    """The tick labels an axis draws for its value range [lo, hi]."""
    values = [v for _spacing, level in axis.tickValues(lo, hi, 300) for v in level]
    return axis.tickStrings(values, axis.autoSIPrefixScale * axis.scale, (hi - lo) / 5)


def _axis(lo, hi, fix):
    """An axis showing [lo, hi] with a label (as the view's and the colour bar's are), then ``fix``ed."""
    axis = pg.AxisItem("left")
    axis.setRange(lo, hi)
    axis.setLabel("value")
    fix(axis)
    return axis


@pytest.mark.parametrize("lo, hi", [(0.0, 0.05), (-0.4, 0.4), (0.2, 0.9)])
def test_plain_ticks_show_values_in_zero_one_as_they_are(qapp, lo, hi):
    """Small unitless values (an MSE, a code in ±0.4, an SSIM) must read as themselves, e.g. "0.02", not "20"."""
    broken = _axis(lo, hi, lambda a: a.enableAutoSIPrefix(False))  # pyqtgraph 0.14: hides "(x0.001)", keeps x1000
    assert max(abs(float(t)) for t in _tick_texts(broken, lo, hi)) > hi  # the defect plain_ticks avoids
    axis = _axis(lo, hi, plain_ticks)
    numbers = [float(t) for t in _tick_texts(axis, lo, hi)]
    assert numbers and all(lo - 1e-9 <= v <= hi + 1e-9 for v in numbers)
    assert "x0.001" not in axis.labelString()
    bar = make_colorbar("viridis", lo, hi, "pixel MSE")
    bar_numbers = [float(t) for t in _tick_texts(bar.axis, lo, hi)]
    assert bar_numbers and all(lo - 1e-9 <= v <= hi + 1e-9 for v in bar_numbers)
