"""Tests for explorer.core.clustering against scikit-learn's k-means and cluster scores."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import (
    adjusted_rand_score,
    homogeneity_completeness_v_measure,
    normalized_mutual_info_score,
    silhouette_score,
)

from explorer.core.clustering import (
    DEFAULT_N_INIT,
    ClusteringResult,
    cluster,
    cluster_codes,
    clustering_scores,
    evaluate_clustering,
    k_sweep,
    silhouette,
    sweep_table,
)
from explorer.core.jobs import Cancelled, JobContext


@pytest.fixture(scope="module")
def blobs():
    """1500 codes (d = 16) in 5 Gaussian blobs, their true labels and a 2-D embedding."""
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 5, size=(5, 16))
    y = np.repeat(np.arange(5), 300)
    x = (centres[y] + rng.normal(size=(1500, 16))).astype(np.float32)
    emb = x[:, :2] * 0.5 + rng.normal(scale=0.01, size=(1500, 2)).astype(np.float32)
    return x, y, emb


def test_cluster_codes_matches_sklearn_and_is_deterministic(blobs):
    x, _, _ = blobs
    labels = cluster_codes(x, 5, seed=3)
    assert labels.shape == (1500,) and labels.dtype == np.int64
    assert set(np.unique(labels)) == set(range(5))
    np.testing.assert_array_equal(labels, KMeans(n_clusters=5, random_state=3, n_init=DEFAULT_N_INIT).fit_predict(x))
    np.testing.assert_array_equal(labels, cluster_codes(x, 5, seed=3))


def test_different_seeds_may_permute_but_blobs_are_found(blobs):
    x, y, _ = blobs
    scores = clustering_scores(y, cluster_codes(x, 5, seed=11))
    assert scores["v_measure"] > 0.99 and scores["ari"] > 0.99


def test_scores_equal_sklearn_exactly(blobs):
    x, y, _ = blobs
    rng = np.random.default_rng(1)
    pred = cluster_codes(x, 7, seed=0)
    noisy = np.where(rng.random(1500) < 0.3, rng.integers(0, 7, 1500), pred)
    scores = clustering_scores(y, noisy)
    h, c, v = homogeneity_completeness_v_measure(y, noisy)
    assert scores == {
        "homogeneity": h,
        "completeness": c,
        "v_measure": v,
        "ari": adjusted_rand_score(y, noisy),
        "nmi": normalized_mutual_info_score(y, noisy),
    }
    assert all(type(value) is float for value in scores.values())
    # string class names work as well
    names = np.array(["shirt", "bag", "boot", "coat", "dress"])[y]
    named = clustering_scores(names, noisy)
    assert named == pytest.approx(scores, rel=1e-12)  # label order changes the summation order only


def test_scores_reject_mismatched_labels():
    with pytest.raises(ValueError):
        clustering_scores([0, 1, 1], [0, 1])


def test_silhouette_without_labels(blobs):
    x, _, _ = blobs
    labels = cluster_codes(x, 5, seed=0)
    score, sample = silhouette(x, labels)
    assert sample is None and score == pytest.approx(silhouette_score(x, labels), abs=1e-12)
    assert silhouette(x, np.zeros(1500, dtype=int)) == (None, None)
    result = cluster(x, 5, seed=0)
    assert result.scores is None and result.silhouette == pytest.approx(score, abs=1e-12)
    assert result.silhouette_sample_size is None


def test_silhouette_samples_large_sets_with_a_seed(blobs):
    x, _, _ = blobs
    labels = cluster_codes(x, 5, seed=0)
    score, sample = silhouette(x, labels, seed=4, max_samples=500)
    assert sample == 500
    assert score == pytest.approx(silhouette_score(x, labels, sample_size=500, random_state=4), abs=1e-12)
    assert silhouette(x, labels, seed=4, max_samples=500)[0] == score


def test_cluster_result_fields(blobs):
    x, y, _ = blobs
    result = cluster(x, 5, seed=2, space="latent", labels_true=y)
    assert isinstance(result, ClusteringResult)
    assert (result.space, result.k, result.seed, result.n) == ("latent", 5, 2, 1500)
    assert result.silhouette is None  # labels given: silhouette only on request
    assert result.scores == clustering_scores(y, result.labels)
    d = result.to_dict()
    assert d["space"] == "latent" and d["v_measure"] == result.scores["v_measure"]
    json.dumps(d)
    with pytest.raises(ValueError):
        cluster(x, 5, space="pixels")
    with pytest.raises(ValueError):
        cluster(x, 0)


def test_k_sweep_shape_progress_and_cancel(blobs):
    x, y, _ = blobs
    seen = []
    ks = [2, 3, 5, 8]
    results = k_sweep(x, ks, y, seed=0, ctx=JobContext(on_progress=lambda f, m: seen.append(f)))
    assert [r.k for r in results] == ks and all(r.labels.shape == (1500,) for r in results)
    for r in results:
        assert r.scores == clustering_scores(y, cluster_codes(x, r.k, seed=0))
    assert seen == [0.0, 0.25, 0.5, 0.75, 1.0]
    best = max(results, key=lambda r: r.scores["v_measure"])
    assert best.k == 5
    rows = sweep_table(results)
    assert [row["k"] for row in rows] == ks and set(rows[0]) >= {"homogeneity", "completeness", "v_measure"}
    # without labels: silhouette per k
    unlabelled = k_sweep(x, [2, 5], seed=0)
    assert all(r.scores is None and r.silhouette is not None for r in unlabelled)
    ctx = JobContext()
    ctx.cancel()
    with pytest.raises(Cancelled):
        k_sweep(x, ks, y, ctx=ctx)
    with pytest.raises(ValueError):
        k_sweep(x, [], y)


def test_evaluate_clustering_record(blobs):
    x, y, emb = blobs
    rec = evaluate_clustering(x, emb, y, k=5, space="latent", seed=0)
    assert set(rec) == {"space", "k", "homogeneity", "completeness", "v_measure", "ari", "nmi",
                        "silhouette", "silhouette_sample_size", "n_images"}
    assert rec["space"] == "latent" and rec["k"] == 5 and rec["n_images"] == 1500
    ref = clustering_scores(y, cluster_codes(x, 5, seed=0))
    assert {k: rec[k] for k in ref} == ref
    json.dumps(rec)
    rec_emb = evaluate_clustering(x, emb, y, k=5, space="embedding", seed=0)
    assert rec_emb["space"] == "embedding"
    assert rec_emb["v_measure"] == clustering_scores(y, cluster_codes(emb, 5, seed=0))["v_measure"]
    no_labels = evaluate_clustering(x, None, None, k=5)
    assert no_labels["v_measure"] is None and no_labels["silhouette"] is not None
    with pytest.raises(ValueError, match="embedding"):
        evaluate_clustering(x, None, y, k=5, space="embedding")
