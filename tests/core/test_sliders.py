"""Tests of explorer.core.latent.sliders: ranges, slider steps, scores, traversal and interpolation files."""

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from explorer.core.codes import decode_codes
from explorer.core.latent import sliders
from explorer.core.latent.traversal import kl_per_dimension
from models.vae import VAE


@pytest.fixture(scope="module")
def vae():
    torch.manual_seed(0)
    return VAE(4, (1, 28, 28)).eval()


def test_slider_ranges_prior_and_fitted():
    r = sliders.slider_ranges("prior", 3)
    np.testing.assert_array_equal(r, [[-3, 3]] * 3)
    rng = np.random.default_rng(0)
    codes = rng.normal([1.0, -2.0], [0.5, 2.0], size=(5000, 2))
    f = sliders.slider_ranges("fitted", 2, codes)
    np.testing.assert_allclose(f[:, 0], codes.mean(0) - 2 * codes.std(0))
    np.testing.assert_allclose(f[:, 1], codes.mean(0) + 2 * codes.std(0))
    with pytest.raises(ValueError):
        sliders.slider_ranges("fitted", 2)
    with pytest.raises(ValueError):
        sliders.slider_ranges("bogus", 2)


def test_steps_round_trip():
    for v in (-3.0, -1.2345, 0.0, 2.5, 3.0):
        s = sliders.value_to_step(v, -3, 3)
        assert abs(sliders.step_to_value(s, -3, 3) - v) <= 6 / sliders.SLIDER_STEPS / 2 + 1e-12
    assert sliders.value_to_step(10, -3, 3) == sliders.SLIDER_STEPS
    assert sliders.value_to_step(-10, -3, 3) == 0


def test_dimension_scores_kl_and_variance(vae):
    x = np.random.default_rng(1).random((20, 1, 28, 28), dtype=np.float32)
    s = sliders.dimension_scores(vae, images=x)
    assert s.kind == "kl"
    np.testing.assert_allclose(s.values, kl_per_dimension(vae, x))
    assert s.values[s.order[0]] == s.values.max()
    assert s.text(0).endswith("nats") and "KL" in s.label(0)
    codes = np.array([[0, 0.0], [0, 2.0]])
    v = sliders.dimension_scores(type("G", (), {"latent_dim": 2})(), codes=codes)
    assert v.kind == "variance" and v.order.tolist() == [1, 0]


def test_traversal_cells_equal_decode_of_replaced_code(vae):
    z = np.random.default_rng(2).normal(size=4).astype(np.float32)
    ranges = sliders.slider_ranges("prior", 4)
    images, rows, cols = sliders.traversal_figure(vae, z, [2, 0], ranges, n_cols=5)
    assert images.shape == (2, 5, 1, 28, 28)
    assert rows == ["z2", "z0"] and cols[0] == "−3.00" and cols[-1] == "+3.00"
    for i, dim in enumerate([2, 0]):
        for j, v in enumerate(np.linspace(-3, 3, 5)):
            zz = z.copy()
            zz[dim] = v
            np.testing.assert_allclose(images[i, j], decode_codes(vae, zz)[0], atol=1e-6)


@pytest.mark.parametrize("ext", [".png", ".svg", ".pdf", ".gif"])
def test_save_traversal_formats(vae, tmp_path, ext):
    out = sliders.save_traversal(tmp_path / f"t{ext}", vae, np.zeros(4, np.float32), [0, 1],
                                 sliders.slider_ranges("prior", 4), n_cols=4, n_frames=6, scale=1)
    assert out.exists() and out.stat().st_size > 0
    if ext == ".gif":
        frames = iio.imread(out, index=None)
        assert frames.shape[1] == 2 * 28 + 3 * 2 and frames.shape[2] > 28 + 2 * 2 + 40  # a label column
        # the cells are the traversal itself; each row has its label's ink beside it
        plain = sliders.traversal_movie_frames(vae, np.zeros(4, np.float32), [0, 1],
                                               sliders.slider_ranges("prior", 4), 6)
        from explorer.core.latent.movie import prepare_frames

        bare = prepare_frames(plain, 1)
        first = frames[0][..., :1] if frames.ndim == 4 else frames[0][..., None]
        np.testing.assert_array_equal(first[:, -bare.shape[2]:], bare[0])  # (Pillow merges equal frames)
        label_col = frames[0][:, :frames.shape[2] - bare.shape[2]]
        label_col = label_col[..., 0] if label_col.ndim == 3 else label_col
        for row in range(2):
            band = label_col[2 + row * 30: 2 + row * 30 + 28]
            assert (band < 100).any(), f"row {row} has no label"
    with pytest.raises(ValueError):
        sliders.save_traversal(tmp_path / "t.txt", vae, np.zeros(4), [0], sliders.slider_ranges("prior", 4))


@pytest.mark.parametrize("ext", [".gif", ".mp4"])
def test_interpolation_movie_round_trip(vae, tmp_path, ext):
    kp = np.random.default_rng(3).normal(size=(3, 4)).astype(np.float32)
    path, frames = sliders.interpolation_movie(vae, kp, 12, "slerp")
    assert path.shape == (12, 4) and frames.shape == (12, 1, 28, 28)
    np.testing.assert_array_equal(path[0], kp[0])
    np.testing.assert_array_equal(path[-1], kp[-1])
    out = sliders.save_interpolation(tmp_path / f"m{ext}", frames, scale=2)
    back = iio.imread(out, index=None)
    assert back.shape[0] == 12
    assert back.shape[1:3] == (56, 56)
