"""The log file receives our logger's records and the modules' own (``logging.getLogger(__name__)``)."""

import logging
import logging.handlers

import explorer.logs as logs


def test_module_loggers_reach_the_log_file(tmp_path, monkeypatch):
    path = tmp_path / "latent-explorer.log"
    monkeypatch.setattr(logs, "log_path", lambda: path)
    saved = {name: (list(logging.getLogger(name).handlers), logging.getLogger(name).level) for name in logs.LOGGERS}
    for name in logs.LOGGERS:
        logging.getLogger(name).handlers = [h for h in logging.getLogger(name).handlers
                                            if not isinstance(h, logging.handlers.RotatingFileHandler)]
    try:
        logs.setup_logging()
        logs.setup_logging()  # idempotent: one handler, each line once
        logging.getLogger("explorer.core.session.model").warning("child note %d", 1)
        logging.getLogger("models.checkpoint_reader").info("read %s", "x.pt")
        logs.log.error("a traceback's sentence")
        logging.getLogger("explorer.core.embedding").debug("not at INFO")
        for h in logging.getLogger("explorer").handlers:
            h.flush()
        lines = path.read_text().splitlines()
    finally:
        for name, (handlers, level) in saved.items():
            for h in logging.getLogger(name).handlers:
                if h not in handlers:
                    h.close()
            logging.getLogger(name).handlers, logging.getLogger(name).level = handlers, level
    assert [line.split(" ", 2)[2] for line in lines] == [
        "WARNING explorer.core.session.model: child note 1",
        "INFO models.checkpoint_reader: read x.pt",
        "ERROR latent_explorer: a traceback's sentence"]
