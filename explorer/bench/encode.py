"""Benchmark section "encode": encode throughput of our path against a bare torch loop."""

from __future__ import annotations

import statistics
import time

import numpy as np

from explorer.bench.registry import demo_vae, section


def encode_seconds(model, images, repeats: int = 5) -> float:
    """Median wall seconds of `explorer.core.codes.encode_images` over ``images`` (after one warm-up run).

    Parameters
    ----------
    model : GenerativeModel
        On the device to measure (`explorer.core.device.place_model`).
    images : numpy.ndarray, shape (N, C, H, W), float32
    repeats : int
    """
    from explorer.core.codes import encode_images

    encode_images(model, images)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        encode_images(model, images)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


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
