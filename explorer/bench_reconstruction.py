"""Benchmark section "reconstruction": evaluation throughput of the demo VAE and GAN inversion speed."""

from __future__ import annotations

import time

import numpy as np

from explorer.bench import demo_vae, section


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
        ``gan_inversion_s_per_image``: seconds per image of `explorer.core.inversion.invert`
        with default settings (200 Adam steps, 4 restarts, batch 64) on ``n_invert`` images
        with the demo DCGAN (resources/checkpoints/dcgan_fashion.pt).
    """
    import resources
    from explorer.core.inversion import invert
    from explorer.core.reconstruction import reconstruction_report
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
            "gan_inversion_s_per_image": round(inv_s / len(xi), 4)}
