"""Encode a model's dataset in a second process while the window starts: the cold start's codes without its GIL.

A cold start (no cached codes) needs ``import torch`` (~1.4 CPU s), the model and the
encoding (~0.6 CPU s for 10,000 images) before its first embedding can be painted, and the
window needs Qt, pyqtgraph, its own modules and scikit-learn (~3 CPU s). In one process these all hold
the one GIL, one after the other. `start_prefetch` runs the first half in a child process
(``python -P -m explorer.core.prefetch``) on the other core instead: the child reads the
dataset, encodes it with the model and puts the codes in the codes cache (the same
:func:`explorer.core.embedding.encode_cached` the window runs); the window's cache
look-up (:meth:`explorer.core.session.Session.open_model_tasks`) waits for the child and
finds them there, as it finds the codes of a model it showed before.

The child encodes with one core fewer than the machine has (at least one), leaving one to the
window; the window encoding in its own process uses torch's default (every core). Codes
computed with different numbers of threads agree to float32 rounding, not bit for bit
(measured on the demo VAE's 10,000 test codes, |z| ≤ 4.7: one against two threads at most
1.4e-6 apart; batches of 256 against 500 equal); whichever was computed first is cached and
used from then on, so the numbers of a machine's later starts do not change.

When the cache holds no codes of the model file at all (a first start, a new checkpoint), the
encoding is certain: the child says so and imports torch at once, before it reads the dataset.
When the codes are cached but their first embedding (PCA, or the identity for d = 2) is not,
the child computes it into the projection cache (`first_embedding`), so that the window paints
as on any later start, without importing scikit-learn (~1.4 CPU s) first. When the child
encodes, the window's cache look-up imports scikit-learn's PCA on the window's core while it
waits (`PrefetchProcess.wait`'s ``on_encoding``), and computes the first embedding itself.

The child says what it does in one line on its standard output (`PrefetchProcess.wait`),
after an ``encoding`` line once it will encode (the codes are not cached; only an unreadable
dataset, too little memory or a missing device can still make it answer ``skip``):

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

While it encodes it writes ``progress F`` lines (F the fraction done, in [0, 1]), which the
window's job line shows, and ``note S`` lines for what went wrong without a traceback (S one
sentence: the window writes it to its log, `PrefetchProcess.notes`). It ends when its standard
input closes: a window that crashed or was killed leaves no child encoding on.
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

__all__ = ["PREFETCH_ENV", "PrefetchProcess", "PrefetchRequest", "prefetch_codes", "start_prefetch", "main", "parser",
           "request_from_args", "WINDOW_ENDED"]

#: Set to "0" to never start the child (the window then encodes in its own process, as before).
PREFETCH_ENV = "LATENT_EXPLORER_PREFETCH"

#: The child's exit status when its window ended (its standard input closed) before it did.
WINDOW_ENDED = 2

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
        """The child's command line (``python -P -m explorer.core.prefetch …``).

        ``-P``: the current folder is not put on the child's module path (a researcher's own
        ``models/`` package there must not be imported, nor run); `start_prefetch` gives it the
        window's module path instead.
        """
        out = [sys.executable, "-P", "-m", "explorer.core.prefetch", "--data", self.data,
               "--seed", str(int(self.seed)), "--device", self.device]
        if self.resize is not None:
            out += ["--resize", self.resize]
        if self.split is not None:
            out += ["--split", self.split]
        if self.limit is not None:
            out += ["--limit", str(int(self.limit))]
        return out + ["--", str(self.model)]  # a file name starting with "-" is not an option

    def same_dataset(self, spec) -> bool:
        """Whether ``spec`` (the session's `DatasetSpec`) is the dataset this request encodes."""
        from explorer.data import DEFAULT_RESIZE

        return spec is not None and (spec.spec, spec.split, spec.limit, int(spec.seed), spec.resize) == (
            self.data, self.split, self.limit, int(self.seed), self.resize or DEFAULT_RESIZE)


def _import_torch(threads: int | None) -> None:
    import torch  # ~1.4 s

    if threads is not None:
        torch.set_num_threads(int(threads))


def prefetch_codes(request: PrefetchRequest, cache=None, on_encoding=None, on_progress=None,
                   threads: int | None = None, projection_cache=None, on_note=None) -> str:
    """Encode ``request``'s dataset with its model into the codes cache, unless there is nothing to do.

    The cheap checks come first (the torch-free reading of the checkpoint, the dataset and
    the cache look-up: ~0.3 s), so that a start with cached codes costs the window's machine
    little; torch is imported only when it will encode. When the codes cache holds nothing of this model
    file (`CodesCache.may_hold_model`), the encoding is certain and torch is imported at once,
    the dataset read after it: cold starts 3.21 s against 3.83 s with the dataset read in a
    thread beside the import (medians of 9, interleaved; both hold the GIL). (Importing
    torch in a thread beside the checks was tried: cold starts 2.93 s against 3.21 s in one
    round of 6 and 3.53 against 3.56 in the next, while starts with cached codes took 1.77 s
    against 1.47 s: the checks then wait for the GIL the import holds.)

    Parameters
    ----------
    request : PrefetchRequest
    cache : explorer.core.embedding.CodesCache, optional
        Default: the user's codes cache (``LATENT_EXPLORER_CACHE`` moves it).
    on_encoding : callable, optional
        Called (no arguments) once encoding is decided: the codes were not found, or (nothing of
        the model cached) before the dataset is read, which may still end in "skip".
    on_progress : callable, optional
        ``on_progress(fraction)`` after each batch encoded, ``fraction`` in [0, 1].
    threads : int, optional
        torch's intra-op threads for the encoding (``torch.set_num_threads``, which is
        process-wide: the child sets it; None leaves the caller's).
    projection_cache : explorer.core.projection.ProjectionCache, optional
        Where `first_embedding` puts the first embedding of cached codes (default: the user's).
    on_note : callable, optional
        ``on_note(sentence)`` for what went wrong (`first_embedding`; codes that are not in the
        cache after encoding). `main` also turns the modules' logged warnings into notes.

    Returns
    -------
    {"skip", "cached", "encoded", "failed"}
        See the module's docstring ("cached": with their first embedding put in the projection
        cache where it could be computed): "skip" for a file, dataset or device it cannot use (the
        window opens them itself and says why), or when the machine could not hold the
        window's copy of the dataset beside its own; "failed" when the codes could not be
        written to the cache.

    Raises
    ------
    Exception
        What the encoding raised otherwise (e.g. the dataset's images do not fit the model;
        `main` answers "failed" and the window's own encoding gives the sentence).
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
    cache = cache if cache is not None else CodesCache()
    model_sha = file_sha256(path)

    def read():
        return load_dataset(request.data, split=request.split, limit=request.limit, seed=request.seed,
                            resize=request.resize or DEFAULT_RESIZE)

    # No codes of this file at all (a first start, a new checkpoint): the encoding is certain, so
    # torch's import starts now and the dataset is read after it (in a thread beside the import
    # was slower, see above); otherwise the look-up comes first, torch only on a miss.
    certain = not cache.may_hold_model(model_sha)
    if certain:
        if on_encoding is not None:
            on_encoding()
        _import_torch(threads)
    try:
        dataset = read()
    except (OSError, ValueError):  # the window reads it again and gives its sentence
        return "skip"
    from explorer.limits import memory_shortfall

    if memory_shortfall(int(dataset.images.nbytes)):  # the window reads its own copy: leave it the room
        return "skip"
    dataset_id = dataset_identity(dataset)
    hit = cache.get(codes_cache_key(model_sha, dataset_id, "encoder", 0), n=len(dataset))
    if hit is not None and hit[0].shape[1] == info["latent_dim"]:
        first_embedding(hit[0], model_sha, dataset_id, projection_cache, on_note)
        return "cached"
    if not certain:
        if on_encoding is not None:
            on_encoding()
        _import_torch(threads)

    from explorer.core.device import DeviceError, resolve_device
    from explorer.core.embedding import encode_cached
    from explorer.core.jobs import JobContext
    from explorer.core.workspace import open_model
    from models.base import ModelFileError

    try:
        entry = open_model(path, resolve_device(request.device))
    except (DeviceError, ModelFileError):
        return "skip"
    ctx = JobContext((lambda fraction, _message: on_progress(fraction)) if on_progress is not None else None)
    encode_cached(entry, dataset, dataset_id, cache=cache, ctx=ctx)
    if cache.get(codes_cache_key(entry.file_hash, dataset_id, "encoder", 0), n=len(dataset)) is None:
        if on_note is not None:
            on_note(f"the codes were not found in the codes cache {cache.directory} after encoding")
        return "failed"  # not written (read-only cache): the window must encode itself
    return "encoded"


def first_embedding(z, model_sha: str, dataset_id: str, projection_cache=None, on_note=None) -> bool:
    """Put the first embedding a window shows of encoder codes (`explorer.core.embedding.default_spec`) in the cache.

    The window's cache look-up (`explorer.core.embedding.peek_cached`) then finds codes and
    embedding, as on any later start, and paints without importing scikit-learn itself.

    Parameters
    ----------
    z : numpy.ndarray
        ``(N, d)`` float32 encoder codes of the dataset ``dataset_id`` under the model file
        whose SHA-256 is ``model_sha``.
    model_sha, dataset_id : str
    projection_cache : explorer.core.projection.ProjectionCache, optional
        Default: the user's.
    on_note : callable, optional
        ``on_note(sentence)`` when it could not be computed or written (the exception's type and
        message: the window logs it, `PrefetchProcess.notes`).

    Returns
    -------
    bool
        Whether the embedding is in the cache now (computed here or found there). False when it
        could not be computed or written; the window then computes it itself and says why.
    """
    from explorer.core.embedding import cached_embedding, default_spec, project_cached, projection_key
    from explorer.core.heavy import load_estimators
    from explorer.core.projection.cache import ProjectionCache

    spec = default_spec(z.shape[1])
    cache = projection_cache if projection_cache is not None else ProjectionCache()
    key = projection_key(model_sha, dataset_id, spec, len(z))  # encoder codes: their identity is the dataset's
    try:
        if cached_embedding(key, spec, len(z), cache) is None:
            load_estimators()
            project_cached(z, spec, key, cache)
        return cached_embedding(key, spec, len(z), cache) is not None
    except Exception as exc:  # noqa: BLE001 - the window computes it again and reports any real problem
        if on_note is not None:
            on_note(f"the first embedding of the cached codes was not computed: {_sentence(exc)}")
        return False


def _sentence(exc: BaseException) -> str:
    """``"TypeName: message"`` of ``exc`` on one line (`explorer.errors.one_line`; for a ``note`` line of the child)."""
    from explorer.errors import one_line

    text, name = one_line(exc), type(exc).__name__
    return name if text == name else f"{name}: {text}"


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
        self._encoding = False
        self._notes: list[str] = []
        self._progress: float | None = None
        self._last_heard = time.monotonic()
        # a thread reads the pipe (portable: no select() on pipes on Windows)
        threading.Thread(target=self._read, name="prefetch-pipe", daemon=True).start()

    def _read(self) -> None:
        try:
            for line in self.process.stdout:
                self._last_heard = time.monotonic()
                if line.startswith("progress "):
                    try:
                        self._progress = min(1.0, max(0.0, float(line.split()[1])))
                    except (IndexError, ValueError):
                        pass
                    continue
                if line.strip() == "encoding":
                    self._encoding = True
                    continue
                if line.startswith("note "):
                    self._notes.append(line[5:].strip())
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
        if self.process.stdin is not None:
            try:
                self.process.stdin.close()
            except OSError:
                pass

    def wait(self, check=None, timeout_s: float = 120.0, progress=None, on_encoding=None) -> str:
        """The child's answer, waiting for it (cancellable).

        Parameters
        ----------
        check : callable, optional
            Called every 20 ms (e.g. ``JobContext.check``, which raises to cancel; the child
            is then stopped).
        timeout_s : float
            Seconds without a line from the child (its progress lines come after every
            batch) after which it is stopped and "failed" returned.
        progress : callable, optional
            ``progress(fraction)`` when the child reports the fraction of images encoded.
        on_encoding : callable, optional
            Called once (no arguments, in the caller's thread) as soon as the child has said
            ``encoding``, whether before this call or while it waits.

        Returns
        -------
        {"skip", "cached", "encoded", "failed"}
            "failed" also when the child ended without an answer (it crashed or was killed).
        """
        shown, told = None, False
        while self._answer is None:
            if on_encoding is not None and not told and self._encoding:
                told = True
                on_encoding()
            try:
                line = self._lines.get(timeout=0.02)
            except queue.Empty:
                if progress is not None and self._progress is not None and self._progress != shown:
                    shown = self._progress
                    progress(shown)
                if check is not None:
                    try:
                        check()
                    except BaseException:
                        self.stop()
                        raise
                if time.monotonic() - self._last_heard > timeout_s:
                    self.stop()
                    self._answer = "failed"
                continue
            if line in _STATES:
                self._answer = line
            elif line == "":
                self._answer = "failed"
        if on_encoding is not None and not told and self._encoding:  # said just before the answer
            on_encoding()
        return self._answer

    @property
    def encoding(self) -> bool:
        """Whether the child has said ``encoding`` (its codes are not cached): the first PCA will be the window's."""
        return self._encoding

    @property
    def notes(self) -> list[str]:
        """What went wrong in the child without a traceback (its ``note`` lines, oldest first; for the log).

        E.g. the first embedding of cached codes could not be computed, or the encoding raised
        (the answer is then "failed"). Complete once `wait` has returned.
        """
        return list(self._notes)

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
    The child inherits the environment (so the same cache folder) and the window's module
    path, and runs at the same priority.

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
    # the window's own module path, so the child imports exactly the code the window runs (and -P: nothing else)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    try:
        process = subprocess.Popen(request.argv(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                   stdin=subprocess.PIPE, text=True, env=env)
    except OSError:
        return None
    return PrefetchProcess(request, process)


def parser():
    """The child's command-line parser (`PrefetchRequest.argv` writes what it reads)."""
    import argparse

    out = argparse.ArgumentParser(prog="python -m explorer.core.prefetch")
    out.add_argument("model")
    out.add_argument("--data", required=True)
    out.add_argument("--split", default=None)
    out.add_argument("--limit", type=int, default=None)
    out.add_argument("--seed", type=int, default=0)
    out.add_argument("--resize", default=None)
    out.add_argument("--device", default="cpu")
    return out


def request_from_args(args) -> PrefetchRequest:
    """The `PrefetchRequest` a parsed command line (`parser`) asks for."""
    return PrefetchRequest(Path(args.model), args.data, args.split, args.limit, args.seed, args.resize, args.device)


def main(argv: list[str] | None = None, watch_stdin: bool = False) -> int:
    """``python -m explorer.core.prefetch MODEL --data D [--split S] [--limit N] --seed K --resize F --device X``.

    Prints one of "skip", "cached", "encoded", "failed" (after "encoding" and "progress F"
    lines when it encodes, and "note S" lines saying what went wrong) and exits 0 ("failed": 1).
    Errors are never printed as a traceback: the window that started it opens the file itself.
    Encodes with one core fewer than the machine has (at least one), leaving one to the window:
    on 2 cores, cold starts took 3.74 s (median of 5, interleaved) with one encoding thread
    against 4.20 s with two. Exits at once when its standard input closes (the window has ended)
    if ``watch_stdin``.
    """
    import gc

    gc.disable()  # a short-lived process: importing torch would otherwise spend ~0.2 s in collections
    request = request_from_args(parser().parse_args(argv))

    def listen() -> None:  # the window never writes: end of input means it has ended, so must this child
        for _line in sys.stdin:
            pass
        os._exit(WINDOW_ENDED)

    if watch_stdin:
        threading.Thread(target=listen, name="prefetch-stdin", daemon=True).start()

    def note(sentence: str) -> None:
        print("note " + " ".join(sentence.split()), flush=True)

    import logging

    class _Notes(logging.Handler):  # the modules' warnings (a cache not written...) reach the window's log
        def emit(self, record: logging.LogRecord) -> None:
            note(record.getMessage())

    for name in ("explorer", "models"):
        logging.getLogger(name).addHandler(_Notes(logging.WARNING))

    try:
        answer = prefetch_codes(request, on_encoding=lambda: print("encoding", flush=True),
                                on_progress=lambda fraction: print(f"progress {fraction:.4f}", flush=True),
                                threads=max(1, (os.cpu_count() or 2) - 1), on_note=note)
    except Exception as exc:  # noqa: BLE001 - the window encodes itself and reports any real problem in one sentence
        note(f"the encoding failed: {_sentence(exc)}")
        answer = "failed"
    print(answer, flush=True)
    return 1 if answer == "failed" else 0


if __name__ == "__main__":
    status = main(watch_stdin=True)
    sys.stdout.flush()
    os._exit(status)  # not the interpreter's teardown of torch (~0.3 CPU s) beside the window's first paint
