"""Disentanglement scores on synthetic codes (factors, rotated factors, noise) and against the papers' formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier

from explorer.core.disentanglement import DisentanglementSettings, evaluate_disentanglement, sampled
from explorer.core.disentanglement import metrics as m
from explorer.core.jobs import Cancelled, JobContext
from explorer.data import Dataset
from explorer.data.factors import FactorSampler, GridSampler, ProceduralDspritesSampler, factor_sampler

SIZES = (4, 4, 4)


def _rotation() -> np.ndarray:
    """45° in the (0, 1) plane, then 45° in the (1, 2) plane: every factor spread over several dimensions."""
    c = s = math.sqrt(0.5)
    r01 = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    r12 = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    return r01 @ r12


def _codes(kind: str, classes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    a = classes + 0.1 * rng.normal(size=classes.shape)
    if kind == "factors":
        return a
    if kind == "rotated":
        return a @ _rotation().T
    return rng.normal(size=classes.shape)


@pytest.fixture(scope="module")
def synthetic():
    rng = np.random.default_rng(0)
    ytr = np.stack([rng.integers(0, s, 500) for s in SIZES], axis=1)
    yte = np.stack([rng.integers(0, s, 250) for s in SIZES], axis=1)
    out = {}
    for kind in ("factors", "rotated", "noise"):
        ztr, zte = _codes(kind, ytr, rng), _codes(kind, yte, rng)
        out[kind] = {
            "mig": m.mig(ztr, ytr)[0],
            "sap": m.sap(ztr, ytr, zte, yte)[0],
            "dci": m.dci(ztr, ytr, zte, yte, "gbt", seed=0),
            "modularity": m.modularity_from_mi(m.mutual_information_matrix(ztr, ytr).T),
            "explicitness": m.explicitness(ztr, ytr, zte, yte)[0],
        }
    return out


def test_scores_rank_factors_above_rotation_above_noise(synthetic):
    a, b, c = synthetic["factors"], synthetic["rotated"], synthetic["noise"]
    assert a["mig"] > 0.8 and b["mig"] < a["mig"] - 0.3 and c["mig"] < 0.05
    assert a["sap"] > 0.4 and b["sap"] < a["sap"] - 0.2 and c["sap"] < 0.05
    da, db, dc = (x["dci"]["disentanglement"] for x in (a, b, c))
    assert da > 0.8 and db < da - 0.3 and dc < 0.15
    assert a["dci"]["completeness"] > 0.8 and b["dci"]["completeness"] < a["dci"]["completeness"] - 0.3
    # both keep the information, noise has none: chance accuracy is 1/4
    assert a["dci"]["informativeness"] > 0.95 and b["dci"]["informativeness"] > 0.8
    assert c["dci"]["informativeness"] < 0.35
    assert a["modularity"] > 0.9 and b["modularity"] < a["modularity"] - 0.2
    assert a["explicitness"] > 0.95 and c["explicitness"] < 0.6


def _direct_mi_and_mig(codes, classes, bins=20):
    """Chen et al. 2018 eq. 5 by counting: equal-width bins over [min, max], I = Σ p(a,b) log p(a,b)/(p(a)p(b))."""
    n, d = codes.shape
    disc = np.empty((n, d), dtype=int)
    for j in range(d):
        lo, hi = codes[:, j].min(), codes[:, j].max()
        disc[:, j] = np.minimum(((codes[:, j] - lo) / (hi - lo) * bins).astype(int), bins - 1)
    k = classes.shape[1]
    mi = np.zeros((k, d))
    h = np.zeros(k)
    for f in range(k):
        for v in set(classes[:, f]):
            p = np.mean(classes[:, f] == v)
            h[f] -= p * math.log(p)
        for j in range(d):
            for v in set(classes[:, f]):
                for b in set(disc[:, j]):
                    pab = np.mean((classes[:, f] == v) & (disc[:, j] == b))
                    if pab > 0:
                        pa, pb = np.mean(classes[:, f] == v), np.mean(disc[:, j] == b)
                        mi[f, j] += pab * math.log(pab / (pa * pb))
    gaps = []
    for f in range(k):
        top = sorted(mi[f], reverse=True)
        gaps.append((top[0] - top[1]) / h[f])
    return mi, float(np.mean(gaps))


def test_mig_equals_the_formula_by_counting():
    rng = np.random.default_rng(1)
    classes = np.stack([rng.integers(0, 3, 120), rng.integers(0, 5, 120)], axis=1)
    codes = np.column_stack([classes[:, 0] + 0.3 * rng.normal(size=120), rng.normal(size=120),
                             classes[:, 1] + 0.5 * rng.normal(size=120)])
    score, mi = m.mig(codes, classes)
    want_mi, want = _direct_mi_and_mig(codes, classes)
    np.testing.assert_allclose(mi, want_mi, rtol=1e-10, atol=1e-12)
    assert score == pytest.approx(want, rel=1e-10)


def _direct_dci(r):
    """Eastwood & Williams 2018, sec. 3: weighted 1 − entropy of each row (base K) and each column (base D)."""
    d, k = r.shape
    dis = com = 0.0
    for j in range(d):
        p = r[j] / r[j].sum()
        h = -sum(x * math.log(x, k) for x in p if x > 0)
        dis += (1 - h) * r[j].sum() / r.sum()
    for f in range(k):
        p = r[:, f] / r[:, f].sum()
        h = -sum(x * math.log(x, d) for x in p if x > 0)
        com += (1 - h) * r[:, f].sum() / r.sum()
    return dis, com


def test_dci_matrix_and_scores_equal_direct_computation():
    rng = np.random.default_rng(2)
    y = np.stack([rng.integers(0, 3, 150), rng.integers(0, 2, 150)], axis=1)
    z = np.column_stack([y[:, 0] + 0.4 * rng.normal(size=150), y[:, 1] + 0.4 * rng.normal(size=150),
                         rng.normal(size=150)])
    out = m.dci(z[:100], y[:100], z[100:], y[100:], "gbt", seed=3)
    for f in range(2):
        ref = GradientBoostingClassifier(random_state=3).fit(z[:100], y[:100, f])
        np.testing.assert_allclose(out["importance"][:, f], ref.feature_importances_, rtol=1e-12)
    dis, com = _direct_dci(out["importance"])
    assert out["disentanglement"] == pytest.approx(dis, abs=1e-8)
    assert out["completeness"] == pytest.approx(com, abs=1e-8)
    r = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    assert m.dci_from_importance(r) == pytest.approx(_direct_dci(r), abs=1e-8)
    assert m.dci_from_importance(np.zeros((3, 2))) == (0.0, 0.0)


def test_modularity_equals_formula():
    mi = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 0.0], [0.2, 0.1, 0.4]])
    want = []
    for row in mi:
        theta = row.max()
        if theta == 0:
            want.append(0.0)
            continue
        i = int(np.argmax(row))
        want.append(1 - sum(row[k] ** 2 for k in range(3) if k != i) / (theta**2 * 2))
    assert m.modularity_from_mi(mi) == pytest.approx(np.mean(want), abs=1e-12)


class _CodeSampler(FactorSampler):
    """A sampler whose 'images' are the factor classes, so the representation is a function of the factors."""

    kind = "test"
    factor_names = ("a", "b", "c")
    factor_sizes = SIZES

    def images(self, classes):
        return np.asarray(classes, dtype=np.float64)


def _represent(kind: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    return lambda x: _codes(kind, x, rng)


@pytest.mark.parametrize("kind, lo, hi", [("factors", 0.95, 1.0), ("noise", 0.15, 0.5)])
def test_beta_vae_and_factor_vae_scores_near_one_for_factors_and_chance_for_noise(kind, lo, hi):
    sampler = _CodeSampler()
    beta = sampled.beta_vae_score(sampler, _represent(kind), 200, 100, batch_size=16, seed=0)["score"]
    fvae = sampled.factor_vae_score(sampler, _represent(kind), 200, 100, batch_size=16, n_variance=500, seed=0)
    assert lo <= beta <= hi  # chance: 1/3
    assert lo <= fvae["score"] <= hi and fvae["active_dims"] == 3


def test_factor_vae_prunes_collapsed_dimensions():
    sampler = _CodeSampler()
    represent = lambda x: np.column_stack([_codes("factors", x, np.random.default_rng(0)), np.zeros(len(x))])  # noqa: E731
    out = sampled.factor_vae_score(sampler, represent, 100, 50, batch_size=16, n_variance=300, seed=0)
    assert out["active_dims"] == 3 and out["score"] > 0.95
    dead = sampled.factor_vae_score(sampler, lambda x: np.zeros((len(x), 2)), 10, 10, batch_size=8,
                                    n_variance=50, seed=0)
    assert dead == {"score": 0.0, "train_accuracy": 0.0, "active_dims": 0}


def _grid_dataset(shuffle: bool = True) -> Dataset:
    """A complete 3 × 4 factor grid (12 'images' that are their own factors, shuffled)."""
    a, b = np.meshgrid(np.array([0.1, 0.5, 0.9]), np.array([-1.0, 0.0, 1.0, 2.0]), indexing="ij")
    factors = np.column_stack([a.ravel(), b.ravel()])
    order = np.random.default_rng(0).permutation(12) if shuffle else np.arange(12)
    factors = factors[order]
    images = np.zeros((12, 1, 2, 2), np.float32)
    images[:, 0, 0, 0], images[:, 0, 0, 1] = factors[:, 0], (factors[:, 1] + 1) / 3
    return Dataset(images=images, factors=factors, factor_names=("p", "q"), name="grid", source="test.npz")


def test_complete_grid_is_indexed_and_other_data_needs_a_grid():
    ds = _grid_dataset()
    sampler, reason = factor_sampler(ds)
    assert isinstance(sampler, GridSampler) and reason == "" and sampler.factor_sizes == (3, 4)
    classes = np.array([[0, 0], [2, 3], [1, 2]])
    got = sampler.images(classes)
    np.testing.assert_allclose(got[:, 0, 0, 0], [0.1, 0.9, 0.5], rtol=1e-6)
    np.testing.assert_allclose(got[:, 0, 0, 1] * 3 - 1, [-1.0, 2.0, 1.0], rtol=1e-6, atol=1e-6)
    partial = Dataset(images=ds.images[:10], factors=ds.factors[:10], name="part")
    assert factor_sampler(partial)[0] is None and "needs a complete factor grid" in factor_sampler(partial)[1]
    assert isinstance(factor_sampler(Dataset(images=np.zeros((1, 1, 64, 64), np.float32),
                                             factors=np.zeros((1, 5)), name="dsprites",
                                             source="generated"))[0], ProceduralDspritesSampler)


def test_procedural_sampler_renders_the_chosen_factor_values():
    from explorer.data import dsprites

    sampler = ProceduralDspritesSampler()
    assert sampler.factor_sizes == (3, 6, 40, 32, 32)
    classes = np.array([[2, 5, 0, 31, 0], [0, 0, 10, 0, 31]])
    values = np.array([[3, 1.0, 0.0, 1.0, 0.0], [1, 0.5, 10 * 2 * np.pi / 40, 0.0, 1.0]])
    np.testing.assert_array_equal(sampler.images(classes), dsprites.render(values))


def test_orchestration_without_a_grid_runs_the_rest_and_records_the_issue_keys():
    rng = np.random.default_rng(4)
    factors = np.stack([rng.integers(0, 3, 300), rng.integers(0, 4, 300)], axis=1).astype(float)
    images = factors[:, None, None, :].astype(np.float32)  # (N, 1, 1, 2): the code is the factor
    ds = Dataset(images=images, factors=factors, factor_names=("p", "q"), name="part", source="x.npz")
    settings = DisentanglementSettings(name="custom", n_train=150, n_test=90, dci_classifier="gbt")
    represent = lambda x: x.reshape(len(x), -1) + 0.05 * np.random.default_rng(0).normal(size=(len(x), 2))  # noqa: E731
    res = evaluate_disentanglement(None, ds, settings, seed=0, represent=represent, representation_name="identity")
    rec = res.record
    assert set(rec) == {"beta_vae", "factor_vae", "mig", "sap", "dci", "modularity", "explicitness", "settings",
                        "n_train", "n_test", "sklearn_version"}
    assert set(rec["dci"]) == {"disentanglement", "completeness", "informativeness"}
    assert rec["beta_vae"] is None and rec["factor_vae"] is None
    assert any("needs a complete factor grid" in n for n in rec["settings"]["notes"])
    assert rec["n_train"] == 150 and rec["n_test"] == 90 and rec["mig"] > 0.8
    assert res.carriers == (0, 1) and res.mutual_information.shape == (2, 2) and res.dci_importance.shape == (2, 2)
    again = evaluate_disentanglement(None, ds, settings, seed=0, represent=represent)
    assert again.record["mig"] == rec["mig"] and again.record["dci"] == rec["dci"]
    ctx = JobContext()
    ctx.cancel()
    with pytest.raises(Cancelled):
        evaluate_disentanglement(None, ds, settings, seed=0, ctx=ctx, represent=represent)


def test_orchestration_with_a_grid_gives_every_score():
    ds = _grid_dataset()
    represent = lambda x: np.column_stack([x[:, 0, 0, 0], x[:, 0, 0, 1]]) + 1e-3 * np.random.default_rng(1).normal(  # noqa: E731
        size=(len(x), 2))
    settings = DisentanglementSettings(name="custom", n_train=200, n_test=100, beta_vae_train=100, beta_vae_test=50,
                                       factor_vae_train=100, factor_vae_test=50, factor_vae_variance=200,
                                       batch_size=8, dci_classifier="hist_gbt")
    rec = evaluate_disentanglement(None, ds, settings, seed=0, represent=represent).record
    assert rec["beta_vae"] > 0.95 and rec["factor_vae"] > 0.95 and rec["settings"]["factor_source"] == "grid"
    assert rec["mig"] > 0.9 and rec["dci"]["disentanglement"] > 0.8


def test_settings_by_name():
    ref = DisentanglementSettings.named("reference")
    assert (ref.n_train, ref.n_test, ref.bins, ref.batch_size, ref.prune_std, ref.dci_classifier, ref.sap_c) == (
        10_000, 5_000, 20, 64, 0.05, "gbt", 0.01)
    fast = DisentanglementSettings.named("fast")
    assert fast.dci_classifier == "gbt_binned" and (fast.n_train, fast.n_test) == (ref.n_train, ref.n_test)
    assert (fast.dci_train, fast.dci_test) == (None, None) and (ref.dci_train, ref.dci_test) == (None, None)
    with pytest.raises(ValueError, match="reference"):
        DisentanglementSettings.named("slow")


def test_a_solver_that_stops_early_becomes_a_note_not_an_error():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(60, 3)), rng.integers(0, 3, 60)
    notes: list = []
    m.fit_quiet(LogisticRegression(max_iter=1), x, y, notes, "explicitness")
    assert notes == ["explicitness: scikit-learn's solver stopped at its iteration limit before converging"]
    m.fit_quiet(LogisticRegression(), x, y, notes, "explicitness")
    assert len(notes) == 1


def test_fast_dci_split_gain_importances_agree_with_the_reference_impurity_importances():
    """Histogram boosting with the reference's stages and depth, split-gain importances: close to GBT's."""
    rng = np.random.default_rng(4)
    ytr = np.stack([rng.integers(0, s, 300) for s in SIZES], axis=1)
    yte = np.stack([rng.integers(0, s, 150) for s in SIZES], axis=1)
    ztr, zte = _codes("rotated", ytr, rng), _codes("rotated", yte, rng)
    ref = m.dci(ztr, ytr, zte, yte, "gbt", seed=0)
    fast = m.dci(ztr, ytr, zte, yte, "hist_gain", seed=0)
    np.testing.assert_allclose(fast["importance"].sum(axis=0), 1.0, rtol=1e-12)  # normalised per factor, as GBT's
    assert (fast["importance"] >= 0).all()
    np.testing.assert_allclose(fast["importance"], ref["importance"], atol=0.06)
    for key in ("disentanglement", "completeness", "informativeness"):
        assert fast[key] == pytest.approx(ref[key], abs=0.04), key
    with pytest.raises(ValueError, match="hist_gain"):
        m.dci(ztr, ytr, zte, yte, "forest")
