"""Progress lines of the likelihood estimators: a stage's label, and the time left for the whole job."""

from __future__ import annotations

import time

from explorer.core.jobs import JobContext

__all__ = ["with_eta", "StageProgress"]


def _fmt_eta(seconds: float) -> str:
    return f"~{seconds:.0f} s left" if seconds < 90 else f"~{seconds / 60:.0f} min left"


def with_eta(ctx: JobContext | None) -> JobContext | None:
    """``ctx`` whose messages end with an estimate of the time left for the whole job.

    Parameters
    ----------
    ctx : JobContext or None
        Progress and cancel of the job (None: returned as is).

    Returns
    -------
    JobContext or None
        Shares ``ctx``'s cancel event; each ``progress(fraction, message)`` is passed on with
        ", ~N s left" (or "~N min left" from 90 s) appended, extrapolated linearly from the
        wall time since this call and ``fraction`` (once ``fraction`` > 0.01).
    """
    if ctx is None:
        return None
    t0 = time.perf_counter()

    def report(fraction: float, message: str) -> None:
        el = time.perf_counter() - t0
        eta = f", {_fmt_eta(el * (1 - fraction) / fraction)}" if fraction > 0.01 else ""
        ctx.progress(fraction, f"{message}{eta}")

    return JobContext(report, ctx.cancel_event)


class StageProgress:
    """A stage's progress lines: ``label`` then what is done (``progress(fraction, what)``).

    Parameters
    ----------
    ctx : JobContext or None
        Where the lines go (None: nowhere).
    label : str
        E.g. ``"IWAE k = 1,000: "``.
    """

    def __init__(self, ctx: JobContext | None, label: str):
        self.ctx, self.label = ctx, label

    def __call__(self, fraction: float, what: str = "") -> None:
        if self.ctx is not None:
            self.ctx.progress(fraction, f"{self.label}{what}")
