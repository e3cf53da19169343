"""ALI / BiGAN (Dumoulin et al. 2017; Donahue et al. 2017): encoder, generator and a joint discriminator D(x, z)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from models.base import as_codes, as_images, generator_device, module_device
from models.layers import (
    ConvGenerator,
    ConvModel,
    check_image_shape,
    conv_stack,
    dcgan_init,
    doubling_widths,
    inference,
    spatial_stages,
)


class ConvEncoder(nn.Module):
    """Stochastic encoder ``E(x)`` of ALI: strided convolutions (batch norm, LeakyReLU 0.2) to ``(mu, logvar)``.

    Notes
    -----
    ``forward`` maps images ``(N, C, H, W)`` in [-1, 1] to ``(mu, logvar)``, each ``(N, d)``;
    a code is drawn as ``mu + exp(logvar / 2) · eps`` (reparameterisation, as in ALI).
    """

    def __init__(self, latent_dim: int, image_shape: Sequence[int], width: int) -> None:
        super().__init__()
        c, h, _ = check_image_shape(image_shape)
        n, base = spatial_stages(h)
        widths = doubling_widths(width, n)
        self.body = conv_stack([c] + widths, norm=True, activation="lrelu")
        self.head = nn.Conv2d(widths[-1], 2 * latent_dim, base, 1, 0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.head(self.body(x)).flatten(1).chunk(2, dim=1)
        return mu, logvar


class JointDiscriminator(nn.Module):
    """ALI discriminator ``D(x, z)`` on joint pairs: an x-path, a z-path and a joint MLP, dropout everywhere.

    x-path: strided convolutions with LeakyReLU 0.2 and dropout, then a convolution to
    ``features`` channels at 1×1. z-path: two linear layers of ``features`` units.
    Joint: the two feature vectors concatenated, a ``2·features`` layer, then one logit.

    Parameters
    ----------
    latent_dim : int
    image_shape : (C, H, W)
    width : int
        Channels of the first x-path stage; they double inwards.
    features : int
        Width of each path's output.
    dropout : float
        Dropout probability after every hidden layer (0.2 in the ALI paper).

    Notes
    -----
    ``forward(x, z)`` maps images ``(N, C, H, W)`` in [-1, 1] and codes ``(N, d)`` to logits ``(N,)``.
    """

    def __init__(
        self,
        latent_dim: int,
        image_shape: Sequence[int],
        width: int,
        features: int = 128,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        c, h, _ = check_image_shape(image_shape)
        n, base = spatial_stages(h)
        widths = doubling_widths(width, n)
        self.x_path = nn.Sequential(
            conv_stack([c] + widths, activation="lrelu", dropout=dropout),
            nn.Conv2d(widths[-1], features, base, 1, 0),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Dropout(dropout),
            nn.Flatten(),
        )
        self.z_path = nn.Sequential(
            nn.Linear(latent_dim, features),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Dropout(dropout),
            nn.Linear(features, features),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Dropout(dropout),
        )
        self.joint = nn.Sequential(
            nn.Linear(2 * features, 2 * features),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Dropout(dropout),
            nn.Linear(2 * features, 1),
        )

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.joint(torch.cat([self.x_path(x), self.z_path(z)], dim=1)).flatten()


class ALI(ConvModel):
    """Adversarially learned inference: ``E(x)``, ``G(z)`` and ``D(x, z)``, with ``z ~ N(0, I)``.

    The discriminator tells encoder pairs ``(x, E(x))`` from generator pairs ``(G(z), z)``;
    at the optimum ``E`` inverts ``G`` (Dumoulin et al. 2017; BiGAN, Donahue et al. 2017).
    ``G`` is the DCGAN generator; all three networks are saved so training can resume.

    Parameters
    ----------
    latent_dim : int
        Dimension ``d`` of ``z``.
    image_shape : (C, H, W)
        Square images whose side halves at least once (28 and 64 both work; any C).
    g_width, e_width, d_width : int
        Base widths of the generator, encoder and discriminator's x-path.
    d_features : int
        Output width of each discriminator path.
    dropout : float
        Dropout in the discriminator.

    Attributes
    ----------
    kind : str
        "ali".
    has_encoder : bool
        True; `encode` returns the mean of ``E(x)``.
    """

    kind = "ali"
    has_encoder = True
    CONFIG_FIELDS = ("g_width", "e_width", "d_width", "d_features", "dropout")

    def __init__(
        self,
        latent_dim: int,
        image_shape: Sequence[int] = (1, 28, 28),
        *,
        g_width: int = 32,
        e_width: int = 32,
        d_width: int = 32,
        d_features: int = 128,
        dropout: float = 0.2,
    ) -> None:
        super().__init__(latent_dim, image_shape)
        self.g_width, self.e_width, self.d_width = int(g_width), int(e_width), int(d_width)
        self.d_features, self.dropout = int(d_features), float(dropout)
        self.encoder = ConvEncoder(self.latent_dim, self.image_shape, self.e_width)
        self.generator = ConvGenerator(self.latent_dim, self.image_shape, self.g_width)
        self.discriminator = JointDiscriminator(
            self.latent_dim, self.image_shape, self.d_width, self.d_features, self.dropout
        )
        self.apply(dcgan_init)

    def posterior(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of the encoder's Gaussian ``E(x)``.

        Parameters
        ----------
        x : torch.Tensor, shape (N, C, H, W), float32 in [0, 1]

        Returns
        -------
        mu, logvar : torch.Tensor, shape (N, d), float32
        """
        x = as_images(x, self.image_shape, module_device(self))
        with inference(self, x):
            return self.encoder(x * 2.0 - 1.0)

    def encode(self, x) -> torch.Tensor:
        """Mean of ``E(x)``: images ``(N, C, H, W)`` in [0, 1] → codes ``(N, d)`` float32."""
        return self.posterior(x)[0]

    def decode(self, z) -> torch.Tensor:
        """``G(z)`` in eval mode: codes ``(N, d)`` → images ``(N, C, H, W)`` float32 in [0, 1]."""
        z = as_codes(z, self.latent_dim, module_device(self))
        with inference(self, z):
            return (self.generator(z) + 1.0) * 0.5

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` codes from ``p(z) = N(0, I)``: float32 tensor ``(n, d)``."""
        return torch.randn(n, self.latent_dim, generator=generator, device=generator_device(generator))
