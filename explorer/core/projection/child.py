"""The projection worker's child process: serves fit / transform / warm-up requests one at a time."""

from __future__ import annotations

import os
import queue
import signal
import threading
import time
import traceback
import warnings
from collections import OrderedDict
from typing import Any

import numpy as np

from explorer.core.jobs import Cancelled, JobContext

# explorer.core.projection.estimators (scikit-learn, ~1 s) is imported once the reader thread runs,
# so that a cancel sent while the process starts is acknowledged at once

__all__ = ["worker_main"]


def _warm_up_umap(transform: bool = True) -> None:
    """Fit a tiny UMAP so umap-learn's numba code for float32 Euclidean codes is loaded (or compiled).

    Goes the way every Euclidean fit goes (an exact k-NN graph given as ``precomputed_knn``,
    :class:`~explorer.core.projection.estimators.UMAPProjection`), with numba's disk cache
    on: after the first process ever it loads the compiled code (a few seconds, most of it
    importing umap-learn) instead of compiling it. With ``transform`` also its
    ``transform`` code (slider marker).
    """
    from explorer.core.projection.estimators import UMAPProjection

    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 8)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = UMAPProjection(n_neighbors=10, n_epochs=11, random_state=0).fit(x)
        if transform:
            model.transform(x[:3])


def _cheap_estimator(est: Any) -> Any:
    """The estimator to send back to the parent, or None when it is big (UMAP, t-SNE)."""
    from explorer.core.projection.estimators import IdentityProjection, PCAProjection

    return est if isinstance(est, (PCAProjection, IdentityProjection)) else None


def worker_main(conn, keep_models: int) -> None:  # pragma: no cover - runs in the child process
    """Entry point of the worker process: serve fit / transform / warm-up requests one at a time.

    A reader thread receives messages (so the parent never blocks on a send) and
    handles ``cancel`` at once: a queued job is acknowledged immediately, a running job
    gets its cancel flag set and stops at its next progress check. When the parent
    disappears the pipe closes and the process exits.
    """
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to the parent
    except (ValueError, OSError):
        pass
    send_lock = threading.Lock()
    state_lock = threading.Lock()
    jobs: queue.Queue = queue.Queue()
    cancelled: set[int] = set()
    running: list[int | None] = [None]
    job_event = threading.Event()

    def send(msg) -> None:
        with send_lock:
            conn.send(msg)

    def reader() -> None:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                os._exit(0)  # the parent is gone
            if msg[0] == "cancel":
                tok = msg[1]
                with state_lock:
                    cancelled.add(tok)
                    is_running = running[0] == tok
                    if is_running:
                        job_event.set()
                if not is_running:
                    send(("cancelled", tok))
            elif msg[0] == "stop":
                jobs.put(None)
                return
            else:
                jobs.put(msg)

    threading.Thread(target=reader, name="projection-worker-reader", daemon=True).start()
    models: OrderedDict[int, Any] = OrderedDict()
    send(("ready",))
    while True:
        msg = jobs.get()
        if msg is None:
            break
        kind, tok = msg[0], msg[1]
        with state_lock:
            if tok in cancelled:  # already acknowledged by the reader
                cancelled.discard(tok)
                continue
            running[0] = tok
            job_event.clear()
        last_sent = [0.0]

        def on_progress(fraction: float, message: str, _tok=tok, _last_sent=last_sent) -> None:
            now = time.monotonic()
            if fraction >= 1.0 or now - _last_sent[0] >= 0.1:
                _last_sent[0] = now
                send(("progress", _tok, fraction, message))

        ctx = JobContext(on_progress=on_progress, cancel_event=job_event)
        send(("started", tok))
        try:
            if kind == "fit":
                _, _, request_id, codes, spec = msg
                from explorer.core.projection.estimators import compute_projection

                proj = compute_projection(codes, spec, ctx)
                models[request_id] = proj.estimator
                models.move_to_end(request_id)
                while len(models) > keep_models:
                    models.popitem(last=False)
                payload = {"embedding": proj.embedding, "elapsed": proj.elapsed,
                           "estimator": _cheap_estimator(proj.estimator)}
            elif kind == "transform":
                _, _, request_id, points = msg
                if request_id not in models:
                    raise LookupError(
                        f"the projection worker holds no fitted model for request {request_id} "
                        "(it was replaced or the worker restarted); compute the projection again"
                    )
                payload = models[request_id].transform(points)
            elif kind == "warmup":
                _warm_up_umap(transform=msg[2])
                payload = None
            else:
                raise ValueError(f"unknown request {kind!r}")
            reply = ("result", tok, payload)
        except Cancelled:
            reply = ("cancelled", tok)
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            # plain strings only: the parent rebuilds a builtin exception from the name
            reply = ("error", tok, (type(exc).__name__, str(exc)), traceback.format_exc())
        with state_lock:
            running[0] = None
            cancelled.discard(tok)
        send(reply)
