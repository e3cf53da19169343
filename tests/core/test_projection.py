"""Tests for explorer.core.projection: estimators, spec keys, disk cache and the worker process.

This is the only test module that fits UMAP (numba compiles for ~15 s per process); its
fits share one worker through a module-scoped fixture.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import signal
import threading
import time
import warnings

import numpy as np
import pytest
from sklearn.decomposition import PCA

from explorer.core.jobs import Cancelled, JobContext
from explorer.core.projection import (
    METHODS,
    IdentityProjection,
    NearestNeighbourPlacement,
    PCAProjection,
    ProjectionCache,
    ProjectionSpec,
    ProjectionWorker,
    ProjectionWorkerBusy,
    ProjectionWorkerDied,
    TSNEProjection,
    compute_projection,
    default_cache_directory,
    file_sha256,
    projection_cache_key,
)

TSNE_FAST = {"n_iter": 100, "early_exaggeration_iter": 50, "perplexity": 20}


@pytest.fixture(scope="module")
def codes() -> np.ndarray:
    """600 latent codes, d = 8, in three Gaussian blobs (float32)."""
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 6, size=(3, 8))
    x = centres[np.repeat(np.arange(3), 200)] + rng.normal(size=(600, 8))
    return x.astype(np.float32)


class Recorder:
    """Collects (fraction, message) progress reports; can signal the first one matching a word."""

    def __init__(self, word: str | None = None):
        self.items: list[tuple[float, str]] = []
        self.word = word
        self.seen = threading.Event()

    def __call__(self, fraction: float, message: str) -> None:
        self.items.append((fraction, message))
        if self.word is None or self.word in message:
            self.seen.set()


def run_in_thread(fn, *args, **kwargs):
    """Start ``fn`` in a thread; return (thread, box) where box gets 'result' or 'error' and 't_end'."""
    box: dict = {}

    def target():
        try:
            box["result"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001
            box["error"] = exc
        box["t_end"] = time.monotonic()

    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t, box


def process_gone(pid: int) -> bool:
    """True when no process (not even a zombie) has ``pid`` among our children."""
    if any(p.pid == pid for p in multiprocessing.active_children()):
        return False
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return not os.path.exists(f"/proc/{pid}")
    return False


# -- spec ------------------------------------------------------------------------------


def test_spec_key_is_stable_and_resolves_defaults():
    a = ProjectionSpec("umap")
    b = ProjectionSpec("UMAP", {"n_neighbors": 15.0, "min_dist": 0.1, "metric": "euclidean", "n_epochs": 200}, seed=0)
    assert a == b and hash(a) == hash(b) and a.key() == b.key()
    # the literal text is part of the contract: cache files from earlier runs must still match
    assert a.key() == 'umap:metric="euclidean",min_dist=0.1,n_epochs=200,n_neighbors=15;seed=0'
    # the default was umap-learn's choice (None) before: a session that saved it keeps its key
    assert ProjectionSpec("umap", {"n_epochs": None}).key() == \
        'umap:metric="euclidean",min_dist=0.1,n_epochs=null,n_neighbors=15;seed=0'
    assert ProjectionSpec("pca").key() == "pca:;seed=0"
    assert ProjectionSpec("tsne", seed=3).key() == (
        'tsne:early_exaggeration_iter=250,metric="euclidean",n_iter=500,perplexity=30.0;seed=3'
    )


@pytest.mark.parametrize(
    "method, changes",
    [
        ("umap", {"n_neighbors": 30, "min_dist": 0.5, "metric": "cosine", "n_epochs": 100}),
        ("tsne", {"perplexity": 10, "metric": "cosine", "n_iter": 300, "early_exaggeration_iter": 100}),
    ],
)
def test_spec_key_changes_with_every_parameter_and_seed(method, changes):
    base = ProjectionSpec(method)
    keys = {base.key()}
    for name, value in changes.items():
        changed = base.replace(**{name: value})
        assert changed.params[name] == value
        keys.add(changed.key())
    keys.add(base.replace(seed=1).key())
    assert len(keys) == len(changes) + 2
    assert len({ProjectionSpec(m).key() for m in METHODS}) == len(METHODS)


@pytest.mark.parametrize(
    "method, params, seed",
    [
        ("kpca", {}, 0),
        ("umap", {"perplexity": 5}, 0),
        ("umap", {"n_neighbors": 2.5}, 0),
        ("umap", {"n_neighbors": 1}, 0),
        ("umap", {"min_dist": "far"}, 0),
        ("tsne", {"perplexity": -1}, 0),
        ("pca", {}, -1),
        ("pca", {}, 1.5),
    ],
)
def test_spec_rejects_bad_input(method, params, seed):
    with pytest.raises(ValueError):
        ProjectionSpec(method, params, seed)


# -- estimators in this process ---------------------------------------------------------


def test_pca_equals_sklearn(codes):
    proj = compute_projection(codes, ProjectionSpec("pca", seed=0))
    ref = PCA(n_components=2, random_state=0).fit(codes)
    assert proj.embedding.shape == (600, 2) and proj.embedding.dtype == np.float32
    np.testing.assert_allclose(proj.embedding, PCA(n_components=2, random_state=0).fit_transform(codes),
                               rtol=0, atol=1e-5)
    new = codes[:5] + 0.5
    np.testing.assert_allclose(proj.transform(new), ref.transform(new), rtol=0, atol=1e-5)
    assert proj.transform_kind == "exact"
    assert isinstance(proj.estimator, PCAProjection)
    np.testing.assert_allclose(proj.estimator.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=1e-6)


def test_pca_follows_estimator_contract(codes):
    est = PCAProjection(random_state=7)
    assert est.get_params() == {"random_state": 7}
    out = est.fit_transform(codes)
    assert out is est.embedding_ and est.n_features_in_ == 8


def test_identity_for_d2_and_rejects_other_d(codes):
    x = codes[:, :2].astype(np.float64)
    proj = compute_projection(x, ProjectionSpec("identity"))
    assert proj.embedding.dtype == np.float32
    np.testing.assert_array_equal(proj.embedding, x.astype(np.float32))
    np.testing.assert_array_equal(proj.transform(x[:3]), x[:3].astype(np.float32))
    with pytest.raises(ValueError, match="d = 2"):
        IdentityProjection().fit(codes)


def test_bad_codes_raise_value_error(codes):
    bad = codes.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        compute_projection(bad, ProjectionSpec("pca"))
    with pytest.raises(ValueError, match="2-D"):
        compute_projection(codes[0], ProjectionSpec("pca"))
    with pytest.raises(ValueError, match="d >= 2"):
        compute_projection(codes[:, :1], ProjectionSpec("pca"))


def test_tsne_is_deterministic_and_places_by_nearest_neighbour(codes):
    rec = Recorder()
    spec = ProjectionSpec("tsne", TSNE_FAST, seed=1)
    a = compute_projection(codes, spec, JobContext(on_progress=rec))
    b = compute_projection(codes, spec)
    c = compute_projection(codes, spec.replace(seed=2))
    assert a.embedding.shape == (600, 2) and a.embedding.dtype == np.float32
    np.testing.assert_array_equal(a.embedding, b.embedding)
    assert not np.allclose(a.embedding, c.embedding)
    # progress: every 10 iterations, monotone, ends at 1
    fractions = [f for f, _ in rec.items]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) >= 15
    assert any("iteration 150/150" in m for _, m in rec.items)
    # new points land exactly on the embedding position of their nearest code
    assert a.transform_kind == "nearest-neighbour"
    assert isinstance(a.estimator, TSNEProjection)
    pts = codes[[5, 300, 599]] + 0.01
    nearest = np.argmin(((codes[None, :, :] - pts[:, None, :]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(a.transform(pts), a.embedding[nearest])
    np.testing.assert_array_equal(a.estimator.place_nearest_neighbour(pts), a.embedding[nearest])


def test_tsne_cancel_in_process(codes):
    ctx = JobContext()

    def on_progress(fraction, message):
        if "iteration" in message:
            ctx.cancel()

    ctx._on_progress = on_progress
    with pytest.raises(Cancelled):
        compute_projection(codes, ProjectionSpec("tsne", TSNE_FAST), ctx)


def test_nearest_neighbour_placement_checks_shapes(codes):
    emb = codes[:, :2]
    placer = NearestNeighbourPlacement(codes, emb)
    np.testing.assert_array_equal(placer.kneighbors(codes[:4]), np.arange(4))
    with pytest.raises(ValueError):
        placer.transform(codes[:4, :3])
    with pytest.raises(ValueError):
        NearestNeighbourPlacement(codes, emb[:10])


# -- cache ------------------------------------------------------------------------------


def test_file_sha256_streams_in_chunks(tmp_path):
    data = os.urandom(300_001)
    p = tmp_path / "model.pt"
    p.write_bytes(data)
    assert file_sha256(p, chunk_size=4096) == hashlib.sha256(data).hexdigest() == file_sha256(p)
    with pytest.raises(FileNotFoundError):
        file_sha256(tmp_path / "missing.pt")


def test_cache_key_depends_on_every_part():
    spec = ProjectionSpec("umap")
    base = projection_cache_key("a" * 64, "fashion-mnist:test", spec, 10_000)
    assert base == projection_cache_key("a" * 64, "fashion-mnist:test", ProjectionSpec("umap", {"n_neighbors": 15}),
                                        10_000)
    variants = [
        projection_cache_key("b" * 64, "fashion-mnist:test", spec, 10_000),
        projection_cache_key("a" * 64, "fashion-mnist:train", spec, 10_000),
        projection_cache_key("a" * 64, "fashion-mnist:test", spec.replace(min_dist=0.2), 10_000),
        projection_cache_key("a" * 64, "fashion-mnist:test", spec.replace(seed=1), 10_000),
        projection_cache_key("a" * 64, "fashion-mnist:test", ProjectionSpec("tsne"), 10_000),
        projection_cache_key("a" * 64, "fashion-mnist:test", spec, 9_999),
    ]
    assert len({base, *variants}) == len(variants) + 1


def test_cache_round_trip(tmp_path):
    cache = ProjectionCache(tmp_path / "proj")
    key = projection_cache_key("m" * 64, "ds", ProjectionSpec("pca"), 70_000)
    assert cache.get(key) is None
    emb = np.random.default_rng(0).normal(size=(70_000, 2))
    path = cache.put(key, emb, {"label": "PCA"})
    got = cache.get(key)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, emb.astype(np.float32))
    meta = cache.get_meta(key)
    assert meta["label"] == "PCA" and meta["key"] == key and meta["shape"] == [70_000, 2]
    # atomic writes leave no temp files behind
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, path.with_suffix(".json").name])
    # overwrite
    cache.put(key, emb[:, ::-1])
    np.testing.assert_array_equal(cache.get(key), emb[:, ::-1].astype(np.float32))
    assert cache.clear() == 1 and cache.get(key) is None


@pytest.mark.parametrize(
    "content",
    [b"not a numpy file", b"", "truncated", "wrong shape", "nan"],
)
def test_corrupt_cache_file_is_ignored_and_removed(tmp_path, content):
    cache = ProjectionCache(tmp_path)
    key = "some key"
    path = cache.path_for(key)
    if content == "truncated":
        cache.put(key, np.ones((1000, 2)))
        path.write_bytes(path.read_bytes()[:-100])
    elif content == "wrong shape":
        np.save(path, np.ones((10, 3), dtype=np.float32))
    elif content == "nan":
        np.save(path, np.full((10, 2), np.nan, dtype=np.float32))
    else:
        path.write_bytes(content)
    assert cache.get(key) is None
    assert not path.exists()


def test_cache_put_rejects_bad_embedding(tmp_path):
    with pytest.raises(ValueError):
        ProjectionCache(tmp_path).put("k", np.ones((5, 3)))


def test_default_cache_directory_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path / "c"))
    assert default_cache_directory() == tmp_path / "c" / "projections"
    assert ProjectionCache().directory == tmp_path / "c" / "projections"


# -- worker: UMAP (one warm worker for the whole module) ---------------------------------


@pytest.fixture(scope="module")
def umap_worker(codes):
    """A worker that has fitted the same UMAP twice (the first fit compiles numba)."""
    worker = ProjectionWorker(cancel_grace=3.0)
    spec = ProjectionSpec("umap", {"n_neighbors": 10, "n_epochs": 200}, seed=0)
    rec = Recorder()
    first = worker.run(codes, spec, JobContext(on_progress=rec), request_id=101)
    second = worker.run(codes, spec, request_id=102)
    yield worker, spec, first, second, rec
    worker.close()


def test_umap_worker_result_shape_and_determinism(umap_worker, codes):
    worker, spec, first, second, rec = umap_worker
    assert first.embedding.shape == (600, 2) and first.embedding.dtype == np.float32
    assert np.isfinite(first.embedding).all()
    assert (first.request_id, second.request_id) == (101, 102)
    np.testing.assert_array_equal(first.embedding, second.embedding)
    assert first.spec == spec and first.transform_kind == "umap-transform"
    # honest progress: epochs in [0, 1], monotone, ending at 1
    fractions = [f for f, _ in rec.items]
    assert all(0.0 <= f <= 1.0 for f in fractions) and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("epoch" in m for _, m in rec.items)
    assert any("loading umap-learn" in m for _, m in rec.items)  # the cold start is announced
    assert first.waited >= first.elapsed > 0  # the wall time waited includes the fit
    # the three blobs stay apart: nearest embedded neighbours share a blob
    blob = np.repeat(np.arange(3), 200)
    d = ((first.embedding[:, None] - first.embedding[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert (blob[d.argmin(1)] == blob).mean() > 0.95


def test_umap_worker_transform_keeps_the_model(umap_worker, codes):
    worker, _, _, second, _ = umap_worker
    pts = codes[[0, 250, 500]]
    out = worker.transform(second.request_id, pts)
    assert out.shape == (3, 2) and out.dtype == np.float32
    np.testing.assert_array_equal(out, second.transform(pts))  # Projection routes to the worker
    # a code is placed near its own position in the embedding (well inside its blob)
    spread = np.ptp(second.embedding, axis=0).max()
    assert np.abs(out - second.embedding[[0, 250, 500]]).max() < 0.1 * spread
    with pytest.raises(LookupError):
        worker.transform(999_999, pts)


def test_umap_cancel_between_epochs_keeps_warm_worker(umap_worker, codes):
    worker, spec, *_ = umap_worker
    pid = worker.pid
    rec = Recorder("epoch 1")
    ctx = JobContext(on_progress=rec)
    thread, box = run_in_thread(worker.run, codes, spec.replace(n_epochs=20_000), ctx)
    assert rec.seen.wait(20), "no epoch progress"
    ctx.cancel()
    thread.join(10)
    assert not thread.is_alive()  # the 20,000-epoch fit would run for many minutes
    assert isinstance(box.get("error"), Cancelled)
    # stopped by itself between epochs: same process, numba still compiled
    assert worker.pid == pid and worker.is_alive()
    again = worker.run(codes, ProjectionSpec("pca"))
    assert again.embedding.shape == (600, 2) and worker.pid == pid


def test_newer_request_supersedes_stale_one(umap_worker, codes):
    worker, spec, *_ = umap_worker
    rec = Recorder("epoch")
    thread, box = run_in_thread(worker.run, codes, spec.replace(n_epochs=20_000), JobContext(on_progress=rec), 201)
    assert rec.seen.wait(20)
    newer = worker.run(codes, ProjectionSpec("pca"), request_id=202)
    thread.join(10)
    assert isinstance(box.get("error"), Cancelled)
    assert newer.request_id == 202 and newer.embedding.shape == (600, 2)


def test_worker_reraises_errors_and_survives(umap_worker, codes):
    worker, *_ = umap_worker
    pid = worker.pid
    with pytest.raises(ValueError, match="d = 2"):
        worker.run(codes, ProjectionSpec("identity"))
    assert worker.pid == pid and worker.is_alive()


# -- worker: hard cancel, death, warm-up, close (t-SNE / PCA: no numba compile) ----------


def test_cancel_terminates_worker_then_new_request_succeeds(codes):
    worker = ProjectionWorker(cancel_grace=0.0)
    try:
        rec = Recorder("iteration")
        ctx = JobContext(on_progress=rec)
        long_tsne = ProjectionSpec("tsne", {"n_iter": 100_000, "early_exaggeration_iter": 0})
        thread, box = run_in_thread(worker.run, codes, long_tsne, ctx)
        assert rec.seen.wait(30), "no t-SNE progress"
        pid = worker.pid
        ctx.cancel()
        thread.join(10)
        assert not thread.is_alive()
        assert isinstance(box.get("error"), Cancelled)
        assert worker.pid is None and process_gone(pid)
        proj = worker.run(codes, ProjectionSpec("tsne", TSNE_FAST, seed=1))
        assert proj.embedding.shape == (600, 2) and worker.pid not in (None, pid)
        # the same seed in a fresh process gives the same embedding as in this one
        np.testing.assert_array_equal(proj.embedding, compute_projection(codes, proj.spec).embedding)
        assert proj.transform_kind == "nearest-neighbour"
        np.testing.assert_array_equal(proj.transform(codes[:2]), proj.embedding[:2])
    finally:
        worker.close()
    assert worker.pid is None


def test_killed_worker_is_reported_and_replaced(codes):
    with ProjectionWorker() as worker:
        rec = Recorder("iteration")
        long_tsne = ProjectionSpec("tsne", {"n_iter": 100_000, "early_exaggeration_iter": 0})
        thread, box = run_in_thread(worker.run, codes, long_tsne, JobContext(on_progress=rec))
        assert rec.seen.wait(30)
        pid = worker.pid
        os.kill(pid, signal.SIGKILL)
        thread.join(10)
        assert isinstance(box.get("error"), ProjectionWorkerDied)
        assert process_gone(pid)
        assert worker.run(codes, ProjectionSpec("pca")).embedding.shape == (600, 2)


def test_warm_up_is_background_and_queued_job_cancels_without_restart(codes):
    worker = ProjectionWorker(cancel_grace=2.0)
    try:
        worker.warm_up()
        assert not worker.is_warm  # returned before the compile finished: it runs in the background
        pid = worker.pid
        with pytest.raises(ProjectionWorkerBusy):
            worker.transform(1, codes[:1])
        ctx = JobContext()
        thread, box = run_in_thread(worker.run, codes, ProjectionSpec("pca"), ctx)
        time.sleep(0.3)
        ctx.cancel()
        thread.join(5)
        # the queued job is acknowledged at once: no termination, the warm-up goes on
        assert isinstance(box.get("error"), Cancelled)
        assert worker.pid == pid and worker.is_alive() and not worker.is_warm
    finally:
        worker.close()
    assert process_gone(pid)


def test_results_carry_request_ids_and_worker_closes(codes):
    worker = ProjectionWorker()
    a = worker.run(codes, ProjectionSpec("pca"))
    b = worker.run(codes, ProjectionSpec("pca"), request_id=42)
    assert b.request_id == 42 and a.request_id != 42
    np.testing.assert_array_equal(a.embedding, b.embedding)
    np.testing.assert_allclose(a.transform(codes[:2]), b.embedding[:2], atol=1e-5)  # PCA runs locally
    pid = worker.pid
    worker.close()
    worker.close()
    assert worker.pid is None and process_gone(pid)
    with pytest.raises(RuntimeError, match="closed"):
        worker.run(codes, ProjectionSpec("pca"))


def test_spec_pickles_for_the_worker():
    import pickle

    spec = ProjectionSpec("umap", {"min_dist": 0.3}, seed=4)
    back = pickle.loads(pickle.dumps(spec))
    assert back == spec and back.key() == spec.key()
    assert json.loads(projection_cache_key("h", "d", spec, 1))["projection"] == spec.key()


# -- UMAP from an exact k-NN graph (explorer.core.projection.knn) ------------------------


def test_exact_knn_matches_a_direct_loop(codes):
    from explorer.core.projection.knn import exact_knn

    x = codes[:200]
    ind, dist, index = exact_knn(x, 7)
    assert ind.shape == dist.shape == (200, 7) and ind.dtype == np.int32 and dist.dtype == np.float32
    full = np.sqrt(((x[:, None, :].astype(np.float64) - x[None, :, :]) ** 2).sum(-1))
    for i in range(200):
        np.testing.assert_allclose(dist[i], np.sort(full[i])[:7], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(full[i, ind[i]], dist[i], rtol=1e-5, atol=1e-5)
    assert (dist[:, 0] == 0).all()  # umap-learn's convention: a point is its own first neighbour
    q_ind, q_dist = index.query(x[:5] + 0.01, k=3)
    np.testing.assert_array_equal(q_ind, np.argsort(np.sqrt(((x[:5, None] + 0.01 - x[None]) ** 2).sum(-1)), 1)[:, :3])
    with pytest.raises(ValueError, match="metric"):
        exact_knn(x, 7, "haversine")


@pytest.fixture(scope="module")
def demo_codes():
    """1,000 codes of the bundled demo VAE on the bundled Fashion-MNIST test images ((1000, 16) float32)."""
    import resources
    from explorer.core.codes import encode_images
    from explorer.data import fit_to_model, load_dataset
    from models.loading import load_any

    path = resources.path("checkpoints", "vae_fashion.pt")
    assert path.is_file(), f"the bundled demo checkpoint {path} is missing"
    model, _ = load_any(path)
    ds = fit_to_model(load_dataset("fashion-mnist", split="test", path=resources.path("data", "fashion-mnist")),
                      model.image_shape)
    return encode_images(model, ds.images[:1000])


def test_umap_from_exact_knn_is_as_trustworthy_as_plain_umap_learn_and_deterministic(umap_worker, demo_codes):
    """Our UMAP (exact k-NN graph as precomputed_knn) vs plain ``umap.UMAP`` on demo codes: trustworthiness
    (scikit-learn, k = 10) within 0.01; the same seed gives the same embedding in the worker and here."""
    from sklearn.manifold import trustworthiness

    from explorer.core.projection.knn import enable_numba_disk_cache

    enable_numba_disk_cache()  # imports umap-learn without its TensorFlow ImportWarning
    import umap

    worker = umap_worker[0]
    spec = ProjectionSpec("umap", {"n_neighbors": 15, "n_epochs": 200}, seed=3)
    ours = worker.run(demo_codes, spec).embedding
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*n_jobs value.*overridden.*")
        bare = umap.UMAP(n_neighbors=15, n_epochs=200, random_state=3).fit_transform(demo_codes)
    t_ours = trustworthiness(demo_codes, ours, n_neighbors=10)
    t_bare = trustworthiness(demo_codes, bare, n_neighbors=10)
    assert t_bare > 0.9 and abs(t_ours - t_bare) <= 0.01, (t_ours, t_bare)
    here = compute_projection(demo_codes, spec)
    assert here.estimator.knn_ == "exact"
    np.testing.assert_array_equal(here.embedding, ours)  # deterministic for a seed, in any process
    # numba's disk cache was used: compiled umap-learn functions are on disk for the next process
    from explorer.core.projection.knn import numba_cache_directory

    assert any(numba_cache_directory().rglob("*.nbi"))


def test_waited_counts_from_the_request(tmp_path, codes):
    from explorer.core.embedding import project_cached

    spec = ProjectionSpec("pca")
    res = project_cached(codes, spec, "k" * 64, ProjectionCache(tmp_path), requested_at=time.monotonic() - 5.0)
    assert res.meta["waited_s"] >= 5.0 > res.meta["elapsed_s"] >= 0.0
