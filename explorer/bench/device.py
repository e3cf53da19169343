"""Benchmark section "device": encode, IWAE and GAN-inversion speed on the device ``bench --device`` names.

``latent-explorer bench --only device --device cuda`` on a GPU machine (the other sections keep
the CPU). The figures come from the same code as the sections "encode", "likelihood" and
"inversion" (`encode_seconds`, `iwae_seconds`, the inversion section's timing), with the demo
models moved to the device; they are written under ``"device"`` so that they do not replace the
CPU figures of those sections in the same run.
"""

from __future__ import annotations

import os

from explorer.bench.registry import demo_vae, section

__all__ = ["bench_device", "N_ENV"]

#: Environment variable with the number of test images to invert on the device (default 200).
N_ENV = "LATENT_EXPLORER_BENCH_DEVICE_INVERSION_N"


@section("device", takes_device=True)
def bench_device(device=None) -> dict:
    """Throughput of the demo models on ``device`` (a `torch.device`; None: the CPU).

    Returns
    -------
    dict
        ``{"device": {"name", "encode_images_per_s" (demo VAE, 10,000 test images, median of 5),
        "iwae_k1000_images_per_s" (demo VAE, IWAE k = 1,000 on 20 test images, median of 3),
        "gan_inversion_s_per_image" (demo DCGAN, `InversionSettings()` defaults, wall seconds
        per image over N test images), "gan_inversion_n_images", "torch_threads"}}``.
    """
    import torch

    import resources
    from explorer.bench.encode import encode_seconds
    from explorer.bench.inversion import _run
    from explorer.bench.likelihood import IWAE_IMAGES, iwae_seconds
    from explorer.core.device import place_model
    from explorer.core.reconstruction.inversion import InversionSettings
    from explorer.data import fit_to_model, load_dataset
    from models.loading import load_any

    model, ds = demo_vae()  # loaded onto the CPU (map_location), then moved
    where = place_model(model, device)
    encode_s = encode_seconds(model, ds.images)
    iwae_s = iwae_seconds(model, ds)
    gan, _ = load_any(resources.path("checkpoints", "dcgan_fashion.pt"))
    place_model(gan, device)
    gds = fit_to_model(load_dataset("fashion-mnist", split="test", path=resources.path("data", "fashion-mnist")),
                       gan.image_shape)
    n = int(os.environ.get(N_ENV) or 200)
    x = gds.images[:n]
    inv_s = _run(gan, x, InversionSettings())[0]
    print(f"  (on {where}: encode {len(ds):,} test images, IWAE k = 1,000 on {IWAE_IMAGES}, GAN inversion of {len(x)} "
          f"at the default settings; torch threads {torch.get_num_threads()})", flush=True)
    return {"device": {"name": str(where), "encode_images_per_s": round(len(ds) / encode_s, 1),
                       "iwae_k1000_images_per_s": round(IWAE_IMAGES / iwae_s, 2),
                       "gan_inversion_s_per_image": round(inv_s, 4), "gan_inversion_n_images": len(x),
                       "torch_threads": torch.get_num_threads()}}
