"""Atomic writes of tables and figures (temp file beside the target, then rename)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


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
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_json(target: str | Path, obj) -> None:
    """Write ``obj`` as indented JSON to ``target`` atomically (numpy scalars become numbers)."""
    def default(o):
        if hasattr(o, "item"):
            return o.item()
        if hasattr(o, "tolist"):
            return o.tolist()
        return str(o)

    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=default) + "\n")
