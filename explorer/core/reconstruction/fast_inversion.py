"""Faster GAN inversion: restarts screened from a bank of prior samples, then successive halving over restarts."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from explorer.core.jobs import JobContext

# inversion.py (InversionSettings, InversionResult, inversion_objective) imports this module and hands
# its objective and result type in: no import back, no cycle.

__all__ = ["prior_bank", "bank_restarts", "halving_schedule", "invert_bank_halving", "BANK_SEED_OFFSET"]

#: The bank's generator is seeded with ``seed·1000003 + BANK_SEED_OFFSET`` (apart from the per-image streams).
BANK_SEED_OFFSET = 999_983
_BANK_BATCH = 512


def keep_best_restarts(sl: slice, r: int, best_z, best_loss, best_mse, out, result_type, settings,
                       on_batch=None) -> None:
    """Write each image's best restart of a batch into the result arrays, and report the batch.

    Parameters
    ----------
    sl : slice
        The batch's images, ``b = sl.stop − sl.start`` of them.
    r : int
        Restarts per image; ``best_*`` are ``(r·b, …)`` torch tensors, restart-major.
    out : tuple of numpy.ndarray
        ``(codes (N, d), losses (N,), mse (N,), restart (N,), initial_losses (N,), initial_mse (N,))``,
        filled at ``sl`` (the last two are read only).
    result_type : type
        `explorer.core.reconstruction.inversion.InversionResult` (handed in: no import cycle).
    settings : InversionSettings
    on_batch : callable, optional
        ``on_batch(start, stop, result_type)`` with the batch's part of the result.
    """
    codes, losses, mse_out, restart, init_l, init_m = out
    b = sl.stop - sl.start
    k = best_loss.reshape(r, b).argmin(dim=0)
    cols = torch.arange(b, device="cpu")
    codes[sl] = best_z.reshape(r, b, -1)[k, cols].numpy()
    losses[sl] = best_loss.reshape(r, b)[k, cols].numpy()
    mse_out[sl] = best_mse.reshape(r, b)[k, cols].numpy()
    restart[sl] = k.numpy()
    if on_batch is not None:
        on_batch(sl.start, sl.stop, result_type(
            codes=codes[sl].copy(), losses=losses[sl].copy(), mse=mse_out[sl].copy(),
            initial_losses=init_l[sl].copy(), initial_mse=init_m[sl].copy(), restart=restart[sl].copy(),
            history=np.empty(0), settings=settings))


def run_inversion_batches(invert_batch, n: int, settings, device, model, r: int, out, history, result_type):
    """Run ``invert_batch(start, stop)`` over the ``n`` images in batches that fit ``device``; the result.

    ``settings.batch_size`` images (with all their ``r`` restarts) at a time on the CPU; on a
    GPU from 4,096, halved after an out-of-memory error (`explorer.core.batching.run_batched`,
    remembered per model class, image shape, restarts and method). Both methods draw their
    starts per image or from the seed's bank, so the codes do not depend on the batch.

    Parameters
    ----------
    invert_batch : callable
        ``invert_batch(start, stop)`` fills ``out`` at ``start:stop`` and adds to ``history``.
    n : int
        Images.
    settings : InversionSettings
    device : torch.device
        Where the model computes.
    model : GenerativeModel
    r : int
        Restarts per image.
    out : tuple of numpy.ndarray
        ``(codes, losses, mse, restart, initial_losses, initial_mse)``, as `keep_best_restarts`.
    history : numpy.ndarray
        Summed objective per step over the images (divided by ``n`` here).
    result_type : type
        `explorer.core.reconstruction.inversion.InversionResult` (handed in: no import cycle).

    Returns
    -------
    InversionResult
    """
    from explorer.core.batching import run_batched

    run_batched(n, int(settings.batch_size), invert_batch, device, "GAN inversion",
                memo=(type(model).__name__, tuple(model.image_shape), r, settings.method))
    codes, losses, mse_out, restart, init_l, init_m = out
    return result_type(codes=codes, losses=losses, mse=mse_out, initial_losses=init_l, initial_mse=init_m,
                       restart=restart, history=history / max(n, 1), settings=settings)


def prior_bank(model, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``size`` prior draws z ~ p(z) and their images G(z), made once per inversion.

    Parameters
    ----------
    model : models.base.GenerativeModel
    size : int
        K ≥ 1 codes.
    seed : int
        The draws come from a ``torch.Generator`` seeded with ``seed·1000003 + BANK_SEED_OFFSET``,
        so they depend on the seed only, not on which images are inverted.

    Returns
    -------
    z : numpy.ndarray, shape (K, d), float32
    images : numpy.ndarray, shape (K, C·H·W), float32
        ``decode(z)`` flattened.
    """
    from explorer.core.codes import decode_codes

    g = torch.Generator().manual_seed(int(seed) * 1_000_003 + BANK_SEED_OFFSET)
    z = torch.as_tensor(model.sample_prior(int(size), g), dtype=torch.float32, device="cpu").reshape(
        int(size), -1).numpy()
    images = decode_codes(model, z, batch_size=_BANK_BATCH)
    return np.ascontiguousarray(z), np.ascontiguousarray(images.reshape(len(z), -1), dtype=np.float32)


