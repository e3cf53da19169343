"""GAN inversion: find latent codes for real images by optimising ``z`` through the generator."""

from __future__ import annotations

import contextlib
import enum
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from explorer.core.codes import decode_codes, encode_images
from explorer.core.jobs import JobContext, sub_context
from explorer.core.reconstruction.metrics import psnr, ssim

__all__ = [
    "CodeSource",
    "INVERSION_METHODS",
    "BASELINE_INVERSION",
    "InversionSettings",
    "InversionResult",
    "EncoderInversionComparison",
    "inversion_objective",
    "invert",
    "measured_seconds_per_image",
    "compare_encoder_and_inversion",
]

# Seeds of the per-image generators: seed · _SEED_STRIDE + image index.
_SEED_STRIDE = 1_000_003
#: The inversion methods of `InversionSettings.method`.
INVERSION_METHODS = ("bank-halving", "adam")


class CodeSource(enum.StrEnum):
    """Where a set of latent codes came from; carried by results, the UI and JSON ("encoder" / "inverted").

    A `StrEnum`, so ``json.dumps`` writes the plain string and ``CodeSource("inverted")`` reads it.
    """

    ENCODER = "encoder"
    INVERTED = "inverted"


@dataclass(frozen=True)
class InversionSettings:
    """Knobs of `invert`.

    Attributes
    ----------
    steps : int
        Adam steps per restart (≥ 0; 0 returns the best initial code); with
        ``"bank-halving"`` the most any restart takes (the one that wins).
    restarts : int
        Random initialisations per image, drawn from the model's prior (≥ 1).
    lr : float
        Adam learning rate, in latent units per step (> 0).
    prior_weight : float
        λ of the prior term ``λ·‖z‖²/d`` (≥ 0); 0 is the plain pixel loss.
    batch_size : int
        Images optimised together (each with all its restarts), ≥ 1, on the CPU. On a CUDA or
        MPS device batches start at 4,096 images (or the size that last fitted) and halve after
        an out-of-memory error, the failed batch done again (`explorer.core.batching.run_batched`);
        the codes do not depend on the batch.
    seed : int
        Seed of the initial codes: image ``i`` uses a ``torch.Generator`` seeded with
        ``seed·1000003 + i``, so results do not depend on ``batch_size``.
    method : {"bank-halving", "adam"}
        ``"adam"``: every restart starts from its own prior draw and runs all ``steps``.
        ``"bank-halving"``: the restarts start from the best of ``bank_size`` prior draws
        for the image and the worse half of them stops early, again and again, until one
        runs all ``steps`` (`explorer.core.reconstruction.fast_inversion`).
    bank_size : int
        Prior draws screened by ``"bank-halving"`` (≥ 1; decoded once per inversion).
    """

    steps: int = 150
    restarts: int = 4
    lr: float = 0.05
    prior_weight: float = 1e-3
    batch_size: int = 256
    seed: int = 0
    method: str = "bank-halving"
    bank_size: int = 4096

    def __post_init__(self) -> None:
        if int(self.steps) < 0 or int(self.restarts) < 1 or int(self.batch_size) < 1:
            raise ValueError("inversion needs steps ≥ 0, restarts ≥ 1 and batch_size ≥ 1")
        if not float(self.lr) > 0 or not float(self.prior_weight) >= 0:
            raise ValueError("inversion needs lr > 0 and prior_weight ≥ 0")
        if self.method not in INVERSION_METHODS:
            raise ValueError(f"unknown inversion method {self.method!r}; choose one of {', '.join(INVERSION_METHODS)}")
        if int(self.bank_size) < 1:
            raise ValueError("inversion needs bank_size ≥ 1")

    def to_dict(self) -> dict:
        """JSON-able ``{field: value}``."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


#: Today's method before issue 15, at its defaults: every restart from its own prior draw, all 200 steps,
#: batches of 64 images (the baseline of the ``inversion`` bench section).
BASELINE_INVERSION = InversionSettings(steps=200, restarts=4, lr=0.05, prior_weight=1e-3, batch_size=64,
                                       method="adam")


@dataclass
class InversionResult:
    """Codes found by `invert` and how well they fit.

    Attributes
    ----------
    codes : numpy.ndarray, shape (N, d), float32
        The best code per image over all restarts and steps.
    losses : numpy.ndarray, shape (N,), float64
        Objective (see `inversion_objective`) at ``codes``; never above ``initial_losses``.
    mse : numpy.ndarray, shape (N,), float64
        Pixel mean squared error of ``decode(codes)`` (images in [0, 1]).
    initial_losses, initial_mse : numpy.ndarray, shape (N,), float64
        Objective and pixel MSE of the best initial code (before any step).
    restart : numpy.ndarray, shape (N,), int64
        Which restart won.
    history : numpy.ndarray, shape (steps + 1,), float64
        Mean over images of the best objective so far, after 0, 1, …, ``steps`` steps.
    settings : InversionSettings
    source : CodeSource
        Always ``CodeSource.INVERTED``.
    """

    codes: np.ndarray
    losses: np.ndarray
    mse: np.ndarray
    initial_losses: np.ndarray
    initial_mse: np.ndarray
    restart: np.ndarray
    history: np.ndarray
    settings: InversionSettings
    source: CodeSource = field(default=CodeSource.INVERTED)


def inversion_objective(
    model, z: torch.Tensor, x: torch.Tensor, prior_weight: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image objective of GAN inversion and its pixel part.

    ``L(z) = mean_pixels (G(z) − x)² + λ · ‖z‖² / d``, where the mean runs over all
    C·H·W values of an image in [0, 1] and ``d`` is the latent dimension. The prior term
    is the negative log-density of ``N(0, I)`` up to constants, scaled by ``2λ/d``; it
    keeps ``z`` where the generator was trained.

    Parameters
    ----------
    model : models.base.GenerativeModel
        Anything with a differentiable ``decode``.
    z : torch.Tensor, shape (M, d), float32
    x : torch.Tensor, shape (M, C, H, W), float32 in [0, 1]
    prior_weight : float
        λ ≥ 0.

    Returns
    -------
    loss, mse : torch.Tensor, shape (M,)

    Raises
    ------
    ValueError
        ``z`` requires gradients but ``decode`` does not pass them on (e.g. it runs
        under ``torch.no_grad``).
    """
    recon = model.decode(z)
    if z.requires_grad and not recon.requires_grad:
        raise ValueError("the model's decode gives no gradient with respect to z; GAN inversion "
                         "needs a differentiable decoder")
    mse = (recon - x).pow(2).flatten(1).mean(dim=1)
    return mse + float(prior_weight) * z.pow(2).mean(dim=1), mse


