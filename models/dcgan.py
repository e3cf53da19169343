"""DCGAN (Radford et al. 2016): convolutional generator and discriminator, no encoder."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from models.base import NoEncoderError, as_codes, generator_device, module_device
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


class ConvDiscriminator(nn.Module):
    """DCGAN discriminator ``D(x)``: strided convolutions, batch norm (not on the first), LeakyReLU 0.2.

    Parameters
    ----------
    image_shape : (C, H, W)
    width : int
        Channels of the first stage (``ndf``); each later stage doubles them.

    Notes
    -----
    ``forward`` maps images ``(N, C, H, W)`` in [-1, 1] to logits ``(N,)``.
    """

    def __init__(self, image_shape: Sequence[int], width: int) -> None:
        super().__init__()
        c, h, _ = check_image_shape(image_shape)
        n, base = spatial_stages(h)
        widths = doubling_widths(width, n)
        self.body = conv_stack([c] + widths, norm=True, activation="lrelu")
        self.head = nn.Conv2d(widths[-1], 1, base, 1, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).flatten()


class DCGAN(ConvModel):
    """DCGAN generator ``G(z)`` with its discriminator ``D(x)``, ``z ~ N(0, I)``.

    Both networks are kept (and saved) so training can resume; the explorer uses
    only the generator. Weights are initialised as in the paper (N(0, 0.02)).

    Parameters
    ----------
    latent_dim : int
        Dimension ``d`` of ``z``.
    image_shape : (C, H, W)
        Square images whose side halves at least once (28 and 64 both work; any C).
    g_width : int
        Channels of the generator's last hidden stage (``ngf``); they double towards ``z``.
    d_width : int
        Channels of the discriminator's first stage (``ndf``); they double inwards.

    Attributes
    ----------
    kind : str
        "gan".
    has_encoder : bool
        False: `encode` raises `NoEncoderError`.
    generator : ConvGenerator
        Output in [-1, 1] (tanh); `decode` maps it to [0, 1].
    discriminator : ConvDiscriminator
        Takes images scaled to [-1, 1].
    """

    kind = "gan"
    has_encoder = False
    CONFIG_FIELDS = ("g_width", "d_width")

    def __init__(
        self,
        latent_dim: int,
        image_shape: Sequence[int] = (1, 28, 28),
        *,
        g_width: int = 32,
        d_width: int = 32,
    ) -> None:
        super().__init__(latent_dim, image_shape)
        self.g_width, self.d_width = int(g_width), int(d_width)
        self.generator = ConvGenerator(self.latent_dim, self.image_shape, self.g_width)
        self.discriminator = ConvDiscriminator(self.image_shape, self.d_width)
        self.apply(dcgan_init)

    def encode(self, x) -> torch.Tensor:
        """Always raises: a GAN generator has no encoder.

        Raises
        ------
        NoEncoderError
            Always; find codes by GAN inversion (optimising ``z`` through `decode`).
        """
        raise NoEncoderError(
            "this model is a GAN generator with no encoder; reconstructions need an "
            "encoder — use GAN inversion"
        )

    def decode(self, z) -> torch.Tensor:
        """``G(z)`` in eval mode (batch norm running statistics): codes ``(N, d)`` → images ``(N, C, H, W)`` in [0, 1].

        Gradients reach ``z`` when it requires them (GAN inversion); the weights never change.
        """
        z = as_codes(z, self.latent_dim, module_device(self))
        with inference(self, z):
            return (self.generator(z) + 1.0) * 0.5

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` codes from ``p(z) = N(0, I)``: float32 tensor ``(n, d)``."""
        return torch.randn(n, self.latent_dim, generator=generator, device=generator_device(generator))
