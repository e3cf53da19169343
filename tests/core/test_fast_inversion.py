"""Tests for explorer.core.reconstruction.fast_inversion: bank screening, successive halving, PSNR vs the baseline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import resources
from explorer.core.codes import decode_codes
from explorer.core.reconstruction.fast_inversion import bank_restarts, halving_schedule, prior_bank
from explorer.core.reconstruction.inversion import (
    BASELINE_INVERSION,
    InversionSettings,
    invert,
    measured_seconds_per_image,
)
from explorer.core.reconstruction.inverted import InvertedCodesStore, inverted_store_key
from explorer.core.reconstruction.metrics import psnr
from tests.core.generators import TinyGenerator

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_halving_schedule():
    assert halving_schedule(4, 200) == [(5, 2), (10, 1)]
    assert halving_schedule(5, 400) == [(10, 3), (20, 2), (40, 1)]
    assert halving_schedule(1, 200) == [] and halving_schedule(4, 0) == []
    assert halving_schedule(4, 2) == [(1, 2)]  # too few steps to halve twice: two restarts run to the end


def test_bank_restarts_are_the_lowest_objective_of_a_direct_loop():
    gen = TinyGenerator()
    bank_z, bank_x = prior_bank(gen, 50, seed=1)
    np.testing.assert_allclose(bank_x, decode_codes(gen, bank_z).reshape(50, -1), rtol=1e-6, atol=1e-7)
    x = np.random.default_rng(0).random((3, 144)).astype(np.float32)
    pick = bank_restarts(x, bank_z, bank_x, 4, 1e-3)
    for i in range(3):
        obj = [((bank_x[k].astype(np.float64) - x[i]) ** 2).mean() + 1e-3 * (bank_z[k].astype(np.float64) ** 2).mean()
               for k in range(50)]
        np.testing.assert_array_equal(pick[i], np.argsort(obj, kind="stable")[:4])


def test_faster_inversion_is_within_the_psnr_margin_of_the_baseline():
    """Demo DCGAN, 8 test images, 60 steps each way: ours (bank + halving) ≥ baseline − 0.2 dB."""
    path = resources.path("checkpoints", "dcgan_fashion.pt")
    assert path.is_file(), f"the bundled demo checkpoint {path} is missing"
    from explorer.data import fit_to_model, load_dataset
    from models.loading import load_any

    model, _ = load_any(path)
    ds = fit_to_model(load_dataset("fashion-mnist", split="test", path=resources.path("data", "fashion-mnist")),
                      model.image_shape)
    x = ds.images[:8]
    base = invert(model, x, BASELINE_INVERSION, steps=60)
    ours = invert(model, x, InversionSettings(steps=60, bank_size=1024))
    p_base = float(psnr(x, decode_codes(model, base.codes)).mean())
    p_ours = float(psnr(x, decode_codes(model, ours.codes)).mean())
    assert p_ours >= p_base - 0.2, (p_ours, p_base)
    assert measured_seconds_per_image(model, InversionSettings(steps=60, bank_size=1024, seed=5)) > 0


def test_methods_never_share_cached_codes(tmp_path):
    gen = TinyGenerator()
    images = decode_codes(gen, torch.randn(6, 4, generator=torch.Generator().manual_seed(0)).numpy())
    fast = InversionSettings(steps=5, restarts=2, bank_size=64)
    slow = InversionSettings(steps=5, restarts=2, bank_size=64, method="adam")
    assert inverted_store_key("m", "d", fast) != inverted_store_key("m", "d", slow)
    InvertedCodesStore(gen, "m", "d", 6, fast, tmp_path).get([0, 1], images[:2])
    assert InvertedCodesStore(gen, "m", "d", 6, fast, tmp_path).n_done == 2
    assert InvertedCodesStore(gen, "m", "d", 6, slow, tmp_path).n_done == 0
