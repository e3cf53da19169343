"""Benchmark section "sample_quality": the bundled classifier's throughput and a full 10k-sample measurement."""

from __future__ import annotations

import time

import numpy as np

from explorer.bench.registry import demo_vae, section


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
        density/coverage (k = 5), the real-vs-real floor (10,000 train images), reconstructions
        vs originals and memorisation (1,000 samples and 1,000 held-out images against the 60,000
        training images, pixels and features) — in a warm process (imports done), the real side
        included (train split features and all; the feature cache off). ``sample_quality_10k_stages_s``:
        its stages. ``sample_quality_10k_per_model_s``: the same for a further model once the real
        side is prepared (``reference=``), as `evaluate` does for its second and later models.
        ``sample_quality_torch_threads``: torch's intra-op threads during the run.
    """
    import torch

    from explorer.core.sample_quality import SampleQualitySettings, load_extractor, prepare_reference, sample_quality
    from explorer.data import Dataset

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
    warm = SampleQualitySettings(n_samples=50, kid_subset_size=20, kid_subsets=2, memorisation=False, floor=False)
    ref = prepare_reference(warm, model.image_shape, real=Dataset(ds.images[:200], name="warm-up", split="test"))
    sample_quality(model, warm, reference=ref)  # imports torchmetrics, sklearn, scipy
    settings = SampleQualitySettings(n_samples=n, cache=False)
    t0 = time.perf_counter()
    res = sample_quality(model, settings)
    total = time.perf_counter() - t0
    t0 = time.perf_counter()
    sample_quality(model, settings, reference=res.reference)
    per_model = time.perf_counter() - t0
    return {"classifier_features_images_per_s": round(per_s, 1),
            "sample_quality_10k_s": round(total, 2),
            "sample_quality_10k_stages_s": {k: round(v, 2) for k, v in res.seconds.items()},
            "sample_quality_10k_per_model_s": round(per_model, 2),
            "sample_quality_torch_threads": torch.get_num_threads()}
