"""Load a dataset by name (fashion-mnist, digits, dsprites) or by path, with split and subsample."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np

import resources
from explorer.data import dsprites
from explorer.data._common import FASHION_MNIST_CLASSES, kept_indices, quote, subsample_note
from explorer.data.arrays import load_npy, load_npz
from explorer.data.dataset import Dataset
from explorer.data.fit import check_resize
from explorer.data.folder import load_image_folder
from explorer.data.idx import find_idx_files, load_idx_file, load_idx_folder
from explorer.errors import DatasetError
from explorer.importing import load

#: Names `load_dataset` accepts besides paths.
DATASET_NAMES = ("fashion-mnist", "digits", "dsprites")
#: Environment variable naming a folder with Fashion-MNIST's IDX files (or a `fashion-mnist` subfolder).
DATA_ENV_VAR = "LATENT_EXPLORER_DATA"
#: Where Debian's `dataset-fashion-mnist` package installs the IDX files.
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
#: Number of images `dsprites` generates when no limit is given.
DSPRITES_DEFAULT_SIZE = 10_000

SPLITS = ("train", "test", "all")


def bundled_fashion_mnist() -> Path:
    """Folder of the bundled Fashion-MNIST test split (10,000 images)."""
    return resources.path("data", "fashion-mnist")


def _with_idx_files(folder: Path) -> Path | None:
    """Return ``folder`` or its ``fashion-mnist`` subfolder, whichever holds IDX files first."""
    for candidate in (folder, folder / "fashion-mnist"):
        if candidate.is_dir() and find_idx_files(candidate):
            return candidate
    return None


def _load_fashion_mnist(split: str | None, limit: int | None, seed: int, path) -> Dataset:
    """Find Fashion-MNIST (explicit path, $LATENT_EXPLORER_DATA, Debian, bundled) and load it."""
    if path is not None:
        folder = _with_idx_files(Path(path).expanduser())
        if folder is None:
            raise DatasetError(
                f"{quote(path)} holds no Fashion-MNIST IDX files (t10k-images-idx3-ubyte.gz, "
                "train-images-idx3-ubyte.gz) nor a fashion-mnist folder with them."
            )
        return load_idx_folder(folder, split, limit, seed, name="fashion-mnist", fashion=True)

    notes = []
    candidates = []
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        folder = _with_idx_files(Path(env).expanduser())
        if folder is None:
            notes.append(f"{DATA_ENV_VAR}={quote(env)} holds no Fashion-MNIST files, so it was not used.")
        else:
            candidates.append(folder)
    candidates += [DEBIAN_FASHION_MNIST, bundled_fashion_mnist()]
    for folder in candidates:
        files = find_idx_files(folder) if folder.is_dir() else {}
        if files and (split in (None, "all") or split in files):
            dataset = load_idx_folder(folder, split, limit, seed, name="fashion-mnist", fashion=True)
            if folder == bundled_fashion_mnist() and "train" not in files:
                notes.append(
                    "Only the bundled Fashion-MNIST test split (10,000 images) was found; for the "
                    f"train split run `apt-get install dataset-fashion-mnist` or set {DATA_ENV_VAR}."
                )
            return dataset.with_notes(*notes)
    raise DatasetError(
        f"Fashion-MNIST's {split} split was not found (only the test split is bundled in "
        f"{quote(bundled_fashion_mnist())}); run `apt-get install dataset-fashion-mnist` or set "
        f"{DATA_ENV_VAR} to a folder holding train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz."
    )


def _load_digits(limit: int | None, seed: int) -> Dataset:
    """scikit-learn's 8×8 handwritten digits (1,797 images, bundled with scikit-learn)."""
    load("sklearn.datasets")
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]
    labels = digits.target.astype(np.int64)
    keep = kept_indices(len(images), limit, seed)
    notes: tuple[str, ...] = ()
    if keep is not None:
        notes = (subsample_note(len(keep), len(images), seed),)
        images, labels = images[keep], labels[keep]
    return Dataset(
        images=np.ascontiguousarray(images),
        labels=labels,
        class_names=tuple(str(i) for i in range(10)),
        name="digits",
        source="scikit-learn load_digits",
        split=None,
        indices=keep,
        notes=notes,
    )


def _load_path(path: Path, split: str | None, limit: int | None, seed: int) -> Dataset:
    """Load a folder (IDX files or class subfolders), .npz, .npy or a single IDX images file."""
    if path.is_dir():
        if find_idx_files(path):
            return load_idx_folder(path, split, limit, seed)
        return load_image_folder(path, limit, seed)
    name = path.name.lower()
    if name.endswith(".npz"):
        return load_npz(path, limit, seed)
    if name.endswith(".npy"):
        return load_npy(path, limit, seed)
    if name.endswith((".idx", ".gz")) or "idx" in name or "ubyte" in name:
        return load_idx_file(path, limit, seed)
    raise DatasetError(
        f"{quote(path)} is not a supported dataset file; use a .npz or .npy file, an IDX file "
        "(e.g. t10k-images-idx3-ubyte.gz) or a folder of IDX files or of class subfolders of images."
    )


