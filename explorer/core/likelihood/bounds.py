"""ELBO and the importance-weighted bound L_k (Burda, Grosse & Salakhutdinov 2016), per image, in float64."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch

from explorer.core.batching import halve_batch, is_out_of_memory, remember_batch, start_batch
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
    device=None,
    memo=None,
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
        Most codes per decoder call on the CPU. On a CUDA or MPS ``device`` the first call
        takes up to `explorer.core.batching.start_batch` codes (4,096, or the size that last
        worked) and the batch halves after an out-of-memory error (the failed block is done
        again; the weights do not depend on the batch).
    ctx : JobContext, optional
        ``check()`` is called between batches (cancel).
    device : torch.device or str, optional
        Where the model computes (`explorer.core.device.model_device`); None is the CPU.
    memo : hashable, optional
        What the memory per code depends on besides the device (e.g. the model's class and
        image shape), for the batch remembered (`explorer.core.batching.start_batch`).

    Returns
    -------
    torch.Tensor, shape (N, k), float64
        ``log w`` in nats.

    Raises
    ------
    NonFiniteError
        If ``posterior`` or ``log_px_given_z`` return NaN or infinite values.
    explorer.core.batching.DeviceMemoryError
        One code does not fit in the device's memory (one sentence).
    """
    n, k, d = eps.shape
    out = torch.empty(n, k, dtype=torch.float64, device="cpu")
    device = "cpu" if device is None else device
    size = start_batch(device, batch_codes, n * k, "IWAE", memo)  # the CPU: batch_codes (capped at n·k)
    i0 = j0 = 0
    post = None  # (i0, b, mu, logvar, std, lv64) of the image block in progress
    while i0 < n:
        # Blocks of whole images (k ≤ size), or one image in blocks of samples (k > size): so the block in
        # progress can always go on at (i0, j0) after a halving.
        img_batch = max(1, size // k)
        s_batch = min(k, max(1, size))
        try:
            if post is None or post[0] != i0 or (j0 == 0 and post[1] != min(img_batch, n - i0)):
                post = None
                xb = x[i0:i0 + img_batch]
                with torch.no_grad():
                    mu, logvar = posterior(xb)
                mu, logvar = mu.detach().float(), logvar.detach().float()
                if not (torch.isfinite(mu).all() and torch.isfinite(logvar).all()):
                    raise NonFiniteError("posterior returned non-finite mu or logvar")
                post = (i0, xb.shape[0], mu, logvar, (0.5 * logvar).exp(), logvar.cpu().double())
            _, b, mu, logvar, std, lv64 = post
            xb = x[i0:i0 + b]
            dev = mu.device
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
        except Exception as exc:  # noqa: BLE001 - only out-of-memory errors are handled; the rest re-raised
            if not is_out_of_memory(exc):
                raise
            post = None if j0 == 0 else post  # mid-image (one image a block): its posterior is kept
            size = halve_batch(size, device, "IWAE")
            continue
        remember_batch(device, "IWAE", memo, size)
        if not torch.isfinite(lpx).all():
            raise NonFiniteError("log_px_given_z returned non-finite values")
        e64 = e.double()
        log_q = -0.5 * (e64.pow(2) + lv64[:, None, :] + _LOG_2PI).sum(dim=-1)
        out[i0:i0 + b, j0:j0 + kc] = lpx + standard_normal_log_prob(z.cpu()) - log_q
        j0 += kc
        if j0 >= k:
            i0, j0, post = i0 + b, 0, None
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
