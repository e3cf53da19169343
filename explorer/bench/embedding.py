"""Benchmark section "embedding": start-up to first embedding, cached-projection reopen, paint and hover.

Registered with :func:`explorer.bench.registry.section`; ``latent-explorer bench --only embedding``
runs it. Figures are printed, never judged (goals: start-up <= 3 s, cache reopen <= 0.5 s,
session restore <= 1.5 s).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from explorer.bench.registry import section

__all__ = ["startup_to_embedding_s", "projection_cache_reopen_s", "session_restore_s", "bench_embedding_section",
           "CHECKPOINT_ENV"]

#: Environment variable naming another checkpoint than the bundled demo VAE (for development).
CHECKPOINT_ENV = "LATENT_EXPLORER_BENCH_CHECKPOINT"


def _checkpoint() -> Path:
    from explorer.gui.main_window import demo_checkpoint

    path = Path(os.environ.get(CHECKPOINT_ENV) or demo_checkpoint())
    if not path.is_file():
        raise FileNotFoundError(f"the benchmark checkpoint '{path}' does not exist; build the demo checkpoints "
                                f"or set {CHECKPOINT_ENV}")
    return path


def _display_env(env: dict) -> dict:
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def _one_startup(cache: Path, config: Path, checkpoint: Path, timeout_s: float = 240.0,
                 expect: str | None = None, cpu: list | None = None, prefetch: bool = True,
                 answers: list | None = None) -> float:
    """Launch ``python -m explorer open FILE`` (a checkpoint or a session) and return the seconds it reports
    to its first painted embedding (whose method must be ``expect`` when given); ``cpu`` receives the
    process's CPU seconds (all threads) to that moment, ``answers`` what its prefetch child did
    (`explorer.core.prefetch`; "none" without one). ``prefetch=False`` starts the app without the child."""
    from explorer.core.prefetch import PREFETCH_ENV
    from explorer.gui.app import BENCH_ENV

    env = _display_env(dict(os.environ))
    env.update({"LATENT_EXPLORER_CACHE": str(cache), "LATENT_EXPLORER_CONFIG": str(config)})
    env[PREFETCH_ENV] = "1" if prefetch else "0"
    cmd = [sys.executable, "-m", "explorer", "open", str(checkpoint)]
    env[BENCH_ENV] = repr(time.time())  # launch time, read back by the child
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout_s)
    lines = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    if "startup_to_embedding_s" in lines:
        if expect is not None and lines.get("startup_embedding") != expect:
            raise RuntimeError(f"the first embedding shown was {lines.get('startup_embedding')}, not {expect}")
        if cpu is not None and "startup_to_embedding_cpu_s" in lines:
            cpu.append(float(lines["startup_to_embedding_cpu_s"]))
        if answers is not None:
            answers.append(lines.get("startup_prefetch", "none"))
        return float(lines["startup_to_embedding_s"])
    raise RuntimeError(f"the app did not report its start-up time (exit {proc.returncode}): "
                       f"{(proc.stdout + proc.stderr).strip()[-400:]}")


def startup_to_embedding_s(warm_runs: int = 3, cold_runs: int = 5) -> dict:
    """Process start to the demo embedding painted, in fresh processes (seconds).

    The first run starts with empty caches (it encodes the 10,000 test images and fits
    PCA: ``startup_to_embedding_cold_s``, the median of ``cold_runs`` runs, each with
    its own empty caches); the next ``warm_runs`` find the codes and the embedding on disk,
    as every start after the first does (``startup_to_embedding_s``, median). Each run has
    fresh settings. "Cold" is the application's caches: the operating system's file cache is
    warm (the runs follow each other). ``*_cpu_s``: the CPU seconds the window's process spent
    to the paint (all threads; steadier than wall time on a busy machine; the prefetch child's
    are not in it). A cold start encodes in a child process (`explorer.core.prefetch`;
    ``startup_prefetch_cold`` says what it did); ``startup_to_embedding_cold_no_prefetch_s``
    is the same start without it (one process, as before the child existed), in the same run.
    """
    checkpoint = _checkpoint()
    cold_cpu, warm_cpu, cold, plain, answers = [], [], [], [], []
    with tempfile.TemporaryDirectory(prefix="latent-explorer-bench-") as tmp:
        for i in range(cold_runs):  # interleaved, so that both see the same machine
            cold.append(_one_startup(Path(tmp) / f"cache-cold-{i}", Path(tmp) / f"config-cold-{i}", checkpoint,
                                     cpu=cold_cpu, answers=answers))
            plain.append(_one_startup(Path(tmp) / f"cache-plain-{i}", Path(tmp) / f"config-plain-{i}", checkpoint,
                                      prefetch=False))
        cache = Path(tmp) / "cache-cold-0"
        warm = [_one_startup(cache, Path(tmp) / f"config-{i}", checkpoint, cpu=warm_cpu) for i in range(warm_runs)]
    out = {"startup_to_embedding_s": round(statistics.median(warm), 3),
           "startup_to_embedding_cold_s": round(statistics.median(cold), 3),
           "startup_to_embedding_cold_runs_s": [round(t, 3) for t in cold],
           "startup_to_embedding_cold_no_prefetch_s": round(statistics.median(plain), 3),
           "startup_prefetch_cold": sorted(set(answers)),
           "startup_to_embedding_runs_s": [round(t, 3) for t in warm]}
    if cold_cpu and warm_cpu:
        out["startup_to_embedding_cold_cpu_s"] = round(statistics.median(cold_cpu), 3)
        out["startup_to_embedding_cpu_s"] = round(statistics.median(warm_cpu), 3)
    out["startup_load_average_1min"] = round(os.getloadavg()[0], 2)
    return out


def _app():
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        _display_env(os.environ)
        app = QApplication([sys.argv[0]])
    return app


def _wait(app, predicate, timeout_s: float, what: str) -> None:
    t0 = time.monotonic()
    while not predicate():
        app.processEvents()
        time.sleep(0.002)
        if time.monotonic() - t0 > timeout_s:
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def projection_cache_reopen_s(method: str = "umap") -> dict:
    """Open the demo, compute a projection, close the window, reopen: seconds until the cached embedding is shown.

    Both windows run in this process (torch already imported: this is re-opening a model
    in a running app). The time runs from the open request to the embedding painted;
    ``projection_cache_read_ms`` is the part spent reading the embedding from disk.
    """
    from PySide6.QtCore import QSettings

    from explorer.core.embedding import CodesCache, cached_embedding
    from explorer.core.projection import ProjectionCache, ProjectionSpec
    from explorer.gui.main_window import MainWindow

    app = _app()
    checkpoint = _checkpoint()
    spec = ProjectionSpec(method)
    with tempfile.TemporaryDirectory(prefix="latent-explorer-bench-") as tmp:
        tmp = Path(tmp)

        def window():
            w = MainWindow(QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat), warm_up_umap=False,
                           projection_cache=ProjectionCache(tmp / "projections"), codes_cache=CodesCache(tmp / "codes"))
            w.resize(1400, 900)
            w.show()
            return w

        first = window()
        try:
            first.open_dataset("fashion-mnist", split="test")
            first.open_models([checkpoint])
            _wait(app, lambda: first.shown_embedding is not None, 300, "the first embedding")
            first.projection_panel.set_spec(spec)
            t0 = time.perf_counter()
            first.request_projection(spec)
            _wait(app, lambda: first.shown_embedding.spec == spec, 900, f"the {method} projection")
            compute_s = time.perf_counter() - t0
        finally:
            first.close()

        second = window()
        try:
            t0 = time.perf_counter()
            second.open_dataset("fashion-mnist", split="test")
            second.open_models([checkpoint])
            _wait(app, lambda: second.shown_embedding is not None and second.shown_embedding.spec == spec,
                  120, "the cached embedding")
            second.view.flush()
            second.view.plot_widget.viewport().repaint()
            reopen_s = time.perf_counter() - t0
            if not second.shown_embedding.from_cache:
                raise RuntimeError("the reopened embedding was computed again instead of read from the cache")
            # the model itself goes on loading; wait for it so the window closes idle
            _wait(app, lambda: second.active_entry is not None and not second.runner.running_kinds(), 120,
                  "the model")
            key = second.shown_embedding.key
            t1 = time.perf_counter()
            cached_embedding(key, spec, len(second.shown_codes.z), second.projection_cache)
            read_ms = 1000 * (time.perf_counter() - t1)
        finally:
            second.close()
    return {"projection_cache_reopen_s": round(reopen_s, 3), "projection_cache_read_ms": round(read_ms, 2),
            f"projection_{method}_compute_s": round(compute_s, 2)}


def session_restore_s(runs: int = 3) -> dict:
    """Process start → a saved demo session with a cached UMAP on screen (seconds, median of ``runs``).

    ``latent-explorer session create DEMO --projection umap`` writes the session (and caches
    the UMAP) first; each run then starts ``latent-explorer open S.lxs`` in a fresh process
    with fresh settings and the same cache, and reports when the UMAP is painted (goal 1.5 s).
    """
    checkpoint = _checkpoint()
    with tempfile.TemporaryDirectory(prefix="latent-explorer-bench-") as tmp:
        tmp = Path(tmp)
        env = _display_env(dict(os.environ))
        env.update({"LATENT_EXPLORER_CACHE": str(tmp / "cache"), "LATENT_EXPLORER_CONFIG": str(tmp / "config")})
        session = tmp / "demo.lxs"
        made = subprocess.run([sys.executable, "-m", "explorer", "session", "create", str(checkpoint), "--data",
                               "fashion-mnist", "--split", "test", "--projection", "umap", "--out", str(session)],
                              env=env, capture_output=True, text=True, timeout=900)
        if made.returncode != 0:
            raise RuntimeError(f"session create failed: {made.stderr.strip()[-400:]}")
        times = [_one_startup(tmp / "cache", tmp / f"config-{i}", session, expect="umap") for i in range(runs)]
    return {"session_restore_s": round(statistics.median(times), 3),
            "session_restore_runs_s": [round(t, 3) for t in times]}


@section("embedding")
def bench_embedding_section() -> dict:
    """All figures of the embedding window (see the module docstring)."""
    figures: dict = {}
    figures.update(startup_to_embedding_s())
    figures.update(session_restore_s())
    figures.update(projection_cache_reopen_s())
    from explorer.bench import embedding_view

    figures.update(embedding_view.run())
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(bench_embedding_section(), indent=2))
