"""Tests for explorer.core.reconstruction.jobs (no Qt): which images, which codes, and their numbers.

Reference numbers come from scikit-image (PSNR, SSIM with the Wang et al. 2004 settings), from
decoding the encoder's codes stored at the precision directly, and from closed forms (bits,
mean ± 1.96·s/√n).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from explorer.core.codes import decode_codes, encode_images
from explorer.core.jobs import JobContext
from explorer.core.reconstruction.codecs import jpeg_round_trip
from explorer.core.reconstruction.inversion import InversionSettings
from explorer.core.reconstruction.inverted import InvertedCodesStore
from explorer.core.reconstruction.jobs import (
    DEFAULT_INVERSION_IMAGES,
    compare_inversion,
    measure_dataset,
    measure_images,
    measure_rate_distortion,
    reconstruct_images,
    reconstruction_figure,
    reconstruction_records,
)
from explorer.core.reconstruction.quantize import round_trip
from explorer.data import Dataset, fit_to_model, subsample_indices
from models.vae import VAE
from tests.core.generators import TinyGenerator

REF_SSIM = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)
INV = InversionSettings(steps=3, restarts=1, batch_size=8)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _waves(n: int, size: int = 28, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1.0)
    imgs = [np.clip(0.5 + 0.4 * np.sin(3 * xx + i) * np.cos(2 * yy - 0.3 * i) + rng.normal(scale=0.05, size=xx.shape),
                    0, 1) for i in range(n)]
    return np.stack(imgs)[:, None].astype(np.float32)


@pytest.fixture(scope="module")
def data():
    return Dataset(images=_waves(40), labels=np.arange(40) % 4, name="waves")


@pytest.fixture(scope="module")
def vae():
    torch.manual_seed(0)
    return VAE(6, (1, 28, 28), hidden=32).eval()


@pytest.fixture()
def gen():
    return TinyGenerator()


@pytest.fixture()
def gan_data(gen):
    z = torch.randn(30, 4, generator=torch.Generator().manual_seed(3)).numpy()
    return Dataset(images=decode_codes(gen, z), labels=np.arange(30) % 3, name="tiny")


def _skimage_psnr(x, y):
    return np.array([peak_signal_noise_ratio(a.astype(np.float64), b.astype(np.float64), data_range=1.0)
                     for a, b in zip(x, y, strict=False)])


def _skimage_ssim(x, y):
    return np.array([structural_similarity(a[0].astype(np.float64), b[0].astype(np.float64), **REF_SSIM)
                     for a, b in zip(x, y, strict=False)])


# -- which images -------------------------------------------------------------------------


def test_random_images_are_the_seeded_subset_and_match_skimage(vae, data):
    res = reconstruct_images(vae, data, "random", 5, precision="8bit", seed=3)
    idx = subsample_indices(len(data), 5, 3)
    np.testing.assert_array_equal(res.indices, idx)
    np.testing.assert_array_equal(res.images, data.images[idx])
    assert res.what == "5 random images (seed 3)"
    rep = res.report
    # the reconstructions are the decoder's image of the encoder's code stored at 8 bits
    expected = decode_codes(vae, round_trip(encode_images(vae, data.images[idx]), "8bit"))
    np.testing.assert_allclose(rep.reconstructions, expected, atol=1e-6)
    np.testing.assert_allclose(rep.psnr, _skimage_psnr(res.images, rep.reconstructions), rtol=1e-6)
    np.testing.assert_allclose(rep.ssim, _skimage_ssim(res.images, rep.reconstructions), atol=1e-12)
    assert rep.compression_ratio == 28 * 28 * 8 / (6 * 8)
    # the JPEG baseline is what Pillow writes at the quality it chose
    dec, nbytes = jpeg_round_trip(res.images, rep.jpeg.quality)
    np.testing.assert_array_equal(rep.jpeg.images, dec)
    assert rep.jpeg.compression_ratio == pytest.approx(28 * 28 * 8 / (8 * nbytes.mean()))
    np.testing.assert_allclose(rep.jpeg.psnr, _skimage_psnr(res.images, dec), rtol=1e-6)


def test_selection_first_and_errors(vae, data):
    sel = reconstruct_images(vae, data, "selection", 3, indices=[7, 2, 30, 11], jpeg=False)
    assert list(sel.indices) == [7, 2, 30] and sel.what == "3 selected images" and sel.report.jpeg is None
    first = reconstruct_images(vae, data, "first", 4, jpeg=False)
    assert list(first.indices) == [0, 1, 2, 3]
    assert list(reconstruct_images(vae, data, "first", 99, jpeg=False).indices) == list(range(40))
    with pytest.raises(ValueError, match="no points are selected"):
        reconstruct_images(vae, data, "selection", 3, indices=[])
    with pytest.raises(ValueError, match="source must be one of"):
        reconstruct_images(vae, data, "everything", 3)


@pytest.mark.parametrize("source", ["worst", "best"])
def test_worst_and_best_are_the_extremes_of_the_seeded_pool(vae, data, source):
    res = reconstruct_images(vae, data, source, 3, precision="4bit", pool=20, seed=1, jpeg=False)
    pool = subsample_indices(len(data), 20, 1)
    x = data.images[pool]
    # scikit-image on the pool, at the same precision (4-bit quantiser fitted on the pool's codes)
    rec = decode_codes(vae, round_trip(encode_images(vae, x), "4bit"))
    ref = _skimage_psnr(x, rec)
    order = np.argsort(ref, kind="stable") if source == "worst" else np.argsort(-ref, kind="stable")
    np.testing.assert_array_equal(res.indices, pool[order[:3]])
    assert res.what == f"the 3 {source} by PSNR of 20 images (seed 1)"
    # the report measures the picked images again (their own 4-bit quantiser)
    np.testing.assert_allclose(res.report.psnr, _skimage_psnr(res.images, res.report.reconstructions), rtol=1e-6)


# -- dataset measurements -----------------------------------------------------------------


def test_measure_images_codes_once_for_every_precision(vae, data, monkeypatch):
    import explorer.core.reconstruction.reconstruct as rec_mod

    calls = []
    real = rec_mod.encode_images
    monkeypatch.setattr(rec_mod, "encode_images", lambda *a, **k: calls.append(1) or real(*a, **k))
    idx, x, reports = measure_images(vae, data, 12, ("float32", "float16", "4bit"), seed=2)
    assert calls == [1]  # one encoder pass for three precisions
    np.testing.assert_array_equal(idx, subsample_indices(40, 12, 2))
    z = real(vae, x)
    for rep, p, bits in zip(reports, ("float32", "float16", "4bit"), (32, 16, 4), strict=False):
        assert rep.precision == p and rep.compression_ratio == 28 * 28 * 8 / (6 * bits)
        np.testing.assert_allclose(rep.reconstructions, decode_codes(vae, round_trip(z, p)), atol=1e-6)
        np.testing.assert_allclose(rep.psnr, _skimage_psnr(x, rep.reconstructions), rtol=1e-6)
        s = np.std(rep.psnr, ddof=1)
        half = 1.959963984540054 * s / math.sqrt(12)
        assert rep.psnr_ci == pytest.approx((rep.psnr.mean() - half, rep.psnr.mean() + half))


def test_measure_dataset_whole_or_sample(vae, data):
    whole = measure_dataset(vae, data, None, "8bit")
    assert whole.what == "the whole dataset (40 images)" and whole.report.n_images == 40
    part = measure_dataset(vae, data, 10, "8bit", seed=4)
    assert part.what == "10 images sampled with seed 4"
    np.testing.assert_array_equal(part.indices, subsample_indices(40, 10, 4))
    # the same images measured by the grid job give the same numbers
    grid = reconstruct_images(vae, data, "random", 10, precision="8bit", seed=4)
    np.testing.assert_allclose(part.report.psnr, grid.report.psnr)


def test_records_are_the_evaluate_json(vae, data):
    first, every = reconstruction_records(vae, data, ("float32", "8bit"), 20, seed=0)
    assert every[0] is first and [r["precision"] for r in every] == ["float32", "8bit"]
    assert {"precision", "compression_ratio", "psnr_db", "ssim", "n_images", "codes", "jpeg"} <= set(first)
    assert {"psnr_db_ci95", "ssim_ci95", "bpp", "code_bits", "sample", "notes"} <= set(first)
    assert first["codes"] == "encoder" and first["sample"] == "mean" and "inversion" not in first
    assert first["code_bits"] == 6 * 32 and first["bpp"] == 6 * 32 / (28 * 28)
    assert {"reachable", "message"} <= set(first["jpeg"])
    x = data.images[subsample_indices(40, 20, 0)]
    rec = decode_codes(vae, encode_images(vae, x))
    assert first["psnr_db"] == pytest.approx(_skimage_psnr(x, rec).mean(), rel=1e-6)
    assert first["ssim"] == pytest.approx(_skimage_ssim(x, rec).mean(), rel=1e-9)
    json.dumps(every, allow_nan=False)


def test_gan_records_default_sample_and_inversion_settings(gen):
    big = Dataset(images=decode_codes(gen, np.random.default_rng(0).normal(size=(120, 4)).astype(np.float32)))
    notes = []
    settings = InversionSettings(steps=0, restarts=1)
    first, _ = reconstruction_records(gen, big, ("float16",), inversion=settings, on_note=notes.append)
    assert first["n_images"] == DEFAULT_INVERSION_IMAGES and first["codes"] == "inverted"
    assert first["sample"] is None and first["inversion"] == settings.to_dict()
    assert first["compression_ratio"] == 12 * 12 * 8 / (4 * 16)
    assert notes and "seeded sample of 100 images" in notes[0]


# -- GAN without encoder: inverted once, through the store --------------------------------


def test_gan_images_are_inverted_once_across_jobs(gen, gan_data, inversions):
    store = InvertedCodesStore(gen, "m" * 64, "d", len(gan_data), INV, False)
    grid = reconstruct_images(gen, gan_data, "random", 4, seed=0, inversion=InversionSettings(), store=store)
    assert inversions == [4]
    assert grid.report.codes_source.value == "inverted" and grid.report.inversion_settings == INV  # the store's
    again = reconstruct_images(gen, gan_data, "random", 4, precision="8bit", seed=0, store=store)
    assert inversions == [4]  # another precision: nothing inverted again
    np.testing.assert_array_equal(again.report.codes, round_trip(store.get(grid.indices, grid.images).codes, "8bit"))
    part = measure_dataset(gen, gan_data, 10, seed=0, store=store)
    assert inversions == [4, len(np.setdiff1d(part.indices, grid.indices))]
    np.testing.assert_allclose(part.report.psnr, _skimage_psnr(part.images, part.report.reconstructions), rtol=1e-6)
    before = list(inversions)
    worst = reconstruct_images(gen, gan_data, "worst", 2, pool=10, seed=0, store=store, jpeg=False)
    assert inversions == before  # the pool is the same seeded sample of 10: every code is in the store
    assert set(worst.indices) <= set(part.indices)
    assert worst.report.psnr.max() <= np.sort(part.report.psnr)[1] + 1e-9


def test_gan_without_store_inverts_and_labels_the_codes(gen, gan_data):
    res = measure_dataset(gen, gan_data, 3, "float32", inversion=INV)
    rep = res.report
    assert rep.codes_source.value == "inverted" and rep.inversion is not None
    assert rep.inversion_settings == INV
    np.testing.assert_array_equal(rep.codes, rep.inversion.codes)


def test_compare_inversion_uses_the_store(gen, inversions):
    ali = TinyGenerator(with_encoder=True)
    ds = Dataset(images=decode_codes(ali, np.random.default_rng(1).normal(size=(12, 4)).astype(np.float32)))
    store = InvertedCodesStore(ali, "a" * 64, "d", len(ds), INV, False)
    comp = compare_inversion(ali, ds, 5, seed=0, store=store)
    assert inversions == [5]
    x = ds.images[subsample_indices(12, 5, 0)]
    np.testing.assert_allclose(comp.inverted_psnr, _skimage_psnr(x, decode_codes(ali, comp.inverted_codes)),
                               rtol=1e-6)
    compare_inversion(ali, ds, 5, seed=0, store=store)
    assert inversions == [5]


# -- rate–distortion ----------------------------------------------------------------------


def test_rate_distortion_rows_match_skimage(vae, data):
    rows = measure_rate_distortion(vae, data, 8, ("float32", "2bit"), seed=0)
    x = data.images[subsample_indices(40, 8, 0)]
    latent = [r for r in rows if r["method"] == "latent (encoder)"]
    assert [r["ratio"] for r in latent] == [28 * 28 * 8 / (6 * 32), 28 * 28 * 8 / (6 * 2)]
    rec = decode_codes(vae, round_trip(encode_images(vae, x), "2bit"))
    assert latent[1]["psnr"] == pytest.approx(_skimage_psnr(x, rec).mean(), rel=1e-6)
    assert latent[1]["ssim"] == pytest.approx(_skimage_ssim(x, rec).mean(), rel=1e-9)
    jpeg = next(r for r in rows if r["method"] == "jpeg" and r["setting"] == "quality 50")
    dec, nbytes = jpeg_round_trip(x, 50)
    assert jpeg["ratio"] == pytest.approx(28 * 28 * 8 / (8 * nbytes.mean()))
    assert jpeg["ssim"] == pytest.approx(_skimage_ssim(x, dec).mean(), rel=1e-9)


def test_rate_distortion_of_images_smaller_than_the_ssim_window():
    torch.manual_seed(0)
    model = VAE(3, (1, 10, 10), hidden=16).eval()
    small = Dataset(images=_waves(12, size=10))
    rows = measure_rate_distortion(model, small, 6, ("float32", "8bit"))
    assert rows and all(r["ssim"] is None for r in rows)
    x = small.images[subsample_indices(12, 6, 0)]
    rec = decode_codes(model, round_trip(encode_images(model, x), "8bit"))
    assert rows[1]["psnr"] == pytest.approx(_skimage_psnr(x, rec).mean(), rel=1e-6)
    q1 = next(r for r in rows if r["setting"] == "quality 1")
    _, nbytes = jpeg_round_trip(x, 1)
    assert q1["ratio"] == pytest.approx(10 * 10 * 8 / (8 * nbytes.mean()))
    json.dumps(rows, allow_nan=False)


# -- figure, progress ---------------------------------------------------------------------


def test_figure_rows_and_labels_of_resized_images():
    torch.manual_seed(0)
    model = VAE(4, (1, 28, 28), hidden=16).eval()
    ds = Dataset(images=_waves(10, size=14))  # the model sees them resized to 28×28
    res = reconstruct_images(model, ds, "first", 3, precision="8bit")
    grid, rows, cols = reconstruction_figure(res)
    assert grid.shape == (3, 3, 1, 28, 28)  # JPEG of the 14×14 originals, resized back for the figure
    np.testing.assert_array_equal(grid[0], fit_to_model(ds, (1, 28, 28)).images[:3])
    rep = res.report
    assert rep.compression_ratio == 14 * 14 * 8 / (4 * 8)
    assert rows[1] == f"8bit (encoder) {rep.compression_ratio:.3g}×: {rep.psnr_db:.1f} dB, SSIM {rep.ssim_mean:.3f}"
    assert rows[2].startswith(f"JPEG q{rep.jpeg.quality} ")
    assert cols == [f"{v:.1f} dB" for v in rep.psnr]


def test_progress_reaches_one_and_is_monotone(vae, data):
    seen = []
    reconstruct_images(vae, data, "worst", 2, pool=10, ctx=JobContext(lambda f, m: seen.append(f)))
    assert seen and seen[-1] == pytest.approx(1.0)
    assert all(b >= a - 1e-12 for a, b in zip(seen, seen[1:], strict=False))
