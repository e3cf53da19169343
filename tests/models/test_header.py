"""Tests for models.header: a checkpoint described without torch says what the full loader says."""

from __future__ import annotations

import pickle
import zipfile

import pytest
import torch

import resources
from models.checkpoint import FORMAT_VERSION, MODEL_CLASSES
from models.header import HAS_ENCODER, HEADER_FORMAT_VERSIONS, describe_checkpoint_header
from models.loading import describe

DEMOS = ["vae_fashion", "dcgan_fashion", "ali_fashion", "betavae_dsprites"]


@pytest.mark.parametrize("name", DEMOS)
def test_header_description_equals_the_full_loader(name):
    path = resources.path("checkpoints", f"{name}.pt")
    if not path.is_file():
        pytest.skip(f"the demo checkpoint {path} is not built")
    light = describe_checkpoint_header(path)
    assert light is not None
    assert light == describe(path)


def test_kinds_and_versions_agree_with_the_model_classes():
    assert {k: cls.has_encoder for k, cls in MODEL_CLASSES.items()} == HAS_ENCODER
    assert max(HEADER_FORMAT_VERSIONS) == FORMAT_VERSION


def test_anything_unusual_falls_back_to_the_full_loader(tmp_path):
    src = resources.path("checkpoints", "dcgan_fashion.pt")
    if not src.is_file():
        pytest.skip("the demo checkpoint dcgan_fashion.pt is not built")
    data = src.read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])  # truncated
    assert describe_checkpoint_header(cut) is None
    bare = tmp_path / "bare.pt"
    torch.save({"w": torch.zeros(3)}, bare)  # a bare state_dict: no kind or config
    assert describe_checkpoint_header(bare) is None
    other = tmp_path / "other.pt"
    torch.save({"format_version": 1, "kind": "gan", "config": {"latent_dim": 2, "image_shape": [1, 4, 4]},
                "state_dict": {"w": torch.zeros(3)}, "extra": {"when": __import__("datetime").date(2026, 1, 1)}},
               other)  # a global outside the whitelist (datetime.date): refused, not built
    assert describe_checkpoint_header(other) is None
    # a storage entry missing from the archive
    broken = tmp_path / "broken.pt"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(broken, "w") as zout:
        for info in zin.infolist():
            if not info.filename.endswith("/data/0"):
                zout.writestr(info, zin.read(info.filename))
    assert describe_checkpoint_header(broken) is None
    # compressed entries (torch.save never compresses): left to the full loader and its size checks
    deflated = tmp_path / "deflated.pt"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))
    assert describe_checkpoint_header(deflated) is None
    # not a zip at all
    junk = tmp_path / "junk.pt"
    junk.write_bytes(pickle.dumps({"kind": "gan"}))
    assert describe_checkpoint_header(junk) is None
    assert describe_checkpoint_header(tmp_path / "missing.pt") is None
