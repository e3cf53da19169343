"""What the comparison report's figures show, computed from a `Comparison` without encoding or inverting again.

Qt-free: the aligned 2-D embeddings of every model's codes (`aligned_embeddings`), the
reconstructions grid (`reconstruction_grid`) and the rate–distortion curves of all models beside
JPEG/WebP (`rate_distortion_curves`). ``latent-explorer compare`` draws them; the window's
Compare view can call the same functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer.core.compare.align import Alignment, align_embeddings, aligned_umap
from explorer.core.jobs import JobContext, sub_context

__all__ = ["PROJECTION_NAMES", "EmbeddingPanel", "aligned_embeddings", "reconstruction_grid",
           "rate_distortion_curves"]

#: Display names of the projections.
PROJECTION_NAMES = {"pca": "PCA", "umap": "UMAP", "tsne": "t-SNE"}


@dataclass
class EmbeddingPanel:
    """One model's aligned embedding in the small multiples.

    Attributes
    ----------
    name : str
        Model file name (with "(inverted)" for inverted codes).
    xy : numpy.ndarray, shape (N, 2), float64
        Aligned embedding of the comparison's N images (row i is dataset image ``indices[i]``).
    alignment : Alignment
    title : str
        Model, d, projection and alignment, e.g. "vae_fashion.pt · d = 16 · PCA · Procrustes onto …".
    axis_labels : (str, str)
    """

    name: str
    xy: np.ndarray
    alignment: Alignment
    title: str
    axis_labels: tuple[str, str]


def aligned_embeddings(comparison, projection: str = "pca", align: str = "procrustes",
                       ctx: JobContext | None = None) -> list[EmbeddingPanel]:
    """Every model's codes of the shared images projected to 2-D and aligned onto the first model (job).

    Parameters
    ----------
    comparison : explorer.core.compare.run.Comparison
    projection : {"pca", "umap", "tsne"}
        With ``align="procrustes"`` each model is projected on its own (seeded), then rotated /
        reflected and shifted onto the first (orthogonal Procrustes, no scaling); the clustering's
        embedding is reused when it is this projection.
    align : {"procrustes", "aligned-umap", "none"}
        "aligned-umap" fits umap-learn's AlignedUMAP on all models' codes at once (``projection``
        is then UMAP).
    ctx : JobContext, optional

    Returns
    -------
    list of EmbeddingPanel
        In the comparison's model order.

    Raises
    ------
    ValueError
        Unknown projection or alignment; AlignedUMAP with one model.
    """
    from explorer.core.captions import axis_labels
    from explorer.core.projection import compute_projection
    from explorer.core.projection.spec import named_spec

    if projection not in PROJECTION_NAMES:
        raise ValueError(f"projection must be one of {sorted(PROJECTION_NAMES)}, got {projection!r}")
    if align not in ("procrustes", "aligned-umap", "none"):
        raise ValueError(f"align must be 'procrustes', 'aligned-umap' or 'none', got {align!r}")
    runs = comparison.runs
    seed = comparison.settings["seed"]
    indices = [comparison.indices] * len(runs)
    if align == "aligned-umap":
        if len(runs) < 2:
            raise ValueError("AlignedUMAP aligns at least two models; use --align procrustes for one")
        embs, alignments = aligned_umap([r.codes for r in runs], indices, seed=seed)
        labels = [("UMAP 1", "UMAP 2")] * len(runs)
        proj_name = "UMAP"
    else:
        embs, labels = [], []
        backend = comparison.settings.get("umap_backend", "umap-learn") if projection == "umap" else "umap-learn"
        spec = named_spec(projection, seed, backend)
        reuse = comparison.settings.get("space") == "embedding" and comparison.settings.get("projection") == projection
        for i, r in enumerate(runs):
            if reuse and r.embedding is not None:
                embs.append(np.asarray(r.embedding, dtype=np.float64))
                labels.append(axis_labels(spec))
                continue
            p = compute_projection(r.codes, spec, sub_context(ctx, i / len(runs), (i + 1) / len(runs)))
            embs.append(np.asarray(p.embedding, dtype=np.float64))
            ratio = getattr(p.estimator, "explained_variance_ratio_", None)
            labels.append(axis_labels(p.spec, {"explained_variance_ratio": [float(v) for v in ratio]}
                                      if ratio is not None else None))
        embs, alignments = align_embeddings(embs, indices, "procrustes" if align == "procrustes" else "none")
        proj_name = PROJECTION_NAMES[projection]
    panels = []
    for i, (r, xy, al, lab) in enumerate(zip(runs, embs, alignments, labels, strict=True)):
        name = r.name + (" (inverted)" if r.source == "inverted" else "")
        how = "reference" if i == 0 and align == "procrustes" else al.describe()
        if align == "procrustes" and i > 0:
            how = how.replace("Procrustes onto the first model", f"Procrustes onto {runs[0].name}")
        title = f"{name} · d = {r.codes.shape[1]} · {proj_name} · {how}"
        if al.method == "procrustes" and i > 0:  # rotated: the axes are no longer the projection's own
            lab = tuple(f"{a.split(' (')[0]}, rotated onto {runs[0].name}" for a in lab)
        panels.append(EmbeddingPanel(name, xy, al, title, tuple(lab)))
    return panels


def reconstruction_grid(comparison, n_show: int = 8, precision_index: int = 0):
    """Rows of the reconstructions figure: the originals, then each model's reconstructions of them.

    Parameters
    ----------
    comparison : explorer.core.compare.run.Comparison
        Measured with "reconstruction".
    n_show : int
        Images (columns): the first ``n_show`` of the comparison's images.
    precision_index : int
        Which of the comparison's precisions.

    Returns
    -------
    list of dict
        ``{"label": str, "images": (n, C, H, W) float32, "psnr": (n,) dB or None, "ssim": (n,) or None}``;
        the first is the originals (as opened, ``"indices"`` their dataset indices); a model's label
        names it, its codes (encoder / inverted), the precision and its compression ratio; a model that
        sees resized images shows them at its own resolution.

    Raises
    ------
    ValueError
        The comparison has no reconstructions.
    """
    runs = comparison.runs
    if not runs or not runs[0].reports:
        raise ValueError("the comparison has no reconstructions (measure 'reconstruction')")
    n = min(int(n_show), comparison.n_images)
    idx = comparison.indices[:n]
    rows = [{"label": "original", "images": np.ascontiguousarray(comparison.dataset.images[idx]),
             "psnr": None, "ssim": None, "indices": idx}]
    for r in runs:
        rep = r.reports[precision_index]
        label = (f"{r.name} ({rep.codes_source.value} codes, {rep.precision}, {rep.compression_ratio:.3g}×)")
        rows.append({"label": label, "images": rep.reconstructions[:n], "psnr": np.asarray(rep.psnr[:n]),
                     "ssim": np.asarray(rep.ssim[:n])})
    return rows


def rate_distortion_curves(comparison, n: int = 200, precisions=None, ctx: JobContext | None = None) -> list[dict]:
    """Rate–distortion points of every model and of JPEG/WebP on the first ``n`` shared images (job).

    The latent code of each model is stored at each precision from the codes the comparison
    found (none is encoded or inverted again; k-bit quantisers fitted on all N codes, as for the
    scorecard) and decoded — the scorecard's own precisions are not decoded again; the compression ratio is the one of
    DESIGN.md §3 — bits of the original image (H·W·C·8, as opened) over the bits of the code —
    for the models and the codecs alike. JPEG and WebP (where Pillow has it) compress the
    original images once, for all models.

    Parameters
    ----------
    comparison : explorer.core.compare.run.Comparison
    n : int
        Images used (the first ``n`` of the comparison's).
    precisions : sequence of str, optional
        Default `explorer.core.reconstruction.jobs.RD_PRECISIONS`.
    ctx : JobContext, optional

    Returns
    -------
    list of dict
        Rows ``{"method", "model", "setting", "ratio", "bpp", "psnr", "ssim", "n_images"}``: ``method``
        "latent" (``model`` its name, with "(inverted)"), "jpeg" or "webp" (``model`` None); PSNR in dB
        (mean), SSIM mean or None (images under 11×11).
    """
    from explorer.core.codes import decode_codes
    from explorer.core.reconstruction.bits import code_bits, image_bits
    from explorer.core.reconstruction.codecs import available_codecs, codec_curve
    from explorer.core.reconstruction.jobs import RD_PRECISIONS
    from explorer.core.reconstruction.metrics import psnr, ssim_or_nan
    from explorer.core.reconstruction.quantize import parse_precision, round_trip

    precisions = list(RD_PRECISIONS if precisions is None else precisions)
    m = min(int(n), comparison.n_images)
    idx = comparison.indices[:m]
    originals = np.ascontiguousarray(comparison.dataset.images[idx], dtype=np.float32)
    orig_bits = image_bits(originals.shape[1:])
    rows: list[dict] = []
    k_total = len(comparison.runs) + 1
    for i, r in enumerate(comparison.runs):
        x = r.images[:m]
        name = r.name + (" (inverted)" if r.source == "inverted" else "")
        # the scorecard's reports were decoded from these same codes unless a VAE drew posterior samples
        same_codes = r.source == "inverted" or comparison.settings.get("sample", "mean") == "mean"
        measured = {rep.precision: rep for rep in r.reports} if same_codes else {}
        for j, p in enumerate(precisions):
            spec = parse_precision(p)
            rep = measured.get(spec.name)
            if rep is not None:  # measured for the scorecard on these images: not decoded again
                p_img, s_img = np.asarray(rep.psnr[:m]), np.asarray(rep.ssim[:m])
            else:  # k-bit quantisers fitted on all N codes, as the scorecard's
                recon = decode_codes(r.entry.model, round_trip(r.codes, spec)[:m])
                p_img, s_img = psnr(x, recon), ssim_or_nan(x, recon)
            bits = code_bits(r.entry.model.latent_dim, spec)
            s = float(np.mean(s_img))
            rows.append({"method": "latent", "model": name, "setting": spec.name, "ratio": orig_bits / bits,
                         "bpp": bits / float(originals.shape[2] * originals.shape[3]),
                         "psnr": float(np.mean(p_img)), "ssim": s if np.isfinite(s) else None,
                         "n_images": m})
            if ctx is not None:
                ctx.progress((i + (j + 1) / len(precisions)) / k_total, f"{name} at {spec.name}")
    if originals.shape[1] in (1, 3):
        codecs = available_codecs()
        for c, codec in enumerate(codecs):
            sub = sub_context(ctx, (k_total - 1 + c / len(codecs)) / k_total,
                              (k_total - 1 + (c + 1) / len(codecs)) / k_total)
            for pt in codec_curve(originals, codec, None, sub):
                s = pt.ssim
                rows.append({"method": codec, "model": None, "setting": f"quality {pt.quality}",
                             "ratio": pt.compression_ratio, "bpp": pt.bpp, "psnr": pt.psnr_db,
                             "ssim": s if s is not None and np.isfinite(s) else None, "n_images": m})
    return rows
