"""Image-folder reader: classes from subfolders, grey vs RGB, resizing, bad inputs."""

import numpy as np
import pytest
from PIL import Image

from explorer.data.folder import load_image_folder
from explorer.errors import DatasetError

RNG = np.random.default_rng(0)


def _save(path, pixels, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, **kwargs)
    return pixels


def test_class_subfolders_greyscale_exact(tmp_path):
    cats = [_save(tmp_path / "cat" / f"{i}.png", RNG.integers(0, 256, (6, 5), dtype=np.uint8)) for i in range(3)]
    dogs = [_save(tmp_path / "dog" / f"{i}.bmp", RNG.integers(0, 256, (6, 5), dtype=np.uint8)) for i in range(2)]
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    (tmp_path / "empty").mkdir()
    dataset = load_image_folder(tmp_path)
    assert dataset.images.shape == (5, 1, 6, 5) and dataset.images.dtype == np.float32
    assert dataset.class_names == ("cat", "dog")
    np.testing.assert_array_equal(dataset.labels, [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(dataset.images[:, 0], np.stack(cats + dogs) / np.float32(255))
    assert dataset.name == tmp_path.name and dataset.split is None


def test_rgb_and_grey_mix_gives_rgb(tmp_path):
    rgb = _save(tmp_path / "a" / "x.png", RNG.integers(0, 256, (4, 4, 3), dtype=np.uint8))
    grey = _save(tmp_path / "b" / "y.png", RNG.integers(0, 256, (4, 4), dtype=np.uint8))
    dataset = load_image_folder(tmp_path)
    assert dataset.image_shape == (3, 4, 4)
    np.testing.assert_array_equal(dataset.images[0], rgb.transpose(2, 0, 1) / np.float32(255))
    np.testing.assert_array_equal(dataset.images[1], np.stack([grey] * 3) / np.float32(255))


def test_rgb_files_with_equal_channels_are_greyscale_and_alpha_is_dropped(tmp_path):
    grey = RNG.integers(0, 256, (4, 4), dtype=np.uint8)
    rgba = np.dstack([grey, grey, grey, np.full_like(grey, 7)])
    _save(tmp_path / "a" / "x.png", rgba)
    _save(tmp_path / "a" / "y.webp", np.dstack([grey] * 3), lossless=True)
    dataset = load_image_folder(tmp_path)
    assert dataset.image_shape == (1, 4, 4)
    np.testing.assert_array_equal(dataset.images[:, 0], np.stack([grey, grey]) / np.float32(255))


def test_other_sizes_are_resized_to_the_most_common_with_a_note(tmp_path):
    for i in range(3):
        _save(tmp_path / "a" / f"{i}.png", RNG.integers(0, 256, (8, 6), dtype=np.uint8))
    odd = _save(tmp_path / "b" / "big.png", RNG.integers(0, 256, (16, 12), dtype=np.uint8))
    dataset = load_image_folder(tmp_path)
    assert dataset.image_shape == (1, 8, 6)
    expected = np.asarray(Image.fromarray(odd).resize((6, 8), Image.Resampling.LANCZOS)) / np.float32(255)
    np.testing.assert_array_equal(dataset.images[3, 0], expected)
    assert any("1 of 4 images" in note and "8×6" in note for note in dataset.notes)


def test_flat_folder_has_no_labels(tmp_path):
    for i in range(2):
        _save(tmp_path / f"{i}.gif", RNG.integers(0, 256, (3, 3), dtype=np.uint8))
    dataset = load_image_folder(tmp_path)
    assert len(dataset) == 2 and dataset.labels is None and dataset.class_names is None


def test_sixteen_bit_greyscale(tmp_path):
    deep = RNG.integers(0, 65536, (4, 4), dtype=np.uint16)
    _save(tmp_path / "a" / "deep.png", deep)
    dataset = load_image_folder(tmp_path)
    np.testing.assert_allclose(dataset.images[0, 0], deep / 65535, atol=1e-7)


def test_empty_folder_is_an_error(tmp_path):
    (tmp_path / "class_a").mkdir()
    (tmp_path / "readme.txt").write_text("hello")
    with pytest.raises(DatasetError, match="holds no images") as error:
        load_image_folder(tmp_path)
    assert str(tmp_path) in str(error.value)


def test_unreadable_image_names_the_file(tmp_path):
    _save(tmp_path / "a" / "good.png", RNG.integers(0, 256, (3, 3), dtype=np.uint8))
    bad = tmp_path / "a" / "bad.jpg"
    bad.write_bytes(b"this is not a jpeg")
    with pytest.raises(DatasetError, match="is not a PNG, JPEG, BMP, GIF, TIFF or WebP image") as error:
        load_image_folder(tmp_path)
    assert str(bad) in str(error.value)


def test_subsample_reads_only_the_chosen_files(tmp_path):
    pixels = [_save(tmp_path / "a" / f"{i:02d}.png", RNG.integers(0, 256, (3, 3), dtype=np.uint8)) for i in range(10)]
    (tmp_path / "a" / "zz.png").write_bytes(b"broken")  # the last file: left out by this seed's subsample
    dataset = load_image_folder(tmp_path, limit=4, seed=0)
    assert 10 not in dataset.indices
    np.testing.assert_array_equal(dataset.images[:, 0], np.stack(pixels)[dataset.indices] / np.float32(255))


def test_a_postscript_file_named_png_is_refused_without_running_anything(tmp_path, monkeypatch):
    """Pillow would sniff PostScript and hand it to Ghostscript; only raster formats may be opened."""
    import subprocess

    (tmp_path / "a").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "a" / "ok.png")
    (tmp_path / "a" / "evil.png").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\nshowpage\n")
    ran = []
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: ran.append(a) or pytest.fail("ran a program"))
    with pytest.raises(DatasetError, match="evil.png") as err:
        load_image_folder(tmp_path)
    assert "is not a PNG, JPEG, BMP, GIF, TIFF or WebP image" in str(err.value) and "\n" not in str(err.value)
    assert ran == []


def test_a_decompression_bomb_is_refused_with_one_sentence(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(tmp_path / "a" / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 4,096 pixels is "a bomb" here
    with pytest.raises(DatasetError, match="big.png. could not be read as an image") as err:
        load_image_folder(tmp_path)
    assert "\n" not in str(err.value)
