"""NPZ/NPY reader: image layouts, value types, labels and factors, the dSprites archive."""

import numpy as np
import pytest

from explorer.data.arrays import DSPRITES_CLASS_NAMES, DSPRITES_FACTOR_NAMES, load_npy, load_npz
from explorer.errors import DatasetError

RNG = np.random.default_rng(0)
PIXELS = RNG.integers(0, 256, (6, 5, 7, 3), dtype=np.uint8)  # (N, H, W, C)
EXPECTED = PIXELS.transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255)  # (N, C, H, W)


@pytest.mark.parametrize(
    "stored, expected",
    [
        (PIXELS[..., 0], EXPECTED[:, :1]),  # (N, H, W)
        (PIXELS[..., :1], EXPECTED[:, :1]),  # (N, H, W, 1)
        (PIXELS, EXPECTED),  # (N, H, W, 3)
        (PIXELS.transpose(0, 3, 1, 2), EXPECTED),  # (N, 3, H, W)
        (PIXELS[..., :1].transpose(0, 3, 1, 2), EXPECTED[:, :1]),  # (N, 1, H, W)
        (np.concatenate([PIXELS, PIXELS[..., :1]], axis=3), EXPECTED),  # (N, H, W, 4): alpha dropped
    ],
)
def test_layouts(tmp_path, stored, expected):
    path = tmp_path / "set.npz"
    np.savez(path, images=stored)
    dataset = load_npz(path)
    assert dataset.images.dtype == np.float32 and dataset.images.flags.c_contiguous
    np.testing.assert_array_equal(dataset.images, expected)
    assert dataset.labels is None and dataset.name == "set" and dataset.source == str(path)
    assert any("alpha" in note for note in dataset.notes) == (stored.ndim == 4 and stored.shape[3] == 4)


def test_ambiguous_layout_takes_the_smaller_axis_as_channels(tmp_path):
    np.savez(tmp_path / "a.npz", images=np.zeros((2, 1, 4, 3), dtype=np.uint8))
    assert load_npz(tmp_path / "a.npz").image_shape == (1, 4, 3)
    np.savez(tmp_path / "a.npz", images=np.zeros((2, 4, 4, 3), dtype=np.uint8))
    assert load_npz(tmp_path / "a.npz").image_shape == (3, 4, 4)


def test_bool_and_float_values(tmp_path):
    mask = RNG.random((3, 4, 4)) > 0.5
    np.savez(tmp_path / "b.npz", x=mask)
    np.testing.assert_array_equal(load_npz(tmp_path / "b.npz").images[:, 0], mask.astype(np.float32))
    values = RNG.random((3, 4, 4)).astype(np.float64)
    np.savez(tmp_path / "f.npz", X=values)
    np.testing.assert_array_equal(load_npz(tmp_path / "f.npz").images[:, 0], values.astype(np.float32))


def test_whole_number_floats_up_to_255_are_rescaled_with_a_note(tmp_path):
    np.savez(tmp_path / "f.npz", images=PIXELS[..., 0].astype(np.float32))
    dataset = load_npz(tmp_path / "f.npz")
    np.testing.assert_allclose(dataset.images, EXPECTED[:, :1], atol=1e-7)
    assert any("divided by 255" in note for note in dataset.notes)


def test_floats_out_of_range_are_an_error(tmp_path):
    path = tmp_path / "f.npz"
    np.savez(path, images=np.linspace(-1, 1.5, 48).reshape(3, 4, 4))
    with pytest.raises(DatasetError, match=r"from -1 to 1\.5") as error:
        load_npz(path)
    assert str(path) in str(error.value)


def test_labels_class_names_and_factors(tmp_path):
    labels = np.array([0, 2, 1, 2, 0, 1])
    factors = RNG.random((6, 2))
    path = tmp_path / "l.npz"
    np.savez(path, images=PIXELS, y=labels, class_names=np.array(["a", "b", "c"]),
             factors=factors, factor_names=np.array(["size", "angle"]))
    dataset = load_npz(path)
    np.testing.assert_array_equal(dataset.labels, labels)
    assert dataset.labels.dtype == np.int64 and dataset.class_names == ("a", "b", "c")
    np.testing.assert_array_equal(dataset.factors, factors)
    assert dataset.factor_names == ("size", "angle")
    np.savez(path, images=PIXELS, labels=labels)
    assert load_npz(path).class_names == tuple(str(i) for i in range(int(labels.max()) + 1))


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"labels": np.arange(5)}, "labels of shape 5"),
        ({"labels": np.array([0, 1, 2, 3, 4, -1])}, "negative"),
        ({"labels": np.arange(6), "class_names": np.array(["a", "b"])}, "names 2 classes"),
        ({"factors": np.zeros((6, 2)), "factor_names": np.array(["a"])}, "names 1 factors"),
        ({"labels": np.array(list("abcdef"), dtype=object)}, "Python objects"),
    ],
)
def test_bad_fields_name_the_file(tmp_path, extra, message):
    path = tmp_path / "bad.npz"
    np.savez(path, images=PIXELS, **extra)
    with pytest.raises(DatasetError, match=message) as error:
        load_npz(path)
    assert str(path) in str(error.value)


