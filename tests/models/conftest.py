"""Shared fixtures for the model tests: tiny models and synthetic images."""

from __future__ import annotations

import pytest
import torch

from models.ali import ALI
from models.dcgan import DCGAN
from models.vae import VAE

KINDS = ("vae", "gan", "ali")
LATENT_DIM = 4


def synthetic_images(n: int, shape=(1, 28, 28), seed: int = 0) -> torch.Tensor:
    """``n`` images ``(n, C, H, W)`` in [0, 1]: a bright bar at a random row on a faint noise background."""
    g = torch.Generator().manual_seed(seed)
    c, h, w = shape
    x = 0.1 * torch.rand(n, c, h, w, generator=g)
    rows = torch.randint(0, h - 3, (n,), generator=g)
    for i, r in enumerate(rows.tolist()):
        x[i, :, r : r + 3, :] = 0.9
    return x


def tiny_model(kind: str, image_shape=(1, 28, 28), latent_dim: int = LATENT_DIM, seed: int = 0, **kw):
    """A small, seeded model of ``kind`` in eval mode."""
    torch.manual_seed(seed)
    if kind == "vae":
        model = VAE(latent_dim, image_shape, channels=kw.pop("channels", None), hidden=32, **kw)
    elif kind == "gan":
        model = DCGAN(latent_dim, image_shape, g_width=8, d_width=8, **kw)
    else:
        model = ALI(latent_dim, image_shape, g_width=8, e_width=8, d_width=8, d_features=16, **kw)
    return model.eval()


@pytest.fixture(params=KINDS)
def kind(request) -> str:
    return request.param
