"""Batched encode / decode between numpy arrays and a model, as cancellable jobs."""

from __future__ import annotations

import numpy as np

from explorer.core.batching import run_batched
from explorer.core.jobs import JobContext

# torch (~1 s to import) is imported by the functions: the window imports this module before
# its first paint, and a cached embedding can be shown before any code is decoded.

DEFAULT_BATCH = 500

#: Bytes of float32 input per encoder batch and intra-op thread on the CPU (`encode_batch`):
#: about half a MiB of images a thread keeps a small convolutional encoder's activations in its
#: core's cache. Measured on the demo VAE (10,000 28 × 28 images, best of 3, two processes each;
#: the codes were bit-identical at every batch size): one thread 0.52–0.53 s at 128 images a
#: batch against 0.62–1.01 s at 256 and 0.68–0.74 s at 64; two threads 0.30–0.31 s at 256 (192:
#: 0.30–0.32, 128: 0.36–0.37, 500: 0.44).
ENCODE_BATCH_BYTES = 1 << 19


def encode_batch(image_shape, threads: int = 1) -> int:
    """Images per encoder batch on the CPU: a power of two near ``threads × ENCODE_BATCH_BYTES`` of input.

    Parameters
    ----------
    image_shape : tuple of int
        ``(C, H, W)`` of the model's input.
    threads : int
        torch's intra-op threads that share each batch (``torch.get_num_threads()``).

    Returns
    -------
    int
        From 16 to 512. One thread: 128 for 1 × 28 × 28, 32 for 1 × 64 × 64, 16 for 3 × 64 × 64 and
        larger; two threads: 256, 64 and 16. The codes do not depend on it beyond float32 rounding.
    """
    per_image = 4 * max(1, int(np.prod([int(v) for v in image_shape])))
    size = max(16, min(512, max(1, int(threads)) * ENCODE_BATCH_BYTES // per_image))
    return 1 << (size.bit_length() - 1)


def encode_images(
    model, images: np.ndarray, batch_size: int | None = None, ctx: JobContext | None = None
) -> np.ndarray:
    """Encode images to latent codes with the model's encoder ``q(z|x)``.

    Parameters
    ----------
    model : models.base.GenerativeModel
        A model with ``has_encoder``; a VAE returns its posterior mean.
    images : numpy.ndarray
        ``(N, C, H, W)`` float32 in [0, 1], already fitted to ``model.image_shape``.
    batch_size : int, optional
        Images per forward pass on the CPU (default: `encode_batch` of the model's input); on
        a GPU batches start larger and halve after an out-of-memory error
        (`explorer.core.batching.run_batched`).
    ctx : JobContext, optional
        Progress (fraction of images done) and cancel, checked between batches.

    Returns
    -------
    numpy.ndarray
        ``(N, d)`` float32 codes.

    Raises
    ------
    models.base.NoEncoderError
        The model has no encoder.
    explorer.core.jobs.Cancelled
        The job was cancelled.
    ValueError
        ``images`` does not match ``model.image_shape``.
    models.base.NonFiniteError
        The encoder returned NaN or infinite codes (the message names the model).
    explorer.core.batching.DeviceMemoryError
        One image does not fit in the GPU's memory.
    """
    import torch

    from models.base import check_finite

    images = np.ascontiguousarray(images, dtype=np.float32)
    if tuple(images.shape[1:]) != tuple(model.image_shape):
        raise ValueError(
            f"images of shape {images.shape[1:]} do not fit the model's input {tuple(model.image_shape)}"
        )
    n = len(images)
    out = np.empty((n, model.latent_dim), dtype=np.float32)
    from explorer.core.device import model_device

    device = model_device(model)  # batches go to the model's device, codes come back to the CPU
    x_all = torch.from_numpy(images)  # shares memory: no copy

    def step(start: int, stop: int) -> None:
        out[start:stop] = check_finite(model.encode(x_all[start:stop].to(device)), model, "encode").cpu().numpy()

    def done(stop: int) -> None:
        if ctx is not None:
            ctx.progress(stop / n, f"encoded {stop:,} / {n:,} images")

    batch = encode_batch(model.image_shape, torch.get_num_threads()) if batch_size is None else int(batch_size)
    with torch.inference_mode():
        run_batched(n, batch, step, device, "encode", done, memo=(type(model).__name__, tuple(model.image_shape)))
    return out


def decode_codes(
    model, codes: np.ndarray, batch_size: int = DEFAULT_BATCH, ctx: JobContext | None = None
) -> np.ndarray:
    """Decode latent codes to images with the decoder / generator.

    Parameters
    ----------
    model : models.base.GenerativeModel
    codes : numpy.ndarray
        ``(N, d)`` (or one ``(d,)``) float32 latent codes.
    batch_size : int
        Codes per forward pass on the CPU (on a GPU: `explorer.core.batching.run_batched`).
    ctx : JobContext, optional
        Progress and cancel, checked between batches.

    Returns
    -------
    numpy.ndarray
        ``(N, C, H, W)`` float32 images in [0, 1].

    Raises
    ------
    ValueError
        ``codes`` is not ``(N, d)`` with ``d = model.latent_dim``.
    models.base.NonFiniteError
        The decoder returned NaN or infinite values (the message names the model).
    """
    import torch

    from models.base import check_finite

    codes = np.ascontiguousarray(codes, dtype=np.float32)
    if codes.ndim == 1:
        codes = codes[None]
    if codes.ndim != 2 or codes.shape[1] != model.latent_dim:
        raise ValueError(f"codes of shape {codes.shape} do not fit the model's latent dimension {model.latent_dim}")
    n = len(codes)
    out = np.empty((n, *model.image_shape), dtype=np.float32)
    from explorer.core.device import model_device

    device = model_device(model)  # batches go to the model's device, images come back to the CPU
    z_all = torch.from_numpy(codes)

    def step(start: int, stop: int) -> None:
        out[start:stop] = check_finite(model.decode(z_all[start:stop].to(device)), model, "decode").cpu().numpy()

    def done(stop: int) -> None:
        if ctx is not None:
            ctx.progress(stop / n, f"decoded {stop:,} / {n:,} codes")

    with torch.inference_mode():
        run_batched(n, batch_size, step, device, "decode", done, memo=(type(model).__name__, tuple(model.image_shape)))
    return out


def prior_codes(model, n: int, seed: int = 0) -> np.ndarray:
    """Draw ``n`` codes from the model's prior ``p(z)`` with a seeded generator.

    Returns
    -------
    numpy.ndarray
        ``(n, d)`` float32; the same ``seed`` gives the same codes.
    """
    import torch

    from models.base import check_finite

    g = torch.Generator().manual_seed(int(seed))
    with torch.inference_mode():
        return check_finite(model.sample_prior(int(n), g), model, "sample_prior").numpy().astype(np.float32, copy=False)
