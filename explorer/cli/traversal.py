"""`latent-explorer render traversal|interpolation`: the GUI's traversal figures and movies, headless."""

from __future__ import annotations

from pathlib import Path

from explorer.cli.args import (
    add_device_argument,
    add_resize_arg,
    check_render_size,
    frame_count,
    frame_rate,
    image_scale,
    int_in,
    positive_int,
)
from explorer.errors import UserError

FIGURE_EXTS = (".png", ".svg", ".pdf")
MOVIE_EXTS = (".gif", ".mp4")


def add_render_parsers(render_sub) -> None:
    """Add the ``traversal`` and ``interpolation`` subcommands to ``latent-explorer render``."""
    p = render_sub.add_parser("traversal", help="traversal grid (PNG/SVG/PDF) or animated traversal (GIF/MP4)")
    p.add_argument("checkpoint", type=Path, metavar="CKPT")
    p.add_argument("--out", type=Path, required=True, metavar="F.png|F.svg|F.pdf|F.gif|F.mp4")
    p.add_argument("--dims", type=int, nargs="+", default=None, metavar="K",
                   help="latent dimensions, one row each (default: the 10 most active with --data, else 0..9)")
    p.add_argument("--data", default=None, help="dataset: orders dimensions by KL (VAE) or variance, "
                                                "and gives the base code with --index and the fitted range")
    p.add_argument("--split", choices=["train", "test", "all"], default="test")
    p.add_argument("--limit", type=positive_int, default=2000, metavar="N",
                   help="images of --data used (seeded subsample; default 2000)")
    add_resize_arg(p)
    p.add_argument("--index", type=int, default=None, metavar="I",
                   help="base code: the encoding of image I of --data (default: the prior mean, z = 0)")
    p.add_argument("--range", choices=["prior", "fitted"], default="prior", dest="range_mode",
                   help="±3σ of the prior (default) or ±2σ of the codes' fitted Gaussian (needs --data)")
    p.add_argument("--cols", type=int_in(1, 1000), default=10, help="values per row (default 10)")
    p.add_argument("--scale", type=image_scale, default=2.0, help="resize factor of each image (default 2)")
    p.add_argument("--upscale", choices=["nearest", "smooth"], default="nearest")
    p.add_argument("--frames", type=frame_count, default=40, help="frames per cycle of a GIF/MP4 (default 40)")
    p.add_argument("--fps", type=frame_rate, default=10.0)
    p.add_argument("--seed", type=int, default=0)
    add_device_argument(p, "the model encodes and decodes")
    from explorer.cli.traversal_directions import add_direction_arguments

    add_direction_arguments(p)  # --directions axes|ganspace|sefa|attribute, --n-directions, --attribute
    p.set_defaults(render_handler=cmd_render_traversal)

    p = render_sub.add_parser("interpolation", help="interpolation movie between two codes (GIF/MP4)")
    p.add_argument("checkpoint", type=Path, metavar="CKPT")
    p.add_argument("--out", type=Path, required=True, metavar="F.gif|F.mp4")
    p.add_argument("--data", default=None, help="dataset whose images --from/--to encode "
                                                "(default: two samples from the prior, seeded)")
    p.add_argument("--split", choices=["train", "test", "all"], default="test")
    p.add_argument("--limit", type=positive_int, default=None, metavar="N")
    add_resize_arg(p)
    p.add_argument("--from", dest="from_index", type=int, default=0, metavar="I")
    p.add_argument("--to", dest="to_index", type=int, default=1, metavar="J")
    p.add_argument("--slerp", action="store_true", help="spherical interpolation (default: lerp)")
    p.add_argument("--frames", type=frame_count, default=60)
    p.add_argument("--fps", type=frame_rate, default=12.0)
    p.add_argument("--scale", type=image_scale, default=4.0)
    p.add_argument("--upscale", choices=["nearest", "smooth"], default="nearest")
    p.add_argument("--caption", default=None)
    p.add_argument("--seed", type=int, default=0)
    add_device_argument(p, "the model decodes")
    p.set_defaults(render_handler=cmd_render_interpolation)


def _load_model(path: Path, args=None):
    """The model of ``path`` on ``args.device`` (a missing device: one sentence before loading)."""
    from explorer.cli.args import device_from_args
    from explorer.core.device import place_model
    from models.loading import load_any

    device = device_from_args(args)
    if not Path(path).exists():
        raise UserError(f"checkpoint '{path}' does not exist; give the path of a model file.")
    model, _ = load_any(path)
    place_model(model, device)
    return model


def _where(model) -> str:
    """Where ``model`` computes, for the line a render prints."""
    from explorer.core.device import model_device

    return str(model_device(model))


def _load_data(args, model):
    from explorer.data import fit_to_model, load_dataset

    ds = load_dataset(args.data, split=None if args.split == "all" else args.split, limit=args.limit,
                      seed=args.seed, resize=args.resize)
    return fit_to_model(ds, model.image_shape)


def _encode(model, images, what: str):
    from explorer.core.codes import encode_images

    if not getattr(model, "has_encoder", True):
        raise UserError(f"the model has no encoder, so {what} cannot be encoded; leave out --data to use the prior.")
    return encode_images(model, images)


def _check_index(i: int, n: int, name: str, data: str) -> None:
    if not 0 <= i < n:
        raise UserError(f"{name} {i} is out of range for dataset '{data}', which has {n} images (0..{n - 1}).")


