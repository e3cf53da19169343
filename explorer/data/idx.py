"""Read MNIST-format IDX files (gzipped or not) and folders of them into a `Dataset`."""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from explorer.data._common import (
    FASHION_MNIST_CLASSES,
    check_class_names,
    check_labels,
    kept_indices,
    number_classes,
    quote,
    subsample_note,
    to_unit_float,
)
from explorer.data.dataset import Dataset
from explorer.errors import DatasetError
from explorer.limits import memory_shortfall

# IDX type codes (third byte of the magic number) and their big-endian element types.
_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# File-name prefixes of each split: MNIST names the test split "t10k".
_SPLIT_PREFIXES = {"train": ("train",), "test": ("t10k", "test")}


def _open(path: Path):
    """Open ``path`` for reading, through gzip when it starts with gzip's magic bytes."""
    handle = open(path, "rb")
    if handle.read(2) == b"\x1f\x8b":
        handle.seek(0)
        return gzip.GzipFile(fileobj=handle, mode="rb"), handle
    handle.seek(0)
    return handle, handle


def _read_exactly(stream, n: int) -> bytes:
    """Up to ``n`` bytes of ``stream`` (fewer only at its end), read in blocks so that no more is inflated."""
    parts, left = [], n
    while left > 0:
        block = stream.read(min(left, 1 << 24))
        if not block:
            break
        parts.append(block)
        left -= len(block)
    return b"".join(parts)


