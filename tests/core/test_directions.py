"""Directions: GANSpace against numpy's SVD, SeFa against numpy's eigenvectors, attribute vectors between means."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.core.latent.directions import (
    Direction,
    attribute_vector,
    axis_direction,
    class_attribute_vector,
    direction_codes,
    direction_traversal_codes,
    first_layer_weight,
    ganspace_directions,
    sefa_directions,
)
from models.dcgan import DCGAN
from models.vae import VAE


def _same_up_to_sign(a, b, tol):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert min(np.abs(a - b).max(), np.abs(a + b).max()) < tol


def test_ganspace_directions_are_the_principal_axes():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(300, 4)) @ np.diag([3.0, 2.0, 1.0, 0.5]) @ np.linalg.qr(rng.normal(size=(4, 4)))[0]
    dirs = ganspace_directions(codes)
    centred = codes - codes.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    for d, v, sv in zip(dirs, vt, s, strict=True):
        _same_up_to_sign(d.vector, v, 1e-5)
        assert d.scale == pytest.approx(sv / np.sqrt(len(codes) - 1), rel=1e-6)
        assert np.linalg.norm(d.vector) == pytest.approx(1.0, abs=1e-6)
    assert [d.name for d in dirs[:2]] == ["PC 1", "PC 2"] and len(ganspace_directions(codes, 2)) == 2


@pytest.mark.parametrize("kind", ["vae", "gan"])
def test_sefa_directions_are_numpy_eigenvectors_of_a_t_a(kind):
    torch.manual_seed(0)
    model = VAE(5, (1, 28, 28), channels=[4, 8], hidden=16) if kind == "vae" else \
        DCGAN(5, (1, 28, 28), g_width=4, d_width=4)
    a, layer = first_layer_weight(model)
    if kind == "vae":
        assert layer == "decoder.0"
        np.testing.assert_array_equal(a, model.decoder[0].weight.detach().double().numpy())
    else:
        assert layer == "generator.project.0"
        # the projection on a 1×1 input is linear in z: A z equals the layer's output, flattened
        z = torch.randn(3, 5, dtype=torch.float64)
        conv = model.generator.project[0].double()
        out = conv(z[:, :, None, None]).flatten(1).detach().numpy()
        np.testing.assert_allclose(out, z.numpy() @ a.T, rtol=1e-10, atol=1e-12)
    values, vectors = np.linalg.eig(a.T @ a)
    order = np.argsort(values.real)[::-1]
    dirs = sefa_directions(model)
    assert [d.info["layer"] for d in dirs] == [layer] * 5
    for d, j in zip(dirs, order, strict=True):
        _same_up_to_sign(d.vector, vectors[:, j].real, 1e-5)
        assert d.info["eigenvalue"] == pytest.approx(values[j].real, rel=1e-8)


def test_attribute_vector_moves_one_class_mean_onto_the_other():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 200)
    codes = rng.normal(size=(200, 6)) + labels[:, None] * np.arange(6)[None, :]
    d = class_attribute_vector(codes, labels, 2, 0, ("square", "ellipse", "heart"))
    mean0, mean2 = codes[labels == 0].mean(axis=0), codes[labels == 2].mean(axis=0)
    moved = direction_codes(mean0, d, [d.scale])[0]
    np.testing.assert_allclose(moved, mean2, rtol=1e-5, atol=1e-5)
    back = direction_codes(mean2, d, [-d.scale])[0]
    np.testing.assert_allclose(back, mean0, rtol=1e-5, atol=1e-5)
    assert d.name == "heart − square" and d.info == {"n_target": int((labels == 2).sum()),
                                                     "n_reference": int((labels == 0).sum())}
    sel = attribute_vector(codes, np.array([0, 1, 2]), np.array([3, 4]))
    np.testing.assert_allclose(sel.vector * sel.scale, codes[:3].mean(0) - codes[3:5].mean(0), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="non-empty"):
        attribute_vector(codes, labels == 5, labels == 0)


def test_direction_codes_traversal_and_round_trip():
    d = axis_direction(1, 3)
    z = np.array([0.5, -1.0, 2.0])
    out = direction_codes(z, d, [-1.0, 0.0, 2.0])
    np.testing.assert_allclose(out, [[0.5, -2.0, 2.0], [0.5, -1.0, 2.0], [0.5, 1.0, 2.0]])
    grid = direction_traversal_codes(z, [d, Direction("u", np.array([0.6, 0.8, 0.0], np.float32), "attribute", 2.0)],
                                     n_cols=5, sigmas=1.0)
    assert grid.shape == (2, 5, 3)
    np.testing.assert_allclose(grid[1, 0], z + -2.0 * np.array([0.6, 0.8, 0.0]), rtol=1e-6)
    back = Direction.from_dict(grid_dir := sefa_directions(weight=np.eye(3) * [3, 2, 1], layer="w")[0].to_dict())
    assert back.name == grid_dir["name"] and back.info["layer"] == "w"
    np.testing.assert_allclose(back.vector, [1, 0, 0])
    with pytest.raises(ValueError, match="unit vector"):
        Direction.from_dict({"name": "x", "vector": [1.0, 1.0], "source": "sefa"})
    with pytest.raises(ValueError, match="dimensions"):
        direction_codes(np.zeros(4), d, [1.0])
