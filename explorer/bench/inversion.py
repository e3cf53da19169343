"""Benchmark section "inversion": GAN inversion of demo test images, today's defaults vs the method of before.

``latent-explorer bench --only inversion``; ``LATENT_EXPLORER_BENCH_INVERSION_N`` sets the number
of images (default 1,000). Figures are printed, never judged (goal: ≥ 4× faster than
``BASELINE_INVERSION`` at a mean PSNR no more than 0.2 dB lower).
"""

from __future__ import annotations

import json
import os
import time

from explorer.bench.registry import section

__all__ = ["bench_inversion_section", "inversion_figures", "N_ENV"]

#: Environment variable with the number of test images to invert.
N_ENV = "LATENT_EXPLORER_BENCH_INVERSION_N"


def _run(model, x, settings) -> tuple[float, float, float]:
    """(wall s per image, CPU s per image, mean PSNR dB with data range 1.0) of inverting ``x``."""
    import numpy as np

    from explorer.core.codes import decode_codes
    from explorer.core.reconstruction.inversion import invert
    from explorer.core.reconstruction.metrics import psnr

    w0, c0 = time.perf_counter(), time.process_time()
    res = invert(model, x, settings)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return wall / len(x), cpu / len(x), float(np.mean(psnr(x, decode_codes(model, res.codes))))


def inversion_figures(n: int | None = None) -> dict:
    """Invert the first ``n`` bundled Fashion-MNIST test images with the demo DCGAN, both ways, one torch thread.

    Ours: `InversionSettings()` (its defaults). Baseline: ``BASELINE_INVERSION`` (every
    restart from its own prior draw, all 200 steps, batches of 64). PSNR in dB (data range
    1.0) of G(z*) against the image, mean over the ``n`` images; seconds per image are wall
    and process CPU time (CPU is the steadier figure on a shared machine).
    """
    import torch

    import resources
    from explorer.core.reconstruction.inversion import BASELINE_INVERSION, InversionSettings
    from explorer.data import fit_to_model, load_dataset
    from models.loading import load_any

    n = int(n if n is not None else os.environ.get(N_ENV) or 1000)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model, _ = load_any(resources.path("checkpoints", "dcgan_fashion.pt"))
        ds = fit_to_model(load_dataset("fashion-mnist", split="test", path=resources.path("data", "fashion-mnist")),
                          model.image_shape)
        x = ds.images[:n]
        ours = InversionSettings()
        o_wall, o_cpu, o_psnr = _run(model, x, ours)
        b_wall, b_cpu, b_psnr = _run(model, x, BASELINE_INVERSION)
    finally:
        torch.set_num_threads(threads)
    return {
        "gan_inversion_n_images": len(x),
        "gan_inversion_s_per_image": round(o_wall, 4),
        "gan_inversion_cpu_s_per_image": round(o_cpu, 4),
        "gan_inversion_psnr_db": round(o_psnr, 3),
        "gan_inversion_baseline_s_per_image": round(b_wall, 4),
        "gan_inversion_baseline_cpu_s_per_image": round(b_cpu, 4),
        "gan_inversion_baseline_psnr_db": round(b_psnr, 3),
        "gan_inversion_speedup": round(b_wall / o_wall, 2),
        "gan_inversion_cpu_speedup": round(b_cpu / o_cpu, 2),
        "gan_inversion_settings": ours.to_dict(),
        "gan_inversion_baseline_settings": BASELINE_INVERSION.to_dict(),
        "gan_inversion_load_average_1min": round(os.getloadavg()[0], 2),
    }


@section("inversion")
def bench_inversion_section() -> dict:
    """The GAN-inversion figures (see :func:`inversion_figures`)."""
    return inversion_figures()


if __name__ == "__main__":
    print(json.dumps(bench_inversion_section(), indent=2))
