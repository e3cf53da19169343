"""`latent-explorer session create`, `render embedding` and `info S.lxs`: sessions headless."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from explorer.cli.progress import end_progress_line
from explorer.errors import UserError

__all__ = ["add_session_parser", "add_render_parsers", "cmd_session", "cmd_render_embedding", "print_session_info",
           "parse_colour", "create_session"]


def parse_colour(text: str) -> tuple[str, int]:
    """``label`` | ``cluster`` | ``none`` | ``dim:J`` → (mode, dimension).

    Raises
    ------
    argparse.ArgumentTypeError
        Anything else.
    """
    if text in ("label", "cluster", "none"):
        return text, 0
    if text.startswith("dim:"):
        try:
            j = int(text[4:])
        except ValueError:
            j = -1
        if j >= 0:
            return "dimension", j
    raise argparse.ArgumentTypeError(f"--colour must be label, cluster, none or dim:J (J >= 0), not {text!r}")


def add_session_parser(sub) -> None:
    """The ``session`` subcommand (``session create``)."""
    from explorer.cli.args import add_data_args, add_umap_backend_argument, non_negative_int, positive_int

    p = sub.add_parser("session", help="make session files headless (compute on a server, look on a laptop)")
    session_sub = p.add_subparsers(dest="session_command", required=True, metavar="{create}")
    c = session_sub.add_parser("create", help="open models on a dataset, compute what is named, write S.lxs")
    c.add_argument("checkpoints", nargs="+", metavar="CKPT_OR_ADAPTER")
    add_data_args(c, split_default="test", resize=True)
    c.add_argument("--projection", choices=["pca", "umap", "tsne"], default="pca",
                   help="the embedding of every model (default: pca)")
    add_umap_backend_argument(c)
    c.add_argument("--seed", type=non_negative_int, default=0,
                   help="projection, k-means and subsample seed (default 0)")
    c.add_argument("--colour", "--color", type=parse_colour, default=("label", 0), metavar="label|cluster|dim:J",
                   help="colouring of the embedding (default: label)")
    c.add_argument("--k", type=positive_int, default=None,
                   help="k-means with k clusters on each model's latent codes (needed for --colour cluster; "
                        "default: the number of classes when --colour cluster)")
    c.add_argument("--with-results", action="store_true",
                   help="also store codes, embeddings and clusterings in S.results.npz beside the session")
    c.add_argument("--out", type=Path, required=True, metavar="S.lxs")
    from explorer.cli.args import add_device_argument

    add_device_argument(c, "the models encode (the session file does not record it)")
    c.set_defaults(handler=cmd_session)


def add_render_parsers(render_sub) -> None:
    """``render embedding S.lxs --out fig.png|svg|pdf [--scale F]``."""
    from explorer.cli.args import finite_float

    p = render_sub.add_parser("embedding", help="draw a session's embedding exactly as saved (File ▸ Export view)")
    p.add_argument("session", type=Path, metavar="S.lxs")
    p.add_argument("--out", type=Path, required=True, metavar="FIG", help=".png, .svg or .pdf")
    p.add_argument("--scale", type=finite_float(0.0, 16.0, low_open=True), default=1.0,
                   help="PNG pixel scale (2 for print; default 1)")
    p.add_argument("--width-mm", type=finite_float(0.0, 2000.0, low_open=True), default=None, metavar="MM",
                   help="PNG: printed width in millimetres (with --dpi, e.g. --width-mm 85 --dpi 300)")
    p.add_argument("--dpi", type=finite_float(10.0, 2400.0), default=None,
                   help="PNG: dots per inch, written into the file (default 96)")
    from explorer.cli.args import add_device_argument

    add_device_argument(p, "the models encode what the caches do not hold")
    p.set_defaults(render_handler=cmd_render_embedding)


def _progress(label: str):
    from explorer.cli.progress import progress_context

    return progress_context(label)


def _run_all(session, tasks) -> None:
    """Run the session's tasks with a progress line each (what the window's job runner does).

    Raises
    ------
    UserError
        A task failed; the sentence names it and why (a model file's own error is kept as it is).
    """
    from models.base import ModelFileError

    lines = []

    def context(task):  # one progress line per task
        if lines:
            end_progress_line()
        lines.append(task.label)
        return _progress(task.label)

    try:
        session.run_all(tasks, context)
    except (ModelFileError, UserError):
        raise
    except (ValueError, OSError) as exc:
        raise UserError(f"{exc.task.label} failed: {exc}") from None
    finally:
        end_progress_line()  # end the last progress line, also before an error


def create_session(paths, data, split, limit, seed: int, projection: str, colour: tuple[str, int],
                   k: int | None = None, resize: str | None = None, device: str | None = None,
                   umap_backend: str = "umap-learn", on_dataset=None):
    """A :class:`~explorer.core.session.Session` with ``paths`` open on ``data``, projected and clustered.

    Parameters
    ----------
    paths : sequence of path
        Checkpoints, adapters or TorchScript files, in model-list order (the first is active).
    data, split, limit : as ``--data``, ``--split``, ``--limit``
    seed : int
        Subsample, projection and k-means seed (≥ 0).
    projection : {"pca", "umap", "tsne"}
        Every model's embedding (computed here, in this process, and cached).
    colour : (str, int)
        Colour mode and latent dimension, as :func:`parse_colour` returns them.
    k : int, optional
        k-means on each model's latent codes z with ``k`` clusters (default: the number of classes
        when colouring by cluster, else none).
    resize : {"bilinear", "bicubic", "lanczos", "nearest"}, optional
        Filter fitting the images to each model's input (``--resize``; recorded in the session).
    device : str, optional
        ``--device``: where the models compute (`Session.set_device`; default the CPU).
    umap_backend : {"umap-learn", "cuml"}
        ``--umap-backend`` of a UMAP projection (`explorer.core.projection.cuml_umap.check_umap_backend`).
    on_dataset : callable, optional
        ``on_dataset(dataset)`` once the dataset is read, before any model is opened or encodes:
        checks of arguments against its labels or factors, which raise `UserError` at once.

    Returns
    -------
    Session

    Raises
    ------
    UserError
        A model could not be opened, a step failed, ``k`` exceeds N, or ``colour`` names a dimension the
        models do not have.
    """
    from explorer.core.projection.cuml_umap import check_umap_backend
    from explorer.core.projection.spec import ProjectionSpec
    from explorer.core.session import Session

    if umap_backend != "umap-learn" and projection != "umap":
        raise UserError(f"--umap-backend {umap_backend} applies to --projection umap, not {projection}.")
    check_umap_backend(umap_backend)  # cuml not installed: one sentence before any work
    s = Session(use_workers=False)
    s.set_device(device)  # a missing device: one sentence (DeviceError, a UserError) before any work
    spec = ProjectionSpec(projection, {"backend": umap_backend} if projection == "umap" else {}, seed=seed)
    s.set_projection(spec)
    _run_all(s, [s.open_dataset(data, split, limit, seed, resize)])
    if s.dataset is None:
        raise UserError(f"the dataset {data!r} could not be read")
    if on_dataset is not None:
        on_dataset(s.dataset)
    for m in s.add_models(paths):
        m.want_spec = spec if projection != "pca" else None
    tasks = [t for m in s.models for t in s.open_model_tasks(m, peek=False)]
    _run_all(s, tasks)
    for m in s.models:
        if m.entry is None:
            raise UserError(f"could not open the model file '{m.path}'")
    mode, dim = colour
    for m in s.models:
        if mode == "dimension" and dim >= m.codes.z.shape[1]:
            raise UserError(f"--colour dim:{dim}: {m.name} has d = {m.codes.z.shape[1]} latent dimensions")
    if mode == "cluster" and k is None:
        k = len(s.dataset.class_names) if s.dataset.class_names else 10
    if k is not None and not 1 <= k <= len(s.dataset):
        raise UserError(f"--k {k}: the dataset has {len(s.dataset):,} images, so k must be from 1 to that")
    if k is not None:
        s.set_clustering_settings(k=int(k), seed=seed)
        _run_all(s, [s.kmeans(m.key, "latent", k, seed) for m in s.models])
    s.set_colour(mode, dim)
    if s.models:
        s.set_active(s.models[0].key)
    return s


def cmd_session(args) -> int:
    """``session create``: open, compute (with progress) and write a session file."""
    from explorer.core.session.files import save_session

    s = create_session(args.checkpoints, args.data, args.split, args.limit, args.seed, args.projection,
                       args.colour, args.k, args.resize, args.device, args.umap_backend)
    try:
        out = save_session(s, args.out, with_results=args.with_results)
    except OSError as exc:
        raise UserError(f"could not write the session file '{args.out}': {exc.strerror or exc}") from None
    print(f"wrote {out}" + (" (with results)" if args.with_results else "")
          + f"; models computed on {', '.join(sorted({m.entry.device for m in s.models}))}")
    for m in s.models:  # how long each computed embedding took (the wall time waited, then the fit)
        res = m.embedding
        if res is not None and not res.from_cache and "waited_s" in res.meta:
            print(f"{m.name}: {res.spec.label()} computed in {res.meta['waited_s']:.1f} s "
                  f"(fit {res.meta.get('elapsed_s', 0.0):.1f} s)")
    return 0


def _restored(path: Path, device: str | None = None):
    """The session of a file, opened and computed as far as it says (read from the caches where it can)."""
    from explorer.core.session import Session
    from explorer.core.session.files import SessionFileError, read_session, restore_session

    try:
        doc = read_session(path)
    except SessionFileError as exc:
        raise UserError(str(exc)) from None
    s = Session(use_workers=False)
    s.set_device(device)
    _run_all(s, restore_session(s, doc))
    for note in s.notes:
        print(f"latent-explorer: note: {note}", file=sys.stderr)
    return s


def cmd_render_embedding(args) -> int:
    """``render embedding S.lxs --out FIG``: the session's embedding as File ▸ Export view draws it."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("QT_LOGGING_RULES", "qt.qpa.*=false")  # the offscreen plugin's notes are not ours
    from explorer.cli.args import device_from_args
    from explorer.gui.figure import render_figure
    from explorer.gui.view_export import EXPORT_FORMATS

    device_from_args(args)  # a missing device: one sentence before any work
    if not (math.isfinite(args.scale) and 0 < args.scale <= 16):
        raise UserError(f"--scale must be a number in (0, 16], got {args.scale}")
    if args.out.suffix.lower() not in EXPORT_FORMATS:
        raise UserError(f"cannot write '{args.out}': use a .png, .svg or .pdf file name")
    s = _restored(args.session, args.device)
    try:
        out = render_figure(s, args.out, scale=args.scale, width_mm=args.width_mm, dpi=args.dpi)
    except ValueError as exc:
        raise UserError(f"{args.session}: {exc}") from None
    except OSError as exc:
        raise UserError(f"could not write '{args.out}': {exc.strerror or exc}") from None
    finally:
        s.close()
    print(f"wrote {out}")
    return 0


