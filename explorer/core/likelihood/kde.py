"""Parzen-window (Gaussian KDE) log density of images under a model's samples (Goodfellow et al. 2014)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from explorer.core.jobs import JobContext

_LOG_2PI = math.log(2.0 * math.pi)

#: Said with every Parzen number (Theis, van den Oord & Bethge 2016).
KDE_WARNING = ("Parzen-window (KDE) estimates are unreliable in high dimensions: they can rank models in the "
               "wrong order and are far from the true log-likelihood even with many samples "
               "(Theis, van den Oord & Bethge 2016); compare them only with each other, at equal settings")

#: Bandwidths tried by cross-validation (pixel units).
DEFAULT_SIGMA_GRID = tuple(float(s) for s in np.geomspace(0.01, 1.0, 21))


def squared_distances(x: torch.Tensor, samples: torch.Tensor, batch: int = 256,
                      ctx: JobContext | None = None) -> torch.Tensor:
    """``‖x_i − s_j‖²`` for all pairs, float64, clipped at 0.

    Parameters
    ----------
    x : torch.Tensor, shape (N, D)
    samples : torch.Tensor, shape (M, D)
    batch : int
        Rows of ``x`` per matrix product.
    ctx : JobContext, optional

    Returns
    -------
    torch.Tensor, shape (N, M), float64
    """
    x = x.double().flatten(1)
    s = samples.double().flatten(1)
    s2 = s.pow(2).sum(1)
    out = torch.empty(x.shape[0], s.shape[0], dtype=torch.float64, device="cpu")
    for i in range(0, x.shape[0], batch):
        if ctx is not None:
            ctx.check()
        xb = x[i:i + batch]
        out[i:i + batch] = (xb.pow(2).sum(1)[:, None] + s2[None, :] - 2.0 * xb @ s.T).clamp_min(0.0)
    return out


def parzen_log_density(sq_dist: torch.Tensor, sigma: float, dims: int) -> np.ndarray:
    """``log (1/M) Σ_j N(x; s_j, σ² I)`` per row, in nats (Goodfellow et al. 2014, section 5).

    Parameters
    ----------
    sq_dist : torch.Tensor, shape (N, M), float64
        From `squared_distances`.
    sigma : float
        Bandwidth ``σ > 0``.
    dims : int
        ``D``.

    Returns
    -------
    numpy.ndarray, shape (N,), float64
    """
    m = sq_dist.shape[1]
    a = -0.5 * sq_dist / (sigma * sigma)
    return (torch.logsumexp(a, dim=1) - math.log(m) - dims * (math.log(sigma) + 0.5 * _LOG_2PI)).numpy()


def select_sigma(sq_dist_val: torch.Tensor, dims: int, grid: Sequence[float] = DEFAULT_SIGMA_GRID
                 ) -> tuple[float, np.ndarray]:
    """Bandwidth that maximises the mean log density of a validation split (cross-validation).

    Parameters
    ----------
    sq_dist_val : torch.Tensor, shape (V, M), float64
        Squared distances from the validation images to the samples.
    dims : int
    grid : sequence of float

    Returns
    -------
    sigma : float
    scores : numpy.ndarray, shape (len(grid),), float64
        Mean validation log density for each bandwidth, in nats.
    """
    scores = np.array([parzen_log_density(sq_dist_val, float(s), dims).mean() for s in grid])
    return float(grid[int(np.argmax(scores))]), scores
