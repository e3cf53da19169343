"""Reconstructions at a code precision: compression ratio, PSNR / SSIM per image, a JPEG baseline, rate–distortion.

The metrics (`explorer.core.reconstruction.metrics`) and bit counts (`explorer.core.reconstruction.bits`) are
re-exported here under their old names.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from explorer.core.codes import decode_codes, encode_images
from explorer.core.jobs import JobContext, sub_context
from explorer.core.reconstruction.bits import code_bpp, compression_ratio, image_bits
from explorer.core.reconstruction.codecs import RD_KEYS, _check_codec, codec_curve, codec_round_trip, match_ratio
from explorer.core.reconstruction.inversion import CodeSource, InversionResult, InversionSettings, invert
from explorer.core.reconstruction.metrics import (
    SSIM_MIN_SIZE,
    SSIM_SETTINGS,
    Z_95,
    finite_or_none,
    mean_ci,
    psnr,
    ssim,
    ssim_or_nan,
    ssim_unavailable_reason,
    worst_best,
)
from explorer.core.reconstruction.quantize import Quantizer, code_bits, parse_precision, round_trip

__all__ = [
    "SAMPLES",
    "CODE_SOURCES",
    "Z_95",
    "SSIM_SETTINGS",
    "SSIM_MIN_SIZE",
    "ssim_unavailable_reason",
    "image_bits",
    "compression_ratio",
    "code_bpp",
    "psnr",
    "ssim",
    "mean_ci",
    "worst_best",
    "latent_codes",
    "reconstruct",
    "CodecBaseline",
    "ReconstructionReport",
    "reconstruction_report",
    "evaluate_reconstruction",
    "RD_KEYS",
    "rate_distortion",
]

#: How a code is taken from a VAE/ALI encoder: the posterior mean, or one seeded draw from it.
SAMPLES: tuple[str, ...] = ("mean", "posterior")

#: Where codes come from: "auto" (encoder if the model has one, else GAN inversion), or forced.
CODE_SOURCES: tuple[str, ...] = ("auto", CodeSource.ENCODER.value, CodeSource.INVERTED.value)


# -- reconstructions ----------------------------------------------------------------------


def _check_images(model, images: Any) -> np.ndarray:
    x = np.ascontiguousarray(images, dtype=np.float32)
    if x.ndim != 4 or tuple(x.shape[1:]) != tuple(model.image_shape):
        raise ValueError(f"images of shape {x.shape[1:]} do not fit the model's input {tuple(model.image_shape)}")
    return x


def _resolve_source(model, codes_source: str) -> CodeSource:
    if codes_source == "auto":
        return CodeSource.ENCODER if getattr(model, "has_encoder", False) else CodeSource.INVERTED
    if codes_source not in CODE_SOURCES:
        raise ValueError(f"codes_source must be one of {CODE_SOURCES}, got {codes_source!r}")
    return CodeSource(codes_source)


def _posterior_sample(model, images: np.ndarray, seed: int, batch_size: int, ctx: JobContext | None) -> np.ndarray:
    """``z = mu + exp(logvar/2)·ε`` with ε from ``torch.Generator().manual_seed(seed)``, batch by batch."""
    if not hasattr(model, "posterior"):
        raise ValueError("sample='posterior' needs a model with a Gaussian encoder (VAE or ALI)")
    from models.base import check_finite

    g = torch.Generator().manual_seed(int(seed))
    n = len(images)
    out = np.empty((n, model.latent_dim), np.float32)
    x_all = torch.from_numpy(images)
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            mu, logvar = model.posterior(x_all[start:stop])
            eps = torch.randn(mu.shape, generator=g, device="cpu").to(mu.device)  # same draws on every device
            out[start:stop] = check_finite(mu + torch.exp(0.5 * logvar) * eps, model, "posterior").cpu().numpy()
            if ctx is not None:
                ctx.progress(stop / n, f"sampled q(z|x) for {stop:,} / {n:,} images")
    return out


def latent_codes(
    model,
    images: Any,
    codes_source: str = "auto",
    sample: str = "mean",
    seed: int = 0,
    ctx: JobContext | None = None,
    *,
    inversion: InversionSettings | None = None,
    batch_size: int = 500,
) -> tuple[np.ndarray, CodeSource, InversionResult | None]:
    """Full-precision codes for ``images``: from the encoder, or by GAN inversion.

    Parameters
    ----------
    model : models.base.GenerativeModel
    images : array_like, shape (N, C, H, W), float32 in [0, 1]
    codes_source : {"auto", "encoder", "inverted"}
        "auto": the encoder if ``model.has_encoder``, else `explorer.core.reconstruction.inversion.invert`.
    sample : {"mean", "posterior"}
        Encoder codes: the posterior mean ``E[z|x]`` or one draw ``z ~ q(z|x)`` made with a
        ``torch.Generator`` seeded with ``seed`` (needs ``model.posterior``).
    seed : int
        Seed of the posterior draw; inversion uses ``inversion.seed``.
    ctx : JobContext, optional
    inversion : InversionSettings, optional
        For inverted codes (default settings otherwise).
    batch_size : int
        Images per encoder pass.

    Returns
    -------
    codes : numpy.ndarray, shape (N, d), float32
    source : CodeSource
    inversion_result : InversionResult or None

    Raises
    ------
    models.base.NoEncoderError
        ``codes_source="encoder"`` on a GAN without encoder.
    ValueError
        Bad ``codes_source``/``sample``, or images that do not fit the model.
    """
    if sample not in SAMPLES:
        raise ValueError(f"sample must be one of {SAMPLES}, got {sample!r}")
    x = _check_images(model, images)
    source = _resolve_source(model, codes_source)
    if source is CodeSource.INVERTED:
        result = invert(model, x, inversion, ctx)
        return result.codes, source, result
    if sample == "posterior":
        return _posterior_sample(model, x, seed, batch_size, ctx), source, None
    return encode_images(model, x, batch_size=batch_size, ctx=ctx), source, None


def reconstruct(
    model,
    images: Any,
    precision: Any = "float32",
    sample: str = "mean",
    seed: int = 0,
    ctx: JobContext | None = None,
    *,
    codes: Any = None,
    codes_source: str = "auto",
    quantizer: Quantizer | None = None,
    inversion: InversionSettings | None = None,
    batch_size: int = 500,
) -> tuple[np.ndarray, np.ndarray]:
    """Encode (or invert), store the code at ``precision``, and decode it.

    The images returned are decoded from the code *as stored* at ``precision``, so quality
    measured on them belongs to `compression_ratio` at the same precision.

    Parameters
    ----------
    model : models.base.GenerativeModel
    images : array_like, shape (N, C, H, W), float32 in [0, 1]
    precision : str or PrecisionSpec
        "float32", "float16" or "kbit" (k = 2…16).
    sample : {"mean", "posterior"}
        See `latent_codes`.
    seed : int
        Seed of the posterior draw.
    ctx : JobContext, optional
        Progress: codes 0–90 %, decoding 90–100 %; cancel between batches.
    codes : array_like, shape (N, d), optional
        Full-precision codes already computed for these images (skips encoder/inversion,
        e.g. to try several precisions after one slow inversion).
    codes_source : {"auto", "encoder", "inverted"}
        See `latent_codes`; ignored when ``codes`` is given.
    quantizer : explorer.core.reconstruction.quantize.Quantizer, optional
        For k-bit: a fitted quantiser (e.g. on training-set codes). Default: fitted on
        these codes (range ``mean ± 3σ`` per dimension).
    inversion : InversionSettings, optional
    batch_size : int

    Returns
    -------
    codes : numpy.ndarray, shape (N, d), float32
        The codes at ``precision`` (what the decoder saw).
    reconstructions : numpy.ndarray, shape (N, C, H, W), float32 in [0, 1]

    Raises
    ------
    ValueError, models.base.NoEncoderError, explorer.core.jobs.Cancelled
    """
    parse_precision(precision)
    x = _check_images(model, images)
    if codes is None:
        codes, _, _ = latent_codes(model, x, codes_source, sample, seed, sub_context(ctx, 0.0, 0.9),
                                   inversion=inversion, batch_size=batch_size)
    else:
        codes = np.asarray(codes, dtype=np.float32)
        if codes.shape != (len(x), model.latent_dim):
            raise ValueError(f"codes must have shape ({len(x)}, {model.latent_dim}), got {codes.shape}")
    stored = round_trip(codes, precision, quantizer)
    recon = decode_codes(model, stored, batch_size=batch_size, ctx=sub_context(ctx, 0.9, 1.0))
    return stored, recon


@dataclass
class CodecBaseline:
    """A standard image codec at (about) the compression ratio of a latent code.

    Attributes
    ----------
    codec : {"jpeg", "webp"}
    quality : int
        Codec quality chosen by `explorer.core.reconstruction.codecs.match_ratio`.
    compression_ratio : float
        Achieved ratio: bits of the 8-bit originals / bits written, over the whole set.
    target_ratio : float
        The latent code's ratio it was matched to.
    reachable : bool
        False when no quality reaches the target; then ``quality`` is the closest end.
    message : str
        One sentence for the user (says honestly when the target is out of reach).
    psnr, ssim : numpy.ndarray, shape (N,), float64
        Per image, against the same originals as the model (dB; SSIM in [-1, 1]).
    nbytes : numpy.ndarray, shape (N,), int64
        Bytes written per image.
    images : numpy.ndarray, shape (N, C, H, W), float32 in [0, 1]
        Decoded images, for showing next to the reconstructions.
    """

    codec: str
    quality: int
    compression_ratio: float
    target_ratio: float
    reachable: bool
    message: str
    psnr: np.ndarray
    ssim: np.ndarray
    nbytes: np.ndarray
    images: np.ndarray

    @property
    def psnr_db(self) -> float:
        """Mean PSNR over images, dB."""
        return float(np.mean(self.psnr))

    @property
    def ssim_mean(self) -> float:
        """Mean SSIM over images."""
        return float(np.mean(self.ssim))

    def to_dict(self) -> dict:
        """``{"quality", "compression_ratio", "psnr_db", "ssim"}`` (means over images)."""
        return {"quality": int(self.quality), "compression_ratio": float(self.compression_ratio),
                "psnr_db": self.psnr_db, "ssim": finite_or_none(self.ssim_mean)}


@dataclass
class ReconstructionReport:
    """Everything about reconstructions at one precision; `to_dict` is the JSON summary.

    Attributes
    ----------
    precision : str
        Canonical name ("float32", "float16", "8bit", …).
    compression_ratio : float
        ``H·W·C·8 / (d·b)`` (see `compression_ratio`).
    code_bits : int
        Bits per code, ``d·b``.
    bpp : float
        Bits per pixel of the code, ``d·b / (H·W)``.
    codes_source : CodeSource
        "encoder" or "inverted" (GAN inversion — the UI must say so).
    psnr, ssim : numpy.ndarray, shape (N,), float64
        Per image: dB, and SSIM in [-1, 1].
    psnr_ci, ssim_ci : (float, float)
        95 % confidence interval of the mean, ``mean ± 1.96·s/√n`` (`mean_ci`).
    codes : numpy.ndarray, shape (N, d), float32
        Codes at ``precision``.
    reconstructions : numpy.ndarray, shape (N, C, H, W), float32 in [0, 1]
    jpeg : CodecBaseline or None
        JPEG at the closest reachable ratio; None when not asked or impossible
        (e.g. C not 1 or 3; see ``notes``).
    inversion : InversionResult or None
        The inversion run by this report (None when the codes were given).
    inversion_settings : InversionSettings or None
        How inverted codes were found (given or run here); None for encoder codes or
        when inverted codes were given without their settings.
    notes : list of str
        Sentences for the user (inverted codes, unreachable JPEG ratio, …).
    """

    precision: str
    compression_ratio: float
    code_bits: int
    bpp: float
    codes_source: CodeSource
    psnr: np.ndarray
    ssim: np.ndarray
    psnr_ci: tuple[float, float]
    ssim_ci: tuple[float, float]
    codes: np.ndarray
    reconstructions: np.ndarray
    jpeg: CodecBaseline | None = None
    inversion: InversionResult | None = None
    inversion_settings: InversionSettings | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def n_images(self) -> int:
        """Number of images measured."""
        return int(len(self.psnr))

    @property
    def psnr_db(self) -> float:
        """Mean PSNR over images, dB (inf if any image is reproduced exactly)."""
        return float(np.mean(self.psnr)) if len(self.psnr) else math.nan

    @property
    def ssim_mean(self) -> float:
        """Mean SSIM over images."""
        return float(np.mean(self.ssim)) if len(self.ssim) else math.nan

    def worst_best(self, n: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the ``n`` worst and ``n`` best images by PSNR (`worst_best`)."""
        return worst_best(self.psnr, n)

    def to_dict(self) -> dict:
        """JSON summary with exactly the keys ``precision, compression_ratio, psnr_db, ssim,
        n_images, codes, jpeg`` (``jpeg``: ``quality, compression_ratio, psnr_db, ssim`` or None)."""
        return {
            "precision": self.precision,
            "compression_ratio": float(self.compression_ratio),
            "psnr_db": self.psnr_db,
            "ssim": finite_or_none(self.ssim_mean),
            "n_images": self.n_images,
            "codes": self.codes_source.value,
            "jpeg": self.jpeg.to_dict() if self.jpeg is not None else None,
        }


