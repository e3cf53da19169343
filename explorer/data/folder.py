"""Read a folder of image files (one subfolder per class) into a `Dataset` with Pillow."""

from __future__ import annotations

import os
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from explorer.data._common import kept_indices, quote, subsample_note
from explorer.data.dataset import Dataset
from explorer.errors import DatasetError
from explorer.limits import available_memory, memory_shortfall

#: File extensions read as images (lower case).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
#: The raster formats Pillow may open (whatever a file's name or content says): never EPS/PS/PDF or
#: anything else Pillow hands to an external program.
RASTER_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP")


def _image_files(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name; hidden files are skipped."""
    return sorted(
        p for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS
    )


def find_image_files(folder: str | os.PathLike) -> tuple[list[Path], np.ndarray | None, tuple[str, ...] | None]:
    """List the images of a class-per-subfolder folder.

    Parameters
    ----------
    folder : str or os.PathLike
        Folder with one subfolder per class (sorted subfolder names are the class names;
        subfolders without images are ignored), or a folder of images without classes.
        Hidden files and folders are skipped.

    Returns
    -------
    files : list of pathlib.Path
        Image files, class by class, each class sorted by file name.
    labels : numpy.ndarray or None
        ``(len(files),)`` int64 class index of each file, or None for a flat folder.
    class_names : tuple of str or None
        Name of each class.

    Raises
    ------
    DatasetError
        If the folder cannot be listed or holds no image files.
    """
    folder = Path(folder)
    try:
        subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        classes = [(sub.name, _image_files(sub)) for sub in subfolders]
        flat = _image_files(folder)
    except OSError as error:
        raise DatasetError(f"{quote(folder)} could not be listed ({error.strerror or error}).") from None
    classes = [(name, files) for name, files in classes if files]
    if classes:
        files = [f for _, class_files in classes for f in class_files]
        labels = np.concatenate([np.full(len(fs), i, dtype=np.int64) for i, (_, fs) in enumerate(classes)])
        return files, labels, tuple(name for name, _ in classes)
    if flat:
        return flat, None, None
    kinds = ", ".join(e.lstrip(".") for e in IMAGE_EXTENSIONS)
    raise DatasetError(f"{quote(folder)} holds no images ({kinds}), neither in class subfolders nor directly.")


def _read(path: Path) -> Image.Image:
    """Open one image (first frame) as greyscale 'L', RGB, or 'I'/'F' for 16-bit and float greyscale."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # a pixel bomb is refused, not read
            with Image.open(path, formats=RASTER_FORMATS) as image:
                image.load()
                if image.mode in ("L", "RGB", "F") or image.mode.startswith("I"):
                    result = image.copy()
                elif image.mode in ("1", "LA"):
                    result = image.convert("L")
                else:
                    result = image.convert("RGB")
    except Image.UnidentifiedImageError:
        raise DatasetError(
            f"{quote(path)} is not a PNG, JPEG, BMP, GIF, TIFF or WebP image (other formats are refused, "
            "whatever the file is named); remove or replace the file."
        ) from None
    except (OSError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise DatasetError(
            f"{quote(path)} could not be read as an image ({error}); remove or replace the file."
        ) from None
    if result.mode == "F":
        low, high = result.getextrema()
        if not (0.0 <= low and high <= 1.0):
            raise DatasetError(
                f"{quote(path)} holds floating-point pixels from {low:g} to {high:g}; expected values in [0, 1]."
            )
    return result


def _to_array(image: Image.Image) -> np.ndarray:
    """Pixels of an opened image as float32 in [0, 1], ``(H, W)`` or ``(H, W, 3)``."""
    pixels = np.asarray(image, dtype=np.float32)
    if image.mode == "F":
        return pixels
    if image.mode.startswith("I"):
        return pixels / np.float32(65535)  # 16-bit greyscale (PNG/TIFF) opens as 'I' or 'I;16'
    return pixels / np.float32(255)


def load_image_folder(
    folder: str | os.PathLike, limit: int | None = None, seed: int = 0, name: str | None = None
) -> Dataset:
    """Load a folder of images, one subfolder per class, with Pillow.

    Reads png, jpg, bmp, gif (first frame), tif and webp. If every image is greyscale
    (greyscale modes, or RGB with equal channels) the result has one channel,
    otherwise three (RGB; alpha is dropped, greyscale images are replicated). Images
    of other sizes than the most common one are resized to it with Lanczos filtering
    and a note says so.

    Parameters
    ----------
    folder : str or os.PathLike
        See `find_image_files`.
    limit : int or None
        Read only a seeded random subsample of this many images.
    seed : int
        Seed of the subsample.
    name : str or None
        Name of the dataset; defaults to the folder's name.

    Returns
    -------
    Dataset
        ``images`` ``(N, C, H, W)`` float32 in [0, 1], ``C`` in {1, 3}; ``labels``
        ``(N,)`` int64 and ``class_names`` for class subfolders, else None.

    Raises
    ------
    DatasetError
        If the folder holds no images or an image cannot be read (the message names it).
    """
    folder = Path(folder)
    files, labels, class_names = find_image_files(folder)
    total = len(files)
    keep = kept_indices(total, limit, seed)
    if keep is not None:
        files = [files[i] for i in keep]
        labels = None if labels is None else labels[keep]

    images, held, limit = [], 0, available_memory()
    for f in files:
        image = _read(f)
        held += image.size[0] * image.size[1] * len(image.getbands()) * 9  # decoded + float32 + stack
        if held > limit:
            estimate = memory_shortfall(max(held, held * len(files) // (len(images) + 1)), limit)
            raise DatasetError(
                f"{quote(folder)}: its images would need {estimate} (refused at '{f.name}', image "
                f"{len(images) + 1:,} of {len(files):,}); use --limit or fewer images."
            )
        images.append(image)
    sizes = Counter(image.size for image in images)
    (width, height), _ = sizes.most_common(1)[0]
    notes: list[str] = []
    resized = sum(count for size, count in sizes.items() if size != (width, height))
    if resized:
        images = [
            image if image.size == (width, height) else image.resize((width, height), Image.Resampling.LANCZOS)
            for image in images
        ]
        notes.append(
            f"{resized:,} of {len(images):,} images had another size and were resized to "
            f"{height}×{width} (Lanczos), the most common size."
        )

    arrays = [_to_array(image) for image in images]
    grey = all(a.ndim == 2 or bool(np.all(a == a[..., :1])) for a in arrays)  # RGB files with equal channels
    stack = np.empty((len(arrays), 1 if grey else 3, height, width), dtype=np.float32)
    for out, a in zip(stack, arrays, strict=True):
        if a.ndim == 3:
            out[:] = a[..., :1].transpose(2, 0, 1) if grey else a.transpose(2, 0, 1)
        else:
            out[:] = a
    np.clip(stack, 0.0, 1.0, out=stack)  # Lanczos resizing can overshoot
    if keep is not None:
        notes.append(subsample_note(len(keep), total, seed))
    return Dataset(
        images=stack,
        labels=labels,
        class_names=class_names,
        name=name or folder.name,
        source=str(folder),
        indices=keep,
        notes=tuple(notes),
    )
