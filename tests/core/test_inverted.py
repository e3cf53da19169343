"""Tests for explorer.core.reconstruction.inverted: each image inverted once, kept across calls and sessions,
seeded by index."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from explorer.core.codes import decode_codes
from explorer.core.jobs import Cancelled, JobContext
from explorer.core.projection import ProjectionSpec
from explorer.core.reconstruction.inversion import InversionSettings, invert
from explorer.core.reconstruction.inverted import InvertedCodesStore, inverted_dataset_codes, inverted_store_key
from explorer.core.workspace import dataset_identity
from explorer.data import Dataset
from tests.core.generators import TinyGenerator

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SETTINGS = InversionSettings(steps=30, restarts=2, batch_size=4)


@pytest.fixture()
def gen():
    return TinyGenerator()


@pytest.fixture()
def dataset(gen):
    """24 images G(z) of known codes z, three classes."""
    import torch

    z = torch.randn(24, 4, generator=torch.Generator().manual_seed(3)).numpy()
    return Dataset(images=decode_codes(gen, z), labels=np.arange(24) % 3, class_names=("a", "b", "c"),
                   name="tiny", split="test")


def _store(gen, dataset, tmp_path, settings=SETTINGS):
    return InvertedCodesStore(gen, "f" * 64, dataset_identity(dataset), len(dataset), settings, tmp_path)


def test_codes_equal_a_direct_inversion_seeded_by_dataset_index(gen, dataset, tmp_path):
    store = _store(gen, dataset, tmp_path)
    idx = np.array([5, 17, 2])
    got = store.get(idx, dataset.images[idx])
    direct = invert(gen, dataset.images[idx], SETTINGS, image_ids=idx)
    np.testing.assert_allclose(got.codes, direct.codes, atol=1e-5)
    np.testing.assert_allclose(got.mse, direct.mse, rtol=1e-5)
    assert got.n_inverted == 3 and got.codes.dtype == np.float32
    # mse is the pixel MSE of G(z*) against the image
    rec = decode_codes(gen, got.codes)
    np.testing.assert_allclose(got.mse, ((rec - dataset.images[idx]) ** 2).mean(axis=(1, 2, 3)), rtol=1e-4)


def test_only_missing_images_are_inverted_and_kept_across_sessions(gen, dataset, tmp_path, inversions):
    seen = inversions
    store = _store(gen, dataset, tmp_path)
    a = store.get([1, 2, 3], dataset.images[[1, 2, 3]])
    b = store.get([3, 4, 1], dataset.images[[3, 4, 1]])
    assert seen == [3, 1] and b.n_inverted == 1
    np.testing.assert_array_equal(b.codes[[0, 2]], a.codes[[2, 0]])
    assert store.n_done == 4
    # a new store (a new session) reads them from disk and inverts nothing
    again = _store(gen, dataset, tmp_path)
    c = again.get([4, 3, 2, 1], dataset.images[[4, 3, 2, 1]])
    assert seen == [3, 1] and c.n_inverted == 0
    np.testing.assert_array_equal(c.codes[1:], a.codes[::-1])


def test_settings_that_change_codes_change_the_key_but_batch_size_does_not(gen, dataset, tmp_path):
    did = dataset_identity(dataset)
    k = inverted_store_key("m", did, SETTINGS)
    assert inverted_store_key("m", did, InversionSettings(steps=30, restarts=2, batch_size=64)) == k
    for other in (InversionSettings(steps=31, restarts=2), InversionSettings(steps=30, restarts=3),
                  InversionSettings(steps=30, restarts=2, seed=1), InversionSettings(steps=30, restarts=2, lr=0.1)):
        assert inverted_store_key("m", did, other) != k
    assert inverted_store_key("n", did, SETTINGS) != k
    store = _store(gen, dataset, tmp_path)
    store.get([0], dataset.images[:1])
    assert _store(gen, dataset, tmp_path, InversionSettings(steps=31, restarts=2)).n_done == 0
    assert _store(gen, dataset, tmp_path, InversionSettings(steps=30, restarts=2, batch_size=1)).n_done == 1


def test_cancel_keeps_finished_batches(gen, dataset, tmp_path):
    store = _store(gen, dataset, tmp_path)
    event = threading.Event()
    calls = []

    def progress(f, _m):
        calls.append(f)
        if f >= 0.5:  # half of the 3 batches of 4 images: the first batch is done
            event.set()

    with pytest.raises(Cancelled):
        store.get(np.arange(12), dataset.images[:12], JobContext(progress, event))
    done = store.done
    assert done[:4].all() and not done[8:12].any()
    assert _store(gen, dataset, tmp_path).n_done == store.n_done  # saved when cancelled


def test_unreadable_or_foreign_file_is_ignored(gen, dataset, tmp_path):
    store = _store(gen, dataset, tmp_path)
    store.get([0], dataset.images[:1])
    store.path.write_bytes(b"not a zip")
    assert _store(gen, dataset, tmp_path).n_done == 0
    store.save()  # the same key with another number of images: its arrays do not fit
    other = InvertedCodesStore(gen, "f" * 64, dataset_identity(dataset), 10, SETTINGS, tmp_path)
    assert other.path == store.path and other.n_done == 0


def test_errors(gen, dataset, tmp_path):
    store = _store(gen, dataset, tmp_path)
    with pytest.raises(ValueError, match=r"\[0, 24\)"):
        store.get([24], dataset.images[:1])
    with pytest.raises(ValueError, match="N = 2"):
        store.get([0, 1], dataset.images[:1])
    with pytest.raises(ValueError, match="at least one image"):
        InvertedCodesStore(gen, "f", "d", 0, SETTINGS, False)


def test_inverted_dataset_codes_are_real_images_with_their_labels(gen, dataset, tmp_path):
    store = _store(gen, dataset, tmp_path, InversionSettings(steps=150, restarts=2, batch_size=8,
                                                            prior_weight=0.0))
    codes = inverted_dataset_codes(store, dataset, n=10, seed=1)
    idx = np.sort(np.random.default_rng(1).choice(24, size=10, replace=False))
    np.testing.assert_array_equal(codes.indices, idx)
    assert codes.source == "inverted" and codes.of_dataset
    np.testing.assert_array_equal(codes.labels, dataset.labels[idx])
    np.testing.assert_array_equal(codes.images, dataset.images[idx])
    np.testing.assert_array_equal(codes.dataset_indices([0, 3]), idx[[0, 3]])
    assert "GAN inversion" in codes.notes[0] and "inverted" in codes.notes[0]
    # G(z) of each code is kept, with its pixel MSE against the image (the inversion-error colouring)
    np.testing.assert_allclose(codes.generated, decode_codes(gen, codes.z), atol=1e-6)
    np.testing.assert_allclose(codes.fit_error, ((codes.generated - codes.images) ** 2).mean(axis=(1, 2, 3)),
                               rtol=1e-4, atol=1e-9)
    # the images are G(z) of known codes: inversion finds codes whose images match
    rec = decode_codes(gen, codes.z)
    assert float(((rec - codes.images) ** 2).mean()) < 1e-3
    # every image
    everything = inverted_dataset_codes(store, dataset)
    assert everything.z.shape == (24, 4)
    np.testing.assert_array_equal(everything.z[idx], codes.z)


def test_projection_key_of_inverted_codes_depends_on_the_codes(gen, dataset, tmp_path):
    from explorer.core import captions
    from explorer.core import embedding as emb

    store = _store(gen, dataset, tmp_path)
    a = inverted_dataset_codes(store, dataset, n=6, seed=0)
    b = inverted_dataset_codes(store, dataset, n=6, seed=1)
    did = dataset_identity(dataset)
    ka, kb = emb.codes_identity(did, a), emb.codes_identity(did, b)
    assert ka != kb and "|inverted|n=6|" in ka
    spec = ProjectionSpec("pca")
    assert emb.projection_key("m", ka, spec, 6) != emb.projection_key("m", kb, spec, 6)
    assert captions.caption("gan.pt", a, spec, "tiny").startswith("gan.pt · inverted codes of 6 tiny images")


def test_two_threads_share_a_store_and_every_code_is_right(gen, dataset, tmp_path):
    """Jobs ask one store for overlapping images at once: each gets the codes of a direct inversion."""
    store = _store(gen, dataset, tmp_path)
    got, errors = {}, []

    def ask(name, idx):
        try:
            got[name] = store.get(idx, dataset.images[idx])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    a, b = np.arange(0, 16), np.arange(8, 24)
    threads = [threading.Thread(target=ask, args=("a", a)), threading.Thread(target=ask, args=("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and set(got) == {"a", "b"}
    direct = invert(gen, dataset.images, SETTINGS, image_ids=np.arange(24))
    np.testing.assert_allclose(got["a"].codes, direct.codes[a], atol=1e-5)
    np.testing.assert_allclose(got["b"].codes, direct.codes[b], atol=1e-5)
    assert store.n_done == 24 and _store(gen, dataset, tmp_path).n_done == 24


def test_stores_of_one_key_do_not_overwrite_each_others_codes(gen, dataset, tmp_path):
    """A command-line run and the window (two stores, one file) each keep what the other saved."""
    first, second = _store(gen, dataset, tmp_path), _store(gen, dataset, tmp_path)
    first.get([0, 1], dataset.images[[0, 1]])
    second.get([5], dataset.images[[5]])  # saved after first: must not drop 0 and 1
    fresh = _store(gen, dataset, tmp_path)
    assert np.flatnonzero(fresh.done).tolist() == [0, 1, 5]


def test_concurrent_inversions_restore_the_model_once_both_end(gen):
    """Two inversions with one model at once: frozen while either runs, restored after the last."""
    from explorer.core.reconstruction.inversion import _frozen

    gen.train()
    assert gen.lin.weight.requires_grad
    with _frozen(gen):
        with _frozen(gen):
            assert not gen.lin.weight.requires_grad and not gen.training
        assert not gen.lin.weight.requires_grad and not gen.training  # the other one still runs
    assert gen.lin.weight.requires_grad and gen.training
