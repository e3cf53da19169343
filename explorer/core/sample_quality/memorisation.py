"""Is the generator copying its training set? Nearest training images of samples, calibrated by held-out images."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer.core.sample_quality.metrics import SampleQualityError
from explorer.importing import load

#: Defaults of `memorisation_report`.
NEIGHBOURS = 3
QUANTILE = 0.05
P_VALUE = 1e-3


def _exact_knn(q: np.ndarray, t: np.ndarray, rows, k: int) -> tuple[np.ndarray, np.ndarray]:
    """k nearest rows of ``t`` for ``q[rows]`` by float64 differences (brute force; the fallback)."""
    d_out = np.empty((len(rows), k))
    i_out = np.empty((len(rows), k), np.int64)
    for n, r in enumerate(rows):
        d = np.sqrt(np.einsum("ij,ij->i", t - q[r], t - q[r]))
        idx = np.argsort(d, kind="stable")[:k]
        d_out[n], i_out[n] = d[idx], idx
    return d_out, i_out


def nearest_training(queries, train, k: int = NEIGHBOURS, *, extra: int = 8,
                     chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest training rows of each query (Euclidean), exact.

    Rows of at most 15 dimensions go to scikit-learn's `NearestNeighbors` (a KD-/ball tree).
    Wider rows (pixels, features), where trees prune nothing, are searched by brute force in
    two steps: ``k + extra`` candidates per query from float32 matrix products over chunks of
    training rows (``‖q‖² + ‖t‖² − 2 q·t``), then their distances recomputed in float64 from
    the differences and sorted. The result is exact: a query is accepted only when its
    ``(k + extra)``-th float32 candidate lies farther, by more than a worst-case float32 error
    bound (``4 (D + 2) u (‖q‖ + max ‖t‖)²``, u = 2⁻²⁴), than its k-th exact distance — so no
    row outside the candidates can be nearer; any other query is searched again in float64
    over all training rows.

    Parameters
    ----------
    queries : array_like, shape (M, ...)
    train : array_like, shape (N, ...)
        Flattened to (M, D) and (N, D); N ≥ k.
    k : int
    extra : int
        Candidates beyond k kept from the float32 pass.
    chunk : int
        Training rows per matrix product.

    Returns
    -------
    distances : numpy.ndarray, shape (M, k), float64
        Ascending Euclidean distances (units of the rows: pixel values in [0, 1], or features).
    indices : numpy.ndarray, shape (M, k), int64
        Row indices into ``train`` (ties by the lower index).
    """
    import torch

    t = np.asarray(train).reshape(len(train), -1)
    q = np.asarray(queries).reshape(len(queries), -1)
    if t.shape[0] < k:
        raise SampleQualityError(f"the training set has {t.shape[0]} images, fewer than the {k} neighbours asked for.")
    if t.shape[1] <= 15:
        load("sklearn.neighbors")
        from sklearn.neighbors import NearestNeighbors

        t32, q32 = np.ascontiguousarray(t, np.float32), np.ascontiguousarray(q, np.float32)
        d, i = NearestNeighbors(n_neighbors=k).fit(t32).kneighbors(q32)
        return d.astype(np.float64), i.astype(np.int64)
    t64, q64 = np.ascontiguousarray(t, np.float64), np.ascontiguousarray(q, np.float64)
    tt = torch.from_numpy(np.ascontiguousarray(t, np.float32))
    qt = torch.from_numpy(np.ascontiguousarray(q, np.float32))
    c = min(k + max(int(extra), 0), len(t))
    t_sq, q_sq = (tt * tt).sum(1), (qt * qt).sum(1)
    best_d = torch.full((len(q), 0), float("inf"))
    best_i = torch.zeros((len(q), 0), dtype=torch.int64)
    for s in range(0, len(t), chunk):
        d2 = torch.addmm(t_sq[None, s:s + chunk], qt, tt[s:s + chunk].T, beta=1.0, alpha=-2.0).add_(q_sq[:, None])
        vals, idx = torch.topk(d2, min(c, d2.shape[1]), dim=1, largest=False)
        vals, pick = torch.topk(torch.cat([best_d, vals], 1), min(c, best_d.shape[1] + vals.shape[1]), dim=1,
                                largest=False)
        best_i = torch.gather(torch.cat([best_i, idx + s], 1), 1, pick)
        best_d = vals
    cand = best_i.numpy()
    diff = t64[cand] - q64[:, None, :]  # (M, c, D)
    exact = np.sqrt(np.einsum("mcd,mcd->mc", diff, diff))
    order = np.lexsort((cand, exact), axis=-1)  # by distance, ties by the lower index
    exact_sorted = np.take_along_axis(exact, order, 1)
    idx_sorted = np.take_along_axis(cand, order, 1)
    d_out, i_out = exact_sorted[:, :k].copy(), idx_sorted[:, :k].copy()
    u = 2.0 ** -24
    bound = 4.0 * (t.shape[1] + 2) * u * (np.sqrt(q_sq.double().numpy()) + float(t_sq.max()) ** 0.5) ** 2
    if c >= len(t):
        ok = np.ones(len(q), bool)
    else:
        ok = best_d[:, -1].double().numpy() - bound > d_out[:, -1] ** 2
    redo = np.flatnonzero(~ok)
    if len(redo):
        d_out[redo], i_out[redo] = _exact_knn(q64, t64, redo, k)
    return d_out, i_out


