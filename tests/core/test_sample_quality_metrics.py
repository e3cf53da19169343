"""FID, KID, IS, precision/recall, density/coverage and the Wilson interval against closed forms and the libraries."""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import pytest
import scipy.linalg
import torch

from explorer.core.sample_quality.metrics import (
    SampleQualityError,
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    n_below_dimension_note,
    precision_recall_density_coverage,
    wilson_interval,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _closed_form_fid(a: np.ndarray, b: np.ndarray) -> float:
    """‖μ₁−μ₂‖² + Tr(Σ₁+Σ₂−2(Σ₁Σ₂)^½) with scipy's matrix square root (an independent route)."""
    m1, m2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * root))


def test_fid_of_gaussian_features_is_the_closed_form():
    rng = np.random.default_rng(0)
    f = 6
    a_cov = np.diag(np.linspace(0.5, 2.0, f))
    q, _ = np.linalg.qr(rng.normal(size=(f, f)))
    b_cov = q @ np.diag(np.linspace(0.3, 1.5, f)) @ q.T
    a = rng.multivariate_normal(np.zeros(f), a_cov, size=3000)
    b = rng.multivariate_normal(np.full(f, 0.7), b_cov, size=2000)
    ours = frechet_distance(a, b)
    assert ours == pytest.approx(_closed_form_fid(a, b), rel=1e-8)
    # and the population value it estimates: ‖μ‖² + Tr(A + B − 2 (AB)^½)
    pop = 6 * 0.49 + np.trace(a_cov + b_cov - 2 * scipy.linalg.sqrtm(a_cov @ b_cov).real)
    assert ours == pytest.approx(pop, abs=0.1)


def test_fid_of_a_set_with_itself_is_zero():
    x = np.random.default_rng(1).normal(size=(500, 8))
    assert abs(frechet_distance(x, x)) < 1e-8


def test_kid_is_zero_within_its_spread_for_one_distribution_and_positive_for_a_shifted_one():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(3000, 8)), rng.normal(size=(3000, 8))
    kid, std = kernel_inception_distance(a, b, subsets=30, subset_size=500, seed=0)
    assert std > 0 and abs(kid) < 3 * std
    kid_shift, std_shift = kernel_inception_distance(a, b + 0.5, subsets=30, subset_size=500, seed=0)
    assert kid_shift > 10 * std_shift and kid_shift > 10 * abs(kid)


def test_kid_is_seeded_and_keeps_the_callers_random_state():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(400, 4)), rng.normal(size=(400, 4)) + 0.2
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = kernel_inception_distance(a, b, subsets=10, subset_size=100, seed=5)
    assert torch.rand(1) == before
    assert kernel_inception_distance(a, b, subsets=10, subset_size=100, seed=5) == first


def test_kid_is_the_unbiased_mmd_of_the_cubic_kernel_on_whole_sets():
    """With one subset as large as both sets, KID is the unbiased MMD² computed here directly."""
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(60, 5)), rng.normal(size=(60, 5)) + 0.3
    k = lambda x, y: (x @ y.T / x.shape[1] + 1.0) ** 3  # noqa: E731
    m = len(a)
    kxx, kyy, kxy = k(a, a), k(b, b), k(a, b)
    direct = ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (m * (m - 1)) - 2 * kxy.mean()
    kid, std = kernel_inception_distance(a, b, subsets=1, subset_size=60)
    assert kid == pytest.approx(direct, rel=1e-10) and std == 0


@pytest.mark.parametrize("k", [2, 10])
def test_inception_score_is_k_for_confident_uniform_predictions_and_1_for_a_constant(k):
    n = 1000 * k
    logits = np.full((n, k), -30.0)
    logits[np.arange(n), np.arange(n) % k] = 30.0
    mean, std = inception_score(logits, splits=10)
    # the splits are random, so each holds the classes only nearly uniformly: exp(H) ≥ K (1 − K / split size)
    assert k * (1 - k * 10 / n) < mean <= k + 1e-9 and std < 0.05 * k
    constant = np.zeros((n, k))
    constant[:, 0] = 30.0
    assert inception_score(constant)[0] == pytest.approx(1.0, abs=1e-9)


def test_mode_collapse_gives_high_precision_and_low_recall():
    rng = np.random.default_rng(5)
    centres = rng.normal(scale=20.0, size=(10, 4))
    real = centres[rng.integers(0, 10, 2000)] + rng.normal(size=(2000, 4))
    collapsed = centres[0] + rng.normal(size=(2000, 4))  # one mode of ten, covered well
    out = precision_recall_density_coverage(real, collapsed)
    assert out["precision"] > 0.9 and out["recall"] < 0.2
    assert out["coverage"] < 0.2
    spread = real[rng.permutation(2000)] + 3.0 * rng.normal(size=(2000, 4))  # all modes, blurred
    wide = precision_recall_density_coverage(real, spread)
    assert wide["recall"] > out["recall"] + 0.5


