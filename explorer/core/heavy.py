"""Heavy libraries imported once, under one lock (`explorer.importing.LOCK`), by the first thread needing them."""

from __future__ import annotations

from explorer.importing import LOCK as _LOCK

__all__ = ["load_sklearn", "load_estimators", "load_umap"]


def load_sklearn() -> None:
    """Import the parts of scikit-learn the jobs use (estimators, k-means, metrics; ~1 s the first time).

    Two job threads importing scikit-learn at the same moment can meet inside its circular
    imports ("cannot import name 'clone' from partially initialized module 'sklearn.base'",
    seen when a restored k-means started while the preload ran); one lock serialises them.
    Later calls return at once.
    """
    with _LOCK:
        import sklearn.cluster  # noqa: F401
        import sklearn.metrics  # noqa: F401

        import explorer.core.projection.estimators  # noqa: F401


def load_estimators() -> None:
    """Import only the projection estimators (scikit-learn's PCA; 1.3–2 CPU s the first time here), under the same lock.

    What the first embedding needs (`explorer.core.projection.compute_projection` of a PCA or
    the identity), without k-means and the metrics that `load_sklearn` adds.
    """
    with _LOCK:
        import sklearn.decomposition  # noqa: F401

        import explorer.core.projection.estimators  # noqa: F401


def load_umap():
    """Import umap-learn (and numba) under the same lock; returns the ``umap`` module.

    umap-learn warns on import that TensorFlow (for ParametricUMAP, which we do not use) is missing.
    """
    import warnings

    with _LOCK, warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ImportWarning)
        import umap

        return umap
