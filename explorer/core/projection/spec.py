"""What a projection is: its method, parameters and seed (`ProjectionSpec`) — light, no scikit-learn."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["METHODS", "ProjectionSpec", "check_codes", "named_spec"]

#: Projection methods and their parameters: ``name -> (type, default)``.
#: ``int | None`` parameters accept ``None`` (the library's automatic choice).
_PARAM_SCHEMA: dict[str, dict[str, tuple[str, Any]]] = {
    "pca": {},
    "identity": {},
    "umap": {
        "n_neighbors": ("int", 15),
        "min_dist": ("float", 0.1),
        "metric": ("str", "euclidean"),
        "n_epochs": ("int?", 200),  # umap-learn's own choice above 10,000 points; see ProjectionSpec
        "backend": ("str", "umap-learn"),
    },
    "tsne": {
        "perplexity": ("float", 30.0),
        "metric": ("str", "euclidean"),
        "n_iter": ("int", 500),
        "early_exaggeration_iter": ("int", 250),
    },
}

#: UMAP implementations: umap-learn (always), RAPIDS cuML's GPU UMAP where it is installed.
UMAP_BACKENDS = ("umap-learn", "cuml")
#: Parameters left out of `ProjectionSpec.key` and `ProjectionSpec.label` while they have this value
#: (added after the cache keys of the embeddings users already have; the same spec keeps its key).
_SILENT_DEFAULTS = {("umap", "backend"): "umap-learn"}

#: The projection methods ``ProjectionSpec`` accepts.
METHODS: tuple[str, ...] = tuple(_PARAM_SCHEMA)


# --------------------------------------------------------------------------------------
# Specification
# --------------------------------------------------------------------------------------


def _coerce_param(method: str, name: str, kind: str, value: Any) -> Any:
    """Return ``value`` converted to the parameter's type; raise ValueError if it cannot be."""
    if value is None:
        if kind.endswith("?"):
            return None
        raise ValueError(f"{method} parameter {name!r} must not be None")
    base = kind.rstrip("?")
    if base == "int":
        if isinstance(value, bool):
            raise ValueError(f"{method} parameter {name!r} must be an integer, not {value!r}")
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{method} parameter {name!r} must be an integer, not {value!r}") from None
        if not math.isfinite(f) or f != int(f):
            raise ValueError(f"{method} parameter {name!r} must be an integer, not {value!r}")
        return int(f)
    if base == "float":
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{method} parameter {name!r} must be a number, not {value!r}") from None
        if not math.isfinite(f):
            raise ValueError(f"{method} parameter {name!r} must be finite, not {value!r}")
        return f
    if not isinstance(value, str) or not value:
        raise ValueError(f"{method} parameter {name!r} must be a non-empty string, not {value!r}")
    return value


def _check_ranges(method: str, p: Mapping[str, Any]) -> None:
    """Raise ValueError for parameter values outside their valid range."""
    if method == "umap":
        if p["n_neighbors"] < 2:
            raise ValueError(f"umap n_neighbors must be >= 2, got {p['n_neighbors']}")
        if not 0.0 <= p["min_dist"] <= 1.0:
            raise ValueError(f"umap min_dist must be in [0, 1], got {p['min_dist']}")
        if p["n_epochs"] is not None and p["n_epochs"] < 1:
            raise ValueError(f"umap n_epochs must be >= 1 or None, got {p['n_epochs']}")
        if p["backend"] not in UMAP_BACKENDS:
            raise ValueError(f"umap backend must be one of {', '.join(UMAP_BACKENDS)}, got {p['backend']!r}")
    elif method == "tsne":
        if p["perplexity"] <= 0:
            raise ValueError(f"tsne perplexity must be > 0, got {p['perplexity']}")
        if p["n_iter"] < 1:
            raise ValueError(f"tsne n_iter must be >= 1, got {p['n_iter']}")
        if p["early_exaggeration_iter"] < 0:
            raise ValueError(f"tsne early_exaggeration_iter must be >= 0, got {p['early_exaggeration_iter']}")


