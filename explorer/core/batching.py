"""Batches sized to the device's memory: large on a GPU, halved after an out-of-memory error, one sentence at 1."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["GPU_START_BATCH", "DeviceMemoryError", "halve_batch", "is_out_of_memory", "remember_batch", "run_batched",
           "start_batch"]

#: The first batch tried on a CUDA or MPS device (items), unless fewer are asked for: GPUs are
#: fastest with large batches, and an out-of-memory error halves it (`run_batched`).
GPU_START_BATCH = 4096

#: The batch that last worked, per (device, what, memo) in this process: the next call starts there.
_WORKED: dict[tuple[str, str], int] = {}


class DeviceMemoryError(RuntimeError):
    """Even a batch of one item does not fit in the device's memory (one sentence naming the device)."""


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is torch's out-of-memory error on a CUDA or MPS device (never a CPU allocation failure).

    The one test, `models.base.is_out_of_memory` (training uses it too).
    """
    from models.base import is_out_of_memory as out_of_memory  # imports torch: not at start-up

    return out_of_memory(exc)


def start_batch(device, requested: int, n: int, what: str = "", memo=None) -> int:
    """The first batch size for ``n`` items on ``device``.

    Parameters
    ----------
    device : torch.device or str
        Where the model computes.
    requested : int
        The caller's batch size (≥ 1): kept on the CPU, where memory is not the limit and
        larger batches are not faster.
    n : int
        Items to process (≥ 0).
    what : str
        What is batched ("encode", "decode", …): the size that worked is remembered per device,
        kind and ``memo``.
    memo : hashable, optional
        What else the memory per item depends on (e.g. the model's class and image shape), so
        a small size learnt on a large model does not slow a small one.

    Returns
    -------
    int
        On the CPU ``min(requested, n)``; on CUDA/MPS the size that last worked for ``what``
        there, else ``max(requested, GPU_START_BATCH)``, at most ``n`` (and ≥ 1).
    """
    kind = getattr(device, "type", str(device).split(":")[0])
    if kind == "cpu":
        size = requested
    else:
        size = _WORKED.get((str(device), what, memo), max(requested, GPU_START_BATCH))
    return max(1, min(int(size), max(int(n), 1)))


def run_batched(n: int, batch_size: int, step: Callable[[int, int], None], device="cpu", what: str = "",
                on_done: Callable[[int], None] | None = None, memo=None) -> int:
    """Call ``step(start, stop)`` over ``[0, n)`` in batches that fit the device.

    On a CUDA or MPS out-of-memory error the batch is retried at half the size (torch's
    cache emptied first), down to one item; the size that worked is remembered for the
    next call (`start_batch`). Steps must be idempotent for their range (they write
    ``out[start:stop]``), since a failed batch is done again.

    Parameters
    ----------
    n : int
        Number of items.
    batch_size : int
        The caller's batch size (kept on the CPU; see `start_batch`).
    step : callable
        ``step(start, stop)`` computes items ``start`` to ``stop - 1``.
    device : torch.device or str
        Where ``step`` computes.
    what : str
        The kind of work, for `start_batch`'s memory and the error sentence.
    on_done : callable, optional
        ``on_done(stop)`` after each batch (progress and cancel).
    memo : hashable, optional
        See `start_batch`.

    Returns
    -------
    int
        The batch size used at the end.

    Raises
    ------
    DeviceMemoryError
        One item does not fit (one sentence naming the device).
    """
    size = start_batch(device, batch_size, n, what, memo)
    start = 0
    while start < n:
        stop = min(start + size, n)
        try:
            step(start, stop)
        except Exception as exc:  # noqa: BLE001 - only out-of-memory errors are handled; the rest re-raised
            if not is_out_of_memory(exc):
                raise
            size = halve_batch(size, device, what)
            continue
        remember_batch(device, what, memo, size)
        start = stop
        if on_done is not None:
            on_done(stop)
    return size


def halve_batch(size: int, device, what: str = "") -> int:
    """The batch to retry with after an out-of-memory error at ``size``: half of it, torch's cache emptied first.

    For loops that cannot be written as `run_batched` (their batches are not ranges of
    items): call it from ``except`` when `is_out_of_memory` holds, then redo the batch.

    Parameters
    ----------
    size : int
        The batch that did not fit (≥ 1).
    device : torch.device or str
    what : str
        The kind of work, for the error sentence.

    Returns
    -------
    int
        ``size // 2`` (≥ 1).

    Raises
    ------
    DeviceMemoryError
        ``size`` was 1 (one sentence naming the device).
    """
    _empty_cache(device)
    if size <= 1:
        raise DeviceMemoryError(
            f"{what or 'the computation'} does not fit in the memory of {device} even one item at a time; "
            "choose --device cpu (Settings ▸ Compute device in the window).") from None
    return max(1, int(size) // 2)


def remember_batch(device, what: str, memo, size: int) -> None:
    """Record that a batch of ``size`` worked for ``what`` on ``device`` (CUDA/MPS only): `start_batch` starts there."""
    if getattr(device, "type", str(device)) != "cpu":
        _WORKED[(str(device), what, memo)] = int(size)


def _empty_cache(device) -> None:
    import torch

    kind = getattr(device, "type", str(device).split(":")[0])
    if kind == "cuda" and torch.cuda.is_available():
        torch.cuda.empty_cache()
    elif kind == "mps" and hasattr(torch, "mps") and hasattr(torch.mps, "empty_cache"):
        torch.mps.empty_cache()
