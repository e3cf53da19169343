"""Argument helpers shared by the `latent-explorer` subcommands: argparse types and the dataset options."""

from __future__ import annotations

import argparse

__all__ = ["positive_int", "non_negative_int", "positive_float", "add_data_args"]


def _int_at_least(text: str, lowest: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < lowest:
        raise argparse.ArgumentTypeError(f"{value} must be at least {lowest}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer ≥ 1."""
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    """argparse type: an integer ≥ 0 (a seed)."""
    return _int_at_least(text, 0)


def positive_float(text: str) -> float:
    """argparse type: a number > 0."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"{v} must be > 0")
    return v


def add_data_args(p: argparse.ArgumentParser, split_default: str | None) -> None:
    """Add ``--data``, ``--split`` and ``--limit`` (a seeded subsample) to a subcommand's parser."""
    p.add_argument("--data", default="fashion-mnist",
                   help="dataset name (fashion-mnist, digits, dsprites) or path (IDX folder, .npz/.npy, "
                        "image folder with one subfolder per class); default: fashion-mnist")
    p.add_argument("--split", choices=["train", "test", "all"], default=split_default,
                   help=f"split of the dataset (default: {split_default or 'every split it has'})")
    p.add_argument("--limit", type=positive_int, default=None, metavar="N",
                   help="use a seeded random subsample of N images (for dsprites: generate N)")
