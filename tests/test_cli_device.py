"""``--device`` on every command that runs torch: cpu and auto give the same numbers, a missing device one sentence."""

from __future__ import annotations

import pytest
import torch

import resources
from explorer.cli import main

HAS_ACCEL = torch.cuda.is_available() or (
    getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available())
VAE = str(resources.path("checkpoints", "vae_fashion.pt"))
pytestmark = pytest.mark.skipif(HAS_ACCEL, reason="auto picks an accelerator on this machine")


@pytest.mark.parametrize("argv", [
    ["train", "vae", "--data", "digits", "--limit", "32", "--latent-dim", "2", "--epochs", "1", "--out", "{o}/m.pt"],
    ["train", "classifier", "--data", "digits", "--limit", "32", "--epochs", "1", "--out", "{o}/c.pt"],
    ["render", "traversal", VAE, "--out", "{o}/t.png"],
    ["render", "interpolation", VAE, "--out", "{o}/i.gif", "--frames", "4"],
    ["render", "reconstructions", VAE, "--data", "fashion-mnist", "--limit", "20", "--out", "{o}/r.png"],
    ["compare", VAE, "--data", "fashion-mnist", "--limit", "20", "--out", "{o}/report"],
    ["session", "create", VAE, "--data", "fashion-mnist", "--limit", "20", "--out", "{o}/s.lxs"],
    ["render", "embedding", "{o}/s.lxs", "--out", "{o}/e.png"],
    ["evaluate", VAE, "--data", "fashion-mnist", "--limit", "20"],
    ["bench", "--only", "device"],
])
def test_a_missing_device_is_one_sentence_and_nothing_is_written(argv, tmp_path, capsys):
    argv = [a.format(o=tmp_path) for a in argv]
    assert main([*argv, "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--device cuda" in err[0] and "no CUDA GPU" in err[0], err
    assert list(tmp_path.iterdir()) == []


def test_train_on_cpu_and_auto_gives_identical_weights_and_says_the_device(tmp_path, capsys):
    from models.checkpoint import load_checkpoint

    weights = []
    for device in ("cpu", "auto"):
        out = tmp_path / f"{device}.pt"
        assert main(["train", "vae", "--data", "digits", "--limit", "48", "--latent-dim", "2", "--epochs", "1",
                     "--batch-size", "16", "--seed", "4", "--threads", "1", "--device", device,
                     "--out", str(out)]) == 0
        assert " on cpu; final " in capsys.readouterr().out
        ckpt = load_checkpoint(out)
        assert ckpt.extra["device"] == "cpu"
        weights.append(ckpt.model.state_dict())
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_render_on_cpu_and_auto_writes_the_same_pixels(tmp_path, capsys):
    outs = []
    for device in ("cpu", "auto"):
        out = tmp_path / f"{device}.png"
        assert main(["render", "traversal", VAE, "--data", "fashion-mnist", "--limit", "50", "--index", "3",
                     "--cols", "4", "--device", device, "--out", str(out)]) == 0
        assert "decoded on cpu" in capsys.readouterr().out
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def test_session_create_names_the_device(tmp_path, capsys):
    assert main(["session", "create", VAE, "--data", "fashion-mnist", "--limit", "30", "--device", "auto",
                 "--out", str(tmp_path / "s.lxs")]) == 0
    assert "models computed on cpu" in capsys.readouterr().out
