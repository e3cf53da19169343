"""Benchmark section "sample_quality": the bundled classifier's throughput and a full 10k-sample measurement."""

from __future__ import annotations

import os
import tempfile
import time
from contextlib import contextmanager

import numpy as np

from explorer.bench.registry import demo_vae, section


@contextmanager
def _cache_in(folder: str):
    """Point ``$LATENT_EXPLORER_CACHE`` at ``folder`` for the block; the user's cache is untouched."""
    old = os.environ.get("LATENT_EXPLORER_CACHE")
    os.environ["LATENT_EXPLORER_CACHE"] = folder
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("LATENT_EXPLORER_CACHE", None)
        else:
            os.environ["LATENT_EXPLORER_CACHE"] = old


def _load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


@section("sample_quality")
def bench_sample_quality(n: int = 10_000) -> dict:
    """Sample-quality figures.

    Returns
    -------
    dict
        ``classifier_features_images_per_s``: images per second of the bundled classifier
        (resources/checkpoints/lenet_fashion.pt) giving features and logits of the 10,000
        Fashion-MNIST test images in batches of 500 (`Extractor.run`), median of 3.
        ``sample_quality_10k_s``: seconds of `explorer.core.sample_quality.sample_quality` on the
        demo VAE with the bundled classifier, 10,000 prior samples vs the 10,000 test images, all
        metrics — FID, KID (100 subsets of 1,000), IS (10 splits), precision/recall (k = 3),
        density/coverage (k = 5), the real-vs-real floor (10,000 train images vs the test images)
        and memorisation (1,000 samples and 1,000 held-out images against the 60,000 training
        images, pixels and features) — in a warm process (imports done) with the real side read
        from the feature cache (an earlier run filled it): the datasets loaded, the real features,
        their k-NN radii, the floor and the held-out distances read back, everything that depends
        on the model computed. ``sample_quality_10k_cold_s``: the same with an empty cache (the
        features of the 70,000 real images computed). Both use a fresh temporary cache folder,
        never the user's. ``sample_quality_10k_with_reconstructions_s``: warm, plus the 10,000
        reconstructions ``decode(encode(x))`` vs their originals (encoded, decoded, features and
        every metric). ``*_stages_s``: their stages (`SampleQualityResult.seconds`).
        ``sample_quality_10k_per_model_s``: a further model once the real side is prepared
        (``reference=``), as `evaluate` does for its second and later models.
        ``sample_quality_torch_threads``: torch's intra-op threads; ``sample_quality_load_average``:
        the 1/5/15-minute load averages before and after (the machine is shared).
    """
    import torch

    from explorer.core.sample_quality import SampleQualitySettings, load_extractor, prepare_reference, sample_quality
    from explorer.data import Dataset

    load_before = _load()
    model, ds = demo_vae()
    ex = load_extractor("classifier")
    x = np.ascontiguousarray(ds.images[:n])
    ex.run(x[:500])  # warm-up
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        ex.run(x)
        times.append(time.perf_counter() - t0)
    per_s = len(x) / float(np.median(times))
    warm = SampleQualitySettings(n_samples=50, kid_subset_size=20, kid_subsets=2, memorisation=False, floor=False,
                                 cache=False)
    ref = prepare_reference(warm, model.image_shape, real=Dataset(ds.images[:200], name="warm-up", split="test"))
    sample_quality(model, warm, reference=ref)  # imports torchmetrics, sklearn, scipy
    settings = SampleQualitySettings(n_samples=n, reconstructions=False)
    out: dict = {"classifier_features_images_per_s": round(per_s, 1)}
    with tempfile.TemporaryDirectory(prefix="lx-bench-sq-") as folder, _cache_in(folder):
        t0 = time.perf_counter()
        cold = sample_quality(model, settings)
        out["sample_quality_10k_cold_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        res = sample_quality(model, settings)
        out["sample_quality_10k_s"] = round(time.perf_counter() - t0, 2)
        if res.record != cold.record:
            raise RuntimeError("the warm run's record differs from the cold run's: the cache is wrong")
        with_rec = SampleQualitySettings(n_samples=n)
        t0 = time.perf_counter()
        rec = sample_quality(model, with_rec)
        out["sample_quality_10k_with_reconstructions_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        sample_quality(model, settings, reference=res.reference)
        out["sample_quality_10k_per_model_s"] = round(time.perf_counter() - t0, 2)
    out["sample_quality_10k_cold_stages_s"] = {k: round(v, 2) for k, v in cold.seconds.items()}
    out["sample_quality_10k_stages_s"] = {k: round(v, 2) for k, v in res.seconds.items()}
    out["sample_quality_10k_with_reconstructions_stages_s"] = {k: round(v, 2) for k, v in rec.seconds.items()}
    out["sample_quality_torch_threads"] = torch.get_num_threads()
    out["sample_quality_load_average"] = {"before": load_before, "after": _load()}
    return out
