"""Tests for explorer.core.reconstruction.reconstruct: ratios, PSNR/SSIM against scikit-image, reconstructions,
reports."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from explorer.core.codes import decode_codes, encode_images
from explorer.core.jobs import Cancelled, JobContext
from explorer.core.reconstruction.inversion import InversionSettings
from explorer.core.reconstruction.quantize import Quantizer, round_trip
from explorer.core.reconstruction.reconstruct import (
    code_bpp,
    compression_ratio,
    evaluate_reconstruction,
    image_bits,
    mean_ci,
    psnr,
    reconstruct,
    reconstruction_report,
    ssim,
    worst_best,
)
from models.vae import VAE

REF_SSIM = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def pairs():
    """Grey and RGB image pairs (N, C, H, W) in [0, 1]: smooth images and noisy copies."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:28, 0:28] / 27.0
    grey = np.stack([np.sin(3 * xx + i) * np.cos(2 * yy - i) * 0.5 + 0.5 for i in range(4)])[:, None]
    rgb = rng.random((3, 3, 32, 32))
    noisy = lambda a: np.clip(a + rng.normal(scale=0.1, size=a.shape), 0, 1)  # noqa: E731
    return (grey, noisy(grey)), (rgb, noisy(rgb))


@pytest.fixture(scope="module")
def vae():
    torch.manual_seed(0)
    return VAE(6, (1, 28, 28), hidden=32)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(1)
    return rng.random((5, 1, 28, 28)).astype(np.float32)


# -- ratios -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "precision, expected",
    [("float32", 28 * 28 * 1 * 8 / (16 * 32)), ("float16", 28 * 28 * 8 / (16 * 16)),
     ("8bit", 28 * 28 * 8 / (16 * 8)), ("4bit", 28 * 28 * 8 / (16 * 4)), ("3bit", 28 * 28 * 8 / (16 * 3))],
)
def test_compression_ratio_grey_28(precision, expected):
    assert compression_ratio((1, 28, 28), 16, precision) == expected
    bits = {"float32": 32, "float16": 16, "8bit": 8, "4bit": 4, "3bit": 3}[precision]
    assert code_bpp((1, 28, 28), 16, precision) == 16 * bits / (28 * 28)


def test_compression_ratio_exact_values():
    assert compression_ratio((1, 28, 28), 16, "float32") == 12.25
    assert compression_ratio((3, 64, 64), 128, "8bit") == 64 * 64 * 3 * 8 / (128 * 8) == 96.0
    assert image_bits((3, 64, 64)) == 98304
    for p in ("float32", "float16", "5bit"):  # 8·C bits per pixel / code bpp = ratio
        assert math.isclose(3 * 8 / code_bpp((3, 64, 64), 10, p), compression_ratio((3, 64, 64), 10, p))
    with pytest.raises(ValueError):
        compression_ratio((28, 28), 16, "float32")
    with pytest.raises(ValueError):
        compression_ratio((1, 28, 28), 16, "1bit")


# -- metrics against scikit-image ---------------------------------------------------------


def test_psnr_equals_skimage_grey_and_rgb(pairs):
    for x, y in pairs:
        ours = psnr(x, y)
        ref = [peak_signal_noise_ratio(x[i], y[i], data_range=1.0) for i in range(len(x))]
        np.testing.assert_allclose(ours, ref, rtol=1e-12)
        assert ours.shape == (len(x),) and ours.dtype == np.float64
    x32, y32 = (a.astype(np.float32) for a in pairs[0])
    np.testing.assert_allclose(psnr(x32, y32),
                               [peak_signal_noise_ratio(x32[i], y32[i], data_range=1.0) for i in range(4)],
                               rtol=1e-6)


def test_psnr_identical_is_inf_and_data_range():
    x = np.random.default_rng(2).random((2, 1, 12, 12))
    assert np.all(np.isinf(psnr(x, x)))
    y = x + 0.1
    np.testing.assert_allclose(psnr(x, y, data_range=255.0), 10 * np.log10(255.0**2 / 0.01))


