"""Start the Qt application and the main window: the `latent-explorer` GUI."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["run_app", "make_window", "get_application", "process_age_s", "BENCH_ENV", "DEMO_MISSING_TEXT"]

#: Environment variable of the start-up benchmark: the wall-clock time (``time.time()``,
#: seconds) at which the parent launched this process. When it is set, the app prints
#: ``startup_to_embedding_s=<seconds>`` once the first embedding is painted and exits.
BENCH_ENV = "LATENT_EXPLORER_BENCH_STARTUP"

#: What the window says when no checkpoint was given and the demo checkpoint is missing.
DEMO_MISSING_TEXT = ("No model open: the demo checkpoint resources/checkpoints/vae_fashion.pt is missing. "
                     "Open a checkpoint with File ▸ Open model… or drop one on this window.")


def process_age_s() -> float | None:
    """Seconds since this process started, from ``/proc/self/stat`` (Linux; 10 ms resolution), or None."""
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22 of stat(5), counted after "pid (comm)"
        with open("/proc/uptime", "rb") as f:
            uptime = float(f.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


_GARBAGE_COLLECTOR = None


def collect_garbage_on_gui_thread() -> None:
    """Run Python's cyclic garbage collector only on the GUI thread, from a Qt timer.

    Otherwise a collection can start in a job thread and destroy a Qt object there,
    which deadlocks (seen: ``~QObject`` waiting for the GIL inside ``gc`` in a job
    thread). pyqtgraph's ``GarbageCollector`` disables automatic collection and collects
    every 0.5 s on the GUI thread instead. Idempotent; needs a running QApplication.
    """
    global _GARBAGE_COLLECTOR
    if _GARBAGE_COLLECTOR is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _GARBAGE_COLLECTOR = GarbageCollector(interval=0.5)


def get_application(argv: Sequence[str] | None = None):
    """The QApplication (created with Latent Explorer's names if there is none yet).

    Also moves garbage collection to the GUI thread (:func:`collect_garbage_on_gui_thread`).
    """
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    collect_garbage_on_gui_thread()
    app.setApplicationName("Latent Explorer")
    app.setOrganizationName("latent-explorer")
    app.setApplicationDisplayName("Latent Explorer")
    return app


def saved_device() -> str:
    """The compute device saved in the window's settings (``compute/device``), read without Qt; "cpu" if none.

    The ini file is the one `explorer.gui.main_window.open_settings` opens; read with
    :mod:`configparser` so that a child can be started before Qt is imported.

    Returns
    -------
    str
        ``auto``, ``cpu``, ``mps``, ``cuda`` or ``cuda:N`` (lower case); "cpu" for a value that is
        not a device name, no value, or a file that cannot be read.
    """
    import configparser
    import re

    from explorer.paths import config_dir

    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read(config_dir() / "latent-explorer.ini", encoding="utf-8")
        value = parser.get("compute", "device", fallback="cpu").strip().strip('"').lower()
    except (configparser.Error, OSError, UnicodeDecodeError):
        return "cpu"
    return value if re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", value) else "cpu"


def start_prefetch(checkpoints: Sequence[str | os.PathLike] = (), data="fashion-mnist", split: str | None = "test",
                   limit: int | None = None, seed: int = 0):
    """Start encoding the first model's dataset in a child process, before Qt is imported (`explorer.core.prefetch`).

    Parameters
    ----------
    checkpoints, data, split, limit, seed
        As :func:`make_window` will get them (no checkpoint: the demo VAE).

    Returns
    -------
    explorer.core.prefetch.PrefetchProcess or None
        None for a session file, an adapter or TorchScript file, a missing file, or when
        ``LATENT_EXPLORER_PREFETCH=0``.
    """
    import resources
    from explorer.core.prefetch import PrefetchRequest
    from explorer.core.prefetch import start_prefetch as start
    from explorer.paths import DEMO_CHECKPOINT

    paths = [Path(p) for p in checkpoints]
    if any(p.suffix.lower() == ".lxs" for p in paths):
        return None
    model = paths[0] if paths else resources.path(*DEMO_CHECKPOINT)
    return start(PrefetchRequest(model, str(data), split if split != "all" else None, limit, int(seed),
                                 None, saved_device()))


def make_window(checkpoints: Sequence[str | os.PathLike] = (), data="fashion-mnist", split: str | None = "test",
                limit: int | None = None, seed: int = 0, *, warm_up_umap: bool = True, settings=None,
                show: bool = True, ask_to_save: bool = False, prefetch=None):
    """Create the main window and start loading the dataset and the models (jobs).

    With no ``checkpoints`` the bundled demo VAE is opened; if it is missing, the window
    opens with no model and says so.

    Parameters
    ----------
    checkpoints : sequence of path
        Checkpoints, adapters or TorchScript files; or a session file (``.lxs``), which
        then says which models and dataset to open.
    data : str or path
        Dataset name or path (see :func:`explorer.data.load_dataset`).
    split : {"train", "test", "all", None}
    limit : int, optional
        Seeded random subsample size.
    seed : int
        Subsample seed and seed of GAN prior samples.
    warm_up_umap : bool
        Compile UMAP in the background after the first embedding.
    settings : QSettings, optional
        Default: the ini file under ``explorer.paths.config_dir()``.
    show : bool
        Show the window.
    ask_to_save : bool
        Ask before closing over unsaved changes (the app does; tests do not).
    prefetch : explorer.core.prefetch.PrefetchProcess, optional
        A child encoding the first model's dataset (:func:`start_prefetch`): the model's cache
        look-up waits for it, and scikit-learn (for the first PCA) loads meanwhile.

    Returns
    -------
    explorer.gui.main_window.MainWindow
    """
    get_application()
    from explorer.gui.main_window import MainWindow, demo_checkpoint

    window = MainWindow(settings=settings, warm_up_umap=warm_up_umap, seed=seed, ask_to_save=ask_to_save)
    paths = [Path(p) for p in checkpoints]
    sessions = [p for p in paths if p.suffix.lower() == ".lxs"]
    if sessions:  # `latent-explorer open S.lxs`: the session says what to open
        if show:
            window.show()
        window.open_session(sessions[-1])
        return window
    if not paths:
        demo = demo_checkpoint()
        if demo.is_file():
            paths = [demo]
        else:
            window.set_empty_note(DEMO_MISSING_TEXT)
    if show:
        window.show()
    window.session.restoring = True  # what the command line asks for is not unsaved work (until it is in)
    if prefetch is not None:
        window.session.expect_prefetch(prefetch)
    window.open_dataset(data, split=split if split != "all" else None, limit=limit, seed=seed)
    if paths:
        window.open_models(paths)
    return window


def _install_bench_hook(window, app, t0: float, prefetch=None) -> None:
    """Print the time from process start to the first painted embedding (and what the prefetch child did), then quit."""
    from PySide6.QtCore import QTimer

    state = {"done": False}

    def report(_result=None):
        if state["done"]:
            return
        state["done"] = True
        window.view.flush()
        window.view.plot_widget.viewport().repaint()  # paint now, synchronously
        seconds = time.time() - t0
        print(f"startup_to_embedding_s={seconds:.3f}", flush=True)
        # CPU seconds of this process (all threads) until now: steadier than wall time on a shared machine
        print(f"startup_to_embedding_cpu_s={time.process_time():.3f}", flush=True)
        if _result is not None:
            print(f"startup_embedding={_result.spec.method}", flush=True)
        if prefetch is not None:  # "encoded" on a cold start, "cached" after it (explorer.core.prefetch)
            print(f"startup_prefetch={prefetch.answer or 'running'}", flush=True)
        QTimer.singleShot(0, window.close)  # not from inside the window's own handler
        QTimer.singleShot(0, app.quit)

    def fail(message: str):
        if not state["done"]:
            state["done"] = True
            print(f"startup_failed={message}", flush=True)
            window.close()
            app.exit(1)

    window.embedding_shown.connect(report)
    window.error_shown.connect(fail)
    QTimer.singleShot(180_000, lambda: fail("no embedding within 180 s"))


def run_app(checkpoints: Sequence[str | os.PathLike] = (), data="fashion-mnist", split: str | None = "test",
            limit: int | None = None, seed: int = 0, argv: Sequence[str] | None = None) -> int:
    """Run the GUI until its window closes.

    Parameters
    ----------
    checkpoints, data, split, limit, seed
        See :func:`make_window`.
    argv : sequence of str, optional
        Qt's command line (default: the program name only).

    Returns
    -------
    int
        The exit status (0 after a normal close).

    Notes
    -----
    With :data:`BENCH_ENV` set the app runs the start-up benchmark: it prints
    ``startup_to_embedding_s=<seconds since the launch time in BENCH_ENV>`` after the
    first embedding is painted and exits (no UMAP warm-up).
    """
    bench = os.environ.get(BENCH_ENV)
    t0 = None
    if bench:
        try:
            t0 = float(bench)
        except ValueError:
            age = process_age_s()
            t0 = time.time() - (age or 0.0)
    prefetch = start_prefetch(checkpoints, data, split, limit, seed)  # before Qt: the child starts at once
    try:
        app = get_application(argv)
        window = make_window(checkpoints, data, split, limit, seed, warm_up_umap=t0 is None,
                             ask_to_save=t0 is None, prefetch=prefetch)
    except BaseException:
        if prefetch is not None:  # no window to wait for it
            prefetch.stop()
        raise
    if t0 is not None:
        _install_bench_hook(window, app, t0, prefetch)

    # Ctrl+C in the terminal closes the window cleanly (Python handles signals only
    # while the interpreter runs: a timer lets it run every 200 ms).
    from PySide6.QtCore import QTimer

    signal.signal(signal.SIGINT, lambda *_: window.close())
    ticker = QTimer(window)
    ticker.timeout.connect(lambda: None)
    ticker.start(200)
    status = app.exec()
    window.shutdown()  # no-op after a close event; needed when the loop ended by app.quit()
    return int(status)
