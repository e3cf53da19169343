"""Atomic writes of tables and figures (temp file beside the target, then rename)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np


def file_umask() -> int:
    """The process's umask (read by setting and restoring it): what a new file's mode is reduced by."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it onto ``target``.

    On an exception the temporary file is removed and ``target`` is left as it was,
    so a failed export never leaves a partial file.
    """
    target = Path(target)
    fd, tmp = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".",
                               prefix=f".{target.name}.", suffix=target.suffix or ".tmp")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~file_umask())  # mkstemp makes 0600; exports are ordinary files
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write(target: str | Path, write: Callable[[BinaryIO], None]) -> None:
    """Write ``target`` through ``write(binary_file)`` atomically: temp file, fsync, rename.

    Creates the parent folder. On any exception nothing is left behind and ``target``
    keeps its old content.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())


def to_jsonable(obj):
    """``obj`` with numpy arrays/scalars as lists/numbers, tuples as lists, NaN and ±inf as None."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(target: str | Path, obj) -> None:
    """Write ``obj`` as indented, strictly valid JSON to ``target`` atomically.

    numpy arrays and scalars become lists and numbers; NaN and ±inf become ``null``.
    """
    text = json.dumps(to_jsonable(obj), indent=2, allow_nan=False)
    with atomic_path(target) as tmp:
        tmp.write_text(text + "\n")
