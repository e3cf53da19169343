"""Atomic JSON export, the workspace's model list and code validation."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from explorer.core.codes import decode_codes
from explorer.core.export import atomic_path, write_json
from explorer.core.workspace import ModelEntry, Workspace
from models.vae import VAE


def test_write_json_numpy_and_non_finite(tmp_path):
    out = tmp_path / "r.json"
    write_json(out, {"a": np.arange(3), "b": np.float32(0.5), "c": float("nan"), "d": (1, np.inf)})
    assert json.loads(out.read_text()) == {"a": [0, 1, 2], "b": 0.5, "c": None, "d": [1, None]}
    mode = stat.S_IMODE(out.stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


def test_failed_write_leaves_target_and_no_temp_file(tmp_path):
    out = tmp_path / "keep.json"
    out.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(out) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("boom")
    assert out.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.json"]


def _entry(name):
    return ModelEntry(path=Path(name), model=None, info={}, file_hash=name)


def test_workspace_remove_keeps_the_active_model():
    ws = Workspace()
    for name in "abcd":
        ws.add(_entry(name))
    ws.active = 2  # "c"
    ws.remove(0)
    assert ws.active_entry.path.name == "c"
    ws.remove(ws.active)
    assert ws.active_entry.path.name == "d"  # the next one takes its place
    ws.remove(0)
    ws.remove(0)
    assert ws.active_entry is None and ws.active == -1


def test_decode_codes_rejects_codes_of_the_wrong_width():
    model = VAE(4, (1, 28, 28)).eval()
    assert decode_codes(model, np.zeros(4, np.float32)).shape == (1, 1, 28, 28)
    with pytest.raises(ValueError, match="latent dimension 4"):
        decode_codes(model, np.zeros((3, 8), np.float32))
