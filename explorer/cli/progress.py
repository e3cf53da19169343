"""Progress of a CLI job on stderr: one updating line on a terminal, whole lines every 10 % in a log."""

from __future__ import annotations

import sys

__all__ = ["progress_context", "end_progress_line"]


def progress_context(label: str, stream=None):
    """A `JobContext` that reports ``label: 42.0 % message`` on ``stream`` (default stderr).

    On a terminal the line is rewritten in place (``\\r``); written to a file or a pipe (CI logs,
    ``2> log.txt``) each report that reaches a new tenth of the job is a line of its own, so
    the log reads as text rather than one line of carriage returns.

    Parameters
    ----------
    label : str
        What the job is (printed first).
    stream : text stream, optional

    Returns
    -------
    explorer.core.jobs.JobContext
    """
    from explorer.core.jobs import JobContext

    out = stream or sys.stderr
    tty = bool(getattr(out, "isatty", lambda: False)())
    last = [-1]

    def report(fraction: float, message: str) -> None:
        if tty:
            print(f"\r{label}: {100 * fraction:5.1f} % {message[:60]:<60}", end="", file=out, flush=True)
            return
        tenth = min(int(fraction * 10 + 1e-9), 10)
        if tenth != last[0]:
            last[0] = tenth
            print(f"{label}: {100 * fraction:5.1f} % {message}", file=out, flush=True)

    return JobContext(report)


def end_progress_line(stream=None) -> None:
    """End a progress line on a terminal (a log's lines are already whole)."""
    out = stream or sys.stderr
    if getattr(out, "isatty", lambda: False)():
        print(file=out, flush=True)
