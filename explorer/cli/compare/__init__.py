"""`latent-explorer compare`: several models on the same images — one scorecard and a self-contained report folder."""

from __future__ import annotations

import sys
from pathlib import Path

from explorer.cli.progress import end_progress_line
from explorer.errors import UserError

__all__ = ["add_compare_parser", "cmd_compare", "write_report"]


def add_compare_parser(sub) -> None:
    """The ``compare`` subcommand of ``latent-explorer``."""
    from explorer.cli.args import add_data_args, add_umap_backend_argument, non_negative_int, positive_int

    p = sub.add_parser(
        "compare", help="compare models on the same images: scorecard and report folder (figures, index.html)",
        description="Measure every model on the same seeded sample of N dataset images (a GAN without encoder "
                    "through the inverted codes of those images) and write a report folder: scorecard.json/csv/"
                    "md/tex, embeddings.pdf (aligned small multiples), reconstructions.pdf, rate_distortion.pdf "
                    "(each also as PNG) and index.html, which opens from disk.")
    p.add_argument("checkpoints", nargs="+", metavar="CKPT_OR_ADAPTER")
    add_data_args(p, split_default="test")
    # checked against explorer.core.evaluate.METRICS when the command runs (importing it here would
    # bring torch into every start of the window)
    p.add_argument("--metrics", nargs="+", default=["clustering", "reconstruction"], metavar="M",
                   help="measurement families of the scorecard, any of evaluate's (default: clustering "
                        "reconstruction)")
    p.add_argument("--n-images", type=positive_int, default=None, metavar="N",
                   help="a seeded sample of N images, the same for every model (default: all; 100 when a model "
                        "needs GAN inversion)")
    p.add_argument("--precision", nargs="+", default=["float32", "8bit"], metavar="P",
                   help="reconstruction precisions of the code: float32, float16 or kbit, k = 2..16 "
                        "(default: float32 8bit)")
    p.add_argument("--projection", choices=["pca", "umap", "tsne"], default="pca",
                   help="the 2-D embedding of each model in embeddings.pdf (default: pca)")
    add_umap_backend_argument(p)
    p.add_argument("--align", choices=["procrustes", "aligned-umap"], default="procrustes",
                   help="align the embeddings onto the first model by orthogonal Procrustes (rotation, reflection "
                        "and shift only), or fit umap-learn's AlignedUMAP on all models (default: procrustes)")
    p.add_argument("--k", type=positive_int, default=None, help="k-means clusters (default: number of classes)")
    p.add_argument("--space", choices=["latent", "embedding"], default="latent",
                   help="cluster the latent codes z or their 2-D --projection (default: latent)")
    p.add_argument("--sample", choices=["mean", "posterior"], default="mean",
                   help="VAE reconstruction codes: posterior mean or one seeded posterior draw")
    p.add_argument("--resamples", type=positive_int, default=1000, metavar="B",
                   help="paired bootstrap resamples over the same images (at least 1000; default 1000)")
    p.add_argument("--n-show", type=positive_int, default=8, metavar="N",
                   help="images in reconstructions.pdf (default 8)")
    p.add_argument("--rd-images", type=positive_int, default=200, metavar="N",
                   help="images of the rate-distortion curves (the first N of the scorecard's; default 200)")
    p.add_argument("--inversion-steps", type=non_negative_int, default=None, metavar="N",
                   help="GAN inversion: Adam steps per restart (default 200)")
    p.add_argument("--inversion-restarts", type=positive_int, default=None, metavar="N",
                   help="GAN inversion: random restarts per image (default 4)")
    p.add_argument("--no-cache", action="store_true", help="do not read or keep inverted codes in the cache folder")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="seed of the sample, k-means, projections, inversion and the bootstrap (default 0)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="the report folder to write")
    from explorer.cli.args import add_device_argument

    add_device_argument(p)
    p.set_defaults(handler=cmd_compare)


def _progress(label: str):
    from explorer.cli.progress import progress_context

    return progress_context(label)


