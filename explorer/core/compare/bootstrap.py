"""Paired bootstrap over the same images: does a model's difference from the best separate from zero?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["DEFAULT_RESAMPLES", "CLUSTERING_SCORES", "resample_indices", "contingency_scores",
           "bootstrap_means", "bootstrap_clustering", "PairedDifference", "paired_difference"]

#: Resamples of the scorecard's bootstrap unless told otherwise (the issue asks for ≥ 1,000).
DEFAULT_RESAMPLES = 1000

#: The external clustering scores `contingency_scores` computes (the keys of `evaluate`'s records).
CLUSTERING_SCORES: tuple[str, ...] = ("homogeneity", "completeness", "v_measure", "ari", "nmi")

#: Resamples per block when building contingency tables (bounds the memory to ~block·N int64).
_BLOCK = 64


def resample_indices(n: int, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> np.ndarray:
    """Bootstrap resamples of ``n`` images, drawn once and shared by every model (the pairing).

    Parameters
    ----------
    n : int
        Images measured (≥ 1).
    n_resamples : int
        B ≥ 1.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    numpy.ndarray, shape (B, n), int64
        Row b holds the positions of resample b, drawn with replacement.

    Raises
    ------
    ValueError
        ``n`` or ``n_resamples`` below 1.
    """
    if int(n) < 1 or int(n_resamples) < 1:
        raise ValueError(f"a bootstrap needs n ≥ 1 images and ≥ 1 resamples, got n = {n}, B = {n_resamples}")
    return np.random.default_rng(int(seed)).integers(0, int(n), size=(int(n_resamples), int(n)), dtype=np.int64)


def _entropy(counts: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Shannon entropy (nats) of each row of ``counts`` (B, K) with row sums ``total`` (B,)."""
    p = counts / total[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.sum(np.where(counts > 0, p * np.log(np.where(counts > 0, p, 1.0)), 0.0), axis=1)


def contingency_scores(table: np.ndarray) -> dict[str, np.ndarray]:
    """Homogeneity, completeness, V-measure, ARI and NMI of contingency tables.

    The closed forms of scikit-learn's ``homogeneity_completeness_v_measure`` (Rosenberg &
    Hirschberg 2007, β = 1), ``adjusted_rand_score`` (Hubert & Arabie 1985, through the pair
    counts) and ``normalized_mutual_info_score`` (arithmetic mean of the entropies), with
    scikit-learn's conventions for degenerate tables (one class or one cluster), computed
    for many tables at once.

    Parameters
    ----------
    table : numpy.ndarray, shape (B, C, K) or (C, K)
        Counts (integer or float ≥ 0): images of class c put in cluster k.

    Returns
    -------
    dict of str to numpy.ndarray
        Keys `CLUSTERING_SCORES`, each (B,) float64 (a scalar array for a single table).
    """
    t = np.asarray(table, dtype=np.float64)
    single = t.ndim == 2
    if single:
        t = t[None]
    n = t.sum(axis=(1, 2))
    a = t.sum(axis=2)  # (B, C) class sizes
    b = t.sum(axis=1)  # (B, K) cluster sizes
    h_c = _entropy(a, n)
    h_k = _entropy(b, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = t * n[:, None, None] / (a[:, :, None] * b[:, None, :])
        mi = np.sum(np.where(t > 0, t / n[:, None, None] * np.log(np.where(t > 0, ratio, 1.0)), 0.0), axis=(1, 2))
    mi = np.maximum(mi, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        hom = np.where(h_c > 0, mi / h_c, 1.0)
        com = np.where(h_k > 0, mi / h_k, 1.0)
        v = np.where(hom + com > 0, 2 * hom * com / (hom + com), 0.0)
    n_classes = (a > 0).sum(axis=1)
    n_clusters = (b > 0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        eps = np.finfo(np.float64).eps
        nmi = np.where(mi >= eps, mi / np.maximum((h_c + h_k) / 2, eps), 0.0)
    nmi = np.where(((n_classes == 1) & (n_clusters == 1)) | ((n_classes == 0) & (n_clusters == 0)), 1.0, nmi)
    # ARI from the pair confusion matrix, as scikit-learn's adjusted_rand_score
    sum_sq = np.sum(t ** 2, axis=(1, 2))
    tp = sum_sq - n
    fp = np.sum((t.sum(axis=1)) ** 2, axis=1) - sum_sq  # pairs together in the clustering only
    fn = np.sum((t.sum(axis=2)) ** 2, axis=1) - sum_sq  # pairs together in the classes only
    tn = n ** 2 - fp - fn - sum_sq
    den = (tp + fn) * (fn + tn) + (tp + fp) * (fp + tn)
    with np.errstate(divide="ignore", invalid="ignore"):
        ari = np.where((fn == 0) & (fp == 0), 1.0, 2.0 * (tp * tn - fn * fp) / den)
    out = {"homogeneity": hom, "completeness": com, "v_measure": v, "ari": ari, "nmi": nmi}
    return {k: (v[0] if single else v) for k, v in out.items()}


def bootstrap_means(values: np.ndarray, resamples: np.ndarray) -> np.ndarray:
    """Mean of per-image values on each resample (paired: the same resamples for every model).

    Parameters
    ----------
    values : numpy.ndarray, shape (M, N)
        One row per model: a per-image quantity (PSNR in dB, SSIM, …) on the same N images.
    resamples : numpy.ndarray, shape (B, N), int
        From `resample_indices`.

    Returns
    -------
    numpy.ndarray, shape (M, B), float64
    """
    v = np.asarray(values, dtype=np.float64)
    return np.stack([row[resamples].mean(axis=1) for row in v])


def bootstrap_clustering(labels_true: np.ndarray, labels_pred: np.ndarray, resamples: np.ndarray,
                         scores: Sequence[str] = CLUSTERING_SCORES) -> dict[str, np.ndarray]:
    """External clustering scores of each model on each resample of the same images.

    The k-means assignment of each image is kept (it is not fitted again); each resample
    takes images with replacement, and both the class and the cluster of an image come
    with it, so every model is scored on the same resampled images.

    Parameters
    ----------
    labels_true : numpy.ndarray, shape (N,), int
        Classes of the images.
    labels_pred : numpy.ndarray, shape (M, N), int
        Cluster of each image under each model (k may differ between models).
    resamples : numpy.ndarray, shape (B, N), int
    scores : sequence of str
        Among `CLUSTERING_SCORES`.

    Returns
    -------
    dict of str to numpy.ndarray
        Each (M, B) float64.
    """
    y = np.unique(np.asarray(labels_true), return_inverse=True)[1].ravel().astype(np.int64)
    preds = np.atleast_2d(np.asarray(labels_pred))
    n_c = int(y.max()) + 1 if len(y) else 1
    b_total = len(resamples)
    out = {s: np.empty((len(preds), b_total)) for s in scores}
    for m, pred in enumerate(preds):
        k_ids = np.unique(pred, return_inverse=True)[1].ravel().astype(np.int64)
        n_k = int(k_ids.max()) + 1 if len(k_ids) else 1
        pair = y * n_k + k_ids
        cells = n_c * n_k
        for start in range(0, b_total, _BLOCK):
            block = resamples[start:start + _BLOCK]
            flat = (pair[block] + np.arange(len(block))[:, None] * cells).ravel()
            table = np.bincount(flat, minlength=len(block) * cells).reshape(len(block), n_c, n_k)
            got = contingency_scores(table)
            for s in scores:
                out[s][m, start:start + len(block)] = got[s]
    return out


@dataclass(frozen=True)
class PairedDifference:
    """A model's score minus the best model's, over the same bootstrap resamples.

    Attributes
    ----------
    ci95 : (float, float)
        2.5th and 97.5th percentiles of the resampled differences (units of the score).
    significant : bool
        The interval excludes zero.
    n_resamples : int
    """

    ci95: tuple[float, float]
    significant: bool
    n_resamples: int


def paired_difference(resampled: np.ndarray, best: np.ndarray) -> PairedDifference:
    """Percentile interval of ``resampled − best`` over the resamples, and whether it excludes 0.

    Parameters
    ----------
    resampled, best : numpy.ndarray, shape (B,)
        One model's score and the best model's score on each of the same resamples.

    Returns
    -------
    PairedDifference
        Non-finite differences (e.g. an image reproduced exactly, PSNR = inf) are left out;
        with none left the difference counts as not significant.
    """
    d = np.asarray(resampled, dtype=np.float64) - np.asarray(best, dtype=np.float64)
    d = d[np.isfinite(d)]
    if not len(d):
        return PairedDifference((float("nan"), float("nan")), False, 0)
    lo, hi = np.percentile(d, [2.5, 97.5])
    return PairedDifference((float(lo), float(hi)), bool(lo > 0 or hi < 0), int(len(d)))
