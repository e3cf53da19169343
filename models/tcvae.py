"""Total correlation of the aggregate posterior by minibatch-weighted sampling, for β-TCVAE (Chen et al. 2018)."""

from __future__ import annotations

import math

import torch

_LOG_2PI = math.log(2.0 * math.pi)


def gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Element-wise ``log N(z; mu, exp(logvar))`` in nats (broadcasting).

    Parameters
    ----------
    z, mu, logvar : torch.Tensor, float32, broadcastable shapes

    Returns
    -------
    torch.Tensor
        The log-density of each component, in nats, of the broadcast shape.
    """
    return -0.5 * (_LOG_2PI + logvar + (z - mu).pow(2) * torch.exp(-logvar))


def total_correlation_mws(
    z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, dataset_size: int
) -> torch.Tensor:
    """Minibatch-weighted sampling estimate of the total correlation ``KL(q(z) || Π_j q(z_j))``, in nats.

    Chen et al. 2018 ("Isolating sources of disentanglement in VAEs"), eq. 3 and
    section 3.1: with a batch of M codes ``z_i ~ q(z|x_i)`` from a data set of N images,

    ``log q(z_i) ≈ logsumexp_m log q(z_i | x_m) − log(N·M)``,
    ``log q(z_ij) ≈ logsumexp_m log q(z_ij | x_m) − log(N·M)`` for each dimension j,

    and ``TC ≈ (1/M) Σ_i [log q(z_i) − Σ_j log q(z_ij)]`` (as in the authors' code). The
    constants are kept, but the estimator is biased: when every posterior equals the
    prior (true TC = 0) it reads ``(d − 1)·log N``, and with very narrow posteriors
    about ``−(d − 1)·log M`` plus the TC; read its trend, not its level. The constants
    do not change the gradients. The β-TCVAE training loss with α = γ = 1 is
    ``recon + KL(q(z|x) || p(z)) + (β − 1) · TC``.

    Parameters
    ----------
    z : torch.Tensor, shape (M, d), float32
        One reparameterised draw per image of the batch.
    mu, logvar : torch.Tensor, shape (M, d), float32
        Parameters of the diagonal Gaussian ``q(z|x_m)`` of each image of the batch.
    dataset_size : int
        N, the number of training images (≥ M).

    Returns
    -------
    torch.Tensor, scalar, float32
        The estimate in nats (differentiable).

    Raises
    ------
    ValueError
        If the shapes differ or are not 2-D, or ``dataset_size`` < M.
    """
    if z.ndim != 2 or z.shape != mu.shape or mu.shape != logvar.shape:
        raise ValueError(
            f"z, mu and logvar must share one (M, d) shape, got {tuple(z.shape)}, {tuple(mu.shape)}, "
            f"{tuple(logvar.shape)}"
        )
    m, d = z.shape
    if int(dataset_size) < m:
        raise ValueError(f"dataset_size must be at least the batch size {m}, got {dataset_size}")
    log_nm = math.log(float(dataset_size) * m)
    # (M, M, d): log q(z_ij | x_m), i the sample, m the image whose posterior is evaluated
    log_q = gaussian_log_density(z[:, None, :], mu[None, :, :], logvar[None, :, :])
    log_qz = torch.logsumexp(log_q.sum(dim=2), dim=1) - log_nm
    log_qz_marginals = (torch.logsumexp(log_q, dim=1) - log_nm).sum(dim=1)
    return (log_qz - log_qz_marginals).mean()
