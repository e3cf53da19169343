"""numpy images to QImage / QPixmap, crisp upscaling, and image grids for exports."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap

from explorer.core.export import atomic_path
from explorer.core.pixels import to_uint8

__all__ = ["hwc_uint8", "to_qimage", "to_pixmap", "pixmap_scale", "grid_image", "save_png"]


def hwc_uint8(image: np.ndarray) -> np.ndarray:
    """A (C, H, W) image in [0, 1] as a C-contiguous (H, W, C) uint8 array, for a QImage.

    Parameters
    ----------
    image : numpy.ndarray
        (C, H, W) float image with values in [0, 1] (C = 1, 3 or 4), or (H, W) grey.
        Values outside [0, 1] are clipped, NaN becomes 0. A uint8 image is taken as is.

    Returns
    -------
    numpy.ndarray
        (H, W, C) uint8, the grey levels of `explorer.core.pixels.to_uint8` (nearest
        integer to ``255 * value``), the same as figures, movies and codecs.

    Raises
    ------
    ValueError
        Not 2-D or 3-D, or C not in {1, 3, 4}.
    """
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[0] not in (1, 3, 4):
        raise ValueError(f"image must be (C, H, W) with C in 1, 3 or 4, got shape {arr.shape}")
    return np.ascontiguousarray(to_uint8(arr).transpose(1, 2, 0))


_FORMATS = {1: QImage.Format.Format_Grayscale8, 3: QImage.Format.Format_RGB888, 4: QImage.Format.Format_RGBA8888}


def to_qimage(image: np.ndarray) -> QImage:
    """Convert a (C, H, W) float image in [0, 1] to a QImage that owns its pixels.

    Parameters
    ----------
    image : numpy.ndarray
        (C, H, W) float32 in [0, 1]: C = 1 gives a ``Format_Grayscale8`` image, C = 3
        ``Format_RGB888``, C = 4 ``Format_RGBA8888``. (H, W) is read as grey.

    Returns
    -------
    QImage
        W x H image, pixel value ``round(255 * value)``; a deep copy, so it stays
        valid after the array is gone.

    Raises
    ------
    ValueError
        Unsupported shape (see :func:`hwc_uint8`).
    """
    return _qimage_hwc(hwc_uint8(image))


def pixmap_scale(shape_hw: Sequence[int], size_px: int, smooth: bool = False) -> tuple[int, int]:
    """Displayed (width, height) in pixels of an H x W image fitted into a ``size_px`` square.

    Upscaling without ``smooth`` uses the largest whole factor that fits, so every image
    pixel becomes an equal block (a 28 x 28 image in 168 px is shown at 6x, in 100 px at 3x);
    otherwise the image is fitted exactly, keeping its aspect ratio.

    Parameters
    ----------
    shape_hw : sequence of int
        (H, W) of the image.
    size_px : int
        Side of the square box, in device-independent pixels (>= 1).
    smooth : bool
        Fit exactly (for bilinear scaling) instead of by a whole factor.

    Returns
    -------
    tuple of int
        (width, height), each >= 1.
    """
    h, w = int(shape_hw[0]), int(shape_hw[1])
    size_px = max(1, int(size_px))
    longest = max(h, w, 1)
    if not smooth and longest <= size_px:
        factor = size_px // longest
        return max(1, w * factor), max(1, h * factor)
    scale = size_px / longest
    return max(1, round(w * scale)), max(1, round(h * scale))


def to_pixmap(image: np.ndarray, size_px: int, smooth: bool = False) -> QPixmap:
    """Convert a (C, H, W) image in [0, 1] to a QPixmap fitted into a ``size_px`` square.

    Parameters
    ----------
    image : numpy.ndarray
        (C, H, W) float32 in [0, 1] (see :func:`to_qimage`).
    size_px : int
        Side of the square box the pixmap must fit in (device-independent pixels).
    smooth : bool
        False (default): nearest-neighbour upscaling by the largest whole factor that
        fits (:func:`pixmap_scale`), so pixels stay crisp squares. True: bilinear
        scaling to fill the box. Downscaling (an image larger than the box) is always
        smooth, since dropping pixels would alias.

    Returns
    -------
    QPixmap
        At most ``size_px`` x ``size_px``, aspect ratio kept.

    Notes
    -----
    About 0.1 ms for a 28 x 28 image shown at 168 px (measured in
    ``tests/gui/test_panels.py``); the upscaling is a numpy ``repeat``.
    """
    hwc = hwc_uint8(image)
    h, w, c = hwc.shape
    width, height = pixmap_scale((h, w), size_px, smooth)
    if width == w and height == h:
        return QPixmap.fromImage(_qimage_hwc(hwc))
    if not smooth and width % w == 0 and height % h == 0 and width >= w:
        fy, fx = height // h, width // w
        big = np.ascontiguousarray(np.repeat(np.repeat(hwc, fy, axis=0), fx, axis=1))
        return QPixmap.fromImage(_qimage_hwc(big))
    qimage = _qimage_hwc(hwc).scaled(width, height, Qt.AspectRatioMode.IgnoreAspectRatio,
                                       Qt.TransformationMode.SmoothTransformation)
    return QPixmap.fromImage(qimage)


def _qimage_hwc(hwc: np.ndarray) -> QImage:
    """QImage of a C-contiguous (H, W, C) uint8 array, C in {1, 3, 4}; a deep copy (owns its pixels)."""
    h, w, c = hwc.shape
    return QImage(hwc.data, w, h, w * c, _FORMATS[c]).copy()


def grid_image(images, ncols: int | None = None, pad: int = 2, bg=1.0) -> np.ndarray:
    """Tile images into one (H, W, C) grid image, row by row.

    Parameters
    ----------
    images : numpy.ndarray or sequence of numpy.ndarray
        (N, C, H, W) float images in [0, 1], N >= 1 (or N arrays of one shape (C, H, W)).
    ncols : int, optional
        Images per row; default ``ceil(sqrt(N))``. Clipped to N.
    pad : int
        Pixels between images and around the grid (>= 0).
    bg : float or sequence of float
        Background value in [0, 1]: one value, or one per channel.

    Returns
    -------
    numpy.ndarray
        (rows * (H + pad) + pad, ncols * (W + pad) + pad, C) float32, rows = ceil(N / ncols).

    Raises
    ------
    ValueError
        No images, images of different shapes, ``ncols`` < 1 or ``pad`` < 0.
    """
    arr = np.asarray(images, dtype=np.float32)
    if arr.ndim != 4 or arr.shape[0] == 0:
        raise ValueError(f"images must be a non-empty (N, C, H, W) array, got shape {arr.shape}")
    n, c, h, w = arr.shape
    ncols = math.ceil(math.sqrt(n)) if ncols is None else int(ncols)
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1, got {ncols}")
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad}")
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    out = np.empty((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), np.float32)
    out[...] = np.broadcast_to(np.asarray(bg, np.float32), (c,))
    for i in range(n):
        r, col = divmod(i, ncols)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        out[y:y + h, x:x + w] = arr[i].transpose(1, 2, 0)
    return out


def save_png(path: str | os.PathLike, image_hwc: np.ndarray) -> None:
    """Write an (H, W, C) image in [0, 1] as a PNG, atomically (temp file beside it, then rename).

    Parameters
    ----------
    path : str or os.PathLike
        Target file; replaced only once the PNG is complete.
    image_hwc : numpy.ndarray
        (H, W, C) float in [0, 1], C in {1, 3, 4} (e.g. from :func:`grid_image`).

    Raises
    ------
    OSError
        The file cannot be written (the message names it).
    """
    arr = np.asarray(image_hwc)
    qimage = to_qimage(arr.transpose(2, 0, 1))
    with atomic_path(path) as tmp:
        if not qimage.save(str(tmp), "PNG"):
            raise OSError(f"could not write the PNG file '{os.fspath(path)}'; "
                          "check that the folder exists and is writable")
