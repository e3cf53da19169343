"""Every model family honours the GenerativeModel interface at 28×28 and 64×64."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.ali import ALI
from models.base import GenerativeModel, NoEncoderError
from models.dcgan import DCGAN
from models.layers import spatial_stages
from models.vae import VAE

from .conftest import LATENT_DIM, synthetic_images, tiny_model

CLASSES = {"vae": VAE, "gan": DCGAN, "ali": ALI}
SHAPES = [(1, 28, 28), (3, 28, 28), (1, 64, 64), (3, 64, 64)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_shapes_and_ranges(kind, shape):
    model = tiny_model(kind, shape)
    assert isinstance(model, GenerativeModel)
    assert model.kind == kind and model.latent_dim == LATENT_DIM and model.image_shape == shape
    z = model.sample_prior(5, torch.Generator().manual_seed(1))
    assert z.shape == (5, LATENT_DIM) and z.dtype == torch.float32
    x = model.decode(z)
    assert x.shape == (5, *shape) and x.dtype == torch.float32
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert not x.requires_grad
    if kind == "gan":
        assert model.has_encoder is False
        with pytest.raises(NoEncoderError, match="no encoder.*GAN inversion"):
            model.encode(x)
    else:
        assert model.has_encoder is True
        code = model.encode(synthetic_images(3, shape))
        assert code.shape == (3, LATENT_DIM) and code.dtype == torch.float32
        assert torch.isfinite(code).all()


def test_sample_prior_is_standard_normal_and_seeded(kind):
    model = tiny_model(kind)
    a = model.sample_prior(20000, torch.Generator().manual_seed(3))
    b = model.sample_prior(20000, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert abs(float(a.mean())) < 0.02 and abs(float(a.std()) - 1.0) < 0.02


def test_config_rebuilds_model(kind):
    model = tiny_model(kind, (3, 64, 64))
    config = model.config()
    assert all(isinstance(v, (int, float, str, list)) for v in config.values())
    clone = CLASSES[kind](**config)
    assert clone.config() == config
    assert {k: v.shape for k, v in clone.state_dict().items()} == {
        k: v.shape for k, v in model.state_dict().items()
    }


def test_decode_leaves_training_flags_and_weights_alone(kind):
    model = tiny_model(kind).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.decode(model.sample_prior(4))
    if model.has_encoder:
        model.encode(synthetic_images(4))
    assert all(m.training for m in model.modules())
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # incl. batch-norm running stats


def test_decode_is_eval_mode_deterministic(kind):
    model = tiny_model(kind).train()  # dropout / batch-norm would differ per call in train mode
    z = model.sample_prior(3, torch.Generator().manual_seed(0))
    assert torch.equal(model.decode(z), model.decode(z))


def test_gradients_reach_z_for_inversion(kind):
    model = tiny_model(kind)
    z = torch.randn(2, LATENT_DIM, generator=torch.Generator().manual_seed(0)).requires_grad_()
    model.decode(z).sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0


def test_numpy_codes_accepted_and_bad_shapes_rejected(kind):
    model = tiny_model(kind)
    x = model.decode(np.zeros((2, LATENT_DIM), dtype=np.float64))
    assert x.shape == (2, 1, 28, 28) and x.dtype == torch.float32
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        model.decode(torch.zeros(LATENT_DIM))
    if model.has_encoder:
        with pytest.raises(ValueError, match="images must have shape"):
            model.encode(torch.zeros(2, 1, 32, 32))


def test_spatial_stages():
    assert spatial_stages(28) == (2, 7)
    assert spatial_stages(64) == (4, 4)
    assert spatial_stages(32) == (3, 4)
    with pytest.raises(ValueError, match="cannot be halved"):
        spatial_stages(7)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="likelihood"):
        VAE(4, likelihood="poisson")
    with pytest.raises(ValueError, match="square"):
        DCGAN(4, (1, 28, 32))
    with pytest.raises(ValueError, match="channels needs 2"):
        VAE(4, (1, 28, 28), channels=[8, 8, 8])
