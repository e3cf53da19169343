"""ELBO and the importance-weighted bound L_k (Burda, Grosse & Salakhutdinov 2016), per image, in float64."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch

from explorer.core.jobs import JobContext

_LOG_2PI = math.log(2.0 * math.pi)

#: Decoder evaluations per batch (images × samples); bounds the memory of one step.
DEFAULT_BATCH_CODES = 2048


class NonFiniteError(ValueError):
    """A model returned NaN or infinite values; the message says which method."""


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """``log N(z; 0, I)`` summed over the last axis, float64, in nats."""
    z = z.double()
    return -0.5 * (z.pow(2) + _LOG_2PI).sum(dim=-1)


def log_importance_weights(
    posterior: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    log_px_given_z: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    eps: torch.Tensor,
    batch_codes: int = DEFAULT_BATCH_CODES,
    ctx: JobContext | None = None,
) -> torch.Tensor:
    """Log importance weights ``log w_ij = log p(x_i|z_ij) + log p(z_ij) − log q(z_ij|x_i)``, batched.

    ``z_ij = mu_i + exp(logvar_i / 2) · eps_ij`` (reparameterised draws from the diagonal
    Gaussian ``q(z|x)``), ``p(z) = N(0, I)``. Images and samples are batched so that one
    decoder call sees at most ``batch_codes`` codes; the result does not depend on the
    batching. ``posterior`` and ``log_px_given_z`` run on the model's device (where ``mu``
    comes back); the draws are moved there for the decoder, and every float64 term is
    computed on the CPU from the CPU's copies, so the weights are the same on every device
    up to the model's own float32 arithmetic.

    Parameters
    ----------
    posterior : callable
        ``posterior(x) -> (mu, logvar)``, each ``(n, d)``.
    log_px_given_z : callable
        ``log_px_given_z(x, z) -> (n,)`` in nats, for ``x`` ``(n, C, H, W)`` and ``z`` ``(n, d)``.
    x : torch.Tensor, shape (N, C, H, W), float32
    eps : torch.Tensor, shape (N, k, d)
        Standard normal draws.
    batch_codes : int
        Most codes per decoder call.
    ctx : JobContext, optional
        ``check()`` is called between batches (cancel).

    Returns
    -------
    torch.Tensor, shape (N, k), float64
        ``log w`` in nats.

    Raises
    ------
    NonFiniteError
        If ``posterior`` or ``log_px_given_z`` return NaN or infinite values.
    """
    n, k, d = eps.shape
    out = torch.empty(n, k, dtype=torch.float64, device="cpu")
    img_batch = max(1, batch_codes // k)
    s_batch = min(k, max(1, batch_codes))
    for i0 in range(0, n, img_batch):
        xb = x[i0:i0 + img_batch]
        b = xb.shape[0]
        with torch.no_grad():
            mu, logvar = posterior(xb)
        mu, logvar = mu.detach().float(), logvar.detach().float()
        if not (torch.isfinite(mu).all() and torch.isfinite(logvar).all()):
            raise NonFiniteError("posterior returned non-finite mu or logvar")
        dev = mu.device
        std = (0.5 * logvar).exp()
        lv64 = logvar.cpu().double()
        for j0 in range(0, k, s_batch):
            if ctx is not None:
                ctx.check()
            e = eps[i0:i0 + b, j0:j0 + s_batch].float()
            kc = e.shape[1]
            z = mu[:, None, :] + std[:, None, :] * e.to(dev)                # (b, kc, d), on the model's device
            zf = z.reshape(b * kc, d)
            xd = xb.to(dev)
            xr = xd[:, None].expand(b, kc, *xd.shape[1:]).reshape(b * kc, *xd.shape[1:])
            with torch.no_grad():
                lpx = torch.as_tensor(log_px_given_z(xr, zf), device="cpu").double().reshape(b, kc)
            if not torch.isfinite(lpx).all():
                raise NonFiniteError("log_px_given_z returned non-finite values")
            e64 = e.double()
            log_q = -0.5 * (e64.pow(2) + lv64[:, None, :] + _LOG_2PI).sum(dim=-1)
            out[i0:i0 + b, j0:j0 + kc] = lpx + standard_normal_log_prob(z.cpu()) - log_q
    return out


def iwae_from_log_weights(log_w: torch.Tensor | np.ndarray, ks: Sequence[int]) -> dict[int, np.ndarray]:
    """Importance-weighted bounds ``L_k`` for several ``k`` from one set of ``K`` log weights per image.

    ``L_k = log (1/k) Σ_{i≤k} w_i`` (Burda et al. 2016, eq. 8), estimated as the mean of
    ``⌊K/k⌋`` disjoint groups of ``k`` consecutive weights (logsumexp in float64). ``L_1``
    is the ELBO (the mean of ``log w``).

    Parameters
    ----------
    log_w : array, shape (N, K), float64
    ks : sequence of int
        Each ``1 ≤ k ≤ K``.

    Returns
    -------
    dict of int to numpy.ndarray, shape (N,), float64
        ``L_k`` per image, in nats (a log-likelihood bound, ≤ log p(x) in expectation).

    Raises
    ------
    ValueError
        If a ``k`` is outside ``[1, K]``.
    """
    lw = torch.as_tensor(log_w, dtype=torch.float64, device="cpu")
    n, big_k = lw.shape
    out = {}
    for k in ks:
        k = int(k)
        if not 1 <= k <= big_k:
            raise ValueError(f"k must be between 1 and {big_k}, got {k}")
        g = big_k // k
        groups = lw[:, :g * k].reshape(n, g, k)
        out[k] = (torch.logsumexp(groups, dim=-1) - math.log(k)).mean(dim=1).numpy()
    return out


def draw_eps(generators: Sequence[torch.Generator], k: int, d: int) -> torch.Tensor:
    """Standard normal draws ``(N, k, d)`` float32, one generator per image (see `units.image_generator`)."""
    return torch.stack([torch.randn(k, d, generator=g, device="cpu") for g in generators]) if generators \
        else torch.empty(0, k, d, device="cpu")