#: Models frozen by running inversions: id(model) -> [number of inversions, saved flags]. Several
#: jobs may invert with one model at once (the shared store makes it routine); the first saves
#: the flags and freezes, the last restores them.
_FROZEN: dict[int, list] = {}
_FROZEN_LOCK = threading.Lock()


@contextlib.contextmanager
def _frozen(model) -> Iterator[None]:
    """Weights without gradients and every sub-module in eval mode; both restored when the last user exits."""
    if not isinstance(model, nn.Module):
        yield
        return
    with _FROZEN_LOCK:
        entry = _FROZEN.get(id(model))
        if entry is None:
            params = list(model.parameters())
            saved = ([(p, p.requires_grad) for p in params], [(m, m.training) for m in model.modules()])
            for p in params:
                p.requires_grad_(False)
            model.eval()
            entry = _FROZEN[id(model)] = [0, saved]
        entry[0] += 1
    try:
        yield
    finally:
        with _FROZEN_LOCK:
            entry[0] -= 1
            if entry[0] == 0:
                del _FROZEN[id(model)]
                grads, modes = entry[1]
                for p, flag in grads:
                    p.requires_grad_(flag)
                for m, flag in modes:
                    m.training = flag


def decode_gives_gradient(model) -> bool:
    """Whether ``model.decode`` passes a gradient back to ``z`` — what GAN inversion needs.

    One decode of a prior code with ``requires_grad``; the weights are left as they were
    (`_frozen`). A TorchScript or adapter decode that runs under ``no_grad``, converts to
    numpy, or otherwise cuts the graph gives False.

    Parameters
    ----------
    model : models.base.GenerativeModel

    Returns
    -------
    bool
    """
    try:
        z = torch.zeros(1, int(model.latent_dim), requires_grad=True, device="cpu")
        with torch.enable_grad(), _frozen(model):
            out = model.decode(z)
            if not (isinstance(out, torch.Tensor) and out.requires_grad):
                return False
            out.float().sum().backward()
        return z.grad is not None and bool(torch.isfinite(z.grad).all())
    except Exception:  # noqa: BLE001 - any failure means inversion cannot use this decode
        return False


