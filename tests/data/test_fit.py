"""fit_to_model: shapes, notes, and values against Pillow and the BT.601 formula."""

import numpy as np
import pytest
from PIL import Image

from explorer.data import Dataset, fit_to_model, resize_images
from explorer.data.fit import lanczos_matrix
from explorer.errors import DatasetError

RNG = np.random.default_rng(0)


FILTERS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
           "lanczos": Image.Resampling.LANCZOS, "nearest": Image.Resampling.NEAREST}


def _pillow_resize(channel, height, width, method="bilinear"):
    resized = Image.fromarray(channel, mode="F").resize((width, height), FILTERS[method])
    return np.clip(np.asarray(resized), 0, 1)


@pytest.mark.parametrize("method", sorted(FILTERS))
@pytest.mark.parametrize("size_in, size_out", [((28, 28), (64, 64)), ((64, 64), (28, 28)), ((9, 20), (17, 6))])
def test_resize_matches_pillow(size_in, size_out, method):
    images = RNG.random((5, 2, *size_in), dtype=np.float32)
    resized = resize_images(images, *size_out, method)
    assert resized.shape == (5, 2, *size_out) and resized.dtype == np.float32
    for image, result in zip(images, resized, strict=True):
        for channel, out in zip(image, result, strict=True):
            np.testing.assert_allclose(out, _pillow_resize(channel, *size_out, method), atol=1e-6)


def test_default_filter_is_torchvision_bilinear_and_is_named():
    """torchvision's Resize default is bilinear with antialiasing (Pillow's BILINEAR for PIL images)."""
    from explorer.data import DEFAULT_RESIZE, load_dataset

    assert DEFAULT_RESIZE == "bilinear"
    dataset = Dataset(images=RNG.random((2, 1, 28, 28), dtype=np.float32))
    for method in FILTERS:
        fitted = fit_to_model(dataset, (1, 64, 64), resize=method)
        np.testing.assert_allclose(fitted.images[0, 0], _pillow_resize(dataset.images[0, 0], 64, 64, method),
                                   atol=1e-6)
    assert "bilinear, antialiased like torchvision" in fit_to_model(dataset, (1, 16, 16)).notes[-1]
    assert "nearest" in fit_to_model(dataset, (1, 16, 16), resize="nearest").notes[-1]
    digits = load_dataset("digits", limit=4, resize="lanczos")
    assert digits.resize == "lanczos" and "Lanczos" in fit_to_model(digits, (1, 16, 16)).notes[-1]
    with pytest.raises(DatasetError, match="resize filter 'cubic'"):
        load_dataset("digits", limit=4, resize="cubic")


def test_lanczos_rows_sum_to_one():
    for size_in, size_out in [(28, 64), (64, 28), (5, 5)]:
        np.testing.assert_allclose(lanczos_matrix(size_in, size_out).sum(axis=1), 1, atol=1e-6)


def test_grey_to_rgb_and_upsize_with_notes():
    dataset = Dataset(images=RNG.random((4, 1, 28, 28), dtype=np.float32), labels=np.arange(4), notes=("x",))
    fitted = fit_to_model(dataset, (3, 64, 64))
    assert fitted.images.shape == (4, 3, 64, 64) and fitted.images.dtype == np.float32
    np.testing.assert_array_equal(fitted.images[:, 0], fitted.images[:, 2])
    np.testing.assert_allclose(fitted.images[1, 1], _pillow_resize(dataset.images[1, 0], 64, 64), atol=1e-6)
    assert fitted.notes == (
        "x",
        "Greyscale images converted to RGB (channel replicated) to fit the model's input.",
        "Images resized from 28×28 to 64×64 (bilinear, antialiased like torchvision) to fit the model's input.",
    )
    assert fitted.labels is dataset.labels


def test_rgb_to_grey_is_bt601_luma():
    images = RNG.random((3, 3, 8, 8), dtype=np.float32)
    fitted = fit_to_model(Dataset(images=images), (1, 8, 8))
    expected = 0.299 * images[:, 0] + 0.587 * images[:, 1] + 0.114 * images[:, 2]
    np.testing.assert_allclose(fitted.images[:, 0], expected, atol=1e-6)
    assert fitted.notes == ("RGB images converted to greyscale (ITU-R BT.601 luma) to fit the model's input.",)


def test_downsizing_is_antialiased():
    stripes = np.zeros((1, 1, 64, 64), dtype=np.float32)
    stripes[..., ::2] = 1.0  # one-pixel stripes: aliasing would keep only ones or zeros
    fitted = fit_to_model(Dataset(images=stripes), (1, 16, 16))
    np.testing.assert_allclose(fitted.images[..., 2:-2], 0.5, atol=0.02)  # edges: truncated kernel


def test_same_shape_returns_the_dataset_itself():
    dataset = Dataset(images=np.zeros((2, 1, 8, 8), dtype=np.float32))
    assert fit_to_model(dataset, (1, 8, 8)) is dataset


def test_unsupported_channel_conversion():
    with pytest.raises(DatasetError, match="3 channels"):
        fit_to_model(Dataset(images=np.zeros((1, 3, 4, 4), dtype=np.float32), source="a.npz"), (2, 4, 4))
