"""Tests for explorer.core.latent.traversal: ranges, traversal codes and grids, KL ordering, cycles."""

import types

import numpy as np
import pytest
import torch

from explorer.core.codes import decode_codes
from explorer.core.jobs import Cancelled, JobContext
from explorer.core.latent.traversal import (
    active_order,
    code_variance,
    cycle_values,
    dimension_label,
    fitted_range,
    kl_per_dimension,
    prior_range,
    traversal_codes,
    traversal_cycle_frames,
    traversal_grid,
    traversal_values,
    value_labels,
)
from models.vae import VAE, kl_divergence


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return VAE(4, (1, 8, 8), hidden=16, channels=[4])


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((10, 1, 8, 8), dtype=np.float32)


def test_prior_range():
    r = prior_range(5)
    assert r.shape == (5, 2)
    assert np.array_equal(r, np.tile([-3.0, 3.0], (5, 1)))
    assert np.array_equal(prior_range(2, sigmas=1.5), [[-1.5, 1.5], [-1.5, 1.5]])
    with pytest.raises(ValueError):
        prior_range(0)


def test_fitted_range_is_mean_plus_minus_two_std():
    rng = np.random.default_rng(1)
    codes = rng.normal(loc=[0.0, 5.0, -1.0], scale=[1.0, 0.1, 3.0], size=(200, 3))
    r = fitted_range(codes)
    mean, std = codes.mean(axis=0), codes.std(axis=0)
    np.testing.assert_allclose(r, np.stack([mean - 2 * std, mean + 2 * std], axis=1), rtol=1e-12)
    # With posterior variances: total variance Var(mean) + E[var].
    pv = rng.random((200, 3))
    r = fitted_range(codes, sigmas=1.0, posterior_var=pv)
    half = np.sqrt(codes.var(axis=0) + pv.mean(axis=0))
    np.testing.assert_allclose(r, np.stack([mean - half, mean + half], axis=1), rtol=1e-12)
    with pytest.raises(ValueError):
        fitted_range(np.zeros((0, 3)))


def test_traversal_codes_replace_one_dimension_per_row():
    z = np.array([0.5, -1.0, 2.0, 0.25], dtype=np.float32)
    values = np.linspace(-2, 2, 5)
    codes = traversal_codes(z, [2, 0], values)
    assert codes.shape == (2, 5, 4) and codes.dtype == np.float32
    for i, dim in enumerate([2, 0]):
        expected = np.tile(z, (5, 1))
        expected[:, dim] = values
        assert np.array_equal(codes[i], expected)


def test_traversal_values_from_per_dimension_ranges():
    ranges = np.array([[-1.0, 1.0], [0.0, 4.0], [2.0, 2.0]])
    v = traversal_values([1, 0, 2], ranges, n_cols=3)
    assert np.array_equal(v, [[0.0, 2.0, 4.0], [-1.0, 0.0, 1.0], [2.0, 2.0, 2.0]])
    codes = traversal_codes(np.zeros(3), [1], ranges, n_cols=3)
    assert np.array_equal(codes[0, :, 1], [0.0, 2.0, 4.0])


@pytest.mark.parametrize(
    "dims, ranges, n_cols",
    [([4], np.linspace(-1, 1, 3), None), ([0], prior_range(4), None), ([0], np.zeros((4, 3)), 3),
     ([0], np.linspace(-1, 1, 3), 4), ([0], prior_range(3), 3)],
)
def test_traversal_codes_errors(dims, ranges, n_cols):
    with pytest.raises(ValueError):
        traversal_codes(np.zeros(4), dims, ranges, n_cols)


