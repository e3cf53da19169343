"""Bits of 8-bit images and of latent codes: the compression ratio and bits per pixel of a code (DESIGN.md §3)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from explorer.core.reconstruction.quantize import code_bits

__all__ = ["image_bits", "compression_ratio", "code_bpp", "code_bits"]


def image_bits(image_shape: Sequence[int]) -> int:
    """Bits of one 8-bit image: ``H·W·C·8``.

    Parameters
    ----------
    image_shape : (C, H, W)

    Raises
    ------
    ValueError
        Not three positive integers.
    """
    shape = tuple(int(s) for s in image_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"image_shape must be (C, H, W) with positive sizes, got {tuple(image_shape)}")
    c, h, w = shape
    return h * w * c * 8


def compression_ratio(image_shape: Sequence[int], latent_dim: int, precision: Any = "float32") -> float:
    """Bits of the original 8-bit image over bits of its latent code (DESIGN.md §3).

    ``ratio = H·W·C·8 / (d · b)`` with ``b`` = 32 (float32), 16 (float16) or k (k-bit);
    e.g. 28×28×1 with d = 16 at float32: 6272 / 512 = 12.25.

    Parameters
    ----------
    image_shape : (C, H, W)
    latent_dim : int
        ``d``.
    precision : str or explorer.core.reconstruction.quantize.PrecisionSpec
        "float32", "float16" or "kbit" (k = 2…16).

    Returns
    -------
    float
        Dimensionless ratio (> 1 means the code is smaller than the image).

    Raises
    ------
    ValueError
        Bad shape, dimension or precision.
    """
    return image_bits(image_shape) / code_bits(latent_dim, precision)


def code_bpp(image_shape: Sequence[int], latent_dim: int, precision: Any = "float32") -> float:
    """Bits per pixel of the latent code: ``d · b / (H·W)`` (pixels, not channel values).

    The original image has ``8·C`` bits per pixel, so ``8·C / code_bpp = compression_ratio``.
    """
    _, h, w = (int(s) for s in image_shape)
    return code_bits(latent_dim, precision) / (h * w)
