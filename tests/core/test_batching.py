"""Batches sized to the device: the CPU keeps the caller's size, a GPU starts large and halves after an OOM."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.core import batching
from explorer.core.batching import DeviceMemoryError, is_out_of_memory, run_batched, start_batch


@pytest.fixture(autouse=True)
def fresh_memory(monkeypatch):
    monkeypatch.setattr(batching, "_WORKED", {})
    monkeypatch.setattr(batching, "_empty_cache", lambda device: None)  # no CUDA here


def _recording(limit=None):
    calls, done = [], np.zeros(0, int)

    def step(start, stop):
        if limit is not None and stop - start > limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        calls.append((start, stop))

    return calls, step, done


def test_the_cpu_keeps_the_callers_batches_in_order():
    calls, step, _ = _recording()
    seen = []
    assert run_batched(1234, 500, step, "cpu", "encode", seen.append) == 500
    assert calls == [(0, 500), (500, 1000), (1000, 1234)] and seen == [500, 1000, 1234]
    assert start_batch(torch.device("cpu"), 500, 10_000, "encode") == 500
    assert start_batch("cpu", 500, 30) == 30


def test_a_gpu_starts_large_halves_after_out_of_memory_and_remembers_what_worked():
    calls, step, _ = _recording(limit=300)
    n = 5000
    size = run_batched(n, 500, step, "cuda:3", "decode")
    assert size == 256  # 4096 → 2048 → 1024 → 512 → 256 ≤ 300
    covered = np.zeros(n, int)
    for start, stop in calls:  # only successful batches are recorded: each item exactly once
        covered[start:stop] += 1
    assert covered.tolist() == [1] * n and all(stop - start <= 256 for start, stop in calls)
    assert start_batch("cuda:3", 500, n, "decode") == 256  # the next call starts there
    assert start_batch("cuda:3", 500, n, "decode", memo=("VAE", (1, 28, 28))) == batching.GPU_START_BATCH
    assert start_batch("cuda:3", 500, n, "encode") == batching.GPU_START_BATCH  # another kind of work
    assert start_batch("cuda:0", 500, 100, "decode") == 100  # never more than asked for


def test_one_item_that_does_not_fit_is_one_sentence():
    _calls, step, _ = _recording(limit=0)
    with pytest.raises(DeviceMemoryError) as info:
        run_batched(10, 4, step, "cuda:0", "decode")
    text = str(info.value)
    assert "cuda:0" in text and "one item at a time" in text and "--device cpu" in text and "\n" not in text


def test_other_errors_and_the_cpus_memory_errors_are_not_retried():
    def broken(start, stop):
        raise ValueError("shape mismatch")

    with pytest.raises(ValueError, match="shape mismatch"):
        run_batched(10, 4, broken, "cuda:0")
    assert is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 20.00 MiB"))
    assert is_out_of_memory(RuntimeError("MPS backend out of memory (MPS allocated: 1 GB)"))
    assert not is_out_of_memory(MemoryError("cannot allocate"))
    assert not is_out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))


def test_feature_extraction_over_retried_batches_keeps_the_order(monkeypatch):
    from explorer.core.sample_quality.extractors import Extractor

    class Doubling(Extractor):
        name, num_features, has_logits, image_shape = "doubling (test)", 4, False, (1, 2, 2)

        def check_images(self, image_shape, what="the model's images"):
            pass

        def computes_on(self):
            return "cuda:1"

        def _batch(self, x):
            if len(x) > 3:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory.")
            return x.reshape(len(x), -1) * 2, None

    x = np.arange(10 * 4, dtype=np.float32).reshape(10, 1, 2, 2)
    f, lg = Doubling().run(x, batch_size=500)
    np.testing.assert_array_equal(f, x.reshape(10, -1).astype(np.float64) * 2)
    assert lg is None


def test_the_cpu_encoder_batch_is_about_half_a_mebibyte_of_input_a_thread_and_does_not_change_the_codes():
    import numpy as np
    import torch

    from explorer.core.codes import ENCODE_BATCH_BYTES, encode_batch, encode_images
    from models.vae import VAE

    # the largest power of two of images within threads × 512 KiB of float32, between 16 and 512
    assert ENCODE_BATCH_BYTES == 2**19
    shapes = ((1, 28, 28), (1, 64, 64), (3, 32, 32), (3, 128, 128), (1, 8, 8))
    assert [encode_batch(s) for s in shapes] == [128, 32, 32, 16, 512]
    assert [encode_batch(s, threads=2) for s in shapes] == [256, 64, 64, 16, 512]
    assert encode_batch((1, 28, 28), threads=0) == 128  # at least one thread
    torch.manual_seed(0)
    model = VAE(4, (1, 28, 28), hidden=16).eval()
    x = np.random.default_rng(0).random((300, 1, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(encode_images(model, x), encode_images(model, x, batch_size=7), rtol=0, atol=1e-5)
