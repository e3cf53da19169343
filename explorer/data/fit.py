"""Fit a dataset's images to a model's input shape: resizing (a named filter, antialiased) and channel conversion."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import numpy as np
from PIL import Image

from explorer.data.dataset import DEFAULT_RESIZE, RESIZE_METHODS, Dataset
from explorer.errors import DatasetError

#: ITU-R BT.601 luma weights of R, G, B.
LUMA_601 = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# Images resampled per block, to bound temporary arrays.
_BLOCK = 4096


_PILLOW_FILTERS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
                   "lanczos": Image.Resampling.LANCZOS, "nearest": Image.Resampling.NEAREST}
#: How notes name each filter.
RESIZE_LABELS = {"bilinear": "bilinear, antialiased like torchvision", "bicubic": "bicubic, antialiased",
                 "lanczos": "Lanczos, antialiased", "nearest": "nearest neighbour"}


def check_resize(method: str) -> str:
    """Return ``method`` if it names a filter of `RESIZE_METHODS`, else raise a `DatasetError` listing them."""
    if method not in RESIZE_METHODS:
        raise DatasetError(f"Unknown resize filter {method!r}; use one of {', '.join(RESIZE_METHODS)}.")
    return method


@lru_cache(maxsize=64)
def resize_matrix(size_in: int, size_out: int, method: str = DEFAULT_RESIZE) -> np.ndarray:
    """Pillow's resampling of one axis with a named filter, as a matrix.

    Pillow resamples each axis separately; its bilinear, bicubic and Lanczos-3 kernels are
    widened by the reduction factor when shrinking (antialiasing; torchvision's ``Resize``
    goes through the same Pillow code for PIL images and matches it for tensors with
    ``antialias=True``). Resizing an identity image along one axis returns exactly those weights.

    Parameters
    ----------
    size_in, size_out : int
        Length of the axis before and after resizing.
    method : {"bilinear", "bicubic", "lanczos", "nearest"}

    Returns
    -------
    numpy.ndarray
        ``(size_out, size_in)`` float32 weights; row ``i`` sums to 1 and gives output
        sample ``i`` as a weighted sum of the input samples.
    """
    identity = Image.fromarray(np.eye(size_in, dtype=np.float32), mode="F")
    weights = np.asarray(identity.resize((size_in, size_out), _PILLOW_FILTERS[check_resize(method)]),
                         dtype=np.float32)
    weights.setflags(write=False)
    return weights


def lanczos_matrix(size_in: int, size_out: int) -> np.ndarray:
    """`resize_matrix` with Pillow's Lanczos filter (antialiased)."""
    return resize_matrix(size_in, size_out, "lanczos")


def resize_images(images: np.ndarray, height: int, width: int, method: str = DEFAULT_RESIZE) -> np.ndarray:
    """Resize an image stack with one of Pillow's filters, all images at once.

    Equivalent (to float32 rounding) to ``Image.resize((width, height), filter)`` of each
    channel in mode "F", computed as ``Wy @ image @ Wx.T`` with the weights of
    `resize_matrix`, then clipped to [0, 1] (bicubic and Lanczos overshoot at edges).

    Parameters
    ----------
    images : numpy.ndarray
        ``(N, C, H, W)`` float32 in [0, 1].
    height, width : int
        Output size in pixels.
    method : {"bilinear", "bicubic", "lanczos", "nearest"}
        The filter (`RESIZE_METHODS`); default bilinear with antialiasing, as torchvision.

    Returns
    -------
    numpy.ndarray
        ``(N, C, height, width)`` float32 in [0, 1].

    Raises
    ------
    DatasetError
        For an unknown ``method``.
    """
    n, c, h, w = images.shape
    wy, wx_t = resize_matrix(h, height, method), resize_matrix(w, width, method).T
    flat = images.reshape(n * c, h, w)
    out = np.empty((n * c, height, width), dtype=np.float32)
    for start in range(0, n * c, _BLOCK):
        block = flat[start:start + _BLOCK]
        np.matmul(wy, block @ wx_t, out=out[start:start + _BLOCK])  # rows first, then columns
    np.clip(out, 0.0, 1.0, out=out)
    return out.reshape(n, c, height, width)


def fit_to_model(dataset: Dataset, image_shape: tuple[int, int, int], resize: str | None = None) -> Dataset:
    """Make a dataset's images match a model's input shape.

    Channels are converted first (greyscale → RGB by replicating the channel; RGB →
    greyscale by ITU-R BT.601 luma ``0.299 R + 0.587 G + 0.114 B``), then images are
    resized with `resize_images` and the dataset's filter (``Dataset.resize``, default
    bilinear with antialiasing as torchvision). Each change adds a note naming it, e.g.
    "Images resized from 28×28 to 64×64 (bilinear, antialiased like torchvision) to fit the
    model's input."

    Parameters
    ----------
    dataset : Dataset
        Images ``(N, C, H, W)`` float32 in [0, 1].
    image_shape : tuple of int
        The model's ``(C, H, W)``.
    resize : {"bilinear", "bicubic", "lanczos", "nearest"}, optional
        The filter; default ``dataset.resize``.

    Returns
    -------
    Dataset
        ``dataset`` itself when the shapes already agree, else a copy with images
        ``(N, *image_shape)`` float32 in [0, 1] and the notes appended; labels, factors
        and indices are unchanged.

    Raises
    ------
    DatasetError
        If the channel counts cannot be converted (only 1 ↔ 3 are).
    """
    channels, height, width = (int(s) for s in image_shape)
    method = check_resize(resize or dataset.resize)
    c, h, w = dataset.image_shape
    if (c, h, w) == (channels, height, width):
        return dataset
    images, notes = dataset.images, []
    if c != channels:
        if (c, channels) == (1, 3):
            images = np.repeat(images, 3, axis=1)
            notes.append("Greyscale images converted to RGB (channel replicated) to fit the model's input.")
        elif (c, channels) == (3, 1):
            images = np.einsum("c,nchw->nhw", LUMA_601, images, optimize=True)[:, None].astype(np.float32)
            notes.append("RGB images converted to greyscale (ITU-R BT.601 luma) to fit the model's input.")
        else:
            raise DatasetError(
                f"The images of '{dataset.source or dataset.name}' have {c} channels and cannot be "
                f"converted to the model's {channels}; use a model made for {c}-channel images."
            )
    if (h, w) != (height, width):
        # Resize after reducing channels and before replicating them: less work, same result.
        if c == 1 and channels == 3:
            images = np.repeat(resize_images(dataset.images, height, width, method), 3, axis=1)
        else:
            images = resize_images(images, height, width, method)
        notes.append(f"Images resized from {h}×{w} to {height}×{width} ({RESIZE_LABELS[method]}) to fit the "
                     "model's input.")
    return replace(dataset, images=np.ascontiguousarray(images, dtype=np.float32), notes=dataset.notes + tuple(notes))