def test_precision_recall_density_coverage_equal_prdc():
    import prdc

    rng = np.random.default_rng(6)
    real, fake = rng.normal(size=(300, 8)), rng.normal(size=(250, 8)) * 1.2 + 0.3
    ours = precision_recall_density_coverage(real, fake, pr_k=3, dc_k=5, chunk=64)
    with contextlib.redirect_stdout(io.StringIO()):  # prdc prints the set sizes
        at3 = prdc.compute_prdc(real, fake, nearest_k=3)
        at5 = prdc.compute_prdc(real, fake, nearest_k=5)
    assert ours["precision"] == pytest.approx(at3["precision"], abs=1e-12)
    assert ours["recall"] == pytest.approx(at3["recall"], abs=1e-12)
    assert ours["density"] == pytest.approx(at5["density"], abs=1e-12)
    assert ours["coverage"] == pytest.approx(at5["coverage"], abs=1e-12)


def test_fid_kid_is_equal_torchmetrics_fed_with_images_through_a_feature_module():
    """torchmetrics called directly, its feature module a small network on images; ours from the same features."""
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.inception import InceptionScore
    from torchmetrics.image.kid import KernelInceptionDistance

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 6), torch.nn.Tanh()).double()

    class Features(torch.nn.Module):
        num_features = 6

        def forward(self, x):
            return net(x.double())

    g = torch.Generator().manual_seed(1)
    real, fake = torch.rand(400, 1, 8, 8, generator=g), torch.rand(300, 1, 8, 8, generator=g) ** 2
    fid = FrechetInceptionDistance(feature=Features())
    fid.update(real, real=True)
    fid.update(fake, real=False)
    with pytest.warns(UserWarning):  # torchmetrics: KID / IS keep every feature row in memory
        kid = KernelInceptionDistance(feature=Features(), subsets=20, subset_size=200)
    kid.update(real, real=True)
    kid.update(fake, real=False)
    torch.manual_seed(7)
    kid_mean, kid_std = kid.compute()
    with pytest.warns(UserWarning):
        is_ = InceptionScore(feature=Features(), splits=10)
    is_.update(fake)
    torch.manual_seed(7)
    is_mean, is_std = is_.compute()
    with torch.no_grad():
        fr, ff = net(real.double()).numpy(), net(fake.double()).numpy()
    assert frechet_distance(fr, ff) == pytest.approx(float(fid.compute()), rel=1e-10)
    assert kernel_inception_distance(fr, ff, subsets=20, subset_size=200, seed=7) == pytest.approx(
        (float(kid_mean), float(kid_std)), rel=1e-10)
    assert inception_score(ff, splits=10, seed=7) == pytest.approx((float(is_mean), float(is_std)), rel=1e-10)


def test_wilson_interval_matches_the_closed_form():
    k, n, z = 7, 20, 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low, high = wilson_interval(k, n)
    assert (low, high) == pytest.approx((centre - half, centre + half), abs=1e-9)
    assert (low, high) == pytest.approx((0.1812, 0.5671), abs=1e-4)  # the hand computation, rounded
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_small_n_is_one_sentence():
    with pytest.raises(SampleQualityError, match="N ≥ 2") as e:
        frechet_distance(np.zeros((1, 4)), np.zeros((5, 4)))
    assert "\n" not in str(e.value)
    with pytest.raises(SampleQualityError, match="too few"):
        precision_recall_density_coverage(np.random.default_rng(0).normal(size=(4, 2)), np.ones((10, 2)))
    with pytest.raises(SampleQualityError, match="N ≥ 10"):
        inception_score(np.zeros((5, 3)))
    with pytest.raises(SampleQualityError, match="NaN"):
        frechet_distance(np.full((5, 2), np.nan), np.zeros((5, 2)))
    assert "below the feature dimension 128" in n_below_dimension_note(100, 128)
    assert n_below_dimension_note(200, 128) is None


def test_pairwise_distances_and_knn_radii_equal_a_direct_computation():
    from explorer.core.sample_quality.metrics import _pairwise, knn_radii, knn_radii_many

    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(70, 6)), rng.normal(size=(90, 6)) + 0.5
    direct = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    np.testing.assert_allclose(_pairwise(a, b).numpy(), direct, rtol=1e-10, atol=1e-12)
    within = np.sort(np.linalg.norm(b[:, None, :] - b[None, :, :], axis=2), axis=1)  # column 0: the row itself
    many = knn_radii_many(b, (5, 3, 1), chunk=16)
    for k in (1, 3, 5):
        np.testing.assert_allclose(many[k], within[:, k], rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(knn_radii(b, k, chunk=16), many[k])
    with pytest.raises(SampleQualityError, match="too few"):
        knn_radii_many(b[:4], (3, 5))
