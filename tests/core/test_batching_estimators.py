"""The likelihood estimators and GAN inversion on a (simulated) GPU: batches halve after an out-of-memory error, numbers
unchanged."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from explorer.core import batching
from explorer.core.batching import DeviceMemoryError
from explorer.core.likelihood import ais_log_likelihood, bdmc, log_importance_weights
from explorer.core.likelihood.bounds import draw_eps
from explorer.core.likelihood.units import image_generator

OOM = torch.cuda.OutOfMemoryError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def fresh_memory(monkeypatch):
    monkeypatch.setattr(batching, "_WORKED", {})
    monkeypatch.setattr(batching, "_empty_cache", lambda device: None)  # no CUDA here


class _Memory:
    """A device's memory in the test: calls with more than ``limit`` rows raise torch's CUDA out-of-memory error;
    the limit drops to ``later`` after ``fits`` successful calls (memory taken by something else, mid-run)."""

    def __init__(self, limit, later=None, fits=None):
        self.limit, self.later, self.fits = limit, later, fits
        self.ok, self.failed = [], 0

    def __call__(self, rows):
        if self.fits is not None and len(self.ok) >= self.fits:
            self.limit = self.later
        if rows > self.limit:
            self.failed += 1
            raise OOM("CUDA out of memory. Tried to allocate 1.00 GiB")
        self.ok.append(rows)


# q(z|x) = N(tanh(x₀ + x₁), exp(logvar)) and log p(x|z) elementwise in z: every row is computed on its own, so
# the weights are the same bits whatever the batch
def _posterior(x):
    mu = torch.stack([torch.tanh(x[:, 0] + x[:, 1]), 0.5 * x[:, 2]], dim=1)
    return mu, torch.full_like(mu, -1.0) + 0.1 * x[:, :2]


def _log_px(x, z):
    return -0.5 * ((x[:, :2] - z) ** 2).sum(1) - 0.25 * (x[:, 2:] ** 2).sum(1)


def _weights(n=10, k=50, seed=0, **kw):
    x = torch.linspace(-1, 1, n * 4).reshape(n, 4)
    eps = draw_eps([image_generator(seed, i) for i in range(n)], k, 2)
    return log_importance_weights(kw.pop("posterior", _posterior), kw.pop("log_px", _log_px), x, eps, **kw)


def test_iwae_weights_halved_mid_run_on_a_gpu_equal_the_cpus():
    cpu = _weights(batch_codes=2048).numpy()
    # the same weights by a direct loop over (image, sample), in float64
    x = torch.linspace(-1, 1, 40).reshape(10, 4)
    eps = draw_eps([image_generator(0, i) for i in range(10)], 50, 2)
    mu, lv = _posterior(x)
    direct = np.empty((10, 50))
    for i in range(10):
        for j in range(50):
            z = (mu[i] + (0.5 * lv[i]).exp() * eps[i, j])[None]
            zd, ed, lvd = z.double(), eps[i, j].double(), lv[i].double()
            log_q = -0.5 * (ed ** 2 + lvd + math.log(2 * math.pi)).sum()
            log_p = -0.5 * (zd ** 2 + math.log(2 * math.pi)).sum()
            direct[i, j] = float(_log_px(x[i:i + 1], z)[0].double() + log_p - log_q)
    np.testing.assert_allclose(cpu, direct, rtol=0, atol=1e-5)  # float32 decoder terms

    mem = _Memory(limit=120, later=16, fits=6)  # whole images at first, then blocks of samples of one image
    decoded = []

    def posterior(xb):
        mem(len(xb))
        return _posterior(xb)

    def log_px(xb, z):
        mem(len(z))
        decoded.append(len(z))
        return _log_px(xb, z)

    gpu = _weights(batch_codes=2048, device="cuda:0", posterior=posterior, log_px=log_px).numpy()
    np.testing.assert_array_equal(gpu, cpu)  # every weight computed, the same bits
    # 500 codes → 250 → 125 (two images, 100 codes, fits) → the memory shrinks → 62 → 31 → 15 samples of one image
    assert mem.failed == 5 and decoded[:2] == [100, 100] and set(decoded[2:]) == {15, 5}
    assert sum(decoded) == 10 * 50  # each (image, sample) decoded exactly once
    assert batching.start_batch("cuda:0", 2048, 500, "IWAE") == 15  # the next call starts where this one ended


def test_iwae_on_the_cpu_keeps_the_callers_batches():
    sizes = []

    def log_px(xb, z):
        sizes.append(len(z))
        return _log_px(xb, z)

    _weights(n=5, k=7, batch_codes=16, log_px=log_px)
    assert sizes == [14, 14, 7]  # two images (14 codes) per call, as before
    sizes.clear()
    _weights(n=2, k=7, batch_codes=3, log_px=log_px)
    assert sizes == [3, 3, 1, 3, 3, 1]


def test_one_code_that_does_not_fit_is_one_sentence():
    def log_px(xb, z):
        raise OOM("CUDA out of memory.")

    with pytest.raises(DeviceMemoryError) as info:
        _weights(n=2, k=3, device="cuda:1", log_px=log_px)
    text = str(info.value)
    assert "IWAE" in text and "cuda:1" in text and "--device cpu" in text and "\n" not in text


def _decoder(mem):
    def decode(z):
        mem(len(z))
        return torch.cat([torch.tanh(z), 0.5 * z * z], dim=1)  # elementwise: the same bits in any batch
    return decode


def test_ais_and_bdmc_split_the_decoder_calls_on_a_gpu_with_the_same_numbers():
    y = torch.linspace(-0.5, 0.5, 12).reshape(3, 4)
    cpu_mem, gpu_mem = _Memory(10**9), _Memory(limit=5)
    kw = dict(n_steps=6, n_chains=4, leapfrog_steps=3)
    cpu = ais_log_likelihood(_decoder(cpu_mem), y, 2, 0.3, generator=torch.Generator().manual_seed(5), **kw)
    gpu = ais_log_likelihood(_decoder(gpu_mem), y, 2, 0.3, generator=torch.Generator().manual_seed(5),
                             device="cuda:0", **kw)
    np.testing.assert_array_equal(gpu.log_w, cpu.log_w)
    np.testing.assert_array_equal(gpu.step_size, cpu.step_size)
    assert set(cpu_mem.ok) == {12} and max(gpu_mem.ok) <= 5 and gpu_mem.failed > 0
    assert sum(gpu_mem.ok) == sum(cpu_mem.ok)  # every chain's code decoded once per call of the CPU run
    cpu_b = bdmc(_decoder(_Memory(10**9)), 2, 0.3, 2, generator=torch.Generator().manual_seed(1), **kw)
    gpu_b = bdmc(_decoder(_Memory(3)), 2, 0.3, 2, generator=torch.Generator().manual_seed(1), device="cuda:0", **kw)
    np.testing.assert_array_equal(gpu_b.lower_nats, cpu_b.lower_nats)
    np.testing.assert_array_equal(gpu_b.upper_nats, cpu_b.upper_nats)


class _OnAGpu:
    """A tiny VAE whose every call raises CUDA's out-of-memory error above ``limit`` rows (its device faked)."""

    kind, has_encoder, likelihood, sigma = "vae", True, "gaussian", 0.1

    def __init__(self, limit):
        from models.vae import VAE

        torch.manual_seed(0)
        self.inner = VAE(4, (1, 8, 8), channels=[8], hidden=16, likelihood="gaussian").eval()
        self.latent_dim, self.image_shape, self.mem = 4, (1, 8, 8), _Memory(limit)

    def posterior(self, x):
        self.mem(len(x))
        return self.inner.posterior(x)

    def log_px_given_z(self, x, z):
        self.mem(len(z))
        return self.inner.log_px_given_z(x, z)

    def decode(self, z):
        self.mem(len(z))
        return self.inner.decode(z)

    def sample_prior(self, n, generator=None):
        return self.inner.sample_prior(n, generator)


