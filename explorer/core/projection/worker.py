"""The projection worker: a process that runs UMAP / t-SNE fits and transforms so they can be cancelled."""

from __future__ import annotations

import builtins
import itertools
import logging
import multiprocessing
import threading
import time
import weakref

import numpy as np

from explorer.core.jobs import Cancelled, JobContext
from explorer.core.projection.child import worker_main
from explorer.core.projection.estimators import NearestNeighbourPlacement, Projection
from explorer.core.projection.spec import ProjectionSpec, check_codes

log = logging.getLogger(__name__)

__all__ = ["ProjectionWorker", "ProjectionWorkerBusy", "ProjectionWorkerDied"]


class ProjectionWorkerBusy(RuntimeError):
    """The projection worker is busy with a fit or its warm-up; try again later."""


class ProjectionWorkerDied(RuntimeError):
    """The projection worker process exited unexpectedly (e.g. out of memory)."""


class _Handles:
    """The worker's process and pipe, shared with the finaliser that shuts them down."""

    def __init__(self) -> None:
        self.proc = None
        self.conn = None

    def shutdown(self, timeout: float = 1.0) -> None:
        """Ask the process to stop, terminate it if it does not, join it, close the pipe."""
        proc, conn = self.proc, self.conn
        self.proc = self.conn = None
        if proc is not None:
            if proc.is_alive() and conn is not None:
                try:
                    conn.send(("stop",))
                except (OSError, ValueError):
                    pass
                proc.join(timeout)
            if proc.is_alive():
                proc.terminate()
                proc.join(2.0)
            if proc.is_alive():
                proc.kill()
                proc.join()
            try:
                proc.close()
            except ValueError:
                pass
        if conn is not None:
            conn.close()


class _RemoteTransform:
    """Callable placing points through a worker's kept model (weak reference to the worker)."""

    def __init__(self, worker: ProjectionWorker, request_id: int):
        self._worker = weakref.ref(worker)
        self._request_id = request_id

    def __call__(self, points) -> np.ndarray:
        worker = self._worker()
        if worker is None:
            raise RuntimeError("the projection worker that made this embedding is gone")
        return worker.transform(self._request_id, points)


