"""Logging set-up: tracebacks go to the log file, users see one sentence."""

from __future__ import annotations

import logging
import logging.handlers

from explorer.paths import log_path

log = logging.getLogger("latent_explorer")


def setup_logging(level: int = logging.INFO) -> None:
    """Send the ``latent_explorer`` logger to a rotating log file (1 MB × 3); idempotent."""
    if any(isinstance(h, logging.handlers.RotatingFileHandler) for h in log.handlers):
        return
    try:
        handler = logging.handlers.RotatingFileHandler(log_path(), maxBytes=1_000_000, backupCount=3)
    except OSError:  # read-only home: keep going without a log file
        return
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(level)
