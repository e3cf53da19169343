"""Logging set-up: tracebacks go to the log file, users see one sentence."""

from __future__ import annotations

import logging
import logging.handlers
import sys

from explorer.paths import log_path

log = logging.getLogger("latent_explorer")

#: The loggers whose records go to the log file: `log`, and the modules' own
#: (``logging.getLogger(__name__)`` in ``explorer`` and ``models``), which are not below it.
LOGGERS = ("latent_explorer", "explorer", "models")


class _Sentences(logging.Handler):
    """The modules' warnings on standard error, their message only (no traceback), as Python printed them
    without a handler; ``sys.stderr`` as it is at each record (a test's capture, a redirected stream)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(record.getMessage() + "\n")
        except Exception:  # noqa: BLE001 - logging never raises
            self.handleError(record)


def setup_logging(level: int = logging.INFO) -> None:
    """Send the `LOGGERS` to a rotating log file (`explorer.paths.log_path`, 1 MB × 3); idempotent.

    The modules' warnings also go to standard error as one line each (what Python printed before
    they had a handler). `log`'s records (tracebacks of errors the user read as one sentence) go
    only to the file: without a log file (a cache folder that cannot be made or written) they are
    dropped, never printed as a traceback.

    Parameters
    ----------
    level : int
        The loggers' level (`logging.INFO`: warnings, errors and the information lines).
    """
    if getattr(log, "_latent_explorer_set_up", False):
        return
    log._latent_explorer_set_up = True
    try:
        handler = logging.handlers.RotatingFileHandler(log_path(), maxBytes=1_000_000, backupCount=3)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    except OSError:  # read-only home, a cache path that is a file: keep going without a log file
        handler = None
    log.addHandler(handler if handler is not None else logging.NullHandler())
    log.setLevel(level)
    for name in LOGGERS[1:]:
        logger = logging.getLogger(name)
        if handler is not None:
            logger.addHandler(handler)
        logger.addHandler(_Sentences(logging.WARNING))
        logger.setLevel(level)
