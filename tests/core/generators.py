"""Tiny differentiable generators for the GAN inversion tests."""

from __future__ import annotations

import torch
from torch import nn


class TinyGenerator(nn.Module):
    """Fixed random decoder ``G(z) = sigmoid(W z + b)`` reshaped to 1×12×12, d = 4, with batch norm
    on a hidden copy (so train/eval flags matter); optionally a linear encoder (an ALI stand-in)."""

    kind = "gan"
    latent_dim = 4
    image_shape = (1, 12, 12)

    def __init__(self, with_encoder: bool = False):
        super().__init__()
        torch.manual_seed(0)
        self.lin = nn.Linear(4, 144)
        nn.init.normal_(self.lin.weight, 0.0, 1.0)
        self.norm = nn.BatchNorm1d(144, affine=False, track_running_stats=True)
        self.has_encoder = with_encoder
        self.enc = nn.Linear(144, 4) if with_encoder else None

    def decode(self, z):
        h = self.lin(torch.as_tensor(z, dtype=torch.float32))
        return torch.sigmoid(h + 0.0 * self.norm(h)).reshape(-1, *self.image_shape)

    def encode(self, x):
        with torch.no_grad():
            return self.enc(torch.as_tensor(x).flatten(1))

    def sample_prior(self, n, generator=None):
        return torch.randn(n, 4, generator=generator)
