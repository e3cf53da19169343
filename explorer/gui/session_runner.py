"""Runs a Session's tasks on the GUI's job runner and hands their results back to the session."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QObject

from explorer.core.session import Session, Task
from explorer.gui.jobs import JobRunner

__all__ = ["SessionRunner"]


class SessionRunner(QObject):
    """Executes :class:`~explorer.core.session.Task` objects off the GUI thread.

    Each task runs as a :class:`JobRunner` job of its ``kind``; when it ends the session is
    told (:meth:`Session.task_ended`) and the work its result asks for
    (:meth:`Session.follow_up`) is submitted. The runner never decides anything from job
    names or UI text: everything it knows about a job is its :class:`Task`.

    Parameters
    ----------
    session : Session
    runner : JobRunner
    parent : QObject, optional

    Notes
    -----
    Errors reach the user through the job status widget (one sentence per failed job).
    """

    def __init__(self, session: Session, runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.runner = runner
        self._tasks: dict[int, Task] = {}
        self.closing = False
        self._submitting = 0
        session.dataset_changed.connect(self._on_dataset_changed)
        runner.job_finished.connect(self._on_finished)
        runner.job_failed.connect(self._on_failed)
        runner.job_cancelled.connect(self._on_cancelled)

    def submit(self, task: Task | None) -> int | None:
        """Start ``task`` (None: nothing); returns its request id (None once the window closes)."""
        if task is None or self.closing:
            return None
        m = self.session.state(task.model_key)
        old = m.busy.get(task.family) if m is not None else None
        if old is not None and old.kind != task.kind:
            self.runner.cancel(old.kind)  # one task per model and family (a local PCA after a remote UMAP)
        for other in self.session.models:  # one worker process per method: another model's job gives way
            running = other.busy.get(task.family)
            if other is not m and running is not None and running.kind == task.kind:
                self.runner.cancel(task.kind)
                asker = m.name if m is not None else "another model"
                self.session.set_status(other.key, f"{running.label} was stopped: one such job runs at a time and "
                                        f"{asker} asked for one; press Compute again to run it.")
        self.session.task_started(task)  # first: the job it supersedes ends inside submit()
        self._submitting += 1
        try:
            request = self.runner.submit(task.kind, task.fn, label=task.label, on_done=task.apply)
        finally:
            self._submitting -= 1
        self._tasks[request] = task
        return request

    def submit_all(self, tasks: Iterable[Task | None]) -> list[int | None]:
        """Start several tasks, then whatever the session needs next."""
        ids = [self.submit(t) for t in tasks]
        self.follow_up()
        return ids

    def follow_up(self) -> None:
        """Submit the tasks the session asks for now (after a result or a user action)."""
        for _ in range(4):  # a cached result applied at once may ask for more
            tasks = self.session.follow_up()
            if not tasks:
                return
            for t in tasks:
                self.submit(t)

    def submit_job(self, kind: str, fn: Callable, *, label: str, on_done: Callable[[Any], None] | None = None):
        """A plain job that is not the session's (a slider's KL scores, a marker placement)."""
        if self.closing:
            return None
        return self.runner.submit(kind, fn, label=label, on_done=on_done)

    def is_busy(self, family: str, key: str | None) -> bool:
        """True when model ``key`` has a running task of ``family``."""
        m = self.session.state(key)
        return m is not None and family in m.busy

    def _on_dataset_changed(self) -> None:
        """Work on the old dataset's codes is of no use any more: cancel it (new work starts at once)."""
        for m in self.session.models:
            for family, task in list(m.busy.items()):
                if family in ("encode", "invert", "projection", "kmeans", "sweep"):
                    self.runner.cancel(task.kind)

    def _end(self, request_id: int, outcome: str, message: str = "") -> None:
        task = self._tasks.pop(request_id, None)
        if task is not None:
            m = self.session.state(task.model_key)
            self.session.task_ended(task, outcome, message)
            if m is not None and self.session.state(m.key) is None:  # it closed the model (a cancelled opening)
                for other in list(m.busy.values()):  # nothing goes on for a model no longer in the list
                    self.runner.cancel(other.kind)
            if not self.closing and not self._submitting:
                self.follow_up()

    def _on_finished(self, kind: str, request_id: int, _result: object) -> None:
        self._end(request_id, "finished")

    def _on_failed(self, kind: str, request_id: int, message: str) -> None:
        self._end(request_id, "failed", message)

    def _on_cancelled(self, kind: str, request_id: int) -> None:
        self._end(request_id, "cancelled")
