"""Reconstructions of dataset images, put together once for the panel, `render reconstructions` and `evaluate`.

Each function here is a job (DESIGN.md §2 rule 3): it takes the model, the dataset as
opened and plain settings, reports progress and checks for cancel through ``ctx``, and
returns core results. It decides which dataset images are measured (a selection, a seeded
sample, the first N, or the worst/best by PSNR of a seeded pool), fits them to the model,
takes the codes of a GAN without encoder from an `explorer.core.reconstruction.inverted.InvertedCodesStore`
(so each image is inverted once), and makes the reports of `explorer.core.reconstruction.reconstruct`.
The reconstruction panel, ``latent-explorer render reconstructions`` and ``latent-explorer
evaluate --metrics reconstruction`` call these functions and only display what they return.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from explorer.core.jobs import JobContext, sub_context
from explorer.core.reconstruction.codecs import available_codecs
from explorer.core.reconstruction.inversion import CodeSource, EncoderInversionComparison, compare_encoder_and_inversion
from explorer.core.reconstruction.metrics import worst_best
from explorer.core.reconstruction.reconstruct import (
    ReconstructionReport,
    latent_codes,
    rate_distortion,
    reconstruction_report,
)
from explorer.data import Dataset, fit_to_model, resize_images, subsample_indices

if TYPE_CHECKING:
    from explorer.core.reconstruction.inversion import InversionSettings
    from explorer.core.reconstruction.inverted import InvertedCodesStore

__all__ = [
    "SELECTIONS",
    "WORST_BEST_POOL",
    "DEFAULT_INVERSION_IMAGES",
    "RD_PRECISIONS",
    "ImagesResult",
    "fitted_images",
    "stored_codes",
    "reconstruct_images",
    "measure_images",
    "measure_dataset",
    "reconstruction_records",
    "reconstruction_record",
    "measure_rate_distortion",
    "compare_inversion",
    "reconstruction_figure",
]

#: How the images of a reconstruction grid are chosen: the given dataset indices, a seeded
#: random sample, the worst or best by PSNR of a seeded pool, or the first N.
SELECTIONS: tuple[str, ...] = ("selection", "random", "worst", "best", "first")

#: Images searched for the worst/best (seeded sample) unless told otherwise.
WORST_BEST_POOL = 500

#: Images measured for reconstructions of a GAN without encoder unless told otherwise
#: (GAN inversion optimises each code: ~0.1–1 s per image on a CPU).
DEFAULT_INVERSION_IMAGES = 100

#: Precisions of the rate–distortion curves of the panel.
RD_PRECISIONS: tuple[str, ...] = ("float32", "float16", "12bit", "8bit", "6bit", "4bit", "3bit", "2bit")


@dataclass
class ImagesResult:
    """Reconstructions of some dataset images, and which images they are.

    Attributes
    ----------
    indices : numpy.ndarray, shape (N,), int64
        Dataset indices, in the order of the report's images.
    report : explorer.core.reconstruction.ReconstructionReport
        The measurements of these images.
    what : str
        How they were chosen, for a summary line, e.g. "5 random images (seed 0)".
    images : numpy.ndarray, shape (N, C, H, W), float32 in [0, 1]
        The images as the model sees them (fitted to ``model.image_shape``).
    """

    indices: np.ndarray
    report: ReconstructionReport
    what: str
    images: np.ndarray


def _has_encoder(model) -> bool:
    return bool(getattr(model, "has_encoder", False))


def fitted_images(model, dataset: Dataset, indices) -> tuple[np.ndarray, np.ndarray]:
    """The dataset images at ``indices``, fitted to the model and as opened.

    Parameters
    ----------
    model : models.base.GenerativeModel
    dataset : explorer.data.Dataset
        As opened (original resolution).
    indices : array_like of int, shape (N,)

    Returns
    -------
    images : numpy.ndarray, shape (N, C, H, W), float32 in [0, 1]
        Fitted to ``model.image_shape`` (`explorer.data.fit_to_model`).
    originals : numpy.ndarray, shape (N, C0, H0, W0), float32 in [0, 1]
        The same images before fitting.
    """
    idx = np.asarray(indices, dtype=np.int64)
    fitted = fit_to_model(dataset, model.image_shape)
    return np.ascontiguousarray(fitted.images[idx]), np.ascontiguousarray(dataset.images[idx])


def stored_codes(model, store: InvertedCodesStore | None, indices, images,
                 ctx: JobContext | None = None) -> np.ndarray | None:
    """Inverted codes of a GAN without encoder from ``store`` (inverting only the images not done before).

    Parameters
    ----------
    model : models.base.GenerativeModel
    store : InvertedCodesStore or None
        Of this model and dataset.
    indices : array_like of int, shape (N,)
        Dataset indices.
    images : numpy.ndarray, shape (N, C, H, W)
        The images at ``indices``, fitted to the model.
    ctx : JobContext, optional

    Returns
    -------
    numpy.ndarray, shape (N, d), float32, or None
        None for a model with an encoder, or without a store (then the report finds the codes).
    """
    if store is None or _has_encoder(model):
        return None
    return store.get(indices, images, ctx).codes


def _selected(dataset: Dataset, source: str, n: int, indices, seed: int) -> tuple[np.ndarray, str]:
    """Dataset indices and their description for the sources other than worst/best."""
    if source == "selection":
        idx = np.asarray(indices if indices is not None else [], dtype=np.int64)[:n]
        if len(idx) == 0:
            raise ValueError("no points are selected; select points in the embedding or choose a random sample")
        return idx, f"{len(idx)} selected images"
    if source == "random":
        idx = subsample_indices(len(dataset), n, seed)
        return idx, f"{len(idx)} random images (seed {seed})"
    idx = np.arange(min(int(n), len(dataset)), dtype=np.int64)
    return idx, f"the first {len(idx)} images"


def reconstruct_images(model, dataset: Dataset, source: str, n: int, indices=None, precision: Any = "float32",
                       sample: str = "mean", seed: int = 0, inversion: InversionSettings | None = None,
                       pool: int = WORST_BEST_POOL, ctx: JobContext | None = None,
                       store: InvertedCodesStore | None = None, *, jpeg: bool = True) -> ImagesResult:
    """Choose ``n`` dataset images, reconstruct them at ``precision`` and measure them (job).

    Parameters
    ----------
    model : models.base.GenerativeModel
    dataset : explorer.data.Dataset
        As opened (original resolution); fitted to the model here.
    source : {"selection", "random", "worst", "best", "first"}
        "selection": the first ``n`` of ``indices``; "random": a seeded sample of ``n``
        (`explorer.data.subsample_indices`); "worst"/"best": the ``n`` lowest/highest PSNR
        of a seeded sample of ``max(pool, n)`` images, measured at ``precision``; "first":
        dataset images 0 … n−1.
    n : int
        Images wanted.
    indices : array_like of int, optional
        Dataset indices for ``source == "selection"``.
    precision, sample, seed, inversion
        See `explorer.core.reconstruction.reconstruction_report`; ``seed`` also seeds
        the samples of images.
    pool : int
        Worst/best: size of the seeded sample searched.
    ctx : JobContext, optional
    store : InvertedCodesStore, optional
        A GAN without encoder takes its inverted codes from here (made with its settings,
        which replace ``inversion``); without it every call inverts again.
    jpeg : bool
        Add the JPEG baseline to the report.

    Returns
    -------
    ImagesResult
        Its report compares the fitted images with their reconstructions; the compression
        ratio and JPEG use the images as opened when fitting changed their shape.

    Raises
    ------
    ValueError
        Unknown ``source``, or an empty selection.
    models.base.NoEncoderError, explorer.core.jobs.Cancelled
    """
    if source not in SELECTIONS:
        raise ValueError(f"source must be one of {SELECTIONS}, got {source!r}")
    if source in ("worst", "best"):
        pool_idx = subsample_indices(len(dataset), max(int(pool), int(n)), seed)
        x_pool, orig_pool = fitted_images(model, dataset, pool_idx)
        pool_codes = stored_codes(model, store, pool_idx, x_pool, sub_context(ctx, 0.0, 0.7))
        if pool_codes is not None:
            inversion = store.settings
        full = reconstruction_report(model, x_pool, precision, sub_context(ctx, 0.7, 0.8), sample=sample,
                                     seed=seed, inversion=inversion, jpeg=False, codes=pool_codes)
        worst, best = worst_best(full.psnr, n)
        pick = worst if source == "worst" else best
        idx, x, orig = pool_idx[pick], x_pool[pick], orig_pool[pick]
        # full-precision codes: reuse a slow inversion; encoder codes are cheap to recompute
        if pool_codes is not None:
            codes = pool_codes[pick]
        else:
            codes = full.inversion.codes[pick] if full.inversion is not None else None
        what = f"the {len(idx)} {source} by PSNR of {len(pool_idx):,} images (seed {seed})"
        ctx = sub_context(ctx, 0.8, 1.0)
    else:
        idx, what = _selected(dataset, source, n, indices, seed)
        x, orig = fitted_images(model, dataset, idx)
        codes = stored_codes(model, store, idx, x, sub_context(ctx, 0.0, 0.8))
        if codes is not None:
            inversion = store.settings
            ctx = sub_context(ctx, 0.8, 1.0)
    rep = reconstruction_report(model, x, precision, ctx, sample=sample, seed=seed, inversion=inversion,
                                jpeg=jpeg, codes=codes, originals=orig)
    return ImagesResult(idx, rep, what, x)


def measure_images(
    model,
    dataset: Dataset,
    n_images: int | None,
    precisions: Sequence[Any] = ("float32",),
    sample: str = "mean",
    seed: int = 0,
    inversion: InversionSettings | None = None,
    ctx: JobContext | None = None,
    store: InvertedCodesStore | None = None,
) -> tuple[np.ndarray, np.ndarray, list[ReconstructionReport]]:
    """Reports of all images or a seeded sample, at each precision, from codes found once (job).

    Parameters
    ----------
    model : models.base.GenerativeModel
    dataset : explorer.data.Dataset
        As opened; fitted to the model here. When fitting changes the shape, the
        compression ratio uses the bits of the original images and JPEG runs on them.
    n_images : int or None
        A seeded sample of this many (`explorer.data.subsample_indices`); None: all.
    precisions : sequence of str
        One report per precision, in this order.
    sample, seed, inversion
        See `explorer.core.reconstruction.latent_codes`; ``seed`` also seeds the sample.
    ctx : JobContext, optional
        Progress: codes 0–80 %, reports 80–100 %.
    store : InvertedCodesStore, optional
        A GAN without encoder takes its inverted codes from here (see `stored_codes`).

    Returns
    -------
    indices : numpy.ndarray, shape (N,), int64
    images : numpy.ndarray, shape (N, C, H, W), float32
        The images measured, fitted to the model.
    reports : list of ReconstructionReport
        One per precision; PSNR/SSIM per image with 95 % intervals of the means.
    """
    idx = subsample_indices(len(dataset), n_images, seed)
    x, orig = fitted_images(model, dataset, idx)
    found = None
    codes = stored_codes(model, store, idx, x, sub_context(ctx, 0.0, 0.8))
    if codes is not None:
        inversion, source = store.settings, CodeSource.INVERTED
    else:
        codes, source, found = latent_codes(model, x, "auto", sample, seed, sub_context(ctx, 0.0, 0.8),
                                            inversion=inversion)
        if found is not None:
            inversion = found.settings
    reports = []
    k = max(len(precisions), 1)
    for i, p in enumerate(precisions):
        rep = reconstruction_report(model, x, p, sub_context(ctx, 0.8 + 0.2 * i / k, 0.8 + 0.2 * (i + 1) / k),
                                    codes_source=source.value, codes=codes, inversion=inversion, originals=orig)
        rep.inversion = found
        reports.append(rep)
    return idx, x, reports


def measure_dataset(model, dataset: Dataset, n: int | None, precision: Any = "float32", sample: str = "mean",
                    seed: int = 0, inversion: InversionSettings | None = None, ctx: JobContext | None = None,
                    store: InvertedCodesStore | None = None) -> ImagesResult:
    """Dataset means with 95 % intervals: the whole dataset (``n`` None) or a seeded sample of ``n`` (job).

    See `measure_images`; returns its one report with the images and a description
    ("the whole dataset (10,000 images)" or "1,000 images sampled with seed 0").
    """
    idx, x, (rep,) = measure_images(model, dataset, n, (precision,), sample, seed, inversion, ctx, store)
    what = (f"the whole dataset ({len(idx):,} images)" if len(idx) == len(dataset)
            else f"{len(idx):,} images sampled with seed {seed}")
    return ImagesResult(idx, rep, what, x)


def _finite(v: float) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def _record(rep: ReconstructionReport, sample: str) -> dict:
    """The JSON record of `reconstruction_records` for one report."""
    rec = rep.to_dict()
    if rep.jpeg is not None:
        rec["jpeg"]["reachable"] = bool(rep.jpeg.reachable)
        rec["jpeg"]["message"] = rep.jpeg.message
    rec["psnr_db_ci95"] = [_finite(v) for v in rep.psnr_ci]
    rec["ssim_ci95"] = [_finite(v) for v in rep.ssim_ci]
    rec["bpp"] = float(rep.bpp)
    rec["code_bits"] = int(rep.code_bits)
    rec["sample"] = sample if rep.codes_source is CodeSource.ENCODER else None
    rec["notes"] = list(rep.notes)
    if rep.codes_source is CodeSource.INVERTED and rep.inversion_settings is not None:
        rec["inversion"] = rep.inversion_settings.to_dict()
    return rec


def reconstruction_record(rep: ReconstructionReport, sample: str = "mean") -> dict:
    """The record `reconstruction_records` writes for one report (see there for the keys).

    For callers that made the reports themselves from codes they share with other
    measurements (`explorer.core.compare.run.compare_models`).
    """
    return _record(rep, sample)


def reconstruction_records(
    model,
    dataset: Dataset,
    precisions: Sequence[str] = ("float32",),
    n_images: int | None = None,
    sample: str = "mean",
    seed: int = 0,
    inversion: InversionSettings | None = None,
    ctx: JobContext | None = None,
    on_note: Callable[[str], None] | None = None,
    store: InvertedCodesStore | None = None,
) -> tuple[dict, list[dict]]:
    """Reconstruction records of one model at each precision (codes found once), as ``evaluate`` writes them.

    Parameters
    ----------
    model : models.base.GenerativeModel
    dataset : explorer.data.Dataset
        As loaded (original resolution); see `measure_images`.
    precisions : sequence of str
        "float32", "float16", "kbit" (k = 2…16); the first is the main record.
    n_images : int, optional
        Seeded subsample size; default all images for an encoder,
        `DEFAULT_INVERSION_IMAGES` for GAN inversion (with a note).
    sample : {"mean", "posterior"}
        VAE codes from the posterior mean or one seeded posterior draw.
    seed : int
    inversion : explorer.core.reconstruction.inversion.InversionSettings, optional
    ctx : JobContext, optional
    on_note : callable, optional
        Receives sentences for the user.
    store : InvertedCodesStore, optional
        A GAN without encoder takes its inverted codes from here (its settings are recorded).

    Returns
    -------
    first : dict
        ``{"precision", "compression_ratio", "psnr_db", "ssim", "n_images", "codes",
        "jpeg": {"quality", "compression_ratio", "psnr_db", "ssim", "reachable", "message"}}``
        for ``precisions[0]``, plus ``"psnr_db_ci95"``, ``"ssim_ci95"`` (95 % interval of
        the mean; None entries when undefined), ``"bpp"``, ``"code_bits"``, ``"sample"``
        (None for inverted codes), ``"notes"`` and, for inverted codes, ``"inversion"``
        (the `InversionSettings`). ``ssim`` is None when the images are smaller than
        SSIM's 11×11 window.
    all : list of dict
        The same record for every precision (``all[0] is first``).
    """
    if n_images is None and not _has_encoder(model):
        n_images = DEFAULT_INVERSION_IMAGES
        if on_note and len(dataset) > n_images:
            on_note(f"GAN inversion is slow: reconstructions measured on a seeded sample of {n_images} "
                    f"images (use --n-images to change)")
    _, _, reports = measure_images(model, dataset, n_images, precisions, sample, seed, inversion, ctx, store)
    records = [_record(rep, sample) for rep in reports]
    return records[0], records


def measure_rate_distortion(model, dataset: Dataset, n: int, precisions: Sequence[str] = RD_PRECISIONS,
                            sample: str = "mean", seed: int = 0, inversion: InversionSettings | None = None,
                            ctx: JobContext | None = None, store: InvertedCodesStore | None = None) -> list[dict]:
    """Rate–distortion rows (`explorer.core.reconstruction.rate_distortion`) on a seeded sample of ``n`` images (job).

    The latent code at every precision and JPEG (and WebP where Pillow has it) over their
    quality ranges; no codec for images that are neither grey nor RGB, SSIM None for images
    smaller than its 11×11 window. Ratios are those of the dataset's original images (their
    bits over the code's), and the codecs compress those originals, as in
    `reconstruction_records` — one definition, whatever size the model's input has. A GAN
    without encoder takes inverted codes from ``store`` when given (see `stored_codes`).
    """
    idx = subsample_indices(len(dataset), n, seed)
    x, orig = fitted_images(model, dataset, idx)
    codes = stored_codes(model, store, idx, x, sub_context(ctx, 0.0, 0.5))
    if codes is not None:
        ctx = sub_context(ctx, 0.5, 1.0)
    codecs = available_codecs() if orig.shape[1] in (1, 3) else ()
    return rate_distortion(model, x, precisions, codecs, ctx, sample=sample, seed=seed, inversion=inversion,
                           codes=codes, originals=orig)


def compare_inversion(model, dataset: Dataset, n: int, seed: int = 0, inversion: InversionSettings | None = None,
                      ctx: JobContext | None = None,
                      store: InvertedCodesStore | None = None) -> EncoderInversionComparison:
    """ALI/BiGAN: `explorer.core.reconstruction.inversion.compare_encoder_and_inversion` on a seeded sample
    of ``n`` (job).

    Inverted codes come from ``store`` when given (made with its settings, which replace
    ``inversion``).
    """
    idx = subsample_indices(len(dataset), n, seed)
    x, _ = fitted_images(model, dataset, idx)
    if store is None:
        return compare_encoder_and_inversion(model, x, inversion, ctx)
    codes = store.get(idx, x, sub_context(ctx, 0.0, 0.95)).codes
    return compare_encoder_and_inversion(model, x, store.settings, sub_context(ctx, 0.95, 1.0), inverted_codes=codes)


def reconstruction_figure(result: ImagesResult) -> tuple[np.ndarray, list[str], list[str]]:
    """Rows and labels of the figure ``render reconstructions`` writes: originals, reconstructions, JPEG.

    Parameters
    ----------
    result : ImagesResult

    Returns
    -------
    grid : numpy.ndarray, shape (R, N, C, H, W), float32 in [0, 1]
        R = 3 with a JPEG row (JPEG of images resized to fit the model is resized back to the
        model's resolution), else 2.
    row_labels : list of str
        E.g. "8bit (encoder) 49×: 21.3 dB, SSIM 0.745" and "JPEG q1 2.61×: 17.8 dB, SSIM 0.520
        (cannot reach 49×)"; SSIM "n/a" when it is undefined.
    col_labels : list of str
        PSNR of each reconstruction, "21.3 dB".
    """
    rep, x = result.report, result.images
    src = "inverted" if rep.codes_source.value == "inverted" else "encoder"
    ssim_txt = "n/a" if not np.isfinite(rep.ssim_mean) else f"{rep.ssim_mean:.3f}"
    rows = [x, rep.reconstructions]
    labels = ["original",
              f"{rep.precision} ({src}) {rep.compression_ratio:.3g}×: {rep.psnr_db:.1f} dB, SSIM {ssim_txt}"]
    if rep.jpeg is not None:
        j = rep.jpeg.images
        if j.shape[1:] != x.shape[1:] and j.shape[1] == x.shape[1]:
            j = resize_images(j, *x.shape[2:])
        if j.shape[1:] == x.shape[1:]:
            jssim = "n/a" if not np.isfinite(rep.jpeg.ssim_mean) else f"{rep.jpeg.ssim_mean:.3f}"
            rows.append(j)
            labels.append(f"JPEG q{rep.jpeg.quality} {rep.jpeg.compression_ratio:.3g}×: "
                          f"{rep.jpeg.psnr_db:.1f} dB, SSIM {jssim}"
                          + ("" if rep.jpeg.reachable else f" (cannot reach {rep.compression_ratio:.3g}×)"))
    return np.stack(rows), labels, [f"{v:.1f} dB" for v in rep.psnr]
