"""Float images in [0, 1] to 8-bit pixels: the one rounding every view, figure, movie and codec uses."""

from __future__ import annotations

import numpy as np

__all__ = ["to_uint8"]


def to_uint8(images) -> np.ndarray:
    """Map images in [0, 1] to 8-bit levels: ``clip(rint(255·x), 0, 255)``; uint8 passes through.

    The product ``255·x`` is formed in float64, where it is exact for float32 inputs, and
    rounded to the nearest integer (``numpy.rint``; the only exact tie of a float32 input
    in [0, 1] is x = 0.5 → 127.5 → 128). Every path that turns an image into pixels — the
    window (`explorer.gui.images`), figures and movies (`explorer.core.figures`,
    `explorer.core.latent.movie`) and codecs (`explorer.core.reconstruction.codecs`) — calls this function, so
    an exported image and the window's image have the same grey levels.

    Parameters
    ----------
    images : array_like
        Any shape and layout; float (values outside [0, 1] are clipped, NaN becomes 0)
        or uint8 (returned as is).

    Returns
    -------
    numpy.ndarray
        Same shape, uint8.
    """
    a = np.asarray(images)
    if a.dtype == np.uint8:
        return a
    a = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(np.rint(a * 255.0), 0.0, 255.0).astype(np.uint8)
