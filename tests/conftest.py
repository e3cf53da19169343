"""Test-wide settings: Qt headless, no reads or writes of the user's own folders."""

import os
import shutil
import site
import tempfile
import types
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

#: Variables pointing at the user's own folders: every test run assigns its own throw-away folders,
#: whatever the shell exported (``explorer.paths`` falls back to ``~/.cache`` / ``~/.config``; Qt and
#: fontconfig use HOME and the XDG folders).
REDIRECTED = ("LATENT_EXPLORER_CACHE", "LATENT_EXPLORER_CONFIG", "HOME",
              "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME")
#: Variables removed for the run: the tests expect the bundled (or Debian's) Fashion-MNIST, not the
#: user's ``$LATENT_EXPLORER_DATA`` (explorer.data.named).
REMOVED = ("LATENT_EXPLORER_DATA",)
#: What those variables held before the run (None: unset); tests/test_isolation.py checks they are unused.
USER_ENVIRONMENT = {name: os.environ.get(name) for name in REDIRECTED + REMOVED}
_BASE: Path | None = None


def pytest_configure(config):
    global _BASE
    _BASE = Path(tempfile.mkdtemp(prefix="latent-explorer-tests-"))
    # Subprocesses keep the user's site-packages although HOME moves.
    os.environ.setdefault("PYTHONUSERBASE", site.getuserbase())
    folders = {"LATENT_EXPLORER_CACHE": "cache", "LATENT_EXPLORER_CONFIG": "config", "HOME": "home",
               "XDG_CACHE_HOME": "home/.cache", "XDG_CONFIG_HOME": "home/.config",
               "XDG_DATA_HOME": "home/.local/share", "XDG_STATE_HOME": "home/.local/state"}
    for name in REDIRECTED:
        folder = _BASE / folders[name]
        folder.mkdir(parents=True, exist_ok=True)
        os.environ[name] = str(folder)  # assigned, not setdefault: an exported value is not used
    for name in REMOVED:
        os.environ.pop(name, None)


def pytest_unconfigure(config):
    if _BASE is not None:
        shutil.rmtree(_BASE, ignore_errors=True)


@pytest.fixture
def isolation():
    """The run's own folder (``base``) and the user's values of the variables it replaced (``user``)."""
    return types.SimpleNamespace(base=_BASE, user=dict(USER_ENVIRONMENT))


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
    import explorer.core.reconstruction.inversion as inversion_module

    asked = []
    real = inversion_module.invert

    def counting(model, images, *args, **kwargs):
        asked.append(len(images))
        return real(model, images, *args, **kwargs)

    monkeypatch.setattr(inversion_module, "invert", counting)
    return asked
