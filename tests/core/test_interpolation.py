"""Tests for explorer.core.latent.interpolation: lerp, slerp (White 2016) and keypoint paths."""

import numpy as np
import pytest
import torch

from explorer.core.codes import decode_codes
from explorer.core.latent.interpolation import (
    angle,
    interpolation_frames,
    interpolation_path,
    keypoint_indices,
    lerp,
    slerp,
)
from models.vae import VAE

T = np.linspace(0.0, 1.0, 11)


def angle_between(a, b):
    return np.arccos(np.clip(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)), -1, 1))


def test_lerp_closed_form():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 5))
    np.testing.assert_allclose(lerp(a, b, 0.5), (a + b) / 2, rtol=0, atol=1e-15)
    out = lerp(a, b, T)
    assert out.shape == (11, 5)
    np.testing.assert_allclose(out, a + T[:, None] * (b - a), atol=1e-14)
    assert np.array_equal(out[0], a) and np.array_equal(out[-1], b)


def test_float32_codes_stay_float32():
    a, b = np.ones(3, np.float32), np.arange(3, dtype=np.float32)
    assert lerp(a, b, T).dtype == np.float32
    assert slerp(a, b, T).dtype == np.float32
    assert slerp(a.astype(np.float64), b, 0.3).dtype == np.float64


def test_slerp_keeps_endpoints():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 16))
    out = slerp(a, b, T)
    assert np.array_equal(out[0], a) and np.array_equal(out[-1], b)
    np.testing.assert_allclose(slerp(a, b, 0.0), a)
    np.testing.assert_allclose(slerp(a, b, 1.0), b)


def test_slerp_lies_in_the_plane_of_its_endpoints():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(2, 10)) * [[1.0], [2.5]]
    out = slerp(a, b, T)
    basis, _ = np.linalg.qr(np.stack([a, b], axis=1))  # orthonormal basis of span{a, b}
    residual = out - (out @ basis) @ basis.T
    np.testing.assert_allclose(residual, 0.0, atol=1e-12)


def test_slerp_of_unit_vectors_stays_on_the_unit_sphere_at_even_angles():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(2, 8))
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    omega = angle_between(a, b)
    out = slerp(a, b, T)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose([angle_between(a, z) for z in out], T * omega, atol=1e-7)


def test_slerp_of_equal_norm_vectors_keeps_the_norm():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(2, 32))
    b *= np.linalg.norm(a) / np.linalg.norm(b)
    np.testing.assert_allclose(np.linalg.norm(slerp(a, b, T), axis=1), np.linalg.norm(a), rtol=1e-12)


def test_slerp_norm_profile_for_different_norms():
    # slerp(t) = s0 a + s1 b with s0 = sin((1-t)Ω)/sinΩ, s1 = sin(tΩ)/sinΩ, so
    # ‖slerp(t)‖² = s0² r0² + s1² r1² + 2 s0 s1 r0 r1 cos Ω.
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(2, 6))
    b *= 3.0 / np.linalg.norm(b)
    a *= 1.0 / np.linalg.norm(a)
    omega = angle_between(a, b)
    s0 = np.sin((1 - T) * omega) / np.sin(omega)
    s1 = np.sin(T * omega) / np.sin(omega)
    expected = np.sqrt(s0**2 * 1.0 + s1**2 * 9.0 + 2 * s0 * s1 * 3.0 * np.cos(omega))
    np.testing.assert_allclose(np.linalg.norm(slerp(a, b, T), axis=1), expected, rtol=1e-12)
    assert angle(a, b) == pytest.approx(omega)


def test_slerp_avoids_the_low_norm_middle_of_lerp_in_high_dimension():
    # White 2016: two prior samples in high d are nearly orthogonal with norm ≈ √d; the
    # lerp midpoint has norm ≈ √(d/2), far from where the prior puts its mass.
    rng = np.random.default_rng(6)
    d = 512
    a, b = rng.normal(size=(2, d))
    typical = np.sqrt(d)
    assert np.linalg.norm(lerp(a, b, 0.5)) / typical == pytest.approx(np.sqrt(0.5), abs=0.05)
    assert np.linalg.norm(slerp(a, b, 0.5)) / typical == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize(
    "a, b",
    [
        (np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0])),  # parallel
        (np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0 + 1e-9])),  # nearly parallel
        (np.zeros(3), np.array([1.0, -1.0, 2.0])),  # zero vector
        (np.array([1.0, 0.0, 0.0]), np.array([-2.0, 0.0, 0.0])),  # antiparallel
    ],
)
def test_slerp_falls_back_to_lerp_when_the_arc_is_undefined(a, b):
    out = slerp(a, b, T)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, lerp(a, b, T), atol=1e-9)


