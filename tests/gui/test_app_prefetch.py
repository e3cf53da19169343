"""`latent-explorer open` starts the prefetch child before Qt: the first start encodes in it, the next finds the
codes cached; the device it is given is the one the window's settings hold."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import QSettings

from explorer.gui.app import BENCH_ENV, saved_device
from explorer.gui.device_menu import SETTINGS_KEY
from models.checkpoint import save_checkpoint
from models.vae import VAE


def test_the_saved_device_is_read_without_qt_as_qsettings_wrote_it(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_CONFIG", str(tmp_path))
    assert saved_device() == "cpu"  # no file
    ini = tmp_path / "latent-explorer.ini"
    for value, expected in (("cuda:1", "cuda:1"), ("mps", "mps"), ("auto", "auto"), ("CUDA", "cuda"),
                            ("cuda:x", "cpu"), ("tpu", "cpu"), ("", "cpu")):
        settings = QSettings(str(ini), QSettings.Format.IniFormat)
        settings.setValue(SETTINGS_KEY, value)
        settings.setValue("window/geometry", b"\x00\x01binary=")  # other keys QSettings writes do not matter
        settings.sync()
        assert saved_device() == expected, value
    ini.write_bytes(b"\xff\xfe not an ini [")
    assert saved_device() == "cpu"


def _open(model, data, cache, config) -> dict:
    env = dict(os.environ, LATENT_EXPLORER_CACHE=str(cache), LATENT_EXPLORER_CONFIG=str(config),
               QT_QPA_PLATFORM="offscreen")
    env[BENCH_ENV] = "now"  # print the start-up figures once the first embedding is painted, then quit
    out = subprocess.run([sys.executable, "-m", "explorer", "open", str(model), "--data", str(data)],
                         capture_output=True, text=True, env=env, timeout=240)
    lines = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    assert out.returncode == 0, out.stdout + out.stderr
    return lines


def test_a_cold_start_encodes_in_the_child_and_the_next_finds_the_codes(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "toy.npz"
    np.savez(data, images=rng.random((50, 28, 28)).astype(np.float32), labels=np.arange(50) % 2)
    torch.manual_seed(0)
    model = save_checkpoint(tmp_path / "vae.pt", VAE(3, (1, 28, 28), hidden=16).eval(), dataset="toy", seed=0)
    cache = tmp_path / "cache"
    first = _open(model, data, cache, tmp_path / "config-1")
    assert first["startup_embedding"] == "pca" and first["startup_prefetch"] == "encoded"
    assert len(list(Path(cache).rglob("*.npy"))) >= 1  # the child's codes (and the window's PCA)
    second = _open(model, data, cache, tmp_path / "config-2")
    assert second["startup_embedding"] == "pca" and second["startup_prefetch"] == "cached"


def test_the_view_says_what_the_model_waits_for(tmp_path):
    from explorer.core.session import Session
    from explorer.core.session.state import Task
    from explorer.gui.embedding_presenter import view_message

    s = Session()
    (m,) = s.add_models([tmp_path / "vae.pt"])
    assert view_message(s) == "Opening the model…"
    m.busy["peek"] = Task("peek:x", "peek", lambda ctx: None,
                          "Opening vae.pt: encoding the dataset in a second process", lambda r: None, m.key)
    assert view_message(s) == "Opening vae.pt: encoding the dataset in a second process…"
    m.busy.clear()
    m.preview = True
    assert view_message(s) == "Loading vae.pt: the embedding of its cached codes is shown meanwhile."
