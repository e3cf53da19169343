"""Latent-variable generative models (torch only): VAE, DCGAN, ALI/BiGAN, training, checkpoints."""
