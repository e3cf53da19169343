"""The log file receives our logger's records and the modules' own (``logging.getLogger(__name__)``); the modules'
warnings are also one line each on stderr, and no traceback reaches stderr, with or without a log file."""

import logging

import pytest

import explorer.logs as logs


@pytest.fixture
def fresh_logging():
    """The loggers as if nothing had set them up (restored afterwards)."""
    saved = {name: (list(logging.getLogger(name).handlers), logging.getLogger(name).level) for name in logs.LOGGERS}
    was_set_up = getattr(logs.log, "_latent_explorer_set_up", False)
    for name in logs.LOGGERS:
        logging.getLogger(name).handlers = []
    logs.log._latent_explorer_set_up = False
    yield
    for name, (handlers, level) in saved.items():
        for h in logging.getLogger(name).handlers:
            if h not in handlers:
                h.close()
        logging.getLogger(name).handlers, logging.getLogger(name).level = handlers, level
    logs.log._latent_explorer_set_up = was_set_up


def _log_three():
    logging.getLogger("explorer.core.session.model").warning("child note %d", 1)
    logging.getLogger("models.checkpoint_reader").info("read %s", "x.pt")
    try:
        raise ValueError("bad")
    except ValueError:
        logs.log.exception("a traceback's sentence")
    logging.getLogger("explorer.core.embedding").debug("not at INFO")


def test_module_loggers_reach_the_log_file(tmp_path, monkeypatch, capsys, fresh_logging):
    path = tmp_path / "latent-explorer.log"
    monkeypatch.setattr(logs, "log_path", lambda: path)
    logs.setup_logging()
    logs.setup_logging()  # idempotent: one handler, each line once
    _log_three()
    for h in logging.getLogger("explorer").handlers:
        h.flush()
    lines = [line for line in path.read_text().splitlines() if not line.startswith(("Traceback", " ", "ValueError"))]
    assert [line.split(" ", 2)[2] for line in lines] == [
        "WARNING explorer.core.session.model: child note 1",
        "INFO models.checkpoint_reader: read x.pt",
        "ERROR latent_explorer: a traceback's sentence"]
    assert "ValueError: bad" in path.read_text()  # the traceback is in the file
    assert capsys.readouterr().err == "child note 1\n"  # the warning on stderr too, without a traceback


def test_without_a_log_file_warnings_stay_one_line_and_tracebacks_are_dropped(tmp_path, monkeypatch, capsys,
                                                                             fresh_logging):
    from explorer.errors import FolderError

    def no_folder():
        raise FolderError("the cache folder 'x' cannot be made")

    monkeypatch.setattr(logs, "log_path", no_folder)
    logs.setup_logging()
    _log_three()
    assert capsys.readouterr().err == "child note 1\n"