def test_ssim_equals_skimage_grey_and_rgb(pairs):
    (g, g2), (c, c2) = pairs
    np.testing.assert_array_equal(ssim(g, g2), [structural_similarity(g[i, 0], g2[i, 0], **REF_SSIM)
                                                for i in range(len(g))])
    np.testing.assert_array_equal(ssim(c, c2), [structural_similarity(c[i], c2[i], channel_axis=0, **REF_SSIM)
                                                for i in range(len(c))])
    # float32 input: converted to float64 first; agrees with skimage on the float32 arrays
    g32, g232 = g.astype(np.float32), g2.astype(np.float32)
    ref32 = [structural_similarity(g32[i, 0], g232[i, 0], **REF_SSIM) for i in range(len(g))]
    np.testing.assert_allclose(ssim(g32, g232), ref32, atol=1e-5)
    np.testing.assert_allclose(ssim(g, g), 1.0)


def test_metric_shape_errors(pairs):
    (g, g2), _ = pairs
    with pytest.raises(ValueError, match="differ"):
        psnr(g, g2[:2])
    with pytest.raises(ValueError, match="N, C, H, W"):
        ssim(g[0], g2[0])


def test_mean_ci_formula():
    v = np.array([1.0, 2.0, 4.0, 7.0, 11.0])
    mean, lo, hi = mean_ci(v)
    half = 1.96 * np.std(v, ddof=1) / np.sqrt(5)
    assert mean == v.mean()
    np.testing.assert_allclose([lo, hi], [mean - half, mean + half], rtol=1e-4)  # 1.959964 vs 1.96
    assert mean_ci([3.0])[0] == 3.0 and math.isnan(mean_ci([3.0])[1])
    m, lo, hi = mean_ci([1.0, np.inf])
    assert m == np.inf and math.isnan(lo)


def test_worst_best():
    s = np.array([30.0, 10.0, np.inf, 20.0, 10.0, np.nan])
    worst, best = worst_best(s, 3)
    np.testing.assert_array_equal(worst, [5, 1, 4])
    np.testing.assert_array_equal(best, [2, 0, 3])
    assert len(worst_best(s, 100)[0]) == 6


# -- reconstructions ----------------------------------------------------------------------


@pytest.mark.parametrize("precision", ["float32", "float16", "8bit", "3bit"])
def test_reconstruct_decodes_the_code_at_that_precision(vae, images, precision):
    codes, recon = reconstruct(vae, images, precision)
    expected = round_trip(encode_images(vae, images), precision)
    np.testing.assert_array_equal(codes, expected)
    np.testing.assert_array_equal(recon, decode_codes(vae, expected))
    assert codes.dtype == np.float32 and recon.shape == images.shape


def test_reconstruct_with_given_quantizer_and_codes(vae, images):
    z = encode_images(vae, images)
    q = Quantizer(4).fit(np.random.default_rng(0).normal(size=(100, 6)))
    codes, _ = reconstruct(vae, images, "4bit", codes=z, quantizer=q)
    np.testing.assert_array_equal(codes, q.round_trip(z))


def test_posterior_sample_is_seeded(vae, images):
    a, _ = reconstruct(vae, images, "float32", sample="posterior", seed=7)
    b, _ = reconstruct(vae, images, "float32", sample="posterior", seed=7)
    c, _ = reconstruct(vae, images, "float32", sample="posterior", seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    mu, logvar = vae.posterior(torch.from_numpy(images))
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(7))
    np.testing.assert_allclose(a, (mu + torch.exp(0.5 * logvar) * eps).detach().numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="sample"):
        reconstruct(vae, images, sample="mode")


def test_report_dict_keys_and_values(vae, images):
    rep = reconstruction_report(vae, images, "8bit")
    d = rep.to_dict()
    assert set(d) == {"precision", "compression_ratio", "psnr_db", "ssim", "n_images", "codes", "jpeg"}
    assert set(d["jpeg"]) == {"quality", "compression_ratio", "psnr_db", "ssim"}
    assert d["precision"] == "8bit" and d["codes"] == "encoder" and d["n_images"] == 5
    assert d["compression_ratio"] == 28 * 28 * 8 / (6 * 8)
    _, recon = reconstruct(vae, images, "8bit")
    np.testing.assert_allclose(rep.psnr, psnr(images, recon))
    np.testing.assert_allclose(rep.ssim, ssim(images, recon))
    assert d["psnr_db"] == pytest.approx(rep.psnr.mean()) and d["ssim"] == pytest.approx(rep.ssim.mean())
    m, lo, hi = mean_ci(rep.psnr)
    assert rep.psnr_ci == (lo, hi) and lo < m < hi
    # JPEG cannot reach 130× on 28×28 images: reported honestly, closest quality used
    assert not rep.jpeg.reachable and rep.jpeg.quality == 1
    assert rep.jpeg.message.startswith("JPEG cannot reach 131×") and rep.jpeg.message in rep.notes
    assert d["jpeg"]["compression_ratio"] < d["compression_ratio"]
    json.dumps(d)
    assert evaluate_reconstruction(vae, images, "8bit") == d


