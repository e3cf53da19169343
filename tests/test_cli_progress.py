"""CLI progress: a rewritten line on a terminal, whole lines every tenth of the job in a log."""

from __future__ import annotations

import io

from explorer.cli.progress import end_progress_line, progress_context


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_one_whole_line_per_tenth():
    out = io.StringIO()
    ctx = progress_context("encode", out)
    for i in range(101):
        ctx.progress(i / 100, f"encoded {i} / 100")
    end_progress_line(out)
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue() and len(lines) == 11
    assert lines[0] == "encode:   0.0 % encoded 0 / 100" and lines[-1] == "encode: 100.0 % encoded 100 / 100"


def test_a_terminal_gets_one_line_rewritten_in_place():
    out = _Terminal()
    ctx = progress_context("encode", out)
    ctx.progress(0.5, "half")
    ctx.progress(1.0, "done")
    end_progress_line(out)
    text = out.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n") and text.count("\n") == 1 and "100.0 % done" in text