def _initial_codes(model, ids: np.ndarray, restarts: int, seed: int) -> torch.Tensor:
    """(restarts, B, d) prior draws, one generator per image seeded with ``seed·1000003 + id``."""
    out = []
    for i in ids:
        g = torch.Generator().manual_seed(int(seed) * _SEED_STRIDE + int(i))
        out.append(torch.as_tensor(model.sample_prior(restarts, g), dtype=torch.float32, device="cpu").reshape(
            restarts, -1))
    return torch.stack(out, dim=1)


def _check_images(model, images) -> np.ndarray:
    x = np.ascontiguousarray(images, dtype=np.float32)
    if x.ndim != 4 or tuple(x.shape[1:]) != tuple(model.image_shape):
        raise ValueError(
            f"images of shape {x.shape[1:]} do not fit the model's output {tuple(model.image_shape)}"
        )
    return x


#: Measured wall seconds per image of finished inversions in this process: (id(model), settings) -> (s, images).
_MEASURED: dict[tuple[int, InversionSettings], tuple[float, int]] = {}


def measured_seconds_per_image(model, settings: InversionSettings) -> float | None:
    """Wall seconds per image that inversions of ``model`` with ``settings`` took in this process, or None.

    The time estimate a panel shows is this measurement (of the latest finished `invert`
    call), never a guess; None until one finished.
    """
    hit = _MEASURED.get((id(model), replace(settings, seed=0)))
    return None if hit is None else hit[0]


