"""Which torch device computes: ``--device auto|cpu|cuda|cuda:N|mps`` resolved once; one sentence when missing."""

from __future__ import annotations

import re

from explorer.errors import UserError

__all__ = ["DEVICE_CHOICES_TEXT", "DEVICE_NAMES", "DeviceError", "resolve_device", "model_device", "place_model"]

#: What ``--device`` accepts, for help texts and messages.
DEVICE_CHOICES_TEXT = "auto, cpu, cuda, cuda:N or mps"
#: The device names a settings menu offers (``cuda:N`` is typed on the command line).
DEVICE_NAMES = ("auto", "cpu", "cuda", "mps")


class DeviceError(UserError, ValueError):
    """The device asked for does not exist on this machine, or is not a device name (one sentence)."""


def resolve_device(name: str | None = "auto"):
    """The ``torch.device`` for a user's device choice.

    Parameters
    ----------
    name : str or None
        ``"auto"`` (or None): CUDA if available, else Apple's MPS if available, else the
        CPU. ``"cpu"``; ``"cuda"`` (the current CUDA device) or ``"cuda:N"``; ``"mps"``.

    Returns
    -------
    torch.device

    Raises
    ------
    DeviceError
        Not one of the names above, or the device is not available here (e.g. ``cuda``
        on a machine without a CUDA GPU or without a CUDA build of torch; ``cuda:N``
        beyond the devices present).
    """
    import torch

    text = "auto" if name is None else str(name).strip().lower()
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if text == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", text)
    if match:
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {name}: no CUDA GPU is available here (torch {torch.__version__}, "
                              f"CUDA build: {torch.version.cuda or 'no'}); use --device cpu or auto.")
        index = int(match.group(1)) if match.group(1) is not None else None
        if index is not None and index >= torch.cuda.device_count():
            raise DeviceError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                              f"numbered from 0.")
        return torch.device("cuda" if index is None else f"cuda:{index}")
    if text == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise DeviceError(f"--device {name}: Apple's MPS is not available here; use --device cpu or auto.")
        return torch.device("mps")
    raise DeviceError(f"--device {name!r} is not a device; choose {DEVICE_CHOICES_TEXT}.")


def model_device(model):
    """The device of a model's first parameter or buffer (``torch.device("cpu")`` for a model with neither)."""
    import torch

    for attr in ("parameters", "buffers"):
        fn = getattr(model, attr, None) or getattr(getattr(model, "module", None), attr, None)
        if fn is not None:
            for t in fn():
                return t.device
    return torch.device("cpu")


def place_model(model, device):
    """Move a model to ``device`` for computing, and return the device it computes on.

    Our models (`models.vae.VAE`, `models.dcgan.DCGAN`, `models.ali.ALI`, the classifier —
    ``torch.nn.Module`` subclasses) are moved with ``.to(device)``; their methods then move
    their inputs there (`models.base.as_images`). A third-party adapter or TorchScript file
    (`models.adapter.WrappedModel`) stays where its own code put it — the CPU — because
    its code may make tensors of its own there; the device returned says so.

    Parameters
    ----------
    model : GenerativeModel
    device : torch.device, str or None
        None: leave the model where it is.

    Returns
    -------
    torch.device
        Where the model computes now (`model_device`), for records and log lines.
    """
    import torch

    if device is not None and isinstance(model, torch.nn.Module):
        model.to(torch.device(device))
    return model_device(model)
