"""2-D embeddings of latent codes: the PCA, UMAP, t-SNE and identity estimators (scikit-learn contract),
nearest-neighbour placement of new codes, and `compute_projection`."""

from __future__ import annotations

import logging
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from explorer.core.jobs import Cancelled, JobContext
from explorer.core.projection.base import NearestNeighbourPlacement, _ProjectionBase
from explorer.core.projection.spec import ProjectionSpec, check_codes
from explorer.core.projection.tsne import TSNEProjection
from explorer.importing import load

log = logging.getLogger(__name__)

__all__ = ["Projection", "PCAProjection", "UMAPProjection", "TSNEProjection", "IdentityProjection",
           "NearestNeighbourPlacement", "make_estimator", "compute_projection"]

# --------------------------------------------------------------------------------------
# Estimators (scikit-learn contract)
# --------------------------------------------------------------------------------------



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
        load("sklearn.decomposition")
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


def _ignore_numba_cache_warnings() -> None:
    """Inside ``warnings.catch_warnings()``: a function numba cannot write to its disk cache is compiled in memory."""
    warnings.filterwarnings("ignore", message=r".*[Cc]annot cache compiled function.*")


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
    backend : {"umap-learn", "cuml"}
        "cuml": RAPIDS cuML's UMAP on the GPU (`explorer.core.projection.cuml_umap`; its
        parameters match these; raises `UMAPBackendError`, one sentence, where cuML is not
        installed). Default umap-learn.

    Attributes
    ----------
    embedding_ : numpy.ndarray
        (N, 2) float32.
    umap_ : umap.UMAP or cuml.manifold.UMAP
        The fitted model (kept for :meth:`transform`).
    knn_ : str
        How the neighbours were found: ``"exact"`` (scikit-learn) or ``"umap-learn"``.
    n_features_in_ : int
        Latent dimension ``d``.

    Notes
    -----
    *Neighbours.* For the metrics of :data:`~explorer.core.projection.knn.EXACT_KNN_METRICS`
    (euclidean, manhattan, chebyshev, cosine) the k-NN graph is computed exactly with
    scikit-learn and handed to umap-learn as ``precomputed_knn``
    (:func:`~explorer.core.projection.knn.exact_knn`): the same UMAP on the true
    neighbours instead of pynndescent's approximation of them, without pynndescent's
    ~30 s of numba compilation. Other metrics use umap-learn's own search.

    *Compilation.* umap-learn's numba code is kept in numba's on-disk cache
    (:func:`~explorer.core.projection.knn.enable_numba_disk_cache`), so only the first
    process ever compiles it (~10 s of CPU); run UMAP in a :class:`ProjectionWorker`
    and ``warm_up()`` it to load it before the user asks.

    Progress: ``fit`` reports fraction 0 while it finds nearest neighbours and builds the
    fuzzy graph (not interruptible), then the fraction of optimisation epochs done,
    checking for cancel after every epoch.
    """

    transform_kind = "umap-transform"

    def __init__(
        self,
        n_neighbors: int = 15,
        min_dist: float = 0.1,
        metric: str = "euclidean",
        n_epochs: int | None = None,
        random_state: int = 0,
        backend: str = "umap-learn",
    ):
        self.backend = backend
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
        if self.backend == "cuml":  # RAPIDS cuML's UMAP on the GPU (one sentence where it is not installed)
            from explorer.core.projection.cuml_umap import fit_cuml_umap

            self.umap_, embedding = fit_cuml_umap(X, self, ctx)
            self.knn_ = "cuml"
            self.embedding_ = np.ascontiguousarray(embedding, dtype=np.float32)
            self.n_features_in_ = X.shape[1]
            return self
        from explorer.core.projection.knn import EXACT_KNN_METRICS, enable_numba_disk_cache, exact_knn

        ctx.progress(0.0, "UMAP: loading umap-learn")
        enable_numba_disk_cache()  # imports umap; compiled code comes from disk after the first process
        load("umap")
        import umap

        knn = (None, None, None)
        self.knn_ = "umap-learn"
        if self.metric in EXACT_KNN_METRICS:
            ctx.progress(0.0, "UMAP: exact nearest neighbours")
            knn = exact_knn(X, self.n_neighbors, self.metric)
            self.knn_ = "exact"
        ctx.progress(0.0, "UMAP: fuzzy graph and spectral initialisation")
        model = umap.UMAP(
            n_components=2,
            n_neighbors=self.n_neighbors,
            min_dist=self.min_dist,
            metric=self.metric,
            n_epochs=self.n_epochs,
            random_state=self.random_state,
            precomputed_knn=knn,
            tqdm_kwds=_TqdmProgress(ctx, "UMAP: optimising layout").kwds(),
            verbose=False,
        )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*n_jobs value.*overridden.*")
            # our ExactKnnIndex answers UMAP.transform's queries; umap-learn warns that it is no NNDescent
            warnings.filterwarnings("ignore", message=r".*knn_search_index.*is not an NNDescent object.*")
            _ignore_numba_cache_warnings()
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
            _ignore_numba_cache_warnings()
            out = self.umap_.transform(X)
        return np.ascontiguousarray(out, dtype=np.float32)


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
    waited : float
        Wall time in seconds from the request to the result: for worker results the
        wait for the worker (a running job, its start, its warm-up) plus the fit and
        the transfer; for :func:`compute_projection` the same as ``elapsed``.
    """

    embedding: np.ndarray
    spec: ProjectionSpec
    estimator: Any = None
    request_id: int | None = None
    elapsed: float = 0.0
    waited: float = 0.0
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
    return Projection(embedding=embedding, spec=spec, estimator=est, elapsed=elapsed, waited=elapsed)
