"""`latent-explorer render reconstructions` and the text line `evaluate --metrics reconstruction` prints."""

from __future__ import annotations

import sys
from pathlib import Path

from explorer.cli.args import add_data_args, image_scale, int_in, positive_int
from explorer.errors import UserError

#: How the images of a reconstruction grid are chosen.
SELECTIONS: tuple[str, ...] = ("random", "worst", "best", "first")


def _num(v, fmt: str, unit: str = "") -> str:
    return "n/a" if v is None else f"{v:{fmt}}{unit}"


def format_reconstruction(rec: dict) -> str:
    """One line for a reconstruction record of `explorer.core.evaluate.evaluate_model_reconstruction`.

    E.g. ``"reconstruction float32 (encoder codes, 1,000 images): ratio 12.2×, PSNR 21.3 dB,
    SSIM 0.745; JPEG q1: ratio 2.61×, PSNR 17.8 dB, SSIM 0.52 — JPEG cannot reach 12.2× …"``.
    """
    line = (f"reconstruction {rec['precision']} ({rec['codes']} codes, {rec['n_images']:,} images): "
            f"ratio {rec['compression_ratio']:.3g}×, PSNR {_num(rec['psnr_db'], '.2f', ' dB')}, "
            f"SSIM {_num(rec['ssim'], '.3f')}")
    j = rec.get("jpeg")
    if j:
        line += (f"; JPEG q{j['quality']}: ratio {j['compression_ratio']:.3g}×, "
                 f"PSNR {_num(j['psnr_db'], '.2f', ' dB')}, SSIM {_num(j['ssim'], '.3f')}")
        if not j.get("reachable", True):
            line += f" ({j['message']})"
    return line


def add_render_parsers(render_sub) -> None:
    """Add ``render reconstructions`` to the ``render`` subparsers of ``latent-explorer``."""
    p = render_sub.add_parser(
        "reconstructions", help="grid of originals / reconstructions / JPEG at the same compression ratio",
        description="Rows: the original images, their reconstructions decoded from the latent code at "
                    "--precision, and JPEG at the closest compression ratio it can reach. Per-image PSNR "
                    "(dB) heads each column.")
    p.add_argument("checkpoint", metavar="CKPT_OR_ADAPTER")
    add_data_args(p, split_default="test", resize=True)
    p.add_argument("--out", type=Path, required=True, metavar="F.png|F.svg|F.pdf")
    p.add_argument("--precision", default="float32", help="float32, float16 or kbit with k = 2..16 (default float32)")
    p.add_argument("--n", type=int_in(1, 1000), default=8, help="images in the grid (default 8)")
    p.add_argument("--select", choices=SELECTIONS, default="random",
                   help="which images: a seeded random sample, the worst or best by PSNR, or the first N")
    p.add_argument("--pool", type=positive_int, default=1000,
                   help="worst/best: search a seeded sample of this many images (default 1000)")
    p.add_argument("--sample", choices=["mean", "posterior"], default="mean",
                   help="VAE codes from the posterior mean or one seeded posterior draw")
    p.add_argument("--no-jpeg", action="store_true", help="leave out the JPEG row")
    p.add_argument("--inversion-steps", type=int, default=150,
                   help="GAN without encoder: Adam steps of the restart that wins (default 150)")
    p.add_argument("--inversion-restarts", type=positive_int, default=4,
                   help="GAN without encoder: restarts per image, the best of 4,096 prior draws (default 4)")
    p.add_argument("--no-cache", action="store_true",
                   help="GAN without encoder: do not read or keep inverted codes in the cache folder")
    p.add_argument("--scale", type=image_scale, default=3.0, help="image scale factor in the figure (default 3)")
    p.add_argument("--seed", type=int, default=0)
    from explorer.cli.args import add_device_argument

    add_device_argument(p, "the model encodes, inverts and decodes")
    p.set_defaults(render_handler=cmd_render_reconstructions)


