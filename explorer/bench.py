"""`latent-explorer bench`: the project's speed figures, printed and written as one JSON object.

Benchmarks are not tests: they print what they measure and never fail on a time.
Each section is a function returning ``{key: figure}``; later features add sections.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

SECTIONS: dict[str, Callable[[], dict]] = {}


def section(name: str):
    """Register a benchmark section under ``name``."""
    def deco(fn):
        SECTIONS[name] = fn
        return fn
    return deco


def demo_vae():
    """The bundled demo VAE and the bundled Fashion-MNIST test split, fitted to it."""
    import resources
    from explorer.data import fit_to_model, load_dataset
    from models.loading import load_any

    model, _ = load_any(resources.path("checkpoints", "vae_fashion.pt"))
    ds = fit_to_model(load_dataset("fashion-mnist", split="test", path=resources.path("data", "fashion-mnist")),
                      model.image_shape)
    return model, ds


@section("encode")
def bench_encode(repeats: int = 5) -> dict:
    """Encode throughput of our path vs a bare torch loop over the same model and data.

    Returns ``encode_images_per_s`` (our path, median of ``repeats``) and
    ``encode_ratio_vs_bare_torch`` (our images/s ÷ bare torch images/s, same run;
    goal ≥ 0.9). Runs alternate so machine noise hits both alike.
    """
    import torch

    from explorer.core.codes import DEFAULT_BATCH, encode_images

    model, ds = demo_vae()
    x = torch.from_numpy(np.ascontiguousarray(ds.images))
    n = len(x)

    def bare():
        with torch.inference_mode():
            outs = [model.encode(x[i:i + DEFAULT_BATCH]) for i in range(0, n, DEFAULT_BATCH)]
            return torch.cat(outs).numpy()

    ours_t, bare_t = [], []
    encode_images(model, ds.images)  # warm-up
    bare()
    for _ in range(repeats):
        t0 = time.perf_counter()
        encode_images(model, ds.images)
        ours_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        bare()
        bare_t.append(time.perf_counter() - t0)
    ours, ref = statistics.median(ours_t), statistics.median(bare_t)
    return {"encode_images_per_s": round(n / ours, 1), "encode_ratio_vs_bare_torch": round(ref / ours, 3)}


def run_bench(only: list[str] | None = None, out: Path | None = None) -> dict:
    """Run the registered sections (all, or those named in ``only``), print and save figures.

    Parameters
    ----------
    only : list of str, optional
        Section names to run; unknown names are reported and skipped.
    out : pathlib.Path, optional
        Write the figures here as one JSON object (atomically).

    Returns
    -------
    dict
        ``{figure name: value}`` of every section that ran; a section that failed is
        reported on stderr with its error and contributes nothing.
    """
    _load_optional_sections()
    names = list(SECTIONS) if not only else only
    results: dict = {}
    for name in names:
        fn = SECTIONS.get(name)
        if fn is None:
            print(f"bench: no section {name!r} (have: {', '.join(SECTIONS)})", file=sys.stderr)
            continue
        print(f"[{name}]", flush=True)
        try:
            figures = fn()
        except Exception as exc:  # report and go on: one broken section must not hide the others
            print(f"  failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        for k, v in figures.items():
            print(f"  {k} = {v}", flush=True)
        results.update(figures)
    if out is not None:
        from explorer.core.export import write_json

        write_json(out, results)
        print(f"wrote {out}")
    return results


def _load_optional_sections() -> None:
    """Import modules that register sections of their own (GUI sections need Qt)."""
    import importlib

    for mod in ("explorer.gui.bench_sections", "explorer.bench_reconstruction", "explorer.gui.bench_sliders"):
        try:
            importlib.import_module(mod)
        except ImportError as exc:  # e.g. no Qt on a server: say so, run the rest
            print(f"bench: sections of {mod} unavailable ({exc})", file=sys.stderr)
