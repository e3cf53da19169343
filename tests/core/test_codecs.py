"""Tests for explorer.core.reconstruction.codecs: real JPEG/WebP byte sizes, round trips, curves, ratio matching."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image, features

from explorer.core.pixels import to_uint8
from explorer.core.reconstruction import codecs as codecs_mod
from explorer.core.reconstruction.codecs import (
    QUALITY_RANGE,
    RD_KEYS,
    available_codecs,
    codec_curve,
    codec_round_trip,
    encode_image,
    encoded_sizes,
    jpeg_round_trip,
    match_ratio,
    pillow_pixels,
)
from explorer.core.reconstruction.reconstruct import compression_ratio, psnr, rate_distortion, reconstruct, ssim
from models.vae import VAE

needs_webp = pytest.mark.skipif(not features.check("webp"), reason="Pillow built without WebP")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def grey():
    """Four smooth 28×28 grey images (Gaussian blobs), float32 in [0, 1]."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:28, 0:28] / 27.0
    out = []
    for _ in range(4):
        cx, cy = rng.random(2)
        s = 0.1 + 0.2 * rng.random()
        out.append(np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s)))
    return np.asarray(out, np.float32)[:, None]


@pytest.fixture(scope="module")
def rgb():
    rng = np.random.default_rng(1)
    return rng.random((2, 3, 16, 16)).astype(np.float32)


def test_pillow_pixels_layout_and_rounding(grey, rgb):
    g = pillow_pixels(grey)
    assert g.shape == (4, 28, 28) and g.dtype == np.uint8
    np.testing.assert_array_equal(g, np.clip(np.rint(grey[:, 0].astype(np.float64) * 255), 0, 255))
    np.testing.assert_array_equal(g, to_uint8(grey)[:, 0])  # the one rounding of the project
    c = pillow_pixels(rgb)
    assert c.shape == (2, 16, 16, 3)
    np.testing.assert_array_equal(c[1, 3, 5], np.rint(rgb[1, :, 3, 5].astype(np.float64) * 255))


@pytest.mark.parametrize("quality", [1, 50, 95])
def test_jpeg_sizes_are_the_bytes_pillow_writes(grey, tmp_path, quality):
    decoded, nbytes = jpeg_round_trip(grey, quality)
    for i, px in enumerate(pillow_pixels(grey)):
        buf = io.BytesIO()
        Image.fromarray(px).save(buf, format="JPEG", quality=quality, optimize=True)
        data = buf.getvalue()
        assert nbytes[i] == len(data) == len(encode_image(px, quality))
        path = tmp_path / f"{i}.jpg"
        Image.fromarray(px).save(path, quality=quality, optimize=True)
        assert path.stat().st_size == nbytes[i]
        with Image.open(io.BytesIO(data)) as img:
            assert img.mode == "L"
            np.testing.assert_array_equal(decoded[i, 0], np.asarray(img, np.float32) / 255.0)
    np.testing.assert_array_equal(encoded_sizes(grey, quality), nbytes)


def test_jpeg_has_no_metadata_and_rgb_is_rgb(rgb):
    data = encode_image(pillow_pixels(rgb)[0], 75)
    assert data[:2] == b"\xff\xd8" and b"Exif" not in data and b"ICC_PROFILE" not in data
    with Image.open(io.BytesIO(data)) as img:
        assert img.mode == "RGB" and "exif" not in img.info and "icc_profile" not in img.info
    decoded, nbytes = jpeg_round_trip(rgb, 75)
    assert decoded.shape == rgb.shape and decoded.dtype == np.float32 and nbytes.dtype == np.int64


@needs_webp
def test_webp_round_trip_grey(grey):
    decoded, nbytes = codec_round_trip(grey, 50, "webp")
    assert decoded.shape == grey.shape
    data = encode_image(pillow_pixels(grey)[0], 50, "webp")
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP" and nbytes[0] == len(data)
    assert psnr(grey, decoded).min() > 20


