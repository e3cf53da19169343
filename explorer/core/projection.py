"""2-D embeddings of latent codes (PCA, UMAP, t-SNE, identity), a worker process to run them, and their disk cache."""

from __future__ import annotations

import builtins
import itertools
import logging
import multiprocessing
import os
import queue
import re
import signal
import threading
import time
import traceback
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from explorer.core.jobs import Cancelled, JobContext

log = logging.getLogger(__name__)

__all__ = [
    "METHODS",
    "ProjectionSpec",
    "Projection",
    "PCAProjection",
    "UMAPProjection",
    "TSNEProjection",
    "IdentityProjection",
    "NearestNeighbourPlacement",
    "make_estimator",
    "compute_projection",
    "ProjectionWorker",
    "ProjectionWorkerBusy",
    "ProjectionWorkerDied",
    "ProjectionCache",
    "projection_cache_key",
    "default_cache_directory",
    "file_sha256",
]

from explorer.core.projection_cache import (  # noqa: E402 - re-exported
    ProjectionCache,
    default_cache_directory,
    file_sha256,
    projection_cache_key,
)
from explorer.core.projection_spec import METHODS, ProjectionSpec, check_codes  # noqa: E402 - re-exported

# --------------------------------------------------------------------------------------
# Estimators (scikit-learn contract)
# --------------------------------------------------------------------------------------



class _ProjectionBase(BaseEstimator):
    """Shared behaviour of the projection estimators."""

    #: How :meth:`transform` places new points: ``"exact"`` (the same map as the fit),
    #: ``"umap-transform"`` (umap-learn's optimisation of new points against the fitted
    #: graph) or ``"nearest-neighbour"`` (position of the nearest training code).
    transform_kind = "exact"

    def fit_transform(self, X, y=None, ctx: JobContext | None = None) -> np.ndarray:
        """Fit to ``X`` and return ``embedding_`` ((N, 2) float32)."""
        return self.fit(X, y, ctx=ctx).embedding_

    def _check_features(self, X) -> np.ndarray:
        check_is_fitted(self, "embedding_")
        X = check_codes(X, "points")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"points have {X.shape[1]} dimensions, the projection was fitted on {self.n_features_in_}")
        return X


class PCAProjection(_ProjectionBase):
    """Projection onto the first two principal components (scikit-learn ``PCA``).

    Parameters
    ----------
    random_state : int
        Passed to ``sklearn.decomposition.PCA`` (used only by its randomised solver).

    Attributes
    ----------
    embedding_ : numpy.ndarray
        (N, 2) float32, ``PCA(n_components=2).fit_transform(X)``.
    pca_ : sklearn.decomposition.PCA
        The fitted PCA.
    explained_variance_ratio_ : numpy.ndarray
        (2,) fraction of the variance each component explains, in [0, 1].
    n_features_in_ : int
        Latent dimension ``d`` seen in ``fit``.

    Notes
    -----
    ``transform`` is exact: a new point lands where PCA maps it. Needs ``d >= 2``.
    """

    transform_kind = "exact"

    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def fit(self, X, y=None, ctx: JobContext | None = None) -> PCAProjection:
        """Fit PCA to ``X`` ((N, d) float, N >= 2, d >= 2); raise ValueError otherwise."""
        from sklearn.decomposition import PCA

        X = check_codes(X, min_rows=2)
        if X.shape[1] < 2:
            raise ValueError(f"PCA to 2-D needs a latent dimension d >= 2, got d = {X.shape[1]}")
        if ctx is not None:
            ctx.progress(0.0, "PCA")
        self.pca_ = PCA(n_components=2, random_state=self.random_state)
        self.embedding_ = np.ascontiguousarray(self.pca_.fit_transform(X), dtype=np.float32)
        self.explained_variance_ratio_ = self.pca_.explained_variance_ratio_
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X, ctx: JobContext | None = None) -> np.ndarray:
        """Project new codes ((M, d) float) exactly; return (M, 2) float32."""
        X = self._check_features(X)
        return np.ascontiguousarray(self.pca_.transform(X), dtype=np.float32)


class IdentityProjection(_ProjectionBase):
    """The codes themselves as the embedding, for latent dimension ``d == 2``.

    Attributes
    ----------
    embedding_ : numpy.ndarray
        (N, 2) float32 copy of the codes.
    n_features_in_ : int
        Always 2.

    Raises
    ------
    ValueError
        In ``fit`` when ``d != 2``.
    """

    transform_kind = "exact"

    def __init__(self):
        pass

    def fit(self, X, y=None, ctx: JobContext | None = None) -> IdentityProjection:
        """Check ``X`` is (N, 2) and keep a float32 copy as ``embedding_``."""
        X = check_codes(X)
        if X.shape[1] != 2:
            raise ValueError(
                f"the identity projection needs latent dimension d = 2, got d = {X.shape[1]}; use PCA, UMAP or t-SNE"
            )
        self.embedding_ = X.copy()
        self.n_features_in_ = 2
        return self

    def transform(self, X, ctx: JobContext | None = None) -> np.ndarray:
        """Return the (M, 2) points as float32."""
        return self._check_features(X).copy()


