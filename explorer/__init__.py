"""Latent Explorer: see and measure the latent spaces of VAEs, GANs and ALI/BiGANs."""

__version__ = "0.1.0"
