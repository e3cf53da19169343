"""Benchmark section "likelihood": IWAE throughput against a bare torch loop, and AIS time per image."""

from __future__ import annotations

import math
import statistics
import time

import numpy as np

from explorer.bench.registry import demo_vae, section

#: Images of the IWAE figure and of the AIS figure (AIS at default settings is ≈ 40,000 decoder
#: gradients per image, so the bench measures only a few images).
IWAE_IMAGES, AIS_IMAGES = 20, 2


def iwae_seconds(model, ds, repeats: int = 3, k: int = 1000) -> float:
    """Median wall seconds of `estimate_likelihood` (IWAE ``k``, the first ``IWAE_IMAGES`` images of ``ds``).

    Parameters
    ----------
    model : GenerativeModel
        On the device to measure (`explorer.core.device.place_model`).
    ds : explorer.data.Dataset
        Fitted to the model.
    repeats, k : int
    """
    from explorer.core.likelihood import LikelihoodSettings, estimate_likelihood

    settings = LikelihoodSettings(n_images=IWAE_IMAGES, iwae_k=(k,), seed=0)
    estimate_likelihood(model, ds, settings)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        estimate_likelihood(model, ds, settings)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


@section("likelihood")
def bench_likelihood(repeats: int = 3) -> dict:
    """IWAE k = 1,000 on the demo VAE (ours vs a bare torch loop), and AIS on the demo DCGAN.

    Returns ``iwae_k1000_images_per_s`` (`estimate_likelihood`, IWAE k = 1,000, ``IWAE_IMAGES``
    test images, median of ``repeats``), ``iwae_ratio_vs_bare_torch`` (our images/s ÷ those of
    a plain torch loop computing the same bound — encoder, reparameterised draws, decoder,
    Bernoulli log-likelihood, float64 logsumexp — in the same run, alternating; goal ≥ 0.8)
    and ``ais_s_per_image`` (forward AIS at the default T, chains and leapfrog steps, σ = 0.1
    given, on ``AIS_IMAGES`` test images of the demo DCGAN; choosing σ and the BDMC check
    are not timed).
    """
    import torch
    import torch.nn.functional as F

    from explorer.core.likelihood import LikelihoodSettings, estimate_likelihood
    from explorer.core.likelihood.run import DEFAULT_BATCH_CODES

    k = 1000
    model, ds = demo_vae()
    settings = LikelihoodSettings(n_images=IWAE_IMAGES, iwae_k=(k,), seed=0)
    x = torch.from_numpy(np.ascontiguousarray(ds.images[:IWAE_IMAGES]))
    d = model.latent_dim
    per_call = max(1, DEFAULT_BATCH_CODES // k)
    log_2pi = math.log(2 * math.pi)

    def bare():
        g = torch.Generator().manual_seed(0)
        out = []
        with torch.inference_mode():
            for i in range(0, len(x), per_call):
                xb = x[i:i + per_call]
                b = len(xb)
                mu, logvar = model.encoder(xb).chunk(2, dim=1)
                eps = torch.randn(b, k, d, generator=g)
                z = (mu[:, None] + (0.5 * logvar).exp()[:, None] * eps).reshape(b * k, d)
                logits = model.decoder(z)
                xr = xb[:, None].expand(b, k, *xb.shape[1:]).reshape(b * k, *xb.shape[1:])
                lpx = -F.binary_cross_entropy_with_logits(logits, xr, reduction="none").flatten(1).sum(
                    1, dtype=torch.float64)
                z64, e64 = z.double().view(b, k, d), eps.double()
                log_pz = -0.5 * (z64.pow(2) + log_2pi).sum(-1)
                log_qz = -0.5 * (e64.pow(2) + logvar.double()[:, None] + log_2pi).sum(-1)
                out.append(torch.logsumexp(lpx.view(b, k) + log_pz - log_qz, dim=1) - math.log(k))
        return torch.cat(out)

    def ours():
        return estimate_likelihood(model, ds, settings)

    ours()  # warm-up
    bare()
    ours_t, bare_t = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ours()
        ours_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        bare()
        bare_t.append(time.perf_counter() - t0)
    ours_s, bare_s = statistics.median(ours_t), statistics.median(bare_t)

    import resources
    from explorer.data import fit_to_model, load_dataset
    from models.loading import load_any

    gan, _ = load_any(resources.path("checkpoints", "dcgan_fashion.pt"))
    gds = fit_to_model(load_dataset("fashion-mnist", split="test", path=resources.path("data", "fashion-mnist")),
                       gan.image_shape)
    ais = LikelihoodSettings(estimator="ais", n_images=AIS_IMAGES, sigma=0.1, bdmc_images=0, seed=0)
    t0 = time.perf_counter()
    estimate_likelihood(gan, gds, ais)
    ais_s = (time.perf_counter() - t0) / AIS_IMAGES
    print(f"  (iwae: demo VAE, k = {k:,}, {IWAE_IMAGES} test images, median of {repeats}; ais_s_per_image: demo "
          f"DCGAN, {AIS_IMAGES} test images, T = {ais.ais_steps:,}, {ais.ais_chains} chains, {ais.leapfrog_steps} "
          f"leapfrog steps, σ = 0.1 given — choosing σ and BDMC not timed; torch threads {torch.get_num_threads()})",
          flush=True)
    return {"iwae_k1000_images_per_s": round(IWAE_IMAGES / ours_s, 2),
            "iwae_ratio_vs_bare_torch": round(bare_s / ours_s, 3),
            "ais_s_per_image": round(ais_s, 1)}