class _TqdmProgress:
    """A file-like object for umap-learn's ``tqdm_kwds['file']``: parses "n/total" into ``ctx.progress``.

    umap-learn iterates its optimisation epochs with ``tqdm``; with
    ``bar_format="{n}/{total}"`` every write carries the epochs completed. Calling
    ``ctx.progress`` there also checks the cancel flag, so a cancelled fit stops
    between two epochs (the exception propagates out of umap's epoch loop).
    """

    _pattern = re.compile(r"(\d+)/(\d+)")

    def __init__(self, ctx: JobContext, label: str):
        self._ctx = ctx
        self._label = label
        self._dead = False

    def kwds(self) -> dict:
        """The ``tqdm_kwds`` to hand to ``umap.UMAP``."""
        return {
            "file": self,
            "bar_format": "{n}/{total}",
            "mininterval": 0.0,
            "miniters": 1,
            "disable": False,
            "ascii": True,
            "ncols": 80,
            "leave": False,
        }

    def write(self, s: str) -> int:
        if self._dead:
            return len(s)
        match = None
        for match in self._pattern.finditer(s):  # noqa: B007 - keeps the last match
            pass
        if match is not None:
            n, total = int(match.group(1)), int(match.group(2))
            if total > 0:
                try:
                    self._ctx.progress(n / total, f"{self._label}: epoch {n}/{total}")
                except Cancelled:
                    self._dead = True  # tqdm writes again while closing: stay quiet then
                    raise
        return len(s)

    def flush(self) -> None:
        pass


class UMAPProjection(_ProjectionBase):
    """UMAP embedding to 2-D (McInnes, Healy & Melville 2018, arXiv:1802.03426) via umap-learn.

    Parameters
    ----------
    n_neighbors : int
        Size of the local neighbourhood (>= 2, < N).
    min_dist : float
        Minimum distance between embedded points, in [0, 1].
    metric : str
        Distance in latent space (any umap-learn metric name).
    n_epochs : int or None
        Optimisation epochs; None lets umap-learn choose (500 below 10,000 points, else 200).
    random_state : int
        Seed. With a seed umap-learn runs single-threaded and is deterministic.

    Attributes
    ----------
    embedding_ : numpy.ndarray
        (N, 2) float32.
    umap_ : umap.UMAP
        The fitted model (kept for :meth:`transform`).
    n_features_in_ : int
        Latent dimension ``d``.

    Notes
    -----
    Progress: ``fit`` reports fraction 0 while it finds nearest neighbours and builds the
    fuzzy graph (not interruptible), then the fraction of optimisation epochs done,
    checking for cancel after every epoch. The first fit in a process also compiles
    umap-learn's numba code (30–40 s, not cached to disk): run UMAP in a
    :class:`ProjectionWorker` and ``warm_up()`` it.
    """

    transform_kind = "umap-transform"

    def __init__(
        self,
        n_neighbors: int = 15,
        min_dist: float = 0.1,
        metric: str = "euclidean",
        n_epochs: int | None = None,
        random_state: int = 0,
    ):
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.n_epochs = n_epochs
        self.random_state = random_state

    def fit(self, X, y=None, ctx: JobContext | None = None) -> UMAPProjection:
        """Fit UMAP to ``X`` ((N, d) float, N > n_neighbors).

        Raises
        ------
        ValueError
            Bad shape, NaN/inf, or ``N <= n_neighbors``.
        explorer.core.jobs.Cancelled
            ``ctx`` was cancelled (checked between epochs).
        """
        X = check_codes(X)
        if X.shape[0] <= self.n_neighbors:
            raise ValueError(
                f"UMAP with n_neighbors={self.n_neighbors} needs more than {self.n_neighbors} points, got {X.shape[0]}"
            )
        ctx = ctx or JobContext.none()
        ctx.progress(0.0, "UMAP: nearest neighbours and fuzzy graph")
        import umap

        model = umap.UMAP(
            n_components=2,
            n_neighbors=self.n_neighbors,
            min_dist=self.min_dist,
            metric=self.metric,
            n_epochs=self.n_epochs,
            random_state=self.random_state,
            tqdm_kwds=_TqdmProgress(ctx, "UMAP: optimising layout").kwds(),
            verbose=False,
        )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*n_jobs value.*overridden.*")
            embedding = model.fit_transform(X)
        model.tqdm_kwds = {"disable": True}  # drop the hook: it holds the fit's ctx
        self.umap_ = model
        self.embedding_ = np.ascontiguousarray(embedding, dtype=np.float32)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X, ctx: JobContext | None = None) -> np.ndarray:
        """Embed new codes ((M, d) float) with ``umap.UMAP.transform``; return (M, 2) float32.

        umap-learn places the new points by optimising them against the fitted graph
        (deterministic for a seed); ~15 ms for a few points once numba is compiled.
        """
        X = self._check_features(X)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*n_jobs value.*overridden.*")
            out = self.umap_.transform(X)
        return np.ascontiguousarray(out, dtype=np.float32)


