"""Open any model file — checkpoint, Python adapter or TorchScript — and describe it."""

from __future__ import annotations

from pathlib import Path

from models.adapter import WrappedModel, load_adapter
from models.base import ModelFileError
from models.checkpoint import EXTRACTOR_CLASSES, load_checkpoint
from models.layers import count_parameters
from models.torchscript import is_torchscript_file, load_torchscript


def _networks(model) -> dict[str, int]:
    return {
        name: count_parameters(child)
        for name, child in model.named_children()
        if name in ("encoder", "decoder", "generator", "discriminator")
    }


#: Suffixes that mark a file as TorchScript, the user's explicit opt-in to running its code.
TORCHSCRIPT_SUFFIXES = (".ts", ".torchscript")


def load_any(path, *, allow_code: bool = True, extractors: bool = False):
    """Load a model file, choosing the loader from the file name.

    ``*.py`` → `models.adapter.load_adapter` (runs the file); ``*.ts`` / ``*.torchscript``
    → `models.torchscript.load_torchscript` (runs TorchScript code); anything else →
    `models.checkpoint.load_checkpoint` (never runs code; a TorchScript archive under
    another name is refused with a sentence saying how to opt in). Pointing at a ``.py`` or
    TorchScript file is the user's opt-in to running its code; pass ``allow_code=False`` where
    the user did not choose the file that way (e.g. scanning a folder).

    Parameters
    ----------
    path : str or os.PathLike
    allow_code : bool
        If False, adapters and TorchScript files are refused.
    extractors : bool
        If True, a checkpoint of a feature extractor (kind "classifier",
        `models.classifier.LeNetClassifier`) is returned too, with ``latent_dim`` and
        ``has_encoder`` None; if False (default) it is refused with a sentence, since it is
        not a generative model.

    Returns
    -------
    model : GenerativeModel
        In eval mode, on the CPU.
    info : dict
        See `describe`.

    Raises
    ------
    ModelFileError
        (`CheckpointError`, `AdapterError` or `TorchScriptError`) with a one-sentence message.
    """
    path = Path(path)
    is_code = path.suffix == ".py" or path.suffix in TORCHSCRIPT_SUFFIXES
    if not is_code and path.is_file() and is_torchscript_file(path):
        # TorchScript runs code: only an explicit opt-in (the file's suffix) opens it
        raise ModelFileError(
            f"model file '{path}' is a TorchScript archive, which contains code; to open it as a "
            f"TorchScript model, give it the suffix {' or '.join(TORCHSCRIPT_SUFFIXES)}."
        )
    if is_code and not allow_code:
        raise ModelFileError(
            f"model file '{path}' contains code ({'Python adapter' if path.suffix == '.py' else 'TorchScript'}); "
            "open it explicitly as an adapter or TorchScript model if you trust it."
        )
    info = {
        "path": str(path),
        "source": None,
        "kind": None,
        "latent_dim": None,
        "image_shape": None,
        "has_encoder": None,
        "parameters": None,
        "networks": {},
        "dataset": None,
        "seed": None,
        "epochs": None,
        "history_final": {},
        "command": None,
        "created": None,
        "format_version": None,
        "library_version": None,
        "config": None,
        "extra": {},
    }
    if path.suffix == ".py":
        model: object = load_adapter(path)
    elif is_code:
        model = load_torchscript(path)
    else:
        ckpt = load_checkpoint(path)
        model = ckpt.model
        history = ckpt.history or {}
        if ckpt.kind in EXTRACTOR_CLASSES and not extractors:
            raise ModelFileError(
                f"checkpoint '{path}' is a {ckpt.kind} (a feature extractor for sample quality), not a "
                "generative model; give it to `latent-explorer evaluate --extractor` instead."
            )
        info.update(
            source="checkpoint",
            parameters=count_parameters(model),
            networks=_networks(model),
            dataset=ckpt.dataset,
            seed=ckpt.seed,
            epochs=max((len(v) for v in history.values() if isinstance(v, list)), default=0),
            history_final={k: v[-1] for k, v in history.items() if isinstance(v, list) and v},
            command=ckpt.command,
            created=ckpt.created,
            format_version=ckpt.format_version,
            library_version=ckpt.library_version,
            config=ckpt.config,
            extra=ckpt.extra,
        )
    if isinstance(model, WrappedModel):
        info.update(source=model.source, parameters=model.parameter_count())
    if getattr(model, "kind", None) in EXTRACTOR_CLASSES:
        info.update(kind=model.kind, image_shape=list(model.image_shape))
        return model, info
    info.update(
        kind=model.kind,
        latent_dim=model.latent_dim,
        image_shape=list(model.image_shape),
        has_encoder=model.has_encoder,
    )
    return model, info


def describe(path, *, allow_code: bool = True) -> dict:
    """What ``latent-explorer info`` prints about a model file.

    Parameters
    ----------
    path : str or os.PathLike
    allow_code : bool
        As in `load_any`.

    Returns
    -------
    dict
        ``path``; ``source`` ("checkpoint", "adapter" or "torchscript"); ``kind``;
        ``latent_dim``; ``image_shape`` ([C, H, W]); ``has_encoder`` (None for a classifier
        checkpoint, whose ``config`` holds ``n_classes``, ``num_features`` and ``class_names``
        and whose ``extra`` the test accuracy); ``parameters``
        (scalar count over all networks, None if unknown); ``networks`` (per-network
        counts); and, for checkpoints (None/empty otherwise): ``dataset``, ``seed``,
        ``epochs``, ``history_final`` (last per-epoch value of each metric), ``command``,
        ``created``, ``format_version``, ``library_version``, ``config``, ``extra``.

    Raises
    ------
    ModelFileError
        As `load_any`.
    """
    return load_any(path, allow_code=allow_code, extractors=True)[1]


def weights_fingerprint(model) -> str:
    """SHA-256 (hex) of what a loaded model computes with: its weights, or its outputs on fixed codes.

    A Python adapter may read its weights from any file, so the adapter file's own hash
    does not change when the model is retrained; this fingerprint does. For a torch
    module (a model, or ``WrappedModel.module``) it hashes every ``state_dict`` entry —
    name, dtype, shape and bytes — in name order (about 10 ms per million parameters).
    Without a module it hashes ``decode`` of 4 codes drawn from ``N(0, I)`` with a
    generator seeded 0, which changes whenever the decoder does (a different thread
    count may also change it, costing only a cache miss).

    Parameters
    ----------
    model : GenerativeModel

    Returns
    -------
    str
        64 hex digits.
    """
    import hashlib

    import torch
    from torch import nn

    h = hashlib.sha256()
    module = model if isinstance(model, nn.Module) else getattr(model, "module", None)
    if isinstance(module, nn.Module):
        for name, t in sorted(module.state_dict().items()):
            t = t.detach().cpu().contiguous()
            h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        return h.hexdigest()
    z = torch.randn(4, int(model.latent_dim), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        x = torch.as_tensor(model.decode(z)).detach().cpu().float().contiguous()
    h.update(b"decode|" + x.numpy().tobytes())
    return h.hexdigest()
