"""Running a session's tasks: busy flags while a runner holds them, and running them here and now (CLI, tests)."""

from __future__ import annotations

from collections.abc import Iterable

from explorer.core.jobs import JobContext
from explorer.core.session.state import Task

__all__ = ["TaskRunning"]


class TaskRunning:
    """Methods of :class:`~explorer.core.session.Session` that start, end and run :class:`Task` s.

    A mixin: it uses ``state``, ``dataset``, ``_dataset_loading``, ``_set_status``, ``follow_up`` and the
    ``busy_changed`` / ``dataset_changed`` signals.
    """

    def task_started(self, task: Task) -> None:
        """A runner started ``task``: its model shows it as busy."""
        if task.family == "dataset":
            self._dataset_loading = task
        m = self.state(task.model_key)
        if m is not None:
            m.busy[task.family] = task
            self.busy_changed.emit(m.key, task.family, True)

    def task_ended(self, task: Task, outcome: str = "finished", message: str = "") -> None:
        """A runner's ``task`` ended: its model is no longer busy with it.

        Parameters
        ----------
        task : Task
        outcome : {"finished", "failed", "cancelled"}
        message : str
            For "failed": the sentence the user was shown (``task.on_failed`` gets it too).

        A cancelled cache look-up ("peek") queues the model's opening; a cancelled opening that no
        newer one replaced closes the model (it would otherwise stay "loading…").
        """
        if task.family == "dataset" and self._dataset_loading is task:
            self._dataset_loading = None
            if outcome != "finished" and self.dataset is None:
                self.dataset_changed.emit()  # views stop saying "Loading the dataset…"
        m = self.state(task.model_key)
        current = m is not None and m.busy.get(task.family) is task  # not superseded by a newer one
        if current:
            del m.busy[task.family]
            if task.family in ("projection", "invert", "encode") and outcome != "finished":
                self._set_status(m, "" if outcome == "cancelled" else message)
            self.busy_changed.emit(m.key, task.family, False)
        if outcome == "failed" and task.on_failed is not None:
            task.on_failed(message)
        if outcome == "cancelled" and task.family == "peek" and m is not None and m.entry is None:
            self._later.append(self._open_task(m))  # the cache look-up was given up, not the model: open it
        if outcome == "cancelled" and task.family == "open" and current and m.entry is None:
            self.remove_model(m.key)  # the opening was given up: the file leaves the list, as when it fails

    def run(self, task: Task | None, ctx: JobContext | None = None):
        """Run ``task`` here and now (CLI, tests): start, ``fn``, ``apply``, end.

        Parameters
        ----------
        task : Task or None
            None does nothing.
        ctx : JobContext, optional
            Progress and cancel (default: none).

        Returns
        -------
        object
            The task's result.

        Raises
        ------
        Exception
            Whatever ``task.fn`` raised (the task is ended as failed first).
        """
        if task is None:
            return None
        m = self.state(task.model_key)
        if m is None or m.busy.get(task.family) is not task:
            self.task_started(task)
        try:
            result = task.fn(ctx if ctx is not None else JobContext.none())
        except BaseException as exc:
            self.task_ended(task, "failed", str(exc))
            raise
        task.apply(result)
        self.task_ended(task, "finished")
        return result

    def run_all(self, tasks: Iterable[Task | None], context=None) -> None:
        """Run tasks one after the other, then the tasks their results ask for (:meth:`follow_up`).

        A task of a kind already waiting is not queued twice (as a runner keeps one job per kind).

        Parameters
        ----------
        tasks : iterable of Task or None
        context : callable, optional
            ``context(task) -> JobContext``: progress and cancel of each task (the CLI's progress line).

        Raises
        ------
        Exception
            The first failing task's error; ``exc.task`` is that task.
        """
        queue: list[Task] = []

        def push(more):
            for t in more:
                if t is not None and all(q.kind != t.kind for q in queue):
                    queue.append(t)
                    self.task_started(t)  # waiting counts as busy, as on a runner

        push(tasks)
        while queue:
            task = queue.pop(0)
            try:
                self.run(task, context(task) if context is not None else None)
            except Exception as exc:
                exc.task = task
                raise
            push(self.follow_up())

