"""IDX reader: round trips, split folders, and one clear error per bad input."""

import gzip

import numpy as np
import pytest

from explorer.data._common import FASHION_MNIST_CLASSES
from explorer.data.idx import (
    find_idx_files,
    load_idx_file,
    load_idx_folder,
    read_idx,
    read_idx_images,
    read_idx_labels,
)
from explorer.errors import DatasetError
from tests.data.helpers import idx_bytes, mnist_like, write_idx, write_split


@pytest.mark.parametrize("name", ["t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte"])
def test_images_round_trip_exact(tmp_path, name):
    images, _ = mnist_like(7, seed=1)
    path = write_idx(tmp_path / name, images)
    loaded = read_idx_images(path)
    assert loaded.shape == (7, 1, 5, 5) and loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded[:, 0], images.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(np.round(loaded[:, 0] * 255).astype(np.uint8), images)


def test_gzip_is_recognised_by_content_not_name(tmp_path):
    images, _ = mnist_like(3, seed=2)
    path = write_idx(tmp_path / "images.idx", images, gz=True)
    np.testing.assert_array_equal(read_idx(path), images)


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "float32", "float64"])
def test_other_idx_types_round_trip(tmp_path, dtype):
    values = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    loaded = read_idx(write_idx(tmp_path / "values.idx", values))
    assert loaded.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(loaded, values)


def test_labels_round_trip(tmp_path):
    _, labels = mnist_like(9, seed=3)
    loaded = read_idx_labels(write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels))
    assert loaded.dtype == np.int64
    np.testing.assert_array_equal(loaded, labels)


def test_truncated_raw_file_names_file_and_sizes(tmp_path):
    images, _ = mnist_like(10, seed=4)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(idx_bytes(images)[:-60])
    with pytest.raises(DatasetError) as error:
        read_idx(path)
    message = str(error.value)
    assert str(path) in message and "truncated" in message
    assert "10×5×5 bytes" in message and "only 190 follow" in message


def test_truncated_gzip_stream(tmp_path):
    images, _ = mnist_like(200, seed=5, size=28)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(images))[:5000])
    with pytest.raises(DatasetError, match="truncated") as error:
        read_idx(path)
    assert str(path) in str(error.value)


def test_gzip_of_short_data_reports_counts(tmp_path):
    images, _ = mnist_like(10, seed=6)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(images)[:100]))
    with pytest.raises(DatasetError, match=r"header says 10×5×5 bytes but only 84 follow"):
        read_idx(path)


def test_wrong_magic_names_file_and_bytes(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(DatasetError) as error:
        read_idx(path)
    assert str(path) in str(error.value) and "50 4b 03 04" in str(error.value)


def test_extra_bytes_are_rejected(tmp_path):
    images, _ = mnist_like(2, seed=7)
    path = tmp_path / "x-images-idx3-ubyte"
    path.write_bytes(idx_bytes(images) + b"\x00\x00")
    with pytest.raises(DatasetError, match="2 bytes more"):
        read_idx(path)


def test_labels_file_as_images_is_rejected(tmp_path):
    path = write_idx(tmp_path / "labels.idx", np.arange(4, dtype=np.uint8))
    with pytest.raises(DatasetError, match="expected images"):
        read_idx_images(path)


def test_train_only_folder(tmp_path):
    images, labels = write_split(tmp_path, "train", 6, seed=8)
    dataset = load_idx_folder(tmp_path)
    assert dataset.split == "train" and len(dataset) == 6
    np.testing.assert_array_equal(dataset.labels, labels)
    np.testing.assert_array_equal(dataset.images[:, 0], images / np.float32(255))
    assert dataset.class_names == tuple(str(i) for i in range(10))
    assert set(find_idx_files(tmp_path)) == {"train"}


def test_test_only_folder_raw_files(tmp_path):
    images, labels = write_split(tmp_path, "t10k", 4, seed=9, gz=False)
    dataset = load_idx_folder(tmp_path, split="test")
    assert dataset.split == "test" and dataset.image_shape == (1, 5, 5)
    np.testing.assert_array_equal(dataset.labels, labels)
    with pytest.raises(DatasetError, match="has no train split") as error:
        load_idx_folder(tmp_path, split="train")
    assert str(tmp_path) in str(error.value)


def test_both_splits_concatenate_train_then_test(tmp_path):
    train, train_labels = write_split(tmp_path, "train", 5, seed=10, dotted=True)
    test, test_labels = write_split(tmp_path, "t10k", 3, seed=11)
    dataset = load_idx_folder(tmp_path)
    assert dataset.split == "all" and len(dataset) == 8
    np.testing.assert_array_equal(dataset.images[:5, 0], train / np.float32(255))
    np.testing.assert_array_equal(dataset.images[5:, 0], test / np.float32(255))
    np.testing.assert_array_equal(dataset.labels, np.concatenate([train_labels, test_labels]))
    assert len(load_idx_folder(tmp_path, split="test")) == 3


def test_missing_labels_gives_images_without_labels(tmp_path):
    images, _ = mnist_like(4, seed=12)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    dataset = load_idx_folder(tmp_path)
    assert dataset.labels is None and dataset.class_names is None and len(dataset) == 4
    assert any("no labels" in note for note in dataset.notes)


def test_label_count_mismatch_names_both_files(tmp_path):
    images, labels = mnist_like(6, seed=13)
    images_path = write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    labels_path = write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels[:5])
    with pytest.raises(DatasetError) as error:
        load_idx_folder(tmp_path)
    message = str(error.value)
    assert str(images_path) in message and str(labels_path) in message
    assert "6 images" in message and "5 labels" in message


def test_class_names_from_classes_txt_and_fashion(tmp_path):
    write_split(tmp_path, "t10k", 20, seed=14)
    names = [f"class {i}" for i in range(10)]
    (tmp_path / "classes.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    assert load_idx_folder(tmp_path).class_names == tuple(names)
    assert load_idx_folder(tmp_path, fashion=True).class_names == FASHION_MNIST_CLASSES


def test_classes_txt_too_short_is_an_error(tmp_path):
    write_split(tmp_path, "t10k", 50, seed=15)
    listing = tmp_path / "classes.txt"
    listing.write_text("a\nb\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="names 2 classes") as error:
        load_idx_folder(tmp_path)
    assert str(listing) in str(error.value)


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(DatasetError, match="no MNIST-named IDX files") as error:
        load_idx_folder(tmp_path)
    assert str(tmp_path) in str(error.value)


def test_single_file_finds_its_labels(tmp_path):
    images, labels = write_split(tmp_path, "t10k", 5, seed=16)
    dataset = load_idx_file(tmp_path / "t10k-images-idx3-ubyte.gz")
    assert dataset.split == "test" and dataset.name == "t10k-images-idx3-ubyte"
    np.testing.assert_array_equal(dataset.labels, labels)
    np.testing.assert_array_equal(dataset.images[:, 0], images / np.float32(255))


def test_subsample_spans_both_splits(tmp_path):
    train, _ = write_split(tmp_path, "train", 30, seed=17)
    test, _ = write_split(tmp_path, "t10k", 20, seed=18)
    full = np.concatenate([train, test]) / np.float32(255)
    dataset = load_idx_folder(tmp_path, limit=12, seed=4)
    assert len(dataset) == 12 and np.all(np.diff(dataset.indices) > 0)
    np.testing.assert_array_equal(dataset.images[:, 0], full[dataset.indices])
    assert "12 of the 50 images (seed 4)" in dataset.notes[-1]