def print_session_info(path: Path, as_json: bool = False) -> int:
    """``info S.lxs``: models (with hashes and whether they still match), dataset, projection, colouring..."""
    from explorer.core.session.files import SessionFileError, describe_session, read_session

    try:
        info = describe_session(read_session(path))
    except SessionFileError as exc:
        raise UserError(str(exc)) from None
    if as_json:
        print(json.dumps(info, indent=2))
        return 0
    ds = info["dataset"] or {}
    print(f"session     {info['session']} (format version {info['version']})")
    if ds:
        extra = ", ".join(x for x in (f"split {ds.get('split')}" if ds.get("split") else "",
                                      f"limit {ds['limit']}" if ds.get("limit") else "",
                                      f"N = {ds['n']:,}" if ds.get("n") else "", f"seed {ds.get('seed', 0)}") if x)
        print(f"dataset     {ds.get('spec')} ({extra})")
    for i, m in enumerate(info["models"]):
        star = "*" if i == info["active"] else " "
        sha = f"sha256 {m['sha256'][:16]}…" if m["sha256"] else "no sha256 recorded"
        print(f"model {i + 1}{star}    {m['path']}  {sha}  file {m['file']}")
        print(f"            projection {m['projection'] or 'none yet'}"
              + (f", k-means k = {m['clustering']['k']} on the {m['clustering']['space']} space"
                 if m["clustering"] else "")
              + (f", {m['keypoints']} interpolation keypoints" if m["keypoints"] else ""))
    col = info["colouring"] or {}
    dim = f" {col.get('dim')}" if col.get("mode") == "dimension" else ""
    print(f"projection  {info['projection']} (asked for)")
    print(f"colouring   {col.get('mode', 'label')}{dim}")
    print(f"selection   {info['selection_size']:,} dataset images")
    print(f"results     {info['results'] or 'not stored (computed again, or read from the caches)'}")
    return 0
