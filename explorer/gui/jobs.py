"""Run long core functions off the GUI thread: one job per kind, progress, cancel, stale-result dropping."""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal, Slot

from explorer.core.jobs import Cancelled, JobContext
from explorer.errors import UserError
from explorer.logs import log

__all__ = ["GuiJobContext", "JobRunner", "user_message"]

#: Longest exception text quoted in a one-sentence failure message (characters).
_MAX_DETAIL = 200


class GuiJobContext(JobContext):
    """A :class:`~explorer.core.jobs.JobContext` that can also run cancel callbacks.

    A job whose work cannot check a flag between batches (a call into a worker
    process, a blocking read) registers ``ctx.on_cancel(callback)``; the callback
    runs once, in the thread that calls :meth:`cancel` (the GUI thread for the
    runner's cancels), or at once in the registering thread when the context was
    already cancelled.

    Parameters
    ----------
    on_progress : callable, optional
        ``on_progress(fraction, message)``, called from the job's thread.
    cancel_event : threading.Event, optional
        The flag :meth:`check` tests; a new one when omitted.

    Notes
    -----
    Registration and cancellation are guarded by a lock, so the two may happen in
    different threads. Exceptions raised by a callback are logged, never raised.
    """

    def __init__(
        self,
        on_progress: Callable[[float, str], None] | None = None,
        cancel_event: threading.Event | None = None,
    ) -> None:
        super().__init__(on_progress=on_progress, cancel_event=cancel_event)
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    def on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Run ``callback()`` when this context is cancelled.

        Parameters
        ----------
        callback : callable
            Takes no arguments; must be safe to call from another thread than
            the job's (typically: terminate a process, close a pipe, set an event).

        Returns
        -------
        callable
            Call it (no arguments) to unregister ``callback``, e.g. once the
            uninterruptible section is over.
        """
        with self._lock:
            run_now = self.cancel_event.is_set()
            if not run_now:
                self._callbacks.append(callback)
        if run_now:
            _call_quietly(callback)

        def unregister() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unregister

    def cancel(self) -> None:
        """Set the cancel flag, then run (once) every registered cancel callback."""
        with self._lock:
            self.cancel_event.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            _call_quietly(callback)


def _call_quietly(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception:  # noqa: BLE001 - logged; one failing callback must not stop the others
        log.exception("a job's cancel callback %r raised", callback)


def _user_error_types() -> tuple[type[BaseException], ...]:
    """Exception types whose text is already one sentence for the user.

    ``models`` imports torch, so it is looked up in ``sys.modules`` only: a model
    error can only have been raised if its module is loaded.
    """
    types: list[type[BaseException]] = [UserError]
    for module, name in (("models.base", "ModelFileError"), ("models.checkpoint", "CheckpointError")):
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type) and issubclass(cls, BaseException):
            types.append(cls)
    return tuple(types)


def user_message(label: str, exc: BaseException) -> str:
    """One sentence telling the user that job ``label`` failed because of ``exc``.

    Parameters
    ----------
    label : str
        The job's label as shown in the status bar, e.g. ``"UMAP of 70,000 codes"``.
    exc : BaseException
        What the job raised.

    Returns
    -------
    str
        ``str(exc)`` for :class:`explorer.errors.UserError` and the model-file
        errors (``models.checkpoint.CheckpointError`` and its siblings), whose
        text is written for users; otherwise
        ``"<label> failed: <ExceptionType>: <first line of message> (details in the log file)"``.
    """
    if isinstance(exc, _user_error_types()) and str(exc).strip():
        return str(exc).strip()
    text = str(exc).strip().splitlines()[0].strip() if str(exc).strip() else ""
    if len(text) > _MAX_DETAIL:
        text = text[: _MAX_DETAIL - 1] + "…"
    kind = type(exc).__name__
    detail = f"{kind}: {text}" if text else kind
    return f"{label} failed: {detail} (details in the log file)"


class _ProgressThrottle:
    """Forward at most one progress report per ``interval`` seconds (lives in one job's thread)."""

    def __init__(self, emit: Callable[[float, str], None], interval: float) -> None:
        self._emit = emit
        self._interval = interval
        self._last = -float("inf")

    def __call__(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            self._emit(fraction, message)


class _Relay(QObject):
    """Carries a worker thread's reports to the GUI thread (signals only; lives in the GUI thread)."""

    progress_reported = Signal(int, float, str)
    result_ready = Signal(int, object)
    failure_reported = Signal(int, str)
    cancel_reported = Signal(int)
    thread_ended = Signal(int)


@dataclass(eq=False)
class _Job:
    """Book-keeping of one request; touched by the GUI thread only."""

    request_id: int
    kind: str
    label: str
    ctx: GuiJobContext
    on_done: Callable[[Any], None] | None
    thread: threading.Thread = field(repr=False)


def _run_job(
    relay: _Relay,
    request_id: int,
    label: str,
    ctx: GuiJobContext,
    fn: Callable[..., Any],
    args: tuple,
    kwargs: dict,
) -> None:
    """Body of a worker thread: call ``fn``, report the outcome through ``relay``'s queued signals."""

    def emit(signal, *payload) -> None:
        try:
            signal.emit(*payload)
        except RuntimeError:  # the runner (and its relay) is gone: nobody is listening
            pass

    try:
        try:
            result = fn(*args, ctx=ctx, **kwargs)
        except Cancelled:
            emit(relay.cancel_reported, request_id)
        except BaseException as exc:  # noqa: BLE001 - a job must never kill its thread silently
            if ctx.cancelled:
                # Cancelling an uninterruptible job (terminated process, closed pipe)
                # often surfaces as an error: it is a cancel, not a failure.
                log.debug("job %r (request %d) raised after being cancelled", label, request_id, exc_info=True)
                emit(relay.cancel_reported, request_id)
            else:
                log.error("job %r (request %d) failed", label, request_id, exc_info=True)
                emit(relay.failure_reported, request_id, user_message(label, exc))
            del exc
        else:
            emit(relay.result_ready, request_id, result)
            del result
    finally:
        emit(relay.thread_ended, request_id)


class JobRunner(QObject):
    """Runs long core functions in worker threads; reports to the GUI thread through signals.

    Each job has a *kind* (``"encode"``, ``"projection"``, ``"kmeans-sweep"``...);
    at most one job per kind is current. Submitting a job of a kind that is
    running cancels the running one: it gets ``job_cancelled`` at once, and
    whatever it still produces is dropped because its request id is stale.

    Parameters
    ----------
    parent : QObject, optional
        Qt parent (typically the main window).
    progress_interval_s : float, default 0.05
        Minimum time between two ``job_progress`` signals of one job (seconds);
        the default allows at most 20 per second, so a fast loop reporting every
        item never floods the event loop. Reports in between are dropped.

    Signals
    -------
    job_started(kind: str, request_id: int, label: str)
    job_progress(kind: str, request_id: int, fraction: float, message: str)
        ``fraction`` in [0, 1].
    job_finished(kind: str, request_id: int, result: object)
    job_failed(kind: str, request_id: int, message: str)
        ``message`` is one sentence for the user; the traceback is in the log.
    job_cancelled(kind: str, request_id: int)
        Emitted when the request is cancelled or superseded (not when its thread
        ends: a function that checks its context seldom may run a little longer,
        and :meth:`shutdown` waits for it).

    Notes
    -----
    Every signal is emitted in the GUI thread (the runner's thread); only the job
    function runs in a worker thread. Each job gets its own Python
    ``threading.Thread`` (daemon, named ``job-<kind>-<id>``): unlike a
    ``QThreadPool`` thread, it leaves no ``_DummyThread`` behind in
    ``threading.enumerate()`` once it ends, and :meth:`shutdown` can join it.
    The worker touches nothing but its function, its arguments and its
    :class:`GuiJobContext`; pass the function snapshots (copies of arrays the GUI
    may change), not live GUI state.

    Examples
    --------
    >>> runner = JobRunner(window)                                    # doctest: +SKIP
    >>> rid = runner.submit("encode", encode_dataset, model, data,    # doctest: +SKIP
    ...                     label="Encoding MNIST", on_done=panel.set_codes)
    """

    job_started = Signal(str, int, str)
    job_progress = Signal(str, int, float, str)
    job_finished = Signal(str, int, object)
    job_failed = Signal(str, int, str)
    job_cancelled = Signal(str, int)

    def __init__(self, parent: QObject | None = None, *, progress_interval_s: float = 0.05) -> None:
        super().__init__(parent)
        self._progress_interval = float(progress_interval_s)
        self._ids = itertools.count(1)
        self._current: dict[str, _Job] = {}  # kind -> the job whose results count
        self._live: dict[int, _Job] = {}  # request id -> job whose thread has not ended
        self._closed = False
        self._relay = _Relay(self)
        queued = Qt.ConnectionType.QueuedConnection
        self._relay.progress_reported.connect(self._on_progress_reported, queued)
        self._relay.result_ready.connect(self._on_result_ready, queued)
        self._relay.failure_reported.connect(self._on_failure_reported, queued)
        self._relay.cancel_reported.connect(self._on_cancel_reported, queued)
        self._relay.thread_ended.connect(self._on_thread_ended, queued)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._on_about_to_quit)

    # ----------------------------------------------------------------- public API

    def submit(
        self,
        kind: str,
        fn: Callable[..., Any],
        *args: Any,
        label: str,
        on_done: Callable[[Any], None] | None = None,
        **kwargs: Any,
    ) -> int:
        """Start ``fn(*args, ctx=ctx, **kwargs)`` in a worker thread as the current job of ``kind``.

        Parameters
        ----------
        kind : str
            The job's kind; a running job of the same kind is cancelled first.
        fn : callable
            A pure function taking a keyword ``ctx`` (:class:`GuiJobContext`) on
            which it calls ``ctx.progress(fraction, message)`` / ``ctx.check()``
            between batches and may register ``ctx.on_cancel(callback)``.
        *args, **kwargs
            Passed to ``fn`` (``label`` and ``on_done`` are the runner's own).
        label : str
            What the user reads in the status bar and in error messages, e.g.
            ``"UMAP of 70,000 codes"``.
        on_done : callable, optional
            ``on_done(result)``, called in the GUI thread just before
            ``job_finished``, and only if this request is still current. If it
            raises, the job is reported as failed instead.

        Returns
        -------
        int
            The request id carried by every signal of this job (ids increase).

        Raises
        ------
        RuntimeError
            After :meth:`shutdown`.
        """
        if self._closed:
            raise RuntimeError("the job runner was shut down; no new jobs can start")
        self.cancel(kind)
        request_id = next(self._ids)
        relay = self._relay

        def report(fraction: float, message: str) -> None:
            # Runs in the worker thread, behind the throttle (which lives there too).
            try:
                relay.progress_reported.emit(request_id, fraction, message)
            except RuntimeError:  # the runner is gone
                pass

        ctx = GuiJobContext(on_progress=_ProgressThrottle(report, self._progress_interval))
        thread = threading.Thread(
            target=_run_job,
            args=(relay, request_id, label, ctx, fn, args, kwargs),
            name=f"job-{kind}-{request_id}",
            daemon=True,
        )
        job = _Job(request_id, kind, label, ctx, on_done, thread)
        self._current[kind] = job
        self._live[request_id] = job
        self.job_started.emit(kind, request_id, label)
        thread.start()
        return request_id

    def cancel(self, kind: str) -> bool:
        """Cancel the current job of ``kind``; emits ``job_cancelled`` at once.

        Returns
        -------
        bool
            True if a job of that kind was running.
        """
        job = self._current.pop(kind, None)
        if job is None:
            return False
        job.ctx.cancel()
        self.job_cancelled.emit(kind, job.request_id)
        return True

    def cancel_all(self) -> None:
        """Cancel every current job."""
        for kind in list(self._current):
            self.cancel(kind)

    def is_running(self, kind: str) -> bool:
        """True while a job of ``kind`` is current (submitted, not yet finished, failed or cancelled)."""
        return kind in self._current

    def current_request(self, kind: str) -> int | None:
        """The request id of the current job of ``kind``, or None."""
        job = self._current.get(kind)
        return None if job is None else job.request_id

    def running_kinds(self) -> list[str]:
        """Kinds with a current job, in submission order."""
        return list(self._current)

    def live_thread_count(self) -> int:
        """Worker threads still alive, including cancelled jobs that have not returned yet."""
        return sum(job.thread.is_alive() for job in self._live.values())

    def shutdown(self, timeout_s: float = 5.0) -> bool:
        """Cancel everything, wait for the worker threads to end, refuse new jobs.

        Call it from the main window's ``closeEvent``.

        Parameters
        ----------
        timeout_s : float, default 5.0
            Longest total wait (seconds) for all threads.

        Returns
        -------
        bool
            True if every worker thread ended in time. A thread still running
            after ``timeout_s`` (a function that neither checks its context nor
            registered a cancel callback) is a daemon thread: it is logged and
            abandoned, and does not keep the process alive.
        """
        self._closed = True
        for job in list(self._live.values()):
            job.ctx.cancel()  # also superseded jobs still winding down
        self.cancel_all()
        deadline = time.monotonic() + max(0.0, float(timeout_s))
        for request_id, job in list(self._live.items()):
            job.thread.join(max(0.0, deadline - time.monotonic()))
            if job.thread.is_alive():
                log.warning("job %r (request %d) did not stop within %.1f s of shutdown",
                            job.label, request_id, timeout_s)
            else:
                del self._live[request_id]
        return not self._live

    # ------------------------------------------------------------ worker reports

    def _current_job(self, request_id: int) -> _Job | None:
        job = self._live.get(request_id)
        if job is None or self._current.get(job.kind) is not job:
            return None
        return job

    @Slot(int, float, str)
    def _on_progress_reported(self, request_id: int, fraction: float, message: str) -> None:
        job = self._current_job(request_id)
        if job is not None:
            self.job_progress.emit(job.kind, request_id, fraction, message)

    @Slot(int, object)
    def _on_result_ready(self, request_id: int, result: object) -> None:
        job = self._current_job(request_id)
        if job is None:
            return  # stale: superseded or cancelled
        del self._current[job.kind]
        if job.on_done is not None:
            try:
                job.on_done(result)
            except Exception as exc:  # noqa: BLE001 - report, never crash the event loop
                log.error("showing the result of job %r (request %d) failed", job.label, request_id, exc_info=True)
                self.job_failed.emit(job.kind, request_id, user_message(job.label, exc))
                return
        self.job_finished.emit(job.kind, request_id, result)

    @Slot(int, str)
    def _on_failure_reported(self, request_id: int, message: str) -> None:
        job = self._current_job(request_id)
        if job is not None:
            del self._current[job.kind]
            self.job_failed.emit(job.kind, request_id, message)

    @Slot(int)
    def _on_cancel_reported(self, request_id: int) -> None:
        job = self._current_job(request_id)
        if job is not None:  # the function raised Cancelled by itself
            del self._current[job.kind]
            self.job_cancelled.emit(job.kind, request_id)

    @Slot(int)
    def _on_thread_ended(self, request_id: int) -> None:
        job = self._live.pop(request_id, None)
        if job is not None:
            job.thread.join()  # already returned: reaps it at once
            if self._current.get(job.kind) is job:  # ended without a report (cannot happen): unblock the kind
                del self._current[job.kind]
                self.job_cancelled.emit(job.kind, request_id)

    @Slot()
    def _on_about_to_quit(self) -> None:
        self.shutdown(timeout_s=2.0)