def test_slerp_rejects_mismatched_codes():
    with pytest.raises(ValueError):
        slerp(np.ones(3), np.ones(4), 0.5)


def test_path_hits_every_keypoint_with_the_requested_frame_count():
    rng = np.random.default_rng(7)
    kp = rng.normal(size=(4, 6)).astype(np.float32)
    for method in ("lerp", "slerp"):
        for closed in (False, True):
            path = interpolation_path(kp, 37, method, closed)
            idx = keypoint_indices(kp, 37, method, closed)
            assert path.shape == (37, 6) and path.dtype == np.float32
            assert idx[0] == 0 and np.all(np.diff(idx) > 0)
            assert np.array_equal(path[idx], kp)  # exactly
            if not closed:
                assert idx[-1] == 36
            else:
                assert not np.array_equal(path[-1], kp[0])  # the loop does not repeat its start


def test_lerp_path_shares_frames_in_proportion_to_segment_length():
    # Keypoints at 0, 1 and 3 on a line: segment lengths 1 and 2; 13 frames → step 1/4.
    kp = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    path = interpolation_path(kp, 13, "lerp")
    np.testing.assert_allclose(path[:, 0], np.linspace(0.0, 3.0, 13), atol=1e-15)
    assert keypoint_indices(kp, 13).tolist() == [0, 4, 12]


def test_slerp_path_shares_frames_in_proportion_to_angle():
    # Unit vectors at 0°, 30° and 90°: angles 30° and 60°; 10 frames → 10° per step.
    deg = np.deg2rad([0.0, 30.0, 90.0])
    kp = np.stack([np.cos(deg), np.sin(deg), np.zeros(3)], axis=1)
    path = interpolation_path(kp, 10, "slerp")
    np.testing.assert_allclose(np.arctan2(path[:, 1], path[:, 0]), np.deg2rad(np.arange(0, 91, 10)), atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), 1.0, atol=1e-12)


def test_closed_path_returns_towards_the_start():
    kp = np.array([[0.0], [1.0]])
    path = interpolation_path(kp, 8, "lerp", closed=True)
    # Two equal segments (there and back) share the 6 inner frames 3 / 3: step 1/4, no repeated 0.
    np.testing.assert_allclose(path[:, 0], [0, 0.25, 0.5, 0.75, 1, 0.75, 0.5, 0.25], atol=1e-15)


def test_path_with_repeated_keypoints_spreads_frames_equally():
    kp = np.ones((3, 2))
    path = interpolation_path(kp, 7)
    assert path.shape == (7, 2) and np.array_equal(path, np.ones((7, 2)))


@pytest.mark.parametrize(
    "kp, frames, method",
    [
        (np.ones((1, 3)), 5, "lerp"),  # one keypoint
        (np.ones((3, 3)), 2, "lerp"),  # fewer frames than keypoints
        (np.ones((2, 3)), 5, "cubic"),  # unknown method
        (np.ones(3), 5, "lerp"),  # not (K, d)
    ],
)
def test_path_errors(kp, frames, method):
    with pytest.raises(ValueError):
        interpolation_path(kp, frames, method)


def test_interpolation_frames_decode_the_path():
    torch.manual_seed(0)
    model = VAE(3, (1, 8, 8), hidden=16, channels=[4])
    path = interpolation_path(np.random.default_rng(8).normal(size=(3, 3)).astype(np.float32), 9, "slerp")
    frames = interpolation_frames(model, path)
    assert frames.shape == (9, 1, 8, 8) and frames.dtype == np.float32
    assert np.array_equal(frames, decode_codes(model, path))
    with pytest.raises(ValueError):
        interpolation_frames(model, np.zeros((4, 5)))
