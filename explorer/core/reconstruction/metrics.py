"""Image quality of reconstructions: PSNR and SSIM per image, confidence intervals, worst and best images."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from explorer.importing import load

if TYPE_CHECKING:
    from explorer.core.jobs import JobContext

__all__ = [
    "Z_95",
    "SSIM_SETTINGS",
    "SSIM_MIN_SIZE",
    "psnr",
    "ssim",
    "ssim_or_nan",
    "ssim_unavailable_reason",
    "finite_or_none",
    "mean_ci",
    "worst_best",
]

#: Two-sided 95 % quantile of the standard normal, used by `mean_ci`.
Z_95 = 1.959963984540054

#: Smallest height/width SSIM accepts: the 11×11 Gaussian window (σ = 1.5, truncated at 3.5σ).
SSIM_MIN_SIZE = 11

#: Keyword arguments of skimage's ``structural_similarity`` used by `ssim` (Wang et al. 2004).
SSIM_SETTINGS: dict[str, Any] = {
    "gaussian_weights": True,
    "sigma": 1.5,
    "use_sample_covariance": False,
    "K1": 0.01,
    "K2": 0.03,
}


def _pair(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(x)
    b = np.asarray(y)
    if a.shape != b.shape:
        raise ValueError(f"image arrays differ in shape: {a.shape} vs {b.shape}")
    if a.ndim != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {a.shape}")
    return a, b


def psnr(x: Any, y: Any, data_range: float = 1.0) -> np.ndarray:
    """Peak signal-to-noise ratio of each image pair, in dB.

    ``PSNR = 10·log10(data_range² / MSE)``, MSE over all C·H·W values of an image, computed
    in float64; the same numbers as ``skimage.metrics.peak_signal_noise_ratio(x[i], y[i],
    data_range=…)`` (which subtracts float32 inputs in float32: ~1e-6 relative apart).

    Parameters
    ----------
    x, y : array_like, shape (N, C, H, W)
        Reference and test images (float, values in [0, data_range]).
    data_range : float
        Peak value: 1.0 for images in [0, 1].

    Returns
    -------
    numpy.ndarray, shape (N,), float64
        dB; ``inf`` for identical images (MSE = 0). Means over images containing ``inf``
        are ``inf``: report how many images were exact instead.

    Raises
    ------
    ValueError
        Shapes differ or are not 4-D.
    """
    a, b = _pair(x, y)
    if len(a) == 0:
        return np.empty(0)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    mse = np.mean((a64 - b64) ** 2, axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(float(data_range) ** 2 / mse)


def ssim(x: Any, y: Any, data_range: float = 1.0, ctx: JobContext | None = None) -> np.ndarray:
    """Structural similarity of each image pair (Wang et al. 2004, IEEE TIP 13(4)).

    Computed by scikit-image: ``structural_similarity(x[i], y[i], gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, K1=0.01, K2=0.03, data_range=data_range)``,
    i.e. an 11×11 Gaussian window (σ = 1.5); colour images are scored per channel
    (``channel_axis``) and averaged. Inputs are converted to float64 first.

    Parameters
    ----------
    x, y : array_like, shape (N, C, H, W)
        Reference and test images; H and W must be ≥ 11 (the window).
    data_range : float
        1.0 for images in [0, 1].
    ctx : JobContext, optional
        Cancel (and progress) every 256 images.

    Returns
    -------
    numpy.ndarray, shape (N,), float64
        Values in [-1, 1]; 1 for identical images.

    Raises
    ------
    ValueError
        Shapes differ, are not 4-D, or images are smaller than the window.
    """
    load("skimage.metrics")
    from skimage.metrics import structural_similarity

    a, b = _pair(x, y)
    a, b = a.astype(np.float64), b.astype(np.float64)
    n, c = a.shape[:2]
    out = np.empty(n)
    for i in range(n):
        if c == 1:
            out[i] = structural_similarity(a[i, 0], b[i, 0], data_range=float(data_range), **SSIM_SETTINGS)
        else:
            out[i] = structural_similarity(a[i], b[i], data_range=float(data_range), channel_axis=0, **SSIM_SETTINGS)
        if ctx is not None and (i + 1) % 256 == 0:
            ctx.progress((i + 1) / n, f"SSIM {i + 1:,} / {n:,}")
    return out


def ssim_unavailable_reason(image_shape: Sequence[int], what: str = "these images") -> str | None:
    """One sentence saying why SSIM cannot be computed for images of this shape, or None if it can.

    Parameters
    ----------
    image_shape : (C, H, W)
    what : str
        How to name the images in the sentence, e.g. "digits".

    Returns
    -------
    str or None
        E.g. "SSIM needs images of at least 11×11 pixels; digits are 8×8."
    """
    _, h, w = (int(v) for v in image_shape)
    if min(h, w) >= SSIM_MIN_SIZE:
        return None
    return f"SSIM needs images of at least {SSIM_MIN_SIZE}×{SSIM_MIN_SIZE} pixels; {what} are {h}×{w}."


def ssim_or_nan(x: np.ndarray, y: np.ndarray, ctx: JobContext | None = None) -> np.ndarray:
    """`ssim`, or NaN per image when the images are smaller than the SSIM window (see `ssim_unavailable_reason`).

    Parameters
    ----------
    x, y : numpy.ndarray, shape (N, C, H, W)
    ctx : JobContext, optional

    Returns
    -------
    numpy.ndarray, shape (N,), float64
    """
    if x.ndim == 4 and min(x.shape[2:]) < SSIM_MIN_SIZE:
        return np.full(len(x), np.nan)
    return ssim(x, y, ctx=ctx)


def finite_or_none(v: float) -> float | None:
    """``float(v)``, or None for NaN (JSON has no NaN: an unavailable SSIM is written as null)."""
    return None if math.isnan(v) else float(v)


def mean_ci(values: Any, z: float = Z_95) -> tuple[float, float, float]:
    """Mean and its normal-approximation 95 % confidence interval.

    ``mean ± z·s/√n`` with ``s`` the sample standard deviation (``ddof=1``) and z = 1.96.

    Parameters
    ----------
    values : array_like, shape (n,)
    z : float
        Normal quantile (1.96 for 95 %).

    Returns
    -------
    (mean, low, high) : tuple of float
        ``low = high = nan`` when n < 2; nan when the values contain ``inf``
        (e.g. PSNR of an exact reconstruction) — the mean is then ``inf``.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        return (math.nan, math.nan, math.nan)
    mean = float(np.mean(v))
    if v.size < 2 or not np.isfinite(v).all():
        return (mean, math.nan, math.nan)
    half = float(z) * float(np.std(v, ddof=1)) / math.sqrt(v.size)
    return (mean, mean - half, mean + half)


def worst_best(scores: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the ``n`` lowest and the ``n`` highest scores (e.g. PSNR per image).

    Parameters
    ----------
    scores : array_like, shape (N,)
    n : int
        How many of each (clipped to N).

    Returns
    -------
    worst, best : numpy.ndarray of int64, shape (min(n, N),)
        ``worst`` ascending by score (worst first), ``best`` descending (best first);
        ties keep index order (stable sort). NaN scores count as worst.
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    k = max(0, min(int(n), s.size))
    key = np.where(np.isnan(s), -np.inf, s)
    worst = np.argsort(key, kind="stable")[:k]
    best = np.argsort(-key, kind="stable")[:k]
    return worst.astype(np.int64), best.astype(np.int64)
