"""Gradient-boosted trees with GradientBoostingClassifier's algorithm and a histogram split search (the fast DCI).

`GradientBoostingClassifier` (Friedman 2001, "Greedy function approximation", Algorithm 1
with the multinomial deviance; scikit-learn's defaults, the reference DCI's classifier)
builds, at every stage and for every class, a least-squares regression tree of depth 3 on
the negative gradient ``y_k − p_k`` of the multinomial log-loss (one tree on ``y − p`` for
two classes), sets each leaf to one Newton step ``(K−1)/K · Σ(y_k − p_k) / Σ p_k(1 − p_k)``
(``Σ(y − p) / Σ p(1 − p)`` for two classes), and adds it with learning rate 0.1. Its
``feature_importances_`` are each split's reduction of the squared error of those negative
gradients, summed per feature over every tree and normalised to sum 1.

`fit_binned_gbt` does the same, stage by stage and tree by tree, with one change: a node's
split is searched over at most ``max_bins`` thresholds per feature (the midpoints between
the training values when a feature has at most that many distinct values — then the
partitions are exactly the exact search's —, else the midpoints of ``max_bins`` quantiles),
from per-bin sums of the gradients (a histogram, as LightGBM and
``HistGradientBoostingClassifier``), instead of over every distinct value after sorting.
As scikit-learn's trees, it sees the codes rounded to float32 and puts each threshold
halfway between the largest value that goes left and the smallest that goes right; nodes
whose gradients do not vary are not split; of several splits with the same gain the first
feature wins (scikit-learn: the first in a seeded random order of the features).
``HistGradientBoostingClassifier`` is not the same algorithm: its splits maximise the
hessian-weighted (Newton) gain ``G_L²/H_L + G_R²/H_R − G²/H`` rather than the squared-error
reduction ``G_L²/n_L + G_R²/n_R − G²/n``, and its leaves lack the ``(K−1)/K`` factor.

The histograms of all ``K`` trees of a stage come from one sparse product (points × bins)
per tree level, the sibling's by subtraction from its parent's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer.importing import load

#: Thresholds per feature at most (as `HistGradientBoostingClassifier`'s ``max_bins``).
DEFAULT_MAX_BINS = 255

# scikit-learn's tree builder leaves a node whose impurity is at most this unsplit (_tree.pyx EPSILON).
_EPSILON = float(np.finfo(np.float64).eps)


def bin_thresholds(column: np.ndarray, max_bins: int = DEFAULT_MAX_BINS) -> np.ndarray:
    """Candidate split thresholds of one feature: ``(n_thresholds,)`` float64, increasing.

    The midpoints between consecutive distinct values when there are at most ``max_bins``
    of them (the exact search's candidates); otherwise the ``max_bins − 1`` inner
    percentiles (``numpy.percentile(..., method="midpoint")``), duplicates removed.

    Parameters
    ----------
    column : numpy.ndarray, shape (N,), float
    max_bins : int
        At least 2.
    """
    column = np.asarray(column, dtype=np.float64)
    values = np.unique(column)
    if len(values) <= max_bins:
        return (values[:-1] + values[1:]) / 2.0
    return np.unique(np.percentile(column, np.linspace(0, 100, max_bins + 1)[1:-1], method="midpoint"))


@dataclass(frozen=True)
class BinnedGBT:
    """A fitted `fit_binned_gbt` model: ``S`` stages of ``T`` complete binary trees of depth ``L``.

    Trees are stored in heap order: inner node ``j`` (0 the root) has children ``2j + 1``
    and ``2j + 2``; a point goes right when its value on ``feature`` exceeds ``threshold``
    (+inf for a node that did not split: every point goes left).

    Attributes
    ----------
    classes : numpy.ndarray, shape (K,)
        Sorted class labels.
    bin_edges : tuple of numpy.ndarray
        Per feature, the candidate thresholds the split search saw (`bin_thresholds`).
    feature : numpy.ndarray, shape (S, T, 2^L − 1), int64
        Feature of each inner node's split.
    threshold : numpy.ndarray, shape (S, T, 2^L − 1), float64
        Threshold of each inner node's split: as scikit-learn's, halfway between the largest
        value that goes left and the smallest that goes right (the values of the node's
        points when a bin holds one distinct value, else the bins' training extremes).
    value : numpy.ndarray, shape (S, T, 2^L), float64
        Leaf values (the Newton steps, before the learning rate), leaves left to right.
    init : numpy.ndarray, shape (T,), float64
        Raw prediction before the first stage (log prior, or log odds for two classes).
    learning_rate : float
    feature_importances_ : numpy.ndarray, shape (D,), float64
        Squared-error reduction of the splits on each feature, normalised to sum 1.
    train_prediction : numpy.ndarray, shape (N,)
        The fit's class labels of its own training codes (what ``predict`` gives on them).
    """

    classes: np.ndarray
    bin_edges: tuple
    feature: np.ndarray
    threshold: np.ndarray
    value: np.ndarray
    init: np.ndarray
    learning_rate: float
    feature_importances_: np.ndarray
    train_prediction: np.ndarray

    @property
    def max_depth(self) -> int:
        """Depth ``L`` of every tree."""
        return int(np.log2(self.value.shape[2]))

    def leaves(self, x: np.ndarray, stage: int) -> np.ndarray:
        """Leaf (0 … 2^L − 1) of each point ``x`` ``(n, D)`` in each tree of one stage: ``(n, T)`` int64."""
        x = _as_codes(x)
        n, d = x.shape
        t, n_inner = self.feature.shape[1:]
        key_t = np.arange(t)[None, :] * n_inner
        rows = np.arange(n)[:, None] * d
        flat = x.ravel()
        node = np.zeros((n, t), dtype=np.int64)
        for level in range(self.max_depth):
            key = key_t + (2 ** level - 1) + node
            node = 2 * node + (np.take(flat, rows + np.take(self.feature[stage], key))
                               > np.take(self.threshold[stage], key))
        return node

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """Raw predictions ``(n, T)`` float64: log-odds (two classes, T = 1) or per-class scores."""
        x = _as_codes(x)
        raw = np.tile(self.init, (len(x), 1))
        cols = np.arange(self.value.shape[1])[None, :]
        for s in range(self.value.shape[0]):
            raw += self.learning_rate * self.value[s][cols, self.leaves(x, s)]
        return raw

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class labels ``(n,)``: the largest raw score (log-odds > 0 for two classes)."""
        return _labels(self.classes, self.decision_function(x))


def _as_codes(x: np.ndarray) -> np.ndarray:
    """Codes as scikit-learn's trees see them: rounded to float32, held as float64."""
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def _labels(classes: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """Class labels of raw predictions ``(n, T)``."""
    if raw.shape[1] == 1:
        return classes[(raw[:, 0] > 0).astype(np.int64)]
    return classes[np.argmax(raw, axis=1)]


def fit_binned_gbt(x: np.ndarray, y: np.ndarray, n_stages: int = 100, learning_rate: float = 0.1,
                   max_depth: int = 3, max_bins: int = DEFAULT_MAX_BINS) -> BinnedGBT:
    """Fit `GradientBoostingClassifier`'s boosting (module docstring) with a histogram split search.

    The defaults are `GradientBoostingClassifier`'s (100 stages, learning rate 0.1, depth 3,
    leaves of ≥ 1 point, subsample 1, no early stopping). As there, a node whose negative
    gradients have a variance ≤ machine epsilon is not split. Where several splits have the
    same gain, the first feature and threshold win (scikit-learn takes the first in a seeded
    random order of the features), so where several features cut a node the same way the
    importances, and the labels of new points, can differ from scikit-learn's — as they differ
    between two ``random_state`` of scikit-learn's.

    Parameters
    ----------
    x : numpy.ndarray, shape (N, D), float
        Training codes, finite.
    y : numpy.ndarray, shape (N,)
        Class labels; at least 2 distinct.
    n_stages, learning_rate, max_depth :
        As `GradientBoostingClassifier`'s ``n_estimators``, ``learning_rate``, ``max_depth``.
    max_bins : int
        Thresholds searched per feature at most (`bin_thresholds`), 2 … 1,024.

    Returns
    -------
    BinnedGBT

    Raises
    ------
    ValueError
        For fewer than 2 classes, non-finite codes, mismatched lengths or bad settings.
    """
    load("scipy.sparse")
    import scipy.sparse as sp

    x = _as_codes(x)
    y = np.asarray(y)
    if x.ndim != 2 or y.shape != (len(x),):
        raise ValueError(f"codes must be (N, D) and labels (N,), got {x.shape} and {y.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("codes must be finite")
    if n_stages < 1 or max_depth < 1 or not 2 <= max_bins <= 1024 or not learning_rate > 0:
        raise ValueError(f"need n_stages ≥ 1, max_depth ≥ 1, 2 ≤ max_bins ≤ 1024 and learning_rate > 0, got "
                         f"{n_stages}, {max_depth}, {max_bins}, {learning_rate}")
    classes, yi = np.unique(y, return_inverse=True)
    k = len(classes)
    if k < 2:
        raise ValueError("boosting needs at least 2 classes")
    n, d = x.shape
    thresholds = tuple(bin_thresholds(x[:, f], max_bins) for f in range(d))
    n_bins = max(len(t) for t in thresholds) + 1
    xb = np.stack([np.searchsorted(t, x[:, f], side="left") for f, t in enumerate(thresholds)], axis=1)
    # smallest and largest training value in each bin (NaN for bins a feature does not have)
    low, high = np.full((d, n_bins), np.nan), np.full((d, n_bins), np.nan)
    for f in range(d):
        order = np.argsort(xb[:, f], kind="stable")
        present, start = np.unique(xb[order, f], return_index=True)
        low[f, present] = np.minimum.reduceat(x[order, f], start)
        high[f, present] = np.maximum.reduceat(x[order, f], start)
    onehot = np.eye(k)[yi]
    prior = onehot.mean(axis=0)
    if k == 2:  # one tree per stage on the log-odds (HalfBinomialLoss)
        target, init, newton = onehot[:, 1:], np.array([np.log(prior[1] / prior[0])]), 1.0
    else:  # one tree per class (HalfMultinomialLoss); leaves scaled by (K - 1) / K as scikit-learn's
        target, init, newton = onehot, np.log(prior), (k - 1) / k
    t = target.shape[1]
    # point i in bin b of feature f is entry (f * n_bins + b, i) of a 0/1 matrix: histograms are products with it
    cells = xb + (np.arange(d) * n_bins)[None, :]
    onehot_bins = sp.csr_matrix((np.ones(n * d), (cells.ravel(), np.repeat(np.arange(n), d))), shape=(d * n_bins, n))
    count_root = np.asarray(onehot_bins.sum(axis=1)).reshape(d, n_bins, 1, 1)
    n_inner, n_leaves = 2 ** max_depth - 1, 2 ** max_depth
    feature = np.zeros((n_stages, t, n_inner), dtype=np.int64)
    split_bin = np.full((n_stages, t, n_inner), n_bins, dtype=np.int64)
    threshold = np.full((n_stages, t, n_inner), np.inf)
    bins_ = np.arange(n_bins)
    value = np.zeros((n_stages, t, n_leaves))
    importance = np.zeros(d)
    raw = np.tile(init, (n, 1))
    cols = np.arange(t)[None, :]
    key_t, rows, flat = cols * n_inner, np.arange(n)[:, None] * d, xb.ravel()
    for s in range(n_stages):
        if k == 2:
            p = 1.0 / (1.0 + np.exp(-raw))
        else:
            e = np.exp(raw - raw.max(axis=1, keepdims=True))
            p = e / e.sum(axis=1, keepdims=True)
        residual = target - p  # the negative gradient each tree fits
        node = np.zeros((n, t), dtype=np.int64)  # index of each point's node within the level, per tree
        parent_sums = parent_counts = None
        for level in range(max_depth):
            width = 2 ** level
            if level == 0:
                sums = (onehot_bins @ residual).reshape(d, n_bins, t, 1)
                counts = np.broadcast_to(count_root, (d, n_bins, t, 1))
            else:  # left children from the points, right children = parent − left
                half = width // 2
                w = np.empty((n, 2, t, half))
                np.equal(node[:, :, None], 2 * np.arange(half)[None, None, :], out=w[:, 1])
                np.multiply(residual[:, :, None], w[:, 1], out=w[:, 0])
                left = (onehot_bins @ w.reshape(n, -1)).reshape(d, n_bins, 2, t, half)
                sums, counts = np.empty((d, n_bins, t, width)), np.empty((d, n_bins, t, width))
                sums[..., 0::2], sums[..., 1::2] = left[:, :, 0], parent_sums - left[:, :, 0]
                counts[..., 0::2], counts[..., 1::2] = left[:, :, 1], parent_counts - left[:, :, 1]
            # node totals and squared-error impurity (scikit-learn leaves pure nodes unsplit)
            total, size = sums[0].sum(axis=0), counts[0].sum(axis=0)
            square = np.bincount((cols * width + node).ravel(), weights=(residual ** 2).ravel(),
                                 minlength=t * width).reshape(t, width)
            cum_s, cum_n = np.cumsum(sums[:, :-1], axis=1), np.cumsum(counts[:, :-1], axis=1)
            rest = size - cum_n
            with np.errstate(divide="ignore", invalid="ignore"):
                impurity = square / size - (total / size) ** 2
                score = np.where((cum_n >= 1) & (rest >= 1), cum_s * cum_s / cum_n + (total - cum_s) ** 2 / rest,
                                 -np.inf).reshape(d * (n_bins - 1), t, width)
                best = np.argmax(score, axis=0)
                gain = np.take_along_axis(score, best[None], 0)[0] - total * total / size
            split = np.isfinite(gain) & (impurity > _EPSILON)
            bf, bb = best // (n_bins - 1), best % (n_bins - 1)
            first = width - 1
            feature[s, :, first:first + width] = np.where(split, bf, 0)
            split_bin[s, :, first:first + width] = np.where(split, bb, n_bins)
            np.add.at(importance, bf[split], np.maximum(gain[split], 0.0))
            # threshold halfway between the node's last non-empty bin on the left and first on the right
            on = counts[bf[..., None], bins_, cols.T[..., None], np.arange(width)[None, :, None]] > 0
            lo = np.where(on & (bins_ <= bb[..., None]), bins_, 0).max(axis=-1)
            hi = np.where(on & (bins_ > bb[..., None]), bins_, n_bins - 1).min(axis=-1)
            a, b = high[bf, lo], low[bf, hi]
            mid = a / 2.0 + b / 2.0  # scikit-learn's midpoint, and its guard against rounding up to b
            mid = np.where(mid == b, a, mid)
            threshold[s, :, first:first + width] = np.where(split, mid, np.inf)
            key = key_t + first + node
            node = 2 * node + (np.take(flat, rows + np.take(feature[s], key)) > np.take(split_bin[s], key))
            parent_sums, parent_counts = sums, counts
        leaf = (cols * n_leaves + node).ravel()
        num = np.bincount(leaf, weights=residual.ravel(), minlength=t * n_leaves)
        den = np.bincount(leaf, weights=(p * (1.0 - p)).ravel(), minlength=t * n_leaves)
        with np.errstate(divide="ignore", invalid="ignore"):
            value[s] = np.where(np.abs(den) < 1e-150, 0.0, newton * num / den).reshape(t, n_leaves)
        raw += learning_rate * value[s][cols, node]
    total_importance = importance.sum()
    return BinnedGBT(classes=classes, bin_edges=thresholds, feature=feature, threshold=threshold, value=value,
                     init=init, learning_rate=float(learning_rate),
                     feature_importances_=importance / total_importance if total_importance > 0 else importance,
                     train_prediction=_labels(classes, raw))