def write_report(comparison, card, out: Path, projection: str = "pca", align: str = "procrustes",
                 n_show: int = 8, rd_images: int = 200, progress=None) -> list[Path]:
    """Write the report folder of a comparison: scorecard files, the three figures (PDF + PNG), index.html.

    The folder is built beside ``out`` and renamed onto it at the end; on failure nothing is left.

    Parameters
    ----------
    comparison : explorer.core.compare.run.Comparison
    card : explorer.core.compare.scorecard.Scorecard
    out : pathlib.Path
    projection, align : str
        Of the embeddings figure (`explorer.core.compare.report.aligned_embeddings`).
    n_show : int
        Images of the reconstructions figure.
    rd_images : int
        Images of the rate–distortion curves.
    progress : callable, optional
        ``progress(label) -> JobContext`` for each computing step.

    Returns
    -------
    list of pathlib.Path
        The files of the finished folder (paths inside ``out``).

    Raises
    ------
    UserError
        ``out`` cannot take the report.
    """
    from explorer.cli.compare.figures import draw_embeddings, draw_rate_distortion, draw_reconstructions
    from explorer.cli.compare.folder import index_html, report_folder
    from explorer.core.compare.report import aligned_embeddings, rate_distortion_curves, reconstruction_grid
    from explorer.core.compare.tables import scorecard_html, write_scorecard

    ds = comparison.dataset
    n = comparison.n_images
    ds_name = ds.name + (f" {ds.split}" if ds.split else "")
    names = ", ".join(r.name for r in comparison.runs)
    written: list[str] = []
    panels = aligned_embeddings(comparison, projection, align, progress("embeddings") if progress else None)
    rd = rate_distortion_curves(comparison, rd_images, ctx=progress("rate–distortion") if progress else None) \
        if comparison.runs[0].reports else []
    with report_folder(out) as tmp:
        written += [p.name for p in write_scorecard(card, tmp, comparison.result(),
                                                    caption=f"{names} on the same {n:,} {ds_name} images.")]
        figures = []
        class_names = getattr(ds, "class_names", None)
        method = panels[-1].alignment.method
        how = {"procrustes": f"aligned onto {comparison.runs[0].name} by orthogonal Procrustes (rotation, "
                             f"reflection and shift only, no scaling)",
               "aligned-umap": "AlignedUMAP fitted on all models at once"}.get(method, "not aligned")
        written += [p.name for p in draw_embeddings(
            panels, comparison.labels, class_names, tmp / "embeddings.pdf",
            f"The same {n:,} {ds_name} images in each model's latent space, coloured by class; {how}")]
        figures.append(("Embeddings (aligned small multiples)", "embeddings.png", "embeddings.pdf"))
        if comparison.runs[0].reports:
            rows = reconstruction_grid(comparison, n_show)
            prec = comparison.runs[0].reports[0].precision
            written += [p.name for p in draw_reconstructions(
                rows, tmp / "reconstructions.pdf",
                f"{ds_name}: originals and reconstructions at {prec}; per image PSNR (dB, data range 1) · SSIM")]
            figures.append(("Reconstructions", "reconstructions.png", "reconstructions.pdf"))
            written += [p.name for p in draw_rate_distortion(
                rd, tmp / "rate_distortion.pdf",
                f"Rate–distortion on {min(rd_images, n):,} {ds_name} images: every model's code at each precision, "
                f"JPEG/WebP on the same original images")]
            figures.append(("Rate–distortion", "rate_distortion.png", "rate_distortion.pdf"))
        lines = [f"{len(comparison.runs)} models on the same {n:,} images of {ds_name} "
                 f"(seed {comparison.settings['seed']}): {names}."] + list(comparison.notes)
        index_html(tmp, "Latent Explorer — model comparison", scorecard_html(card), figures, lines)
        written.append("index.html")
    return [out / name for name in written]


def cmd_compare(args) -> int:
    """``latent-explorer compare``: check the arguments and --out, measure, write the report folder."""
    from explorer.cli.args import check_precisions, check_umap_backend_args, device_from_args, inversion_from_args
    from explorer.cli.compare.figures import headless
    from explorer.cli.compare.folder import check_out_folder
    from explorer.core.compare.run import compare_models
    from explorer.core.compare.scorecard import scorecard_of
    from explorer.data import load_dataset

    device = device_from_args(args)  # a missing device: one sentence before any work
    check_umap_backend_args(args)
    headless()
    check_out_folder(args.out)
    from explorer.core.evaluate import METRICS

    unknown = [m for m in args.metrics if m not in METRICS]
    if unknown:
        raise UserError(f"--metrics {' '.join(unknown)}: unknown; choose from {', '.join(METRICS)}.")
    if args.resamples < 1000:
        raise UserError(f"--resamples {args.resamples}: the paired bootstrap needs at least 1000 resamples.")
    check_precisions(args.precision)
    if args.align == "aligned-umap" and len(args.checkpoints) < 2:
        raise UserError("--align aligned-umap aligns at least two models; use --align procrustes for one.")
    inversion = inversion_from_args(args)
    ds = load_dataset(args.data, split=args.split, limit=args.limit, seed=args.seed)
    for note in ds.notes:
        print(note, file=sys.stderr)
    lines = []

    def progress(label):
        if lines:
            end_progress_line()
        lines.append(label)
        return _progress(label)

    try:
        comparison = compare_models(args.checkpoints, ds, args.metrics, n_images=args.n_images, k=args.k,
                                    space=args.space, projection=args.projection,
                                    umap_backend=args.umap_backend, seed=args.seed, precisions=args.precision,
                                    sample=args.sample, inversion=inversion,
                                    cache=not args.no_cache, ctx=progress("measuring"), device=device)
        end_progress_line()
        for note in comparison.notes:
            print(f"latent-explorer: note: {note}", file=sys.stderr)
        card = scorecard_of(comparison, n_resamples=args.resamples)
        files = write_report(comparison, card, args.out, args.projection, args.align, args.n_show, args.rd_images,
                             progress)
    except ValueError as exc:
        raise UserError(f"compare failed: {exc}") from None
    except OSError as exc:
        raise UserError(f"could not write the report folder '{args.out}': {exc.strerror or exc}") from None
    finally:
        if lines:
            end_progress_line()
    from explorer.core.compare.tables import scorecard_markdown

    print(scorecard_markdown(card))
    print(f"wrote {args.out}/ ({', '.join(f.name for f in files)})")
    return 0
