"""Tests for explorer.core.reconstruction.inversion: recovering a known z, never worse than the start,
weights untouched."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from explorer.core.codes import decode_codes
from explorer.core.jobs import Cancelled, JobContext
from explorer.core.reconstruction.inversion import (
    INVERSION_METHODS,
    CodeSource,
    InversionSettings,
    compare_encoder_and_inversion,
    inversion_objective,
    invert,
)
from explorer.core.reconstruction.reconstruct import psnr, ssim
from tests.core.generators import TinyGenerator

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture()
def gen():
    return TinyGenerator()


@pytest.fixture(scope="module")
def z_true():
    return torch.randn(5, 4, generator=torch.Generator().manual_seed(42)).numpy()


def test_recovers_known_codes(gen, z_true):
    x = decode_codes(gen, z_true)
    res = invert(gen, x, steps=300, restarts=4, lr=0.05, prior_weight=0.0)
    assert res.codes.shape == (5, 4) and res.codes.dtype == np.float32
    assert np.abs(res.codes - z_true).max() < 0.05  # prior scale is 1
    assert res.mse.max() < 1e-5
    assert res.source is CodeSource.INVERTED
    # The reported MSE is that of the returned codes. Both are float32 noise here (about 1e-15): pixels in
    # [0, 1] resolve to one ulp (1.2e-7 near 1), so a pixel MSE is only defined to about (k ulp)^2, and the
    # batch of 20 inside `invert` and the batch of 5 here take other GEMM kernels (AVX-512 vs AVX2 rounding
    # differed by 1 %). atol 1e-12 (~8 ulp per pixel) absorbs that; codes moved by only 1e-5 give 2e-11.
    recomputed = ((decode_codes(gen, res.codes) - x) ** 2).mean(axis=(1, 2, 3))
    assert recomputed.max() < 1e-10  # G(z*) reproduces the images to float32 precision (RMS < 1e-5)
    np.testing.assert_allclose(res.mse, recomputed, rtol=1e-4, atol=1e-12)


@pytest.mark.parametrize("method", INVERSION_METHODS)
@pytest.mark.parametrize("lr", [0.05, 5.0])  # even a wild learning rate never ends worse than the start
def test_never_worse_than_initialisation(gen, lr, method):
    x = np.random.default_rng(0).random((6, 1, 12, 12)).astype(np.float32)
    res = invert(gen, x, steps=20, restarts=3, lr=lr, method=method)
    assert np.all(res.losses <= res.initial_losses)
    if lr < 1:  # a wild step from the best of 4,096 prior draws may find nothing better: never worse is the claim
        assert res.losses.mean() < res.initial_losses.mean()
    assert np.all(np.diff(res.history) <= 1e-12) and res.history.shape == (21,)
    loss, mse = inversion_objective(gen, torch.from_numpy(res.codes), torch.from_numpy(x), 1e-3)
    np.testing.assert_allclose(res.losses, loss.detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(res.losses - res.mse, 1e-3 * (res.codes.astype(np.float64) ** 2).mean(1),
                               rtol=1e-4, atol=1e-7)


def test_objective_definition(gen):
    z = torch.randn(3, 4, generator=torch.Generator().manual_seed(1))
    x = torch.rand(3, 1, 12, 12, generator=torch.Generator().manual_seed(2))
    loss, mse = inversion_objective(gen, z, x, 0.5)
    ref_mse = ((gen.decode(z) - x) ** 2).mean(dim=(1, 2, 3))
    np.testing.assert_allclose(mse.detach().numpy(), ref_mse.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(loss.detach().numpy(), (ref_mse + 0.5 * (z**2).sum(1) / 4).detach().numpy(), rtol=1e-6)


def test_weights_modes_and_flags_restored(gen):
    gen.train()
    gen.lin.bias.requires_grad_(False)  # mixed flags must come back as they were
    before = {k: v.clone() for k, v in gen.state_dict().items()}
    x = np.random.default_rng(1).random((3, 1, 12, 12)).astype(np.float32)
    invert(gen, x, steps=10, restarts=2)
    for k, v in gen.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert gen.training and gen.norm.training
    assert gen.lin.weight.requires_grad and not gen.lin.bias.requires_grad
    assert gen.lin.weight.grad is None


@pytest.mark.parametrize("method", INVERSION_METHODS)
def test_seeded_and_independent_of_batch_size(gen, method):
    x = np.random.default_rng(2).random((5, 1, 12, 12)).astype(np.float32)
    a = invert(gen, x, steps=15, restarts=2, batch_size=5, seed=3, method=method)
    b = invert(gen, x, steps=15, restarts=2, batch_size=2, seed=3, method=method)
    c = invert(gen, x, steps=15, restarts=2, batch_size=5, seed=4, method=method)
    np.testing.assert_allclose(a.codes, b.codes, atol=1e-5)
    assert not np.allclose(a.codes, c.codes)


@pytest.mark.parametrize("method", INVERSION_METHODS)
def test_zero_steps_returns_best_prior_draw(gen, method):
    x = np.random.default_rng(3).random((2, 1, 12, 12)).astype(np.float32)
    res = invert(gen, x, steps=0, restarts=3, method=method)
    np.testing.assert_array_equal(res.losses, res.initial_losses)


def test_cancel_restores_model(gen):
    x = np.random.default_rng(4).random((2, 1, 12, 12)).astype(np.float32)
    ctx = JobContext(lambda f, m: ctx.cancel() if f > 0.2 else None)
    with pytest.raises(Cancelled):
        invert(gen, x, ctx=ctx, steps=50)
    assert gen.lin.weight.requires_grad


def test_progress_reaches_one(gen):
    seen = []
    invert(gen, np.zeros((3, 1, 12, 12), np.float32), steps=4, batch_size=2,
           ctx=JobContext(lambda f, m: seen.append(f)))
    assert seen[-1] == pytest.approx(1.0) and len(seen) == 8


def test_errors(gen):
    with pytest.raises(ValueError, match="do not fit"):
        invert(gen, np.zeros((1, 1, 28, 28), np.float32))
    with pytest.raises(ValueError, match="restarts"):
        InversionSettings(restarts=0)

    class NoGrad(TinyGenerator):
        def decode(self, z):
            with torch.no_grad():
                return super().decode(z)

    with pytest.raises(ValueError, match="no gradient"):
        invert(NoGrad(), np.zeros((1, 1, 12, 12), np.float32), steps=2)
    with pytest.raises(ValueError, match="no encoder"):
        compare_encoder_and_inversion(gen, np.zeros((1, 1, 12, 12), np.float32))


def test_code_source_is_json_string():
    assert json.dumps({"codes": CodeSource.INVERTED}) == '{"codes": "inverted"}'
    assert CodeSource("encoder") is CodeSource.ENCODER


def test_compare_encoder_and_inversion(z_true):
    model = TinyGenerator(with_encoder=True)
    x = decode_codes(model, z_true)
    cmp = compare_encoder_and_inversion(model, x, steps=40, restarts=2, prior_weight=0.0, init_from_encoder=True)
    rec_e = decode_codes(model, model.encode(torch.from_numpy(x)).numpy())
    np.testing.assert_allclose(cmp.encoder_psnr, psnr(x, rec_e))
    np.testing.assert_allclose(cmp.encoder_ssim, ssim(x, rec_e))
    np.testing.assert_allclose(cmp.inverted_psnr, psnr(x, decode_codes(model, cmp.inverted_codes)))
    # started from E(x) with λ = 0: the inverted fit is never worse than the encoder's
    assert np.all(cmp.inverted_psnr >= cmp.encoder_psnr - 1e-6)
    d = cmp.to_dict()
    assert set(d) == {"n_images", "encoder", "inverted", "inversion"} and d["n_images"] == 5
    json.dumps(d)


def test_real_dcgan_generator_untouched():
    from models.dcgan import DCGAN

    torch.manual_seed(0)
    gan = DCGAN(4, (1, 28, 28), g_width=8, d_width=8)
    gan.train()
    before = {k: v.clone() for k, v in gan.state_dict().items()}
    x = np.random.default_rng(5).random((2, 1, 28, 28)).astype(np.float32)
    res = invert(gan, x, steps=3, restarts=2)
    assert all(torch.equal(v, before[k]) for k, v in gan.state_dict().items())  # BN running stats too
    assert all(m.training for m in gan.modules())
    assert np.all(res.losses <= res.initial_losses)


def test_compare_with_given_inverted_codes_optimises_nothing(z_true, monkeypatch):
    import explorer.core.reconstruction.inversion as inversion_module

    model = TinyGenerator(with_encoder=True)
    x = decode_codes(model, z_true)
    monkeypatch.setattr(inversion_module, "invert", lambda *a, **k: pytest.fail("inverted again"))
    cmp = compare_encoder_and_inversion(model, x, InversionSettings(steps=7), inverted_codes=z_true)
    assert cmp.inversion is None and cmp.settings.steps == 7 and cmp.to_dict()["inversion"]["steps"] == 7
    assert np.all(np.isinf(cmp.inverted_psnr))  # the true codes reproduce the images exactly
    with pytest.raises(ValueError, match="inverted_codes must have shape"):
        compare_encoder_and_inversion(model, x, inverted_codes=z_true[:2])
