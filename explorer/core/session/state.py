"""What a session holds: the dataset spec, per-model state, colouring and the tasks it asks to run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from explorer.core import embedding as emb
from explorer.core.captions import COLOUR_MODES  # re-exported: the one list of colour modes
from explorer.core.jobs import JobContext
from explorer.core.projection.spec import ProjectionSpec
from explorer.core.workspace import LatentCodes, ModelEntry

__all__ = ["ModelState", "DatasetSpec", "Task", "Keypoint", "ClusteringSettings", "Colour", "GanPoints",
           "CompareSettings", "COLOUR_MODES", "TASK_FAMILIES"]

#: What a task does; a model shows one busy flag per family.
TASK_FAMILIES = ("dataset", "peek", "open", "encode", "invert", "projection", "kmeans", "sweep", "compare", "evaluate")


@dataclass(frozen=True)
class DatasetSpec:
    """How the dataset was opened: ``explorer.data.load_dataset(spec, split, limit, seed, resize=resize)``.

    Attributes
    ----------
    spec : str
        A dataset name (``"fashion-mnist"``, ``"digits"``, ``"dsprites"``) or a path.
    split : {"train", "test", None}
        None: every split the source has.
    limit : int or None
        Size of a seeded random subsample (None: all images).
    seed : int
        Subsample seed; also the seed of a GAN's prior samples.
    resize : {"bilinear", "bicubic", "lanczos", "nearest"}
        Filter fitting the images to a model's input size (``explorer.data.Dataset.resize``).
    """

    spec: str
    split: str | None = None
    limit: int | None = None
    seed: int = 0
    resize: str = "bilinear"


@dataclass(frozen=True)
class Colour:
    """How points are coloured: ``mode`` in :data:`COLOUR_MODES`; ``dim`` for ``"dimension"``."""

    mode: str = "label"
    dim: int = 0


@dataclass(frozen=True)
class ClusteringSettings:
    """k-means settings: ``space`` in {"latent", "embedding"}, ``k`` ≥ 1, ``seed``, the k sweep range."""

    space: str = "latent"
    k: int = 10
    seed: int = 0
    sweep: tuple[int, int] = (2, 20)


@dataclass(frozen=True)
class CompareSettings:
    """The Compare view's choices.

    Attributes
    ----------
    keys : tuple of str
        Models shown side by side (2–4; empty: the first four open), the first is the
        reference of the alignment.
    align : {"none", "procrustes", "aligned-umap"}
        How the embeddings are moved onto each other (`explorer.core.compare.align`).
    colour_key : str or None
        The model whose k-means clusters or latent dimension colour every view (None: the
        first compared).
    """

    keys: tuple[str, ...] = ()
    align: str = "procrustes"
    colour_key: str | None = None


@dataclass(frozen=True)
class GanPoints:
    """Which points a GAN without encoder shows: ``"prior"`` samples or ``n`` ``"inverted"`` dataset images."""

    source: str = "prior"
    n: int = 1000


@dataclass(frozen=True)
class Keypoint:
    """An interpolation keypoint: ``z`` ``(d,)`` float32, its label, and the dataset image it came from (or None)."""

    z: np.ndarray
    label: str
    dataset_index: int | None = None


@dataclass
class ModelState:
    """One open model in the session and everything computed for it on the open dataset.

    Attributes
    ----------
    key : str
        Resolved path of the model file (unique in a session).
    path : pathlib.Path
        The path as given.
    file_hash : str or None
        SHA-256 of the file (with an adapter's weights), known once read.
    entry : ModelEntry or None
        The loaded model; None while it loads (or when loading failed: ``error``).
    codes : LatentCodes or None
        The points shown (encoder codes, prior samples or inverted codes).
    embeddings : dict
        ``ProjectionSpec -> EmbeddingResult`` of ``codes``.
    shown : ProjectionSpec or None
        The projection on screen for this model.
    clustering, sweep : ClusteringResult / list of them, or None
        k-means of ``codes`` (or of the shown embedding, as their ``space`` says).
    busy : dict
        Task family -> the running :class:`Task` of this model (its ``label`` says what it does).
    status : str
        One sentence about this model's state for the view ("" when nothing to say).
    status_until : ProjectionSpec or None
        The status stays until this projection is shown (e.g. "UMAP … PCA shown meanwhile").
    preview : bool
        ``codes`` and ``embeddings`` were read from the caches before the model loaded.
    open_after_show : bool
        Its codes came from the cache but no embedding of them: the model is loaded (torch
        imported) only once their first embedding is shown, so the import does not hold the
        GIL while the first PCA is computed and painted.
    gan_points : GanPoints
    slider_code : numpy.ndarray or None
        ``(d,)`` float32, the code of the latent sliders.
    keypoints : list of Keypoint
    view_range : tuple or None
        ``((x0, x1), (y0, y1))`` of the embedding's view (zoom), None to fit all points.
    projection_failed : bool
        The last automatic projection of these codes failed (it is not tried again by itself).
    want_spec, want_clustering : ProjectionSpec / dict or None
        What a restored session showed: projected and clustered once the codes are back.
    saved_hash : str or None
        The SHA-256 the session file recorded for this model file.
    results : dict or None
        Codes, embeddings and cluster labels read from a session's companion ``.npz``,
        used once the dataset is open (then cleared).
    evaluations : dict
        Metric family -> :class:`~explorer.core.session.evaluations.Evaluation` (likelihood,
        sample quality, disentanglement, human test) of this model.
    directions : DirectionChoice or None
        The directions the latent sliders move along (GANSpace, SeFa, attribute vectors;
        `explorer.core.session.directions`); None: the axes of z.
    attribute_sets : AttributeSets or None
        Selections stored as A and B for the attribute vector "A − B"
        (`explorer.core.session.directions.store_attribute_set`).
    """

    key: str
    path: Path
    file_hash: str | None = None
    entry: ModelEntry | None = None
    codes: LatentCodes | None = None
    prior_codes: LatentCodes | None = None
    embeddings: dict = field(default_factory=dict)
    shown: ProjectionSpec | None = None
    clustering: Any = None
    sweep: list | None = None
    busy: dict = field(default_factory=dict)
    status: str = ""
    status_until: ProjectionSpec | None = None
    preview: bool = False
    open_after_show: bool = False
    gan_points: GanPoints = GanPoints()
    slider_code: np.ndarray | None = None
    keypoints: list = field(default_factory=list)
    view_range: tuple | None = None
    projection_failed: bool = False
    want_view_range: tuple | None = None
    want_spec: ProjectionSpec | None = None
    want_clustering: dict | None = None
    saved_hash: str | None = None
    results: dict | None = None
    evaluations: dict = field(default_factory=dict)
    directions: Any = None  # DirectionChoice of the latent sliders (explorer.core.session.directions), or None
    attribute_sets: Any = None  # AttributeSets: stored selections A and B for an attribute vector, or None

    @property
    def name(self) -> str:
        """The file name shown in the model list."""
        return self.path.name

    @property
    def model(self):
        """The loaded model, or None."""
        return self.entry.model if self.entry is not None else None

    @property
    def embedding(self) -> emb.EmbeddingResult | None:
        """The embedding on screen for this model, or None."""
        return self.embeddings.get(self.shown) if self.shown is not None else None


@dataclass
class Task:
    """Long work a session asks for: run ``fn(ctx)`` off the GUI thread, then ``apply(result)`` on it.

    Attributes
    ----------
    kind : str
        Job kind of the runner (at most one current job per kind: a new one cancels the old).
    family : str
        One of :data:`TASK_FAMILIES`.
    fn : callable
        ``fn(ctx: JobContext) -> result``; touches only the snapshots it closed over.
    label : str
        What the user reads in the status bar and error messages.
    apply : callable
        ``apply(result)`` on the GUI thread; applies the result to the state it was made for
        (the model and dataset captured when the task was made), active or not.
    model_key : str or None
        The model the task works for.
    on_failed : callable, optional
        ``on_failed(message)`` when the task failed (the runner shows ``message``).
    detail : str
        What exactly it computes, for a panel's busy line (e.g. the projection's label).
    """

    kind: str
    family: str
    fn: Callable[[JobContext], Any]
    label: str
    apply: Callable[[Any], None]
    model_key: str | None = None
    on_failed: Callable[[str], None] | None = None
    detail: str = ""
