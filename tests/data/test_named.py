"""load_dataset: names, search order of Fashion-MNIST, paths, splits and seeded subsamples."""

import hashlib
import re

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

import resources
from explorer.data import DATASET_NAMES, load_dataset, named
from explorer.data._common import FASHION_MNIST_CLASSES
from explorer.errors import DatasetError
from tests.data.helpers import write_split

DEBIAN = named.DEBIAN_FASHION_MNIST
BUNDLED = resources.path("data", "fashion-mnist")


@pytest.fixture(autouse=True)
def _no_user_data_folder(monkeypatch):
    """Tests never see the developer's own $LATENT_EXPLORER_DATA."""
    monkeypatch.delenv(named.DATA_ENV_VAR, raising=False)


@pytest.fixture
def no_debian(monkeypatch, tmp_path):
    """Pretend the Debian package is not installed."""
    monkeypatch.setattr(named, "DEBIAN_FASHION_MNIST", tmp_path / "not-installed")


def test_unknown_name_lists_the_valid_names():
    with pytest.raises(DatasetError) as error:
        load_dataset("cifar-11")
    assert "'cifar-11'" in str(error.value)
    assert all(name in str(error.value) for name in DATASET_NAMES)


def test_missing_path_names_it(tmp_path):
    missing = tmp_path / "nothing.npz"
    with pytest.raises(DatasetError, match="neither a dataset name") as error:
        load_dataset(missing)
    assert str(missing) in str(error.value)


def test_unsupported_file_and_bad_arguments(tmp_path):
    text = tmp_path / "data.csv"
    text.write_text("1,2,3")
    with pytest.raises(DatasetError, match="not a supported dataset file") as error:
        load_dataset(text)
    assert str(text) in str(error.value)
    with pytest.raises(DatasetError, match="Unknown split"):
        load_dataset("digits", split="validation")
    with pytest.raises(DatasetError, match="positive whole number"):
        load_dataset("digits", limit=0)


def test_digits_match_scikit_learn():
    dataset = load_dataset("Digits")
    reference = load_digits()
    assert dataset.images.shape == (1797, 1, 8, 8) and dataset.images.dtype == np.float32
    np.testing.assert_array_equal(dataset.images[:, 0], (reference.images / 16).astype(np.float32))
    np.testing.assert_array_equal(dataset.labels, reference.target)
    assert dataset.class_names == tuple("0123456789") and dataset.split is None
    assert load_dataset("digits", split="train").notes == ("digits has no train split; all its images were used.",)


def test_limit_is_a_seeded_sorted_subsample():
    full = load_dataset("digits")
    a, b, c = (load_dataset("digits", limit=100, seed=s) for s in (7, 7, 8))
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.indices, c.indices)
    assert len(a) == 100 and len(np.unique(a.indices)) == 100 and np.all(np.diff(a.indices) > 0)
    expected = np.sort(np.random.default_rng(7).choice(1797, size=100, replace=False))
    np.testing.assert_array_equal(a.indices, expected)
    np.testing.assert_array_equal(a.images, full.images[a.indices])
    np.testing.assert_array_equal(a.labels, full.labels[a.indices])
    assert a.notes == ("Random subsample of 100 of the 1,797 images (seed 7).",)
    assert load_dataset("digits", limit=5000).indices is None


def test_dsprites_by_name_uses_limit_and_seed():
    dataset = load_dataset("dsprites", limit=50, seed=3)
    assert dataset.images.shape == (50, 1, 64, 64) and dataset.factors.shape == (50, 5)
    np.testing.assert_array_equal(dataset.factors, load_dataset("dsprites", limit=50, seed=3).factors)
    assert dataset.indices is None and dataset.source == "generated"


