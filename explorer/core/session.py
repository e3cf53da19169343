"""The session: everything a window shows, Qt-free, with typed change events that views observe."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from psygnal import Signal

from explorer.core import embedding as emb
from explorer.core.jobs import JobContext
from explorer.core.projection_spec import ProjectionSpec
from explorer.core.workspace import LatentCodes, ModelEntry

__all__ = ["Session", "ModelState", "DatasetSpec", "Task", "Keypoint", "ClusteringSettings", "Colour",
           "GanPoints", "COLOUR_MODES", "TASK_FAMILIES"]

#: Colour modes of the embedding.
COLOUR_MODES = ("label", "cluster", "dimension", "none", "inversion_error")
#: What a task does; a model shows one busy flag per family.
TASK_FAMILIES = ("dataset", "peek", "open", "encode", "invert", "projection", "kmeans", "sweep")


@dataclass(frozen=True)
class DatasetSpec:
    """How the dataset was opened: ``explorer.data.load_dataset(spec, split, limit, seed)``.

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
    """

    spec: str
    split: str | None = None
    limit: int | None = None
    seed: int = 0


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
    preview : bool
        ``codes`` and ``embeddings`` were read from the caches before the model loaded.
    gan_points : GanPoints
    slider_code : numpy.ndarray or None
        ``(d,)`` float32, the code of the latent sliders.
    keypoints : list of Keypoint
    error : str or None
        Why the model could not be opened.
    view_range : tuple or None
        ``((x0, x1), (y0, y1))`` of the embedding's view (zoom), None to fit all points.
    want_spec, want_clustering : ProjectionSpec / dict or None
        What a restored session showed: projected and clustered once the codes are back.
    saved_hash : str or None
        The SHA-256 the session file recorded for this model file.
    results : dict or None
        Codes, embeddings and cluster labels read from a session's companion ``.npz``,
        used once the dataset is open (then cleared).
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
    preview: bool = False
    gan_points: GanPoints = GanPoints()
    slider_code: np.ndarray | None = None
    keypoints: list = field(default_factory=list)
    error: str | None = None
    view_range: tuple | None = None
    want_view_range: tuple | None = None
    want_spec: ProjectionSpec | None = None
    want_clustering: dict | None = None
    saved_hash: str | None = None
    results: dict | None = None

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
    """

    kind: str
    family: str
    fn: Callable[[JobContext], Any]
    label: str
    apply: Callable[[Any], None]
    model_key: str | None = None
    on_failed: Callable[[str], None] | None = None


def _key(path: str | Path) -> str:
    return str(Path(path).expanduser().resolve())