@pytest.mark.parametrize("estimator", ["iwae", "ais", "kde"])
def test_the_estimators_on_a_small_gpu_give_the_cpus_numbers(estimator, monkeypatch):
    from explorer.core import device as device_module
    from explorer.core.likelihood.run import LikelihoodSettings, estimate_likelihood
    from explorer.data import Dataset

    x = np.round(np.random.default_rng(0).uniform(size=(40, 1, 8, 8)) * 255) / 255
    ds = Dataset(images=x.astype(np.float32), labels=None, name="synthetic")
    s = LikelihoodSettings(estimator=estimator, n_images=12, iwae_k=(1, 30), ais_steps=4, ais_chains=8, sigma=0.2,
                           bdmc_images=2, kde_samples=1500, kde_validation=10, batch_codes=64)
    on_cpu = _OnAGpu(limit=10**9)
    cpu = estimate_likelihood(on_cpu, ds, s)
    monkeypatch.setattr(device_module, "model_device", lambda model: torch.device("cuda:0"))
    small = _OnAGpu(limit=40)
    gpu = estimate_likelihood(small, ds, s)
    assert small.mem.failed > 0 and max(small.mem.ok) <= 40 < max(on_cpu.mem.ok)
    # the same codes through a float32 decoder in other batches: equal to float32 rounding of the decoder
    np.testing.assert_allclose(gpu.nll_nats, cpu.nll_nats, rtol=1e-6)
    if estimator == "ais":
        np.testing.assert_allclose(gpu.bdmc_upper_nats, cpu.bdmc_upper_nats, rtol=1e-6)


