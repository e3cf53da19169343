"""Benchmark section "reconstruction": evaluation throughput of the demo VAE and GAN inversion speed."""

from __future__ import annotations

import time

import numpy as np

from explorer.bench.registry import demo_vae, section


@section("reconstruction")
def bench_reconstruction(n_eval: int = 1000, n_invert: int = 16) -> dict:
    """Reconstruction figures.

    Returns
    -------
    dict
        ``reconstruction_eval_images_per_s``: images per second of
        `explorer.core.reconstruction.reconstruction_report` on ``n_eval`` Fashion-MNIST
        test images with the demo VAE (resources/checkpoints/vae_fashion.pt) at float32,
        full metrics: encode, decode, PSNR, SSIM and the JPEG baseline matched to the ratio.
        ``gan_inversion_s_per_image``: seconds per image of `explorer.core.reconstruction.inversion.invert`
        with default settings (200 Adam steps, 4 restarts, batch 64) on ``n_invert`` images
        with the demo DCGAN (resources/checkpoints/dcgan_fashion.pt).
        ``gan_inverted_points_cached_s``: seconds to rebuild the embedding points of 1,000
        dataset images at their inverted codes in a new session, when the codes are in the
        cache (`explorer.core.reconstruction.inverted.inverted_dataset_codes`: read the store, fit the
        images, decode ``G(z)`` for the hover), median of 3 — what "Dataset images,
        inverted z" costs the second time.
    """
    import resources
    from explorer.core.reconstruction.inversion import invert
    from explorer.core.reconstruction.reconstruct import reconstruction_report
    from models.loading import load_any

    model, ds = demo_vae()
    x = np.ascontiguousarray(ds.images[:n_eval])
    reconstruction_report(model, x[:50], "float32")  # warm-up
    t0 = time.perf_counter()
    reconstruction_report(model, x, "float32")
    eval_s = time.perf_counter() - t0

    gan, _ = load_any(resources.path("checkpoints", "dcgan_fashion.pt"))
    xi = np.ascontiguousarray(ds.images[:n_invert])
    invert(gan, xi[:2], steps=2, restarts=1)  # warm-up
    t0 = time.perf_counter()
    invert(gan, xi)
    inv_s = time.perf_counter() - t0
    return {"reconstruction_eval_images_per_s": round(len(x) / eval_s, 1),
            "gan_inversion_s_per_image": round(inv_s / len(xi), 4),
            "gan_inverted_points_cached_s": round(_cached_inverted_points(gan, ds), 4)}


def _cached_inverted_points(gan, ds, n: int = 1000) -> float:
    """Median seconds of `inverted_dataset_codes` for ``n`` images whose codes are on disk."""
    import tempfile

    from explorer.core.reconstruction.inversion import InversionSettings
    from explorer.core.reconstruction.inverted import InvertedCodesStore, inverted_dataset_codes
    from explorer.core.workspace import dataset_identity

    # 0 Adam steps (the best of one prior draw) fills the cache in a second instead of minutes;
    # reopening does not depend on how the codes were found
    did, settings = dataset_identity(ds), InversionSettings(steps=0, restarts=1)
    with tempfile.TemporaryDirectory(prefix="bench-inverted-") as folder:
        inverted_dataset_codes(InvertedCodesStore(gan, "bench", did, len(ds), settings, folder), ds, n, 0)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            again = InvertedCodesStore(gan, "bench", did, len(ds), settings, folder)
            codes = inverted_dataset_codes(again, ds, n, 0)
            times.append(time.perf_counter() - t0)
            assert len(codes.z) == n
    return float(np.median(times))
