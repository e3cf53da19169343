"""Writers of test inputs (IDX files), independent of the readers under test."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

_TYPE_CODES = {np.dtype("uint8"): 0x08, np.dtype("int8"): 0x09, np.dtype("int16"): 0x0B,
               np.dtype("int32"): 0x0C, np.dtype("float32"): 0x0D, np.dtype("float64"): 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode ``array`` in the IDX format: magic, big-endian dims, big-endian data."""
    code = _TYPE_CODES[array.dtype]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, array: np.ndarray, gz: bool | None = None) -> Path:
    """Write ``array`` as an IDX file; gzip-compressed when ``gz`` (default: name ends in .gz)."""
    data = idx_bytes(np.asarray(array))
    if gz is None:
        gz = path.name.endswith(".gz")
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def mnist_like(n: int, seed: int, size: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Random uint8 images ``(n, size, size)`` and labels ``(n,)`` in 0..9."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, size, size), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8)


def write_split(folder: Path, prefix: str, n: int, seed: int, gz: bool = True, dotted: bool = False):
    """Write ``{prefix}-images-idx3-ubyte`` and labels into ``folder``; return (images, labels)."""
    images, labels = mnist_like(n, seed)
    sep = "." if dotted else "-"
    ext = ".gz" if gz else ""
    write_idx(folder / f"{prefix}-images{sep}idx3-ubyte{ext}", images)
    write_idx(folder / f"{prefix}-labels{sep}idx1-ubyte{ext}", labels)
    return images, labels
