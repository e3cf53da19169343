"""Tests of explorer.core.embedding: cached codes and projections, colourings, captions, recent files."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from explorer.core import captions
from explorer.core import embedding as emb
from explorer.core import projection as projection_module
from explorer.core.jobs import Cancelled, JobContext
from explorer.core.projection import ProjectionCache, ProjectionSpec
from explorer.core.workspace import LatentCodes, dataset_identity, open_model
from explorer.data import Dataset
from models.checkpoint import save_checkpoint
from models.vae import VAE


@pytest.fixture
def dataset():
    rng = np.random.default_rng(0)
    images = rng.random((60, 1, 28, 28), dtype=np.float32)
    labels = np.arange(60) % 3
    return Dataset(images=images, labels=labels, class_names=("a", "b", "c"), name="noise", split="test")


@pytest.fixture
def entry(tmp_path):
    torch.manual_seed(0)
    path = save_checkpoint(tmp_path / "vae.pt", VAE(3, (1, 28, 28), hidden=16).eval(), dataset="noise", seed=0)
    return open_model(path)


def test_qt_and_heavy_libraries_are_not_imported():
    import subprocess

    code = ("import sys, explorer.core.embedding; "
            "print(sorted(m for m in ('PySide6', 'pyqtgraph', 'torch', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ---------------------------------------------------------------------------- codes cache


def test_encode_cached_reads_codes_back_without_encoding(tmp_path, entry, dataset, monkeypatch):
    cache = emb.CodesCache(tmp_path / "codes")
    did = dataset_identity(dataset)
    first = emb.encode_cached(entry, dataset, did, cache=cache)
    assert first.source == "encoder" and first.z.shape == (60, 3) and first.z.dtype == np.float32

    import explorer.core.workspace as workspace

    def boom(*args, **kwargs):
        raise AssertionError("encoded again")

    monkeypatch.setattr(workspace, "compute_codes", boom)
    again = emb.encode_cached(entry, dataset, did, cache=cache)
    np.testing.assert_array_equal(again.z, first.z)
    assert again.labels is dataset.labels and again.images is dataset.images


def test_codes_cache_misses_on_other_data_and_drops_corrupt_files(tmp_path, entry, dataset):
    cache = emb.CodesCache(tmp_path / "codes")
    key = emb.codes_cache_key(entry.file_hash, "data-1")
    assert emb.codes_cache_key(entry.file_hash, "data-2") != key
    cache.put(key, np.ones((5, 3)), {"notes": ["resized"]})
    z, meta = cache.get(key, n=5)
    assert z.shape == (5, 3) and meta["notes"] == ["resized"]
    assert cache.get(key, n=6) is None  # wrong N is a miss (and removed)
    cache.put(key, np.ones((5, 3)))
    cache.path_for(key).write_bytes(b"not an npy file")
    assert cache.get(key) is None
    assert not cache.path_for(key).exists()


def test_codes_identity_separates_prior_samples_of_different_seeds():
    z1 = np.zeros((4, 2), np.float32)
    z2 = np.ones((4, 2), np.float32)
    enc = LatentCodes(z=z1, source="encoder", images=np.zeros((4, 1, 2, 2)), labels=None)
    p1 = LatentCodes(z=z1, source="prior", images=np.zeros((4, 1, 2, 2)), labels=None)
    p2 = LatentCodes(z=z2, source="prior", images=np.zeros((4, 1, 2, 2)), labels=None)
    assert emb.codes_identity("d", enc) == "d"
    assert len({emb.codes_identity("d", enc), emb.codes_identity("d", p1), emb.codes_identity("d", p2)}) == 3


# ---------------------------------------------------------------------------- projection cache


def test_project_cached_computes_once_then_reads_the_cache(tmp_path, monkeypatch):
    calls = []
    real = projection_module.compute_projection
    monkeypatch.setattr(projection_module, "compute_projection",
                        lambda codes, spec, ctx=None: calls.append(spec) or real(codes, spec, ctx=ctx))
    codes = np.random.default_rng(1).normal(size=(50, 5)).astype(np.float32)
    cache = ProjectionCache(tmp_path / "proj")
    spec = ProjectionSpec("pca")
    key = emb.projection_key("sha", "data", spec, len(codes))
    first = emb.project_cached(codes, spec, key, cache)
    assert not first.from_cache and len(calls) == 1
    ratio = first.meta["explained_variance_ratio"]
    assert len(ratio) == 2 and ratio[0] >= ratio[1] > 0
    second = emb.project_cached(codes, spec, key, cache)
    assert second.from_cache and len(calls) == 1
    np.testing.assert_array_equal(second.embedding, first.embedding)
    assert second.meta["explained_variance_ratio"] == pytest.approx(ratio)
    # another seed or method is another key
    assert emb.projection_key("sha", "data", ProjectionSpec("umap", seed=1), 50) != \
        emb.projection_key("sha", "data", ProjectionSpec("umap", seed=2), 50)
    assert emb.cached_embedding(key, spec, 49, cache) is None  # N must match


def test_project_cached_uses_the_given_compute_and_passes_cancel(tmp_path):
    codes = np.zeros((10, 3), np.float32)
    spec = ProjectionSpec("tsne")
    ctx = JobContext()
    ctx.cancel()

    def compute(c, s, ctx=None):
        ctx.check()
        raise AssertionError("not reached")

    with pytest.raises(Cancelled):
        emb.project_cached(codes, spec, "k", ProjectionCache(tmp_path), compute=compute, ctx=ctx)
    assert not list(tmp_path.glob("*.npy"))


def test_default_spec_and_axis_labels():
    assert emb.default_spec(2).method == "identity"
    assert emb.default_spec(16).method == "pca"
    assert captions.axis_labels(ProjectionSpec("pca"), {"explained_variance_ratio": [0.4567, 0.1]}) == \
        ("PC 1 (45.7 % of variance)", "PC 2 (10.0 % of variance)")
    assert captions.axis_labels(ProjectionSpec("pca")) == ("PC 1", "PC 2")
    assert captions.axis_labels(ProjectionSpec("umap")) == ("UMAP 1", "UMAP 2")
    assert captions.axis_labels(ProjectionSpec("tsne")) == ("t-SNE 1", "t-SNE 2")
    assert captions.axis_labels(ProjectionSpec("identity")) == ("z[0]", "z[1]")


def test_caption_states_points_and_projection():
    codes = LatentCodes(z=np.zeros((1234, 8), np.float32), source="encoder", images=None, labels=None)
    text = captions.caption("vae.pt", codes, ProjectionSpec("pca"), "fashion-mnist (test)")
    assert text == "vae.pt · codes of 1,234 fashion-mnist (test) images, d = 8 · PCA"
    prior = LatentCodes(z=np.zeros((10, 4), np.float32), source="prior", images=None, labels=None)
    assert "prior samples" in captions.caption("gan.pt", prior, ProjectionSpec("pca"))


# ---------------------------------------------------------------------------- colourings


def test_colouring_by_label_cluster_dimension():
    labels = np.array([0, 2, 2, 1])
    col = captions.colouring("label", 4, labels=labels, class_names=("cat", "dog", "eel"))
    assert col.names == ("cat", "dog", "eel") and np.array_equal(col.categories, labels)
    col = captions.colouring("label", 4, labels=np.array([0, 5, 1, 1]), class_names=("cat",))
    assert col.names == ("cat", "1", "2", "3", "4", "5")
    col = captions.colouring("cluster", 4, clusters=np.array([1, 0, 1, 2]), cluster_title="k-means on z")
    assert col.names == ("cluster 0", "cluster 1", "cluster 2") and col.title == "k-means on z"
    z = np.arange(200, dtype=np.float64).reshape(100, 2)
    col = captions.colouring("dimension", 100, z=z, dim=1)
    assert col.title == "z[1]"
    np.testing.assert_array_equal(col.values, z[:, 1])
    assert (col.vmin, col.vmax) == pytest.approx(tuple(np.percentile(z[:, 1], [1, 99])))
    assert captions.colouring("none", 4).mode == "none"
    errors = np.linspace(0.0, 0.05, 100) ** 2
    col = captions.colouring("inversion_error", 100, errors=errors)
    assert col.mode == "inversion_error" and "inverted" in col.title
    np.testing.assert_array_equal(col.values, errors)
    assert (col.vmin, col.vmax) == pytest.approx(tuple(np.percentile(errors, [1, 99])))


@pytest.mark.parametrize("kwargs, match", [
    ({"mode": "label"}, "no labels"),
    ({"mode": "cluster"}, "k-means"),
    ({"mode": "dimension", "z": np.zeros((4, 2)), "dim": 2}, "outside"),
    ({"mode": "label", "labels": np.zeros(3)}, "shape"),
    ({"mode": "sparkle"}, "unknown"),
    ({"mode": "inversion_error"}, "GAN inversion"),
    ({"mode": "inversion_error", "errors": np.zeros(3)}, "shape"),
])
def test_colouring_errors(kwargs, match):
    mode = kwargs.pop("mode")
    with pytest.raises(ValueError, match=match):
        captions.colouring(mode, 4, **kwargs)


def test_hover_and_selection_captions():
    labels = np.array([0, 1, 2])
    names = ("T-shirt", "Trouser", "Bag")
    assert captions.hover_caption(1, labels, names) == "Trouser (1)"
    assert captions.hover_caption(1) == ""
    assert captions.selection_captions([2, 0], labels, names) == ["Bag", "T-shirt"]
    assert captions.selection_captions([2], labels, names, clusters=np.array([4, 5, 6])) == ["Bag · c6"]
    assert captions.selection_captions([2], clusters=np.array([4, 5, 6])) == ["cluster 6"]
    assert captions.selection_captions([0, 1]) is None


def test_push_recent(tmp_path):
    a, b, c = (str((tmp_path / n).resolve()) for n in "abc")
    recent = captions.push_recent([], a)
    recent = captions.push_recent(recent, b)
    recent = captions.push_recent(recent, a)
    assert recent == [a, b]
    assert captions.push_recent([a, b], c, limit=2) == [c, a]
    json.dumps(recent)  # stored as JSON in the settings


def test_model_details_states_kind_training_and_units():
    info = {"kind": "vae", "latent_dim": 16, "image_shape": [1, 28, 28], "has_encoder": True,
            "parameters": 879073, "dataset": "fashion-mnist", "epochs": 12, "seed": 0,
            "history_final": {"loss": 237.83, "recon": 223.53, "kl": 14.307}, "extra": {"split": "train"},
            "source": "checkpoint"}
    text = captions.model_details(info)
    assert text.splitlines() == [
        "VAE, d = 16, 1×28×28, encoder q(z|x)",
        "879,073 parameters",
        "trained on fashion-mnist (train), 12 epochs, seed 0",
        "final training loss 237.8 nats/image (recon 223.5, KL 14.31)",
    ]
    gan = captions.model_details({"kind": "gan", "latent_dim": 8, "image_shape": [1, 28, 28], "has_encoder": False,
                             "history_final": {"loss_d": 1.1}, "source": "adapter"})
    assert "no encoder" in gan and "final loss_d 1.1" in gan and "adapter" in gan