def test_missing_images_key_and_bad_layout(tmp_path):
    path = tmp_path / "none.npz"
    np.savez(path, pictures=PIXELS)
    with pytest.raises(DatasetError, match="found pictures") as error:
        load_npz(path)
    assert str(path) in str(error.value)
    np.savez(path, images=np.zeros((2, 5, 5, 5, 5)))
    with pytest.raises(DatasetError, match="expected \\(N, H, W\\)"):
        load_npz(path)


def test_damaged_archive(tmp_path):
    path = tmp_path / "broken.npz"
    np.savez(path, images=PIXELS)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DatasetError) as error:
        load_npz(path)
    assert str(path) in str(error.value)


def test_npy_holds_images_only(tmp_path):
    path = tmp_path / "stack.npy"
    np.save(path, PIXELS.transpose(0, 3, 1, 2))
    dataset = load_npy(path)
    np.testing.assert_array_equal(dataset.images, EXPECTED)
    assert dataset.labels is None and dataset.name == "stack"


def test_subsample_is_taken_before_conversion_and_matches(tmp_path):
    path = tmp_path / "l.npz"
    labels = np.arange(6) % 3
    np.savez(path, images=PIXELS, labels=labels)
    dataset = load_npz(path, limit=4, seed=1)
    np.testing.assert_array_equal(dataset.images, EXPECTED[dataset.indices])
    np.testing.assert_array_equal(dataset.labels, labels[dataset.indices])


def _dsprites_archive(path, n=8):
    """A small archive in DeepMind's dSprites layout."""
    rng = np.random.default_rng(3)
    classes = np.stack([np.zeros(n, int), rng.integers(0, 3, n), rng.integers(0, 6, n),
                        rng.integers(0, 40, n), rng.integers(0, 32, n), rng.integers(0, 32, n)], axis=1)
    values = np.stack([np.ones(n), classes[:, 1] + 1.0, 0.5 + 0.1 * classes[:, 2],
                       classes[:, 3] * 2 * np.pi / 39, classes[:, 4] / 31, classes[:, 5] / 31], axis=1)
    imgs = rng.integers(0, 2, (n, 64, 64), dtype=np.uint8)
    np.savez_compressed(path, imgs=imgs, latents_classes=classes, latents_values=values)
    return imgs, classes, values


def test_dsprites_layout(tmp_path):
    path = tmp_path / "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
    imgs, classes, values = _dsprites_archive(path)
    dataset = load_npz(path)
    assert dataset.images.shape == (8, 1, 64, 64)
    np.testing.assert_array_equal(dataset.images[:, 0], imgs.astype(np.float32))  # binary, not /255
    np.testing.assert_array_equal(dataset.labels, classes[:, 1])
    np.testing.assert_array_equal(dataset.factors, values[:, 1:])
    assert dataset.factor_names == DSPRITES_FACTOR_NAMES
    assert dataset.class_names == DSPRITES_CLASS_NAMES
    subset = load_npz(path, limit=3, seed=2)
    np.testing.assert_array_equal(subset.factors, values[subset.indices, 1:])


def test_8_bit_pixels_become_the_float32_of_value_over_255_exactly():
    """Every 0..255 value of any integer type: the float32 nearest to v / 255 (the numbers codes were cached for)."""
    import numpy as np

    from explorer.data._common import to_unit_float

    values = np.arange(256)
    expected = np.array([np.float32(v) / np.float32(255) for v in values], dtype=np.float32)
    for dtype in (np.uint8, np.int16, np.int64, np.uint16):
        got, notes = to_unit_float(values.astype(dtype).reshape(16, 16), "x.npy")
        assert got.dtype == np.float32 and notes == ()
        np.testing.assert_array_equal(got.ravel(), expected)
    assert abs(float(expected[255]) - 1.0) == 0.0 and float(expected[0]) == 0.0