def load_dataset(
    spec: str | os.PathLike,
    split: str | None = None,
    limit: int | None = None,
    seed: int = 0,
    path: str | os.PathLike | None = None,
    resize: str | None = None,
) -> Dataset:
    """Load a named dataset or a dataset file/folder.

    Names (`DATASET_NAMES`):

    - ``"fashion-mnist"`` (Xiao et al. 2017): looked for in ``path``, then in
      ``$LATENT_EXPLORER_DATA`` (the folder itself or its ``fashion-mnist`` subfolder), then
      in ``/usr/share/datasets/fashion-mnist`` (Debian package ``dataset-fashion-mnist``),
      then in the bundled test split. 28×28 greyscale, ten classes.
    - ``"digits"``: scikit-learn's 8×8 handwritten digits (1,797 images, values / 16).
    - ``"dsprites"``: procedurally generated dSprites (`explorer.data.dsprites`):
      ``limit`` images (default 10,000) drawn with ``seed``.

    Paths: a folder of MNIST-named IDX files, a folder with one subfolder of images per
    class, a ``.npz`` or ``.npy`` file, or a single IDX images file (``.gz`` or not).

    Parameters
    ----------
    spec : str or os.PathLike
        A name above (case-insensitive; ``_`` may replace ``-``) or a path.
    split : {"train", "test", "all", None}
        Split to load. None or "all": every split the source has, train then test
        concatenated. Sources without splits ignore it (with a note if "train" or
        "test" was asked for) and report ``split`` None.
    limit : int or None
        Keep a random subsample of this many images, drawn without replacement with
        ``numpy.random.default_rng(seed)``; the sorted positions in the full source are
        in ``Dataset.indices`` and a note says so. For ``dsprites``: how many to generate.
    seed : int
        Seed of the subsample (or of the dSprites factors).
    path : str or os.PathLike or None
        Folder holding the named dataset's files (used for ``fashion-mnist``).
    resize : {"bilinear", "bicubic", "lanczos", "nearest"}, optional
        How the images are resized to a model's input (``Dataset.resize``; default bilinear
        with antialiasing, as torchvision).

    Returns
    -------
    Dataset
        ``images`` ``(N, C, H, W)`` float32 in [0, 1]; see `Dataset`.

    Raises
    ------
    DatasetError
        For an unknown name or missing path (the message lists the valid names), an
        unknown split, a missing split, ``limit`` < 1, or any invalid file.
    """
    if split not in (None, *SPLITS):
        raise DatasetError(f"Unknown split {split!r}; use 'train', 'test' or 'all'.")
    if resize is not None:
        check_resize(resize)
    key = spec.strip().lower().replace("_", "-") if isinstance(spec, str) else None
    if key == "fashion-mnist":
        return _load_fashion_mnist(split, limit, seed, path)
    if key == "digits":
        dataset = _load_digits(limit, seed)
    elif key == "dsprites":
        dataset = dsprites.generate(DSPRITES_DEFAULT_SIZE if limit is None else limit, seed)
    else:
        location = Path(spec).expanduser()
        if not location.exists() and location.is_symlink():
            raise DatasetError(f"{quote(location)} is a symbolic link to nothing (or a loop of links); check the path.")
        if not location.exists():
            raise DatasetError(
                f"{quote(location)} is neither a dataset name ({', '.join(DATASET_NAMES)}) nor an "
                "existing file or folder."
            )
        dataset = _load_path(location, split, limit, seed)
    if split in ("train", "test") and dataset.split is None:
        dataset = dataset.with_notes(f"{dataset.name} has no {split} split; all its images were used.")
    check_usable(dataset)
    return dataset if resize is None else replace(dataset, resize=resize)


#: Fewest images a dataset must have: an embedding, k-means and every statistic need two points.
MIN_IMAGES = 2


def check_usable(dataset: Dataset) -> None:
    """Refuse a dataset with fewer than `MIN_IMAGES` images or images smaller than 2×2 pixels.

    Raises
    ------
    DatasetError
        One sentence naming the source, what it holds and what is needed.
    """
    where = quote(dataset.source) if dataset.source and dataset.source != "generated" else dataset.name
    c, h, w = dataset.image_shape
    if len(dataset) < MIN_IMAGES:
        raise DatasetError(
            f"{where} holds {len(dataset)} image{'s' if len(dataset) != 1 else ''}; at least {MIN_IMAGES} are "
            "needed (an embedding, clustering and every statistic need two or more) — use a larger dataset or --limit."
        )
    if min(h, w) < 2 or c < 1:
        raise DatasetError(
            f"{where} holds images of {h}×{w} pixels with {c} channel(s); images need at least 2×2 pixels."
        )


__all__ = [
    "DATASET_NAMES",
    "DATA_ENV_VAR",
    "DEBIAN_FASHION_MNIST",
    "FASHION_MNIST_CLASSES",
    "MIN_IMAGES",
    "bundled_fashion_mnist",
    "check_usable",
    "load_dataset",
]
