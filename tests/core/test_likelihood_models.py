"""The likelihood orchestration on real models: the demo VAE's bounds, units, records and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import resources
from explorer.core.jobs import Cancelled, JobContext
from explorer.core.likelihood import (
    KDE_WARNING,
    LikelihoodError,
    LikelihoodSettings,
    estimate_likelihood,
    iwae_from_log_weights,
    log_importance_weights,
)
from explorer.core.likelihood.bounds import draw_eps
from explorer.core.likelihood.units import image_generator
from explorer.data import Dataset
from models.dcgan import DCGAN
from models.loading import load_any
from models.vae import VAE

RECORD_KEYS = {"estimator", "n_images", "nll_nats", "nll_nats_ci95", "bits_per_dim", "elbo_nats",
               "observation_model", "data_convention"}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: these small decoder calls are slower with more on a shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def demo_vae():
    model, _ = load_any(resources.path("checkpoints", "vae_fashion.pt"))
    return model


@pytest.fixture(scope="module")
def fashion():
    from explorer.data import load_dataset

    return load_dataset("fashion-mnist", split="test", path=resources.path("data", "fashion-mnist"), limit=200,
                        seed=0)


def _tiny(kind="vae", likelihood="bernoulli"):
    torch.manual_seed(0)
    if kind == "vae":
        return VAE(4, (1, 8, 8), channels=[8], hidden=16, likelihood=likelihood).eval()
    return DCGAN(4, (1, 8, 8), g_width=4, d_width=4).eval()


def _images(n=12, seed=0):
    rng = np.random.default_rng(seed)
    x = np.round(rng.uniform(size=(n, 1, 8, 8)) * 255) / 255
    return Dataset(images=x.astype(np.float32), labels=None, name="synthetic")


def test_demo_vae_elbo_below_iwae_k_below_iwae_larger_k(demo_vae, fashion):
    x = torch.from_numpy(fashion.images[:6])
    from explorer.core.likelihood.units import binarise

    x = binarise(x, torch.Generator().manual_seed(0))
    eps = draw_eps([image_generator(0, i) for i in range(len(x))], 400, demo_vae.latent_dim)
    log_w = log_importance_weights(demo_vae.posterior, demo_vae.log_px_given_z, x, eps)
    b = iwae_from_log_weights(log_w, [1, 10, 400])
    elbo, l10, l400 = (float(b[k].mean()) for k in (1, 10, 400))
    # Monte-Carlo standard errors (within each image) of the means over images of the ELBO and L_10
    se1 = float(log_w.var(dim=1).div(400).sum().sqrt()) / 6
    groups = torch.logsumexp(log_w.reshape(6, 40, 10), -1) - math.log(10)
    se10 = float(groups.var(dim=1).div(40).sum().sqrt()) / 6
    assert l10 - elbo > 5 * math.hypot(se1, se10)
    assert l400 - l10 > 5 * se10
    assert l400 < 0


def test_iwae_record_keys_units_and_curve(demo_vae, fashion):
    s = LikelihoodSettings(n_images=4, iwae_k=(1, 10, 50), binarize=True, seed=3)
    res = estimate_likelihood(demo_vae, fashion, s, name="vae_fashion.pt")
    rec = res.record
    assert RECORD_KEYS <= set(rec) and rec["k"] == 50 and "ais_steps" not in rec and "warning" not in rec
    assert "lower is better" in rec["units"] and "binarisation" in rec["data_convention"]
    assert rec["nll_nats"] == pytest.approx(res.nll_nats.mean())
    assert rec["bits_per_dim"] == pytest.approx(rec["nll_nats"] / (784 * math.log(2)))
    np.testing.assert_allclose(res.bits_per_dim, res.nll_nats / (784 * math.log(2)))
    assert rec["elbo_nats"] > rec["nll_nats"]
    assert [c["k"] for c in rec["iwae_curve"]] == [1, 10, 50]
    assert rec["iwae_curve"][0]["nll_nats"] == pytest.approx(rec["elbo_nats"])
    lo, hi = rec["nll_nats_ci95"]
    half = 1.96 * res.nll_nats.std(ddof=1) / 2
    assert (lo, hi) == pytest.approx((rec["nll_nats"] - half, rec["nll_nats"] + half))
    assert res.indices.shape == (4,) and res.curve_nll_nats.shape == (3, 4)
    # seeded per dataset index: the same images give the same numbers in a larger subset
    again = estimate_likelihood(demo_vae, fashion, s, name="vae_fashion.pt")
    np.testing.assert_array_equal(again.nll_nats, res.nll_nats)


def test_bernoulli_decoder_on_grey_levels_gets_no_bits_per_dim(demo_vae, fashion):
    res = estimate_likelihood(demo_vae, fashion, LikelihoodSettings(n_images=2, iwae_k=(5,)))
    assert res.record["bits_per_dim"] is None and res.bits_per_dim is None
    assert "not a normalised" in res.record["data_convention"]
    assert any("--binarize" in n for n in res.notes)


def test_gaussian_decoder_is_dequantised_and_bounded():
    model = _tiny("vae", "gaussian")
    ds = _images()
    res = estimate_likelihood(model, ds, LikelihoodSettings(n_images=3, iwae_k=(1, 4)))
    assert "dequantisation" in res.record["data_convention"] and "upper bound" in res.record["data_convention"]
    assert "σ = 0.1" in res.record["observation_model"]
    # the same bound by hand: log p(ỹ) from the batched weights, then + D log 256
    from explorer.core.likelihood.run import _dequantised

    y = _dequantised(ds.images, res.indices, 0, [])
    eps = draw_eps([image_generator(0, int(i), 1) for i in res.indices], 4, 4)
    lw = log_importance_weights(model.posterior, model.log_px_given_z, y, eps)
    l4 = iwae_from_log_weights(lw, [4])[4]
    np.testing.assert_allclose(res.nll_nats, -l4 + 64 * math.log(256), rtol=1e-12)
    with pytest.raises(LikelihoodError, match="--binarize applies to a Bernoulli decoder"):
        estimate_likelihood(model, ds, LikelihoodSettings(n_images=3, binarize=True), name="g.pt")


def test_gan_asked_for_iwae_points_to_ais():
    with pytest.raises(LikelihoodError) as e:
        estimate_likelihood(_tiny("gan"), _images(), LikelihoodSettings(n_images=2), name="dcgan.pt")
    msg = str(e.value)
    assert msg.count(". ") == 0 and "dcgan.pt" in msg and "--estimator ais" in msg and "GAN" in msg


class _Broken(torch.nn.Module):
    """A VAE whose decoder returns NaN for some codes."""

    kind, latent_dim, image_shape, has_encoder = "vae", 4, (1, 8, 8), True

    def __init__(self):
        super().__init__()
        self.inner = _tiny("vae")

    def posterior(self, x):
        return self.inner.posterior(x)

    def log_px_given_z(self, x, z):
        out = self.inner.log_px_given_z(x, z)
        out[::3] = float("nan")
        return out

    def decode(self, z):
        out = self.inner.decode(z).clone()
        out[0] = float("nan")
        return out

    def sample_prior(self, n, generator=None):
        return torch.randn(n, 4, generator=generator)


@pytest.mark.parametrize("estimator", ["iwae", "ais", "kde"])
def test_non_finite_model_output_is_one_sentence(estimator):
    s = LikelihoodSettings(estimator=estimator, n_images=2, iwae_k=(2,), ais_steps=3, sigma=0.1, bdmc_images=0,
                           kde_samples=16)
    with pytest.raises(LikelihoodError) as e:
        estimate_likelihood(_Broken(), _images(), s, name="broken.pt")
    msg = str(e.value)
    assert "broken.pt" in msg and "non-finite" in msg and "\n" not in msg


def test_ais_record_has_sigma_choice_and_bdmc_gap():
    model = _tiny("gan")
    s = LikelihoodSettings(estimator="ais", n_images=2, ais_steps=5, ais_chains=2, leapfrog_steps=2,
                           sigma_grid=(0.1, 0.3), sigma_images=2, sigma_steps=3, bdmc_images=1)
    seen = []
    messages = []
    res = estimate_likelihood(model, _images(), s, JobContext(lambda f, m: (seen.append(f), messages.append(m))),
                              name="g.pt")
    rec = res.record
    assert RECORD_KEYS <= set(rec) and rec["ais_steps"] == 5 and "k" not in rec
    assert rec["sigma"] in (0.1, 0.3) and set(res.sigma_scores) == {0.1, 0.3}
    assert rec["sigma"] == max(res.sigma_scores, key=res.sigma_scores.get)
    assert math.isfinite(rec["bdmc_gap_nats"]) and rec["elbo_nats"] is None
    assert rec["bdmc_gap_nats"] == pytest.approx(float(np.mean(res.bdmc_upper_nats - res.bdmc_lower_nats)))
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    assert any(m.startswith("AIS: choosing σ") for m in messages) and messages[-1].startswith("BDMC")
    assert messages[-1].endswith("s left")  # the time left for the whole job
    assert "dequantisation" in rec["data_convention"]


def test_kde_record_carries_the_warning():
    s = LikelihoodSettings(estimator="kde", n_images=3, kde_samples=64, kde_validation=4)
    rec = estimate_likelihood(_tiny("gan"), _images(), s).record
    assert rec["warning"] == KDE_WARNING and "Theis" in rec["warning"] and rec["sigma"] > 0


def test_cancel_stops_the_job(demo_vae, fashion):
    ctx = JobContext()
    ctx.cancel()
    with pytest.raises(Cancelled):
        estimate_likelihood(demo_vae, fashion, LikelihoodSettings(n_images=2, iwae_k=(3,)), ctx)


def test_settings_round_trip_and_reject_bad_values():
    s = LikelihoodSettings(estimator="ais", iwae_k=(100, 1, 10), sigma=0.2)
    assert s.iwae_k == (1, 10, 100)
    assert LikelihoodSettings.from_dict(s.to_dict()) == s
    for bad in ({"estimator": "mcmc"}, {"iwae_k": (0,)}, {"sigma": -1.0}, {"ais_steps": 0}, {"n_images": 0}):
        with pytest.raises(ValueError):
            LikelihoodSettings(**bad)
