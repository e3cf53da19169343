"""Annealed importance sampling for decoders with a Gaussian observation model (Wu et al. 2017), with BDMC."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from explorer.core.jobs import JobContext
from explorer.core.likelihood.bounds import NonFiniteError

_LOG_2PI = math.log(2.0 * math.pi)

#: HMC step-size adaptation (Wu et al. 2017, after Neal 2011): target acceptance and factors.
TARGET_ACCEPTANCE = 0.65
_STEP_UP, _STEP_DOWN, _ACC_DECAY = 1.02, 0.98, 0.9
_STEP_MIN, _STEP_MAX = 1e-4, 1.0


def sigmoid_schedule(n_steps: int, delta: float = 4.0) -> np.ndarray:
    """Inverse temperatures ``0 = β_0 < … < β_T = 1`` on a sigmoid path (Grosse et al. 2015; Wu et al. 2017).

    ``β̃_t = σ(δ (2t/T − 1))``, rescaled so ``β_0 = 0`` and ``β_T = 1``.

    Parameters
    ----------
    n_steps : int
        ``T ≥ 1`` intermediate distributions.
    delta : float
        Steepness ``δ`` (4 as in Wu et al.).

    Returns
    -------
    numpy.ndarray, shape (T + 1,), float64

    Raises
    ------
    ValueError
        If ``n_steps < 1``.
    """
    if int(n_steps) < 1:
        raise ValueError(f"the number of AIS steps must be ≥ 1, got {n_steps}")
    t = np.linspace(-delta, delta, int(n_steps) + 1)
    s = 1.0 / (1.0 + np.exp(-t))
    return (s - s[0]) / (s[-1] - s[0])


def gaussian_log_likelihood(
    decode: Callable[[torch.Tensor], torch.Tensor], sigma: float, device=None, memo=None,
) -> Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """``log N(y; G(z), σ² I)`` and its gradient in ``z``, for HMC.

    Each row's terms depend on that row only, so on a CUDA or MPS ``device`` the ``M`` codes
    are decoded in batches that halve after an out-of-memory error
    (`explorer.core.batching.run_batched`) with the same result; on the CPU all ``M`` go in
    one call, as before. The random draws of AIS are made outside, so they do not change.

    Parameters
    ----------
    decode : callable
        ``G``: codes ``(M, d)`` float32 → means of the same shape as ``y`` (differentiable).
    sigma : float
        Observation noise ``σ > 0`` in pixel units.
    device : torch.device or str, optional
        Where ``decode`` computes (`explorer.core.device.model_device`); None is the CPU.
    memo : hashable, optional
        See `explorer.core.batching.start_batch`.

    Returns
    -------
    callable
        ``f(y, z) -> (log_lik float64 (M,), grad float32 (M, d), mean G(z))`` in nats.

    Raises
    ------
    ValueError
        If ``sigma ≤ 0``.
    """
    sigma = float(sigma)
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    inv2 = 1.0 / (sigma * sigma)
    on_cpu = device is None or getattr(device, "type", str(device).split(":")[0]) == "cpu"

    def whole(y: torch.Tensor, z: torch.Tensor):
        dims = y[0].numel()
        const = -dims * (math.log(sigma) + 0.5 * _LOG_2PI)
        with torch.enable_grad():
            zz = z.detach().requires_grad_(True)
            g = decode(zz).to(y.device)  # decoded on the model's device; the sampler's state stays with y (CPU)
            if not torch.isfinite(g.detach()).all():
                raise NonFiniteError("decode returned non-finite values")
            diff = (y - g).flatten(1)
            ll32 = -0.5 * inv2 * diff.pow(2).sum(dim=1)
            (grad,) = torch.autograd.grad(ll32.sum(), zz)
        d64 = diff.detach().double()
        return -0.5 * inv2 * d64.pow(2).sum(dim=1) + const, grad.detach(), g.detach()

    if on_cpu:
        return whole

    def batched(y: torch.Tensor, z: torch.Tensor):
        from explorer.core.batching import run_batched

        m = z.shape[0]
        ll = torch.empty(m, dtype=torch.float64, device="cpu")
        grad = torch.empty(z.shape, dtype=torch.float32, device=z.device)
        mean = torch.empty(y.shape, dtype=torch.float32, device=y.device)

        def step(start: int, stop: int) -> None:
            ll[start:stop], grad[start:stop], mean[start:stop] = whole(y[start:stop], z[start:stop])

        run_batched(m, m, step, device, "AIS", memo=memo)
        return ll, grad, mean

    return batched


@dataclass
class AISRun:
    """One AIS run over ``B`` images with ``C`` chains each.

    Attributes
    ----------
    log_w : numpy.ndarray, shape (B, C), float64
        Log importance weights of each chain, in nats.
    acceptance : numpy.ndarray, shape (B,), float64
        Mean HMC acceptance rate per image over the run.
    step_size : numpy.ndarray, shape (B,), float64
        Final adapted leapfrog step size per image.
    """

    log_w: np.ndarray
    acceptance: np.ndarray
    step_size: np.ndarray

    @property
    def log_mean_w(self) -> np.ndarray:
        """``log (1/C) Σ_c w_c`` per image ``(B,)`` (the log-mean-exp over chains)."""
        lw = torch.from_numpy(self.log_w)
        return (torch.logsumexp(lw, dim=1) - math.log(lw.shape[1])).numpy()


def run_ais(
    log_lik: Callable,
    y: torch.Tensor,
    z0: torch.Tensor,
    betas: np.ndarray,
    n_chains: int,
    generator: torch.Generator,
    leapfrog_steps: int = 10,
    step_size: float = 0.05,
    ctx: JobContext | None = None,
    progress: Callable[[float], None] | None = None,
) -> AISRun:
    """Annealed importance sampling between ``p(z)`` and ``p(z|y)`` along ``f_t(z) = p(z) p(y|z)^β_t``.

    Neal 2001; Wu et al. 2017, section 3: for ``t = 1..T`` the weight gains
    ``(β_t − β_{t−1}) log p(y|z)`` and ``z`` makes one HMC transition (``leapfrog_steps``
    leapfrog steps, Metropolis accept/reject) that leaves ``f_t`` invariant. The step size
    of each image adapts towards 0.65 acceptance (×1.02 above, ×0.98 below a running
    average). The prior is ``N(0, I)``.

    With ``betas`` from 0 to 1 and ``z0`` drawn from the prior, ``E[w] = p(y)`` and
    ``log mean w`` is a stochastic lower bound on ``log p(y)``. With ``betas`` from 1 to 0
    and ``z0`` an exact posterior sample, ``E[w] = 1 / p(y)`` (reverse AIS; BDMC,
    Grosse et al. 2015).

    Parameters
    ----------
    log_lik : callable
        From `gaussian_log_likelihood`.
    y : torch.Tensor, shape (B, C, H, W), float32
        The observed images.
    z0 : torch.Tensor, shape (B * n_chains, d), float32
        Start of each chain; chains of image ``b`` are rows ``b·C … (b+1)·C − 1``.
    betas : numpy.ndarray, shape (T + 1,), float64
        The schedule, e.g. `sigmoid_schedule` (or reversed).
    n_chains : int
        ``C``.
    generator : torch.Generator
        Momenta and accept/reject draws (seeded).
    leapfrog_steps : int
    step_size : float
        Initial leapfrog step size.
    ctx : JobContext, optional
        Checked every few steps (cancel).
    progress : callable, optional
        ``progress(fraction)`` every few steps.

    Returns
    -------
    AISRun

    Raises
    ------
    NonFiniteError
        If the decoder returns NaN or infinite values.
    """
    b = y.shape[0]
    c = int(n_chains)
    yr = y.repeat_interleave(c, dim=0)
    z = z0.detach().float().clone()
    ll, gll, _ = log_lik(yr, z)
    log_w = torch.zeros(b * c, dtype=torch.float64, device="cpu")
    eps = torch.full((b,), float(step_size), dtype=torch.float64, device="cpu")
    avg_acc = torch.full((b,), TARGET_ACCEPTANCE, dtype=torch.float64, device="cpu")
    acc_sum = torch.zeros(b, dtype=torch.float64, device="cpu")
    n_trans = 0
    n_steps = len(betas) - 1
    every = max(1, n_steps // 100)
    for t in range(1, n_steps + 1):
        beta = float(betas[t])
        log_w += (beta - float(betas[t - 1])) * ll
        if t < n_steps:  # the last transition would not change the weights
            e = eps.repeat_interleave(c)[:, None].float()
            p0 = torch.randn(z.shape, generator=generator, device="cpu")
            u0 = 0.5 * z.double().pow(2).sum(1) - beta * ll
            p = p0 - 0.5 * e * (z - beta * gll)
            zn = z
            for step in range(leapfrog_steps):
                zn = zn + e * p
                lln, glln, _ = log_lik(yr, zn)
                grad_u = zn - beta * glln
                p = p - (e if step < leapfrog_steps - 1 else 0.5 * e) * grad_u
            u1 = 0.5 * zn.double().pow(2).sum(1) - beta * lln
            log_acc = (u0 + 0.5 * p0.double().pow(2).sum(1)) - (u1 + 0.5 * p.double().pow(2).sum(1))
            log_acc = torch.nan_to_num(log_acc, nan=-math.inf)
            accept = torch.log(torch.rand(b * c, generator=generator, dtype=torch.float64, device="cpu")) < log_acc
            z = torch.where(accept[:, None], zn, z)
            ll = torch.where(accept, lln, ll)
            gll = torch.where(accept[:, None], glln, gll)
            rate = accept.double().view(b, c).mean(dim=1)
            acc_sum += rate
            n_trans += 1
            avg_acc = _ACC_DECAY * avg_acc + (1 - _ACC_DECAY) * rate
            eps = torch.where(avg_acc > TARGET_ACCEPTANCE, eps * _STEP_UP, eps * _STEP_DOWN).clamp(
                _STEP_MIN, _STEP_MAX)
        if ctx is not None:  # every step: Cancel answers at once even with a large T
            ctx.check()
        if (t % every == 0 or t == n_steps) and progress is not None:
            progress(t / n_steps)
    return AISRun(log_w=log_w.view(b, c).numpy(), acceptance=(acc_sum / max(n_trans, 1)).numpy(),
                  step_size=eps.numpy())


def ais_log_likelihood(
    decode: Callable[[torch.Tensor], torch.Tensor],
    y: torch.Tensor,
    latent_dim: int,
    sigma: float,
    n_steps: int,
    n_chains: int,
    generator: torch.Generator,
    leapfrog_steps: int = 10,
    ctx: JobContext | None = None,
    progress: Callable[[float], None] | None = None,
    device=None,
    memo=None,
) -> AISRun:
    """Forward AIS estimate of ``log p(y)`` under ``p(z) = N(0, I)``, ``p(y|z) = N(G(z), σ² I)``.

    Chains start at prior draws and follow `sigmoid_schedule` (``n_steps``); see `run_ais`.
    ``AISRun.log_mean_w`` is the estimate per image, in nats (a stochastic lower bound).

    Parameters
    ----------
    decode : callable
        ``G``: ``(M, d)`` → ``(M, C, H, W)``, differentiable.
    y : torch.Tensor, shape (B, C, H, W), float32
    latent_dim : int
    sigma : float
    n_steps, n_chains, leapfrog_steps : int
    generator : torch.Generator
    ctx : JobContext, optional
    progress : callable, optional
    device, memo : optional
        Where ``decode`` computes, for its batches (`gaussian_log_likelihood`).

    Returns
    -------
    AISRun
    """
    z0 = torch.randn(y.shape[0] * int(n_chains), int(latent_dim), generator=generator, device="cpu")
    return run_ais(gaussian_log_likelihood(decode, sigma, device, memo), y, z0, sigmoid_schedule(n_steps), n_chains,
               generator, leapfrog_steps, ctx=ctx, progress=progress)


@dataclass
class BDMCResult:
    """Bidirectional Monte Carlo on data simulated from the model (Grosse et al. 2015; Wu et al. 2017).

    Attributes
    ----------
    lower_nats, upper_nats : numpy.ndarray, shape (S,), float64
        Forward (stochastic lower bound) and reverse (stochastic upper bound) AIS estimates
        of ``log p(y)`` for each simulated image, in nats.
    """

    lower_nats: np.ndarray
    upper_nats: np.ndarray

    @property
    def gap_nats(self) -> float:
        """Mean of ``upper − lower`` over the simulated images, in nats: bounds the error of forward AIS there."""
        return float(np.mean(self.upper_nats - self.lower_nats))


def bdmc(
    decode: Callable[[torch.Tensor], torch.Tensor],
    latent_dim: int,
    sigma: float,
    n_images: int,
    n_steps: int,
    n_chains: int,
    generator: torch.Generator,
    leapfrog_steps: int = 10,
    ctx: JobContext | None = None,
    progress: Callable[[float], None] | None = None,
    device=None,
    memo=None,
) -> BDMCResult:
    """BDMC gap: forward and reverse AIS on ``(z*, y)`` drawn from the model, ``z* ~ p(z)``, ``y ~ N(G(z*), σ² I)``.

    ``z*`` is an exact posterior sample of its ``y``, so reverse AIS can start there; the
    forward and reverse estimates sandwich ``log p(y)`` in expectation, and their gap bounds
    the error of forward AIS with the same settings on such data.

    Parameters
    ----------
    decode, latent_dim, sigma, n_steps, n_chains, generator, leapfrog_steps, ctx, progress, device, memo
        As in `ais_log_likelihood`.
    n_images : int
        ``S`` simulated images.

    Returns
    -------
    BDMCResult
    """
    c = int(n_chains)
    z_star = torch.randn(int(n_images), int(latent_dim), generator=generator, device="cpu")
    with torch.no_grad():
        g = decode(z_star).cpu()
    if not torch.isfinite(g).all():
        raise NonFiniteError("decode returned non-finite values")
    y = g + float(sigma) * torch.randn(g.shape, generator=generator, device="cpu")
    f = gaussian_log_likelihood(decode, sigma, device, memo)
    betas = sigmoid_schedule(n_steps)
    half = (lambda a: (lambda fr: progress(a + 0.5 * fr))) if progress else (lambda a: None)
    z0 = torch.randn(int(n_images) * c, int(latent_dim), generator=generator, device="cpu")
    fwd = run_ais(f, y, z0, betas, c, generator, leapfrog_steps, ctx=ctx, progress=half(0.0))
    rev = run_ais(f, y, z_star.repeat_interleave(c, dim=0), betas[::-1].copy(), c, generator, leapfrog_steps,
              ctx=ctx, progress=half(0.5))
    return BDMCResult(lower_nats=fwd.log_mean_w, upper_nats=-rev.log_mean_w)