class NearestNeighbourPlacement:
    """Place new points at the embedding position of their nearest training code.

    This is *not* a projection of the new point: it returns an existing point of the
    embedding (the training code nearest in latent space). It is how Latent Explorer
    shows new codes on a t-SNE embedding, which has no transform, and a fallback for
    any embedding.

    Parameters
    ----------
    codes : numpy.ndarray
        (N, d) float training codes.
    embedding : numpy.ndarray
        (N, 2) float embedding of ``codes``.
    metric : str
        Distance in latent space (a ``sklearn.neighbors.NearestNeighbors`` metric).

    Raises
    ------
    ValueError
        Shapes do not match.
    """

    transform_kind = "nearest-neighbour"

    def __init__(self, codes, embedding, metric: str = "euclidean"):
        from sklearn.neighbors import NearestNeighbors

        codes = check_codes(codes)
        embedding = check_codes(embedding, "embedding")
        if embedding.shape != (codes.shape[0], 2):
            raise ValueError(f"embedding of shape {embedding.shape} does not match {codes.shape[0]} codes")
        self.embedding = embedding
        self.metric = metric
        self.n_features_in_ = codes.shape[1]
        self._nn = NearestNeighbors(n_neighbors=1, metric=metric).fit(codes)

    def kneighbors(self, points) -> np.ndarray:
        """Index (M,) int64 of the nearest training code for each of the (M, d) ``points``."""
        points = check_codes(points, "points")
        if points.shape[1] != self.n_features_in_:
            raise ValueError(f"points have {points.shape[1]} dimensions, the codes have {self.n_features_in_}")
        return self._nn.kneighbors(points, n_neighbors=1, return_distance=False)[:, 0].astype(np.int64)

    def transform(self, points, ctx: JobContext | None = None) -> np.ndarray:
        """(M, 2) float32 embedding positions of the nearest training codes of ``points`` ((M, d))."""
        return self.embedding[self.kneighbors(points)].copy()


class _TSNEProgress:
    """openTSNE callback: reports iterations done through ``ctx.progress`` (which checks cancel)."""

    def __init__(self, ctx: JobContext, exaggeration_iter: int, total: int):
        self._ctx = ctx
        self._offset = 0
        self._last = 0
        self._exaggeration_iter = exaggeration_iter
        self._total = max(total, 1)

    def __call__(self, iteration: int, error: float, embedding) -> bool:
        if iteration < self._last:  # the second phase restarts its iteration count
            self._offset = self._exaggeration_iter
        self._last = iteration
        done = self._offset + iteration
        phase = "early exaggeration" if self._offset == 0 and self._exaggeration_iter > 0 else "optimisation"
        self._ctx.progress(done / self._total, f"t-SNE: {phase}, iteration {done}/{self._total}, KL {error:.3f}")
        return False


class TSNEProjection(_ProjectionBase):
    """t-SNE embedding to 2-D (van der Maaten & Hinton 2008, JMLR 9:2579) via openTSNE.

    Parameters
    ----------
    perplexity : float
        Effective number of neighbours (> 0; openTSNE lowers it, with a warning, when
        it is too large for N).
    metric : str
        Distance in latent space (an openTSNE metric name).
    n_iter : int
        Iterations after the early-exaggeration phase.
    early_exaggeration_iter : int
        Iterations of early exaggeration (factor 12).
    random_state : int
        Seed; the same seed and codes give the same embedding.

    Attributes
    ----------
    embedding_ : numpy.ndarray
        (N, 2) float32.
    kl_divergence_ : float
        Final Kullback–Leibler divergence (nats).
    placement_ : NearestNeighbourPlacement
        Places new points (see :meth:`place_nearest_neighbour`).
    n_features_in_ : int
        Latent dimension ``d``.

    Notes
    -----
    t-SNE has no map for new points. :meth:`transform` therefore does **not** embed
    them: it is :meth:`place_nearest_neighbour`, which returns the position of the
    nearest training code in latent space (``transform_kind == "nearest-neighbour"``).
    Progress is reported every 10 iterations (openTSNE callbacks), which is also where
    a cancel is noticed; the affinity computation before them is not interruptible.
    """

    transform_kind = "nearest-neighbour"

    def __init__(
        self,
        perplexity: float = 30.0,
        metric: str = "euclidean",
        n_iter: int = 500,
        early_exaggeration_iter: int = 250,
        random_state: int = 0,
    ):
        self.perplexity = perplexity
        self.metric = metric
        self.n_iter = n_iter
        self.early_exaggeration_iter = early_exaggeration_iter
        self.random_state = random_state

    def fit(self, X, y=None, ctx: JobContext | None = None) -> TSNEProjection:
        """Fit t-SNE to ``X`` ((N, d) float, N >= 4).

        Raises
        ------
        ValueError
            Bad shape or NaN/inf.
        ImportError
            openTSNE is not installed.
        explorer.core.jobs.Cancelled
            ``ctx`` was cancelled (checked every 10 iterations).
        """
        X = check_codes(X, min_rows=4)
        ctx = ctx or JobContext.none()
        try:
            from openTSNE import TSNE
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("t-SNE needs the openTSNE package: pip install openTSNE") from exc
        total = self.early_exaggeration_iter + self.n_iter
        ctx.progress(0.0, f"t-SNE: affinities (perplexity {self.perplexity:g})")
        tsne = TSNE(
            n_components=2,
            perplexity=self.perplexity,
            metric=self.metric,
            n_iter=self.n_iter,
            early_exaggeration_iter=self.early_exaggeration_iter,
            callbacks=_TSNEProgress(ctx, self.early_exaggeration_iter, total),
            callbacks_every_iters=10,
            random_state=self.random_state,
            n_jobs=1,
            verbose=False,
        )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning)
            emb = tsne.fit(X)
        self.embedding_ = np.ascontiguousarray(np.asarray(emb).view(np.ndarray), dtype=np.float32)
        self.kl_divergence_ = float(getattr(emb, "kl_divergence", float("nan")))
        self.placement_ = NearestNeighbourPlacement(X, self.embedding_, metric=self.metric)
        self.n_features_in_ = X.shape[1]
        return self

    def place_nearest_neighbour(self, X) -> np.ndarray:
        """Positions (M, 2) float32 of the training codes nearest to ``X`` ((M, d)) — not a t-SNE transform."""
        check_is_fitted(self, "placement_")
        return self.placement_.transform(X)

    def transform(self, X, ctx: JobContext | None = None) -> np.ndarray:
        """Nearest-neighbour placement, **not** a t-SNE transform: see :meth:`place_nearest_neighbour`."""
        return self.place_nearest_neighbour(X)


