"""2-D embeddings of latent codes: what to compute (`spec`), their disk cache (`cache`), the estimators
(`estimators`: PCA, UMAP, t-SNE, identity) and the worker process that runs them cancellably (`worker`).

`spec` and `cache` are light (no scikit-learn): the window imports them before its first paint.
The estimators and the worker load scikit-learn (~1 s), so their names are imported from here
the first time they are used.
"""

from __future__ import annotations

import importlib

from explorer.core.projection.cache import (
    ProjectionCache,
    default_cache_directory,
    file_sha256,
    projection_cache_key,
)
from explorer.core.projection.spec import METHODS, ProjectionSpec, check_codes
from explorer.importing import LOCK

#: Names of the heavy submodules, imported on first use: ``name -> submodule``.
_LAZY = {
    "Projection": "estimators", "PCAProjection": "estimators", "UMAPProjection": "estimators",
    "TSNEProjection": "estimators", "IdentityProjection": "estimators", "NearestNeighbourPlacement": "estimators",
    "make_estimator": "estimators", "compute_projection": "estimators",
    "ProjectionWorker": "worker", "ProjectionWorkerBusy": "worker", "ProjectionWorkerDied": "worker",
}

__all__ = ["METHODS", "ProjectionSpec", "check_codes", "ProjectionCache", "projection_cache_key",
           "default_cache_directory", "file_sha256", *_LAZY]


def __getattr__(name: str):
    submodule = _LAZY.get(name)
    if submodule is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with LOCK:  # scikit-learn's first import, as in explorer.core.heavy
        value = getattr(importlib.import_module(f"{__name__}.{submodule}"), name)
    globals()[name] = value
    return value
