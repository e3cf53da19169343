"""Tests of the GUI job machinery: JobRunner (threads, progress, cancel, stale results) and JobStatusWidget."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import logging  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QCoreApplication, Qt, QThread, QThreadPool  # noqa: E402
from PySide6.QtWidgets import QMainWindow  # noqa: E402

from explorer.core.jobs import Cancelled  # noqa: E402
from explorer.errors import UserError  # noqa: E402
from explorer.gui.job_status import JobStatusWidget  # noqa: E402
from explorer.gui.jobs import GuiJobContext, JobRunner, user_message  # noqa: E402


def _job_threads():
    return [t for t in threading.enumerate() if t.name.startswith("job-")]


def _on_gui_thread() -> bool:
    return (
        QThread.currentThread() == QCoreApplication.instance().thread()
        and threading.current_thread() is threading.main_thread()
    )


@pytest.fixture
def runner(qapp):
    r = JobRunner()
    yield r
    assert r.shutdown(timeout_s=5.0)
    QCoreApplication.processEvents()  # drop queued reports of the ended threads
    r.deleteLater()


def _loop_until_cancelled(ctx, *, step_s=0.002, limit_s=20.0, stopped=None):
    """A cooperative job: reports progress and checks the flag every ``step_s`` seconds."""
    t0 = time.monotonic()
    try:
        i = 0
        while time.monotonic() - t0 < limit_s:
            ctx.progress(min(i / 1000, 1.0), f"step {i}")
            time.sleep(step_s)
            i += 1
        return "ran to the end"
    finally:
        if stopped is not None:
            stopped["t"] = time.monotonic()
            stopped["event"].set()


# ---------------------------------------------------------------- results


def test_result_arrives_on_gui_thread_with_request_id(qtbot, runner):
    worker = {}
    seen = {}
    done = {}

    def times(x, factor, *, ctx):
        worker["ident"] = threading.get_ident()
        ctx.progress(0.5, "half way")
        return x * factor

    def on_finished(kind, request_id, result):
        seen.update(kind=kind, request_id=request_id, result=result, gui=_on_gui_thread())

    def on_done(result):
        done.update(result=result, gui=_on_gui_thread())

    runner.job_finished.connect(on_finished)
    with qtbot.waitSignal(runner.job_started, timeout=1000) as started:
        rid = runner.submit("math", times, 6, factor=7, label="Multiplying", on_done=on_done)
    assert started.args == ["math", rid, "Multiplying"]
    assert runner.is_running("math") and runner.current_request("math") == rid
    with qtbot.waitSignal(runner.job_finished, timeout=5000):
        pass
    assert seen == {"kind": "math", "request_id": rid, "result": 42, "gui": True}
    assert done == {"result": 42, "gui": True}
    assert worker["ident"] != threading.main_thread().ident
    assert not runner.is_running("math")
    assert runner.submit("math", times, 1, factor=1, label="again") > rid  # ids increase


def test_result_object_is_passed_unchanged(qtbot, runner):
    payload = {"codes": [1, 2, 3]}
    with qtbot.waitSignal(runner.job_finished, timeout=5000) as blocker:
        runner.submit("ident", lambda *, ctx: payload, label="Identity")
    assert blocker.args[2] is payload


# ---------------------------------------------------------------- progress


def test_progress_arrives_on_gui_thread_and_is_throttled(qtbot, runner):
    calls = {"n": 0}
    reports = []

    def busy(*, ctx):
        t0 = time.monotonic()
        while (elapsed := time.monotonic() - t0) < 0.5:
            ctx.progress(elapsed / 0.5, f"{elapsed:.3f} s")
            calls["n"] += 1
        return calls["n"]

    runner.job_progress.connect(lambda kind, rid, f, msg: reports.append((kind, rid, f, msg, _on_gui_thread())))
    with qtbot.waitSignal(runner.job_finished, timeout=10_000):
        rid = runner.submit("busy", busy, label="Busy loop")
    QCoreApplication.processEvents()
    assert calls["n"] > 1000  # the loop reported far more often than the GUI hears
    # ≤ 20 Hz: 0.5 s → at most ~11 reports (first one immediate), allow slack for scheduling
    assert 2 <= len(reports) <= 13, len(reports)
    assert all(r[0] == "busy" and r[1] == rid and r[4] for r in reports)
    fractions = [r[2] for r in reports]
    assert fractions == sorted(fractions) and 0.0 <= fractions[0] and fractions[-1] <= 1.0
    assert all(r[3].endswith(" s") for r in reports)


def test_progress_fraction_is_clipped(qtbot, runner):
    reports = []
    runner.job_progress.connect(lambda kind, rid, f, msg: reports.append(f))

    def overshoot(*, ctx):
        ctx.progress(1.7, "too far")
        return None

    with qtbot.waitSignal(runner.job_finished, timeout=5000):
        runner.submit("clip", overshoot, label="Overshoot")
    QCoreApplication.processEvents()
    assert reports == [1.0]


# ---------------------------------------------------------------- one job per kind


def test_second_submit_cancels_first_and_drops_its_late_result(qtbot, runner):
    gate = threading.Event()
    finished, cancelled, done = [], [], []
    runner.job_finished.connect(lambda kind, rid, result: finished.append((rid, result)))
    runner.job_cancelled.connect(lambda kind, rid: cancelled.append((kind, rid)))

    def stubborn(*, ctx):  # never checks its context: its result arrives late
        gate.wait(5.0)
        return "stale"

    first = runner.submit("embed", stubborn, label="Old embedding", on_done=lambda r: done.append(("first", r)))
    with qtbot.waitSignal(runner.job_cancelled, timeout=1000) as blocker:
        second = runner.submit("embed", lambda *, ctx: "fresh", label="New embedding",
                               on_done=lambda r: done.append(("second", r)))
    assert blocker.args == ["embed", first]
    assert runner.current_request("embed") == second
    qtbot.waitUntil(lambda: ("second", "fresh") in done, timeout=5000)

    gate.set()  # now the first job returns its (stale) result
    qtbot.waitUntil(lambda: runner.live_thread_count() == 0, timeout=5000)
    qtbot.wait(50)
    assert finished == [(second, "fresh")]
    assert done == [("second", "fresh")]
    assert cancelled == [("embed", first)]


def test_kinds_are_independent(qtbot, runner):
    stop = threading.Event()
    a = runner.submit("a", lambda *, ctx: stop.wait(5.0) and "a", label="A")
    b = runner.submit("b", lambda *, ctx: stop.wait(5.0) and "b", label="B")
    assert runner.is_running("a") and runner.is_running("b")
    assert runner.running_kinds() == ["a", "b"]
    results = {}
    runner.job_finished.connect(lambda kind, rid, r: results.__setitem__(rid, r))
    stop.set()
    qtbot.waitUntil(lambda: len(results) == 2, timeout=5000)
    assert results == {a: "a", b: "b"}


# ---------------------------------------------------------------- cancel


def test_cancel_stops_a_loop_that_would_run_forever(qtbot, runner):
    stopped = {"event": threading.Event()}
    with qtbot.waitSignal(runner.job_progress, timeout=5000):
        rid = runner.submit("loop", _loop_until_cancelled, label="Looping", stopped=stopped)
    with qtbot.waitSignal(runner.job_cancelled, timeout=1000) as blocker:
        assert runner.cancel("loop")
    assert blocker.args == ["loop", rid]
    assert not runner.is_running("loop")
    assert stopped["event"].wait(10.0)
    assert not runner.cancel("loop")  # nothing left to cancel


def test_cancel_runs_the_jobs_cancel_callback(qtbot, runner):
    """An uninterruptible job (e.g. waiting on a worker process) stops through ctx.on_cancel."""
    stopped = threading.Event()

    def blocking(*, ctx):
        wake = threading.Event()
        ctx.on_cancel(wake.set)  # e.g. terminate the UMAP process
        wake.wait(20.0)  # no ctx.check() in here
        stopped.set()
        ctx.check()
        return "never delivered"

    finished = []
    runner.job_finished.connect(lambda *a: finished.append(a))
    runner.submit("umap", blocking, label="UMAP")
    qtbot.wait(20)
    runner.cancel("umap")
    assert stopped.wait(10.0)  # woken by the cancel hook, long before its own 20 s wait ends
    qtbot.waitUntil(lambda: runner.live_thread_count() == 0, timeout=2000)
    qtbot.wait(20)
    assert finished == []


def test_error_after_cancel_counts_as_cancel(qtbot, runner, caplog):
    """A terminated worker process surfaces as an exception: not a failure when cancelled."""
    failed = []
    runner.job_failed.connect(lambda *a: failed.append(a))

    def broken_pipe(*, ctx):
        wake = threading.Event()
        ctx.on_cancel(wake.set)
        wake.wait(20.0)
        raise BrokenPipeError("worker process terminated")

    runner.submit("proc", broken_pipe, label="Process job")
    runner.cancel("proc")
    qtbot.waitUntil(lambda: runner.live_thread_count() == 0, timeout=2000)
    qtbot.wait(20)
    assert failed == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_job_raising_cancelled_by_itself_is_reported_cancelled(qtbot, runner):
    def gives_up(*, ctx):
        raise Cancelled()

    with qtbot.waitSignal(runner.job_cancelled, timeout=5000) as blocker:
        rid = runner.submit("quit", gives_up, label="Giving up")
    assert blocker.args == ["quit", rid]
    assert not runner.is_running("quit")


def test_gui_job_context_on_cancel(caplog):
    ctx = GuiJobContext()
    hits = []
    unregister = ctx.on_cancel(lambda: hits.append("a"))
    ctx.on_cancel(lambda: hits.append("b"))
    ctx.on_cancel(lambda: 1 / 0)  # logged, not raised
    unregister()
    with caplog.at_level(logging.ERROR, logger="latent_explorer"):
        ctx.cancel()
    assert hits == ["b"]
    assert "ZeroDivisionError" in caplog.text
    ctx.cancel()  # callbacks run once
    assert hits == ["b"]
    ctx.on_cancel(lambda: hits.append("late"))  # already cancelled: runs at once
    assert hits == ["b", "late"]
    with pytest.raises(Cancelled):
        ctx.check()


# ---------------------------------------------------------------- failures


def test_exception_becomes_job_failed_with_one_sentence_and_logged_traceback(qtbot, runner, caplog):
    def explode(*, ctx):
        ctx.progress(0.1, "about to fail")
        raise ValueError("codes have shape (3, 4), expected (n, 16)\nsecond line of detail")

    caplog.set_level(logging.ERROR, logger="latent_explorer")
    with qtbot.waitSignal(runner.job_failed, timeout=5000) as blocker:
        rid = runner.submit("kmeans", explode, label="k-means sweep")
    kind, got_id, message = blocker.args
    assert (kind, got_id) == ("kmeans", rid)
    assert message == (
        "k-means sweep failed: ValueError: codes have shape (3, 4), expected (n, 16) (details in the log file)"
    )
    assert "\n" not in message
    records = [r for r in caplog.records if r.name == "latent_explorer" and r.levelno == logging.ERROR]
    assert records and records[0].exc_info is not None
    assert "Traceback (most recent call last)" in caplog.text
    assert "in explode" in caplog.text and "second line of detail" in caplog.text
    assert not runner.is_running("kmeans")


def test_user_error_message_is_shown_as_is(qtbot, runner):
    def missing(*, ctx):
        raise UserError("dataset 'x.npz' has no array named 'images'; choose the array in the open dialog.")

    with qtbot.waitSignal(runner.job_failed, timeout=5000) as blocker:
        runner.submit("load", missing, label="Loading x.npz")
    assert blocker.args[2] == "dataset 'x.npz' has no array named 'images'; choose the array in the open dialog."


def test_checkpoint_error_message_is_shown_as_is():
    import models.checkpoint as checkpoint
    exc = checkpoint.CheckpointError("'m.pt' does not exist; check the path.")
    assert user_message("Loading m.pt", exc) == "'m.pt' does not exist; check the path."


def test_user_message_for_exception_without_text():
    assert user_message("Export", KeyError()) == "Export failed: KeyError (details in the log file)"


def test_on_done_raising_becomes_job_failed(qtbot, runner, caplog):
    def bad_view(result):
        raise RuntimeError("the panel was closed")

    finished = []
    runner.job_finished.connect(lambda *a: finished.append(a))
    caplog.set_level(logging.ERROR, logger="latent_explorer")
    with qtbot.waitSignal(runner.job_failed, timeout=5000) as blocker:
        runner.submit("show", lambda *, ctx: 1, label="Showing codes", on_done=bad_view)
    assert blocker.args[2] == "Showing codes failed: RuntimeError: the panel was closed (details in the log file)"
    assert finished == []
    assert "Traceback" in caplog.text


# ---------------------------------------------------------------- shutdown


def test_shutdown_during_running_jobs_is_prompt_and_leaves_no_threads(qtbot, qapp):
    runner = JobRunner()
    baseline = {t.ident for t in threading.enumerate()}
    started = threading.Event()

    def cooperative(*, ctx):
        started.set()
        return _loop_until_cancelled(ctx, step_s=0.01)

    def uninterruptible(*, ctx):
        wake = threading.Event()
        ctx.on_cancel(wake.set)
        wake.wait(30.0)
        return "done"

    gate = threading.Event()
    runner.submit("slow", cooperative, label="Slow")
    runner.submit("proc", uninterruptible, label="Process")
    runner.submit("old", lambda *, ctx: gate.wait(0.3), label="Superseded")  # stubborn for 0.3 s
    runner.submit("old", cooperative, label="Newer")  # supersedes the stubborn one
    assert started.wait(2.0)
    assert len(_job_threads()) == 4

    assert runner.shutdown(timeout_s=3.0) is True
    assert _job_threads() == []
    assert {t.ident for t in threading.enumerate()} <= baseline
    assert QThreadPool.globalInstance().activeThreadCount() == 0
    assert runner.live_thread_count() == 0
    assert runner.running_kinds() == []
    with pytest.raises(RuntimeError):
        runner.submit("slow", cooperative, label="Too late")
    QCoreApplication.processEvents()  # late reports of the stopped jobs are dropped quietly
    runner.deleteLater()


def test_shutdown_reports_a_job_that_ignores_cancel(qtbot, qapp, caplog):
    runner = JobRunner()
    release = threading.Event()
    runner.submit("deaf", lambda *, ctx: release.wait(5.0), label="Deaf job")
    caplog.set_level(logging.WARNING, logger="latent_explorer")
    assert runner.shutdown(timeout_s=0.1) is False  # True only if it had waited for the job
    assert "did not stop" in caplog.text
    assert all(t.daemon for t in _job_threads())  # never blocks interpreter exit
    release.set()
    for t in _job_threads():
        t.join(2.0)
    assert _job_threads() == []
    QCoreApplication.processEvents()
    runner.deleteLater()


# ---------------------------------------------------------------- status widget


@pytest.fixture
def window(qtbot, runner):
    win = QMainWindow()
    status = JobStatusWidget(runner)
    win.statusBar().addPermanentWidget(status)
    win.resize(900, 300)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win, status


def test_status_widget_shows_a_row_and_its_cancel_button_cancels(qtbot, runner, window):
    win, status = window
    assert not status.isVisible() and status.rows() == []
    stopped = {"event": threading.Event()}
    with qtbot.waitSignal(runner.job_progress, timeout=5000):
        rid = runner.submit("encode", _loop_until_cancelled, label="Encoding MNIST", step_s=0.005, stopped=stopped)
    qtbot.waitUntil(lambda: status.row(rid) is not None and status.row(rid).progress_bar.maximum() > 0, timeout=2000)
    row = status.row(rid)
    assert status.isVisible() and row.isVisible()
    assert row.label.text() == "Encoding MNIST"
    assert row.cancel_button.toolTip() == "Cancel Encoding MNIST"
    assert row.message_label.full_text().startswith("step ")
    assert "%" in row.progress_bar.text()

    with qtbot.waitSignal(runner.job_cancelled, timeout=1000) as blocker:
        qtbot.mouseClick(row.cancel_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["encode", rid]
    assert stopped["event"].wait(1.0)
    assert status.row(rid) is None and status.rows() == []
    assert not status.isVisible()


def test_status_widget_rows_vanish_when_jobs_end_and_failures_reach_the_status_bar(qtbot, runner, window):
    win, status = window
    gate = threading.Event()
    ok = runner.submit("a", lambda *, ctx: gate.wait(5.0), label="Job A")

    def fail(*, ctx):
        gate.wait(5.0)
        raise UserError("file 'z.npy' is empty; choose another file.")

    bad = runner.submit("b", fail, label="Job B")
    assert [r.request_id for r in status.rows()] == [ok, bad]
    assert [r.label.text() for r in status.rows()] == ["Job A", "Job B"]
    assert status.row(ok).progress_bar.maximum() == 0  # busy until the first report

    with qtbot.waitSignal(status.error_reported, timeout=5000) as blocker:
        gate.set()
    assert blocker.args == ["Job B", "file 'z.npy' is empty; choose another file."]
    qtbot.waitUntil(lambda: status.rows() == [], timeout=5000)
    assert win.statusBar().currentMessage() == "file 'z.npy' is empty; choose another file."
    assert not status.isVisible()


def test_status_widget_elides_long_messages(qtbot, runner, window):
    win, status = window
    release = threading.Event()

    def chatty(*, ctx):
        ctx.progress(0.25, "UMAP: " + "very long message " * 40)
        release.wait(5.0)

    rid = runner.submit("umap", chatty, label="UMAP")
    qtbot.waitUntil(lambda: status.row(rid) is not None and status.row(rid).progress_bar.value() == 250, timeout=2000)
    label = status.row(rid).message_label
    assert label.toolTip() == label.full_text() and len(label.full_text()) > 500
    assert label.text().endswith("…") and len(label.text()) < len(label.full_text())
    assert status.row(rid).progress_bar.text() == "25%"
    release.set()
