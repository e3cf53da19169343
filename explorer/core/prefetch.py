"""Encode a model's dataset in a second process while the window starts: the cold start's codes without its GIL.

A cold start (no cached codes) needs ``import torch`` (~1.4 CPU s), the model and the
encoding (~1 CPU s for 10,000 images) before its first embedding can be painted, and the
window needs Qt, its own modules and scikit-learn (~2 CPU s). In one process these all hold
the one GIL, one after the other. `start_prefetch` runs the first half in a child process
(``python -m explorer.core.prefetch``) on the other core instead: the child reads the
dataset, encodes it with the model and puts the codes in the codes cache (the same
:func:`explorer.core.embedding.encode_cached` the window runs); the window's cache
look-up (:meth:`explorer.core.session.Session.open_model_tasks`) waits for the child and
finds them there, exactly as it finds the codes of a model it showed before.

The child says what it does in one line on its standard output (`PrefetchProcess.wait`),
after an ``encoding`` line when it found no codes and starts encoding
(`PrefetchProcess.when_encoding`: the window then imports scikit-learn for the first PCA,
which a start with cached codes and embedding does not need before its paint):

``skip``
    Nothing to do: the file is not a checkpoint whose encoder it can vouch for without
    torch (a GAN without encoder, an adapter, TorchScript, a file the loader would refuse),
    the dataset cannot be read, or the device is not there. The window opens the file itself
    and gives its one sentence where there is one.
``cached``
    The codes were in the cache already.
``encoded``
    The child encoded the dataset and wrote the codes to the cache.
``failed``
    Anything else went wrong (e.g. a read-only cache); the window encodes as usual.

The child encodes with one core fewer than the machine has, leaving one to the window; once
the window has nothing left to do but wait for the codes (`PrefetchProcess.window_busy` /
`window_done`, then `wait`), it writes ``idle`` to the child's standard input and the child
takes every core from its next batch on.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PREFETCH_ENV", "PrefetchProcess", "PrefetchRequest", "prefetch_codes", "start_prefetch", "main"]

#: Set to "0" to never start the child (the window then encodes in its own process, as before).
PREFETCH_ENV = "LATENT_EXPLORER_PREFETCH"

#: What the child may answer.
_STATES = ("skip", "cached", "encoded", "failed")

#: Suffixes of files whose identity or loading the child cannot vouch for without running them.
_NOT_PREFETCHED = (".py", ".ts", ".torchscript", ".jit", ".lxs")


@dataclass(frozen=True)
class PrefetchRequest:
    """What the window will open: one model on one dataset (as `Session.open_dataset` reads it).

    Attributes
    ----------
    model : pathlib.Path
        The checkpoint.
    data : str
        Dataset name or path (`explorer.data.load_dataset`).
    split : {"train", "test"} or None
        None reads every split.
    limit : int or None
        Seeded random subsample size.
    seed : int
        Subsample seed.
    resize : str or None
        Filter fitting the images to the model's input; None: the default
        (`explorer.data.DEFAULT_RESIZE`, as the window's first dataset).
    device : str
        A ``--device`` name (``auto``, ``cpu``, ``cuda[:N]``, ``mps``).
    """

    model: Path
    data: str
    split: str | None
    limit: int | None
    seed: int
    resize: str | None = None
    device: str = "cpu"

    def argv(self) -> list[str]:
        """The child's command line (``python -m explorer.core.prefetch …``)."""
        out = [sys.executable, "-m", "explorer.core.prefetch", str(self.model), "--data", self.data,
               "--seed", str(int(self.seed)), "--device", self.device]
        if self.resize is not None:
            out += ["--resize", self.resize]
        if self.split is not None:
            out += ["--split", self.split]
        if self.limit is not None:
            out += ["--limit", str(int(self.limit))]
        return out


def prefetch_codes(request: PrefetchRequest, cache=None, on_encoding=None, window_idle=None) -> str:
    """Encode ``request``'s dataset with its model into the codes cache, unless there is nothing to do.

    The cheap checks come first (the torch-free reading of the checkpoint, the dataset and
    the cache look-up: ~0.3 s), so that a start with cached codes costs the window's machine
    little; torch is imported only to encode. (Importing torch in a thread beside them was
    not measurably faster: the reading thread waits for the GIL the import holds.)

    Parameters
    ----------
    request : PrefetchRequest
    cache : explorer.core.embedding.CodesCache, optional
        Default: the user's codes cache (``LATENT_EXPLORER_CACHE`` moves it).
    on_encoding : callable, optional
        Called (no arguments) once the codes were not found and encoding starts.
    window_idle : threading.Event, optional
        Set once the window only waits: the encoding then uses every core (``os.cpu_count()``
        torch threads) from its next batch on, instead of one fewer.

    Returns
    -------
    {"skip", "cached", "encoded"}
        See the module's docstring. Never raises for a file or dataset it cannot use
        ("skip"): the window opens them itself and says why.
    """
    from explorer.core.embedding import CodesCache, codes_cache_key
    from explorer.core.projection.cache import file_sha256
    from explorer.core.workspace import dataset_identity
    from explorer.data import DEFAULT_RESIZE, load_dataset
    from models.checkpoint_reader import describe_checkpoint

    path = Path(request.model)
    if path.suffix.lower() in _NOT_PREFETCHED:
        return "skip"
    info = describe_checkpoint(path)  # None: only torch's loader can say (and it will, in the window)
    if info is None or not info.get("has_encoder"):
        return "skip"
    try:
        dataset = load_dataset(request.data, split=request.split, limit=request.limit, seed=request.seed,
                               resize=request.resize or DEFAULT_RESIZE)
    except (OSError, ValueError):  # the window reads it again and gives its sentence
        return "skip"
    dataset_id = dataset_identity(dataset)
    cache = cache if cache is not None else CodesCache()
    hit = cache.get(codes_cache_key(file_sha256(path), dataset_id, "encoder", 0), n=len(dataset))
    if hit is not None and hit[0].shape[1] == info["latent_dim"]:
        return "cached"
    if on_encoding is not None:
        on_encoding()
    import torch  # imported here, after the cheap checks: ~1.4 s

    # One core stays the window's (Qt, scikit-learn, the dataset) until it says it is idle. On 2 cores, cold starts
    # (interleaved runs) took 3.74 s (median of 5) with one encoding thread against 4.20 s with two, which wait for
    # each other beside the window; and 3.34 s against 3.59 s (median of 6) with the switch to two once it is idle.
    cores = os.cpu_count() or 2
    torch.set_num_threads(max(1, cores - 1))
    from explorer.core.device import DeviceError, resolve_device
    from explorer.core.embedding import encode_cached
    from explorer.core.jobs import JobContext
    from explorer.core.workspace import open_model
    from models.base import ModelFileError

    try:
        entry = open_model(path, resolve_device(request.device))
    except (DeviceError, ModelFileError):
        return "skip"

    def between_batches(_fraction, _message):
        if window_idle is not None and window_idle.is_set() and torch.get_num_threads() < cores:
            torch.set_num_threads(cores)

    encode_cached(entry, dataset, dataset_id, cache=cache, ctx=JobContext(between_batches))
    if cache.get(codes_cache_key(entry.file_hash, dataset_id, "encoder", 0), n=len(dataset)) is None:
        return "failed"  # not written (read-only cache): the window must encode itself
    return "encoded"


class PrefetchProcess:
    """The running child of one `PrefetchRequest` (`start_prefetch`); `wait` gives its answer.

    Parameters
    ----------
    request : PrefetchRequest
    process : subprocess.Popen
        Started with a pipe on its standard output.
    """

    def __init__(self, request: PrefetchRequest, process: subprocess.Popen) -> None:
        self.request, self.process = request, process
        self.started = time.monotonic()
        self._lines: queue.Queue[str] = queue.Queue()
        self._answer: str | None = None
        self._on_encoding: list = []
        self._encoding = False
        self._lock = threading.Lock()
        self._window_busy: set[str] = set()
        self._waiting = self._told_idle = False
        # a thread reads the pipe (portable: no select() on pipes on Windows)
        threading.Thread(target=self._read, name="prefetch-pipe", daemon=True).start()

    def _read(self) -> None:
        try:
            for line in self.process.stdout:
                if line.strip() == "encoding":
                    with self._lock:
                        self._encoding, callbacks = True, list(self._on_encoding)
                    for fn in callbacks:
                        fn()
                    continue
                self._lines.put(line.strip())
        except (OSError, ValueError):
            pass
        self._lines.put("")  # end of output
        try:  # reap the child (it exits right after its answer) and close the pipe
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        with self._lock:
            if self.process.stdin is not None:
                self.process.stdin.close()

    def when_encoding(self, fn) -> None:
        """Call ``fn()`` when the child says it starts encoding (at once if it has said so already).

        ``fn`` runs in the thread reading the child's output (or the caller's): keep it short,
        e.g. start a thread.
        """
        with self._lock:
            now = self._encoding
            if not now:
                self._on_encoding.append(fn)
        if now:
            fn()

    def window_busy(self, what: str) -> None:
        """The window still does ``what`` (e.g. importing scikit-learn): the child keeps one core free for it."""
        with self._lock:
            self._window_busy.add(what)

    def window_done(self, what: str) -> None:
        """The window has done ``what``; once nothing is left and it waits, the child may use every core."""
        with self._lock:
            self._window_busy.discard(what)
        self._tell_idle()

    def _tell_idle(self) -> None:
        with self._lock:
            if not self._waiting or self._window_busy or self._told_idle or self.process.stdin is None:
                return
            self._told_idle = True
            try:
                self.process.stdin.write("idle\n")
                self.process.stdin.flush()
            except (OSError, ValueError):  # the child has ended (or its pipe is closed): nothing to tell
                pass

    def wait(self, check=None, timeout_s: float = 600.0) -> str:
        """The child's answer, waiting for it (cancellable); tells the child the window is idle (`window_busy`).

        Parameters
        ----------
        check : callable, optional
            Called every 20 ms (e.g. ``JobContext.check``, which raises to cancel; the child
            is then stopped).
        timeout_s : float
            Seconds after which the child is stopped and "failed" returned.

        Returns
        -------
        {"skip", "cached", "encoded", "failed"}
            "failed" also when the child ended without an answer (it crashed or was killed).
        """
        with self._lock:
            self._waiting = True
        self._tell_idle()
        while self._answer is None:
            try:
                line = self._lines.get(timeout=0.02)
            except queue.Empty:
                if check is not None:
                    try:
                        check()
                    except BaseException:
                        self.stop()
                        raise
                if time.monotonic() - self.started > timeout_s:
                    self.stop()
                    self._answer = "failed"
                continue
            if line in _STATES:
                self._answer = line
            elif line == "":
                self._answer = "failed"
        return self._answer

    @property
    def answer(self) -> str | None:
        """The child's answer once `wait` has returned it, else None."""
        return self._answer

    def stop(self) -> None:
        """Stop the child if it still runs (e.g. the window closed first)."""
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def start_prefetch(request: PrefetchRequest) -> PrefetchProcess | None:
    """Start the child that encodes ``request``'s dataset into the codes cache; None when it is not worth it.

    Not started for files whose loading or identity needs the file to run (adapters,
    TorchScript, session files), for a missing file, or when ``LATENT_EXPLORER_PREFETCH=0``.
    The child inherits the environment (so the same cache folder) and runs at the same
    priority.

    Parameters
    ----------
    request : PrefetchRequest

    Returns
    -------
    PrefetchProcess or None
    """
    if os.environ.get(PREFETCH_ENV, "1") == "0":
        return None
    path = Path(request.model)
    if path.suffix.lower() in _NOT_PREFETCHED or not path.is_file():
        return None
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])  # the checkout this code runs from, before any other install
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    try:
        process = subprocess.Popen(request.argv(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                   stdin=subprocess.PIPE, text=True, env=env)
    except OSError:
        return None
    return PrefetchProcess(request, process)


def main(argv: list[str] | None = None) -> int:
    """``python -m explorer.core.prefetch MODEL --data D [--split S] [--limit N] --seed K --resize F --device X``.

    Prints one of "skip", "cached", "encoded", "failed" (after "encoding" when it encodes) and
    exits 0 ("failed": 1). Errors are
    never printed as a traceback: the window that started it opens the file itself.
    """
    import argparse
    import gc

    gc.disable()  # a short-lived process: importing torch would otherwise spend ~0.2 s in collections
    parser = argparse.ArgumentParser(prog="python -m explorer.core.prefetch")
    parser.add_argument("model")
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default=None)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resize", default=None)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    request = PrefetchRequest(Path(args.model), args.data, args.split, args.limit, args.seed, args.resize,
                              args.device)
    idle = threading.Event()

    def listen() -> None:  # the window writes "idle" when it only waits for the codes
        for line in sys.stdin:
            if line.strip() == "idle":
                idle.set()

    threading.Thread(target=listen, name="prefetch-stdin", daemon=True).start()
    try:
        answer = prefetch_codes(request, on_encoding=lambda: print("encoding", flush=True), window_idle=idle)
    except Exception:  # noqa: BLE001 - the window encodes itself and reports any real problem in one sentence
        answer = "failed"
    print(answer, flush=True)
    return 1 if answer == "failed" else 0


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    os._exit(status)  # not the interpreter's teardown of torch (~0.3 CPU s) beside the window's first paint
