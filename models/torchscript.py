"""Third-party models exported as TorchScript archives (loading one is the user's explicit choice)."""

from __future__ import annotations

import types
import warnings
import zipfile
from pathlib import Path

import torch

from models.adapter import WrappedModel
from models.base import ModelFileError


class TorchScriptError(ModelFileError):
    """A TorchScript file failed to load or breaks the contract; one sentence naming the file."""


def is_torchscript_file(path) -> bool:
    """Whether ``path`` is a TorchScript archive (a zip with compiled ``code/`` and ``constants.pkl``).

    Plain ``torch.save`` files are zips too but hold no ``code/`` folder, so they answer False.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (OSError, EOFError, ValueError, zipfile.BadZipFile):  # ValueError: a damaged name (UnicodeDecodeError)
        return False
    return any("/code/" in n for n in names) and any(n.endswith("constants.pkl") for n in names)


def load_torchscript(path) -> WrappedModel:
    """Load a TorchScript module with ``torch.jit.load`` and wrap it as a `GenerativeModel`.

    TorchScript runs the compiled code in the file when its methods are called, so only
    load a file the user chose to open as TorchScript (checkpoints never run code).

    Contract: a scripted ``torch.nn.Module`` with

    - ``decode(z)`` exported with ``@torch.jit.export`` (or ``forward(z)`` as the decoder):
      float32 ``(N, d)`` → ``(N, C, H, W)`` in [0, 1];
    - optionally ``encode(x)`` exported the same way: ``(N, C, H, W)`` in [0, 1] → ``(N, d)``
      (``has_encoder`` is True exactly when it exists);
    - attributes ``latent_dim: int`` and ``image_shape: List[int]`` (``[C, H, W]``), and
      optionally ``kind: str`` ("vae", "gan" or "ali"; default "vae" with an encoder and
      "gan" without). The prior is standard normal.

    Example of exporting one::

        from typing import List
        import torch

        class Exported(torch.nn.Module):
            latent_dim: int
            image_shape: List[int]
            kind: str

            def __init__(self, decoder, encoder):
                super().__init__()
                self.decoder, self.encoder = decoder, encoder
                self.latent_dim, self.image_shape, self.kind = 16, [1, 28, 28], "vae"

            @torch.jit.export
            def decode(self, z: torch.Tensor) -> torch.Tensor:
                return torch.sigmoid(self.decoder(z))

            @torch.jit.export
            def encode(self, x: torch.Tensor) -> torch.Tensor:
                return self.encoder(x)[:, :16]

            def forward(self, z: torch.Tensor) -> torch.Tensor:
                return self.decode(z)

        torch.jit.save(torch.jit.script(Exported(dec, enc).eval()), "my_vae.ts")

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    WrappedModel
        Conforms to `GenerativeModel`; ``source`` is "torchscript".

    Raises
    ------
    TorchScriptError
        One sentence naming the file, when it is missing, not a TorchScript archive or
        damaged, lacks ``decode``/``latent_dim``/``image_shape``, or a probe decode/encode of
        two codes gives the wrong shape, type or range.
    """
    path = Path(path)
    label = f"TorchScript file '{path}'"
    if path.is_dir():
        raise TorchScriptError(f"{label} is a folder, not a file; choose the TorchScript file.")
    if not path.is_file():
        raise TorchScriptError(f"{label} does not exist; check the path.")
    if not is_torchscript_file(path):
        raise TorchScriptError(f"{label} is not a TorchScript archive; save the module with torch.jit.save.")
    try:
        with warnings.catch_warnings():  # torch ≥ 2.10 flags TorchScript as deprecated; the user chose it
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location="cpu")
    except Exception as e:
        raise TorchScriptError(
            f"{label} cannot be loaded ({type(e).__name__}); it may be damaged or from a newer PyTorch — "
            "export it again."
        ) from e
    module.eval()
    decode = getattr(module, "decode", None) or getattr(module, "forward", None)
    encode = getattr(module, "encode", None)
    for attr in ("latent_dim", "image_shape"):
        if not hasattr(module, attr):
            raise TorchScriptError(f"{label} has no '{attr}' attribute; declare it on the scripted module.")
    shim = types.SimpleNamespace(
        kind=getattr(module, "kind", None) or ("vae" if encode is not None else "gan"),
        latent_dim=module.latent_dim,
        image_shape=list(module.image_shape),
        decode=decode,
    )
    if encode is not None:
        shim.encode = encode
    model = WrappedModel(shim, label, TorchScriptError, "torchscript")
    model.module = module
    model.probe()
    return model