def test_traversal_grid_cells_equal_decoding_the_hand_built_codes(model):
    z = np.array([0.3, -0.7, 1.1, 0.0], dtype=np.float32)
    dims = [3, 1, 0]
    ranges = prior_range(4)
    grid = traversal_grid(model, z, dims, ranges, n_cols=5)
    assert grid.shape == (3, 5, 1, 8, 8) and grid.dtype == np.float32
    values = np.linspace(-3.0, 3.0, 5)
    hand = []
    for dim in dims:
        for v in values:
            code = z.copy()
            code[dim] = v
            hand.append(code)
    hand = np.array(hand, dtype=np.float32)
    assert np.array_equal(grid.reshape(15, 1, 8, 8), decode_codes(model, hand))
    # A single cell decoded on its own agrees too (up to batch-size rounding).
    np.testing.assert_allclose(grid[1, 4], decode_codes(model, hand[9:10])[0], atol=1e-6)


def test_traversal_grid_is_cancellable(model):
    ctx = JobContext()
    ctx.cancel()
    with pytest.raises(Cancelled):
        traversal_grid(model, np.zeros(4, np.float32), [0, 1], prior_range(4), 3, ctx=ctx)


def test_kl_per_dimension_matches_the_closed_form(model, images):
    kl = kl_per_dimension(model, images, batch_size=4)
    mu, logvar = (t.double().numpy() for t in model.posterior(torch.from_numpy(images)))
    hand = (0.5 * (mu**2 + np.exp(logvar) - 1.0 - logvar)).mean(axis=0)
    assert kl.shape == (4,)
    np.testing.assert_allclose(kl, hand, rtol=1e-6)
    assert np.all(kl >= 0)
    # The per-dimension terms add up to the model's own KL (Kingma & Welling 2014, app. B).
    total = kl_divergence(*model.posterior(torch.from_numpy(images))).mean().item()
    assert kl.sum() == pytest.approx(total, rel=1e-5)


def test_kl_per_dimension_needs_a_posterior(images):
    gan = types.SimpleNamespace(kind="gan", latent_dim=4, image_shape=(1, 8, 8))
    with pytest.raises(TypeError, match="code_variance"):
        kl_per_dimension(gan, images)


def test_code_variance_and_active_order():
    codes = np.random.default_rng(2).normal(scale=[0.1, 3.0, 1.0, 3.0], size=(500, 4))
    var = code_variance(codes)
    np.testing.assert_allclose(var, codes.var(axis=0))
    assert active_order(var)[:2].tolist() in ([1, 3], [3, 1])
    assert active_order(var)[2:].tolist() == [2, 0]
    assert active_order([1.0, 2.0, 2.0, np.nan, 0.5]).tolist() == [1, 2, 0, 4, 3]


def test_cycle_values_go_up_down_and_back():
    # Start 0 in [-2, 2] is phase 0.5; 8 frames step the phase by 1/4 around a period of 2.
    v = cycle_values(0.0, (-2.0, 2.0), 8)
    np.testing.assert_allclose(v, [0, 1, 2, 1, 0, -1, -2, -1], atol=1e-12)
    v = cycle_values(-2.0, (-2.0, 2.0), 4)
    np.testing.assert_allclose(v, [-2, 0, 2, 0], atol=1e-12)
    assert cycle_values(9.0, (-1.0, 1.0), 3)[0] == 1.0  # start clipped to the range
    assert np.array_equal(cycle_values(0.3, (1.0, 1.0), 3), [1.0, 1.0, 1.0])
    with pytest.raises(ValueError):
        cycle_values(0.0, (1.0, -1.0), 5)


def test_traversal_cycle_frames_decode_the_cycle(model):
    z = np.array([0.2, 0.0, -0.4, 1.0], dtype=np.float32)
    frames = traversal_cycle_frames(model, z, 2, (-3.0, 3.0), 6)
    codes = np.tile(z, (6, 1))
    codes[:, 2] = cycle_values(z[2], (-3.0, 3.0), 6)
    assert frames.shape == (6, 1, 8, 8)
    assert np.array_equal(frames, decode_codes(model, codes))
    with pytest.raises(ValueError):
        traversal_cycle_frames(model, z, 4, (-3.0, 3.0), 6)


def test_labels():
    assert dimension_label(3) == "z3"
    assert dimension_label(3, 2.4142) == "z3 (KL 2.41 nats)"
    assert value_labels([-2.0, -0.001, 0.0, 1.5]) == ["−2.00", "0.00", "0.00", "+1.50"]
