"""Logging set-up: tracebacks go to the log file, users see one sentence."""

from __future__ import annotations

import logging
import logging.handlers

from explorer.paths import log_path

log = logging.getLogger("latent_explorer")

#: The loggers whose records go to the log file: `log`, and the modules' own
#: (``logging.getLogger(__name__)`` in ``explorer`` and ``models``), which are not below it.
LOGGERS = ("latent_explorer", "explorer", "models")


def setup_logging(level: int = logging.INFO) -> None:
    """Send the `LOGGERS` to a rotating log file (`explorer.paths.log_path`, 1 MB × 3); idempotent.

    Parameters
    ----------
    level : int
        The loggers' level (`logging.INFO`: warnings, errors and the information lines).

    Without a writable log file (a read-only cache folder) nothing changes, and nothing is raised.
    """
    if any(isinstance(h, logging.handlers.RotatingFileHandler) for h in log.handlers):
        return
    try:
        handler = logging.handlers.RotatingFileHandler(log_path(), maxBytes=1_000_000, backupCount=3)
    except OSError:  # read-only home: keep going without a log file
        return
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(level)
