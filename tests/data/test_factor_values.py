"""Factor value names: dSprites' square/ellipse/heart and values with units; an .npz's factor_value_names."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.data import dsprites
from explorer.data.arrays import load_npz
from explorer.data.factor_values import class_labels, resolve_value, value_label, value_labels
from explorer.errors import DatasetError


def test_generated_dsprites_names_its_shapes_in_the_documented_order():
    ds = dsprites.generate(2000, seed=1)  # every one of the 40 orientations occurs
    # Matthey et al. 2017: shape values 1, 2, 3 are square, ellipse, heart
    assert value_labels(ds, 0, [1.0, 2.0, 3.0]) == ("square", "ellipse", "heart")
    assert class_labels(ds, 0) == ("square", "ellipse", "heart")
    # each image's shape name is the class name of its label (labels = shape − 1)
    names = value_labels(ds, 0, ds.factors[:, 0])
    assert names == tuple(ds.class_names[int(c)] for c in ds.labels)
    assert value_labels(ds, 1, dsprites.FACTOR_VALUES["scale"], with_name=True) == (
        "scale 0.5", "scale 0.6", "scale 0.7", "scale 0.8", "scale 0.9", "scale 1")
    assert value_label(ds, 2, 2 * np.pi / 40, with_name=True) == "orientation 0.16 rad"
    assert value_label(ds, 3, 1 / 31, with_name=True) == "pos_x 0.0323"
    assert value_label(ds, 0, 3.0, with_name=True) == "heart"  # a word needs no factor name
    labels = class_labels(ds, 2)
    assert len(labels) == 40 and len(set(labels)) == 40 and labels[-1] == "6.13 rad"  # 39 · 2π/40


def test_values_are_found_by_name_or_by_the_nearest_number():
    ds = dsprites.generate(400, seed=0)
    assert resolve_value(ds, 0, "Heart") == 2 and resolve_value(ds, 0, "1") == 0
    assert resolve_value(ds, 1, "0.5") == 0 and resolve_value(ds, 1, "1") == 5
    assert resolve_value(ds, 2, "0.16 rad") == 1 and resolve_value(ds, 2, "0.16") == 1
    with pytest.raises(ValueError, match="factor 'shape' has no value 'star'; its values are square, ellipse, heart"):
        resolve_value(ds, 0, "star")
    assert resolve_value(ds, 1, "0.58") == 1  # the nearest value, within half a step
    with pytest.raises(ValueError, match="no value '0.3'"):
        resolve_value(ds, 1, "0.3")  # four steps below the smallest scale


def test_the_real_archive_names_its_shapes_and_orientations(tmp_path):
    grid = np.stack(np.meshgrid([0], [0, 1, 2], [0, 1], [0, 39], [0], [0], indexing="ij"), axis=-1).reshape(-1, 6)
    orientation = np.linspace(0, 2 * np.pi, 40)  # the archive's 40 values, 0 and 2π both
    values = np.column_stack([np.ones(len(grid)), grid[:, 1] + 1.0, 0.5 + 0.5 * grid[:, 2], orientation[grid[:, 3]],
                              np.zeros(len(grid)), np.zeros(len(grid))])
    imgs = np.zeros((len(grid), 64, 64), np.uint8)
    np.savez_compressed(tmp_path / "d.npz", imgs=imgs, latents_classes=grid, latents_values=values)
    ds = load_npz(tmp_path / "d.npz", limit=5, seed=0)
    assert value_labels(ds, 0, [1.0, 2.0, 3.0]) == ("square", "ellipse", "heart")
    assert value_label(ds, 2, 2 * np.pi, with_name=True) == "orientation 6.28 rad"
    assert value_labels(ds, 0, ds.factors[:, 0]) == tuple(ds.class_names[int(c)] for c in ds.labels)


def test_npz_factor_value_names_are_checked_and_survive_a_subsample(tmp_path):
    factors = np.column_stack([np.arange(12) % 3, np.arange(12) % 2 * 0.5]).astype(np.float64)
    names = np.array([["red", "green", "blue"], ["", "", ""]])
    np.savez(tmp_path / "f.npz", images=np.zeros((12, 4, 4), np.uint8), factors=factors,
             factor_names=np.array(["colour", "size"]), factor_value_names=names)
    ds = load_npz(tmp_path / "f.npz", limit=4, seed=2)
    assert value_labels(ds, 0, ds.factors[:, 0]) == tuple(["red", "green", "blue"][int(v)] for v in ds.factors[:, 0])
    assert value_label(ds, 1, 0.5, with_name=True) == "size 0.5"  # an empty row: the numbers
    bad = {"too few": np.array([["red", "green"], ["", ""]]),
           "not strings": np.arange(6).reshape(2, 3),
           "wrong rows": np.array([["red", "green", "blue"]]),
           "too long": np.array([["x" * 65, "g", "b"], ["", "", ""]])}
    for what, raw in bad.items():
        np.savez(tmp_path / "b.npz", images=np.zeros((12, 4, 4), np.uint8), factors=factors, factor_value_names=raw)
        with pytest.raises(DatasetError, match="b.npz") as info:
            load_npz(tmp_path / "b.npz")
        assert "\n" not in str(info.value), what
    # an object array (a pickle) is refused when the archive is opened, never unpickled
    np.savez(tmp_path / "p.npz", images=np.zeros((12, 4, 4), np.uint8), factors=factors,
             factor_value_names=np.array([["a", "b", "c"], ["d", "e", ""]], dtype=object))
    with pytest.raises(DatasetError):
        load_npz(tmp_path / "p.npz")