def invert(
    model,
    images,
    settings: InversionSettings | None = None,
    ctx: JobContext | None = None,
    *,
    init_codes=None,
    image_ids=None,
    on_batch: Callable[[int, int, InversionResult], None] | None = None,
    **overrides: Any,
) -> InversionResult:
    """Find a latent code for each image by minimising the reconstruction error (GAN inversion).

    The wall seconds per image are recorded for `measured_seconds_per_image`.

    ``settings.method == "bank-halving"`` (the default) starts the restarts from the
    best of ``bank_size`` prior draws and stops the worse half of them early, repeatedly
    (`explorer.core.reconstruction.fast_inversion.invert_bank_halving`); the rest of this
    paragraph describes ``"adam"``, which both share otherwise.
    For every image, ``restarts`` codes are drawn from the prior ``p(z)`` and each is
    optimised with Adam (β = 0.9, 0.999; ε = 1e-8) on `inversion_objective`
    ``L(z) = mean_pixels (G(z) − x)² + λ‖z‖²/d`` for ``steps`` steps (Zhu et al. 2016,
    "Generative visual manipulation on the natural image manifold"; Creswell & Bharath
    2018, "Inverting the generator of a generative adversarial network"). The lowest
    objective seen at any step of any restart — the initial codes included — is kept, so
    the result never fits worse than its initialisation. Images and their restarts are
    optimised together in batches; the objective is a sum of per-code terms and Adam
    scales each coordinate separately, so codes do not influence each other.

    Parameters
    ----------
    model : models.base.GenerativeModel
        Any model whose ``decode`` passes gradients to ``z`` (DCGAN, the ALI generator,
        a VAE decoder). Its weights are not changed: their ``requires_grad`` flags are
        switched off during the run and, like train/eval modes, restored afterwards.
    images : array_like, shape (N, C, H, W), float32 in [0, 1]
        Must match ``model.image_shape``.
    settings : InversionSettings, optional
        Defaults: ``"bank-halving"``, 150 steps, 4 restarts, lr 0.05, λ = 1e-3, batch 256,
        seed 0 (``BASELINE_INVERSION`` is the method of before: ``"adam"``, 200 steps, batch 64).
    ctx : JobContext, optional
        Progress (fraction of all steps) and cancel, checked after every step.
    init_codes : array_like, shape (N, d), optional
        Replace restart 0 with these codes (e.g. an encoder's ``E(x)``: the hybrid
        initialisation of Zhu et al. 2016).
    image_ids : array_like of int, shape (N,), optional
        Identities of the images for seeding (default ``0 … N−1``): image ``i`` starts from
        prior draws of a generator seeded with ``seed·1000003 + image_ids[i]``. Pass dataset
        indices so that an image gets the same start whatever else is inverted with it
        (`explorer.core.reconstruction.inverted.InvertedCodesStore` does).
    on_batch : callable, optional
        ``on_batch(start, stop, partial)`` after each finished batch, where ``partial`` is
        the `InversionResult` of images ``start:stop`` (its ``history`` is empty), to keep
        finished work if the job is cancelled later.
    **overrides
        Fields of `InversionSettings` to change, e.g. ``steps=50``.

    Returns
    -------
    InversionResult
        ``codes`` (N, d) float32 labelled ``CodeSource.INVERTED``, final losses, and more.

    Raises
    ------
    ValueError
        Images of the wrong shape, bad settings, or a ``decode`` that gives no gradient.
    explorer.core.jobs.Cancelled
        The job was cancelled (the model is restored first).
    explorer.core.batching.DeviceMemoryError
        One image with its restarts does not fit in the GPU's memory (one sentence; the model
        is restored first).
    """
    t_start = time.monotonic()
    s = replace(settings or InversionSettings(), **overrides)
    x_all = _check_images(model, images)
    n, d = len(x_all), int(model.latent_dim)
    r, steps = int(s.restarts), int(s.steps)
    if init_codes is not None:
        init_codes = np.asarray(init_codes, dtype=np.float32)
        if init_codes.shape != (n, d):
            raise ValueError(f"init_codes must have shape ({n}, {d}), got {init_codes.shape}")
    ids = np.arange(n, dtype=np.int64) if image_ids is None else np.asarray(image_ids, dtype=np.int64)
    if ids.shape != (n,):
        raise ValueError(f"image_ids must have shape ({n},), got {ids.shape}")
    if s.method == "bank-halving":
        from explorer.core.reconstruction.fast_inversion import invert_bank_halving

        with _frozen(model):
            return _timed(model, s, t_start, invert_bank_halving(
                model, x_all, s, ctx, init_codes, on_batch, objective=inversion_objective, result_type=InversionResult))
    codes = np.empty((n, d), np.float32)
    losses, mse_out, init_l, init_m = (np.empty(n) for _ in range(4))
    restart = np.empty(n, np.int64)
    history = np.zeros(steps + 1)
    from explorer.core.device import model_device
    from explorer.core.reconstruction.fast_inversion import keep_best_restarts, run_inversion_batches

    dev = model_device(model)  # codes and images on the model's device; float64 bookkeeping on the CPU

    def invert_batch(start: int, stop: int) -> None:  # idempotent: redone at half the size after an OOM
        b = stop - start
        x = torch.from_numpy(x_all[start:stop]).repeat(r, 1, 1, 1).to(dev)  # restart-major: row k·b + i
        z0 = _initial_codes(model, ids[start:stop], r, s.seed)
        if init_codes is not None:
            z0[0] = torch.from_numpy(init_codes[start:stop])
        z = z0.reshape(r * b, d).clone().to(dev).requires_grad_(True)
        # Adam is elementwise, so one optimiser over all codes = an independent Adam per code
        opt = torch.optim.Adam([z], lr=float(s.lr))
        best_loss = torch.full((r * b,), math.inf, dtype=torch.float64, device="cpu")
        best_mse = torch.full((r * b,), math.inf, dtype=torch.float64, device="cpu")
        best_z = z.detach().cpu().clone()
        batch_history = np.zeros(steps + 1)
        for step in range(steps + 1):
            loss, mse = inversion_objective(model, z, x, s.prior_weight)
            with torch.no_grad():
                ld = loss.detach().cpu().double()
                mse = mse.detach().cpu()
                better = ld < best_loss
                best_loss = torch.where(better, ld, best_loss)
                best_mse = torch.where(better, mse.double(), best_mse)
                best_z[better] = z.detach().cpu()[better]
                per_image = best_loss.reshape(r, b).min(dim=0).values
                batch_history[step] += float(per_image.sum())
                if step == 0:
                    k0 = ld.reshape(r, b).argmin(dim=0)
                    cols = torch.arange(b, device="cpu")
                    init_l[start:stop] = ld.reshape(r, b)[k0, cols].numpy()
                    init_m[start:stop] = mse.detach().double().reshape(r, b)[k0, cols].numpy()
            if step == steps:
                break
            (z.grad,) = torch.autograd.grad(loss.sum(), z)
            opt.step()
            if ctx is not None:
                ctx.progress((start * steps + b * (step + 1)) / (n * steps),
                             f"inverting images {start + 1:,}–{stop:,} of {n:,}: step {step + 1} / {steps}")
        history[:] += batch_history
        keep_best_restarts(slice(start, stop), r, best_z, best_loss, best_mse,
                           (codes, losses, mse_out, restart, init_l, init_m), InversionResult, s, on_batch)
        if ctx is not None and steps == 0:
            ctx.progress(stop / n, f"inverted {stop:,} / {n:,} images")

    with _frozen(model):  # the starts are per image, so the codes do not depend on the batch
        result = run_inversion_batches(invert_batch, n, s, dev, model, r,
                                       (codes, losses, mse_out, restart, init_l, init_m), history, InversionResult)
    return _timed(model, s, t_start, result)