@dataclass(frozen=True)
class ProjectionSpec:
    """What to compute: a projection method, its parameters and the seed.

    Parameters
    ----------
    method : {"pca", "umap", "tsne", "identity"}
        ``"pca"``: principal components (exact transform of new points).
        ``"umap"``: UMAP (McInnes, Healy & Melville 2018, arXiv:1802.03426) via umap-learn.
        ``"tsne"``: t-SNE (van der Maaten & Hinton 2008, JMLR 9) via openTSNE; new points
        are placed at their nearest neighbour, it has no transform.
        ``"identity"``: the codes themselves, only when the latent dimension ``d == 2``.
    params : dict, optional
        Method parameters; missing ones take their defaults, so ``params={}`` and the
        defaults spelled out are the same spec with the same :meth:`key`.
        umap: ``n_neighbors`` (int >= 2, 15), ``min_dist`` (float in [0, 1], 0.1),
        ``metric`` (str, "euclidean"), ``n_epochs`` (int >= 1, 200; None = umap-learn's
        choice: 500 up to 10,000 points, else 200 — on the 10,000 demo codes 500 epochs take
        2.2× the layout's CPU time for a trustworthiness (k = 10) 0.004 higher; 200 keeps the
        first UMAP within the 15 s the window promises), ``backend`` ("umap-learn" or "cuml": RAPIDS
        cuML's UMAP on a GPU, where it is installed; `explorer.core.projection.cuml_umap`).
        tsne: ``perplexity`` (float > 0, 30), ``metric`` (str, "euclidean"),
        ``n_iter`` (int, 500, after ``early_exaggeration_iter`` (int, 250) iterations
        of early exaggeration).
        pca, identity: none.
    seed : int
        ``random_state`` of the estimator. Same codes + same spec give the same embedding.

    Raises
    ------
    ValueError
        Unknown method, unknown parameter, or a value of the wrong type or range.

    Notes
    -----
    The dataclass is frozen; ``params`` is a normalised copy — treat it as read-only.
    """

    method: str = "pca"
    params: dict = field(default_factory=dict)
    seed: int = 0

    def __post_init__(self) -> None:
        method = str(self.method).strip().lower()
        if method not in _PARAM_SCHEMA:
            raise ValueError(f"unknown projection method {self.method!r}; choose one of {', '.join(METHODS)}")
        schema = _PARAM_SCHEMA[method]
        given = dict(self.params or {})
        unknown = sorted(set(given) - set(schema))
        if unknown:
            allowed = ", ".join(sorted(schema)) or "none"
            raise ValueError(f"unknown {method} parameter(s) {', '.join(unknown)}; allowed: {allowed}")
        resolved = {
            name: _coerce_param(method, name, kind, given.get(name, default))
            for name, (kind, default) in sorted(schema.items())
        }
        _check_ranges(method, resolved)
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        if int(self.seed) < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        object.__setattr__(self, "method", method)
        object.__setattr__(self, "params", resolved)
        object.__setattr__(self, "seed", int(self.seed))

    def key(self) -> str:
        """Stable text identifying this spec, e.g. ``'umap:metric="euclidean",min_dist=0.1,...;seed=0'``.

        Returns
        -------
        str
            The same for equal specs in every process and Python version (parameters
            sorted by name, values JSON-encoded); different when the method, any
            parameter or the seed differs.
        """
        body = ",".join(f"{k}={json.dumps(v)}" for k, v in sorted(self._shown().items()))
        return f"{self.method}:{body};seed={self.seed}"

    def _shown(self) -> dict:
        """The parameters that name the spec: all but those at a silent default (`_SILENT_DEFAULTS`)."""
        return {k: v for k, v in self.params.items() if _SILENT_DEFAULTS.get((self.method, k), object()) != v}

    def __hash__(self) -> int:
        return hash(self.key())

    def replace(self, **params: Any) -> ProjectionSpec:
        """A copy with some parameters changed (``seed=`` changes the seed)."""
        seed = params.pop("seed", self.seed)
        return ProjectionSpec(self.method, {**self.params, **params}, seed)

    @property
    def name(self) -> str:
        """The method's name as the UI writes it: ``"PCA"``, ``"UMAP"``, ``"t-SNE"`` or ``"latent"``."""
        return {"pca": "PCA", "umap": "UMAP", "tsne": "t-SNE", "identity": "latent"}[self.method]

    def label(self) -> str:
        """Short text for the UI and figure captions, e.g. ``'UMAP (n_neighbors=15, min_dist=0.1, seed 0)'``."""
        names = {"pca": "PCA", "umap": "UMAP", "tsne": "t-SNE", "identity": "latent (d = 2)"}
        shown = ", ".join(f"{k}={v}" for k, v in self._shown().items() if v is not None)
        seed = "" if self.method in ("pca", "identity") else f"seed {self.seed}"
        inner = ", ".join(s for s in (shown, seed) if s)
        return f"{names[self.method]} ({inner})" if inner else names[self.method]

def check_codes(x: Any, name: str = "codes", min_rows: int = 1) -> np.ndarray:
    """Points to project (or an embedding to store) as a C-contiguous (N, d) float32 array.

    Parameters
    ----------
    x : array_like, shape (N, d)
        Numeric, finite.
    name : str
        How messages call the array.
    min_rows : int
        Fewest rows N accepted.

    Returns
    -------
    numpy.ndarray, shape (N, d), float32

    Raises
    ------
    ValueError
        Not 2-D, fewer than ``min_rows`` rows, no columns, not numeric, or NaN/inf.
    """
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (N, d), got shape {arr.shape}")
    if arr.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} row(s), got {arr.shape[0]}")
    if arr.shape[1] < 1:
        raise ValueError(f"{name} has no columns (shape {arr.shape})")
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contain NaN or infinite values")
    return arr


def named_spec(method: str, seed: int = 0, umap_backend: str = "umap-learn") -> ProjectionSpec:
    """The spec of ``--projection METHOD [--umap-backend B]``: the method's defaults, the seed, UMAP's backend.

    Parameters
    ----------
    method : {"pca", "umap", "tsne", "identity"}
    seed : int
    umap_backend : {"umap-learn", "cuml"}
        Only for ``"umap"``.

    Raises
    ------
    ValueError
        A backend other than umap-learn for a method that is not UMAP, or an unknown method (one sentence).
    """
    if umap_backend != "umap-learn" and method.lower() != "umap":
        raise ValueError(f"--umap-backend {umap_backend} applies to --projection umap, not {method}")
    return ProjectionSpec(method, {"backend": umap_backend} if method.lower() == "umap" else {}, seed=seed)
