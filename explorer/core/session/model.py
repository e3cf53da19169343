"""`Session`: the dataset, the open models, their codes, embeddings and clusterings, and the tasks it asks for."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from psygnal import Signal

from explorer.core import embedding as emb
from explorer.core.heavy import load_estimators
from explorer.core.projection.spec import ProjectionSpec
from explorer.core.session.analysis import Analyses
from explorer.core.session.compare import CompareViews
from explorer.core.session.compare_measure import CompareMeasures
from explorer.core.session.device import DeviceChoice
from explorer.core.session.evaluations import Evaluations
from explorer.core.session.panel_settings import PANEL_GROUPS
from explorer.core.session.results import apply_results
from explorer.core.session.state import (
    COLOUR_MODES,
    TASK_FAMILIES,
    ClusteringSettings,
    Colour,
    CompareSettings,
    DatasetSpec,
    GanPoints,
    Keypoint,
    ModelState,
    Task,
)
from explorer.core.session.tasks import TaskRunning
from explorer.core.session.views import ViewState
from explorer.core.workspace import LatentCodes, ModelEntry

__all__ = ["Session", "ModelState", "DatasetSpec", "Task", "Keypoint", "ClusteringSettings", "Colour",
           "GanPoints", "COLOUR_MODES", "TASK_FAMILIES"]

log = logging.getLogger(__name__)


def _key(path: str | Path) -> str:
    from explorer.paths import resolved

    return str(resolved(path))  # a loop of symbolic links gets a key too; opening it then says what is wrong


class Session(TaskRunning, DeviceChoice, ViewState, Analyses, CompareViews, CompareMeasures, Evaluations):
    """The one object a window shows: dataset, models, codes, projections, clusterings, colouring, selection.

    Views subscribe to the signals and render what they are told; user actions call the
    methods. Long work is returned as :class:`Task` objects that a runner (the GUI's job
    runner, or :meth:`run` for the CLI and tests) executes; each task's result is applied
    to the model state it was made for.

    Parameters
    ----------
    codes_cache : explorer.core.embedding.CodesCache, optional
    projection_cache : explorer.core.projection.cache.ProjectionCache, optional
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
    compare_changed() ; hover_changed(int dataset index, -1 for none) ; scorecard_changed()
    evaluation_changed(str key, str family) ; directions_changed(str key)
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
    compare_changed = Signal()
    hover_changed = Signal(int)
    scorecard_changed = Signal()
    evaluation_changed = Signal(str, str)
    directions_changed = Signal(str)

    def __init__(self, *, codes_cache=None, projection_cache=None, use_workers: bool = False) -> None:
        from explorer.core.reconstruction.inverted import InvertedCodesStores

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
        self.settings: dict[str, dict] = {"interpolation": {}, "traversal": {}, "reconstruction": {},
                                         **{group: {} for group in PANEL_GROUPS}}
        self.compare_mode = False  # the Compare view instead of the active model's embedding
        self.compare = CompareSettings()
        self.aligned_umap_result: dict | None = None  # AlignedUMAP of the compared codes (not saved)
        self.hovered = -1  # dataset index under the cursor in any view (not saved)
        self.scorecard: dict | None = None  # the compared models' scorecard (not saved; exported)
        self.path: Path | None = None  # the session file, once saved or opened
        self.with_results = False  # the session file has a companion results .npz (kept on Save)
        self.missing_models: list = []  # (path, entry) of a restored file's models that were not there
        self.saved_dataset_id: str | None = None  # the identity a restored file recorded for its dataset
        self.requested_dataset: DatasetSpec | None = None  # asked for (a session file's, even if it failed)
        self.notes: list[str] = []  # sentences about the restore (a model file moved, ...)
        self._later: list[Task] = []  # tasks a result asked for, handed out by follow_up()
        self._dataset_loading: Task | None = None
        self._awaiting: list[str] = []  # models whose opening waits for the dataset (cache look-up first)
        self._prefetches: dict[Path, Any] = {}  # model file -> PrefetchProcess encoding it into the codes cache
        self._dirty = False
        #: What a session file or the command line asked for is being opened: results arriving are not
        #: changes. Cleared once nothing is loading, waiting or running any more.
        self.restoring = False
        self.evaluation_changed.connect(self._scorecard_follows_evaluations)

    # ------------------------------------------------------------------ small accessors

    @property
    def projection_cache(self):
        """Where embeddings are cached on disk."""
        if self._projection_cache is None:
            from explorer.core.projection.cache import ProjectionCache

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
        """Stop the projection workers and any prefetch child still running."""
        for worker in self._workers.values():
            worker.close()
        self._workers.clear()
        self.stop_prefetches()

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
        """Set (or clear, after a save) the unsaved-changes flag.

        While a session file is being restored (:attr:`restoring`), what comes back is not a change.
        """
        if dirty and self.restoring:
            return
        if dirty != self._dirty:
            self._dirty = dirty
            self.dirty_changed.emit(dirty)

    def set_status(self, key: str, text: str) -> None:
        """Say one sentence about model ``key`` on its view (e.g. that a runner stopped its job)."""
        m = self.state(key)
        if m is not None:
            self._set_status(m, text)

    def _set_status(self, m: ModelState, text: str, until: ProjectionSpec | None = None) -> None:
        """``m``'s status line; with ``until`` it stays until that projection is shown."""
        m.status_until = until
        if m.status != text:
            m.status = text
            self.status_changed.emit(m.key)

    # ------------------------------------------------------------------ dataset and models

    def open_dataset(self, spec, split: str | None = None, limit: int | None = None, seed: int = 0,
                     resize: str | None = None) -> Task:
        """A task that loads a dataset; applying it re-encodes every open model on it.

        Parameters
        ----------
        spec : str or path-like
            A dataset name or path (see :func:`explorer.data.load_dataset`).
        split : {"train", "test", "all", None}
            ``"all"`` and None read every split.
        limit : int, optional
            Size of a seeded random subsample.
        seed : int
            Subsample seed (also the seed of a GAN's prior samples).
        resize : {"bilinear", "bicubic", "lanczos", "nearest"}, optional
            Filter fitting the images to each model's input size (default bilinear, antialiased,
            as torchvision).

        Returns
        -------
        Task
            Of family ``"dataset"``; its result is ``(Dataset, dataset_identity)``. Models
            opened while it is pending wait for it (to look in the caches first).
        """
        from explorer.data import DEFAULT_RESIZE, load_dataset

        dspec = DatasetSpec(str(spec), split if split != "all" else None, limit, int(seed), resize or DEFAULT_RESIZE)
        name = Path(str(spec)).name or str(spec)

        def load(ctx):
            from explorer.core.workspace import dataset_identity

            ctx.progress(0.0, f"reading {name}")
            dataset = load_dataset(dspec.spec, split=dspec.split, limit=dspec.limit, seed=dspec.seed,
                                   resize=dspec.resize)
            ctx.check()
            return dataset, dataset_identity(dataset)

        task = Task("dataset", "dataset", load, f"Loading dataset {name}", lambda r: self.set_dataset(dspec, *r))
        self._dataset_loading = task  # models opened from now on wait for it (to look in the caches first)
        self.requested_dataset = dspec  # what a session file names until a dataset is open
        return task

    @property
    def dataset_loading(self) -> bool:
        """A dataset is being opened (its task has not ended)."""
        return self._dataset_loading is not None

    def reset(self) -> None:
        """Close everything: models, dataset, selection (before a session file is opened into this session).

        Running tasks keep running; their results find no model to apply to and are dropped.
        """
        while self.models:
            self.remove_model(self.models[0].key)
        self.stop_prefetches()
        self.dataset_spec = self.dataset = self.dataset_id = self.requested_dataset = None
        self._dataset_loading, self._awaiting, self._later = None, [], []
        self.selection, self.pending_selection = np.empty(0, np.int64), None
        self.prior_selection.clear()
        self.inverted_stores.forget()
        self.compare_mode, self.compare, self.aligned_umap_result, self.hovered = False, CompareSettings(), None, -1
        self.scorecard = None
        self.path, self.notes, self.with_results, self.missing_models = None, [], False, []
        self.dataset_changed.emit()
        self.selection_changed.emit()

    def set_dataset(self, spec: DatasetSpec, dataset, dataset_id: str) -> None:
        """Make ``dataset`` the open dataset; every model's codes, embeddings and clusterings go.

        Parameters
        ----------
        spec : DatasetSpec
            How it was opened (what a session file records).
        dataset : explorer.data.Dataset
            Images ``(N, C, H, W)`` float32 in [0, 1], labels ``(N,)`` int64 or None.
        dataset_id : str
            :func:`explorer.core.workspace.dataset_identity` of ``dataset``.
        """
        if self.restoring and self.saved_dataset_id and dataset_id != self.saved_dataset_id:
            self.error_reported.emit(f"The dataset '{spec.spec}' is not the one this session was saved with (its "
                                     "images or labels differ); its codes, embeddings and clusterings are computed "
                                     "again on it.")
        self.saved_dataset_id = None
        self.dataset_spec, self.dataset, self.dataset_id = spec, dataset, dataset_id
        self.inverted_stores.forget()
        keep, self.pending_selection = self.pending_selection, None  # a restored session's selection
        self.selection = np.empty(0, np.int64) if keep is None else keep[keep < len(dataset)]
        self.prior_selection.clear()
        self.scorecard = self.aligned_umap_result = None  # measured on the old images
        if self.hovered >= 0:  # an index into the old images
            self.hovered = -1
            self.hover_changed.emit(-1)
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

    def expect_prefetch(self, process) -> None:
        """Let the cache look-up of ``process.request.model`` wait for a child encoding it into the codes cache.

        Parameters
        ----------
        process : explorer.core.prefetch.PrefetchProcess
            Started before the window (`explorer.core.prefetch.start_prefetch`); its request
            should name the dataset this session opens (otherwise the look-up just misses).
        """
        self._prefetches[Path(process.request.model).resolve()] = process

    def stop_prefetches(self) -> None:
        """Stop the children no cache look-up has waited for yet (the session closes)."""
        prefetches, self._prefetches = self._prefetches, {}
        for process in prefetches.values():
            process.stop()

    def _peek_task(self, m: ModelState) -> Task:
        path, dataset, dataset_id = m.path, self.dataset, self.dataset_id
        spec = m.want_spec or m.shown or self.projection
        codes_cache, projection_cache = self.codes_cache, self.projection_cache
        prefetch = self._prefetches.pop(Path(path).resolve(), None)
        if prefetch is not None and not prefetch.request.same_dataset(self.dataset_spec):
            prefetch.stop()  # it encodes another dataset than the one open now
            prefetch = None

        def peek(ctx):
            if prefetch is not None:  # the child is encoding this model: its codes will be in the cache
                def progress(fraction):
                    ctx.progress(fraction, f"encoded {fraction:.0%} of the images")

                # when the child encodes, the first PCA will be this window's: scikit-learn meanwhile
                prefetch.wait(ctx.check if ctx is not None else None, progress=progress if ctx is not None else None,
                              on_encoding=load_estimators)
                for note in prefetch.notes:  # the window goes on without it: only the log says
                    log.warning("the prefetch child of %s: %s", path.name, note)
            return emb.peek_cached(path, dataset, dataset_id, spec, codes_cache, projection_cache, ctx=ctx)

        def apply(preview):
            if self.state(m.key) is not m or m.entry is not None:
                return
            if preview is not None and preview.dataset_id == self.dataset_id and m.codes is None:
                m.file_hash, m.codes, m.preview = preview.file_hash, preview.codes, True
                self.codes_changed.emit(m.key)
                if preview.result is None and (m.want_spec is None or m.want_spec.method in ("pca", "identity")):
                    m.open_after_show = True  # codes only: follow_up computes their PCA; the model loads after
                    return
                if preview.result is not None:  # (codes only, a restored UMAP/t-SNE to compute: load alongside)
                    self._show(m, preview.result)
            self._later.append(self._open_task(m))

        label = f"Opening {path.name}" + (": encoding the dataset in a second process" if prefetch else "")
        return Task(f"peek:{m.key}", "peek", peek, label, apply, m.key,
                    on_failed=lambda _msg: self._later.append(self._open_task(m)))

    def _open_task(self, m: ModelState) -> Task:
        from explorer.core.workspace import open_model

        path = m.path

        def apply(entry: ModelEntry):
            if self.state(m.key) is not m:
                return  # closed meanwhile
            preview_ok = (m.preview and m.file_hash == entry.file_hash and entry.model.has_encoder
                          and m.codes is not None and entry.model.latent_dim == m.codes.z.shape[1])
            m.entry, m.file_hash = entry, entry.file_hash
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

        device = self.device

        def load(ctx):
            from explorer.core.device import resolve_device

            return open_model(path, None if device is None else resolve_device(device))

        return Task(f"open:{m.key}", "open", load, f"Opening {path.name}", apply, m.key, on_failed=failed)

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
            wanted = m.want_spec is not None and m.shown != m.want_spec and not m.preview
            if m.codes is not None and (m.shown is None or wanted) and "projection" not in m.busy \
                    and not m.projection_failed \
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
        for m in self.models:  # cached codes shown (or their projection failed): now load the model itself
            if m.open_after_show and (m.shown is not None or m.projection_failed or (
                    "projection" not in m.busy and not any(t.model_key == m.key and t.family == "projection"
                                                           for t in out))):
                m.open_after_show = False
                if m.entry is None and "open" not in m.busy:
                    out.append(self._open_task(m))
        if self.restoring and not out and self._dataset_loading is None and not self._awaiting \
                and all(not m.busy for m in self.models):
            self.restoring = False  # everything the file (or the command line) asked for has come back
        return out

    def remove_model(self, key: str) -> None:
        """Close model ``key``; the next model (or the previous) becomes active."""
        m = self.state(key)
        if m is None:
            return
        i = self.models.index(m)
        del self.models[i]
        self.prior_selection.pop(key, None)
        self._forget_compared(key)
        if m.file_hash:
            self.inverted_stores.forget(m.file_hash)
        if self.active_key == key:  # the next model (or none) is active before anyone hears of the change
            self.active_key = self.models[min(i, len(self.models) - 1)].key if self.models else None
            self.active_changed.emit(self.active_key or "")
        self.models_changed.emit()
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
        m.projection_failed = False  # new points: their projection may well work

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
