"""Errors meant for the user: one sentence naming the file and what is wrong with it."""

from __future__ import annotations

__all__ = ["UserError", "DatasetError", "FolderError", "one_line"]


def one_line(error: BaseException) -> str:
    """The message of ``error`` on one line, without its final full stop, to quote inside a sentence.

    Its type's name (e.g. ``"MemoryError"``) when the message is empty.
    """
    return " ".join(str(error).split()).rstrip(".") or type(error).__name__


class UserError(Exception):
    """An error whose message is one sentence for the user (file, problem, what to do).

    The CLI prints it without a traceback and exits non-zero; the GUI shows it in a
    dialog and writes the traceback to the log file.
    """


class DatasetError(UserError, ValueError):
    """A dataset file or folder could not be read (message names the file and the problem)."""


class FolderError(UserError, OSError):
    """A folder of ours (the cache, the settings) cannot be made: its path or a parent is a file, or it is not
    writable (message names the folder, the variable that moves it, and the reason). An `OSError` too, so that
    code going on without a cache or a log file goes on."""
