"""Third-party models: Python adapters, TorchScript files and the load_any / describe dispatch."""

from __future__ import annotations

import textwrap

import pytest
import torch

from models.adapter import AdapterError, load_adapter
from models.base import GenerativeModel, ModelFileError, NoEncoderError
from models.checkpoint import save_checkpoint
from models.loading import describe, load_any
from models.torchscript import TorchScriptError, is_torchscript_file, load_torchscript

from .conftest import tiny_model

# torch ≥ 2.10 flags torch.jit.script / save as deprecated; exporting is the user's business
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")

ADAPTER = """
import numpy as np
import torch

class TinyModel(torch.nn.Module):
    kind = "vae"
    latent_dim = 3
    image_shape = (1, 8, 8)

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.dec = torch.nn.Linear(3, 64)
        self.enc = torch.nn.Linear(64, 3)

    def decode(self, z):
        return torch.sigmoid(self.dec(z)).view(-1, 1, 8, 8)
{extra}

def load_model():
    return TinyModel()
"""

ENCODE = """
    def encode(self, x):
        return self.enc(x.flatten(1)).detach().numpy()  # numpy is accepted
"""


def _write(tmp_path, text, name="adapter.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_adapter_round_trip_with_encoder(tmp_path):
    model = load_adapter(_write(tmp_path, ADAPTER.format(extra=ENCODE)))
    assert isinstance(model, GenerativeModel)
    assert (model.kind, model.latent_dim, model.image_shape, model.has_encoder) == ("vae", 3, (1, 8, 8), True)
    z = model.sample_prior(5, torch.Generator().manual_seed(0))
    assert torch.equal(z, torch.randn(5, 3, generator=torch.Generator().manual_seed(0)))  # default prior
    x = model.decode(z)
    assert x.shape == (5, 1, 8, 8) and x.dtype == torch.float32 and 0 <= float(x.min()) <= float(x.max()) <= 1
    code = model.encode(x)
    assert code.shape == (5, 3) and code.dtype == torch.float32
    expected = model.inner.enc(x.flatten(1))
    assert torch.allclose(code, expected)
    assert model.parameter_count() == 64 * 3 + 64 + 3 * 64 + 3


def test_adapter_without_encoder_and_with_own_prior(tmp_path):
    extra = """
    def sample_prior(self, n, generator=None):
        return torch.zeros(n, 3)
"""
    model = load_adapter(_write(tmp_path, ADAPTER.format(extra=extra)))
    assert model.has_encoder is False
    assert torch.equal(model.sample_prior(2), torch.zeros(2, 3))
    with pytest.raises(NoEncoderError, match="no encoder"):
        model.encode(torch.zeros(1, 1, 8, 8))


def test_adapter_may_use_dataclasses(tmp_path):
    text = (
        "from __future__ import annotations\nimport dataclasses\nimport torch\n\n"
        "@dataclasses.dataclass\nclass M:\n    kind: str = 'gan'\n    latent_dim: int = 2\n"
        "    image_shape: tuple = (1, 2, 2)\n\n    def decode(self, z):\n"
        "        return torch.sigmoid(z.sum(1)).view(-1, 1, 1, 1).expand(-1, 1, 2, 2)\n\n"
        "def load_model():\n    return M()\n"
    )
    assert load_adapter(_write(tmp_path, text)).decode(torch.zeros(3, 2)).shape == (3, 1, 2, 2)


def test_adapter_can_import_its_neighbours(tmp_path):
    (tmp_path / "helper_mod_for_adapter.py").write_text("KIND = 'gan'\n")
    text = (
        ADAPTER.format(extra="")
        + "\nimport helper_mod_for_adapter\nTinyModel.kind = helper_mod_for_adapter.KIND\n"
    )
    assert load_adapter(_write(tmp_path, text)).kind == "gan"


def _adapter_error(path) -> str:
    with pytest.raises(AdapterError) as info:
        load_adapter(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    return message


def test_adapter_errors(tmp_path):
    assert "does not exist" in _adapter_error(tmp_path / "missing.py")
    assert "defines no load_model()" in _adapter_error(_write(tmp_path, "x = 1\n", "a.py"))
    assert "raised ZeroDivisionError while running" in _adapter_error(_write(tmp_path, "1 / 0\n", "b.py"))
    assert "raised SyntaxError while running" in _adapter_error(_write(tmp_path, "def (:\n", "c.py"))
    raising = "def load_model():\n    raise RuntimeError('no weights here')\n"
    assert "load_model() raised RuntimeError: no weights here" in _adapter_error(
        _write(tmp_path, raising, "d.py")
    )
    no_decode = ("class M:\n    kind = 'gan'; latent_dim = 2; image_shape = (1, 4, 4)\n"
                 "def load_model():\n    return M()\n")
    assert "no 'decode' attribute" in _adapter_error(_write(tmp_path, no_decode, "e.py"))
    bad_kind = ADAPTER.format(extra="").replace('kind = "vae"', 'kind = "flow"')
    assert "kind 'flow' is not one of" in _adapter_error(_write(tmp_path, bad_kind, "f.py"))
    bad_shape = ADAPTER.format(extra="").replace(".view(-1, 1, 8, 8)", ".view(-1, 64)")
    message = _adapter_error(_write(tmp_path, bad_shape, "g.py"))
    assert "decode returned shape (2, 64), expected (2, 1, 8, 8)" in message
    tanh = ADAPTER.format(extra="").replace("torch.sigmoid(self.dec(z))", "-torch.ones(z.shape[0], 64)")
    assert "expected [0, 1]" in _adapter_error(_write(tmp_path, tanh, "h.py"))
    bad_encode = ADAPTER.format(extra="\n    def encode(self, x):\n        return x\n")
    assert "encode returned shape" in _adapter_error(_write(tmp_path, bad_encode, "i.py"))


TS_MODULE = """
from typing import List
import torch

class Exported(torch.nn.Module):
    latent_dim: int
    image_shape: List[int]
    kind: str

    def __init__(self, with_encoder: bool):
        super().__init__()
        torch.manual_seed(0)
        self.dec = torch.nn.Linear(3, 64)
        self.enc = torch.nn.Linear(64, 3)
        self.latent_dim = 3
        self.image_shape = [1, 8, 8]
        self.kind = "ali"

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.dec(z)).view(-1, 1, 8, 8)

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.enc(x.flatten(1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.decode(z)

class DecoderOnly(torch.nn.Module):
    latent_dim: int
    image_shape: List[int]

    def __init__(self):
        super().__init__()
        self.dec = torch.nn.Linear(3, 64)
        self.latent_dim = 3
        self.image_shape = [1, 8, 8]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.dec(z)).view(-1, 1, 8, 8)
"""


@pytest.fixture
def ts_module(tmp_path, monkeypatch):
    """The TorchScript example module, written to a file (scripting needs the source on disk)."""
    (tmp_path / "ts_example_mod.py").write_text(TS_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    return importlib.import_module("ts_example_mod")


def test_torchscript_round_trip(tmp_path, ts_module):
    eager = ts_module.Exported(True).eval()
    path = tmp_path / "model.ts"
    torch.jit.save(torch.jit.script(eager), str(path))
    assert is_torchscript_file(path)
    model = load_torchscript(path)
    assert isinstance(model, GenerativeModel)
    assert (model.kind, model.latent_dim, model.image_shape, model.has_encoder) == ("ali", 3, (1, 8, 8), True)
    z = model.sample_prior(4, torch.Generator().manual_seed(0))
    x = model.decode(z)
    assert torch.allclose(x, eager.decode(z).detach())
    assert torch.allclose(model.encode(x), eager.encode(x).detach())


def test_torchscript_forward_as_decoder(tmp_path, ts_module):
    path = tmp_path / "decoder.torchscript"
    torch.jit.save(torch.jit.script(ts_module.DecoderOnly()), str(path))
    model, info = load_any(path)
    assert info["source"] == "torchscript" and info["kind"] == "gan" and info["has_encoder"] is False
    assert info["parameters"] == 3 * 64 + 64
    assert model.decode(torch.zeros(2, 3)).shape == (2, 1, 8, 8)


def test_torchscript_needs_an_explicit_suffix(tmp_path, ts_module):
    path = tmp_path / "decoder.pt"  # TorchScript under a checkpoint's name: never run implicitly
    torch.jit.save(torch.jit.script(ts_module.DecoderOnly()), str(path))
    with pytest.raises(ModelFileError, match=r"TorchScript archive, which contains code.*\.ts"):
        load_any(path)


def test_torchscript_errors(tmp_path):
    assert "does not exist" in str(pytest.raises(TorchScriptError, load_torchscript, tmp_path / "x.ts").value)
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, tiny_model("vae"), dataset=None, seed=None)
    assert not is_torchscript_file(path)
    with pytest.raises(TorchScriptError, match="not a TorchScript archive"):
        load_torchscript(path)


def test_load_any_dispatch_and_describe(tmp_path):
    ckpt = save_checkpoint(
        tmp_path / "vae.pt",
        tiny_model("ali"),
        dataset="synthetic",
        seed=5,
        history={"loss_d": [1.4, 1.2], "loss_g": [0.9, 0.8]},
        command="latent-explorer train --kind ali",
    )
    model, info = load_any(ckpt)
    assert model.kind == "ali" and info["source"] == "checkpoint"
    expected = sum(p.numel() for p in model.parameters())
    assert info["parameters"] == expected == sum(info["networks"].values())
    assert set(info["networks"]) == {"encoder", "generator", "discriminator"}
    assert info["history_final"] == {"loss_d": 1.2, "loss_g": 0.8} and info["epochs"] == 2
    assert (info["dataset"], info["seed"], info["format_version"]) == ("synthetic", 5, 1)
    assert info["image_shape"] == [1, 28, 28] and info["latent_dim"] == 4
    assert describe(ckpt) == info

    adapter = _write(tmp_path, ADAPTER.format(extra=ENCODE))
    info = describe(adapter)
    assert info["source"] == "adapter" and info["has_encoder"] is True and info["dataset"] is None
    with pytest.raises(ModelFileError, match="contains code"):
        load_any(adapter, allow_code=False)
    with pytest.raises(ModelFileError, match="does not exist"):
        load_any(tmp_path / "missing.pt")


def test_wrapped_model_in_gan_inversion(tmp_path):
    model = load_adapter(_write(tmp_path, ADAPTER.format(extra="")))
    z = torch.zeros(1, 3, requires_grad=True)
    model.decode(z).sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0


def test_adapter_identity_follows_the_weights_it_loads(tmp_path):
    """Retraining an adapter's model changes its weights file, not the adapter: the cache key must change."""
    from explorer.core.projection import file_sha256
    from explorer.core.workspace import open_model
    from models.loading import weights_fingerprint

    weights = tmp_path / "weights.pt"
    adapter = _write(tmp_path, f"""
        import torch

        class M(torch.nn.Module):
            kind = "gan"
            latent_dim = 3
            image_shape = (1, 8, 8)

            def __init__(self):
                super().__init__()
                self.dec = torch.nn.Linear(3, 64)

            def decode(self, z):
                return torch.sigmoid(self.dec(z)).view(-1, 1, 8, 8)

        def load_model():
            m = M()
            m.dec.load_state_dict(torch.load({str(weights)!r}, weights_only=True))
            return m
        """)
    torch.manual_seed(0)
    torch.save(torch.nn.Linear(3, 64).state_dict(), weights)
    first = open_model(adapter)
    assert first.file_hash != file_sha256(adapter) and open_model(adapter).file_hash == first.file_hash
    torch.manual_seed(1)  # "retrained": same adapter file, new weights
    torch.save(torch.nn.Linear(3, 64).state_dict(), weights)
    assert open_model(adapter).file_hash != first.file_hash
    # the fingerprint of a module hashes its state_dict; of a module-less model, its decoded outputs
    a, b = torch.nn.Linear(3, 64), torch.nn.Linear(3, 64)
    b.load_state_dict(a.state_dict())
    assert weights_fingerprint(a) == weights_fingerprint(b)
    with torch.no_grad():
        b.bias[0] += 1e-6
    assert weights_fingerprint(a) != weights_fingerprint(b)

    class Plain:
        latent_dim = 3

        def __init__(self, w):
            self.w = w

        def decode(self, z):
            return torch.sigmoid(z @ self.w)

    w = torch.ones(3, 64)
    assert weights_fingerprint(Plain(w)) == weights_fingerprint(Plain(w.clone()))
    assert weights_fingerprint(Plain(w)) != weights_fingerprint(Plain(w * 2))