def _jpeg_baseline(images: np.ndarray, target: float, ctx: JobContext | None) -> CodecBaseline:
    m = match_ratio(images, target, "jpeg", ctx=sub_context(ctx, 0.0, 0.7))
    decoded, nbytes = codec_round_trip(images, m.quality, "jpeg")
    if ctx is not None:
        ctx.check()
    return CodecBaseline(
        codec="jpeg", quality=m.quality, compression_ratio=m.compression_ratio, target_ratio=float(target),
        reachable=m.reachable, message=m.message, psnr=psnr(images, decoded),
        ssim=ssim_or_nan(images, decoded, ctx=sub_context(ctx, 0.7, 1.0)), nbytes=nbytes, images=decoded,
    )


def reconstruction_report(
    model,
    images: Any,
    precision: Any = "float32",
    ctx: JobContext | None = None,
    codes_source: str = "auto",
    *,
    sample: str = "mean",
    seed: int = 0,
    codes: Any = None,
    quantizer: Quantizer | None = None,
    inversion: InversionSettings | None = None,
    jpeg: bool = True,
    originals: Any = None,
) -> ReconstructionReport:
    """Reconstruct ``images`` at ``precision`` and measure them, with a JPEG baseline at the same ratio.

    Parameters
    ----------
    model : models.base.GenerativeModel
    images : array_like, shape (N, C, H, W), float32 in [0, 1]
    precision : str or PrecisionSpec
    ctx : JobContext, optional
        Progress: reconstruction 0–60 %, metrics 60–75 %, JPEG 75–100 %.
    codes_source : {"auto", "encoder", "inverted"}
        How codes are found; when ``codes`` is given, only how they are labelled
        ("auto": "encoder" if the model has one, else "inverted").
    sample, seed, codes, quantizer, inversion
        See `reconstruct`.
    jpeg : bool
        Add the JPEG baseline (`explorer.core.reconstruction.codecs.match_ratio`).
    originals : array_like, shape (N, C0, H0, W0), optional
        The dataset images *before* they were resized / converted to fit the model
        (`explorer.data.fit_to_model`). When their shape differs from the model's, the
        compression ratio uses the bits of these original images (DESIGN.md §3), and the
        JPEG baseline compresses these originals at that ratio and is scored against them;
        the model's PSNR/SSIM still compare ``images`` with their reconstructions at the
        model's resolution. A note says so.

    Returns
    -------
    ReconstructionReport
        ``ssim`` is NaN per image (``to_dict``: None) when the images are smaller than the
        11×11 SSIM window, with a note (`ssim_unavailable_reason`).

    Raises
    ------
    ValueError, models.base.NoEncoderError, explorer.core.jobs.Cancelled
    """
    spec = parse_precision(precision)
    x = _check_images(model, images)
    inv = None
    notes: list[str] = []
    if codes is None:
        full, source, inv = latent_codes(model, x, codes_source, sample, seed, sub_context(ctx, 0.0, 0.55),
                                         inversion=inversion)
    else:
        full = codes
        source = _resolve_source(model, codes_source)
    if source is CodeSource.INVERTED:
        notes.append("codes found by GAN inversion (optimising z through the generator), not by an encoder")
    stored, recon = reconstruct(model, x, spec, codes=full, quantizer=quantizer, ctx=sub_context(ctx, 0.55, 0.6))
    p = psnr(x, recon)
    s = ssim_or_nan(x, recon, ctx=sub_context(ctx, 0.6, 0.75))
    reason = ssim_unavailable_reason(x.shape[1:], "the model's images")
    if reason:
        notes.append(reason)
    exact = int(np.isinf(p).sum())
    if exact:
        notes.append(f"{exact} of {len(p)} images are reproduced exactly (PSNR = inf)")
    ref = x
    if originals is not None:
        orig = np.ascontiguousarray(originals, dtype=np.float32)
        if orig.ndim != 4 or len(orig) != len(x):
            raise ValueError(f"originals must have shape (N, C, H, W) with N = {len(x)}, got {orig.shape}")
        if orig.shape[1:] != x.shape[1:]:
            ref = orig
            c0, h0, w0 = orig.shape[1:]
            c, h, w = x.shape[1:]
            notes.append(f"The compression ratio uses the bits of the original {h0}×{w0}×{c0} images "
                         f"(the model sees them resized to {h}×{w}×{c}); JPEG compresses the originals "
                         f"and is scored against them.")
            if jpeg:
                r2 = ssim_unavailable_reason(orig.shape[1:], "the original images")
                if r2:
                    notes.append(r2 + " JPEG has no SSIM.")
    ratio = image_bits(ref.shape[1:]) / code_bits(model.latent_dim, spec)
    baseline = None
    if jpeg and len(x):
        if ref.shape[1] in (1, 3):
            baseline = _jpeg_baseline(ref, ratio, sub_context(ctx, 0.75, 1.0))
            if not baseline.reachable:
                notes.append(baseline.message)
        else:
            notes.append(f"no JPEG baseline: JPEG stores 1 or 3 channels, these images have {model.image_shape[0]}")
    if ctx is not None:
        ctx.progress(1.0, f"reconstructions at {spec.name} measured")
    return ReconstructionReport(
        precision=spec.name, compression_ratio=ratio, code_bits=code_bits(model.latent_dim, spec),
        bpp=code_bpp(ref.shape[1:], model.latent_dim, spec), codes_source=source,
        psnr=p, ssim=s, psnr_ci=mean_ci(p)[1:], ssim_ci=mean_ci(s)[1:], codes=stored,
        reconstructions=recon, jpeg=baseline, inversion=inv, notes=notes,
        inversion_settings=(inv.settings if inv is not None else inversion) if source is CodeSource.INVERTED else None,
    )


