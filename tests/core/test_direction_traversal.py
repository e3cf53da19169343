"""Traversal grids and movies along directions: each row is decode(z + t·u) over ±3 · scale."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.core.codes import decode_codes
from explorer.core.latent.direction_traversal import direction_movie_frames, direction_traversal_figure
from explorer.core.latent.directions import Direction
from explorer.core.latent.sliders import save_traversal
from models.vae import VAE


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return VAE(3, (1, 28, 28), hidden=16).eval()


def _dirs():
    u = np.array([0.6, 0.8, 0.0], np.float32)
    return [Direction("PC 1", u, "ganspace", 0.5), Direction("z2", np.array([0, 0, 1], np.float32), "axis")]


def test_rows_decode_z_plus_t_u(model):
    z = np.array([0.1, -0.2, 0.3], np.float32)
    images, rows, cols = direction_traversal_figure(model, z, _dirs(), n_cols=5)
    assert images.shape == (2, 5, 1, 28, 28) and rows == ["PC 1 (±1.50)", "z2 (±3.00)"]
    assert cols == ["−3.00", "−1.50", "0.00", "+1.50", "+3.00"]  # offsets in units of each row's scale
    t = np.linspace(-1.5, 1.5, 5)
    direct = np.stack([z.astype(np.float64) + ti * np.array([0.6, 0.8, 0.0]) for ti in t]).astype(np.float32)
    np.testing.assert_allclose(images[0], decode_codes(model, direct), atol=1e-6)


def test_movie_rows_start_at_z_and_loop_over_the_range(model, tmp_path):
    z = np.zeros(3, np.float32)
    frames = direction_movie_frames(model, z, _dirs(), n_frames=8)
    assert frames.shape == (8, 2, 1, 1, 28, 28)
    np.testing.assert_allclose(frames[0, 0, 0], decode_codes(model, z[None])[0], atol=1e-6)
    top = decode_codes(model, (1.5 * _dirs()[0].vector)[None])[0]  # a quarter period: the top of the range
    np.testing.assert_allclose(frames[2, 0, 0], top, atol=1e-6)
    gif = save_traversal(tmp_path / "t.gif", model, z, [], None, directions=_dirs(), n_frames=8)
    assert gif.read_bytes()[:6] == b"GIF89a"
    with pytest.raises(ValueError, match="at least one direction"):
        direction_traversal_figure(model, z, [])