def read_idx(path: str | os.PathLike, max_bytes: int | None = None) -> np.ndarray:
    """Read one IDX file as it is stored, reading no more than its header announces.

    The IDX format (LeCun et al., MNIST): two zero bytes, a type code (0x08 uint8,
    0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64), the number of
    dimensions, one big-endian uint32 per dimension, then the data, big-endian. The size
    the header announces is checked against the memory available before any data is read
    (a gzipped file is inflated only that far), so a small file that claims or inflates to
    gigabytes is refused with a sentence instead of exhausting memory.

    Parameters
    ----------
    path : str or os.PathLike
        IDX file, optionally gzip-compressed (recognised by content, not by name).
    max_bytes : int, optional
        Memory the file's data (stored, native-endian copy and float32 pixels) may take;
        default `explorer.limits.available_memory`.

    Returns
    -------
    numpy.ndarray
        Array of the shape the header gives, in the native-endian form of the stored type.

    Raises
    ------
    DatasetError
        If the file cannot be read, is not IDX (wrong magic number), announces more data than
        fits in memory, is truncated or has bytes after the data the header describes.
    """
    path = Path(path)
    try:
        stream, handle = _open(path)
        with handle, stream:
            head = _read_exactly(stream, 4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_TYPES or head[3] == 0:
                found = " ".join(f"{b:02x}" for b in head) or "nothing"
                raise DatasetError(
                    f"{quote(path)} is not an IDX file: it starts with bytes {found} instead of a magic "
                    "number such as 00 00 08 03 (images) or 00 00 08 01 (labels)."
                )
            dtype, ndim = _IDX_TYPES[head[2]], head[3]
            dims_raw = _read_exactly(stream, 4 * ndim)
            if len(dims_raw) < 4 * ndim:
                raise DatasetError(
                    f"{quote(path)} is truncated: its header announces {ndim} dimensions but the file ends "
                    f"after {4 + len(dims_raw)} bytes."
                )
            shape = tuple(int(d) for d in np.frombuffer(dims_raw, dtype=">u4", count=ndim))
            count = math.prod(shape)
            expected = count * dtype.itemsize
            dims = "×".join(str(d) for d in shape)
            short = memory_shortfall(2 * expected + 4 * count, max_bytes)
            if short:
                raise DatasetError(
                    f"{quote(path)} announces {dims} values in its header, which would need {short}; "
                    "use a smaller file or a machine with more memory."
                )
            raw = _read_exactly(stream, expected)
            extra = len(stream.read(1 << 20)) if len(raw) == expected else 0  # counted up to 1 MiB
    except DatasetError:
        raise
    except EOFError:
        raise DatasetError(
            f"{quote(path)} is truncated: its gzip stream ends early; download or copy it again."
        ) from None
    except (gzip.BadGzipFile, zlib.error) as error:
        raise DatasetError(f"{quote(path)} is a damaged gzip file ({error}); download or copy it again.") from None
    except OSError as error:
        raise DatasetError(f"{quote(path)} could not be read ({error.strerror or error}).") from None
    unit = "bytes" if dtype.itemsize == 1 else f"{dtype.itemsize}-byte values"
    if len(raw) < expected:
        raise DatasetError(
            f"{quote(path)} is truncated: header says {dims} {unit} but only "
            f"{len(raw) // dtype.itemsize} follow."
        )
    if extra:
        raise DatasetError(
            f"{quote(path)} has {extra if extra < 1 << 20 else 'at least 1 MiB of'} bytes more than its "
            f"header's {dims} {unit}; it is not a valid IDX file."
        )
    data = np.frombuffer(raw, dtype=dtype).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def read_idx_images(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX images file as a float32 image stack.

    Parameters
    ----------
    path : str or os.PathLike
        IDX file of three dimensions ``(N, H, W)`` (magic 0x00000803 for uint8).

    Returns
    -------
    numpy.ndarray
        ``(N, 1, H, W)`` float32 in [0, 1] (uint8 values divided by 255).

    Raises
    ------
    DatasetError
        As `read_idx`, or if the file does not hold 3-D images.
    """
    images, _ = to_unit_float(_read_image_array(Path(path)), path)
    return images[:, None]


def _read_image_array(path: Path) -> np.ndarray:
    """Read an IDX images file as stored, checking that it is ``(N, H, W)``."""
    data = read_idx(path)
    if data.ndim != 3:
        dims = "×".join(str(d) for d in data.shape)
        raise DatasetError(f"{quote(path)} holds a {data.ndim}-D array ({dims}); expected images of shape N×H×W.")
    return data


def read_idx_labels(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX labels file.

    Parameters
    ----------
    path : str or os.PathLike
        IDX file of one dimension ``(N,)`` (magic 0x00000801 for uint8).

    Returns
    -------
    numpy.ndarray
        ``(N,)`` int64 class indices, non-negative.

    Raises
    ------
    DatasetError
        As `read_idx`, or if the file does not hold 1-D non-negative whole numbers.
    """
    data = read_idx(path)
    if data.ndim != 1:
        dims = "×".join(str(d) for d in data.shape)
        raise DatasetError(f"{quote(path)} holds a {data.ndim}-D array ({dims}); expected labels of shape N.")
    return check_labels(data, len(data), path)


def _first_existing(folder: Path, stems: list[str]) -> Path | None:
    """Return the first of ``stem`` / ``stem.gz`` for each stem that is a file in ``folder``."""
    for stem in stems:
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
    return None


def find_idx_files(folder: str | os.PathLike) -> dict[str, tuple[Path, Path | None]]:
    """Find the standard MNIST-named IDX files of each split in a folder.

    Recognised names (each optionally ending in ``.gz``): ``train-images-idx3-ubyte``,
    ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``,
    the dotted variants ``train-images.idx3-ubyte`` etc., and ``test-`` for ``t10k-``.

    Parameters
    ----------
    folder : str or os.PathLike
        Folder to look in (not recursively).

    Returns
    -------
    dict
        ``{"train": (images, labels or None), "test": (...)}`` with only the splits whose
        images file exists, in the order train, test.
    """
    folder = Path(folder)
    found: dict[str, tuple[Path, Path | None]] = {}
    for split, prefixes in _SPLIT_PREFIXES.items():
        images = _first_existing(
            folder, [f"{p}-images{sep}idx3-ubyte" for p in prefixes for sep in ("-", ".")]
        )
        if images is None:
            continue
        labels = _first_existing(
            folder, [f"{p}-labels{sep}idx1-ubyte" for p in prefixes for sep in ("-", ".")]
        )
        found[split] = (images, labels)
    return found


#: Largest ``classes.txt`` read (bytes): one name per line, a few KiB in practice.
MAX_CLASSES_TXT = 16 * 2**20


def _class_names(
    folder: Path, labels: np.ndarray | None, fashion: bool
) -> tuple[np.ndarray | None, tuple[str, ...] | None, tuple[str, ...]]:
    """Labels, class names and notes of an IDX folder: Fashion-MNIST's names, ``classes.txt``'s, or numbers."""
    if labels is None:
        return None, None, ()
    if fashion:
        return labels, check_class_names(FASHION_MNIST_CLASSES, labels, folder), ()
    listing = folder / "classes.txt"
    if listing.is_file():
        try:
            if listing.stat().st_size > MAX_CLASSES_TXT:
                raise DatasetError(f"{quote(listing)} is larger than 16 MiB; it should hold one class name per line.")
            lines = listing.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise DatasetError(f"{quote(listing)} could not be read as UTF-8 text ({error}).") from None
        return labels, check_class_names([line.strip() for line in lines if line.strip()], labels, listing), ()
    if "fashion" in folder.name.lower():
        return labels, check_class_names(FASHION_MNIST_CLASSES, labels, folder), ()
    return number_classes(labels, folder)


def _read_split(images_path: Path, labels_path: Path | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Read one split's images (as stored) and labels, checking that their counts agree."""
    data = _read_image_array(images_path)
    labels = None
    if labels_path is not None:
        labels = read_idx_labels(labels_path)
        if len(labels) != data.shape[0]:
            raise DatasetError(
                f"{quote(images_path)} holds {data.shape[0]:,} images but {quote(labels_path)} holds "
                f"{len(labels):,} labels; use the labels file that belongs to these images."
            )
    return data, labels


def load_idx_folder(
    folder: str | os.PathLike,
    split: str | None = None,
    limit: int | None = None,
    seed: int = 0,
    name: str | None = None,
    fashion: bool = False,
) -> Dataset:
    """Load the train and/or test split of a folder of MNIST-named IDX files.

    Parameters
    ----------
    folder : str or os.PathLike
        Folder holding the files `find_idx_files` recognises; either split alone is enough.
    split : {"train", "test", "all", None}
        Split to load; None and "all" load every split present, train then test.
    limit : int or None
        Keep a seeded random subsample of this many images (``Dataset.indices`` gives
        their positions in the concatenated splits).
    seed : int
        Seed of the subsample.
    name : str or None
        Name of the dataset; defaults to the folder's name.
    fashion : bool
        Use Fashion-MNIST's class names. Otherwise ``classes.txt`` in the folder (one
        name per line) gives them, then a folder name containing "fashion", then "0".."9".

    Returns
    -------
    Dataset
        ``images`` ``(N, 1, H, W)`` float32 in [0, 1]; ``labels`` ``(N,)`` int64 or None
        when a labels file is missing (a note says so); ``split`` "train", "test" or "all".

    Raises
    ------
    DatasetError
        If the folder holds no IDX images, lacks the requested split, a file is invalid,
        or a labels file's count differs from its images file's.
    """
    folder = Path(folder)
    files = find_idx_files(folder)
    if not files:
        raise DatasetError(
            f"{quote(folder)} holds no MNIST-named IDX files (train-images-idx3-ubyte[.gz] or "
            "t10k-images-idx3-ubyte[.gz])."
        )
    if split in ("train", "test"):
        if split not in files:
            other = next(iter(files))
            raise DatasetError(
                f"{quote(folder)} has no {split} split (no {_SPLIT_PREFIXES[split][0]}-images-idx3-ubyte[.gz]); "
                f"it holds only the {other} split."
            )
        files = {split: files[split]}
    elif split not in (None, "all"):
        raise DatasetError(f"Unknown split {split!r} for {quote(folder)}; use 'train', 'test' or 'all'.")

    raw = {s: _read_split(images_path, labels_path) for s, (images_path, labels_path) in files.items()}
    shapes = {data.shape[1:] for data, _ in raw.values()}
    if len(shapes) > 1:
        raise DatasetError(
            f"The train and test images in {quote(folder)} have different sizes; load one split at a time."
        )
    data = np.concatenate([d for d, _ in raw.values()]) if len(raw) > 1 else raw[next(iter(raw))][0]
    label_parts = [labels for _, labels in raw.values()]
    labels = None
    notes: list[str] = []
    if all(lab is not None for lab in label_parts):
        labels = np.concatenate(label_parts) if len(label_parts) > 1 else label_parts[0]
    for images_path, labels_path in files.values():
        if labels_path is None:
            notes.append(f"No labels file was found next to {quote(images_path)}; its images have no labels.")
    if labels is None and any(lab is not None for lab in label_parts):
        notes.append("The labels of the other split were dropped too, so that every image is treated alike.")

    labels, class_names, label_notes = _class_names(folder, labels, fashion)
    notes.extend(label_notes)
    keep = kept_indices(len(data), limit, seed)
    if keep is not None:
        data = data[keep]
        labels = None if labels is None else labels[keep]
    images, conversion_notes = to_unit_float(data, files[next(iter(files))][0])
    notes.extend(conversion_notes)
    if keep is not None:
        notes.append(subsample_note(len(keep), sum(len(d) for d, _ in raw.values()), seed))
    return Dataset(
        images=images[:, None],
        labels=labels,
        class_names=class_names,
        name=name or folder.name,
        source=str(folder),
        split="all" if len(files) > 1 else next(iter(files)),
        indices=keep,
        notes=tuple(notes),
    )


def load_idx_file(
    path: str | os.PathLike, limit: int | None = None, seed: int = 0, name: str | None = None
) -> Dataset:
    """Load a single IDX images file, with its labels when an MNIST-named labels file is beside it.

    Parameters
    ----------
    path : str or os.PathLike
        IDX images file (``.gz`` or not), e.g. ``t10k-images-idx3-ubyte.gz``. The labels
        file is the same name with ``images``→``labels`` and ``idx3``→``idx1``.
    limit, seed : int or None, int
        Seeded random subsample, as in `load_idx_folder`.
    name : str or None
        Name of the dataset; defaults to the file name without ``.gz``.

    Returns
    -------
    Dataset
        ``images`` ``(N, 1, H, W)`` float32 in [0, 1]; labels ``(N,)`` int64 or None;
        ``split`` "train" or "test" when the name says so, else None.

    Raises
    ------
    DatasetError
        As `load_idx_folder`.
    """
    path = Path(path)
    labels_path = path.with_name(path.name.replace("images", "labels").replace("idx3", "idx1"))
    if labels_path == path or not labels_path.is_file():
        labels_path = None
    data, labels = _read_split(path, labels_path)
    labels, class_names, label_notes = _class_names(path.parent, labels, fashion=False)
    total = len(data)
    keep = kept_indices(total, limit, seed)
    if keep is not None:
        data = data[keep]
        labels = None if labels is None else labels[keep]
    images, notes = to_unit_float(data, path)
    notes = label_notes + notes
    if keep is not None:
        notes += (subsample_note(len(keep), total, seed),)
    stem = path.name[:-3] if path.name.endswith(".gz") else path.name
    split = next((s for s, prefixes in _SPLIT_PREFIXES.items() if stem.startswith(prefixes)), None)
    return Dataset(
        images=images[:, None],
        labels=labels,
        class_names=class_names,
        name=name or stem,
        source=str(path),
        split=split,
        indices=keep,
        notes=tuple(notes),
    )