def bank_restarts(x: np.ndarray, bank_z: np.ndarray, bank_x: np.ndarray, k: int, prior_weight: float) -> np.ndarray:
    """Indices of the ``k`` bank codes with the lowest inversion objective for each image.

    The objective is that of `explorer.core.reconstruction.inversion.inversion_objective`,
    ``mean_pixels (G(z) − x)² + λ‖z‖²/d``, evaluated in float64 for every (image, bank code)
    pair as ``(‖x‖² − 2 x·G(z) + ‖G(z)‖²) / D + λ‖z‖²/d``.

    Parameters
    ----------
    x : numpy.ndarray, shape (B, D), float32
        Flattened images in [0, 1].
    bank_z, bank_x : numpy.ndarray, shapes (K, d) and (K, D)
        From `prior_bank`.
    k : int
        Restarts per image, 1 ≤ k ≤ K.
    prior_weight : float
        λ ≥ 0.

    Returns
    -------
    numpy.ndarray, shape (B, k), int64
        Best first; ties broken by the lower bank index.
    """
    xd = x.astype(np.float64)
    bd = bank_x.astype(np.float64)
    obj = ((xd * xd).sum(1)[:, None] - 2.0 * (xd @ bd.T) + (bd * bd).sum(1)[None, :]) / x.shape[1]
    obj += float(prior_weight) * (bank_z.astype(np.float64) ** 2).mean(1)[None, :]
    k = int(k)
    part = np.argpartition(obj, k - 1, axis=1)[:, :k] if k < obj.shape[1] else np.tile(np.arange(obj.shape[1]),
                                                                                        (len(obj), 1))
    vals = np.take_along_axis(obj, part, 1)
    order = np.lexsort((part, vals), axis=1)
    return np.take_along_axis(part, order, 1).astype(np.int64)