class _SmallGpuGenerator:
    """Mix-in: ``decode`` raises CUDA's out-of-memory error above ``mem.limit`` codes."""

    def decode(self, z):
        self.mem(len(z))
        return super().decode(z)


def _on_a_gpu(monkeypatch, what="GAN inversion"):
    """Batches of ``what`` sized as on cuda:0 (the tensors stay on the CPU)."""
    real = batching.run_batched

    def run_batched(n, batch_size, step, device="cpu", kind="", *args, **kwargs):
        return real(n, batch_size, step, "cuda:0" if kind == what else device, kind, *args, **kwargs)

    monkeypatch.setattr(batching, "run_batched", run_batched)


@pytest.mark.parametrize("method", ["adam", "bank-halving"])
def test_inversion_halved_mid_run_on_a_gpu_gives_the_cpus_codes(method, monkeypatch):
    from explorer.core.reconstruction.inversion import invert
    from tests.core.generators import TinyGenerator

    class Generator(_SmallGpuGenerator, TinyGenerator):
        pass

    x = np.random.default_rng(2).random((7, 1, 12, 12)).astype(np.float32)
    kw = dict(steps=10, restarts=2, seed=3, method=method, bank_size=16)
    cpu_gen = Generator()
    cpu_gen.mem = _Memory(10**9)
    cpu = invert(cpu_gen, x, batch_size=5, **kw)
    _on_a_gpu(monkeypatch)
    gen = Generator()
    # 7 images × 2 restarts = 14 codes: too many; 3 images (6 codes) fit, then the memory shrinks to 2 codes
    gen.mem = _Memory(limit=6)
    batches = []

    def on_batch(start, stop, part):
        batches.append((start, stop))
        gen.mem.limit = 2  # after the first batch

    gpu = invert(gen, x, batch_size=5, on_batch=on_batch, **kw)
    assert batches == [(0, 3), (3, 4), (4, 5), (5, 6), (6, 7)]  # each image once
    assert max(gen.mem.ok[-11:]) == 2 and gen.mem.failed >= 2
    # per-image starts and a per-code objective: the same codes as the CPU's batch of 5 (float32 decoder rounding)
    np.testing.assert_allclose(gpu.codes, cpu.codes, atol=1e-5)
    np.testing.assert_allclose(gpu.losses, cpu.losses, rtol=1e-5)
    np.testing.assert_allclose(gpu.history, cpu.history, rtol=1e-5)
    assert gen.lin.weight.requires_grad  # the model restored


def test_an_image_that_does_not_fit_for_inversion_is_one_sentence(monkeypatch):
    from explorer.core.reconstruction.inversion import invert
    from tests.core.generators import TinyGenerator

    class Generator(_SmallGpuGenerator, TinyGenerator):
        pass

    _on_a_gpu(monkeypatch)
    gen = Generator()
    gen.mem = _Memory(limit=1)  # the bank's decoding fits (one code at a time); 2 restarts of one image do not
    with pytest.raises(DeviceMemoryError) as info:
        invert(gen, np.zeros((3, 1, 12, 12), np.float32), steps=2, restarts=2, bank_size=4)
    text = str(info.value)
    assert "GAN inversion" in text and "cuda:0" in text and "--device cpu" in text and "\n" not in text
    assert gen.lin.weight.requires_grad
