"""Exact k-nearest-neighbour graphs of latent codes for UMAP (scikit-learn), and numba's disk cache for umap-learn."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from explorer.core.projection.spec import check_codes
from explorer.importing import load

log = logging.getLogger(__name__)

__all__ = ["EXACT_KNN_METRICS", "ExactKnnIndex", "exact_knn", "enable_numba_disk_cache", "numba_cache_directory"]

#: umap-learn metric names whose distance scikit-learn's ``NearestNeighbors`` computes identically
#: (umap name -> scikit-learn name). Other metrics keep umap-learn's own neighbour search.
EXACT_KNN_METRICS: dict[str, str] = {
    "euclidean": "euclidean", "l2": "euclidean",
    "manhattan": "manhattan", "l1": "manhattan", "taxicab": "manhattan",
    "chebyshev": "chebyshev", "linfinity": "chebyshev", "linf": "chebyshev", "linfty": "chebyshev",
    "cosine": "cosine",
}


class ExactKnnIndex:
    """Exact nearest neighbours of new points among the training codes, in the shape umap-learn queries.

    umap-learn's ``UMAP.transform`` asks its search index for ``query(X, k, epsilon=...)``
    and returns ``(indices, distances)``; this class answers with scikit-learn's exact
    ``NearestNeighbors.kneighbors`` (``epsilon``, pynndescent's search slack, is not needed).

    Parameters
    ----------
    nn : sklearn.neighbors.NearestNeighbors
        Fitted on the (N, d) training codes.
    """

    #: read by ``UMAP.transform`` (pynndescent's flag for angular metrics); only its epsilon depends on it
    _angular_trees = False

    def __init__(self, nn):
        self.nn = nn

    def query(self, points, k: int = 15, epsilon: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest training codes of each of the (M, d) ``points``.

        Returns
        -------
        indices : numpy.ndarray
            (M, k) int32 row numbers into the training codes, nearest first.
        distances : numpy.ndarray
            (M, k) float32 distances in the fitted metric.
        """
        dist, ind = self.nn.kneighbors(check_codes(points, "points"), n_neighbors=int(k))
        return ind.astype(np.int32), dist.astype(np.float32)


def exact_knn(codes, n_neighbors: int, metric: str = "euclidean") -> tuple[np.ndarray, np.ndarray, ExactKnnIndex]:
    """The exact k-nearest-neighbour graph of ``codes``, as umap-learn's ``precomputed_knn``.

    umap-learn finds neighbours with nearest-neighbour descent (pynndescent) from 4,096
    points up; its numba compilation costs ~30 s in every new process. On latent codes
    (d of a few tens) a KD-tree / ball tree finds the *exact* neighbours in about a second
    for 10,000 points, so the UMAP graph (McInnes et al. 2018, §3.1) is built from the
    true k-NN instead of an approximation of it.

    Parameters
    ----------
    codes : numpy.ndarray
        (N, d) float latent codes, finite, N > ``n_neighbors``.
    n_neighbors : int
        k, counting each point itself (umap-learn's convention: the first neighbour of a
        point is the point, at distance 0).
    metric : str
        A key of :data:`EXACT_KNN_METRICS`.

    Returns
    -------
    indices : numpy.ndarray
        (N, k) int32, nearest first.
    distances : numpy.ndarray
        (N, k) float32, in ``metric``.
    index : ExactKnnIndex
        Places new points (for ``UMAP.transform``).

    Raises
    ------
    ValueError
        ``metric`` is not in :data:`EXACT_KNN_METRICS`, or N <= ``n_neighbors``.
    """
    load("sklearn.neighbors")
    from sklearn.neighbors import NearestNeighbors

    if metric not in EXACT_KNN_METRICS:
        raise ValueError(f"exact nearest neighbours support the metrics {', '.join(EXACT_KNN_METRICS)}, "
                         f"not {metric!r}")
    codes = check_codes(codes)
    k = int(n_neighbors)
    if codes.shape[0] <= k:
        raise ValueError(f"{k} nearest neighbours need more than {k} points, got {codes.shape[0]}")
    nn = NearestNeighbors(n_neighbors=k, metric=EXACT_KNN_METRICS[metric]).fit(codes)
    dist, ind = nn.kneighbors(codes, n_neighbors=k)
    return ind.astype(np.int32), dist.astype(np.float32), ExactKnnIndex(nn)


def numba_cache_directory() -> Path:
    """Where umap-learn's compiled numba code is kept: ``<cache>/numba/umap-V-pynndescent-V-numba-V-pyV``."""
    from importlib.metadata import version

    from explorer.paths import cache_dir

    def v(name: str) -> str:
        try:
            return version(name)
        except Exception:  # noqa: BLE001 - not installed: its part of the name says so
            return "none"

    tag = (f"umap-{v('umap-learn')}-pynndescent-{v('pynndescent')}-numba-{v('numba')}"
           f"-py{sys.version_info.major}{sys.version_info.minor}")
    return cache_dir() / "numba" / tag


_ENABLED: set[str] = set()


def enable_numba_disk_cache(directory: str | os.PathLike | None = None) -> int:
    """Keep umap-learn's (and pynndescent's) numba-compiled functions on disk, so a new process loads them.

    umap-learn declares almost none of its numba functions with ``cache=True``, so each
    new process compiles them again (10 s of CPU for a fit from a precomputed k-NN graph,
    30–40 s with nearest-neighbour descent). This turns numba's own on-disk cache on for
    every not-yet-cached dispatcher of the imported ``umap`` and ``pynndescent`` modules
    (``Dispatcher.enable_caching``), writing to ``directory``; numba invalidates an entry
    when the source file changes, and the folder name carries the library versions.

    Parameters
    ----------
    directory : path-like, optional
        Default :func:`numba_cache_directory`.

    Returns
    -------
    int
        Dispatchers switched to the disk cache by this call (0 when already done, or when
        numba cannot cache here; then compilation simply happens in memory as before).

    Notes
    -----
    Call it after ``import umap`` and before the first fit; it is idempotent per folder.
    Imports umap-learn (~3 s the first time in a process).
    """
    folder = Path(directory) if directory is not None else numba_cache_directory()
    if str(folder) in _ENABLED:
        return 0
    try:
        load("numba")
        import numba

        with warnings.catch_warnings():  # umap-learn warns at import that TensorFlow (ParametricUMAP) is missing
            warnings.simplefilter("ignore", ImportWarning)
            load("umap")
            import umap  # noqa: F401 - imports umap.umap_, layouts, spectral, distances, pynndescent
        load("numba.core.caching", "numba.core.dispatcher")
        from numba.core.caching import NullCache
        from numba.core.dispatcher import Dispatcher

        folder.mkdir(parents=True, exist_ok=True)
    except (ImportError, OSError) as exc:
        log.info("numba's disk cache for umap-learn is not used: %s", exc)
        return 0
    previous = numba.config.CACHE_DIR
    numba.config.CACHE_DIR = str(folder)  # read when each function's cache locator is made, below
    count = 0
    try:
        for name, module in list(sys.modules.items()):
            if module is None or not name.startswith(("umap.", "pynndescent.")):
                continue
            for value in list(vars(module).values()):
                if isinstance(value, Dispatcher) and isinstance(value._cache, NullCache):
                    try:
                        value.enable_caching()
                        count += 1
                    except Exception as exc:  # noqa: BLE001 - this one compiles in memory, as before
                        log.debug("numba cannot cache %s: %s", getattr(value, "__qualname__", value), exc)
    finally:
        numba.config.CACHE_DIR = previous
    _ENABLED.add(str(folder))
    return count
