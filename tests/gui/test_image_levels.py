"""The window's pixels have the grey levels of explorer.core.pixels.to_uint8 (the figures' and codecs' rounding)."""

from __future__ import annotations

import numpy as np

from explorer.core.pixels import to_uint8
from explorer.gui.images import hwc_uint8, to_qimage


def test_qimage_levels_equal_the_core_rounding(qapp):
    rng = np.random.default_rng(0)
    half = ((np.arange(255) + 0.5) / 255).astype(np.float32)  # the levels where round-half rules differ
    img = np.concatenate([rng.random(255).astype(np.float32), half]).reshape(1, 10, 51)
    q = to_qimage(img)
    shown = np.array([[q.pixelColor(x, y).red() for x in range(q.width())] for y in range(q.height())])
    np.testing.assert_array_equal(shown, to_uint8(img[0]))
    np.testing.assert_array_equal(hwc_uint8(img)[..., 0], to_uint8(img[0]))