def test_paths_of_each_kind(tmp_path):
    idx_folder = tmp_path / "idx"
    idx_folder.mkdir()
    images, labels = write_split(idx_folder, "t10k", 4, seed=0)
    assert len(load_dataset(idx_folder)) == 4
    single = load_dataset(idx_folder / "t10k-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(single.labels, labels)

    np.savez(tmp_path / "a.npz", images=images, labels=labels)
    from_npz = load_dataset(str(tmp_path / "a.npz"), split="test")
    np.testing.assert_array_equal(from_npz.images[:, 0], images / np.float32(255))
    assert any("no test split" in note for note in from_npz.notes)
    np.save(tmp_path / "a.npy", images)
    assert load_dataset(tmp_path / "a.npy").image_shape == (1, 5, 5)

    pictures = tmp_path / "pictures" / "class_a"
    pictures.mkdir(parents=True)
    Image.fromarray(images[0]).save(pictures / "0.png")
    Image.fromarray(images[1]).save(pictures / "1.png")  # a dataset needs two images (named.MIN_IMAGES)
    assert load_dataset(tmp_path / "pictures").class_names == ("class_a",)


def test_fashion_mnist_from_explicit_path_and_environment(tmp_path, monkeypatch, no_debian):
    folder = tmp_path / "data" / "fashion-mnist"
    folder.mkdir(parents=True)
    _, labels = write_split(folder, "train", 6, seed=1)
    by_path = load_dataset("fashion-mnist", path=folder)
    assert by_path.source == str(folder) and by_path.class_names == FASHION_MNIST_CLASSES
    np.testing.assert_array_equal(by_path.labels, labels)
    monkeypatch.setenv(named.DATA_ENV_VAR, str(tmp_path / "data"))  # the fashion-mnist subfolder
    assert load_dataset("fashion-mnist").source == str(folder)
    monkeypatch.setenv(named.DATA_ENV_VAR, str(folder))  # the folder itself
    dataset = load_dataset("fashion-mnist", split="train")
    assert dataset.source == str(folder) and dataset.name == "fashion-mnist" and len(dataset) == 6
    with pytest.raises(DatasetError) as error:
        load_dataset("fashion-mnist", path=tmp_path)
    assert str(tmp_path) in str(error.value)


def test_environment_without_files_falls_back_with_a_note(tmp_path, monkeypatch, no_debian):
    monkeypatch.setenv(named.DATA_ENV_VAR, str(tmp_path))
    dataset = load_dataset("fashion-mnist", limit=10)
    assert dataset.source == str(BUNDLED)
    assert any(named.DATA_ENV_VAR in note and "not used" in note for note in dataset.notes)


def test_bundled_fallback_and_train_split_error(no_debian):
    dataset = load_dataset("fashion-mnist")
    assert dataset.source == str(BUNDLED) and dataset.split == "test" and len(dataset) == 10_000
    assert any("apt-get install dataset-fashion-mnist" in note for note in dataset.notes)
    with pytest.raises(DatasetError) as error:
        load_dataset("fashion-mnist", split="train")
    message = str(error.value)
    assert "apt-get install dataset-fashion-mnist" in message and named.DATA_ENV_VAR in message
    assert str(BUNDLED) in message


def test_bundled_test_split_loads_and_matches_its_provenance():
    dataset = load_dataset(BUNDLED)
    assert dataset.images.shape == (10_000, 1, 28, 28) and dataset.split == "test"
    assert dataset.name == "fashion-mnist" and dataset.class_names == FASHION_MNIST_CLASSES
    assert set(np.unique(dataset.labels)) == set(range(10))
    provenance = (BUNDLED / "PROVENANCE.md").read_text(encoding="utf-8")
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        digest = hashlib.sha256((BUNDLED / name).read_bytes()).hexdigest()
        assert re.search(rf"`{re.escape(name)}` \|[^|]*\| `{digest}`", provenance)


@pytest.mark.skipif(not DEBIAN.exists(), reason="Debian package dataset-fashion-mnist is not installed")
@pytest.mark.parametrize("split, count", [("train", 60_000), ("test", 10_000)])
def test_debian_fashion_mnist(split, count):
    dataset = load_dataset("fashion-mnist", split=split)
    assert dataset.source == str(DEBIAN) and dataset.split == split
    assert dataset.images.shape == (count, 1, 28, 28) and dataset.images.dtype == np.float32
    assert 0.0 <= dataset.images.min() and dataset.images.max() <= 1.0
    assert dataset.labels.shape == (count,) and dataset.labels.min() == 0 and dataset.labels.max() == 9
    assert np.all(np.bincount(dataset.labels) == count // 10)  # Fashion-MNIST is balanced
    assert dataset.class_names == FASHION_MNIST_CLASSES
