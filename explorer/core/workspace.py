"""What the window has open: a dataset, several models, their codes — Qt-free, so the CLI can use it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from explorer.core.jobs import JobContext
from explorer.data import Dataset

# torch and scikit-learn are imported inside the functions that need them: the window
# imports this module before its first paint, and those imports take seconds.

#: How many prior samples stand in for the dataset when a GAN has no encoder.
GAN_PRIOR_SAMPLES = 10_000


@dataclass
class LatentCodes:
    """The latent codes of one model on the open dataset.

    Attributes
    ----------
    z : numpy.ndarray
        ``(N, d)`` float32 codes.
    source : {"encoder", "prior", "inverted"}
        ``"encoder"``: ``z`` = encoder output (VAE: posterior mean) of the dataset images;
        ``"prior"``: a GAN without encoder — ``z`` are samples from ``p(z)`` and the points
        are the images generated from them, not the dataset;
        ``"inverted"``: a GAN without encoder — ``z`` were found for dataset images by GAN
        inversion (`explorer.core.reconstruction.inverted.inverted_dataset_codes`).
    images : numpy.ndarray
        ``(N, C, H, W)`` float32 in [0, 1], the image behind each point (dataset images, or
        ``G(z)`` for prior samples).
    labels : numpy.ndarray or None
        ``(N,)`` int64 labels of the points (None for prior samples).
    notes : tuple of str
        Sentences for the user (resizing applied, prior samples shown instead of data).
    indices : numpy.ndarray or None
        ``(N,)`` int64 dataset index of each point, increasing, when the points are a
        subset of the dataset (inverted codes); None when point ``i`` is dataset image ``i``
        (encoder) or no dataset image at all (prior).
    generated : numpy.ndarray or None
        ``(N, C, H, W)`` float32 in [0, 1]: ``G(z)`` of inverted codes, to set beside the
        dataset images they were found for; None otherwise.
    fit_error : numpy.ndarray or None
        ``(N,)`` float64 pixel MSE of ``G(z)`` against each image as the model saw it (inverted
        codes); None otherwise.
    """

    z: np.ndarray
    source: str
    images: np.ndarray
    labels: np.ndarray | None
    notes: tuple[str, ...] = ()
    indices: np.ndarray | None = None
    generated: np.ndarray | None = None
    fit_error: np.ndarray | None = None

    @property
    def of_dataset(self) -> bool:
        """True when every point is a dataset image (encoder or inverted codes), not a prior sample."""
        return self.source != "prior"

    def dataset_indices(self, points) -> np.ndarray:
        """Dataset indices of the points ``points`` (int64); empty for prior samples."""
        points = np.asarray(points, dtype=np.int64)
        if not self.of_dataset:
            return np.empty(0, np.int64)
        return points if self.indices is None else self.indices[points]

    def points_of(self, dataset_indices) -> np.ndarray:
        """The points showing these dataset images (int64; −1 where an image is not shown)."""
        d = np.asarray(dataset_indices, dtype=np.int64)
        if not self.of_dataset:
            return np.full(d.shape, -1, np.int64)
        if self.indices is None:
            return np.where((d >= 0) & (d < len(self.z)), d, -1)
        if len(self.indices) == 0:
            return np.full(d.shape, -1, np.int64)
        pos = np.clip(np.searchsorted(self.indices, d), 0, len(self.indices) - 1)
        return np.where(self.indices[pos] == d, pos, -1).astype(np.int64)


@dataclass
class ModelEntry:
    """A model file opened in the workspace.

    Attributes
    ----------
    path : pathlib.Path
        The checkpoint, adapter or TorchScript file.
    model : models.base.GenerativeModel
    info : dict
        What ``models.loading.describe`` reports.
    file_hash : str
        SHA-256 (hex) of the file, part of every cache key of this model; for a Python
        adapter, of the file and `models.loading.weights_fingerprint` of the model it
        loaded (its weights live elsewhere).
    codes : LatentCodes or None
        Set once the dataset has been encoded.
    device : str
        Where the model computes (``"cpu"``, ``"cuda:0"``, ``"mps"`` ...;
        `explorer.core.device.place_model`).
    """

    path: Path
    model: object
    info: dict
    file_hash: str
    codes: LatentCodes | None = None
    device: str = "cpu"

    @property
    def name(self) -> str:
        """File name shown in the model list."""
        return self.path.name

    @property
    def summary(self) -> str:
        """One line: kind, latent dimension, image shape, encoder or not."""
        c, h, w = self.model.image_shape
        enc = "encoder" if self.model.has_encoder else "no encoder"
        return f"{self.model.kind.upper()}, d = {self.model.latent_dim}, {c}×{h}×{w}, {enc}"


def open_model(path: str | Path, device=None) -> ModelEntry:
    """Load a checkpoint / adapter / TorchScript file into a :class:`ModelEntry`.

    The weights are read onto the CPU (``map_location="cpu"``, so a file saved on a GPU opens
    anywhere) and the model is then moved to ``device`` (`explorer.core.device.place_model`;
    None: it stays on the CPU); ``entry.device`` says where it computes.

    Raises
    ------
    models.base.ModelFileError
        One sentence naming the file and what is wrong with it.
    """
    from explorer.core.projection.cache import file_sha256
    from models.loading import load_any, weights_fingerprint

    path = Path(path)
    model, info = load_any(path)
    file_hash = file_sha256(path)
    if path.suffix == ".py":  # an adapter reads its weights from elsewhere: they are part of its identity
        file_hash = hashlib.sha256(f"{file_hash}|{weights_fingerprint(model)}".encode()).hexdigest()
    from explorer.core.device import place_model

    return ModelEntry(path=path, model=model, info=info, file_hash=file_hash, device=str(place_model(model, device)))


def dataset_identity(dataset: Dataset) -> str:
    """A string that changes whenever the dataset's images, labels or order change.

    BLAKE2b of the image and label bytes plus name, split, shape and resize filter (≈0.2 s
    for 70,000 28×28 images); used in projection cache keys.
    """
    h = hashlib.blake2b(digest_size=16)
    h.update(np.ascontiguousarray(dataset.images).view(np.uint8).data)
    if dataset.labels is not None:
        h.update(np.ascontiguousarray(dataset.labels).tobytes())
    # the resize filter changes what a model sees of the images, so it is part of what its codes are of
    return f"{dataset.name}:{dataset.split or 'all'}:{len(dataset)}:{h.hexdigest()}:resize={dataset.resize}"


def dataset_line(dataset: Dataset) -> str:
    """The dataset line of the window: name, N, image shape, labels/factors, notes."""
    c, h, w = dataset.image_shape
    parts = [f"{dataset.name}" + (f" ({dataset.split})" if dataset.split else ""),
             f"N = {len(dataset):,}", f"{c}×{h}×{w}"]
    if dataset.labels is not None:
        parts.append(f"{len(np.unique(dataset.labels))} classes")
    else:
        parts.append("no labels")
    if dataset.factors is not None:
        parts.append(f"{dataset.factors.shape[1]} factors")
    return " · ".join(parts)


def compute_codes(model, dataset: Dataset, seed: int = 0, ctx: JobContext | None = None) -> LatentCodes:
    """Encode the dataset with the model's encoder, or sample the prior for a GAN without one.

    Parameters
    ----------
    model : models.base.GenerativeModel
    dataset : Dataset
        Images are resized / converted to ``model.image_shape`` first (with a note).
    seed : int
        Seed of the prior samples (GAN without encoder).
    ctx : JobContext, optional
        Progress and cancel.

    Returns
    -------
    LatentCodes
    """
    from explorer.core.codes import decode_codes, encode_images, prior_codes
    from explorer.data import fit_to_model

    if model.has_encoder:
        fitted = fit_to_model(dataset, model.image_shape)
        z = encode_images(model, fitted.images, ctx=ctx)
        return LatentCodes(z=z, source="encoder", images=dataset.images, labels=dataset.labels,
                           notes=fitted.notes[len(dataset.notes):])
    n = min(len(dataset), GAN_PRIOR_SAMPLES)
    z = prior_codes(model, n, seed)
    images = decode_codes(model, z, ctx=ctx)
    note = (f"This GAN has no encoder: the embedding shows {n:,} samples from the prior p(z) "
            f"(seed {seed}) and the images G(z) generated from them, not the dataset.")
    return LatentCodes(z=z, source="prior", images=images, labels=None, notes=(note,))


@dataclass
class Workspace:
    """The open dataset and models; ``active`` indexes ``models``."""

    dataset: Dataset | None = None
    models: list[ModelEntry] = field(default_factory=list)
    active: int = -1

    @property
    def active_entry(self) -> ModelEntry | None:
        """The active model, or None when nothing is open."""
        return self.models[self.active] if 0 <= self.active < len(self.models) else None

    def add(self, entry: ModelEntry) -> int:
        """Add a model (replacing one opened from the same file) and make it active; return its index."""
        from explorer.paths import resolved

        for i, e in enumerate(self.models):
            if resolved(e.path) == resolved(entry.path):
                self.models[i] = entry
                self.active = i
                return i
        self.models.append(entry)
        self.active = len(self.models) - 1
        return self.active

    def remove(self, index: int) -> None:
        """Close the model at ``index``."""
        del self.models[index]
        if index < self.active:
            self.active -= 1
        self.active = min(self.active, len(self.models) - 1)
