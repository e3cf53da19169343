"""The in-memory dataset every view works on: images, optional labels and factors."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

#: Filters that fit images to a model's input size (`explorer.data.fit.resize_images`), by name.
RESIZE_METHODS = ("bilinear", "bicubic", "lanczos", "nearest")
#: The default: bilinear with antialiasing, as torchvision's ``Resize`` (PIL, or tensors with
#: ``antialias=True``) — what most PyTorch models were trained on.
DEFAULT_RESIZE = "bilinear"


@dataclass(frozen=True)
class Dataset:
    """A set of images with optional labels and ground-truth factors.

    Attributes
    ----------
    images : numpy.ndarray
        ``(N, C, H, W)`` float32, values in [0, 1].
    labels : numpy.ndarray or None
        ``(N,)`` int64 class indices into ``class_names``.
    class_names : tuple of str or None
        Name of each class; ``len(class_names) > labels.max()``.
    factors : numpy.ndarray or None
        ``(N, K)`` ground-truth generative factors (float64 values, e.g. dSprites).
    factor_names : tuple of str or None
        Name of each of the ``K`` factors.
    factor_value_names : tuple of (dict or None) or None
        Per factor, ``{value: name}`` for its values ("square", "0.16 rad";
        `explorer.data.factor_values`), or None where a factor's values are just numbers.
    name : str
        Short name shown in the UI (``"fashion-mnist"``, a folder name, ...).
    source : str
        Where it came from (a path, or ``"generated"``).
    split : str or None
        ``"train"``, ``"test"``, ``"all"`` or None when the source has no splits.
    indices : numpy.ndarray or None
        ``(N,)`` int64 indices into the full source when a subsample was taken.
    notes : tuple of str
        Sentences for the user about what was done on loading (resizing, subsampling).
    resize : {"bilinear", "bicubic", "lanczos", "nearest"}
        How `explorer.data.fit_to_model` resizes the images to a model's input (`RESIZE_METHODS`;
        default `DEFAULT_RESIZE`).
    """

    images: np.ndarray
    labels: np.ndarray | None = None
    class_names: tuple[str, ...] | None = None
    factors: np.ndarray | None = None
    factor_names: tuple[str, ...] | None = None
    name: str = "dataset"
    source: str = ""
    split: str | None = None
    indices: np.ndarray | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    resize: str = DEFAULT_RESIZE
    factor_value_names: tuple | None = None

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return tuple(int(s) for s in self.images.shape[1:])  # type: ignore[return-value]

    def with_notes(self, *notes: str) -> Dataset:
        """Return a copy with ``notes`` appended."""
        return replace(self, notes=self.notes + tuple(notes))
