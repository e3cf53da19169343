"""Checkpoint round trips and every CheckpointError case, including a malicious pickle."""

from __future__ import annotations

import os
import pathlib

import pytest
import torch

from models.base import ModelFileError
from models.checkpoint import FORMAT_VERSION, Checkpoint, CheckpointError, load_checkpoint, save_checkpoint

from .conftest import synthetic_images, tiny_model

HISTORY = {"loss": [3.0, 2.0, 1.5]}


def _save(tmp_path, kind="vae", name="model.pt", shape=(1, 28, 28)):
    model = tiny_model(kind, shape)
    path = save_checkpoint(
        tmp_path / name,
        model,
        dataset="synthetic",
        seed=3,
        history=HISTORY,
        command="latent-explorer train",
        extra={"wall_time_s": 1.5, "n_train": 300},
    )
    return model, path


def _raw(path):
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 64, 64)], ids=["28", "64"])
def test_round_trip_gives_identical_outputs(tmp_path, kind, shape):
    model, path = _save(tmp_path, kind, shape=shape)
    ckpt = load_checkpoint(path)
    assert isinstance(ckpt, Checkpoint)
    assert ckpt.kind == kind and ckpt.config == model.config() and ckpt.image_shape == shape
    assert (ckpt.dataset, ckpt.seed, ckpt.history, ckpt.command) == (
        "synthetic",
        3,
        HISTORY,
        "latent-explorer train",
    )
    assert ckpt.format_version == FORMAT_VERSION and ckpt.created and ckpt.library_version
    assert ckpt.extra == {"wall_time_s": 1.5, "n_train": 300}
    assert not ckpt.model.training
    z = model.sample_prior(4, torch.Generator().manual_seed(0))
    assert torch.equal(ckpt.model.decode(z), model.decode(z))
    if model.has_encoder:
        x = synthetic_images(4, shape)
        assert torch.equal(ckpt.model.encode(x), model.encode(x))
    saved = _raw(path)["state_dict"]
    assert set(saved) == set(model.state_dict())  # all networks, discriminators included
    if kind != "vae":
        assert any(k.startswith("discriminator.") for k in saved)


def test_file_holds_plain_types_and_the_documented_keys(tmp_path):
    _, path = _save(tmp_path)
    data = _raw(path)
    assert set(data) >= {
        "format_version",
        "kind",
        "config",
        "state_dict",
        "dataset",
        "image_shape",
        "history",
        "seed",
        "command",
        "created",
        "library_version",
    }
    assert data["format_version"] == 1 and data["image_shape"] == [1, 28, 28]
    assert isinstance(data["created"], str) and "T" in data["created"]


def test_save_is_atomic_and_overwrites(tmp_path):
    _, path = _save(tmp_path)
    _save(tmp_path, "gan")  # same name, other model
    assert load_checkpoint(path).kind == "gan"
    assert os.listdir(tmp_path) == ["model.pt"]  # no temp files left behind


def test_loading_keeps_callers_random_state(tmp_path):
    _, path = _save(tmp_path, "ali")
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    load_checkpoint(path)
    assert torch.equal(torch.rand(3), expected)


# -- errors: one sentence naming the file, the problem and what to do ------------------------


def _error(path) -> str:
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert isinstance(info.value, (ValueError, ModelFileError))
    assert str(path) in message
    assert "\n" not in message and "Traceback" not in message
    return message


def test_missing_file(tmp_path):
    assert "does not exist" in _error(tmp_path / "nope.pt")


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.pt"
    path.write_bytes(os.urandom(2048))
    assert "not a PyTorch checkpoint" in _error(path)


