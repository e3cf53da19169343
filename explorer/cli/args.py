"""Argument helpers shared by the `latent-explorer` subcommands: argparse types and the dataset options."""

from __future__ import annotations

import argparse
import math

__all__ = ["inversion_from_args", "check_precisions", "add_device_argument", "device_from_args",
           "Parser", "check_output_path", "positive_int", "non_negative_int", "int_in", "positive_float",
           "finite_float", "image_scale", "frame_rate", "frame_count", "add_data_args", "add_resize_arg",
           "check_render_size"]


def _int_at_least(text: str, lowest: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < lowest:
        raise argparse.ArgumentTypeError(f"{value} must be at least {lowest}")
    return value


def int_in(low: int, high: int):
    """An argparse type: a whole number from ``low`` to ``high`` (a bound on what it makes the program allocate)."""
    def parse(text: str) -> int:
        value = _int_at_least(text, low)
        if value > high:
            raise argparse.ArgumentTypeError(f"{value} must be at most {high:,}")
        return value

    parse.__name__ = "whole number"
    return parse


def positive_int(text: str) -> int:
    """argparse type: an integer ≥ 1."""
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    """argparse type: an integer ≥ 0 (a seed)."""
    return _int_at_least(text, 0)


def finite_float(low: float | None = None, high: float | None = None, *, low_open: bool = False,
                 high_open: bool = False):
    """An argparse type: a finite number (never NaN or ±inf) in a range.

    Parameters
    ----------
    low, high : float, optional
        Bounds of the range (None: unbounded on that side).
    low_open, high_open : bool
        Whether the bound itself is excluded (``low_open=True`` with ``low=0`` means > 0).

    Returns
    -------
    callable
        ``type(text) -> float``; raises ``argparse.ArgumentTypeError`` with a sentence such as
        ``"nan is not a finite number"`` or ``"-1 must be at least 0"``.
    """
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"{text} is not a finite number")
        if low is not None and (v <= low if low_open else v < low):
            raise argparse.ArgumentTypeError(f"{text} must be {'greater than' if low_open else 'at least'} {low:g}")
        if high is not None and (v >= high if high_open else v > high):
            raise argparse.ArgumentTypeError(f"{text} must be {'less than' if high_open else 'at most'} {high:g}")
        return v

    parse.__name__ = "number"  # argparse names the type in its messages
    return parse


#: argparse type: a finite number > 0.
positive_float = finite_float(0.0, low_open=True)
#: argparse type of ``--scale`` (image magnification of a figure or movie): in (0, 32].
image_scale = finite_float(0.0, 32.0, low_open=True)
#: argparse type of ``--fps``: in (0, 240].
frame_rate = finite_float(0.0, 240.0, low_open=True)
#: argparse type of ``--frames``: 1 to 10,000.
frame_count = int_in(1, 10_000)


class Parser(argparse.ArgumentParser):
    """The argument parser of ``latent-explorer`` and its subcommands: a mistake costs two lines, not the usage block.

    ``latent-explorer train: error: argument --beta: nan is not a finite number`` and a line
    saying where the usage is, instead of argparse's whole usage text before the error.
    """

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n(see `{self.prog} --help` for the options)\n")


def check_output_path(path, option: str) -> None:
    """Check, before any work, that ``path`` can be written: its folder exists and is writable, it is no folder.

    Parameters
    ----------
    path : path-like
        A file the command will write (atomically, beside itself).
    option : str
        The option that named it, e.g. ``"--json"``, for the message.

    Raises
    ------
    explorer.errors.UserError
        One sentence naming the option, the path and the problem.
    """
    import os
    from pathlib import Path

    from explorer.errors import UserError

    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UserError(f"{option} '{path}' is a folder; give a file name.")
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise UserError(f"{option} '{path}': the folder '{folder}' {what}; create it first or choose another place.")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UserError(f"{option} '{path}' cannot be written (no permission in '{folder}'); choose another place.")


def check_render_size(values: float, options: str) -> None:
    """Refuse a figure or movie whose pixels would not fit in memory, naming the options that size it.

    Parameters
    ----------
    values : float
        Numbers the rendering holds at once (pixels × channels × frames), counted as float32
        with an 8-bit copy (5 bytes each).
    options : str
        The options to name, e.g. ``"--cols/--scale"``.

    Raises
    ------
    explorer.errors.UserError
    """
    from explorer.errors import UserError
    from explorer.limits import memory_shortfall

    short = memory_shortfall(int(values * 5))
    if short:
        raise UserError(f"{options}: the rendering would need {short}; choose smaller values.")


#: `explorer.data.RESIZE_METHODS` and `explorer.data.DEFAULT_RESIZE`, spelled out so that building the parser
#: imports no numpy (`latent-explorer info` runs without it); tests/test_cli_info.py checks they agree.
RESIZE_METHODS = ("bilinear", "bicubic", "lanczos", "nearest")
DEFAULT_RESIZE = "bilinear"


