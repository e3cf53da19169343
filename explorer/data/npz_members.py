"""Read one array of a .npz archive with its size checked before anything is allocated, optionally only some rows."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from explorer.data._common import quote
from explorer.errors import DatasetError

#: Rows decompressed at a time when only some rows are kept.
_BLOCK_ROWS = 4096


def member_header(path: Path, key: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape and dtype an archive member declares in its .npy header, checked against the member's size.

    Parameters
    ----------
    path : pathlib.Path
        The .npz archive (a zip of .npy files).
    key : str
        The array's name (member ``key + ".npy"``).

    Returns
    -------
    shape : tuple of int
    dtype : numpy.dtype
    nbytes : int
        Bytes of the array's data (``prod(shape) · itemsize``).

    Raises
    ------
    DatasetError
        If the member is missing or damaged, is not C-ordered plain numbers, or its
        header declares more (or fewer) bytes than the member holds.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(key + ".npy")
            with archive.open(info) as fh:
                version = np.lib.format.read_magic(fh)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, fortran, dtype = read(fh, max_header_size=10_000)
                header_len = fh.tell()
    except KeyError:
        raise DatasetError(f"{quote(path)} has no array {key!r}.") from None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        raise DatasetError(f"{quote(path)} is damaged: the header of {key!r} cannot be read ({error}).") from None
    if dtype.hasobject or fortran:
        raise DatasetError(f"{quote(path)} stores {key!r} as Python objects or in Fortran order; "
                           "save it as a plain C-ordered array.")
    nbytes = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    if info.file_size != header_len + nbytes:
        raise DatasetError(
            f"{quote(path)} is damaged: {key!r} declares shape {tuple(shape)} ({nbytes:,} bytes) "
            f"but holds {info.file_size - header_len:,} bytes.")
    return tuple(int(s) for s in shape), dtype, nbytes


def check_memory(path: Path, what: str, nbytes: int) -> None:
    """Refuse (one sentence) to allocate more than the memory now available, when the system says.

    Raises
    ------
    DatasetError
        If ``nbytes`` exceeds the available physical memory.
    """
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return
    if nbytes > available:
        raise DatasetError(
            f"{quote(path)}: {what} would need {nbytes / 2**30:.1f} GiB but {available / 2**30:.1f} GiB are "
            "free; load a subsample (--limit).")


def read_rows(path: Path, key: str, keep: np.ndarray | None) -> np.ndarray:
    """Read the array ``key`` of a .npz, or only its rows ``keep``, streaming the member block by block.

    The header is checked first (`member_header`); only the kept rows are ever held,
    so a subsample of a 3 GB member needs only the subsample's memory.

    Parameters
    ----------
    path : pathlib.Path
    key : str
    keep : numpy.ndarray of int64 or None
        Sorted row indices to keep; None keeps every row.

    Returns
    -------
    numpy.ndarray
        ``(len(keep), *shape[1:])`` (or the whole array) of the stored dtype.

    Raises
    ------
    DatasetError
        For a bad header, too little memory, or a damaged member.
    """
    shape, dtype, nbytes = member_header(path, key)
    if not shape:
        raise DatasetError(f"{quote(path)} holds {key!r} as a scalar, not an array of rows.")
    row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
    rows = shape[0] if keep is None else len(keep)
    check_memory(path, f"{rows:,} rows of {key!r}", rows * row_bytes)
    out = np.empty((rows, *shape[1:]), dtype=dtype)
    try:
        with zipfile.ZipFile(path) as archive, archive.open(key + ".npy") as fh:
            fh.read(archive.getinfo(key + ".npy").file_size - nbytes)  # the header, checked above
            done = 0
            for start in range(0, shape[0], _BLOCK_ROWS):
                stop = min(start + _BLOCK_ROWS, shape[0])
                buf = fh.read((stop - start) * row_bytes)
                if len(buf) != (stop - start) * row_bytes:
                    raise EOFError("member ended early")
                if keep is None and row_bytes:
                    out[start:stop] = np.frombuffer(buf, dtype=dtype).reshape(stop - start, *shape[1:])
                    continue
                lo, hi = np.searchsorted(keep, [start, stop])
                if hi > lo:
                    block = np.frombuffer(buf, dtype=dtype).reshape(stop - start, *shape[1:])
                    out[done:done + hi - lo] = block[keep[lo:hi] - start]
                    done += hi - lo
    except (zipfile.BadZipFile, EOFError, OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"{quote(path)} is damaged: {key!r} cannot be read ({error}).") from None
    return out
