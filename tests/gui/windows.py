"""Helpers of the window tests: a labelled toy dataset, tiny VAEs, opening and waiting."""

import numpy as np
import torch

from models.checkpoint import save_checkpoint
from models.vae import VAE

N_IMAGES = 240
CLASSES = ("bar top", "bar middle", "bar bottom")


def bar_images(n=N_IMAGES, seed=0):
    """Seeded 28x28 images of a bright bar in one of three bands (the label), plus noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    x = (rng.random((n, 28, 28)) * 40).astype(np.uint8)
    for i, lab in enumerate(labels):
        row = 3 + 9 * lab + rng.integers(0, 4)
        x[i, row:row + 3, :] = 230
    return x, labels.astype(np.int64)


def save_vae(path, latent_dim=4, seed=0):
    torch.manual_seed(seed)
    model = VAE(latent_dim, (1, 28, 28), hidden=32).eval()
    save_checkpoint(path, model, dataset="bars", seed=seed)
    return path


def open_and_wait(qtbot, window, data, models, timeout=20_000):
    window.open_dataset(str(data))
    window.open_models(models)
    qtbot.waitUntil(lambda: window.shown_embedding is not None and not window.runner.running_kinds(),
                    timeout=timeout)