@dataclass
class SpaceReport:
    """Memorisation in one space (pixels or features).

    Attributes
    ----------
    distances, indices : numpy.ndarray, shape (M, k)
        Each sample's nearest training images (ascending distance) and their indices into the training set.
    held_out_nearest : numpy.ndarray, shape (H,)
        Distance from each held-out image to its nearest training image.
    threshold : float
        The ``quantile`` of ``held_out_nearest``: closer than this, an image is nearer to
        the training set than held-out images typically are.
    fraction : float
        Fraction of samples whose nearest training image is closer than ``threshold``.
    p_value : float
        One-sided binomial test of ``fraction`` against ``quantile`` (held-out images fall below
        the threshold at that rate by construction).
    flagged : bool
        ``fraction ≥ 2 · quantile`` and ``p_value < 1e-3``.
    """

    distances: np.ndarray
    indices: np.ndarray
    held_out_nearest: np.ndarray
    threshold: float
    fraction: float
    p_value: float
    flagged: bool

    def to_dict(self) -> dict:
        """The JSON part: ``threshold``, ``fraction``, ``p_value``, ``flagged``, median distances."""
        return {"threshold": self.threshold, "fraction": self.fraction, "p_value": self.p_value,
                "flagged": self.flagged, "sample_median_distance": float(np.median(self.distances[:, 0])),
                "held_out_median_distance": float(np.median(self.held_out_nearest))}


def space_report(samples, held_out, train, k: int = NEIGHBOURS, quantile: float = QUANTILE,
                 held_out_nearest=None) -> SpaceReport:
    """Nearest training rows of samples and of held-out rows in one space, and the memorisation test.

    Parameters
    ----------
    samples : array_like, shape (M, D)
    held_out : array_like, shape (H, D)
        Rows of images the model never saw (the test split), H ≥ 1.
    train : array_like, shape (N, D)
        Rows of the model's training images.
    k : int
    quantile : float
        In (0, 0.5].
    held_out_nearest : array_like, shape (H,), optional
        Each held-out row's distance to its nearest training row, already computed (it does not
        depend on the model: the orchestration caches it); default computed here.

    Returns
    -------
    SpaceReport
    """
    load("scipy.stats")
    from scipy.stats import binomtest

    if not 0 < quantile <= 0.5:
        raise SampleQualityError(f"the memorisation quantile must lie in (0, 0.5], got {quantile}.")
    d, i = nearest_training(samples, train, k)
    if held_out_nearest is None:
        h = nearest_training(held_out, train, 1)[0]
    else:
        h = np.asarray(held_out_nearest, np.float64).reshape(-1, 1)
        if len(h) != len(held_out):
            raise SampleQualityError(f"held_out_nearest has {len(h)} distances for {len(held_out)} held-out rows.")
    threshold = float(np.quantile(h[:, 0], quantile))
    below = int((d[:, 0] < threshold).sum())
    m = d.shape[0]
    p = float(binomtest(below, m, quantile, alternative="greater").pvalue)
    fraction = below / m
    return SpaceReport(d, i, h[:, 0], threshold, fraction, p, bool(fraction >= 2 * quantile and p < P_VALUE))


