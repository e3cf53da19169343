"""Benchmark section "compare": the three Fashion-MNIST demo models on one scorecard against three `evaluate` runs."""

from __future__ import annotations

import os
import time

from explorer.bench.registry import section

#: Test images of the scorecard (the issue's figure is for all 10,000).
N_IMAGES = int(os.environ.get("LATENT_EXPLORER_BENCH_COMPARE_N", "10000"))
#: GAN inversion of the DCGAN in this section: 20 Adam steps, 1 restart. The default (200 × 4)
#: costs ~0.85 s per image on the shared 2-core machine, i.e. ~2.4 h for 10,000 images per run;
#: both timings below invert the same images with the same settings, so the ratio still says
#: whether anything is computed twice.
INVERSION_STEPS = int(os.environ.get("LATENT_EXPLORER_BENCH_COMPARE_STEPS", "20"))
INVERSION_RESTARTS = 1


@section("compare")
def bench_compare(n_images: int = N_IMAGES) -> dict:
    """Scorecard of the three demo models against three separate ``evaluate`` runs, in the same process.

    Returns
    -------
    dict
        ``compare_3_models_s``: seconds of `explorer.core.compare.run.compare_models` +
        `explorer.core.compare.scorecard.scorecard_of` (clustering + float32 reconstruction,
        paired bootstrap of 1,000 resamples) for vae_fashion, dcgan_fashion (inverted codes)
        and ali_fashion on ``n_images`` Fashion-MNIST test images; ``compare_separate_evaluate_s``:
        the sum of three `explorer.core.evaluate.evaluate_models` runs, one per model, on the same
        images (``gan_codes="inverted"``); ``compare_vs_separate_ratio``: their ratio (goal ≤ 1.05);
        ``compare_n_images`` and ``compare_inversion_steps`` say what was run; the ``…_cpu_s`` figures and
        ``compare_vs_separate_cpu_ratio`` are the same measurements in CPU seconds of this process
        (``time.process_time``), which the other users of a shared machine do not change. Inverted codes are
        kept in memory only (``cache=False``), so neither run reads the other's.
    """
    import torch

    import resources
    from explorer.core.compare.run import compare_models
    from explorer.core.compare.scorecard import scorecard_of
    from explorer.core.evaluate import evaluate_models
    from explorer.core.reconstruction.inversion import InversionSettings
    from explorer.data import load_dataset

    torch.set_num_threads(1)
    paths = [str(resources.path("checkpoints", f"{m}_fashion.pt")) for m in ("vae", "dcgan", "ali")]
    ds = load_dataset("fashion-mnist", split="test", path=resources.path("data", "fashion-mnist"))
    inv = InversionSettings(steps=INVERSION_STEPS, restarts=INVERSION_RESTARTS, seed=0)
    metrics = ["clustering", "reconstruction"]
    # warm-up: imports, first torch and scikit-learn calls (not timed)
    compare_models(paths, ds, metrics, n_images=50, inversion=inv, cache=False)
    evaluate_models(paths[:1], ds, metrics, n_images=50, inversion=inv, gan_codes="inverted", cache=False)

    t0, c0 = time.perf_counter(), time.process_time()
    comp = compare_models(paths, ds, metrics, n_images=n_images, inversion=inv, cache=False)
    scorecard_of(comp)
    compare_s, compare_cpu = time.perf_counter() - t0, time.process_time() - c0
    separate, separate_cpu = [], []
    for p in paths:
        t0, c0 = time.perf_counter(), time.process_time()
        evaluate_models([p], ds, metrics, n_images=n_images, inversion=inv, gan_codes="inverted", cache=False)
        separate.append(time.perf_counter() - t0)
        separate_cpu.append(time.process_time() - c0)
    return {"compare_3_models_s": round(compare_s, 2),
            "compare_separate_evaluate_s": round(sum(separate), 2),
            "compare_separate_evaluate_per_model_s": [round(s, 2) for s in separate],
            "compare_vs_separate_ratio": round(compare_s / sum(separate), 3),
            # wall time on a shared CPU follows the other users' load; CPU time of this process does not
            "compare_3_models_cpu_s": round(compare_cpu, 2),
            "compare_separate_evaluate_cpu_s": round(sum(separate_cpu), 2),
            "compare_vs_separate_cpu_ratio": round(compare_cpu / sum(separate_cpu), 3),
            "compare_n_images": comp.n_images,
            "compare_inversion_steps": f"{INVERSION_STEPS} Adam steps × {INVERSION_RESTARTS} restart"}