def cmd_render_traversal(args) -> int:
    """Render a traversal grid or animated traversal with :func:`explorer.core.latent.sliders.save_traversal`."""
    from explorer.core.latent import sliders

    ext = args.out.suffix.lower()
    if ext not in FIGURE_EXTS + MOVIE_EXTS:
        raise UserError(f"cannot write traversal '{args.out}': the extension must be .png, .svg, .pdf, .gif or .mp4.")
    import numpy as np  # here, not at the top: `latent-explorer info` builds the parser without numpy

    if getattr(args, "directions", "axes") != "axes" or getattr(args, "attribute", None) is not None:
        return _render_along_directions(args, ext)
    if getattr(args, "n_directions", None) is not None:
        raise UserError("--n-directions applies to --directions ganspace, sefa or attribute; the axes of z are "
                        "picked with --dims.")
    model = _load_model(args.checkpoint, args)
    d = int(model.latent_dim)
    codes = images = None
    z = np.zeros(d, np.float32)
    if args.data is not None:
        ds = _load_data(args, model)
        images = ds.images
        if getattr(model, "has_encoder", True):
            codes = _encode(model, images, "the dataset")
        if args.index is not None:
            _check_index(args.index, len(ds), "--index", args.data)
            if codes is None:
                raise UserError("the model has no encoder, so --index cannot give a base code; leave it out.")
            z = codes[args.index].copy()
    elif args.index is not None or args.range_mode == "fitted":
        raise UserError("--index and --range fitted need --data (the dataset to encode).")
    scores = sliders.dimension_scores(model, images=images, codes=codes)
    if args.dims is not None:
        bad = [k for k in args.dims if not 0 <= k < d]
        if bad:
            raise UserError(f"--dims {bad} are out of range: checkpoint '{args.checkpoint}' has latent "
                            f"dimensions 0..{d - 1}.")
        dims = list(args.dims)
    else:
        dims = sliders.default_dims(scores)
    ranges = sliders.slider_ranges(args.range_mode, d, codes)
    c, h, w = model.image_shape
    cells = args.frames if ext in MOVIE_EXTS else args.cols  # a movie holds its frames, a grid its columns
    check_render_size(len(dims) * cells * c * h * w * (1 + args.scale**2),
                      "--frames/--scale" if ext in MOVIE_EXTS else "--cols/--scale")
    out = sliders.save_traversal(args.out, model, z, dims, ranges, n_cols=args.cols,
                                 scores=scores if images is not None else None, scale=args.scale,
                                 upscale=args.upscale, fps=args.fps, n_frames=args.frames)
    print(f"wrote {out} ({len(dims)} dimensions: {', '.join(f'z{k}' for k in dims)}; decoded on {_where(model)})")
    return 0


def _render_along_directions(args, ext: str) -> int:
    """``--directions ganspace|sefa|attribute``: rows along the sliders panel's directions (same pixels)."""
    from explorer.cli.traversal_directions import DIRECTION_KINDS, cli_directions, describe_directions
    from explorer.core.latent import sliders

    model, z, directions = cli_directions(args, DIRECTION_KINDS[args.directions], _load_model)
    c, h, w = model.image_shape
    cells = args.frames if ext in MOVIE_EXTS else args.cols
    check_render_size(len(directions) * cells * c * h * w * (1 + args.scale**2),
                      "--frames/--scale" if ext in MOVIE_EXTS else "--cols/--scale")
    out = sliders.save_traversal(args.out, model, z, [], None, n_cols=args.cols, scale=args.scale,
                                 upscale=args.upscale, fps=args.fps, n_frames=args.frames, directions=directions)
    rows = f"{len(directions)} direction" + ("s" if len(directions) != 1 else "")
    print(f"wrote {out} ({rows}: {', '.join(d.name for d in directions)}; "
          f"{describe_directions(directions)}; decoded on {_where(model)})")
    return 0


def cmd_render_interpolation(args) -> int:
    """Render an interpolation movie with :func:`explorer.core.latent.sliders.save_interpolation`."""
    from explorer.core.codes import prior_codes
    from explorer.core.latent import sliders

    if args.out.suffix.lower() not in MOVIE_EXTS:
        raise UserError(f"cannot write interpolation '{args.out}': the extension must be .gif or .mp4.")
    if args.frames < 2:
        raise UserError("--frames must be at least 2 for an interpolation between two codes.")
    model = _load_model(args.checkpoint, args)
    if args.data is not None:
        ds = _load_data(args, model)
        for name, i in (("--from", args.from_index), ("--to", args.to_index)):
            _check_index(i, len(ds), name, args.data)
        keypoints = _encode(model, ds.images[[args.from_index, args.to_index]], "the images")
    else:
        keypoints = prior_codes(model, 2, seed=args.seed)
    method = "slerp" if args.slerp else "lerp"
    c, h, w = model.image_shape
    check_render_size(args.frames * c * h * w * (1 + args.scale**2), "--frames/--scale")
    _, frames = sliders.interpolation_movie(model, keypoints, args.frames, method)
    out = sliders.save_interpolation(args.out, frames, fps=args.fps, scale=args.scale, upscale=args.upscale,
                                     caption=args.caption)
    print(f"wrote {out} ({args.frames} frames, {method}; decoded on {_where(model)})")
    return 0