@dataclass
class MemorisationReport:
    """Pixel- and feature-space memorisation of M samples against the training set.

    Attributes
    ----------
    sample_indices : numpy.ndarray, shape (M,)
        Which of the generated samples were examined (indices into the samples).
    pixel, feature : SpaceReport
        Distances in pixel space (L2 over pixel values in [0, 1]) and in the extractor's feature space.
    flagged : bool
        Either space flags copying.
    facts : dict
        Names and sizes: ``training_set``, ``held_out_set``, ``n_samples``, ``n_held_out``, ``n_train``,
        ``quantile``, ``neighbours``, ``extractor``.
    """

    sample_indices: np.ndarray
    pixel: SpaceReport
    feature: SpaceReport
    flagged: bool
    facts: dict

    def to_dict(self) -> dict:
        """The ``"memorisation"`` record: ``facts`` plus ``pixel``, ``feature`` (`SpaceReport.to_dict`), ``flagged``."""
        return {**self.facts, "expected_fraction": self.facts["quantile"], "flagged": self.flagged,
                "pixel": self.pixel.to_dict(), "feature": self.feature.to_dict(),
                "rule": (f"flagged when, in pixel or feature space, at least 2 × {self.facts['quantile']:g} of the "
                         "samples are closer to a training image than that quantile of held-out images is "
                         f"(one-sided binomial p < {P_VALUE:g})")}


def memorisation_report(sample_images, sample_features, held_out_images, held_out_features, train_images,
                        train_features, *, k: int = NEIGHBOURS, quantile: float = QUANTILE,
                        sample_indices=None, facts: dict | None = None,
                        held_out_nearest: dict | None = None) -> MemorisationReport:
    """Nearest training images of generated samples in pixel and feature space; flag a copying generator.

    For each sample, its ``k`` nearest training images (`nearest_training`, exact);
    the held-out (test) images' distances to their nearest training image calibrate the
    threshold: a generator whose samples are much more often closer to the training set than
    held-out images are (``quantile``) is copying training images.

    Parameters
    ----------
    sample_images : array_like, shape (M, C, H, W)
        float32 in [0, 1].
    sample_features : array_like, shape (M, F)
    held_out_images, held_out_features : array_like, shape (H, C, H, W) and (H, F)
    train_images, train_features : array_like, shape (N, C, H, W) and (N, F)
    k : int
    quantile : float
    sample_indices : array_like of int, shape (M,), optional
        Where the examined samples sit among all samples (default ``arange(M)``).
    facts : dict, optional
        Names and sizes recorded with the report.
    held_out_nearest : dict, optional
        ``{"pixel": (H,), "feature": (H,)}``: the held-out rows' nearest-training distances
        already computed (`space_report`); either key may be absent.

    Returns
    -------
    MemorisationReport
    """
    m = len(sample_images)
    if m < 1 or len(held_out_images) < 1:
        raise SampleQualityError("memorisation needs at least one sample and one held-out image.")
    flat = lambda a: np.asarray(a, np.float32).reshape(len(a), -1)  # noqa: E731
    held = held_out_nearest or {}
    pixel = space_report(flat(sample_images), flat(held_out_images), flat(train_images), k, quantile,
                         held.get("pixel"))
    feature = space_report(sample_features, held_out_features, train_features, k, quantile, held.get("feature"))
    info = {"n_samples": m, "n_held_out": len(held_out_images), "n_train": len(train_images),
            "quantile": quantile, "neighbours": k, **(facts or {})}
    idx = np.arange(m) if sample_indices is None else np.asarray(sample_indices, np.int64)
    return MemorisationReport(idx, pixel, feature, pixel.flagged or feature.flagged, info)