def make_estimator(spec: ProjectionSpec) -> _ProjectionBase:
    """An unfitted estimator for ``spec`` (PCAProjection, UMAPProjection, TSNEProjection or IdentityProjection)."""
    if spec.method == "pca":
        return PCAProjection(random_state=spec.seed)
    if spec.method == "identity":
        return IdentityProjection()
    if spec.method == "umap":
        return UMAPProjection(random_state=spec.seed, **spec.params)
    if spec.method == "tsne":
        return TSNEProjection(random_state=spec.seed, **spec.params)
    raise ValueError(f"unknown projection method {spec.method!r}")  # pragma: no cover


@dataclass(eq=False)
class Projection:
    """A computed embedding and what can place new points on it.

    Attributes
    ----------
    embedding : numpy.ndarray
        (N, 2) float32 embedding of the N codes.
    spec : ProjectionSpec
        What was computed.
    estimator : object or None
        The fitted estimator when it lives in this process (always for
        :func:`compute_projection`; for :class:`ProjectionWorker` results: PCA and
        identity estimators, a :class:`NearestNeighbourPlacement` for t-SNE, None for
        UMAP, whose model stays in the worker).
    request_id : int or None
        Id of the request that produced it (worker results).
    elapsed : float
        Wall time of the fit in seconds (in the worker for worker results).
    """

    embedding: np.ndarray
    spec: ProjectionSpec
    estimator: Any = None
    request_id: int | None = None
    elapsed: float = 0.0
    _remote: Callable[[np.ndarray], np.ndarray] | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        """Number of embedded points N."""
        return int(self.embedding.shape[0])

    @property
    def transform_kind(self) -> str:
        """``"exact"``, ``"umap-transform"`` or ``"nearest-neighbour"`` (say so in the UI for the latter)."""
        return make_estimator(self.spec).transform_kind

    @property
    def can_transform(self) -> bool:
        """True when :meth:`transform` can place new points."""
        return self.estimator is not None or self._remote is not None

    def transform(self, points) -> np.ndarray:
        """Place new codes ((M, d) float) on this embedding; return (M, 2) float32.

        Raises
        ------
        RuntimeError
            Nothing can place points (see :attr:`can_transform`).
        ProjectionWorkerBusy
            UMAP results: the worker is busy with another fit.
        """
        if self.estimator is not None:
            return self.estimator.transform(points)
        if self._remote is not None:
            return self._remote(points)
        raise RuntimeError("this projection cannot place new points")


def compute_projection(codes, spec: ProjectionSpec, ctx: JobContext | None = None) -> Projection:
    """Fit ``spec``'s projection to ``codes`` in this process and return the embedding.

    Parameters
    ----------
    codes : numpy.ndarray
        (N, d) latent codes, float (converted to float32), finite.
    spec : ProjectionSpec
        Method, parameters and seed.
    ctx : JobContext, optional
        Progress in [0, 1] and cancel (between UMAP epochs / every 10 t-SNE iterations).

    Returns
    -------
    Projection
        ``embedding`` (N, 2) float32 and the fitted ``estimator``.

    Raises
    ------
    ValueError
        Bad codes for the method (e.g. identity with d != 2).
    explorer.core.jobs.Cancelled
        ``ctx`` was cancelled.

    Notes
    -----
    UMAP and t-SNE spend seconds to minutes in numba/C code that cannot be
    interrupted; from a GUI, run them with :class:`ProjectionWorker` instead.
    """
    ctx = ctx or JobContext.none()
    codes = check_codes(codes)
    t0 = time.perf_counter()
    est = make_estimator(spec)
    embedding = est.fit_transform(codes, ctx=ctx)
    elapsed = time.perf_counter() - t0
    ctx.progress(1.0, f"{spec.label()}: done in {elapsed:.1f} s")
    return Projection(embedding=embedding, spec=spec, estimator=est, elapsed=elapsed)


# --------------------------------------------------------------------------------------
# Worker process
# --------------------------------------------------------------------------------------


class ProjectionWorkerBusy(RuntimeError):
    """The projection worker is busy with a fit or its warm-up; try again later."""


class ProjectionWorkerDied(RuntimeError):
    """The projection worker process exited unexpectedly (e.g. out of memory)."""


