"""Read image stacks, labels and factors from NumPy .npz archives and .npy files into a `Dataset`."""

from __future__ import annotations

import math
import os
import zipfile
from pathlib import Path

import numpy as np

from explorer.data._common import (
    check_class_names,
    check_labels,
    kept_indices,
    number_classes,
    quote,
    subsample_note,
    to_nchw,
    to_unit_float,
)
from explorer.data.dataset import Dataset
from explorer.errors import DatasetError, one_line
from explorer.limits import memory_shortfall

#: Keys searched, in order, for each field of a .npz archive.
IMAGE_KEYS = ("images", "x", "X")
LABEL_KEYS = ("labels", "y")

#: dSprites (Matthey et al. 2017): the non-constant columns of ``latents_values``.
DSPRITES_FACTOR_NAMES = ("shape", "scale", "orientation", "pos_x", "pos_y")
DSPRITES_CLASS_NAMES = ("square", "ellipse", "heart")


def _read_header(f, where: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from the header of a .npy stream, without reading its data."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    except (ValueError, EOFError, SyntaxError) as error:
        raise DatasetError(f"{where} is not a NumPy array or its header is damaged ({error}); save it again.") from None
    return tuple(int(d) for d in shape), dtype


def _check_headers(path: Path, zipped: bool, max_bytes: int | None) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Read every array header of a .npy / .npz and check that the arrays fit in memory, before any data is read.

    Returns ``{key: (shape, dtype)}`` (key ``""`` for a .npy file); object arrays are refused (they would
    need pickles), as are headers whose arrays — plus a float32 copy of the largest — exceed ``max_bytes``.
    """
    headers = {}
    if zipped:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.filename.endswith(".npy"):
                    key = info.filename[:-4]
                    with zf.open(info) as f:
                        headers[key] = _read_header(f, f"{quote(path)} member {key!r}")
    else:
        with open(path, "rb") as f:
            headers[""] = _read_header(f, quote(path))
    if "imgs" in headers and "latents_values" in headers:
        # DeepMind's dSprites archive: its pickled 'metadata' is skipped, never unpickled, and `_load_dsprites`
        # checks the sizes of only the rows it keeps (explorer.data.npz_members)
        return {k: v for k, v in headers.items() if k != "metadata"}
    for key, (_, dtype) in headers.items():
        if dtype.hasobject:
            what = f"stores {key!r}" if key else "holds an array"
            raise DatasetError(
                f"{quote(path)} {what} as Python objects, which are not loaded for safety; "
                "save it as a plain array (strings as np.array(names, dtype=str))."
            )
    counts = {key: math.prod(shape) for key, (shape, _) in headers.items()}
    need = sum(counts[k] * dtype.itemsize for k, (_, dtype) in headers.items()) + 4 * max(counts.values(), default=0)
    short = memory_shortfall(need, max_bytes)
    if short:
        biggest = max(headers, key=lambda k: counts[k])
        dims = "×".join(str(d) for d in headers[biggest][0])
        what = f"its array {biggest!r} of shape {dims}" if biggest else f"an array of shape {dims}"
        raise DatasetError(f"{quote(path)} announces {what} in its header, which would need {short}; "
                           "use a smaller file (or --limit on a smaller copy) or a machine with more memory.")
    return headers


def _load(path: Path, max_bytes: int | None = None):
    """Open a .npy/.npz without pickles, checking its headers first; every failure becomes a `DatasetError`."""
    try:
        with open(path, "rb") as fh:
            zipped = fh.read(4) in (b"PK\x03\x04", b"PK\x05\x06")
        _check_headers(path, zipped, max_bytes)
        return np.load(path, allow_pickle=False)
    except DatasetError:  # already one sentence (a DatasetError is a ValueError too)
        raise
    except (zipfile.BadZipFile, EOFError, UnicodeDecodeError) as error:  # a damaged member name: UnicodeDecodeError
        raise DatasetError(f"{quote(path)} is damaged or truncated ({error}); save or copy it again.") from None
    except OSError as error:
        raise DatasetError(f"{quote(path)} could not be read ({error.strerror or error}).") from None
    except ValueError as error:  # the headers were read: the data is what is damaged
        raise DatasetError(
            f"{quote(path)} is damaged or truncated ({one_line(error)}); save or copy it again."
        ) from None


def _get(archive, path: Path, key: str) -> np.ndarray:
    """Read one array of an open .npz (its header was checked by `_load`); damage becomes a `DatasetError`."""
    try:
        return archive[key]
    except (ValueError, zipfile.BadZipFile, EOFError, OSError) as error:
        raise DatasetError(
            f"{quote(path)} is damaged: its array {key!r} cannot be read ({one_line(error)}); save or copy it again."
        ) from None


def _images(pixels: np.ndarray, path: Path, keep: np.ndarray | None) -> tuple[np.ndarray, tuple[str, ...]]:
    """Subsample, bring to NCHW and to float32 in [0, 1]."""
    stack, layout_notes = to_nchw(pixels, path)
    if keep is not None:
        stack = stack[keep]
    images, value_notes = to_unit_float(stack, path)
    return np.ascontiguousarray(images), layout_notes + value_notes


def load_npy(path: str | os.PathLike, limit: int | None = None, seed: int = 0, name: str | None = None) -> Dataset:
    """Load a .npy file holding an image stack (no labels).

    Parameters
    ----------
    path : str or os.PathLike
        ``.npy`` file of shape ``(N, H, W)``, ``(N, H, W, C)`` or ``(N, C, H, W)`` with
        ``C`` in {1, 3, 4}; uint8 (0..255), bool, or floats in [0, 1]. See `load_npz`.
    limit : int or None
        Keep a seeded random subsample of this many images.
    seed : int
        Seed of the subsample.
    name : str or None
        Name of the dataset; defaults to the file name without extension.

    Returns
    -------
    Dataset
        ``images`` ``(N, C, H, W)`` float32 in [0, 1], ``C`` in {1, 3}; no labels.

    Raises
    ------
    DatasetError
        If the file is unreadable, holds Python objects, or not images as described.
    """
    path = Path(path)
    pixels = _load(path)
    if not isinstance(pixels, np.ndarray):
        raise DatasetError(f"{quote(path)} is a .npz archive with a .npy name; rename it to .npz.")
    keep = kept_indices(len(pixels) if pixels.ndim else 0, limit, seed)
    images, notes = _images(pixels, path, keep)
    if keep is not None:
        notes += (subsample_note(len(keep), len(pixels), seed),)
    return Dataset(images=images, name=name or path.stem, source=str(path), indices=keep, notes=notes)


def load_npz(path: str | os.PathLike, limit: int | None = None, seed: int = 0, name: str | None = None) -> Dataset:
    """Load a .npz archive of images with optional labels, class names and factors.

    Documented keys:

    - ``images`` (or ``x`` / ``X``): ``(N, H, W)``, ``(N, H, W, C)`` or ``(N, C, H, W)``
      with ``C`` in {1, 3, 4} (alpha is dropped). uint8 is divided by 255, bool becomes
      0/1, other integers must lie in 0..255, floats must lie in [0, 1] — except floats
      that are whole numbers in 0..255, which are divided by 255 with a note.
    - ``labels`` (or ``y``): ``(N,)`` non-negative whole numbers.
    - ``class_names``: ``(n_classes,)`` strings; default "0", "1", ….
    - ``factors``: ``(N, K)`` ground-truth factor values; ``factor_names``: ``(K,)``
      strings, default "factor_0", …; optional ``factor_value_names``: ``(K, M)`` strings,
      row ``k`` naming factor ``k``'s sorted distinct values, padded with "" (an empty row:
      no names; `explorer.data.factor_values.npz_value_names`).

    The dSprites archive (``imgs`` ``(N, 64, 64)`` uint8 in {0, 1}, ``latents_values``
    and ``latents_classes`` ``(N, 6)`` with columns color, shape, scale, orientation,
    posX, posY) is recognised: factors are ``latents_values[:, 1:]`` named
    `DSPRITES_FACTOR_NAMES` (shape values 1, 2, 3 as stored), labels the shape class
    0..2 named `DSPRITES_CLASS_NAMES`.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` file. Nothing in it is executed (pickles are refused).
    limit : int or None
        Keep a seeded random subsample of this many images (taken before conversion to
        float, so a subsample of the 737,280 dSprites images fits in memory).
    seed : int
        Seed of the subsample.
    name : str or None
        Name of the dataset; defaults to the file name without extension.

    Returns
    -------
    Dataset
        ``images`` ``(N, C, H, W)`` float32 in [0, 1], ``C`` in {1, 3}; ``labels`` ``(N,)``
        int64 or None; ``factors`` ``(N, K)`` float64 or None.

    Raises
    ------
    DatasetError
        If the archive is unreadable, lacks an images key, or a field has the wrong shape,
        type or range.
    """
    path = Path(path)
    archive = _load(path)
    if isinstance(archive, np.ndarray):
        raise DatasetError(f"{quote(path)} is a .npy array with a .npz name; rename it to .npy.")
    with archive:
        keys = set(archive.files)
        if "imgs" in keys and "latents_values" in keys:
            return _load_dsprites(archive, path, limit, seed, name)
        image_key = next((k for k in IMAGE_KEYS if k in keys), None)
        if image_key is None:
            found = ", ".join(sorted(keys)) or "no arrays"
            raise DatasetError(
                f"{quote(path)} has no images array (expected the key 'images', 'x' or 'X'; found {found})."
            )
        pixels = _get(archive, path, image_key)
        n = len(pixels) if pixels.ndim else 0
        keep = kept_indices(n, limit, seed)
        images, notes = _images(pixels, path, keep)

        labels = class_names = factors = factor_names = value_names = None
        label_key = next((k for k in LABEL_KEYS if k in keys), None)
        if label_key is not None:
            labels = check_labels(_get(archive, path, label_key), n, path)
            if "class_names" in keys:
                class_names = check_class_names(_get(archive, path, "class_names").ravel(), labels, path)
            else:
                labels, class_names, label_notes = number_classes(labels, path)
                notes += label_notes
            if keep is not None:
                labels = labels[keep]
        if "factors" in keys:
            factors = _factors(_get(archive, path, "factors"), n, path)
            factor_names = _factor_names(archive, path, factors.shape[1], keys)
            if "factor_value_names" in keys:
                from explorer.data.factor_values import npz_value_names

                value_names = npz_value_names(_get(archive, path, "factor_value_names"), factors, quote(path))
            if keep is not None:
                factors = factors[keep]
    if keep is not None:
        notes += (subsample_note(len(keep), n, seed),)
    return Dataset(
        images=images,
        labels=labels,
        class_names=class_names,
        factors=factors,
        factor_names=factor_names,
        factor_value_names=value_names,
        name=name or path.stem,
        source=str(path),
        indices=keep,
        notes=notes,
    )


def _factors(values: np.ndarray, n: int, path: Path) -> np.ndarray:
    """Validate ``(N, K)`` numeric factors and return them as float64."""
    numeric = np.issubdtype(values.dtype, np.number) or values.dtype == np.bool_
    if values.ndim != 2 or len(values) != n or not numeric:
        shape = "×".join(str(s) for s in values.shape)
        raise DatasetError(f"{quote(path)} holds factors of shape {shape} ({values.dtype}); expected ({n}, K) numbers.")
    return values.astype(np.float64)


def _factor_names(archive, path: Path, k: int, keys: set[str]) -> tuple[str, ...]:
    """Names of the ``k`` factors: ``factor_names`` when given, else "factor_0", …."""
    if "factor_names" not in keys:
        return tuple(f"factor_{i}" for i in range(k))
    names = tuple(str(v) for v in _get(archive, path, "factor_names").ravel())
    if len(names) != k:
        raise DatasetError(f"{quote(path)} names {len(names)} factors but holds {k}; give one name per factor column.")
    return names


def _load_dsprites(archive, path: Path, limit: int | None, seed: int, name: str | None) -> Dataset:
    """Read DeepMind's dSprites archive (binary ``imgs``, ``latents_values``, ``latents_classes``).

    The ``imgs`` header is checked against its size before anything is allocated and only
    the kept rows are decompressed (`explorer.data.npz_members.read_rows`); the archive's
    pickled ``metadata`` entry is never read, let alone unpickled (a note says so).
    """
    from explorer.data.npz_members import member_header, read_rows

    shape, _, _ = member_header(path, "imgs")
    n = shape[0] if shape else 0
    values = _get(archive, path, "latents_values")
    if values.ndim != 2 or values.shape != (n, 6):
        shape = "×".join(str(s) for s in values.shape)
        raise DatasetError(f"{quote(path)} holds latents_values of shape {shape}; dSprites has ({n}, 6).")
    if "latents_classes" in archive.files:
        classes = _get(archive, path, "latents_classes")
        if classes.shape != (n, 6):
            raise DatasetError(f"{quote(path)} holds latents_classes of a shape other than ({n}, 6).")
        labels = check_labels(classes[:, 1], n, path)
    else:
        labels = check_labels(values[:, 1] - 1, n, path)
    from explorer.data.dsprites import value_names as dsprites_value_names

    value_names = dsprites_value_names([values[:, j] for j in range(1, 6)])  # of the whole archive
    keep = kept_indices(n, limit, seed)
    stack, notes = to_nchw(read_rows(path, "imgs", keep), path)
    if keep is not None:
        labels, values = labels[keep], values[keep]
    if "metadata" in archive.files:
        notes += ("The archive's 'metadata' entry is a pickled Python object; it was skipped, not unpickled.",)
    if stack.dtype == np.uint8 and stack.size and stack.max() <= 1:
        images = stack.astype(np.float32)  # dSprites stores binary masks as 0/1, not 0/255
    else:
        images, value_notes = to_unit_float(stack, path)
        notes += value_notes
    if keep is not None:
        notes += (subsample_note(len(keep), n, seed),)
    return Dataset(
        images=np.ascontiguousarray(images),
        labels=labels,
        class_names=check_class_names(DSPRITES_CLASS_NAMES, labels, path),
        factors=values[:, 1:].astype(np.float64),
        factor_names=DSPRITES_FACTOR_NAMES,
        factor_value_names=value_names,
        name=name or path.stem,
        source=str(path),
        indices=keep,
        notes=notes,
    )