class ProjectionWorker:
    """A long-lived process that computes projections, so UMAP / t-SNE can be cancelled.

    umap-learn and openTSNE spend most of their time in numba / C loops that a thread
    cannot interrupt, and umap-learn loads (or, the first time ever, compiles) its numba
    code once per process.
    This class keeps one ``spawn``-ed process (never ``fork``: the GUI process runs Qt
    threads) that holds numba compiled and the fitted models, and talks to it over a pipe.

    Parameters
    ----------
    cancel_grace : float
        Seconds a cancelled fit may take to stop by itself (UMAP stops between epochs,
        t-SNE every 10 iterations) before the process is terminated. Stopping by itself
        keeps numba compiled; termination costs the next UMAP the compile again. 0 means
        terminate at once.
    keep_models : int
        Fitted models the worker keeps for :meth:`transform` (most recent first).
    poll_interval : float
        Seconds between checks of ``ctx`` while waiting for the worker.

    Notes
    -----
    *Jobs.* :meth:`run` blocks (call it from a job thread) and has the job signature
    ``(codes, spec, ctx)``; the worker does one fit at a time. A newer :meth:`run`
    supersedes the running one, which raises :class:`~explorer.core.jobs.Cancelled`.
    Results carry their ``request_id``.

    *Shutdown.* The process is a daemon (ended when the parent exits normally), exits by
    itself when the pipe to the parent closes (parent crashed), and :meth:`close` ends
    it explicitly (join, no zombie). After a termination a fresh process is started
    lazily by the next request.

    Examples
    --------
    >>> worker = ProjectionWorker()
    >>> worker.warm_up()                                  # compile numba in the background
    >>> proj = worker.run(codes, ProjectionSpec("umap"), ctx)      # in a job thread
    >>> worker.transform(proj.request_id, codes[:1])      # slider marker, ~15 ms
    >>> worker.close()
    """

    def __init__(self, *, cancel_grace: float = 1.0, keep_models: int = 3, poll_interval: float = 0.05):
        self.cancel_grace = float(cancel_grace)
        self.keep_models = int(keep_models)
        self.poll_interval = float(poll_interval)
        self._mp = multiprocessing.get_context("spawn")
        self._handles = _Handles()
        self._finalizer = weakref.finalize(self, self._handles.shutdown)
        self._proc_lock = threading.RLock()
        self._job_lock = threading.Lock()  # one receiver on the pipe at a time
        self._state_lock = threading.Lock()
        self._send_lock = threading.Lock()  # Connection.send is not thread-safe
        self._tokens = itertools.count(1)
        self._request_ids = itertools.count(1)
        self._latest: int | None = None
        self._cancel_ids: set[int] = set()
        self._closed = False
        self._warming: int | None = None  # token of the warm-up in flight
        self._warmed = False  # the warm-up finished in the current process
        self._umap_used = False  # a UMAP fit finished in the current process
        self.restarts = 0  #: processes started so far (1 after the first request)

    # -- process management ---------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """Process id of the worker, or None when no process is running."""
        proc = self._handles.proc
        return proc.pid if proc is not None else None

    def is_alive(self) -> bool:
        """True when the worker process is running."""
        proc = self._handles.proc
        return proc is not None and proc.is_alive()

    @property
    def is_warm(self) -> bool:
        """True once :meth:`warm_up` finished in the current process (numba compiled; False again after a restart)."""
        if self._warming is not None and self._job_lock.acquire(blocking=False):
            try:
                self._drain()
            finally:
                self._job_lock.release()
        return self._warmed

    def start(self) -> None:
        """Start the worker process if it is not running (requests do this lazily)."""
        if self._closed:
            raise RuntimeError("the projection worker is closed")
        with self._proc_lock:
            if self.is_alive():
                return
            self._handles.shutdown(0.0)
            parent_conn, child_conn = self._mp.Pipe(duplex=True)
            proc = self._mp.Process(
                target=worker_main,
                args=(child_conn, self.keep_models),
                name="latent-explorer-projection",
                daemon=True,
            )
            proc.start()
            child_conn.close()
            self._handles.proc, self._handles.conn = proc, parent_conn
            self._warming = None
            self._warmed = self._umap_used = False
            self.restarts += 1

    def _terminate(self) -> None:
        """End the process now (terminate, join) and forget its state."""
        with self._proc_lock:
            proc, conn = self._handles.proc, self._handles.conn
            self._handles.proc = self._handles.conn = None
            if proc is not None:
                proc.terminate()
                proc.join(2.0)
                if proc.is_alive():
                    proc.kill()
                    proc.join()
                proc.close()
            if conn is not None:
                conn.close()
            self._warming = None
            self._warmed = self._umap_used = False

    def close(self, timeout: float = 1.0) -> None:
        """Stop the worker: a running job raises Cancelled; the process is ended and joined.

        Safe to call twice and from any thread. ``timeout`` is how long the process may take
        to stop by itself before it is terminated.
        """
        self._closed = True
        acquired = self._job_lock.acquire(timeout=max(5 * self.poll_interval, 0.5))
        try:
            with self._proc_lock:
                self._handles.shutdown(timeout if acquired else 0.0)
                self._warming = None
                self._warmed = self._umap_used = False
        finally:
            if acquired:
                self._job_lock.release()

    def __enter__(self) -> ProjectionWorker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- messaging ------------------------------------------------------------------

    def _send(self, msg) -> None:
        conn = self._handles.conn
        if conn is None:
            raise ProjectionWorkerDied("the projection worker is not running")
        try:
            with self._send_lock:
                conn.send(msg)
        except (OSError, ValueError) as exc:
            self._terminate()
            raise ProjectionWorkerDied("the projection worker exited unexpectedly; the request was not sent") from exc

    def _recv(self, timeout: float):
        """One message or None after ``timeout`` s; raise on a dead worker (Cancelled when closing)."""
        conn = self._handles.conn
        try:
            if conn is None or not conn.poll(timeout):
                if conn is None or not self.is_alive():
                    raise EOFError
                return None
            return conn.recv()
        except (EOFError, OSError, ValueError):
            if self._closed:
                raise Cancelled() from None
            proc = self._handles.proc
            if proc is not None:
                proc.join(0.5)
            code = proc.exitcode if proc is not None else None
            self._terminate()
            raise ProjectionWorkerDied(f"the projection worker exited unexpectedly (exit code {code})") from None

    def _bookkeep(self, msg) -> bool:
        """Handle messages about the warm-up; True when ``msg`` was one of them."""
        if (len(msg) > 1 and msg[1] is not None and msg[1] == self._warming
                and msg[0] in ("result", "error", "cancelled")):
            self._warming = None
            if msg[0] == "result":
                self._warmed = True
            else:
                log.warning("projection worker warm-up failed: %s", msg[2] if len(msg) > 2 else msg[0])
            return True
        return msg[0] == "ready"

    def _drain(self) -> None:
        """Read pending messages without waiting (caller holds the job lock)."""
        while True:
            try:
                msg = self._recv(0.0)
            except (ProjectionWorkerDied, Cancelled):
                return
            if msg is None:
                return
            self._bookkeep(msg)

    def _is_stale(self, request_id: int | None) -> bool:
        if self._closed:
            return True
        if request_id is None:
            return False
        with self._state_lock:
            return request_id in self._cancel_ids or self._latest != request_id

    def _await(self, tok: int, ctx: JobContext, request_id: int | None, deadline: float | None):
        """Wait for the final message of ``tok``, forwarding its progress to ``ctx``.

        Raises Cancelled (ctx cancelled, superseded or closing) and TimeoutError; the
        caller then aborts the job.
        """
        while True:
            if self._is_stale(request_id) or ctx.cancelled:
                raise Cancelled()
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError("the projection worker did not answer in time")
            msg = self._recv(self.poll_interval)
            if msg is None or self._bookkeep(msg) or msg[1] != tok:
                continue  # nothing yet, bookkeeping, or a stale job's message
            if msg[0] == "progress":
                ctx.progress(msg[2], msg[3])
            elif msg[0] == "started":
                continue
            else:
                return msg

    def _abort(self, tok: int) -> None:
        """Cancel job ``tok``: let it stop by itself within ``cancel_grace`` s, else terminate."""
        if self._closed or self.cancel_grace <= 0 or not self.is_alive():
            self._terminate()
            return
        try:
            self._send(("cancel", tok))
        except ProjectionWorkerDied:
            return
        deadline = time.monotonic() + self.cancel_grace
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                msg = self._recv(min(remaining, self.poll_interval))
            except (ProjectionWorkerDied, Cancelled):
                return
            if msg is None or self._bookkeep(msg):
                continue
            if msg[1] == tok and msg[0] in ("cancelled", "result", "error"):
                return  # stopped by itself: the process (and compiled numba) stays
        log.info("projection job did not stop within %.1f s; terminating the worker", self.cancel_grace)
        self._terminate()

    @staticmethod
    def _raise_remote(msg) -> None:
        (name, text), tb = msg[2], msg[3]
        cls = getattr(builtins, name, None)
        if isinstance(cls, type) and issubclass(cls, Exception):
            exc = cls(text)
        else:
            exc = RuntimeError(f"{name}: {text}")
        exc.add_note("raised in the projection worker:\n" + tb)
        raise exc

    # -- requests -------------------------------------------------------------------

    def warm_up(self, wait: bool = False, transform: bool = True, timeout: float | None = None) -> None:
        """Load umap-learn's numba code in the worker from numba's disk cache (compile it the first time ever).

        Parameters
        ----------
        wait : bool
            Block until the warm-up is done (default: return at once; requests sent
            meanwhile wait behind it and report that they do).
        transform : bool
            Also compile ``UMAP.transform`` (slider marker).
        timeout : float, optional
            With ``wait``: seconds to wait at most (TimeoutError after that; the warm-up goes on).

        Notes
        -----
        Compiles the float32 Euclidean code; other metrics compile on their first use.
        """
        self.start()
        with self._state_lock:
            if self._warmed or self._warming is not None:
                pending = self._warming
            else:
                pending = self._warming = next(self._tokens)
                self._send(("warmup", pending, bool(transform)))
        if not wait or pending is None:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._job_lock:
            while self._warming == pending:
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError("the projection worker's warm-up is still running")
                msg = self._recv(self.poll_interval)
                if msg is not None:
                    self._bookkeep(msg)

    def cancel(self, request_id: int | None = None) -> None:
        """Cancel request ``request_id`` (default: the latest); its :meth:`run` raises Cancelled."""
        with self._state_lock:
            rid = self._latest if request_id is None else request_id
            if rid is not None:
                self._cancel_ids.add(rid)

    def run(
        self,
        codes,
        spec: ProjectionSpec,
        ctx: JobContext | None = None,
        request_id: int | None = None,
        timeout: float | None = None,
    ) -> Projection:
        """Compute a projection in the worker; block until it is done (call from a job thread).

        Parameters
        ----------
        codes : numpy.ndarray
            (N, d) latent codes (sent to the worker as float32).
        spec : ProjectionSpec
            Method, parameters, seed.
        ctx : JobContext, optional
            Receives the worker's progress (fraction in [0, 1], message); cancelling it
            cancels the job.
        request_id : int, optional
            Id carried by the result (default: a fresh number). A newer ``run`` cancels
            an older one still running.
        timeout : float, optional
            Seconds before TimeoutError (the job is cancelled then).

        Returns
        -------
        Projection
            ``embedding`` (N, 2) float32, ``request_id``, ``elapsed`` (s of the fit, in
            the worker), ``waited`` (s from this call to the result: waiting for the
            worker, its start-up or warm-up, the fit and the transfer) and whatever can
            place new points (see :class:`Projection`).

        Raises
        ------
        explorer.core.jobs.Cancelled
            ``ctx`` was cancelled, :meth:`cancel` was called, a newer request superseded
            this one, or the worker was closed. Raised within ``cancel_grace`` seconds
            (plus the time to join a terminated process).
        ValueError
            Bad codes for the method (raised in the worker, re-raised here).
        ProjectionWorkerDied
            The process exited unexpectedly; the next request starts a new one.
        TimeoutError
            ``timeout`` passed.
        """
        if self._closed:
            raise RuntimeError("the projection worker is closed")
        t_called = time.monotonic()
        ctx = ctx or JobContext.none()
        codes = check_codes(codes)
        rid = next(self._request_ids) if request_id is None else int(request_id)
        with self._state_lock:
            self._latest = rid
            self._cancel_ids.discard(rid)
        with self._job_lock:  # a stale run gives up within poll_interval + cancel_grace
            ctx.check()
            if self._is_stale(rid):
                raise Cancelled()
            self.start()
            if spec.method == "umap" and not (self._warmed or self._umap_used):
                ctx.progress(0.0, "UMAP: loading umap-learn in the worker (first UMAP in a process)")
            elif self._warming is not None:
                ctx.progress(0.0, "waiting for the projection worker's warm-up")
            tok = next(self._tokens)
            deadline = None if timeout is None else time.monotonic() + timeout
            self._send(("fit", tok, rid, codes, spec))
            try:
                msg = self._await(tok, ctx, rid, deadline)
            except (Cancelled, TimeoutError):
                self._abort(tok)
                raise
            finally:
                with self._state_lock:
                    self._cancel_ids.discard(rid)
            if msg[0] == "cancelled":
                raise Cancelled()
            if msg[0] == "error":
                self._raise_remote(msg)
            payload = msg[2]
            if spec.method == "umap":
                self._umap_used = True
        embedding = payload["embedding"]
        estimator = payload["estimator"]
        remote = None
        if spec.method == "tsne":
            estimator = NearestNeighbourPlacement(codes, embedding, metric=spec.params["metric"])
        elif estimator is None:
            remote = _RemoteTransform(self, rid)
        return Projection(embedding=embedding, spec=spec, estimator=estimator, request_id=rid,
                          elapsed=payload["elapsed"], waited=time.monotonic() - t_called, _remote=remote)

    def transform(self, request_id: int, points, timeout: float | None = None) -> np.ndarray:
        """Place new codes on the embedding of fit ``request_id`` with the model the worker kept.

        Blocks until the answer: 15–60 ms for a few points once numba is compiled, but
        the first UMAP transform in a process compiles first (1–40 s depending on what
        was compiled before) unless ``warm_up(transform=True)`` has finished
        (:attr:`is_warm`). Call it from a job thread, or from the GUI thread only when
        :attr:`is_warm`.

        Parameters
        ----------
        request_id : int
            ``Projection.request_id`` of a fit done by this worker (one of the last
            ``keep_models``).
        points : numpy.ndarray
            (M, d) float codes.
        timeout : float, optional
            Seconds to wait for the answer (TimeoutError after that; the request is
            then cancelled, which can terminate a worker that is compiling).

        Returns
        -------
        numpy.ndarray
            (M, 2) float32 (how: see ``Projection.transform_kind``; ~15 ms for a few
            points with a warm UMAP).

        Raises
        ------
        ProjectionWorkerBusy
            A fit or the warm-up is running: never queues behind it (the caller can
            place the point by :class:`NearestNeighbourPlacement` meanwhile).
        LookupError
            The worker holds no model for ``request_id`` (evicted, or the process restarted).
        TimeoutError
            No answer within ``timeout``.
        """
        points = check_codes(points, "points")
        if not self._job_lock.acquire(blocking=False):
            raise ProjectionWorkerBusy("the projection worker is busy with a fit")
        try:
            if not self.is_alive():
                raise LookupError(
                    f"the projection worker holds no fitted model for request {request_id} (it is not running)"
                )
            self._drain()
            if self._warming is not None:
                raise ProjectionWorkerBusy("the projection worker is warming up")
            tok = next(self._tokens)
            self._send(("transform", tok, int(request_id), points))
            try:
                deadline = None if timeout is None else time.monotonic() + timeout
                msg = self._await(tok, JobContext.none(), None, deadline)
            except (Cancelled, TimeoutError):
                self._abort(tok)
                raise
            if msg[0] == "error":
                self._raise_remote(msg)
            if msg[0] == "cancelled":
                raise Cancelled()
            return msg[2]
        finally:
            self._job_lock.release()