def _warm_up_umap(transform: bool = True) -> None:
    """Fit tiny UMAPs so umap-learn's numba code for float32 Euclidean data is compiled.

    Covers both of umap-learn's paths: nearest-neighbour descent (N >= 4096, forced here)
    and exact neighbours (small N), and with ``transform`` their ``transform`` code.
    """
    import umap

    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 8)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for force in (True, False):
            model = umap.UMAP(n_neighbors=10, n_epochs=11, random_state=0, force_approximation_algorithm=force)
            model.fit(x)
            if transform:
                model.transform(x[:3])


def _cheap_estimator(est: Any) -> Any:
    """The estimator to send back to the parent, or None when it is big (UMAP, t-SNE)."""
    return est if isinstance(est, (PCAProjection, IdentityProjection)) else None


def _worker_main(conn, keep_models: int) -> None:  # pragma: no cover - runs in the child process
    """Entry point of the worker process: serve fit / transform / warm-up requests one at a time.

    A reader thread receives messages (so the parent never blocks on a send) and
    handles ``cancel`` at once: a queued job is acknowledged immediately, a running job
    gets its cancel flag set and stops at its next progress check. When the parent
    disappears the pipe closes and the process exits.
    """
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to the parent
    except (ValueError, OSError):
        pass
    send_lock = threading.Lock()
    state_lock = threading.Lock()
    jobs: queue.Queue = queue.Queue()
    cancelled: set[int] = set()
    running: list[int | None] = [None]
    job_event = threading.Event()

    def send(msg) -> None:
        with send_lock:
            conn.send(msg)

    def reader() -> None:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                os._exit(0)  # the parent is gone
            if msg[0] == "cancel":
                tok = msg[1]
                with state_lock:
                    cancelled.add(tok)
                    is_running = running[0] == tok
                    if is_running:
                        job_event.set()
                if not is_running:
                    send(("cancelled", tok))
            elif msg[0] == "stop":
                jobs.put(None)
                return
            else:
                jobs.put(msg)

    threading.Thread(target=reader, name="projection-worker-reader", daemon=True).start()
    models: OrderedDict[int, Any] = OrderedDict()
    send(("ready",))
    while True:
        msg = jobs.get()
        if msg is None:
            break
        kind, tok = msg[0], msg[1]
        with state_lock:
            if tok in cancelled:  # already acknowledged by the reader
                cancelled.discard(tok)
                continue
            running[0] = tok
            job_event.clear()
        last_sent = [0.0]

        def on_progress(fraction: float, message: str, _tok=tok, _last_sent=last_sent) -> None:
            now = time.monotonic()
            if fraction >= 1.0 or now - _last_sent[0] >= 0.1:
                _last_sent[0] = now
                send(("progress", _tok, fraction, message))

        ctx = JobContext(on_progress=on_progress, cancel_event=job_event)
        send(("started", tok))
        try:
            if kind == "fit":
                _, _, request_id, codes, spec = msg
                proj = compute_projection(codes, spec, ctx)
                models[request_id] = proj.estimator
                models.move_to_end(request_id)
                while len(models) > keep_models:
                    models.popitem(last=False)
                payload = {"embedding": proj.embedding, "elapsed": proj.elapsed,
                           "estimator": _cheap_estimator(proj.estimator)}
            elif kind == "transform":
                _, _, request_id, points = msg
                if request_id not in models:
                    raise LookupError(
                        f"the projection worker holds no fitted model for request {request_id} "
                        "(it was replaced or the worker restarted); compute the projection again"
                    )
                payload = models[request_id].transform(points)
            elif kind == "warmup":
                _warm_up_umap(transform=msg[2])
                payload = None
            else:
                raise ValueError(f"unknown request {kind!r}")
            reply = ("result", tok, payload)
        except Cancelled:
            reply = ("cancelled", tok)
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            # plain strings only: the parent rebuilds a builtin exception from the name
            reply = ("error", tok, (type(exc).__name__, str(exc)), traceback.format_exc())
        with state_lock:
            running[0] = None
            cancelled.discard(tok)
        send(reply)


class _Handles:
    """The worker's process and pipe, shared with the finaliser that shuts them down."""

    def __init__(self) -> None:
        self.proc = None
        self.conn = None

    def shutdown(self, timeout: float = 1.0) -> None:
        """Ask the process to stop, terminate it if it does not, join it, close the pipe."""
        proc, conn = self.proc, self.conn
        self.proc = self.conn = None
        if proc is not None:
            if proc.is_alive() and conn is not None:
                try:
                    conn.send(("stop",))
                except (OSError, ValueError):
                    pass
                proc.join(timeout)
            if proc.is_alive():
                proc.terminate()
                proc.join(2.0)
            if proc.is_alive():
                proc.kill()
                proc.join()
            try:
                proc.close()
            except ValueError:
                pass
        if conn is not None:
            conn.close()


class _RemoteTransform:
    """Callable placing points through a worker's kept model (weak reference to the worker)."""

    def __init__(self, worker: ProjectionWorker, request_id: int):
        self._worker = weakref.ref(worker)
        self._request_id = request_id

    def __call__(self, points) -> np.ndarray:
        worker = self._worker()
        if worker is None:
            raise RuntimeError("the projection worker that made this embedding is gone")
        return worker.transform(self._request_id, points)


