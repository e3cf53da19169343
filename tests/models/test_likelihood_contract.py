"""The likelihood contract of models: VAE.log_px_given_z by hand, and adapters' optional posterior/log_px_given_z."""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest
import torch

from explorer.core.likelihood import LikelihoodError, LikelihoodSettings, estimate_likelihood, iwae_unavailable
from explorer.data import Dataset
from models.adapter import AdapterError, load_adapter
from models.checkpoint import save_checkpoint

from .conftest import synthetic_images, tiny_model


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: these small decoder calls are slower with more on a shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_vae_log_px_given_z_by_hand(likelihood):
    model = tiny_model("vae", likelihood=likelihood)
    x = synthetic_images(3)
    z = torch.randn(3, model.latent_dim, generator=torch.Generator().manual_seed(1))
    got = model.log_px_given_z(x, z)
    assert got.dtype == torch.float64 and got.shape == (3,)
    with torch.no_grad():
        p = torch.sigmoid(model.decoder(z)).double().flatten(1)
    xf = x.double().flatten(1)
    if likelihood == "bernoulli":
        want = (xf * torch.log(p) + (1 - xf) * torch.log1p(-p)).sum(1)
    else:
        s = model.sigma
        want = (-0.5 * ((xf - p) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)).sum(1)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match="same number"):
        model.log_px_given_z(x, z[:2])


ADAPTER = """
import torch
from models.loading import load_any

class Wrapped:
    kind, latent_dim, image_shape = "vae", 4, (1, 28, 28)
{likelihood_attr}
    def __init__(self):
        self.vae, _ = load_any({ckpt!r})

    def decode(self, z):
        return self.vae.decode(z)

    def encode(self, x):
        return self.vae.encode(x)
{methods}

def load_model():
    return Wrapped()
"""

METHODS = """
    def posterior(self, x):
        return self.vae.posterior(x)

    def log_px_given_z(self, x, z):
        return self.vae.log_px_given_z(x, z){cut}
"""


def _adapter(tmp_path, methods: str = "", likelihood_attr: str = ""):
    ckpt = tmp_path / "vae.pt"
    if not ckpt.exists():
        save_checkpoint(ckpt, tiny_model("vae"), dataset="synthetic", seed=0)
    path = tmp_path / "adapter.py"
    path.write_text(textwrap.dedent(ADAPTER.format(ckpt=str(ckpt), methods=methods,
                                                   likelihood_attr=likelihood_attr)))
    return path


def _dataset():
    x = np.round(synthetic_images(6).numpy() * 255) / 255
    return Dataset(images=x.astype(np.float32), labels=None, name="synthetic")


def test_adapter_with_likelihood_methods_gives_the_same_iwae_as_the_checkpoint(tmp_path):
    from models.loading import load_any

    wrapped = load_adapter(_adapter(tmp_path, METHODS.format(cut=""), '    likelihood = "bernoulli"'))
    assert wrapped.has_likelihood and wrapped.likelihood == "bernoulli"
    direct, _ = load_any(tmp_path / "vae.pt")
    s = LikelihoodSettings(n_images=4, iwae_k=(1, 8), binarize=True)
    a = estimate_likelihood(wrapped, _dataset(), s, name="adapter.py")
    b = estimate_likelihood(direct, _dataset(), s, name="vae.pt")
    np.testing.assert_allclose(a.nll_nats, b.nll_nats, rtol=1e-6)
    assert a.record["bits_per_dim"] == pytest.approx(b.record["bits_per_dim"], rel=1e-6)


def test_adapter_without_likelihood_says_what_is_missing_and_what_still_works(tmp_path):
    wrapped = load_adapter(_adapter(tmp_path))
    assert not wrapped.has_likelihood
    why = iwae_unavailable(wrapped, "adapter.py")
    assert "posterior(x) -> (mu, logvar) and log_px_given_z(x, z)" in why and "AIS" in why
    with pytest.raises(LikelihoodError, match="AIS"):
        estimate_likelihood(wrapped, _dataset(), LikelihoodSettings(n_images=2), name="adapter.py")
    with pytest.raises(AdapterError, match="defines no posterior"):
        wrapped.posterior(synthetic_images(1))
    # AIS needs only decode
    s = LikelihoodSettings(estimator="ais", n_images=1, ais_steps=2, ais_chains=1, leapfrog_steps=1, sigma=0.2,
                           bdmc_images=0)
    assert math.isfinite(estimate_likelihood(wrapped, _dataset(), s).record["nll_nats"])


def test_adapter_with_a_wrong_log_px_shape_fails_at_load(tmp_path):
    with pytest.raises(AdapterError, match=r"log_px_given_z returned \(2, 1\)"):
        load_adapter(_adapter(tmp_path, METHODS.format(cut="[:, None]")))


def test_adapter_with_an_unknown_likelihood_kind_fails_at_load(tmp_path):
    with pytest.raises(AdapterError, match="likelihood 'poisson'"):
        load_adapter(_adapter(tmp_path, METHODS.format(cut=""), '    likelihood = "poisson"'))


def test_adapter_that_does_not_declare_its_observation_model_gets_no_bits_per_dim(tmp_path):
    wrapped = load_adapter(_adapter(tmp_path, METHODS.format(cut="")))
    rec = estimate_likelihood(wrapped, _dataset(), LikelihoodSettings(n_images=2, iwae_k=(2,))).record
    assert rec["bits_per_dim"] is None and "not declared" in rec["data_convention"]