class _TinyGenerator(torch.nn.Module):
    """A GAN generator without encoder: linear layer + sigmoid, d = 3, 12×12 grey."""

    kind, has_encoder, latent_dim, image_shape = "gan", False, 3, (1, 12, 12)

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.lin = torch.nn.Linear(3, 144)

    def decode(self, z):
        return torch.sigmoid(self.lin(torch.as_tensor(z))).reshape(-1, 1, 12, 12)

    def sample_prior(self, n, generator=None):
        return torch.randn(n, 3, generator=generator)


def test_report_without_encoder_uses_inversion():
    gan = _TinyGenerator()
    x = np.random.default_rng(3).random((2, 1, 12, 12)).astype(np.float32)
    rep = reconstruction_report(gan, x, "float16", inversion=InversionSettings(steps=2, restarts=2), jpeg=False)
    assert rep.to_dict()["codes"] == "inverted" and rep.to_dict()["jpeg"] is None
    assert rep.inversion is not None and "GAN inversion" in rep.notes[0]
    np.testing.assert_array_equal(rep.codes, round_trip(rep.inversion.codes, "float16"))


def test_cancel(vae, images):
    ctx = JobContext()
    ctx.cancel()
    with pytest.raises(Cancelled):
        reconstruction_report(vae, images, "float32", ctx=ctx)


def test_progress_is_monotone_and_ends_at_one(vae, images):
    seen = []
    reconstruction_report(vae, images, "4bit", ctx=JobContext(lambda f, m: seen.append(f)))
    assert seen and seen[-1] == pytest.approx(1.0)
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(seen))


def test_small_images_report_ssim_as_unavailable_not_a_crash():
    from explorer.core.reconstruction.reconstruct import ssim_unavailable_reason

    torch.manual_seed(0)
    model = VAE(3, (1, 8, 8), hidden=16)
    x = np.random.default_rng(0).random((5, 1, 8, 8)).astype(np.float32)
    rep = reconstruction_report(model, x, "float32")
    assert np.isnan(rep.ssim).all() and rep.to_dict()["ssim"] is None
    assert rep.to_dict()["jpeg"]["ssim"] is None
    assert "SSIM needs images of at least 11×11 pixels; the model's images are 8×8." in rep.notes
    assert ssim_unavailable_reason((1, 8, 8), "digits") == "SSIM needs images of at least 11×11 pixels; digits are 8×8."
    assert ssim_unavailable_reason((1, 11, 11)) is None
    json.dumps(rep.to_dict(), allow_nan=False)


def test_ratio_uses_the_bits_of_the_original_images_when_resized(vae):
    from explorer.data import resize_images

    orig = np.random.default_rng(1).random((4, 1, 14, 14)).astype(np.float32)
    x = resize_images(orig, 28, 28)
    rep = reconstruction_report(vae, x, "8bit", originals=orig)
    assert rep.compression_ratio == pytest.approx(14 * 14 * 8 / (6 * 8))
    assert rep.bpp == pytest.approx(6 * 8 / (14 * 14))
    assert rep.jpeg.images.shape == orig.shape  # JPEG compressed the originals
    assert rep.jpeg.psnr == pytest.approx(psnr(orig, rep.jpeg.images))
    assert any("original 14×14×1" in n for n in rep.notes)
    same = reconstruction_report(vae, x, "8bit", originals=x)  # same shape: nothing changes
    assert same.compression_ratio == pytest.approx(compression_ratio((1, 28, 28), 6, "8bit"))