def add_resize_arg(p: argparse.ArgumentParser) -> None:
    """Add ``--resize`` (the filter that fits the dataset's images to a model's input size)."""
    p.add_argument("--resize", choices=RESIZE_METHODS, default=DEFAULT_RESIZE,
                   help="filter resizing the images to a model's input size when they differ (default: "
                        f"{DEFAULT_RESIZE}, antialiased, as torchvision's Resize that most PyTorch models were "
                        "trained with)")


def add_data_args(p: argparse.ArgumentParser, split_default: str | None, resize: bool = False) -> None:
    """Add ``--data``, ``--split`` and ``--limit`` (a seeded subsample) to a subcommand's parser, and
    ``--resize`` (`add_resize_arg`) when ``resize``."""
    p.add_argument("--data", default="fashion-mnist",
                   help="dataset name (fashion-mnist, digits, dsprites) or path (IDX folder, .npz/.npy, "
                        "image folder with one subfolder per class); default: fashion-mnist")
    p.add_argument("--split", choices=["train", "test", "all"], default=split_default,
                   help=f"split of the dataset (default: {split_default or 'every split it has'})")
    p.add_argument("--limit", type=positive_int, default=None, metavar="N",
                   help="use a seeded random subsample of N images (for dsprites: generate N)")
    if resize:
        add_resize_arg(p)


def check_precisions(precisions) -> None:
    """Check ``--precision`` values (float32, float16 or kbit with k = 2..16) before any work.

    Raises
    ------
    UserError
        One sentence naming the bad value.
    """
    from explorer.core.reconstruction.quantize import parse_precision
    from explorer.errors import UserError

    for p in precisions:
        try:
            parse_precision(p)
        except ValueError as exc:
            raise UserError(f"--precision {p!r}: {exc}.") from None


def inversion_from_args(args):
    """The GAN-inversion settings of ``--inversion-steps`` / ``--inversion-restarts`` and ``--seed``.

    Returns
    -------
    explorer.core.reconstruction.inversion.InversionSettings

    Raises
    ------
    UserError
        Settings the inversion refuses (one sentence).
    """
    from explorer.core.reconstruction.inversion import InversionSettings
    from explorer.errors import UserError

    inv = {}
    if args.inversion_steps is not None:
        inv["steps"] = args.inversion_steps
    if args.inversion_restarts is not None:
        inv["restarts"] = args.inversion_restarts
    try:
        return InversionSettings(seed=args.seed, **inv)
    except ValueError as exc:
        raise UserError(f"bad inversion settings: {exc}") from None


def add_device_argument(p: argparse.ArgumentParser, what: str = "the models compute") -> None:
    """Add ``--device auto|cpu|cuda|cuda:N|mps`` (default cpu) to a subcommand's parser (read by `device_from_args`).

    Parameters
    ----------
    p : argparse.ArgumentParser
    what : str
        What runs there, for the help text (e.g. ``"the model trains"``).
    """
    p.add_argument("--device", default="cpu", metavar="DEVICE",
                   help=f"where {what}: auto, cpu, cuda, cuda:N or mps (default cpu; auto: CUDA, then MPS, "
                        "then the CPU)")


def device_from_args(args):
    """The ``torch.device`` of ``--device`` (`explorer.core.device.resolve_device`).

    Raises
    ------
    explorer.core.device.DeviceError
        A `UserError`: one sentence when the device is not a device name or is missing here.
    """
    from explorer.core.device import resolve_device

    return resolve_device(getattr(args, "device", "cpu"))


def add_umap_backend_argument(p: argparse.ArgumentParser) -> None:
    """Add ``--umap-backend umap-learn|cuml`` (with ``--projection umap``; checked by `check_umap_backend_args`)."""
    p.add_argument("--umap-backend", choices=["umap-learn", "cuml"], default="umap-learn",
                   help="with --projection umap: umap-learn (default) or RAPIDS cuML's GPU UMAP, where it is installed")


def check_umap_backend_args(args) -> None:
    """Refuse, before any work, ``--umap-backend`` without ``--projection umap`` or cuML where it is not installed.

    Raises
    ------
    UserError
        One sentence (`explorer.core.projection.cuml_umap.UMAPBackendError` is one).
    """
    from explorer.core.projection.cuml_umap import check_umap_backend
    from explorer.errors import UserError

    backend = getattr(args, "umap_backend", "umap-learn")
    if backend != "umap-learn" and getattr(args, "projection", None) != "umap":
        raise UserError(f"--umap-backend {backend} applies to --projection umap, not {args.projection}.")
    if backend != "umap-learn" and getattr(args, "align", None) == "aligned-umap":
        raise UserError(f"--umap-backend {backend} has no AlignedUMAP (umap-learn's alone); use --align procrustes.")
    check_umap_backend(backend)
