"""Units of likelihood numbers: bits/dim, uniform dequantisation of 8-bit images, stochastic binarisation."""

from __future__ import annotations

import math

import numpy as np
import torch

LOG_256 = math.log(256.0)

#: What every likelihood record says about its numbers.
UNITS = ("negative log-likelihood per image in nats (lower is better); bits_per_dim = nll_nats / (D ln 2) "
         "with D = C·H·W; elbo_nats is the ELBO reported the same way, as −ELBO (≥ nll_nats up to "
         "Monte-Carlo noise); nll_nats_ci95 is the 95 % interval of the mean over the images")


def bits_per_dim(nll_nats, dims: int):
    """Negative log-likelihood in nats per image → bits per dimension.

    ``bits/dim = NLL / (D ln 2)``.

    Parameters
    ----------
    nll_nats : float or numpy.ndarray, shape (N,), float64
        Negative log-likelihood per image, in nats.
    dims : int
        ``D = C·H·W``, the number of dimensions of one image.

    Returns
    -------
    float or numpy.ndarray
        Bits per dimension, same shape as ``nll_nats``.

    Raises
    ------
    ValueError
        If ``dims < 1``.
    """
    if int(dims) < 1:
        raise ValueError(f"dims must be ≥ 1, got {dims}")
    out = np.asarray(nll_nats, dtype=np.float64) / (int(dims) * math.log(2.0))
    return float(out) if out.ndim == 0 else out


def discrete_nll_from_dequantised(log_p_dequantised, dims: int):
    """Upper bound on the NLL of 8-bit images from the log density of their dequantisations.

    With ``ỹ = (x·255 + u) / 256``, ``u ~ U[0, 1)^D`` and a density ``p`` on the
    [0, 1] scale, ``log P(x) ≥ E_u[log p(ỹ)] − D log 256`` (Theis et al. 2016), so
    ``NLL(x) ≤ −log p(ỹ) + D log 256`` in nats; divided by ``D ln 2`` this is the
    issue's ``bits/dim = −(E log p(ỹ) − D log 256) / (D ln 2)``.

    Parameters
    ----------
    log_p_dequantised : float or numpy.ndarray, shape (N,), float64
        ``log p(ỹ)`` per image, in nats (a density on [0, 1]^D).
    dims : int
        ``D``.

    Returns
    -------
    float or numpy.ndarray, float64
        ``−log p(ỹ) + D log 256`` in nats per image.
    """
    return -np.asarray(log_p_dequantised, dtype=np.float64) + int(dims) * LOG_256


def dequantise(x: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, float]:
    """Uniform dequantisation of images in [0, 1] read from 8 bits: ``ỹ = (round(x·255) + u) / 256``.

    Parameters
    ----------
    x : torch.Tensor, shape (N, C, H, W), float32 in [0, 1]
        Images whose values are (close to) multiples of 1/255.
    generator : torch.Generator
        Source of ``u ~ U[0, 1)`` (seeded: the same images and seed give the same ``ỹ``).

    Returns
    -------
    y : torch.Tensor, shape (N, C, H, W), float32 in [0, 1)
    off_grid : float
        Largest ``|x·255 − round(x·255)|`` (0 for true 8-bit images; resized images are
        not on the grid and are rounded to it).
    """
    levels = x.double() * 255.0
    rounded = levels.round().clamp(0, 255)
    off = float((levels - rounded).abs().max()) if x.numel() else 0.0
    u = torch.rand(x.shape, generator=generator, dtype=torch.float64, device="cpu")
    return ((rounded + u) / 256.0).float(), off


def binarise(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Stochastic binarisation ``x_b ~ Bernoulli(x)`` per pixel (as papers evaluate MNIST), seeded.

    Parameters
    ----------
    x : torch.Tensor, shape (N, C, H, W), float32 in [0, 1]
    generator : torch.Generator

    Returns
    -------
    torch.Tensor, shape (N, C, H, W), float32 in {0, 1}
    """
    return torch.bernoulli(x.clamp(0.0, 1.0), generator=generator)


def mean_ci95(values: np.ndarray) -> tuple[float, list[float] | None]:
    """Mean over images and its normal-approximation 95 % interval ``mean ± 1.96·s/√N``.

    Parameters
    ----------
    values : numpy.ndarray, shape (N,), float64

    Returns
    -------
    mean : float
    ci95 : [lo, hi] or None
        None for fewer than two images.
    """
    v = np.asarray(values, dtype=np.float64)
    m = float(v.mean())
    if v.size < 2:
        return m, None
    half = 1.96 * float(v.std(ddof=1)) / math.sqrt(v.size)
    return m, [m - half, m + half]


def image_generator(seed: int, index: int, stream: int = 0) -> torch.Generator:
    """A torch generator for one image: its draws depend on ``(seed, dataset index, stream)`` only.

    So an image gets the same samples whatever subset or batch it is evaluated in;
    ``stream`` separates independent uses (data noise, importance samples).
    """
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(index), int(stream)]).generate_state(
        2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))
