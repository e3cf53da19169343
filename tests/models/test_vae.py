"""VAE bounds against closed forms: KL term, log-likelihoods, ELBO and IWAE."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal
from torch.distributions import kl_divergence as torch_kl

from models.vae import VAE, kl_divergence

from .conftest import synthetic_images, tiny_model


def test_kl_matches_hand_computation():
    mu = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(4.0)], [0.0, 0.0]])
    # ½(1 + 1 − 1 − 0) + ½(0 + 4 − 1 − ln 4) = 0.5 + 1.5 − ln 2
    expected = torch.tensor([0.5 + 1.5 - math.log(2.0), 0.0])
    assert torch.allclose(kl_divergence(mu, logvar), expected, atol=1e-6)


def test_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    q = Normal(mu, (0.5 * logvar).exp())
    p = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    assert torch.allclose(kl_divergence(mu, logvar), torch_kl(q, p).sum(dim=1), atol=1e-5)


def test_log_likelihood_closed_forms():
    logits = torch.zeros(1, 1, 28, 28)  # decoder mean 0.5 everywhere
    x = torch.full((1, 1, 28, 28), 0.5)
    d = 28 * 28
    bern = VAE(2, likelihood="bernoulli")
    assert torch.allclose(bern._log_px_z(logits, x), torch.tensor([d * math.log(0.5)]), rtol=1e-5)
    gauss = VAE(2, likelihood="gaussian", sigma=0.1)
    expected = -d * (math.log(0.1) + 0.5 * math.log(2 * math.pi))
    assert torch.allclose(gauss._log_px_z(logits, x), torch.tensor([expected]), rtol=1e-5)
    x2 = torch.full((1, 1, 28, 28), 0.7)  # residual 0.2 = 2σ: −½·4 per pixel more
    assert torch.allclose(gauss._log_px_z(logits, x2), torch.tensor([expected - 2.0 * d]), rtol=1e-5)


def test_elbo_is_reconstruction_minus_kl_with_beta_one():
    model = tiny_model("vae", beta=4.0)
    x = synthetic_images(5)
    elbo = model.elbo(x, n_samples=3, generator=torch.Generator().manual_seed(7))
    assert elbo.shape == (5,) and torch.isfinite(elbo).all()
    assert (elbo <= 0).all()  # Bernoulli log-likelihood ≤ 0 and KL ≥ 0
    # the same computation by hand, same noise
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        mu, logvar = model.posterior(x)
        rec = (
            sum(
                model._log_px_z(
                    model.decoder(mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=g)), x
                )
                for _ in range(3)
            )
            / 3
        )
        expected = rec - 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(1)
    assert torch.allclose(elbo, expected, atol=1e-4)


def test_loss_uses_beta_and_matches_elbo_on_average():
    model = tiny_model("vae", beta=4.0)
    x = synthetic_images(64)
    torch.manual_seed(0)
    with torch.no_grad():
        out = model.loss(x)
    assert torch.allclose(out["loss"], out["recon"] + 4.0 * out["kl"])
    elbo = model.elbo(x, n_samples=8, generator=torch.Generator().manual_seed(0)).mean()
    assert abs(float(-(out["recon"] + out["kl"]) - elbo)) < 0.02 * abs(float(elbo))


def test_iwae_bound_is_tighter_than_elbo():
    model = tiny_model("vae")
    x = synthetic_images(8)
    elbo = model.elbo(x, n_samples=20, generator=torch.Generator().manual_seed(0))
    iwae = model.iwae_bound(x, k=20, generator=torch.Generator().manual_seed(0))
    assert iwae.shape == (8,) and torch.isfinite(iwae).all()
    assert float(iwae.mean()) >= float(elbo.mean()) - 1e-3


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_elbo_finite_for_both_likelihoods(likelihood):
    model = tiny_model("vae", (3, 64, 64), likelihood=likelihood)
    assert torch.isfinite(model.elbo(synthetic_images(2, (3, 64, 64)))).all()
