"""The real dSprites archive layout: no pickles (metadata is never unpickled), sizes checked first."""

from __future__ import annotations

import pathlib
import zipfile

import numpy as np
import pytest

from explorer.data import dsprites
from explorer.data.arrays import load_npz
from explorer.data.factors import GridSampler, factor_sampler
from explorer.data.npz_members import member_header, read_rows
from explorer.errors import DatasetError


class _Trap:
    """Unpickling this creates the marker file: proof that the loader unpickled the metadata."""

    def __init__(self, marker):
        self.marker = pathlib.Path(marker)

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def _grid_archive(path, marker):
    """A complete grid archive in dSprites' layout: 2 shapes × 2 scales × 1 × 2 × 2 = 16 images."""
    grid = np.stack(np.meshgrid([0], [0, 1], [0, 1], [0], [0, 1], [0, 1], indexing="ij"), axis=-1).reshape(-1, 6)
    values = np.column_stack([np.ones(16), grid[:, 1] + 1.0, 0.5 + 0.5 * grid[:, 2], np.zeros(16),
                              grid[:, 4] / 31, grid[:, 5] / 31])
    imgs = np.random.default_rng(0).integers(0, 2, (16, 64, 64), dtype=np.uint8)
    metadata = np.array([_Trap(marker)], dtype=object)
    np.savez_compressed(path, imgs=imgs, latents_classes=grid, latents_values=values, metadata=metadata)
    return imgs, grid, values


def test_archive_is_read_without_unpickling_metadata(tmp_path):
    path, marker = tmp_path / "dsprites.npz", tmp_path / "unpickled"
    imgs, grid, values = _grid_archive(path, marker)
    ds = load_npz(path)
    assert not marker.exists()
    assert any("'metadata'" in n and "not unpickled" in n for n in ds.notes)
    np.testing.assert_array_equal(ds.images[:, 0], imgs.astype(np.float32))
    np.testing.assert_array_equal(ds.factors, values[:, 1:])
    np.testing.assert_array_equal(ds.labels, grid[:, 1])
    sub = load_npz(path, limit=5, seed=3)
    np.testing.assert_array_equal(sub.images[:, 0], imgs[sub.indices].astype(np.float32))
    assert not marker.exists()
    # a complete grid: indexed for the β-VAE and FactorVAE scores
    sampler, reason = factor_sampler(ds)
    assert isinstance(sampler, GridSampler) and reason == ""
    classes = np.array([[1, 1, 0, 1, 0], [0, 0, 0, 0, 1]])  # shape, scale, orientation, x, y (class indices)
    rows = [int(np.flatnonzero((grid[:, 1:] == c).all(axis=1))[0]) for c in classes]
    np.testing.assert_array_equal(sampler.images(classes)[:, 0], imgs[rows].astype(np.float32))


def test_rows_stream_in_blocks_and_headers_are_checked(tmp_path, monkeypatch):
    import explorer.data.npz_members as members

    monkeypatch.setattr(members, "_BLOCK_ROWS", 3)
    a = np.arange(10 * 4, dtype=np.int16).reshape(10, 4)
    path = tmp_path / "a.npz"
    np.savez(path, a=a)
    assert member_header(path, "a") == ((10, 4), np.dtype(np.int16), 80)
    keep = np.array([0, 2, 3, 8, 9])
    np.testing.assert_array_equal(read_rows(path, "a", keep), a[keep])
    np.testing.assert_array_equal(read_rows(path, "a", None), a)
    # a header that claims more rows than the member holds is refused before allocating
    bad = tmp_path / "bad.npz"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bad, "w") as dst:
        raw = src.read("a.npy")
        header_end = raw.index(b"\n") + 1
        forged = raw[:header_end].replace(b"(10, 4)", b"(90, 4)") + raw[header_end:]
        dst.writestr("a.npy", forged)
    with pytest.raises(DatasetError, match="declares shape"):
        read_rows(bad, "a", None)
    with pytest.raises(DatasetError, match="no array"):
        member_header(path, "b")


def test_procedural_dsprites_matches_the_documented_dataset():
    """3 shapes, 6 scales in [0.5, 1], 40 orientations in [0, 2π), 32 × 32 positions in [0, 1]: 737,280 binary 64×64."""
    v = dsprites.FACTOR_VALUES
    assert [len(v[k]) for k in dsprites.FACTOR_NAMES] == [3, 6, 40, 32, 32]
    assert np.prod([len(v[k]) for k in dsprites.FACTOR_NAMES]) == 737_280
    np.testing.assert_allclose(v["scale"], np.linspace(0.5, 1.0, 6))
    assert v["orientation"][0] == 0 and v["orientation"][-1] < 2 * np.pi
    np.testing.assert_allclose(np.diff(v["orientation"]), 2 * np.pi / 40)
    np.testing.assert_allclose(v["pos_x"], np.linspace(0, 1, 32))
    images = dsprites.generate(50, seed=1).images
    assert images.shape == (50, 1, 64, 64) and set(np.unique(images)) <= {0.0, 1.0}
    assert np.all(images.reshape(50, -1).sum(axis=1) > 0)  # every sprite is on the canvas