def _timed(model, s: InversionSettings, t_start: float, res: InversionResult) -> InversionResult:
    """Record the wall seconds per image of a finished inversion (for `measured_seconds_per_image`)."""
    if len(res.codes):
        _MEASURED[(id(model), replace(s, seed=0))] = ((time.monotonic() - t_start) / len(res.codes), len(res.codes))
    return res


@dataclass
class EncoderInversionComparison:
    """Reconstructions of the same images from the encoder ``E(x)`` and from GAN inversion.

    Attributes
    ----------
    encoder_codes, inverted_codes : numpy.ndarray, shape (N, d), float32
    encoder_psnr, inverted_psnr : numpy.ndarray, shape (N,), float64
        PSNR in dB (data range 1.0) of ``decode(E(x))`` / ``decode(z*)`` against ``x``.
    encoder_ssim, inverted_ssim : numpy.ndarray, shape (N,), float64
        SSIM (Wang et al. 2004, skimage settings of `explorer.core.reconstruction.ssim`).
    settings : InversionSettings
        How the inverted codes were found.
    inversion : InversionResult or None
        The inversion run, or None when the inverted codes were given (e.g. from an
        `explorer.core.reconstruction.inverted.InvertedCodesStore`).
    """

    encoder_codes: np.ndarray
    inverted_codes: np.ndarray
    encoder_psnr: np.ndarray
    inverted_psnr: np.ndarray
    encoder_ssim: np.ndarray
    inverted_ssim: np.ndarray
    settings: InversionSettings
    inversion: InversionResult | None = None

    def to_dict(self) -> dict:
        """JSON summary (means over images).

        ``{"n_images", "encoder": {"psnr_db", "ssim"}, "inverted": {"psnr_db", "ssim"},
        "inversion": InversionSettings.to_dict()}``.
        """
        return {
            "n_images": int(len(self.encoder_psnr)),
            CodeSource.ENCODER.value: {"psnr_db": float(np.mean(self.encoder_psnr)),
                                       "ssim": float(np.mean(self.encoder_ssim))},
            CodeSource.INVERTED.value: {"psnr_db": float(np.mean(self.inverted_psnr)),
                                        "ssim": float(np.mean(self.inverted_ssim))},
            "inversion": self.settings.to_dict(),
        }