class Session:
    """The one object a window shows: dataset, models, codes, projections, clusterings, colouring, selection.

    Views subscribe to the signals and render what they are told; user actions call the
    methods. Long work is returned as :class:`Task` objects that a runner (the GUI's job
    runner, or :meth:`run` for the CLI and tests) executes; each task's result is applied
    to the model state it was made for.

    Parameters
    ----------
    codes_cache : explorer.core.embedding.CodesCache, optional
    projection_cache : explorer.core.projection_cache.ProjectionCache, optional
        Default: the user's cache folders.
    use_workers : bool
        Run UMAP / t-SNE in :class:`~explorer.core.projection.ProjectionWorker` processes
        (cancellable; the window); False computes them in the calling thread (CLI).

    Signals
    -------
    dataset_changed() ; models_changed() ; active_changed(str key)
    codes_changed(str key) ; embedding_changed(str key) ; clustering_changed(str key)
    sweep_changed(str key) ; busy_changed(str key, str family, bool busy) ; status_changed(str key)
    colouring_changed() ; marker_changed() ; selection_changed()
    slider_code_changed(str key) ; keypoints_changed(str key) ; settings_changed(str group)
    dirty_changed(bool) ; error_reported(str message)
    """

    dataset_changed = Signal()
    models_changed = Signal()
    active_changed = Signal(str)
    codes_changed = Signal(str)
    embedding_changed = Signal(str)
    clustering_changed = Signal(str)
    sweep_changed = Signal(str)
    busy_changed = Signal(str, str, bool)
    status_changed = Signal(str)
    colouring_changed = Signal()
    marker_changed = Signal()
    selection_changed = Signal()
    slider_code_changed = Signal(str)
    keypoints_changed = Signal(str)
    settings_changed = Signal(str)
    dirty_changed = Signal(bool)
    error_reported = Signal(str)

    def __init__(self, *, codes_cache=None, projection_cache=None, use_workers: bool = False) -> None:
        from explorer.core.inverted import InvertedCodesStores

        self.codes_cache = codes_cache if codes_cache is not None else emb.CodesCache()
        self._projection_cache = projection_cache
        self.use_workers = bool(use_workers)
        self._workers: dict[str, Any] = {}
        self.inverted_stores = InvertedCodesStores()
        self.dataset_spec: DatasetSpec | None = None
        self.dataset = None
        self.dataset_id: str | None = None
        self.models: list[ModelState] = []
        self.active_key: str | None = None
        self.colour = Colour()
        self.marker = (5.0, 0.8)
        self.selection = np.empty(0, np.int64)  # dataset indices
        self.prior_selection: dict[str, np.ndarray] = {}  # key -> point indices of prior samples
        self.pending_selection: np.ndarray | None = None  # selection to apply once the dataset is open
        self.projection = ProjectionSpec("pca")  # the projection the panel asks for
        self.clustering_settings = ClusteringSettings()
        self.settings: dict[str, dict] = {"interpolation": {}, "traversal": {}, "reconstruction": {}}
        self.path: Path | None = None  # the session file, once saved or opened
        self.notes: list[str] = []  # sentences about the restore (a model file moved, ...)
        self._later: list[Task] = []  # tasks a result asked for, handed out by follow_up()
        self._dataset_loading: Task | None = None
        self._awaiting: list[str] = []  # models whose opening waits for the dataset (cache look-up first)
        self._dirty = False

    # ------------------------------------------------------------------ small accessors

    @property
    def projection_cache(self):
        """Where embeddings are cached on disk."""
        if self._projection_cache is None:
            from explorer.core.projection_cache import ProjectionCache

            self._projection_cache = ProjectionCache()
        return self._projection_cache

    def projection_worker(self, method: str):
        """The worker process running ``method`` ("umap" or "tsne"), started lazily."""
        from explorer.core.projection import ProjectionWorker

        worker = self._workers.get(method)
        if worker is None:
            worker = self._workers[method] = ProjectionWorker(cancel_grace=1.0)
        return worker

    def projection_workers(self) -> dict:
        """The projection workers created so far, by method."""
        return dict(self._workers)

    def close(self) -> None:
        """Stop the projection workers."""
        for worker in self._workers.values():
            worker.close()
        self._workers.clear()

    def state(self, key: str | None) -> ModelState | None:
        """The state of model ``key`` (a resolved path), or None."""
        for m in self.models:
            if m.key == key:
                return m
        return None

    @property
    def active(self) -> ModelState | None:
        """The active model's state, or None."""
        return self.state(self.active_key)

    @property
    def dirty(self) -> bool:
        """True when something changed since the session was last saved or opened."""
        return self._dirty

    def mark_dirty(self, dirty: bool = True) -> None:
        """Set (or clear, after a save) the unsaved-changes flag."""
        if dirty != self._dirty:
            self._dirty = dirty
            self.dirty_changed.emit(dirty)

    # ------------------------------------------------------------------ running tasks

    def task_started(self, task: Task) -> None:
        """A runner started ``task``: its model shows it as busy."""
        if task.family == "dataset":
            self._dataset_loading = task
        m = self.state(task.model_key)
        if m is not None:
            m.busy[task.family] = task
            self.busy_changed.emit(m.key, task.family, True)

    def task_ended(self, task: Task, outcome: str = "finished", message: str = "") -> None:
        """A runner's ``task`` ended: ``outcome`` in {"finished", "failed", "cancelled"}."""
        if task.family == "dataset" and self._dataset_loading is task:
            self._dataset_loading = None
        m = self.state(task.model_key)
        if m is not None and m.busy.get(task.family) is task:
            del m.busy[task.family]
            if task.family in ("projection", "invert", "encode") and outcome != "finished":
                self._set_status(m, "" if outcome == "cancelled" else message)
            self.busy_changed.emit(m.key, task.family, False)
        if outcome == "failed" and task.on_failed is not None:
            task.on_failed(message)

    def run(self, task: Task | None, ctx: JobContext | None = None):
        """Run ``task`` here and now (CLI, tests): start, ``fn``, ``apply``, end. Returns the result."""
        if task is None:
            return None
        self.task_started(task)
        try:
            result = task.fn(ctx if ctx is not None else JobContext.none())
        except BaseException as exc:
            self.task_ended(task, "failed", str(exc))
            raise
        task.apply(result)
        self.task_ended(task, "finished")
        return result

    def run_all(self, tasks: Iterable[Task | None]) -> None:
        """Run tasks one after the other, then the tasks their results ask for (:meth:`follow_up`).

        A task of a kind already waiting is not queued twice (as a runner keeps one job per kind).
        """
        queue: list[Task] = []

        def push(more):
            for t in more:
                if t is not None and all(q.kind != t.kind for q in queue):
                    queue.append(t)

        push(tasks)
        while queue:
            self.run(queue.pop(0))
            push(self.follow_up())

    def _set_status(self, m: ModelState, text: str) -> None:
        if m.status != text:
            m.status = text
            self.status_changed.emit(m.key)

    # ------------------------------------------------------------------ dataset and models

    def open_dataset(self, spec, split: str | None = None, limit: int | None = None, seed: int = 0) -> Task:
        """A task that loads a dataset; applying it re-encodes every open model on it."""
        from explorer.data import load_dataset

        dspec = DatasetSpec(str(spec), split if split != "all" else None, limit, int(seed))
        name = Path(str(spec)).name or str(spec)

        def load(ctx):
            from explorer.core.workspace import dataset_identity

            ctx.progress(0.0, f"reading {name}")
            dataset = load_dataset(dspec.spec, split=dspec.split, limit=dspec.limit, seed=dspec.seed)
            ctx.check()
            return dataset, dataset_identity(dataset)

        return Task("dataset", "dataset", load, f"Loading dataset {name}",
                    lambda r: self.set_dataset(dspec, *r))

    def set_dataset(self, spec: DatasetSpec, dataset, dataset_id: str) -> None:
        """Make ``dataset`` the open dataset; every model's codes, embeddings and clusterings go."""
        self.dataset_spec, self.dataset, self.dataset_id = spec, dataset, dataset_id
        self.inverted_stores.forget()
        keep, self.pending_selection = self.pending_selection, None  # a restored session's selection
        self.selection = np.empty(0, np.int64) if keep is None else keep[keep < len(dataset)]
        self.prior_selection.clear()
        for m in self.models:
            self._drop_results(m)
            m.prior_codes = None
            m.preview = False
        self.dataset_changed.emit()
        self.selection_changed.emit()
        for m in self.models:
            self.codes_changed.emit(m.key)
        self.mark_dirty()

    def add_models(self, paths: Iterable[str | Path]) -> list[ModelState]:
        """Add model files in the order given (loading is :meth:`open_model_tasks`); the first becomes active.

        A file already open is not added again. Returns the states of the new files.
        """
        added = []
        for path in paths:
            path = Path(path).expanduser()
            key = _key(path)
            if self.state(key) is None:
                m = ModelState(key=key, path=path)
                self.models.append(m)
                added.append(m)
        if added:
            self.models_changed.emit()
            self.set_active(added[0].key)
            self.mark_dirty()
        return added

    def open_model_tasks(self, state: ModelState, peek: bool = True) -> list[Task]:
        """Tasks that load ``state``'s file: a cache look-up (no torch) first when the dataset is open.

        While the dataset loads, the model waits for it (none returned; :meth:`follow_up` hands
        the tasks out once the dataset is open or failed), so a model shown before on it is
        painted from the caches before torch has even loaded.
        """
        if peek and self.dataset is None and self._dataset_loading is not None and state.entry is None:
            if state.key not in self._awaiting:
                self._awaiting.append(state.key)
            return []
        if peek and self.dataset is not None and state.entry is None:
            return [self._peek_task(state)]
        return [self._open_task(state)]

    def _peek_task(self, m: ModelState) -> Task:
        path, dataset, dataset_id = m.path, self.dataset, self.dataset_id
        spec, codes_cache, projection_cache = m.shown or self.projection, self.codes_cache, self.projection_cache

        def peek(ctx):
            return emb.peek_cached(path, dataset, dataset_id, spec, codes_cache, projection_cache, ctx=ctx)

        def apply(preview):
            if self.state(m.key) is not m or m.entry is not None:
                return
            if preview is not None and preview.dataset_id == self.dataset_id and m.codes is None:
                m.file_hash, m.codes, m.preview = preview.file_hash, preview.codes, True
                m.embeddings = {preview.result.spec: preview.result}
                m.shown = preview.result.spec
                self.codes_changed.emit(m.key)
                self.embedding_changed.emit(m.key)
            self._later.append(self._open_task(m))

        return Task(f"peek:{m.key}", "peek", peek, f"Opening {path.name}", apply, m.key,
                    on_failed=lambda _msg: self._later.append(self._open_task(m)))

    def _open_task(self, m: ModelState) -> Task:
        from explorer.core.workspace import open_model

        path = m.path

        def apply(entry: ModelEntry):
            if self.state(m.key) is not m:
                return  # closed meanwhile
            preview_ok = (m.preview and m.file_hash == entry.file_hash and entry.model.has_encoder
                          and m.codes is not None and entry.model.latent_dim == m.codes.z.shape[1])
            m.entry, m.file_hash, m.error = entry, entry.file_hash, None
            entry.codes = m.codes if preview_ok else None
            if not preview_ok:
                self._drop_results(m)
            m.preview = False
            self.models_changed.emit()
            if not preview_ok:
                self.codes_changed.emit(m.key)

        def failed(_message: str):
            if self.state(m.key) is m:  # the user read why in one sentence; the file leaves the list
                self.remove_model(m.key)

        return Task(f"open:{m.key}", "open", lambda ctx: open_model(path), f"Opening {path.name}", apply, m.key,
                    on_failed=failed)

    def follow_up(self) -> list[Task]:
        """The tasks the session needs next: queued follow-ups, encodes, first projections.

        A runner calls this after applying a result (and after user actions); each
        returned task is new work (already running work is not returned twice).
        """
        out, self._later = self._later, []
        if self._awaiting and (self.dataset is not None or self._dataset_loading is None):
            waiting, self._awaiting = self._awaiting, []
            for key in waiting:
                m = self.state(key)
                if m is not None and m.entry is None:
                    out.extend(self.open_model_tasks(m))
        if self.dataset is None:
            return out
        for m in self.models:
            if m.results is not None:
                from explorer.core.session_file import apply_results

                apply_results(self, m)
        for m in self.models:
            if m.entry is not None and m.codes is None and m.gan_points.source == "inverted" \
                    and not m.model.has_encoder and "invert" not in m.busy:
                task = self.set_gan_points(m.key, "inverted", m.gan_points.n)
                if task is not None:
                    out.append(task)
            if m.entry is None or m.codes is not None or "encode" in m.busy or "invert" in m.busy:
                continue
            if any(t.model_key == m.key and t.family == "encode" for t in out):
                continue
            out.append(self._encode_task(m))
        for m in self.models:
            if m.codes is not None and m.shown is None and "projection" not in m.busy \
                    and not any(t.model_key == m.key and t.family == "projection" for t in out):
                task = self._initial_projection(m)
                if task is not None:
                    out.append(task)
            want = m.want_clustering
            if want is not None and m.codes is not None and m.embedding is not None and m.clustering is None \
                    and "kmeans" not in m.busy and (want["space"] == "latent" or m.shown == m.want_spec
                                                    or m.want_spec is None):
                m.want_clustering = None
                out.append(self.kmeans(m.key, want["space"], want["k"], want["seed"]))
        return out

    def remove_model(self, key: str) -> None:
        """Close model ``key``; the next model (or the previous) becomes active."""
        m = self.state(key)
        if m is None:
            return
        i = self.models.index(m)
        del self.models[i]
        self.prior_selection.pop(key, None)
        if m.file_hash:
            self.inverted_stores.forget(m.file_hash)
        self.models_changed.emit()
        if self.active_key == key:
            nxt = self.models[min(i, len(self.models) - 1)].key if self.models else None
            self.set_active(nxt)
        self.mark_dirty()

    def set_active(self, key: str | None) -> None:
        """Make model ``key`` active (None: none)."""
        if key is not None and self.state(key) is None:
            raise KeyError(f"no open model {key!r}")
        if key != self.active_key:
            self.active_key = key
            self.active_changed.emit(key or "")
            self.mark_dirty()

    def move_model(self, key: str, index: int) -> None:
        """Move model ``key`` to position ``index`` of the model list."""
        m = self.state(key)
        if m is not None:
            self.models.remove(m)
            self.models.insert(max(0, min(index, len(self.models))), m)
            self.models_changed.emit()
            self.mark_dirty()

    # ------------------------------------------------------------------ codes

    def _drop_results(self, m: ModelState) -> None:
        m.codes = None
        if m.entry is not None:
            m.entry.codes = None
        m.embeddings, m.shown, m.clustering, m.sweep, m.view_range = {}, None, None, None, None
        m.slider_code = None

    def _encode_task(self, m: ModelState) -> Task:
        entry, dataset, dataset_id, cache = m.entry, self.dataset, self.dataset_id, self.codes_cache
        seed = self.dataset_spec.seed if self.dataset_spec is not None else 0
        if entry.model.has_encoder:
            label = f"Encoding {entry.name}"
            self._set_status(m, f"Encoding {len(dataset):,} images with {entry.name}…")
        else:
            label = f"Sampling the prior of {entry.name}"
            self._set_status(m, f"Sampling p(z) and generating images with {entry.name} (no encoder)…")

        def encode(ctx):
            return emb.encode_cached(entry, dataset, dataset_id, seed=seed, cache=cache, ctx=ctx)

        def apply(codes):
            if self.state(m.key) is not m or dataset_id != self.dataset_id or m.entry is not entry:
                return
            self._set_status(m, "")
            if m.codes is not None and m.codes.source == "inverted" and codes.source == "prior":
                m.prior_codes = codes  # the user switched to inverted points meanwhile
                return
            self._set_codes(m, codes)

        return Task(f"encode:{m.key}", "encode", encode, label, apply, m.key)

    def _set_codes(self, m: ModelState, codes: LatentCodes | None) -> None:
        self._drop_results(m)
        m.codes = codes
        if m.entry is not None:
            m.entry.codes = codes
        self.codes_changed.emit(m.key)
        self.embedding_changed.emit(m.key)
        self.clustering_changed.emit(m.key)

    def set_gan_points(self, key: str, source: str, n: int = 0) -> Task | None:
        """Show a GAN's prior samples, or ``n`` dataset images at codes found by GAN inversion.

        Parameters
        ----------
        key : str
            A GAN without encoder.
        source : {"prior", "inverted"}
        n : int
            Dataset images to invert (a seeded sample; all when 0 or ≥ N), with the
            session's reconstruction settings for the inversion.

        Returns
        -------
        Task or None
            The inversion task (None for prior samples, which the encode task makes).

        Raises
        ------
        ValueError
            An unknown ``source``.
        """
        from explorer.core.inverted import inversion_summary, inverted_dataset_codes

        if source not in ("prior", "inverted"):
            raise ValueError(f"source must be 'prior' or 'inverted', got {source!r}")
        m = self.state(key)
        if m is None or m.entry is None or m.model.has_encoder or self.dataset is None:
            return None
        dataset, dataset_id, stores = self.dataset, self.dataset_id, self.inverted_stores
        n = min(int(n), len(dataset)) if n else len(dataset)
        m.gan_points = GanPoints(source, n)
        self.mark_dirty()
        if source == "prior":
            prior, m.prior_codes = m.prior_codes, None
            if m.codes is not None and m.codes.source != "prior":
                self._set_codes(m, prior)  # None: sampled again by the encode task
            return None
        settings = self.inversion_settings()
        seed = self.dataset_spec.seed if self.dataset_spec is not None else 0
        model, file_hash = m.entry.model, m.entry.file_hash

        def invert_points(ctx):
            store = stores.get(model, file_hash, dataset_id, len(dataset), settings)
            return inverted_dataset_codes(store, dataset, n if n < len(dataset) else None, seed, ctx)

        def apply(codes):
            if self.state(key) is not m or dataset_id != self.dataset_id or m.gan_points.source != "inverted":
                return
            if m.codes is not None and m.codes.source == "prior":
                m.prior_codes = m.codes
            self._set_status(m, "")
            self._set_codes(m, codes)

        shown = "the prior samples" if m.codes is None or m.codes.source == "prior" else "the points shown"
        self._set_status(m, f"Finding codes for {n:,} dataset images by GAN inversion "
                            f"({inversion_summary(settings)}); {shown} stay until then.")
        return Task(f"invert-points:{key}", "invert", invert_points,
                    f"GAN inversion of {n:,} images ({m.name})", apply, key)

    def inversion_settings(self):
        """The GAN-inversion settings of the reconstruction settings (an ``InversionSettings``)."""
        from explorer.core.inversion import InversionSettings

        raw = dict(self.settings.get("reconstruction", {}).get("inversion", {}))
        return InversionSettings(**raw) if raw else InversionSettings()

    # ------------------------------------------------------------------ projections

    def projection_key(self, m: ModelState, spec: ProjectionSpec) -> str:
        """The projection-cache key of ``spec`` on ``m``'s current codes."""
        return emb.projection_key(m.file_hash or "", emb.codes_identity(self.dataset_id or "", m.codes), spec,
                                  len(m.codes.z))

    def _initial_projection(self, m: ModelState) -> Task | None:
        """First embedding of a model's codes: the spec asked for when cached, else PCA (or z itself when d = 2)."""
        d = m.codes.z.shape[1]
        if m.want_spec is not None:  # a restored session: its projection, from the cache or computed
            spec = m.want_spec if m.want_spec.method != "identity" or d == 2 else emb.default_spec(d)
            return None if self.show_cached(m.key, spec) else self.project(m.key, spec)
        spec = self.projection
        if spec.method in ("pca", "identity"):
            spec = emb.default_spec(d)
        if self.show_cached(m.key, spec):
            return None
        if spec.method in ("umap", "tsne"):
            wanted, spec = spec, emb.default_spec(d)
            if self.show_cached(m.key, spec):
                return None
            task = self.project(m.key, spec)
            self._set_status(m, f"{wanted.label()} is not computed for this model yet — press Compute in "
                                f"“Projection and colours”; {spec.label()} shown meanwhile.")
            return task
        return self.project(m.key, spec)

    def show_cached(self, key: str, spec: ProjectionSpec) -> bool:
        """Show ``spec``'s embedding of model ``key`` if it is in memory or the disk cache; True if shown."""
        m = self.state(key)
        if m is None or m.codes is None:
            return False
        hit = m.embeddings.get(spec)
        if hit is None:
            hit = emb.cached_embedding(self.projection_key(m, spec), spec, len(m.codes.z), self.projection_cache)
        if hit is None:
            return False
        self._show(m, hit)
        return True

    def _show(self, m: ModelState, result: emb.EmbeddingResult) -> None:
        m.embeddings[result.spec] = result
        if result.spec == m.want_spec or (m.want_spec is None and m.want_view_range is not None):
            m.want_spec, m.view_range, m.want_view_range = None, m.want_view_range, None
        changed, first = m.shown != result.spec, m.shown is None
        m.shown = result.spec
        if m.clustering is not None and m.clustering.space == "embedding" and changed:
            m.clustering = None  # it clustered another embedding
            self.clustering_changed.emit(m.key)
        if "projection" not in m.busy and (result.spec == self.projection or not m.status.endswith("meanwhile.")):
            self._set_status(m, "")
        self.embedding_changed.emit(m.key)
        if changed and not first:
            self.mark_dirty()

    def set_projection(self, spec: ProjectionSpec) -> None:
        """The projection the user asks for (the panel's choice); a cached one is shown at once."""
        if spec != self.projection:
            self.projection = spec
            self.settings_changed.emit("projection")
            self.mark_dirty()

    def project(self, key: str, spec: ProjectionSpec) -> Task | None:
        """Show ``spec``'s embedding of model ``key``: from the cache at once (None), else a task.

        Raises
        ------
        ValueError
            The identity asked for codes that are not 2-D.
        """
        m = self.state(key)
        if m is None or m.codes is None or self.dataset_id is None:
            return None
        if self.show_cached(key, spec):
            return None
        codes = m.codes
        if spec.method == "identity" and codes.z.shape[1] != 2:
            raise ValueError(f"The latent space of {m.name} has d = {codes.z.shape[1]}, so it cannot be shown "
                             "as is; choose PCA, UMAP or t-SNE.")
        remote = spec.method in ("umap", "tsne") and self.use_workers
        compute = self.projection_worker(spec.method).run if remote else None
        cache, pkey = self.projection_cache, self.projection_key(m, spec)

        def fn(ctx):
            return emb.project_cached(codes.z, spec, pkey, cache, compute=compute, ctx=ctx)

        def apply(result):
            if self.state(key) is m and m.codes is codes:  # else closed or new points meanwhile
                self._show(m, result)

        if spec.method in ("umap", "tsne"):
            shown = m.shown.label() if m.shown is not None else ""
            self._set_status(m, f"Computing {spec.label()}…" + (f" {shown} shown meanwhile." if shown else ""))
        kind = f"projection:{spec.method}" if remote else f"projection:{key}"
        return Task(kind, "projection", fn, f"{spec.label().split(' (')[0]} of {len(codes.z):,} codes ({m.name})",
                    apply, key)

    # ------------------------------------------------------------------ clustering

    def set_clustering_settings(self, **changes) -> None:
        """Change k-means settings (``space``, ``k``, ``seed``, ``sweep``)."""
        new = replace(self.clustering_settings, **changes)
        if new != self.clustering_settings:
            self.clustering_settings = new
            self.settings_changed.emit("clustering")
            self.mark_dirty()

    def _clustering_points(self, m: ModelState, space: str):
        if m is None or m.codes is None or m.embedding is None:
            raise ValueError("Open a model and wait for its embedding before running k-means.")
        return m.codes.z if space == "latent" else m.embedding.embedding

    def kmeans(self, key: str, space: str | None = None, k: int | None = None, seed: int | None = None) -> Task:
        """A k-means task on model ``key``'s codes or shown embedding (default: the clustering settings).

        Raises
        ------
        ValueError
            The model has no codes or embedding yet.
        """
        from explorer.core.clustering import cluster

        s = self.clustering_settings
        space, k, seed = space or s.space, int(k or s.k), int(s.seed if seed is None else seed)
        m = self.state(key)
        x = self._clustering_points(m, space)
        codes, shown, labels = m.codes, m.shown, m.codes.labels

        def run(ctx):
            ctx.progress(0.0, f"k-means on the {space} space, k = {k}")
            return cluster(x, k, seed=seed, space=space, labels_true=labels, with_silhouette=True)

        def apply(result):
            if self.state(key) is m and m.codes is codes and (space == "latent" or m.shown == shown):
                m.clustering = result
                self.clustering_changed.emit(key)
                self.mark_dirty()

        return Task(f"kmeans:{key}", "kmeans", run, f"k-means (k = {k}, {m.name})", apply, key)

    def k_sweep(self, key: str, space: str | None = None, ks: Sequence[int] | None = None,
                seed: int | None = None) -> Task:
        """A task running k-means for each k of ``ks`` (default: the sweep range) on model ``key``."""
        from explorer.core.clustering import k_sweep

        s = self.clustering_settings
        space, seed = space or s.space, int(s.seed if seed is None else seed)
        ks = [int(k) for k in (ks if ks is not None else range(s.sweep[0], s.sweep[1] + 1))]
        m = self.state(key)
        x = self._clustering_points(m, space)
        codes, labels = m.codes, m.codes.labels

        def run(ctx):
            return k_sweep(x, ks, labels_true=labels, seed=seed, ctx=ctx, space=space)

        def apply(results):
            if self.state(key) is m and m.codes is codes:
                m.sweep = list(results)
                self.sweep_changed.emit(key)

        return Task(f"kmeans-sweep:{key}", "sweep", run, f"k-means sweep (k = {ks[0]}…{ks[-1]}, {m.name})",
                    apply, key)

    # ------------------------------------------------------------------ colouring, marker, selection

    def set_colour(self, mode: str, dim: int | None = None) -> None:
        """Colour points by ``mode`` (:data:`COLOUR_MODES`); ``dim`` is the latent dimension for "dimension".

        Raises
        ------
        ValueError
            An unknown mode or a negative dimension.
        """
        if mode not in COLOUR_MODES:
            raise ValueError(f"colour mode must be one of {', '.join(COLOUR_MODES)}, got {mode!r}")
        dim = self.colour.dim if dim is None else int(dim)
        if dim < 0:
            raise ValueError(f"latent dimension must be >= 0, got {dim}")
        new = Colour(mode, dim)
        if new != self.colour:
            self.colour = new
            self.colouring_changed.emit()
            self.mark_dirty()

    def effective_colour(self, key: str | None = None) -> Colour:
        """The colouring model ``key`` (default: active) can show: the preference, or what stands in for it."""
        m = self.state(key) if key is not None else self.active
        codes = m.codes if m is not None else None
        mode = self.colour.mode
        if mode == "cluster" and (m is None or m.clustering is None):
            mode = "label"
        if mode == "inversion_error" and (codes is None or codes.fit_error is None):
            mode = "label"
        if mode == "label" and (codes is None or codes.labels is None):
            mode = "none"
        dim = min(self.colour.dim, codes.z.shape[1] - 1) if codes is not None else self.colour.dim
        return Colour(mode, dim)

    def colouring(self, key: str | None = None) -> emb.Colouring | None:
        """The :class:`~explorer.core.embedding.Colouring` of model ``key``'s points (default: active)."""
        m = self.state(key) if key is not None else self.active
        if m is None or m.codes is None:
            return None
        codes, col, n = m.codes, self.effective_colour(m.key), len(m.codes.z)
        ds = self.dataset
        if col.mode == "cluster":
            c = m.clustering
            space = "latent space z" if c.space == "latent" else "2-D embedding"
            return emb.colouring("cluster", n, clusters=c.labels, cluster_title=f"k-means, k = {c.k}, on the {space}")
        if col.mode == "dimension":
            return emb.colouring("dimension", n, z=codes.z, dim=col.dim)
        if col.mode == "label":
            names = ds.class_names if ds is not None and codes.of_dataset else None
            return emb.colouring("label", n, labels=codes.labels, class_names=names)
        if col.mode == "inversion_error":
            return emb.colouring("inversion_error", n, errors=codes.fit_error)
        return emb.colouring("none", n)

    def set_view_range(self, key: str, view_range) -> None:
        """The zoom of model ``key``'s embedding: ``((x0, x1), (y0, y1))`` in embedding units, or None (fit)."""
        m = self.state(key)
        if m is None:
            return
        rng = None if view_range is None else tuple((float(a), float(b)) for a, b in view_range)
        if rng != m.view_range:
            m.view_range = rng
            self.mark_dirty()

    def set_marker(self, size_px: float, opacity: float) -> None:
        """Marker size (pixels, > 0) and opacity (0–1) of the embedding's points."""
        new = (float(size_px), float(opacity))
        if new != self.marker:
            self.marker = new
            self.marker_changed.emit()
            self.mark_dirty()

    def select(self, dataset_indices) -> None:
        """Select dataset images (every model's view shows the same images selected)."""
        idx = np.unique(np.asarray(dataset_indices, dtype=np.int64).ravel())
        if self.dataset is not None:
            idx = idx[(idx >= 0) & (idx < len(self.dataset))]
        if not np.array_equal(idx, self.selection):
            self.selection = idx
            self.selection_changed.emit()
            self.mark_dirty()

    def select_points(self, key: str, points) -> None:
        """Select points of model ``key``'s embedding: dataset images, or prior samples of a GAN."""
        m = self.state(key)
        points = np.asarray(points, dtype=np.int64).ravel()
        if m is None or m.codes is None:
            return
        if m.codes.of_dataset:
            self.prior_selection.pop(key, None)
            self.select(m.codes.dataset_indices(points))
        else:
            self.prior_selection[key] = np.unique(points[(points >= 0) & (points < len(m.codes.z))])
            self.selection_changed.emit()

    def selected_points(self, key: str | None = None) -> np.ndarray:
        """Point indices (int64, increasing) of the selection in model ``key``'s embedding (default: active)."""
        m = self.state(key) if key is not None else self.active
        if m is None or m.codes is None:
            return np.empty(0, np.int64)
        if not m.codes.of_dataset:
            return self.prior_selection.get(m.key, np.empty(0, np.int64))
        pts = m.codes.points_of(self.selection)
        return np.sort(pts[pts >= 0])

    # ------------------------------------------------------------------ sliders, keypoints, settings

    def set_slider_code(self, key: str, z) -> None:
        """The latent sliders' code ``(d,)`` of model ``key``.

        Raises
        ------
        ValueError
            ``z`` is not ``(d,)`` for the model's latent dimension, or not finite.
        """
        m = self.state(key)
        if m is None:
            return
        z = np.asarray(z, dtype=np.float32).ravel()
        d = m.model.latent_dim if m.model is not None else (m.codes.z.shape[1] if m.codes is not None else len(z))
        if z.shape != (d,) or not np.all(np.isfinite(z)):
            raise ValueError(f"the slider code of {m.name} must be {d} finite numbers, got shape {z.shape}")
        if m.slider_code is None or not np.array_equal(z, m.slider_code):
            m.slider_code = z
            self.slider_code_changed.emit(key)
            self.mark_dirty()

    def add_keypoint(self, key: str, z, label: str, dataset_index: int | None = None) -> None:
        """Append an interpolation keypoint ``z`` ``(d,)`` to model ``key``."""
        m = self.state(key)
        if m is None:
            return
        m.keypoints.append(Keypoint(np.asarray(z, np.float32).ravel().copy(), str(label),
                                    None if dataset_index is None else int(dataset_index)))
        self.keypoints_changed.emit(key)
        self.mark_dirty()

    def set_keypoints(self, key: str, keypoints: Sequence[Keypoint]) -> None:
        """Replace model ``key``'s interpolation keypoints."""
        m = self.state(key)
        if m is None:
            return
        new = list(keypoints)
        same = len(new) == len(m.keypoints) and all(
            a.label == b.label and a.dataset_index == b.dataset_index and np.array_equal(a.z, b.z)
            for a, b in zip(new, m.keypoints))
        if not same:
            m.keypoints = new
            self.keypoints_changed.emit(key)
            self.mark_dirty()

    def clear_keypoints(self, key: str) -> None:
        """Remove model ``key``'s interpolation keypoints."""
        m = self.state(key)
        if m is not None and m.keypoints:
            m.keypoints = []
            self.keypoints_changed.emit(key)
            self.mark_dirty()

    def update_settings(self, group: str, **values) -> None:
        """Change panel settings of ``group`` ("interpolation", "traversal", "reconstruction")."""
        if group not in self.settings:
            raise ValueError(f"unknown settings group {group!r}; choose one of {', '.join(self.settings)}")
        new = {**self.settings[group], **values}
        if new != self.settings[group]:
            self.settings[group] = new
            self.settings_changed.emit(group)
            self.mark_dirty()
