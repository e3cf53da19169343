"""β-TCVAE: the minibatch-weighted total-correlation estimate and the loss, against direct loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import norm

from models.checkpoint import load_checkpoint, save_checkpoint
from models.tcvae import total_correlation_mws
from models.train import make_trainer
from models.vae import VAE, kl_divergence

from .conftest import synthetic_images


def _direct_tc(z, mu, logvar, n_data):
    """Chen et al. 2018, MWS: log q(z_i) = log (1/(N M)) Σ_m q(z_i|x_m); the same per dimension."""
    m, d = z.shape
    sd = np.exp(0.5 * logvar)
    total = 0.0
    for i in range(m):
        joint = [sum(norm.logpdf(z[i, j], mu[k, j], sd[k, j]) for j in range(d)) for k in range(m)]
        log_qz = logsumexp(joint) - math.log(n_data * m)
        log_marg = 0.0
        for j in range(d):
            log_marg += logsumexp([norm.logpdf(z[i, j], mu[k, j], sd[k, j]) for k in range(m)]) - math.log(n_data * m)
        total += log_qz - log_marg
    return total / m


def test_tc_estimate_equals_direct_loops():
    rng = np.random.default_rng(0)
    z, mu = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    logvar = rng.normal(scale=0.5, size=(5, 3))
    got = total_correlation_mws(*(torch.tensor(a, dtype=torch.float64) for a in (z, mu, logvar)), 1000)
    assert float(got) == pytest.approx(_direct_tc(z, mu, logvar, 1000), rel=1e-10, abs=1e-10)


def test_tc_rejects_bad_input():
    z = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="dataset_size"):
        total_correlation_mws(z, z, z, 3)
    with pytest.raises(ValueError, match="shape"):
        total_correlation_mws(z, z[:, :1], z, 10)


def test_beta_tcvae_loss_equals_recon_plus_kl_plus_weighted_tc():
    torch.manual_seed(0)
    model = VAE(3, (1, 28, 28), channels=[4, 8], hidden=16, beta=6.0, objective="beta_tcvae")
    x = synthetic_images(6)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        out = {k: v.detach() for k, v in model.loss(x, dataset_size=50).items()}
    # the same draw, by hand
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        mu, logvar = model.encoder(x).chunk(2, dim=1)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        p = torch.sigmoid(model.decoder(z)).double()
        xd = x.double()
        recon = -(xd * torch.log(p) + (1 - xd) * torch.log1p(-p)).flatten(1).sum(1).mean()
        kl = kl_divergence(mu, logvar).mean()
        tc = _direct_tc(z.double().numpy(), mu.double().numpy(), logvar.double().numpy(), 50)
    assert float(out["recon"]) == pytest.approx(float(recon), rel=1e-4)
    assert float(out["kl"]) == pytest.approx(float(kl), rel=1e-5)
    assert float(out["tc"]) == pytest.approx(tc, rel=1e-4, abs=1e-4)
    assert float(out["loss"]) == pytest.approx(float(recon) + float(kl) + 5.0 * tc, rel=1e-4)
    with pytest.raises(ValueError, match="dataset_size"):
        model.loss(x)


def test_unknown_objective_is_refused():
    with pytest.raises(ValueError, match="objective"):
        VAE(2, (1, 28, 28), objective="factor_vae")


def test_beta_tcvae_trains_reports_tc_and_round_trips(tmp_path):
    trainer = make_trainer("vae", synthetic_images(96), 4, batch_size=32, seed=0, beta=6.0,
                           objective="beta_tcvae", channels=[8, 16], hidden=32)
    steps = list(trainer.run(1))
    assert {"loss", "recon", "kl", "tc"} <= set(steps[-1]) and np.isfinite(steps[-1]["tc"])
    assert set(trainer.history) == {"loss", "recon", "kl", "tc"}
    path = save_checkpoint(tmp_path / "t.pt", trainer.model, dataset="synthetic", seed=0, history=trainer.history)
    back = load_checkpoint(path)
    assert back.config["objective"] == "beta_tcvae" and back.model.objective == "beta_tcvae"
    # an old checkpoint config without the field still builds the β-VAE objective
    cfg = {k: v for k, v in back.config.items() if k != "objective"}
    assert VAE(**cfg).objective == "beta_vae"