def compare_encoder_and_inversion(
    model,
    images,
    settings: InversionSettings | None = None,
    ctx: JobContext | None = None,
    *,
    init_from_encoder: bool = False,
    inverted_codes=None,
    **overrides: Any,
) -> EncoderInversionComparison:
    """How well the encoder of an ALI/BiGAN inverts its generator, against optimisation.

    Compares ``decode(E(x))`` (E: the encoder's mean) with ``decode(z*)``, ``z*`` from
    `invert`, by per-image PSNR and SSIM (Donahue et al. 2017 and Dumoulin et al. 2017
    report that ``G(E(x))`` is often far from ``x``; inversion is the upper reference).

    Parameters
    ----------
    model : models.base.GenerativeModel
        A model with an encoder (``has_encoder``), e.g. `models.ali.ALI`.
    images : array_like, shape (N, C, H, W), float32 in [0, 1]
    settings : InversionSettings, optional
    ctx : JobContext, optional
        Progress: encoding is the first 5 %, inversion the rest.
    init_from_encoder : bool
        Start restart 0 of the inversion from ``E(x)`` (then ``z*`` is never worse than
        ``E(x)`` in the inversion objective).
    inverted_codes : array_like, shape (N, d), optional
        Codes already found by inversion with ``settings`` (then nothing is optimised).
    **overrides
        Fields of `InversionSettings`.

    Returns
    -------
    EncoderInversionComparison

    Raises
    ------
    ValueError
        The model has no encoder, or the images do not fit it.
    explorer.core.jobs.Cancelled
    """
    if not getattr(model, "has_encoder", False):
        raise ValueError("this model has no encoder to compare with; GAN inversion alone is available")
    x = _check_images(model, images)
    s = replace(settings or InversionSettings(), **overrides)
    enc = encode_images(model, x, ctx=sub_context(ctx, 0.0, 0.05))
    inv = None
    if inverted_codes is None:
        inv = invert(model, x, s, sub_context(ctx, 0.05, 1.0), init_codes=enc if init_from_encoder else None)
        inverted_codes = inv.codes
    inverted_codes = np.asarray(inverted_codes, dtype=np.float32)
    if inverted_codes.shape != enc.shape:
        raise ValueError(f"inverted_codes must have shape {enc.shape}, got {inverted_codes.shape}")
    rec_e = decode_codes(model, enc)
    rec_i = decode_codes(model, inverted_codes)
    return EncoderInversionComparison(
        encoder_codes=enc, inverted_codes=inverted_codes,
        encoder_psnr=psnr(x, rec_e), inverted_psnr=psnr(x, rec_i),
        encoder_ssim=ssim(x, rec_e), inverted_ssim=ssim(x, rec_i), settings=s, inversion=inv,
    )

