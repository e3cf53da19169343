"""Seeded synthetic embeddings for the GUI tests."""

import numpy as np


def blobs(n, seed=0, k=6):
    """Seeded 2-D Gaussian blobs: (xy (n, 2) float64, labels (n,) int)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=6.0, size=(k, 2))
    labels = rng.integers(0, k, n)
    xy = centres[labels] + rng.normal(size=(n, 2))
    return xy, labels
