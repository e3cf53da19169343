"""Tests for explorer.core.device and `evaluate --device`: auto = cpu here, a missing device is one sentence."""

from __future__ import annotations

import json

import pytest
import torch

import resources
from explorer.cli import main
from explorer.core.device import DeviceError, model_device, resolve_device

HAS_CUDA = torch.cuda.is_available()
HAS_MPS = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
DEMO = resources.path("checkpoints", "vae_fashion.pt")


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == resolve_device(None) == torch.device(
        "cuda" if HAS_CUDA else "mps" if HAS_MPS else "cpu")
    with pytest.raises(DeviceError, match="not a device"):
        resolve_device("gpu")
    if not HAS_CUDA:
        with pytest.raises(DeviceError, match="no CUDA GPU") as exc:
            resolve_device("cuda:1")
        assert "\n" not in str(exc.value)
    assert model_device(torch.nn.Linear(2, 2)) == torch.device("cpu")


@pytest.mark.skipif(HAS_CUDA or HAS_MPS, reason="auto picks an accelerator on this machine")
def test_evaluate_on_cpu_and_auto_gives_identical_numbers_and_a_missing_device_one_sentence(tmp_path, capsys):
    common = [str(DEMO), "--data", "fashion-mnist", "--limit", "200", "--seed", "1", "--metrics", "clustering",
              "reconstruction", "--n-images", "20", "--k", "5"]
    outs = []
    for device in ("cpu", "auto"):
        out = tmp_path / f"{device}.json"
        assert main(["evaluate", *common, "--device", device, "--json", str(out)]) == 0
        outs.append(json.loads(out.read_text()))
    assert outs[0] == outs[1] and outs[0]["models"][0]["device"] == "cpu"
    capsys.readouterr()
    assert main(["evaluate", *common, "--device", "cuda", "--json", str(tmp_path / "cuda.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--device cuda" in err[0] and "no CUDA GPU" in err[0]
    assert not (tmp_path / "cuda.json").exists()
