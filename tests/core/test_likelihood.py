"""Likelihood estimators against closed forms: probabilistic PCA, a Gaussian KDE, hand-computed bits/dim."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import multivariate_normal, norm

from explorer.core.likelihood import (
    ais_log_likelihood,
    bdmc,
    bits_per_dim,
    dequantise,
    discrete_nll_from_dequantised,
    iwae_from_log_weights,
    log_importance_weights,
    parzen_log_density,
    select_sigma,
    sigmoid_schedule,
    squared_distances,
)
from explorer.core.likelihood.bounds import draw_eps
from explorer.core.likelihood.units import image_generator

D, LATENT, SIGMA = 4, 2, 0.5


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: these small decoder calls are slower with more on a shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def ppca():
    """Probabilistic PCA with σ = 0.5 (a posterior much narrower than the prior)."""
    return _ppca(SIGMA)


@pytest.fixture(scope="module")
def ppca_wide():
    """Probabilistic PCA with σ = 1 (AIS's log weights vary less: a short test)."""
    return _ppca(1.0)


def _ppca(sigma):
    """x = W z + μ + ε, ε ~ N(0, σ² I), with orthogonal columns of W (so the exact posterior is diagonal)."""
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(D, LATENT)))
    w = q * np.array([1.5, 0.8])
    mu = rng.normal(size=D)
    cov = w @ w.T + sigma**2 * np.eye(D)
    x = rng.multivariate_normal(mu, cov, size=10)
    exact = multivariate_normal(mu, cov).logpdf(x)
    m = w.T @ w + sigma**2 * np.eye(LATENT)
    post_mean = (np.linalg.solve(m, w.T @ (x - mu).T)).T
    post_var = sigma**2 / np.diag(m)
    wt, mut = torch.tensor(w, dtype=torch.float32), torch.tensor(mu, dtype=torch.float32)

    def decode(z):
        return z @ wt.T + mut

    def posterior_wide(xb):  # the exact posterior mean with twice the standard deviation
        rows = torch.as_tensor(post_mean[_rows(xb, x)], dtype=torch.float32)
        return rows, torch.full_like(rows, 1.0) * torch.tensor(np.log(4 * post_var), dtype=torch.float32)

    def log_px_given_z(xb, z):
        return torch.as_tensor(norm(0, sigma).logpdf((xb.double() - decode(z).double()).numpy()).sum(1))

    return dict(x=x, exact=exact, decode=decode, posterior=posterior_wide, log_px_given_z=log_px_given_z, sigma=sigma)


def _rows(xb, x):
    """Which of the fixture's images each row of ``xb`` is (the test posterior looks its mean up)."""
    d = ((xb.double().numpy()[:, None, :] - x[None]) ** 2).sum(-1)
    return d.argmin(1)


def _log_w(ppca, k, seed=0):
    x = torch.tensor(ppca["x"], dtype=torch.float32)
    eps = draw_eps([image_generator(seed, i) for i in range(len(x))], k, LATENT)
    return log_importance_weights(ppca["posterior"], ppca["log_px_given_z"], x, eps, batch_codes=512)


def test_ppca_elbo_below_exact_and_iwae_climbs_to_it(ppca):
    bounds = iwae_from_log_weights(_log_w(ppca, 1000), [1, 10, 100, 1000])
    exact = ppca["exact"]
    gap = {k: float(np.mean(exact - v)) for k, v in bounds.items()}
    # KL(q || p) of a posterior twice too wide in 2 dimensions: 2 · ½(4 − 1 − ln 4) = 1.61 nats
    assert gap[1] == pytest.approx(2 * 0.5 * (4 - 1 - math.log(4)), abs=0.15)
    assert gap[1] > gap[10] > gap[100] > -0.02
    assert abs(gap[1000]) < 0.05


