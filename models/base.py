"""The one interface every model family (and every third-party adapter) presents."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

KINDS = ("vae", "gan", "ali")


@runtime_checkable
class GenerativeModel(Protocol):
    """What Latent Explorer needs from a model.

    Attributes
    ----------
    kind : {"vae", "gan", "ali"}
        Model family.
    latent_dim : int
        Dimension ``d`` of the latent code ``z``.
    image_shape : tuple of int
        ``(C, H, W)`` of the images the decoder makes and the encoder takes.
    has_encoder : bool
        Whether ``encode`` works (False for a GAN generator alone).

    Notes
    -----
    Images are float32 tensors of shape ``(N, C, H, W)`` with values in [0, 1];
    codes are float32 tensors of shape ``(N, d)``. Methods run in inference mode
    on the model's device (its weights' device, `module_device`: the CPU unless it was
    moved) and never change the model's state; inputs are moved there, outputs stay
    there (callers bring them back with ``.cpu()``).
    """

    kind: str
    latent_dim: int
    image_shape: tuple[int, int, int]
    has_encoder: bool

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Map images ``(N, C, H, W)`` in [0, 1] to codes ``(N, d)`` (VAE: posterior mean)."""

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Map codes ``(N, d)`` to images ``(N, C, H, W)`` in [0, 1]."""

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` codes ``(n, d)`` from the prior ``p(z)``."""


class NoEncoderError(RuntimeError):
    """Raised by ``encode`` on a model that has no encoder (a GAN generator)."""


class ModelFileError(ValueError):
    """A model file could not be loaded; the message is one sentence naming the file, the problem and the fix.

    Base of `models.checkpoint.CheckpointError`, `models.adapter.AdapterError` and
    `models.torchscript.TorchScriptError`, so callers can catch all three at once.
    """


class NonFiniteError(ModelFileError):
    """A model computed NaN or infinite codes or images; the message names the model."""


def model_label(model) -> str:
    """How messages name a model: its ``label`` (e.g. ``"checkpoint 'vae.pt'"``), else its kind."""
    label = getattr(model, "label", None)
    return label if isinstance(label, str) and label else f"the {getattr(model, 'kind', 'loaded')} model"


def check_finite(values, model, what: str):
    """Return ``values`` (tensor or array) when every value is finite, else raise a `NonFiniteError`.

    Parameters
    ----------
    values : torch.Tensor or numpy.ndarray
        What ``model`` computed, e.g. decoded images ``(N, C, H, W)`` or codes ``(N, d)``.
    model : GenerativeModel
        Named in the message (`model_label`).
    what : str
        What the values are, e.g. ``"decode"`` or ``"encode"``.

    Raises
    ------
    NonFiniteError
        "adapter 'x.py': decode returned 12 NaN or infinite values (of 1,568); …".
    """
    import numpy as np

    t = values.detach() if isinstance(values, torch.Tensor) else torch.from_numpy(np.asarray(values))
    if t.is_floating_point() or t.is_complex():
        bad = int(t.numel() - torch.isfinite(t).sum())
        if bad:
            raise NonFiniteError(
                f"{model_label(model)}: {what} returned {bad:,} NaN or infinite values (of {t.numel():,}); the "
                "model's weights or arithmetic are broken — nothing was shown or written from it."
            )
    return values


def module_device(module) -> torch.device:
    """The device of a module's first parameter or buffer (the CPU for a module with neither).

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    torch.device
    """
    for t in module.parameters():
        return t.device
    for t in module.buffers():
        return t.device
    return torch.device("cpu")


def generator_device(generator: torch.Generator | None) -> torch.device:
    """Where draws from ``generator`` are made: its own device; the CPU for None.

    Seeded draws (prior codes, reparameterisation noise) are made on the CPU and moved to the
    model's device, so a seed gives the same numbers on every device.
    """
    return generator.device if generator is not None else torch.device("cpu")


def float64_device(device: torch.device) -> torch.device:
    """Where float64 sums of ``device``'s tensors are made: there on the CPU and CUDA, else the CPU (no MPS float64)."""
    return device if device.type in ("cpu", "cuda") else torch.device("cpu")


def as_codes(z, latent_dim: int, device: torch.device | None = None) -> torch.Tensor:
    """Return latent codes as a float32 tensor of shape ``(N, latent_dim)`` on ``device``.

    Parameters
    ----------
    z : torch.Tensor or array_like, shape (N, d)
        Codes; a single code of shape ``(d,)`` is not accepted (add the batch axis).
    latent_dim : int
        Expected ``d``.
    device : torch.device, optional
        Where the codes go (a model's `module_device`); None: where they are (an array: the CPU).

    Raises
    ------
    ValueError
        If the shape is not ``(N, latent_dim)``.
    """
    t = torch.as_tensor(z, dtype=torch.float32, device=device)
    if t.ndim != 2 or t.shape[1] != latent_dim:
        raise ValueError(f"latent codes must have shape (N, {latent_dim}), got {tuple(t.shape)}")
    return t


def as_images(x, image_shape: tuple[int, int, int], device: torch.device | None = None) -> torch.Tensor:
    """Return images as a float32 tensor of shape ``(N, C, H, W)`` on ``device``.

    Parameters
    ----------
    x : torch.Tensor or array_like, shape (N, C, H, W)
        Images with values in [0, 1] (not checked, for speed).
    image_shape : (C, H, W)
        Expected per-image shape.
    device : torch.device, optional
        Where the images go (a model's `module_device`); None: where they are (an array: the CPU).

    Raises
    ------
    ValueError
        If the shape is not ``(N, *image_shape)``.
    """
    t = torch.as_tensor(x, dtype=torch.float32, device=device)
    if t.ndim != 4 or tuple(t.shape[1:]) != tuple(image_shape):
        raise ValueError(
            f"images must have shape (N, {', '.join(map(str, image_shape))}), got {tuple(t.shape)}"
        )
    return t


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is torch's out-of-memory error on a CUDA or MPS device (never a CPU allocation failure).

    ``torch.cuda.OutOfMemoryError``, or a ``RuntimeError`` with CUDA's or MPS's out-of-memory
    text (older torch, MPS). `explorer.core.batching` halves its batches on it; training stops
    with one sentence (`models.train`).
    """
    if isinstance(exc, getattr(torch.cuda, "OutOfMemoryError", ())):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("CUDA out of memory" in text or "MPS backend out of memory" in text)