def test_text_file(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("hello\n")
    assert "not a PyTorch checkpoint" in _error(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.pt"
    path.write_bytes(b"")
    assert "empty" in _error(path)


def test_truncated_checkpoint(tmp_path):
    _, path = _save(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert "truncated or corrupt" in _error(path)


def test_bare_state_dict(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(tiny_model("vae").state_dict(), path)
    assert "bare state_dict" in _error(path)


def test_torch_file_without_our_keys(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"epoch": 3, "weights": [1, 2]}, path)
    assert "not a Latent Explorer checkpoint" in _error(path)


def _rewrite(path, **changes):
    data = _raw(path)
    data.update(changes)
    torch.save(data, path)


def test_unknown_kind(tmp_path):
    _, path = _save(tmp_path)
    _rewrite(path, kind="flow")
    message = _error(path)
    assert "unknown kind 'flow'" in message and "vae" in message


def test_newer_format_version(tmp_path):
    _, path = _save(tmp_path)
    _rewrite(path, format_version=99)
    message = _error(path)
    assert "written by a newer Latent Explorer (format 99; this version reads format 1)" in message
    assert "upgrade" in message


def test_state_dict_that_does_not_fit_config(tmp_path):
    _, path = _save(tmp_path)
    data = _raw(path)
    state = data["state_dict"]
    state.pop("encoder.0.0.weight")
    state["extra.weight"] = torch.zeros(1)
    state["decoder.0.weight"] = torch.zeros(7, 7)
    _rewrite(path, state_dict=state)
    message = _error(path)
    assert "do not fit its vae config" in message
    assert "missing: encoder.0.0.weight" in message
    assert "unexpected: extra.weight" in message
    assert "decoder.0.weight 7×7 in the file vs 32×4 in the model" in message


def test_config_that_builds_no_model(tmp_path):
    model, path = _save(tmp_path)
    _rewrite(path, config={**model.config(), "likelihood": "poisson"})
    assert "config that does not build a vae model" in _error(path)


class _Touch:
    """Pickles as a call to ``pathlib.Path.touch`` — would create a file if ever unpickled."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.target),))


class _System:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


@pytest.mark.parametrize("payload", [_Touch, _System])
def test_malicious_pickle_is_refused_and_never_executed(tmp_path, payload):
    target = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    model = tiny_model("vae")
    torch.save(
        {
            "format_version": 1,
            "kind": "vae",
            "config": model.config(),
            "state_dict": model.state_dict(),
            "dataset": payload(target),
        },
        path,
    )
    message = _error(path)
    assert "refused" in message and "nothing in it was executed" in message
    assert not target.exists()


def test_opening_a_gan_checks_its_shapes_without_drawing_weights_on_the_meta_device():
    """The shape-only shell skips DCGAN's N(0, 0.02) draws: on the meta device they import torch._dynamo (~1.5 s)."""
    import subprocess
    import sys

    import resources

    code = ("import sys, torch\n"
            "from models.checkpoint import load_checkpoint\n"
            f"ck = load_checkpoint({str(resources.path('checkpoints', 'dcgan_fashion.pt'))!r})\n"
            "print('torch._dynamo' in sys.modules, sum(p.abs().sum().item() > 0 for p in ck.model.parameters()))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    dynamo, nonzero = out.stdout.split()
    assert dynamo == "False" and int(nonzero) > 0


def test_the_dcgan_initialisation_is_unchanged_off_the_meta_device():
    import torch

    from models.dcgan import DCGAN

    torch.manual_seed(3)
    a = DCGAN(8, (1, 28, 28))
    conv = next(m for m in a.modules() if isinstance(m, torch.nn.ConvTranspose2d))
    w = conv.weight.detach()
    assert abs(float(w.std()) - 0.02) < 0.004 and abs(float(w.mean())) < 0.002
    torch.manual_seed(3)
    b = DCGAN(8, (1, 28, 28))
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_a_zip_whose_member_name_is_not_utf8_is_one_sentence(tmp_path):
    """A damaged central directory (the UTF-8 flag on a name that is not UTF-8) once escaped as UnicodeDecodeError."""
    import zipfile

    from models.base import ModelFileError
    from models.loading import load_any

    path = tmp_path / "bad.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", b"x")
    raw = bytearray(path.read_bytes())
    central = raw.find(b"PK\x01\x02")
    raw[central + 9] |= 0x08  # general-purpose flags (little-endian), bit 11 = UTF-8 names
    name = raw.find(b"archive/data.pkl", central)
    raw[name] = 0xAB  # not UTF-8
    path.write_bytes(bytes(raw))
    with pytest.raises(UnicodeDecodeError):
        zipfile.ZipFile(path)  # what the loader met before
    with pytest.raises(ModelFileError) as info:
        load_any(path)
    assert "bad.pt" in str(info.value) and "\n" not in str(info.value)