def test_batched_bound_equals_direct_loop(ppca):
    k = 7
    x = ppca["x"]
    eps = draw_eps([image_generator(3, i) for i in range(len(x))], k, LATENT)
    batched = log_importance_weights(ppca["posterior"], ppca["log_px_given_z"], torch.tensor(x, dtype=torch.float32),
                                     eps, batch_codes=3).numpy()
    for i in range(len(x)):
        xi = torch.tensor(x[i:i + 1], dtype=torch.float32)
        mu, logvar = (t.double().numpy()[0] for t in ppca["posterior"](xi))
        sd = np.exp(0.5 * logvar)
        lw = []
        for j in range(k):
            z = (torch.tensor(mu, dtype=torch.float32) + torch.tensor(sd, dtype=torch.float32)
                 * eps[i, j]).double().numpy()
            log_px = float(ppca["log_px_given_z"](xi, torch.tensor(z[None], dtype=torch.float32))[0])
            lw.append(log_px + norm.logpdf(z).sum() - norm.logpdf(z, mu, sd).sum())
        np.testing.assert_allclose(batched[i], lw, rtol=0, atol=1e-4)
        direct = logsumexp(lw) - math.log(k)
        assert iwae_from_log_weights(batched[i:i + 1], [k])[k][0] == pytest.approx(direct, abs=1e-4)


def test_ppca_ais_matches_exact(ppca_wide):
    y = torch.tensor(ppca_wide["x"][:6], dtype=torch.float32)
    run = ais_log_likelihood(ppca_wide["decode"], y, LATENT, 1.0, n_steps=200, n_chains=128,
                             generator=torch.Generator().manual_seed(0), leapfrog_steps=4)
    err = run.log_mean_w - ppca_wide["exact"][:6]
    assert np.abs(err).max() < 0.1
    assert 0.5 < run.acceptance.mean() <= 1.0


def test_ais_without_annealing_is_importance_sampling_from_the_prior(ppca):
    # T = 1: one weight p(y|z), z ~ p(z), per chain: checks the normalisation of the Gaussian observation model
    y = torch.tensor(ppca["x"][:3], dtype=torch.float32)
    run = ais_log_likelihood(ppca["decode"], y, LATENT, SIGMA, n_steps=1, n_chains=100_000,
                             generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose(run.log_mean_w, ppca["exact"][:3], atol=0.05)


def test_bdmc_sandwiches_simulated_data(ppca_wide):
    res = bdmc(ppca_wide["decode"], LATENT, 1.0, n_images=4, n_steps=100, n_chains=32,
               generator=torch.Generator().manual_seed(1), leapfrog_steps=4)
    assert -0.05 < res.gap_nats < 0.2
    lo, hi = res.lower_nats, res.upper_nats
    assert np.all(hi - lo > -0.1)


def test_sigmoid_schedule_endpoints_and_order():
    b = sigmoid_schedule(50)
    assert b[0] == 0 and b[-1] == 1 and np.all(np.diff(b) > 0) and len(b) == 51


def test_bits_per_dim_hand_computed():
    # 784 pixels, log p(ỹ) = 1,000 nats: NLL ≤ −1000 + 784 ln 256 = 3347.42 nats; / (784 ln 2) = 6.1598 bits/dim
    nll = discrete_nll_from_dequantised(1000.0, 784)
    assert float(nll) == pytest.approx(-1000 + 784 * 5.545177444479562, rel=1e-12)
    assert bits_per_dim(float(nll), 784) == pytest.approx(8 - 1000 / (784 * math.log(2)), rel=1e-12)
    assert bits_per_dim(float(nll), 784) == pytest.approx(6.15983, abs=1e-5)
    np.testing.assert_allclose(bits_per_dim(np.array([math.log(2) * 10]), 10), [1.0])


def test_dequantise_stays_in_its_bin():
    x = torch.arange(256, dtype=torch.float32).reshape(1, 1, 16, 16) / 255
    y, off = dequantise(x, torch.Generator().manual_seed(0))
    assert off < 1e-4
    levels = torch.arange(256, dtype=torch.float64).reshape(1, 1, 16, 16)
    assert torch.all(y.double() * 256 >= levels - 1e-4) and torch.all(y.double() * 256 < levels + 1 + 1e-4)


def test_kde_recovers_a_known_gaussian_in_two_dimensions():
    rng = np.random.default_rng(0)
    samples = torch.tensor(rng.normal(size=(5000, 2)))
    val = torch.tensor(rng.normal(size=(300, 2)))
    test = rng.normal(size=(500, 2))
    sigma, _ = select_sigma(squared_distances(val, samples), 2, np.geomspace(0.02, 1.0, 12))
    est = parzen_log_density(squared_distances(torch.tensor(test), samples), sigma, 2)
    true = multivariate_normal(np.zeros(2), np.eye(2)).logpdf(test)
    assert 0.05 < sigma < 0.5
    assert abs(est.mean() - true.mean()) < 0.05
