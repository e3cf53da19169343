"""The fast DCI's boosting (binned_gbt): scikit-learn's GradientBoostingClassifier with a histogram split search."""

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier

from explorer.core.disentanglement import metrics as m
from explorer.core.disentanglement.binned_gbt import bin_thresholds, fit_binned_gbt


def _softmax(raw):
    if raw.shape[1] == 1:
        p1 = 1.0 / (1.0 + np.exp(-raw[:, 0]))
        return np.stack([1.0 - p1, p1], axis=1)
    e = np.exp(raw - raw.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _data(seed, n, d, k):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = np.round(2 * x[:, 0] + x[:, 1] + rng.normal(0, 1, n)).astype(int) % k
    return x, y


@pytest.mark.parametrize("k", [2, 3])
def test_the_trees_are_scikit_learns_when_every_value_has_its_own_bin(k):
    """≤ 255 distinct values per code: the histogram search sees every threshold the exact search sees."""
    x, y = _data(k, 240, 4, k)
    ref = GradientBoostingClassifier(random_state=0).fit(x, y)
    model = fit_binned_gbt(x, y)
    np.testing.assert_allclose(_softmax(model.decision_function(x)), ref.predict_proba(x), atol=1e-10)
    np.testing.assert_array_equal(model.predict(x), ref.predict(x))
    # Splits of equal gain (several features cutting a small node the same way) go to the first feature
    # here, to the first in a seeded random order in scikit-learn: on new points the labels can differ
    # (scikit-learn itself with random_state 1 or 2 agrees with random_state 0 on 88.6-98.8 % of these
    # points), and so can the importances (by up to 0.011 between those seeds).
    x_new = np.random.default_rng(99).normal(size=(500, 4))
    assert np.mean(model.predict(x_new) == ref.predict(x_new)) >= 0.98
    np.testing.assert_allclose(model.feature_importances_, ref.feature_importances_, atol=0.02)
    assert model.feature_importances_.sum() == pytest.approx(1.0, abs=1e-12)


def _direct(model, x, y):
    """Boost again by explicit loops over the points, from the model's splits; check each split is the best."""
    x = x.astype(np.float32).astype(np.float64)  # as scikit-learn's trees (and the model) see the codes
    n, d = x.shape
    classes = np.unique(y)
    onehot = (y[:, None] == classes[None, :]).astype(float)
    target = onehot[:, 1:] if len(classes) == 2 else onehot
    newton = 1.0 if len(classes) == 2 else (len(classes) - 1) / len(classes)
    stages, trees, n_inner = model.feature.shape
    depth = int(np.log2(n_inner + 1))
    raw = np.tile(model.init, (n, 1))
    importance = np.zeros(d)

    def sse(values):
        return float(np.sum((values - values.mean()) ** 2)) if len(values) else 0.0

    for s in range(stages):
        p = _softmax(raw)[:, 1:] if len(classes) == 2 else _softmax(raw)
        r = target - p
        for t in range(trees):
            paths = []
            for i in range(n):
                j, path = 0, [0]
                for _ in range(depth):
                    j = 2 * j + 1 + int(x[i, model.feature[s, t, j]] > model.threshold[s, t, j])
                    path.append(j)
                paths.append(path)
            for j in range(n_inner):
                inside = np.array([i for i in range(n) if j in paths[i]], dtype=int)
                # the best squared-error reduction over every feature and candidate threshold
                best = -np.inf
                for f in range(d):
                    for thr in model.bin_edges[f]:
                        go = x[inside, f] > thr
                        if 0 < go.sum() < len(inside):
                            best = max(best, sse(r[inside, t]) - sse(r[inside[~go], t]) - sse(r[inside[go], t]))
                f = model.feature[s, t, j]
                if model.threshold[s, t, j] == np.inf:  # not split: no threshold separates its points, or pure
                    assert best == -np.inf or np.var(r[inside, t]) <= 1e-15
                    continue
                left = np.array([i for i in inside if 2 * j + 1 in paths[i]], dtype=int)
                right = np.array([i for i in inside if 2 * j + 2 in paths[i]], dtype=int)
                gain = sse(r[inside, t]) - sse(r[left, t]) - sse(r[right, t])
                assert gain == pytest.approx(best, abs=1e-12)
                importance[f] += gain
            for leaf in range(2 ** depth):
                inside = [i for i in range(n) if paths[i][-1] == n_inner + leaf]
                if inside:
                    h = np.sum(p[inside, t] * (1 - p[inside, t]))
                    assert model.value[s, t, leaf] == pytest.approx(newton * np.sum(r[inside, t]) / h, rel=1e-9)
                    raw[inside, t] += model.learning_rate * model.value[s, t, leaf]
    return importance / importance.sum(), raw


@pytest.mark.parametrize("k", [2, 3])
def test_importances_are_the_squared_error_reductions_of_a_direct_computation(k):
    """Few bins (quantile thresholds): the splits, leaves and importances of explicit loops."""
    x, y = _data(10 + k, 50, 3, k)
    model = fit_binned_gbt(x, y, n_stages=4, max_bins=6)
    assert all(len(t) <= 5 for t in model.bin_edges)
    importance, raw = _direct(model, x, y)
    np.testing.assert_allclose(model.feature_importances_, importance, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model.decision_function(x), raw, rtol=1e-9, atol=1e-12)


def test_thresholds_are_midpoints_or_quantiles():
    np.testing.assert_allclose(bin_thresholds(np.array([3.0, 1.0, 1.0, 2.0])), [1.5, 2.5])
    col = np.arange(1000.0)
    thr = bin_thresholds(col, max_bins=4)
    np.testing.assert_allclose(thr, np.percentile(col, [25, 50, 75], method="midpoint"))


def test_fitting_is_deterministic_and_bad_input_is_one_sentence():
    x, y = _data(3, 200, 4, 4)
    a, b = fit_binned_gbt(x, y, n_stages=20), fit_binned_gbt(x, y, n_stages=20)
    np.testing.assert_array_equal(a.feature_importances_, b.feature_importances_)
    np.testing.assert_array_equal(a.decision_function(x), b.decision_function(x))
    np.testing.assert_array_equal(a.train_prediction, a.predict(x))
    with pytest.raises(ValueError, match="at least 2 classes"):
        fit_binned_gbt(x, np.zeros(200))
    with pytest.raises(ValueError, match="finite"):
        fit_binned_gbt(np.full((200, 4), np.nan), y)
    with pytest.raises(ValueError, match="max_bins"):
        fit_binned_gbt(x, y, max_bins=1)


def test_the_dci_of_binned_boosting_is_close_to_the_reference_and_deterministic():
    rng = np.random.default_rng(4)
    sizes = (3, 4)
    ytr = np.stack([rng.integers(0, s, 300) for s in sizes], axis=1)
    yte = np.stack([rng.integers(0, s, 150) for s in sizes], axis=1)
    rot = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    ztr = np.c_[ytr / np.array(sizes), rng.random(300)] @ rot + 0.05 * rng.normal(size=(300, 3))
    zte = np.c_[yte / np.array(sizes), rng.random(150)] @ rot + 0.05 * rng.normal(size=(150, 3))
    ref = m.dci(ztr, ytr, zte, yte, "gbt", seed=0)
    fast = m.dci(ztr, ytr, zte, yte, "gbt_binned", seed=0)
    again = m.dci(ztr, ytr, zte, yte, "gbt_binned", seed=0)
    np.testing.assert_array_equal(fast["importance"], again["importance"])
    np.testing.assert_allclose(fast["importance"].sum(axis=0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(fast["importance"], ref["importance"], atol=0.02)
    for key in ("disentanglement", "completeness", "informativeness"):
        assert fast[key] == pytest.approx(ref[key], abs=0.02), key