def halving_schedule(restarts: int, steps: int) -> list[tuple[int, int]]:
    """When successive halving drops restarts: ``[(step, restarts kept after it), ...]``.

    All ``restarts`` run for ``max(1, steps // 40)`` steps; then the worse half of each
    image's restarts is dropped, and again each time the step count doubles, until one
    restart per image goes on to ``steps`` (Jamieson & Talwalkar 2016, "Non-stochastic
    best arm identification and hyperparameter optimization", successive halving).

    Parameters
    ----------
    restarts, steps : int

    Returns
    -------
    list of (int, int)
        Strictly increasing steps < ``steps``, strictly decreasing counts (ending at 1 when ``steps`` allows)
        (empty with one restart or no steps).
    """
    out: list[tuple[int, int]] = []
    alive, at = int(restarts), max(1, int(steps) // 40)
    while alive > 1 and at < int(steps):
        alive = math.ceil(alive / 2)
        out.append((at, alive))
        at *= 2
    return out


def invert_bank_halving(
    model,
    x_all: np.ndarray,
    s: Any,
    ctx: JobContext | None,
    init_codes: np.ndarray | None,
    on_batch: Callable[[int, int, Any], None] | None,
    *,
    objective: Callable,
    result_type: type,
) -> Any:
    """`invert` with ``method="bank-halving"`` (called by it, after its checks; same result type).

    ``s`` is the `InversionSettings`; ``objective`` is `inversion_objective` and
    ``result_type`` `InversionResult` (handed in by `invert`).

    1. *Screening* (a learned-free initialisation): ``bank_size`` prior draws are decoded
       once; each image starts its ``restarts`` restarts from the bank codes with the
       lowest objective (`bank_restarts`) instead of from random draws — restart 0 from
       ``init_codes`` when given (hybrid inversion, Zhu et al. 2016).
    2. *Successive halving* over the restarts (`halving_schedule`): the worse half of an
       image's restarts stops early, so most steps go to the promising ones.
    3. Adam (β = 0.9, 0.999; ε = 1e-8, the update of ``torch.optim.Adam``) per code on
       `inversion_objective`, up to ``steps`` steps for the last restart standing; the
       lowest objective seen at any step of any restart is kept.

    The images' own seeds (``image_ids`` of `invert`) are not needed: the bank depends on
    the seed only, so an image gets the same result whatever else is inverted with it.
    """
    inversion_objective, InversionResult = objective, result_type  # noqa: N806 - the class handed in

    n, d = len(x_all), int(model.latent_dim)
    r, steps = int(s.restarts), int(s.steps)
    lam, lr = float(s.prior_weight), float(s.lr)
    b1, b2, eps = 0.9, 0.999, 1e-8
    schedule = dict(halving_schedule(r, steps))
    bank_z, bank_x = prior_bank(model, max(int(s.bank_size), r), s.seed)
    codes = np.empty((n, d), np.float32)
    losses, mse_out, init_l, init_m = (np.empty(n) for _ in range(4))
    restart = np.empty(n, np.int64)
    history = np.zeros(steps + 1)
    # work per batch in code-steps, for honest progress: Σ over steps of the restarts still running
    alive_at = [r] * (steps + 1)
    for at, keep in schedule.items():
        for t in range(at, steps + 1):
            alive_at[t] = keep
    work_per_image = max(1, sum(alive_at[:steps]))
    from explorer.core.device import model_device

    dev = model_device(model)  # codes, moments and images on the model's device; float64 bookkeeping on the CPU

    def invert_batch(start: int, stop: int) -> None:  # idempotent: redone at half the size after an OOM
        b = stop - start
        xb = x_all[start:stop]
        pick = bank_restarts(xb.reshape(b, -1), bank_z, bank_x, r, lam)  # (b, r)
        z0 = torch.from_numpy(bank_z[pick.T.reshape(-1)].copy())  # restart-major: row k·b + i
        if init_codes is not None:
            z0[:b] = torch.from_numpy(init_codes[start:stop])
        x_rep = torch.from_numpy(xb).repeat(r, 1, 1, 1).to(dev)
        z = z0.clone().to(dev)
        m = torch.zeros_like(z)
        v = torch.zeros_like(z)
        best_loss = torch.full((r * b,), math.inf, dtype=torch.float64, device="cpu")
        best_mse = torch.full((r * b,), math.inf, dtype=torch.float64, device="cpu")
        best_z = z0.clone()
        alive = torch.ones(r, b, dtype=torch.bool, device="cpu")
        active = torch.arange(r * b, device="cpu")
        batch_history = np.zeros(steps + 1)
        for step in range(steps + 1):
            act = active.to(dev)
            za = z[act].clone().requires_grad_(True)
            loss, mse = inversion_objective(model, za, x_rep[act], lam)
            with torch.no_grad():
                ld = loss.detach().cpu().double()
                better = ld < best_loss[active]
                rows = active[better]
                best_loss[rows] = ld[better]
                best_mse[rows] = mse.detach().cpu().double()[better]
                best_z[rows] = za.detach().cpu()[better]
                batch_history[step] += float(best_loss.reshape(r, b).min(dim=0).values.sum())
                if step == 0:
                    k0 = best_loss.reshape(r, b).argmin(dim=0)
                    cols = torch.arange(b, device="cpu")
                    init_l[start:stop] = best_loss.reshape(r, b)[k0, cols].numpy()
                    init_m[start:stop] = best_mse.reshape(r, b)[k0, cols].numpy()
            if step == steps:
                break
            (g,) = torch.autograd.grad(loss.sum(), za)
            with torch.no_grad():
                t = step + 1
                m[act] = b1 * m[act] + (1 - b1) * g
                v[act] = b2 * v[act] + (1 - b2) * g * g
                denom = (v[act].sqrt() / math.sqrt(1 - b2 ** t)).add_(eps)
                z[act] = za.detach() - (lr / (1 - b1 ** t)) * m[act] / denom
                if t in schedule:  # drop the worse restarts of every image (by their best objective so far)
                    keep = schedule[t]
                    score = best_loss.reshape(r, b).masked_fill(~alive, math.inf)
                    order = torch.argsort(score, dim=0, stable=True)
                    alive = torch.zeros_like(alive)
                    alive.scatter_(0, order[:keep], True)
                    active = torch.nonzero(alive.reshape(-1), as_tuple=False).reshape(-1)
            if ctx is not None:
                frac = (start * work_per_image + b * sum(alive_at[: step + 1])) / (n * work_per_image)
                ctx.progress(min(frac, 1.0), f"inverting images {start + 1:,}–{stop:,} of {n:,}: "
                                             f"step {step + 1} / {steps}, {int(alive[:, 0].sum())} restart(s) left")
        history[:] += batch_history
        keep_best_restarts(slice(start, stop), r, best_z, best_loss, best_mse,
                           (codes, losses, mse_out, restart, init_l, init_m), InversionResult, s, on_batch)
        if ctx is not None and steps == 0:
            ctx.progress(stop / n, f"inverted {stop:,} / {n:,} images")

    # the bank does not depend on the batch, so neither do the codes
    return run_inversion_batches(invert_batch, n, s, dev, model, r, (codes, losses, mse_out, restart, init_l, init_m),
                                 history, InversionResult)