def evaluate_reconstruction(
    model,
    images: Any,
    precision: Any = "float32",
    ctx: JobContext | None = None,
    codes_source: str = "auto",
    **kwargs: Any,
) -> dict:
    """JSON summary of `reconstruction_report`.

    Returns
    -------
    dict
        Exactly ``{"precision": str, "compression_ratio": float, "psnr_db": float (mean, dB),
        "ssim": float (mean), "n_images": int, "codes": "encoder" | "inverted",
        "jpeg": {"quality": int, "compression_ratio": float, "psnr_db": float, "ssim": float}
        or None}``. Per-image values, confidence intervals and notes (e.g. an
        unreachable JPEG ratio) are in the `ReconstructionReport`.

    Other parameters are those of `reconstruction_report`.
    """
    return reconstruction_report(model, images, precision, ctx, codes_source, **kwargs).to_dict()


# -- rate–distortion ----------------------------------------------------------------------


def rate_distortion(
    model,
    images: Any,
    precisions: Sequence[Any] = ("float32", "float16", "8bit", "4bit"),
    codecs: Sequence[str] = ("jpeg",),
    ctx: JobContext | None = None,
    *,
    qualities: Iterable[int] | None = None,
    codes: Any = None,
    codes_source: str = "auto",
    sample: str = "mean",
    seed: int = 0,
    inversion=None,
    originals: Any = None,
) -> list[dict]:
    """Rate–distortion table: the latent code at several precisions against standard codecs.

    Codes are computed once (encoder or GAN inversion) and stored at each precision (k-bit
    quantisers fitted on these codes); codecs run at each quality
    (`explorer.core.reconstruction.codecs.codec_curve`).

    Parameters
    ----------
    model : models.base.GenerativeModel
    images : array_like, shape (N, C, H, W), float32 in [0, 1], fitted to ``model.image_shape``
    precisions : sequence of str
        See `explorer.core.reconstruction.quantize.parse_precision`.
    codecs : sequence of {"jpeg", "webp"}
        Unavailable codecs raise; pass ``available_codecs()`` to take what exists.
    ctx : JobContext, optional
        Progress: codes 0–50 %, precisions 50–75 %, codecs 75–100 %.
    qualities : iterable of int, optional
        Codec qualities (default `explorer.core.reconstruction.codecs.DEFAULT_QUALITIES`).
    codes, codes_source, sample, seed, inversion
        See `reconstruct`.
    originals : array_like, shape (N, C0, H0, W0), optional
        The images before they were fitted to the model, as in `measure_reconstructions`: when
        their shape differs, every ratio and bits per pixel is that of the original image's
        bits (DESIGN.md §3: H0·W0·C0·8 / code bits), and the codecs compress the originals and
        are scored against them — the same definition as the Images tab and ``evaluate``.

    Returns
    -------
    list of dict
        One row per setting with keys `RD_KEYS`: ``method`` ("latent (encoder)",
        "latent (inverted)", "jpeg", "webp"), ``setting`` (precision name or
        "quality 50"), ``ratio`` (compression ratio), ``bpp`` (bits per pixel), ``psnr``
        (mean, dB), ``ssim`` (mean; None when the images are smaller than SSIM's 11×11
        window, `ssim_unavailable_reason`).

    Raises
    ------
    ValueError, models.base.NoEncoderError, explorer.core.jobs.Cancelled
    """
    x = np.ascontiguousarray(images, dtype=np.float32)
    ref = x
    if originals is not None:
        orig = np.ascontiguousarray(originals, dtype=np.float32)
        if orig.ndim != 4 or len(orig) != len(x):
            raise ValueError(f"originals must have shape (N, C, H, W) with N = {len(x)}, got {orig.shape}")
        ref = orig
    specs = [parse_precision(p) for p in precisions]
    codecs = [_check_codec(c) for c in codecs] if ref.shape[1] in (1, 3) else []
    if codes is None:
        codes, source, _ = latent_codes(model, x, codes_source, sample, seed, sub_context(ctx, 0.0, 0.5),
                                        inversion=inversion)
    else:
        source = _resolve_source(model, codes_source)
    rows: list[dict] = []
    for k, spec in enumerate(specs):
        _, recon = reconstruct(model, x, spec, codes=codes)
        rows.append({"method": f"latent ({source.value})", "setting": spec.name,
                     "ratio": compression_ratio(ref.shape[1:], model.latent_dim, spec),
                     "bpp": code_bpp(ref.shape[1:], model.latent_dim, spec),
                     "psnr": float(np.mean(psnr(x, recon))),
                     "ssim": finite_or_none(float(np.mean(ssim_or_nan(x, recon))))})
        if ctx is not None:
            ctx.progress(0.5 + 0.25 * (k + 1) / max(len(specs), 1), f"latent code at {spec.name}")
    for k, codec in enumerate(codecs):
        sub = sub_context(ctx, 0.75 + 0.25 * k / len(codecs), 0.75 + 0.25 * (k + 1) / len(codecs))
        for pt in codec_curve(ref, codec, qualities, sub):
            rows.append({"method": codec, "setting": f"quality {pt.quality}", "ratio": pt.compression_ratio,
                         "bpp": pt.bpp, "psnr": pt.psnr_db, "ssim": finite_or_none(pt.ssim)})
    return rows
