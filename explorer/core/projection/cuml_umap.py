"""UMAP on a GPU through RAPIDS cuML (``--umap-backend cuml``), where it is installed; never required."""

from __future__ import annotations

import importlib.util

import numpy as np

from explorer.errors import UserError

__all__ = ["UMAPBackendError", "cuml_available", "check_umap_backend", "fit_cuml_umap"]


class UMAPBackendError(UserError, ValueError):
    """The UMAP backend asked for cannot run here (one sentence)."""


def cuml_available() -> bool:
    """Whether RAPIDS cuML can be imported here (looked up without importing it)."""
    try:
        return importlib.util.find_spec("cuml") is not None
    except (ImportError, ValueError):
        return False


def check_umap_backend(backend: str) -> None:
    """Refuse, before any work, a UMAP backend that cannot run here.

    Parameters
    ----------
    backend : {"umap-learn", "cuml"}

    Raises
    ------
    UMAPBackendError
        ``cuml`` without RAPIDS cuML installed, or an unknown backend (one sentence).
    """
    from explorer.core.projection.spec import UMAP_BACKENDS

    if backend not in UMAP_BACKENDS:
        raise UMAPBackendError(f"--umap-backend {backend!r} is not a UMAP backend; choose "
                               f"{' or '.join(UMAP_BACKENDS)}.")
    if backend == "cuml" and not cuml_available():
        raise UMAPBackendError("--umap-backend cuml: RAPIDS cuML is not installed here (it needs an NVIDIA GPU; see "
                               "https://docs.rapids.ai/install); use --umap-backend umap-learn.")


def fit_cuml_umap(x: np.ndarray, params, ctx=None):
    """Fit cuML's UMAP (McInnes et al. 2018; Nolet et al. 2021, GPU) to codes; return ``(model, embedding)``.

    Parameters
    ----------
    x : numpy.ndarray, shape (N, d), float32
    params : UMAPProjection
        Its ``n_neighbors``, ``min_dist``, ``metric``, ``n_epochs`` and ``random_state`` are handed
        to ``cuml.manifold.UMAP`` (which takes the same names; a seed makes cuML deterministic at
        some cost of speed, as in umap-learn).
    ctx : JobContext, optional
        Progress (cuML reports none: 0 at the start, then done).

    Returns
    -------
    model : cuml.manifold.UMAP
        Fitted (its ``transform`` places new codes).
    embedding : numpy.ndarray, shape (N, 2), float32

    Raises
    ------
    UMAPBackendError
        RAPIDS cuML is not installed here.
    """
    check_umap_backend("cuml")
    if ctx is not None:
        ctx.progress(0.0, "UMAP (cuML, GPU): fitting")
    from cuml.manifold import UMAP  # noqa: N814 - RAPIDS's class

    model = UMAP(n_components=2, n_neighbors=int(params.n_neighbors), min_dist=float(params.min_dist),
                 metric=params.metric, n_epochs=params.n_epochs, random_state=params.random_state,
                 output_type="numpy")
    embedding = np.asarray(model.fit_transform(np.ascontiguousarray(x, dtype=np.float32)), dtype=np.float32)
    return model, embedding
