"""Helpers shared by the dataset readers: pixel scaling, layouts, subsampling, class names."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from explorer.errors import DatasetError

#: Fashion-MNIST's ten classes, in label order (Xiao, Rasul & Vollgraf 2017).
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def quote(path: str | os.PathLike) -> str:
    """Return ``path`` in single quotes, as user messages show it."""
    return f"'{Path(path)}'"


def subsample_indices(n: int, limit: int | None, seed: int) -> np.ndarray:
    """Indices of a seeded random subsample without replacement, or of every item.

    The one seeded subset of the project: dataset readers (``--limit``), and the images
    whose reconstructions are measured and shown (`explorer.core.reconstruction.jobs`),
    GAN-inverted embedding points and ``evaluate --n-images`` draw their samples here, so
    the same ``(n, limit, seed)`` always names the same images.

    Parameters
    ----------
    n : int
        Number of items in the full source (≥ 0).
    limit : int or None
        Number of items wanted; None or ``limit >= n`` means all of them.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    numpy.ndarray, shape (min(limit, n),), int64
        Sorted indices into the source: ``sort(default_rng(seed).choice(n, limit,
        replace=False))``, or ``arange(n)`` when everything is kept.

    Raises
    ------
    DatasetError
        If ``limit`` is not a positive integer.
    """
    n = int(n)
    if limit is None:
        return np.arange(n, dtype=np.int64)
    if int(limit) != limit or limit < 1:
        raise DatasetError(f"The image limit must be a positive whole number, got {limit!r}.")
    if limit >= n:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=int(limit), replace=False)).astype(np.int64)


def kept_indices(n: int, limit: int | None, seed: int) -> np.ndarray | None:
    """`subsample_indices` for the readers: None when every item is kept (nothing to copy, no note)."""
    keep = subsample_indices(n, limit, seed)
    return None if len(keep) == int(n) else keep


def subsample_note(kept: int, total: int, seed: int) -> str:
    """Return the note telling the user that a random subsample was taken."""
    return f"Random subsample of {kept:,} of the {total:,} images (seed {seed})."


def to_unit_float(pixels: np.ndarray, source: str | os.PathLike) -> tuple[np.ndarray, tuple[str, ...]]:
    """Convert pixel values of any numeric dtype to float32 in [0, 1].

    Rules: bool → 0/1; uint8 → /255; other integer types must lie in 0..255 and are
    divided by 255; floating point values must lie in [0, 1], except whole-number
    floats in 0..255 (8-bit images saved as floats), which are divided by 255 with a note.

    Parameters
    ----------
    pixels : numpy.ndarray
        Pixel values of any shape.
    source : str or os.PathLike
        File named in error messages.

    Returns
    -------
    images : numpy.ndarray
        float32 array of the same shape, values in [0, 1].
    notes : tuple of str
        Sentences for the user about the conversion (empty when nothing unusual was done).

    Raises
    ------
    DatasetError
        If the dtype is not numeric, values are NaN/infinite, or out of the accepted ranges.
    """
    where = quote(source)
    if pixels.dtype == np.bool_:
        return pixels.astype(np.float32), ()
    if pixels.dtype == np.uint8:  # one pass into one new array (the same numbers as a cast, then a division)
        return np.divide(pixels, np.float32(255), dtype=np.float32), ()
    if pixels.size == 0:
        return pixels.astype(np.float32), ()
    if np.issubdtype(pixels.dtype, np.integer):
        low, high = int(pixels.min()), int(pixels.max())
        if low < 0 or high > 255:
            raise DatasetError(
                f"{where} holds integer pixel values from {low} to {high}; expected 0..255 "
                "(8-bit) or floats in [0, 1]."
            )
        return np.divide(pixels, np.float32(255), dtype=np.float32), ()
    if not np.issubdtype(pixels.dtype, np.floating):
        raise DatasetError(f"{where} holds pixels of type {pixels.dtype}; expected numbers.")
    if not np.all(np.isfinite(pixels)):
        raise DatasetError(f"{where} holds NaN or infinite pixel values; expected values in [0, 1].")
    low, high = float(pixels.min()), float(pixels.max())
    if low >= 0.0 and high <= 1.0:
        return pixels.astype(np.float32), ()
    if low >= 0.0 and high <= 255.0 and np.array_equal(pixels, np.round(pixels)):
        note = f"Pixel values of {where} are whole numbers in 0..255 and were divided by 255."
        return (pixels / 255.0).astype(np.float32), (note,)
    raise DatasetError(
        f"{where} holds pixel values from {low:g} to {high:g}; expected floats in [0, 1] "
        "(or 8-bit integers 0..255): rescale the images before saving them."
    )


def to_nchw(images: np.ndarray, source: str | os.PathLike) -> tuple[np.ndarray, tuple[str, ...]]:
    """Bring an image stack to ``(N, C, H, W)`` with ``C`` in {1, 3}.

    Accepted layouts: ``(N, H, W)``; ``(N, C, H, W)`` or ``(N, H, W, C)`` with ``C`` in
    {1, 3, 4}. When both ``shape[1]`` and ``shape[3]`` could be channel counts, the
    smaller one is (channels last on a tie). An alpha channel (``C == 4``) is dropped
    with a note.

    Parameters
    ----------
    images : numpy.ndarray
        Image stack of any dtype.
    source : str or os.PathLike
        File named in error messages.

    Returns
    -------
    images : numpy.ndarray
        ``(N, C, H, W)`` view or copy, same dtype.
    notes : tuple of str
        Sentences for the user (alpha dropped).

    Raises
    ------
    DatasetError
        If the array has another number of dimensions or no recognisable channel axis.
    """
    channels = (1, 3, 4)
    first = images.ndim == 4 and images.shape[1] in channels
    last = images.ndim == 4 and images.shape[3] in channels
    if images.ndim == 3:
        images = images[:, None]
    elif first and (not last or images.shape[1] < images.shape[3]):
        pass
    elif last:
        images = images.transpose(0, 3, 1, 2)
    else:
        shape = "×".join(str(s) for s in images.shape)
        raise DatasetError(
            f"{quote(source)} holds images of shape {shape}; expected (N, H, W), (N, H, W, C) "
            "or (N, C, H, W) with C = 1, 3 or 4 channels."
        )
    if images.shape[1] == 4:
        return images[:, :3], (f"The alpha channel of {quote(source)} was dropped.",)
    return images, ()


def check_labels(labels: np.ndarray, n_images: int, source: str | os.PathLike) -> np.ndarray:
    """Validate class labels and return them as ``(N,)`` int64.

    Parameters
    ----------
    labels : numpy.ndarray
        ``(N,)`` non-negative whole numbers (integer dtype, or floats holding whole numbers).
    n_images : int
        Expected length ``N``.
    source : str or os.PathLike
        File named in error messages.

    Raises
    ------
    DatasetError
        If the labels are not 1-D, have another length, or are negative or fractional.
    """
    where = quote(source)
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != n_images:
        shape = "×".join(str(s) for s in labels.shape)
        raise DatasetError(f"{where} holds labels of shape {shape} for {n_images:,} images; expected ({n_images},).")
    numeric = np.issubdtype(labels.dtype, np.integer) or np.issubdtype(labels.dtype, np.floating)
    if not numeric or (labels.size and not np.array_equal(labels, np.round(labels))):
        raise DatasetError(f"{where} holds labels that are not whole numbers; expected class indices 0, 1, 2, ….")
    if labels.size and labels.min() < 0:
        raise DatasetError(f"{where} holds negative labels; expected class indices 0, 1, 2, ….")
    return labels.astype(np.int64)


#: Label values up to this many are named "0", "1", … one name per value, whether it occurs or not.
DENSE_LABELS = 4096


def default_class_names(labels: np.ndarray | None) -> tuple[str, ...] | None:
    """Return ``"0"``, ``"1"``, … for ``labels.max() + 1`` classes, or None without labels.

    Only for labels below `DENSE_LABELS`; `number_classes` is what the readers call.
    """
    if labels is None:
        return None
    n = int(labels.max()) + 1 if labels.size else 0
    return tuple(str(i) for i in range(n))


def number_classes(
    labels: np.ndarray | None, source: str | os.PathLike
) -> tuple[np.ndarray | None, tuple[str, ...] | None, tuple[str, ...]]:
    """Class names for labels without names, made from the label values that occur.

    Labels that are small (at most `DENSE_LABELS` values, or no more than twice the number
    of distinct values) keep their values and get the names "0" … str(max). Sparse labels
    (e.g. 0 and 2,147,483,647) are renumbered 0 … K − 1 in increasing order of value and each
    class is named by its original value, so nothing of the size of the largest label is made.

    Parameters
    ----------
    labels : numpy.ndarray or None
        ``(N,)`` int64 non-negative labels (`check_labels`).
    source : str or os.PathLike
        File named in the note.

    Returns
    -------
    labels : numpy.ndarray or None
        ``(N,)`` int64, renumbered when sparse.
    class_names : tuple of str or None
    notes : tuple of str
        A sentence when the labels were renumbered.
    """
    if labels is None:
        return None, None, ()
    if not labels.size:
        return labels, (), ()
    values = np.unique(labels)
    top = int(values[-1]) + 1
    if top <= DENSE_LABELS or top <= 2 * len(values):
        return labels, tuple(str(i) for i in range(top)), ()
    note = (f"The labels of {quote(source)} take {len(values):,} distinct values up to {top - 1:,}; they are "
            f"numbered 0 to {len(values) - 1:,} in increasing order and named by their values.")
    return np.searchsorted(values, labels).astype(np.int64), tuple(str(int(v)) for v in values), (note,)


def check_class_names(names, labels: np.ndarray | None, source: str | os.PathLike) -> tuple[str, ...]:
    """Return ``names`` as a tuple of str, checking it covers every label.

    Raises
    ------
    DatasetError
        If a label has no name.
    """
    names = tuple(str(name) for name in names)
    if labels is not None and labels.size and int(labels.max()) >= len(names):
        raise DatasetError(
            f"{quote(source)} names {len(names)} classes but the labels go up to {int(labels.max())}; "
            "give one class name per label value."
        )
    return names