def render_reconstructions(model, dataset, out, precision="float32", n=8, select="random", pool=1000,
                           sample="mean", jpeg=True, inversion=None, scale=3.0, seed=0, title=None, store=None):
    """Write the reconstruction grid of ``model`` on ``dataset`` to ``out`` (PNG, SVG or PDF).

    The images and their report come from `explorer.core.reconstruction.jobs.reconstruct_images`
    (the panel's job), the rows and labels from `explorer.core.reconstruction.jobs.reconstruction_figure`.

    Parameters
    ----------
    model : models.base.GenerativeModel
    dataset : explorer.data.Dataset
        As loaded; fitted to the model's input here.
    out : path
    precision : str
    n : int
        Columns (images).
    select : {"random", "worst", "best", "first"}
    pool : int
        Images searched for worst/best (seeded sample).
    sample : {"mean", "posterior"}
    jpeg : bool
    inversion : InversionSettings, optional
    scale : float
    seed : int
    title : str, optional
    store : explorer.core.reconstruction.inverted.InvertedCodesStore, optional
        A GAN without encoder takes its inverted codes from here (made with its settings,
        which replace ``inversion``), inverting only images not done before.

    Returns
    -------
    report : explorer.core.reconstruction.ReconstructionReport
        Of the images shown (columns in order).
    """
    from explorer.core.figures import save_grid_figure
    from explorer.core.reconstruction.jobs import reconstruct_images, reconstruction_figure

    result = reconstruct_images(model, dataset, select, n, precision=precision, sample=sample, seed=seed,
                                inversion=inversion, pool=pool, store=store, jpeg=jpeg)
    grid, labels, cols = reconstruction_figure(result)
    save_grid_figure(out, grid, row_labels=labels, col_labels=cols, title=title, scale=scale)
    return result.report


def cmd_render_reconstructions(args) -> int:
    """``latent-explorer render reconstructions``: write the grid and print the numbers."""
    from explorer.core.reconstruction.inversion import InversionSettings
    from explorer.core.reconstruction.inverted import InvertedCodesStore
    from explorer.core.reconstruction.quantize import parse_precision
    from explorer.core.workspace import dataset_identity, open_model
    from explorer.data import load_dataset

    if args.out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise UserError(f"cannot write '{args.out}': the extension must be .png, .svg or .pdf.")
    try:
        parse_precision(args.precision)
    except ValueError as exc:
        raise UserError(f"--precision {args.precision!r}: {exc}.") from None
    try:
        inversion = InversionSettings(steps=args.inversion_steps, restarts=args.inversion_restarts, seed=args.seed)
    except ValueError as exc:
        raise UserError(f"bad inversion settings: {exc}") from None
    from explorer.cli.args import device_from_args

    entry = open_model(args.checkpoint, device_from_args(args))
    model = entry.model
    ds = load_dataset(args.data, split=args.split, limit=args.limit, seed=args.seed, resize=args.resize)
    for note in ds.notes:
        print(note, file=sys.stderr)
    store = None
    if not model.has_encoder:  # inverted codes are kept in the cache folder, shared with the window
        store = InvertedCodesStore(model, entry.file_hash, dataset_identity(ds), len(ds), inversion,
                                   False if args.no_cache else None)
    title = f"{Path(args.checkpoint).name} on {ds.name}"
    rep = render_reconstructions(model, ds, args.out, args.precision, args.n, args.select, args.pool,
                                 args.sample, not args.no_jpeg, inversion, args.scale, args.seed, title, store)
    for note in rep.notes:
        print(note, file=sys.stderr)
    rec = rep.to_dict()
    if rep.jpeg is not None:
        rec["jpeg"]["reachable"] = rep.jpeg.reachable
        rec["jpeg"]["message"] = rep.jpeg.message
    print(format_reconstruction(rec))
    print(f"wrote {args.out} (computed on {entry.device})")
    return 0
