"""Cooperative progress and cancellation for long pure functions (encode, UMAP, training...)."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Cancelled(Exception):
    """Raised inside a job function when its request was cancelled or superseded."""


class JobContext:
    """Handed to a long-running core function: report progress, check for cancel.

    Parameters
    ----------
    on_progress : callable, optional
        ``on_progress(fraction, message)`` with ``fraction`` in [0, 1]; called from the
        job's thread. The GUI forwards it to the status bar through a Qt signal.
    cancel_event : threading.Event, optional
        Set by the owner to ask the job to stop at its next ``check()``.

    Notes
    -----
    A job function takes ``ctx: JobContext | None`` and calls ``ctx.check()`` between
    batches; ``JobContext.none()`` is a no-op context for callers that do not care.
    """

    def __init__(
        self,
        on_progress: Callable[[float, str], None] | None = None,
        cancel_event: threading.Event | None = None,
    ) -> None:
        self._on_progress = on_progress
        self.cancel_event = cancel_event or threading.Event()

    @classmethod
    def none(cls) -> JobContext:
        """A context that reports nowhere and is never cancelled."""
        return cls()

    @property
    def cancelled(self) -> bool:
        """True once cancellation was requested."""
        return self.cancel_event.is_set()

    def cancel(self) -> None:
        """Ask the job to stop at its next ``check()``."""
        self.cancel_event.set()

    def check(self) -> None:
        """Raise :class:`Cancelled` if cancellation was requested."""
        if self.cancel_event.is_set():
            raise Cancelled()

    def progress(self, fraction: float, message: str = "") -> None:
        """Report progress ``fraction`` in [0, 1] with a short message, then ``check()``."""
        if self._on_progress is not None:
            self._on_progress(min(max(float(fraction), 0.0), 1.0), message)
        self.check()


def sub_context(ctx: JobContext | None, lo: float, hi: float) -> JobContext | None:
    """A child context for one stage of a job: its progress [0, 1] maps to [lo, hi] of ``ctx``.

    Parameters
    ----------
    ctx : JobContext or None
        The job's context (None gives None).
    lo, hi : float
        The stage's share of the parent's progress, 0 ≤ lo ≤ hi ≤ 1.

    Returns
    -------
    JobContext or None
        Shares ``ctx``'s cancel flag, so cancelling the job stops the stage.
    """
    if ctx is None:
        return None
    return JobContext(lambda f, m: ctx.progress(lo + f * (hi - lo), m), ctx.cancel_event)
