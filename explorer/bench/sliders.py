"""Bench section "sliders": slider → painted pixels, interpolation decode, GIF and MP4 export (demo VAE)."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from explorer.bench.registry import demo_vae, section


def _percentile(values, q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


@section("sliders")
def bench_sliders(n_moves: int = 300) -> dict:
    """Latency of the slider path and of interpolation movies on the demo VAE.

    Returns
    -------
    dict
        ``slider_to_pixels_ms_median`` / ``slider_to_pixels_ms_p95``: one slider value
        change → decode → the image widget repainted (``repaint()``, synchronous), in ms
        (goals ≤ 5 and ≤ 16); ``interpolation_60_frames_ms``: slerp path of 60 frames
        between two codes, decoded (goal ≤ 100); ``gif_export_s`` / ``mp4_export_s``:
        writing those 60 frames at scale 10 (280 × 280 px).
    """
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from explorer.core.latent import sliders as core
    from explorer.gui.slider_panel import SliderPanel

    app = QApplication.instance() or QApplication([])
    model, ds = demo_vae()
    from explorer.core.codes import encode_images

    codes = encode_images(model, ds.images[:2000])
    panel = SliderPanel()
    panel.set_model(model, codes)
    panel.resize(900, 500)
    panel.show()
    t0 = time.perf_counter()
    while panel.image_view.decode_count == 0 and time.perf_counter() - t0 < 5:
        app.processEvents()
    rng = np.random.default_rng(0)
    dims = panel.order()
    times = []
    for i in range(n_moves):
        s = panel.slider(dims[i % len(dims)])
        step = int(rng.integers(0, core.SLIDER_STEPS + 1))
        t = time.perf_counter()
        s.setValue(step)
        panel.image_view.repaint()
        times.append((time.perf_counter() - t) * 1000)
    panel.close()

    kp = codes[[0, 1]]
    core.interpolation_movie(model, kp, 60, "slerp")  # warm-up
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        _, frames = core.interpolation_movie(model, kp, 60, "slerp")
        runs.append((time.perf_counter() - t) * 1000)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        core.save_interpolation(Path(tmp) / "m.gif", frames, scale=10)
        gif_s = time.perf_counter() - t
        t = time.perf_counter()
        core.save_interpolation(Path(tmp) / "m.mp4", frames, scale=10)
        mp4_s = time.perf_counter() - t
    return {
        "slider_to_pixels_ms_median": round(statistics.median(times), 3),
        "slider_to_pixels_ms_p95": round(_percentile(times, 95), 3),
        "interpolation_60_frames_ms": round(statistics.median(runs), 2),
        "gif_export_s": round(gif_s, 3),
        "mp4_export_s": round(mp4_s, 3),
    }