def test_codec_curve_arithmetic(grey):
    points = codec_curve(grey, "jpeg", [1, 50, 95])
    assert [p.quality for p in points] == [1, 50, 95]
    for p in points:
        decoded, nbytes = jpeg_round_trip(grey, p.quality)
        assert p.mean_bytes == nbytes.mean()
        assert p.compression_ratio == 28 * 28 * 1 * 8 / (8 * nbytes.mean())
        assert p.bpp == 8 * nbytes.mean() / (28 * 28)
        assert p.psnr_db == pytest.approx(psnr(grey, decoded).mean())
        assert p.ssim == pytest.approx(ssim(grey, decoded).mean())
    ratios = [p.compression_ratio for p in points]
    assert ratios[0] > ratios[1] > ratios[2]
    assert points[0].psnr_db < points[2].psnr_db


def test_match_ratio_unreachable_message_is_honest(grey):
    m = match_ratio(grey, 98.0, "jpeg")
    highest = 28 * 28 * 8 / (8 * encoded_sizes(grey, 1).mean())
    assert not m.reachable and m.quality == 1 and m.compression_ratio == highest == m.highest_ratio
    assert highest < 10  # headers dominate tiny JPEGs
    assert m.message == f"JPEG cannot reach 98× on these images; its highest is {highest:.3g}× at quality 1"
    low = match_ratio(grey, 0.5, "jpeg")
    assert not low.reachable and low.quality == 95 and "cannot go as low as 0.5×" in low.message


def test_match_ratio_finds_closest_quality(grey):
    ratios = {q: 28 * 28 * 8 / (8 * encoded_sizes(grey, q).mean()) for q in range(1, 96)}
    target = (ratios[30] + ratios[31]) / 2 + 0.001
    m = match_ratio(grey, target)
    assert m.reachable and m.lowest_ratio <= target <= m.highest_ratio
    assert m.compression_ratio == ratios[m.quality]
    # locally closest, and no worse than the gap between neighbouring qualities
    for q in (m.quality - 1, m.quality + 1):
        if q in ratios:
            assert abs(ratios[m.quality] - target) <= abs(ratios[q] - target) or not (
                min(ratios[q], ratios[m.quality]) <= target <= max(ratios[q], ratios[m.quality]))
    assert abs(m.compression_ratio - target) <= max(abs(np.diff(list(ratios.values()))))


def test_match_ratio_bisection_on_a_monotone_codec(monkeypatch, grey):
    # sizes grow with quality: 100 + 7·q bytes; the search must return the closest quality exactly
    monkeypatch.setattr(codecs_mod, "encoded_sizes",
                        lambda x, q, codec, ctx=None: np.full(len(x), 100 + 7 * q, np.int64))
    bits = 28 * 28 * 8
    for target in (bits / (8 * 107.0), 3.3, 2.0, 1.234, bits / (8 * 765.0)):
        m = match_ratio(grey, target)
        best = min(range(1, 96), key=lambda q: (abs(bits / (8 * (100 + 7 * q)) - target), q))
        assert m.reachable and m.quality == best, target


def test_errors(grey):
    with pytest.raises(ValueError, match="codec 'png'"):
        codec_curve(grey, "png")
    with pytest.raises(ValueError, match=r"quality must be in \[1, 95\]"):
        jpeg_round_trip(grey, 0)
    with pytest.raises(ValueError, match="C = 1"):
        jpeg_round_trip(np.zeros((1, 2, 28, 28)), 50)
    with pytest.raises(ValueError, match="positive"):
        match_ratio(grey, 0)
    assert "jpeg" in available_codecs() and QUALITY_RANGE["jpeg"] == (1, 95)


def test_rate_distortion_rows(grey):
    torch.manual_seed(0)
    vae = VAE(4, (1, 28, 28), hidden=16)
    rows = rate_distortion(vae, grey, ["float32", "4bit"], ["jpeg"], qualities=[10, 90])
    assert [tuple(r) for r in rows] == [RD_KEYS] * 4
    assert [(r["method"], r["setting"]) for r in rows] == [
        ("latent (encoder)", "float32"), ("latent (encoder)", "4bit"), ("jpeg", "quality 10"), ("jpeg", "quality 90")]
    assert rows[1]["ratio"] == compression_ratio((1, 28, 28), 4, "4bit") == 392.0
    assert rows[1]["bpp"] == 16 / (28 * 28)
    _, recon = reconstruct(vae, grey, "4bit")
    assert rows[1]["psnr"] == pytest.approx(psnr(grey, recon).mean())
    assert rows[2]["ratio"] > rows[3]["ratio"]
