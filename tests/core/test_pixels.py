"""explorer.core.pixels.to_uint8: the one rounding of float images to 8 bits (exact rational reference)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from explorer.core import figures
from explorer.core.pixels import to_uint8
from explorer.core.reconstruction import codecs


def _exact(x: np.float32) -> int:
    """Nearest integer to 255·x computed exactly (ties to even), clipped to 0..255."""
    v = Fraction(float(x)) * 255
    return min(max(round(v), 0), 255)


def test_rounds_to_the_nearest_level_exactly():
    rng = np.random.default_rng(0)
    # random values and values within a few float32 ulps of every half level k + 0.5
    half = (np.arange(255, dtype=np.float64) + 0.5) / 255
    near = np.concatenate([np.nextafter(half.astype(np.float32), np.float32(s)) for s in (0, 2)] +
                          [half.astype(np.float32)])
    x = np.concatenate([rng.random(5000).astype(np.float32), near, np.float32([0, 1, 0.5])])
    got = to_uint8(x)
    assert got.dtype == np.uint8
    assert got.tolist() == [_exact(v) for v in x]
    assert to_uint8(np.float32([0.5])).tolist() == [128]


def test_clips_maps_nan_to_zero_and_keeps_uint8_and_shape():
    a = np.array([[-0.5, 0.0, np.nan], [1.0, 2.0, np.inf]])
    assert to_uint8(a).tolist() == [[0, 0, 0], [255, 255, 255]]
    u = np.arange(6, dtype=np.uint8).reshape(1, 2, 3)
    assert to_uint8(u) is u
    assert to_uint8(np.zeros((2, 3, 4, 5))).shape == (2, 3, 4, 5)


def test_figures_and_codecs_use_it():
    assert figures.to_uint8 is to_uint8
    x = np.random.default_rng(1).random((2, 3, 5, 4)).astype(np.float32)
    np.testing.assert_array_equal(codecs.pillow_pixels(x), to_uint8(x).transpose(0, 2, 3, 1))
