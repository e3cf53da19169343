"""k-means clustering of latent codes or of their 2-D embedding, scored against labels."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from explorer.core.jobs import JobContext
from explorer.importing import load

__all__ = [
    "SPACES",
    "SILHOUETTE_MAX_SAMPLES",
    "DEFAULT_N_INIT",
    "ClusteringResult",
    "cluster_codes",
    "clustering_scores",
    "silhouette",
    "cluster",
    "k_sweep",
    "sweep_table",
    "evaluate_clustering",
    "write_sweep_csv",
]

#: Where k-means runs: the full latent space (N, d) or the 2-D embedding (N, 2).
SPACES: tuple[str, ...] = ("latent", "embedding")

#: Above this many points the silhouette is computed on a seeded random sample of this size.
SILHOUETTE_MAX_SAMPLES = 10_000

#: k-means++ initialisations per fit unless told otherwise (scikit-learn's ``"auto"`` uses 1;
#: 3 guards against a poor start at 3x the cost: ~0.5 s for 70,000 x 16, k = 10).
DEFAULT_N_INIT = 3

#: Keys of :func:`clustering_scores`.
SCORE_KEYS: tuple[str, ...] = ("homogeneity", "completeness", "v_measure", "ari", "nmi")


def _check_points(x: Any, name: str = "x") -> np.ndarray:
    """Return ``x`` as a finite (N, D) float array; raise ValueError otherwise."""
    arr = np.asarray(x)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (N, D), got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contain NaN or infinite values")
    return arr


def _check_labels(labels: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} entries for {n} points")
    return arr


def _check_k(k: Any, n: int) -> int:
    if isinstance(k, bool) or int(k) != k:
        raise ValueError(f"k must be an integer, got {k!r}")
    k = int(k)
    if not 1 <= k <= n:
        raise ValueError(f"k must be in [1, {n}] for {n} points, got {k}")
    return k


def cluster_codes(x, k: int, seed: int = 0, n_init: int = DEFAULT_N_INIT) -> np.ndarray:
    """k-means cluster labels of points (Lloyd's algorithm, k-means++ seeding; scikit-learn ``KMeans``).

    Parameters
    ----------
    x : numpy.ndarray
        (N, D) float points: latent codes (D = d) or an embedding (D = 2). Finite.
    k : int
        Number of clusters, 1 <= k <= N.
    seed : int
        ``random_state`` of ``KMeans``: the same ``x``, ``k`` and seed give the same labels.
    n_init : int
        Number of k-means++ initialisations; the run with the lowest inertia wins.

    Returns
    -------
    numpy.ndarray
        (N,) int64 cluster index in [0, k).

    Raises
    ------
    ValueError
        Bad shape, NaN/inf, or k outside [1, N].
    """
    load("sklearn.cluster")
    from sklearn.cluster import KMeans

    x = _check_points(x)
    k = _check_k(k, x.shape[0])
    km = KMeans(n_clusters=k, random_state=int(seed), n_init=int(n_init))
    return km.fit_predict(x).astype(np.int64)


def clustering_scores(labels_true, labels_pred) -> dict[str, float]:
    """External scores of a clustering against reference labels.

    Parameters
    ----------
    labels_true : array_like
        (N,) reference classes (any hashable values).
    labels_pred : array_like
        (N,) cluster indices.

    Returns
    -------
    dict
        ``homogeneity``, ``completeness``, ``v_measure`` (each in [0, 1]; Rosenberg &
        Hirschberg 2007, "V-Measure: a conditional entropy-based external cluster
        evaluation measure", EMNLP; ``sklearn.metrics.homogeneity_completeness_v_measure``,
        β = 1), ``ari`` (adjusted Rand index, Hubert & Arabie 1985; in [-0.5, 1], 0 for
        chance) and ``nmi`` (normalised mutual information with arithmetic-mean
        normalisation, in [0, 1]; equals ``v_measure`` for β = 1). Plain floats.

    Raises
    ------
    ValueError
        The two label arrays are not 1-D of the same length.
    """
    load("sklearn.metrics")
    from sklearn.metrics import (
        adjusted_rand_score,
        homogeneity_completeness_v_measure,
        normalized_mutual_info_score,
    )

    labels_pred = np.asarray(labels_pred)
    if labels_pred.ndim != 1:
        raise ValueError(f"labels_pred must be 1-D, got shape {labels_pred.shape}")
    labels_true = _check_labels(labels_true, labels_pred.shape[0], "labels_true")
    h, c, v = homogeneity_completeness_v_measure(labels_true, labels_pred)
    return {
        "homogeneity": float(h),
        "completeness": float(c),
        "v_measure": float(v),
        "ari": float(adjusted_rand_score(labels_true, labels_pred)),
        "nmi": float(normalized_mutual_info_score(labels_true, labels_pred)),
    }


def silhouette(x, labels, seed: int = 0, max_samples: int = SILHOUETTE_MAX_SAMPLES) -> tuple[float | None, int | None]:
    """Mean silhouette coefficient (Rousseeuw 1987) of a clustering, without reference labels.

    Parameters
    ----------
    x : numpy.ndarray
        (N, D) points that were clustered.
    labels : array_like
        (N,) cluster indices.
    seed : int
        Seed of the random sample drawn when N > ``max_samples``.
    max_samples : int
        Largest N scored exactly (the cost grows as N²).

    Returns
    -------
    score : float or None
        In [-1, 1] (Euclidean distance; ``sklearn.metrics.silhouette_score``); None when
        undefined (fewer than 2 or more than N - 1 distinct clusters).
    sample_size : int or None
        Points in the seeded random sample the score was computed on, or None when all
        N points were used. Show it next to the score.
    """
    load("sklearn.metrics")
    from sklearn.metrics import silhouette_score

    x = _check_points(x)
    labels = _check_labels(labels, x.shape[0], "labels")
    n = x.shape[0]
    n_clusters = np.unique(labels).size
    if not 2 <= n_clusters <= n - 1:
        return None, None
    if n > max_samples:
        return float(silhouette_score(x, labels, sample_size=max_samples, random_state=int(seed))), int(max_samples)
    return float(silhouette_score(x, labels)), None


@dataclass
class ClusteringResult:
    """One k-means clustering and its scores.

    Attributes
    ----------
    space : {"latent", "embedding"}
        Which points were clustered: the full latent codes (N, d) or the 2-D embedding.
    k : int
        Number of clusters.
    seed : int
        ``KMeans`` random_state (and silhouette sample seed).
    labels : numpy.ndarray
        (N,) int64 cluster index in [0, k).
    scores : dict or None
        :func:`clustering_scores` against the reference labels; None without labels.
    silhouette : float or None
        Mean silhouette in [-1, 1], or None when not computed / undefined.
    silhouette_sample_size : int or None
        Size of the seeded sample the silhouette used, None when it used all N points.
    n : int
        Number of points N.
    """

    space: str
    k: int
    seed: int
    labels: np.ndarray = field(repr=False)
    scores: dict[str, float] | None
    silhouette: float | None
    n: int
    silhouette_sample_size: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no labels): space, k, seed, n, the scores and the silhouette."""
        out: dict[str, Any] = {"space": self.space, "k": self.k, "seed": self.seed, "n": self.n}
        for key in SCORE_KEYS:
            out[key] = None if self.scores is None else self.scores[key]
        out["silhouette"] = self.silhouette
        out["silhouette_sample_size"] = self.silhouette_sample_size
        return out


def cluster(
    x,
    k: int,
    seed: int = 0,
    space: str = "latent",
    labels_true=None,
    with_silhouette: bool | None = None,
    n_init: int = DEFAULT_N_INIT,
) -> ClusteringResult:
    """Run k-means on ``x`` and score it.

    Parameters
    ----------
    x : numpy.ndarray
        (N, D) float points of ``space``.
    k : int
        Number of clusters, 1 <= k <= N.
    seed : int
        k-means random_state and silhouette sample seed.
    space : {"latent", "embedding"}
        Recorded in the result; say it wherever the numbers are shown.
    labels_true : array_like, optional
        (N,) reference classes; when given, ``scores`` holds :func:`clustering_scores`.
    with_silhouette : bool, optional
        Compute the silhouette; default: only when there are no labels.
    n_init : int
        k-means initialisations.

    Returns
    -------
    ClusteringResult

    Raises
    ------
    ValueError
        Bad shapes, NaN/inf, k outside [1, N], or an unknown ``space``.
    """
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")
    x = _check_points(x)
    n = x.shape[0]
    if labels_true is not None:
        labels_true = _check_labels(labels_true, n, "labels_true")
    labels = cluster_codes(x, k, seed, n_init=n_init)
    scores = clustering_scores(labels_true, labels) if labels_true is not None else None
    if with_silhouette is None:
        with_silhouette = labels_true is None
    sil, sample = silhouette(x, labels, seed) if with_silhouette else (None, None)
    return ClusteringResult(space=space, k=int(k), seed=int(seed), labels=labels, scores=scores,
                            silhouette=sil, n=n, silhouette_sample_size=sample)


def k_sweep(
    x,
    ks: Iterable[int],
    labels_true=None,
    seed: int = 0,
    ctx: JobContext | None = None,
    space: str = "latent",
    with_silhouette: bool | None = None,
    n_init: int = DEFAULT_N_INIT,
) -> list[ClusteringResult]:
    """k-means for each k in ``ks``, scored against labels (or by silhouette), as a job.

    Parameters
    ----------
    x : numpy.ndarray
        (N, D) float points of ``space``.
    ks : iterable of int
        Numbers of clusters, each in [1, N] (e.g. ``range(2, 21)``).
    labels_true : array_like, optional
        (N,) reference classes.
    seed : int
        Same seed for every k.
    ctx : JobContext, optional
        Progress (fraction of ks done) and cancel, checked between two values of k.
    space : {"latent", "embedding"}
        Recorded in each result.
    with_silhouette : bool, optional
        Default: only when there are no labels.
    n_init : int
        k-means initialisations per k.

    Returns
    -------
    list of ClusteringResult
        One per k, in the order of ``ks`` (see :func:`sweep_table` for rows).

    Raises
    ------
    ValueError
        Empty ``ks``, a k outside [1, N], bad shapes.
    explorer.core.jobs.Cancelled
        ``ctx`` was cancelled.
    """
    ctx = ctx or JobContext.none()
    x = _check_points(x)
    ks = [_check_k(k, x.shape[0]) for k in ks]
    if not ks:
        raise ValueError("ks is empty: give at least one number of clusters")
    if labels_true is not None:
        labels_true = _check_labels(labels_true, x.shape[0], "labels_true")
    results = []
    for i, k in enumerate(ks):
        ctx.progress(i / len(ks), f"k-means on the {space} space: k = {k} ({i + 1}/{len(ks)})")
        results.append(cluster(x, k, seed, space, labels_true, with_silhouette, n_init))
    ctx.progress(1.0, f"k-means sweep over {len(ks)} values of k done")
    return results


def sweep_table(results: Sequence[ClusteringResult]) -> list[dict[str, Any]]:
    """Rows (one per k) of :meth:`ClusteringResult.to_dict`, for CSV / JSON export and plots."""
    return [r.to_dict() for r in results]


def write_sweep_csv(results: Sequence[ClusteringResult], path) -> None:
    """Write a k sweep to a CSV file atomically, at full precision (floats as ``repr``; None as an empty cell).

    Columns: space, k, seed, n, homogeneity, completeness, v_measure, ari, nmi, silhouette,
    silhouette_sample_size (:func:`sweep_table`).

    Raises
    ------
    ValueError
        No results.
    OSError
        The file cannot be written (nothing is left behind).
    """
    import csv

    from explorer.core.export import atomic_path

    rows = sweep_table(results)
    if not rows:
        raise ValueError("there is no k sweep to export")
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({key: "" if value is None else repr(value) if isinstance(value, float) else value
                             for key, value in row.items()})


def evaluate_clustering(
    codes,
    embedding,
    labels,
    k: int,
    space: str = "latent",
    seed: int = 0,
) -> dict[str, Any]:
    """k-means on the latent codes or the embedding, scored against labels: the CLI's JSON record.

    Parameters
    ----------
    codes : numpy.ndarray
        (N, d) float latent codes (clustered when ``space == "latent"``).
    embedding : numpy.ndarray or None
        (N, 2) float embedding (clustered when ``space == "embedding"``; may be None otherwise).
    labels : array_like or None
        (N,) reference classes; None gives None for the label-based scores.
    k : int
        Number of clusters, 1 <= k <= N.
    space : {"latent", "embedding"}
        Which points to cluster.
    seed : int
        k-means random_state (and silhouette sample seed).

    Returns
    -------
    dict
        ``space``, ``k``, ``homogeneity``, ``completeness``, ``v_measure`` (Rosenberg &
        Hirschberg 2007), ``ari``, ``nmi`` (floats, or None without labels), plus
        ``silhouette`` (float in [-1, 1] or None), ``silhouette_sample_size`` (int when
        it used a seeded sample of 10,000 points, else None) and ``n_images`` (N).

    Raises
    ------
    ValueError
        Unknown space, missing embedding for ``space="embedding"``, mismatched lengths.
    """
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")
    codes = _check_points(codes, "codes")
    if space == "embedding":
        if embedding is None:
            raise ValueError("space='embedding' needs the 2-D embedding")
        x = _check_points(embedding, "embedding")
        if x.shape != (codes.shape[0], 2):
            raise ValueError(f"embedding of shape {x.shape} does not match {codes.shape[0]} codes")
    else:
        x = codes
    result = cluster(x, k, seed, space, labels, with_silhouette=True)
    out: dict[str, Any] = {"space": space, "k": result.k}
    for key in SCORE_KEYS:
        out[key] = None if result.scores is None else result.scores[key]
    out["silhouette"] = result.silhouette
    out["silhouette_sample_size"] = result.silhouette_sample_size
    out["n_images"] = result.n
    return out
