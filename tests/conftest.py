"""Test-wide settings: Qt headless, no writes outside the test's own folders."""

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def pytest_configure(config):
    # Projection caches, logs and settings of the tests go to a throw-away folder.
    import tempfile

    base = tempfile.mkdtemp(prefix="latent-explorer-tests-")
    os.environ.setdefault("LATENT_EXPLORER_CACHE", os.path.join(base, "cache"))
    os.environ.setdefault("LATENT_EXPLORER_CONFIG", os.path.join(base, "config"))


@pytest.fixture
def one_torch_thread():
    """Tiny tensors: one torch intra-op thread (two spinning threads on a busy 2-core CPU ran ~50× slower)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def inversions(monkeypatch):
    """Count GAN inversions: a list that gets the number of images of every `invert` call."""
    import explorer.core.inversion as inversion_module

    asked = []
    real = inversion_module.invert

    def counting(model, images, *args, **kwargs):
        asked.append(len(images))
        return real(model, images, *args, **kwargs)

    monkeypatch.setattr(inversion_module, "invert", counting)
    return asked