class ProjectionWorker:
    """A long-lived process that computes projections, so UMAP / t-SNE can be cancelled.

    umap-learn and openTSNE spend most of their time in numba / C loops that a thread
    cannot interrupt, and umap-learn compiles its numba code once per process (30–40 s).
    This class keeps one ``spawn``-ed process (never ``fork``: the GUI process runs Qt
    threads) that holds numba compiled and the fitted models, and talks to it over a pipe.

    Parameters
    ----------
    cancel_grace : float
        Seconds a cancelled fit may take to stop by itself (UMAP stops between epochs,
        t-SNE every 10 iterations) before the process is terminated. Stopping by itself
        keeps numba compiled; termination costs the next UMAP the compile again. 0 means
        terminate at once.
    keep_models : int
        Fitted models the worker keeps for :meth:`transform` (most recent first).
    poll_interval : float
        Seconds between checks of ``ctx`` while waiting for the worker.

    Notes
    -----
    *Jobs.* :meth:`run` blocks (call it from a job thread) and has the job signature
    ``(codes, spec, ctx)``; the worker does one fit at a time. A newer :meth:`run`
    supersedes the running one, which raises :class:`~explorer.core.jobs.Cancelled`.
    Results carry their ``request_id``.

    *Shutdown.* The process is a daemon (ended when the parent exits normally), exits by
    itself when the pipe to the parent closes (parent crashed), and :meth:`close` ends
    it explicitly (join, no zombie). After a termination a fresh process is started
    lazily by the next request.

    Examples
    --------
    >>> worker = ProjectionWorker()
    >>> worker.warm_up()                                  # compile numba in the background
    >>> proj = worker.run(codes, ProjectionSpec("umap"), ctx)      # in a job thread
    >>> worker.transform(proj.request_id, codes[:1])      # slider marker, ~15 ms
    >>> worker.close()
    """

    def __init__(self, *, cancel_grace: float = 1.0, keep_models: int = 3, poll_interval: float = 0.05):
        self.cancel_grace = float(cancel_grace)
        self.keep_models = int(keep_models)
        self.poll_interval = float(poll_interval)
        self._mp = multiprocessing.get_context("spawn")
        self._handles = _Handles()
        self._finalizer = weakref.finalize(self, self._handles.shutdown)
        self._proc_lock = threading.RLock()
        self._job_lock = threading.Lock()  # one receiver on the pipe at a time
        self._state_lock = threading.Lock()
        self._send_lock = threading.Lock()  # Connection.send is not thread-safe
        self._tokens = itertools.count(1)
        self._request_ids = itertools.count(1)
        self._latest: int | None = None
        self._cancel_ids: set[int] = set()
        self._closed = False
        self._warming: int | None = None  # token of the warm-up in flight
        self._warmed = False  # the warm-up finished in the current process
        self._umap_used = False  # a UMAP fit finished in the current process
        self.restarts = 0  #: processes started so far (1 after the first request)

    # -- process management ---------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """Process id of the worker, or None when no process is running."""
        proc = self._handles.proc
        return proc.pid if proc is not None else None

    def is_alive(self) -> bool:
        """True when the worker process is running."""
        proc = self._handles.proc
        return proc is not None and proc.is_alive()

    @property
    def is_warm(self) -> bool:
        """True once :meth:`warm_up` finished in the current process (numba compiled; False again after a restart)."""
        if self._warming is not None and self._job_lock.acquire(blocking=False):
            try:
                self._drain()
            finally:
                self._job_lock.release()
        return self._warmed

    def start(self) -> None:
        """Start the worker process if it is not running (requests do this lazily)."""
        if self._closed:
            raise RuntimeError("the projection worker is closed")
        with self._proc_lock:
            if self.is_alive():
                return
            self._handles.shutdown(0.0)
            parent_conn, child_conn = self._mp.Pipe(duplex=True)
            proc = self._mp.Process(
                target=_worker_main,
                args=(child_conn, self.keep_models),
                name="latent-explorer-projection",
                daemon=True,
            )
            proc.start()
            child_conn.close()
            self._handles.proc, self._handles.conn = proc, parent_conn
            self._warming = None
            self._warmed = self._umap_used = False
            self.restarts += 1

    def _terminate(self) -> None:
        """End the process now (terminate, join) and forget its state."""
        with self._proc_lock:
            proc, conn = self._handles.proc, self._handles.conn
            self._handles.proc = self._handles.conn = None
            if proc is not None:
                proc.terminate()
                proc.join(2.0)
                if proc.is_alive():
                    proc.kill()
                    proc.join()
                proc.close()
            if conn is not None:
                conn.close()
            self._warming = None
            self._warmed = self._umap_used = False

    def close(self, timeout: float = 1.0) -> None:
        """Stop the worker: a running job raises Cancelled; the process is ended and joined.

        Safe to call twice and from any thread. ``timeout`` is how long the process may take
        to stop by itself before it is terminated.
        """
        self._closed = True
        acquired = self._job_lock.acquire(timeout=max(5 * self.poll_interval, 0.5))
        try:
            with self._proc_lock:
                self._handles.shutdown(timeout if acquired else 0.0)
                self._warming = None
                self._warmed = self._umap_used = False
        finally:
            if acquired:
                self._job_lock.release()

    def __enter__(self) -> ProjectionWorker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- messaging ------------------------------------------------------------------

    def _send(self, msg) -> None:
        conn = self._handles.conn
        if conn is None:
            raise ProjectionWorkerDied("the projection worker is not running")
        try:
            with self._send_lock:
                conn.send(msg)
        except (OSError, ValueError) as exc:
            self._terminate()
            raise ProjectionWorkerDied("the projection worker exited unexpectedly; the request was not sent") from exc

    def _recv(self, timeout: float):
        """One message or None after ``timeout`` s; raise on a dead worker (Cancelled when closing)."""
        conn = self._handles.conn
        try:
            if conn is None or not conn.poll(timeout):
                if conn is None or not self.is_alive():
                    raise EOFError
                return None
            return conn.recv()
        except (EOFError, OSError, ValueError):
            if self._closed:
                raise Cancelled() from None
            proc = self._handles.proc
            if proc is not None:
                proc.join(0.5)
            code = proc.exitcode if proc is not None else None
            self._terminate()
            raise ProjectionWorkerDied(f"the projection worker exited unexpectedly (exit code {code})") from None

    def _bookkeep(self, msg) -> bool:
        """Handle messages about the warm-up; True when ``msg`` was one of them."""
        if (len(msg) > 1 and msg[1] is not None and msg[1] == self._warming
                and msg[0] in ("result", "error", "cancelled")):
            self._warming = None
            if msg[0] == "result":
                self._warmed = True
            else:
                log.warning("projection worker warm-up failed: %s", msg[2] if len(msg) > 2 else msg[0])
            return True
        return msg[0] == "ready"

    def _drain(self) -> None:
        """Read pending messages without waiting (caller holds the job lock)."""
        while True:
            try:
                msg = self._recv(0.0)
            except (ProjectionWorkerDied, Cancelled):
                return
            if msg is None:
                return
            self._bookkeep(msg)

    def _is_stale(self, request_id: int | None) -> bool:
        if self._closed:
            return True
        if request_id is None:
            return False
        with self._state_lock:
            return request_id in self._cancel_ids or self._latest != request_id

    def _await(self, tok: int, ctx: JobContext, request_id: int | None, deadline: float | None):
        """Wait for the final message of ``tok``, forwarding its progress to ``ctx``.

        Raises Cancelled (ctx cancelled, superseded or closing) and TimeoutError; the
        caller then aborts the job.
        """
        while True:
            if self._is_stale(request_id) or ctx.cancelled:
                raise Cancelled()
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError("the projection worker did not answer in time")
            msg = self._recv(self.poll_interval)
            if msg is None or self._bookkeep(msg) or msg[1] != tok:
                continue  # nothing yet, bookkeeping, or a stale job's message
            if msg[0] == "progress":
                ctx.progress(msg[2], msg[3])
            elif msg[0] == "started":
                continue
            else:
                return msg

    def _abort(self, tok: int) -> None:
        """Cancel job ``tok``: let it stop by itself within ``cancel_grace`` s, else terminate."""
        if self._closed or self.cancel_grace <= 0 or not self.is_alive():
            self._terminate()
            return
        try:
            self._send(("cancel", tok))
        except ProjectionWorkerDied:
            return
        deadline = time.monotonic() + self.cancel_grace
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                msg = self._recv(min(remaining, self.poll_interval))
            except (ProjectionWorkerDied, Cancelled):
                return
            if msg is None or self._bookkeep(msg):
                continue
            if msg[1] == tok and msg[0] in ("cancelled", "result", "error"):
                return  # stopped by itself: the process (and compiled numba) stays
        log.info("projection job did not stop within %.1f s; terminating the worker", self.cancel_grace)
        self._terminate()

    @staticmethod
    def _raise_remote(msg) -> None:
        (name, text), tb = msg[2], msg[3]
        cls = getattr(builtins, name, None)
        if isinstance(cls, type) and issubclass(cls, Exception):
            exc = cls(text)
        else:
            exc = RuntimeError(f"{name}: {text}")
        exc.add_note("raised in the projection worker:\n" + tb)
        raise exc

    # -- requests -------------------------------------------------------------------

    def warm_up(self, wait: bool = False, transform: bool = True, timeout: float | None = None) -> None:
        """Compile umap-learn's numba code in the worker (~45 s on 2 cores, transform included).

        Parameters
        ----------
        wait : bool
            Block until the warm-up is done (default: return at once; requests sent
            meanwhile wait behind it and report that they do).
        transform : bool
            Also compile ``UMAP.transform`` (slider marker).
        timeout : float, optional
            With ``wait``: seconds to wait at most (TimeoutError after that; the warm-up goes on).

        Notes
        -----
        Compiles the float32 Euclidean code; other metrics compile on their first use.
        """
        self.start()
        with self._state_lock:
            if self._warmed or self._warming is not None:
                pending = self._warming
            else:
                pending = self._warming = next(self._tokens)
                self._send(("warmup", pending, bool(transform)))
        if not wait or pending is None:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._job_lock:
            while self._warming == pending:
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError("the projection worker's warm-up is still running")
                msg = self._recv(self.poll_interval)
                if msg is not None:
                    self._bookkeep(msg)

    def cancel(self, request_id: int | None = None) -> None:
        """Cancel request ``request_id`` (default: the latest); its :meth:`run` raises Cancelled."""
        with self._state_lock:
            rid = self._latest if request_id is None else request_id
            if rid is not None:
                self._cancel_ids.add(rid)

    def run(
        self,
        codes,
        spec: ProjectionSpec,
        ctx: JobContext | None = None,
        request_id: int | None = None,
        timeout: float | None = None,
    ) -> Projection:
        """Compute a projection in the worker; block until it is done (call from a job thread).

        Parameters
        ----------
        codes : numpy.ndarray
            (N, d) latent codes (sent to the worker as float32).
        spec : ProjectionSpec
            Method, parameters, seed.
        ctx : JobContext, optional
            Receives the worker's progress (fraction in [0, 1], message); cancelling it
            cancels the job.
        request_id : int, optional
            Id carried by the result (default: a fresh number). A newer ``run`` cancels
            an older one still running.
        timeout : float, optional
            Seconds before TimeoutError (the job is cancelled then).

        Returns
        -------
        Projection
            ``embedding`` (N, 2) float32, ``request_id``, ``elapsed`` (s, in the worker)
            and whatever can place new points (see :class:`Projection`).

        Raises
        ------
        explorer.core.jobs.Cancelled
            ``ctx`` was cancelled, :meth:`cancel` was called, a newer request superseded
            this one, or the worker was closed. Raised within ``cancel_grace`` seconds
            (plus the time to join a terminated process).
        ValueError
            Bad codes for the method (raised in the worker, re-raised here).
        ProjectionWorkerDied
            The process exited unexpectedly; the next request starts a new one.
        TimeoutError
            ``timeout`` passed.
        """
        if self._closed:
            raise RuntimeError("the projection worker is closed")
        ctx = ctx or JobContext.none()
        codes = check_codes(codes)
        rid = next(self._request_ids) if request_id is None else int(request_id)
        with self._state_lock:
            self._latest = rid
            self._cancel_ids.discard(rid)
        with self._job_lock:  # a stale run gives up within poll_interval + cancel_grace
            ctx.check()
            if self._is_stale(rid):
                raise Cancelled()
            self.start()
            if spec.method == "umap" and not (self._warmed or self._umap_used):
                ctx.progress(0.0, "UMAP: compiling numba in the worker (first UMAP in a process: 30–40 s)")
            elif self._warming is not None:
                ctx.progress(0.0, "waiting for the projection worker's warm-up")
            tok = next(self._tokens)
            deadline = None if timeout is None else time.monotonic() + timeout
            self._send(("fit", tok, rid, codes, spec))
            try:
                msg = self._await(tok, ctx, rid, deadline)
            except (Cancelled, TimeoutError):
                self._abort(tok)
                raise
            finally:
                with self._state_lock:
                    self._cancel_ids.discard(rid)
            if msg[0] == "cancelled":
                raise Cancelled()
            if msg[0] == "error":
                self._raise_remote(msg)
            payload = msg[2]
            if spec.method == "umap":
                self._umap_used = True
        embedding = payload["embedding"]
        estimator = payload["estimator"]
        remote = None
        if spec.method == "tsne":
            estimator = NearestNeighbourPlacement(codes, embedding, metric=spec.params["metric"])
        elif estimator is None:
            remote = _RemoteTransform(self, rid)
        return Projection(embedding=embedding, spec=spec, estimator=estimator, request_id=rid,
                          elapsed=payload["elapsed"], _remote=remote)

    def transform(self, request_id: int, points, timeout: float | None = None) -> np.ndarray:
        """Place new codes on the embedding of fit ``request_id`` with the model the worker kept.

        Blocks until the answer: 15–60 ms for a few points once numba is compiled, but
        the first UMAP transform in a process compiles first (1–40 s depending on what
        was compiled before) unless ``warm_up(transform=True)`` has finished
        (:attr:`is_warm`). Call it from a job thread, or from the GUI thread only when
        :attr:`is_warm`.

        Parameters
        ----------
        request_id : int
            ``Projection.request_id`` of a fit done by this worker (one of the last
            ``keep_models``).
        points : numpy.ndarray
            (M, d) float codes.
        timeout : float, optional
            Seconds to wait for the answer (TimeoutError after that; the request is
            then cancelled, which can terminate a worker that is compiling).

        Returns
        -------
        numpy.ndarray
            (M, 2) float32 (how: see ``Projection.transform_kind``; ~15 ms for a few
            points with a warm UMAP).

        Raises
        ------
        ProjectionWorkerBusy
            A fit or the warm-up is running: never queues behind it (the caller can
            place the point by :class:`NearestNeighbourPlacement` meanwhile).
        LookupError
            The worker holds no model for ``request_id`` (evicted, or the process restarted).
        TimeoutError
            No answer within ``timeout``.
        """
        points = check_codes(points, "points")
        if not self._job_lock.acquire(blocking=False):
            raise ProjectionWorkerBusy("the projection worker is busy with a fit")
        try:
            if not self.is_alive():
                raise LookupError(
                    f"the projection worker holds no fitted model for request {request_id} (it is not running)"
                )
            self._drain()
            if self._warming is not None:
                raise ProjectionWorkerBusy("the projection worker is warming up")
            tok = next(self._tokens)
            self._send(("transform", tok, int(request_id), points))
            try:
                deadline = None if timeout is None else time.monotonic() + timeout
                msg = self._await(tok, JobContext.none(), None, deadline)
            except (Cancelled, TimeoutError):
                self._abort(tok)
                raise
            if msg[0] == "error":
                self._raise_remote(msg)
            if msg[0] == "cancelled":
                raise Cancelled()
            return msg[2]
        finally:
            self._job_lock.release()
