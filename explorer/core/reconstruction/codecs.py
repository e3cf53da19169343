"""Standard image codecs (JPEG, WebP via Pillow) as baselines: sizes, round trips, rate–distortion."""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, features

from explorer.core.pixels import to_uint8
from explorer.core.reconstruction.bits import image_bits
from explorer.core.reconstruction.metrics import psnr, ssim_or_nan

if TYPE_CHECKING:
    from explorer.core.jobs import JobContext

__all__ = [
    "CODECS",
    "QUALITY_RANGE",
    "DEFAULT_QUALITIES",
    "RD_KEYS",
    "available_codecs",
    "pillow_pixels",
    "encode_image",
    "decode_image",
    "encoded_sizes",
    "codec_round_trip",
    "jpeg_round_trip",
    "CodecPoint",
    "codec_curve",
    "RatioMatch",
    "match_ratio",
]

#: Codecs this module knows; WebP only when Pillow was built with it (`available_codecs`).
CODECS: tuple[str, ...] = ("jpeg", "webp")

#: Integer quality range searched per codec (Pillow advises JPEG ≤ 95; WebP takes 0–100).
QUALITY_RANGE: dict[str, tuple[int, int]] = {"jpeg": (1, 95), "webp": (0, 100)}

#: Qualities of a rate–distortion curve unless told otherwise.
DEFAULT_QUALITIES: tuple[int, ...] = (1, 5, 10, 20, 30, 50, 75, 90, 95)

#: Keys of every `explorer.core.reconstruction.rate_distortion` row.
RD_KEYS: tuple[str, ...] = ("method", "setting", "ratio", "bpp", "psnr", "ssim")

_NAMES = {"jpeg": "JPEG", "webp": "WebP"}


def available_codecs() -> tuple[str, ...]:
    """Codecs usable here: always "jpeg"; "webp" when ``PIL.features.check("webp")``."""
    return ("jpeg", "webp") if features.check("webp") else ("jpeg",)


def _check_codec(codec: str) -> str:
    c = str(codec).lower()
    if c not in CODECS:
        raise ValueError(f"codec {codec!r} is not known; use one of {CODECS}")
    if c not in available_codecs():
        raise ValueError(f"{_NAMES[c]} is not available in this Pillow build; use jpeg")
    return c


def _check_quality(codec: str, quality: int) -> int:
    lo, hi = QUALITY_RANGE[codec]
    q = int(quality)
    if not lo <= q <= hi:
        raise ValueError(f"{_NAMES[codec]} quality must be in [{lo}, {hi}], got {quality}")
    return q


def _check_images(images: Any) -> np.ndarray:
    x = np.asarray(images)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"images must have shape (N, C, H, W) with C = 1 (grey) or 3 (RGB), got {x.shape}")
    return x


def pillow_pixels(images: Any) -> np.ndarray:
    """8-bit pixels for a codec, in Pillow's layout: `explorer.core.pixels.to_uint8` of each image.

    Parameters
    ----------
    images : array_like, shape (N, C, H, W), float in [0, 1], C = 1 or 3

    Returns
    -------
    numpy.ndarray, uint8
        (N, H, W) for grey, (N, H, W, 3) for RGB; levels ``clip(rint(255·x), 0, 255)``.

    Raises
    ------
    ValueError
        Not (N, C, H, W) with C = 1 or 3.
    """
    x = _check_images(images)
    u8 = to_uint8(x)
    return u8[:, 0] if x.shape[1] == 1 else np.ascontiguousarray(u8.transpose(0, 2, 3, 1))


def encode_image(pixels: np.ndarray, quality: int, codec: str = "jpeg") -> bytes:
    """Compress one 8-bit image in memory; the bytes are exactly what a file would hold.

    JPEG: baseline with optimised Huffman tables (``optimize=True``), Pillow's default
    chroma subsampling for RGB (4:2:0), no EXIF/ICC/comment (only the JFIF APP0 header).
    WebP: lossy, ``method=6`` (slowest, smallest), no metadata.

    Parameters
    ----------
    pixels : numpy.ndarray, uint8, shape (H, W) grey or (H, W, 3) RGB
    quality : int
        JPEG 1–95, WebP 0–100.
    codec : {"jpeg", "webp"}

    Returns
    -------
    bytes

    Raises
    ------
    ValueError
        Unknown/unavailable codec or quality out of range.
    """
    codec = _check_codec(codec)
    q = _check_quality(codec, quality)
    img = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8))
    buf = io.BytesIO()
    if codec == "jpeg":
        img.save(buf, format="JPEG", quality=q, optimize=True)
    else:
        img.save(buf, format="WEBP", quality=q, method=6)
    return buf.getvalue()


def decode_image(data: bytes, channels: int) -> np.ndarray:
    """Decode codec bytes to a float image.

    Parameters
    ----------
    data : bytes
    channels : {1, 3}
        Output channels (WebP always decodes to RGB; grey images are converted back with
        Pillow's ITU-R 601-2 luma).

    Returns
    -------
    numpy.ndarray, shape (C, H, W), float32 in [0, 1]
    """
    with Image.open(io.BytesIO(data), formats=("JPEG", "WEBP")) as img:  # only what encode_image writes
        img = img.convert("L" if channels == 1 else "RGB")
        a = np.asarray(img, dtype=np.float32) / 255.0
    return a[None] if channels == 1 else np.ascontiguousarray(a.transpose(2, 0, 1))


def encoded_sizes(images: Any, quality: int, codec: str = "jpeg", ctx: JobContext | None = None) -> np.ndarray:
    """Bytes each image takes with ``codec`` at ``quality`` (encoding only, no decoding).

    Parameters
    ----------
    images : array_like, shape (N, C, H, W), float in [0, 1], C = 1 or 3
    quality : int
    codec : {"jpeg", "webp"}
    ctx : JobContext, optional
        Cancel checked every 64 images.

    Returns
    -------
    numpy.ndarray, shape (N,), int64
        ``len()`` of the encoded bytes.
    """
    u8 = pillow_pixels(images)
    out = np.empty(len(u8), np.int64)
    for i, px in enumerate(u8):
        out[i] = len(encode_image(px, quality, codec))
        if ctx is not None and i % 64 == 63:
            ctx.check()
    return out


def codec_round_trip(images: Any, quality: int, codec: str = "jpeg",
                     ctx: JobContext | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Encode every image to bytes in memory and decode it again.

    Parameters
    ----------
    images : array_like, shape (N, C, H, W), float in [0, 1], C = 1 or 3
        Converted to 8 bits by `pillow_pixels` before encoding.
    quality : int
        JPEG 1–95, WebP 0–100.
    codec : {"jpeg", "webp"}
    ctx : JobContext, optional
        Progress and cancel every 64 images.

    Returns
    -------
    decoded : numpy.ndarray, shape (N, C, H, W), float32 in [0, 1]
    nbytes : numpy.ndarray, shape (N,), int64
        Real bytes written per image (the size of the file it would make).

    Raises
    ------
    ValueError
        Bad shape, codec or quality.
    """
    codec = _check_codec(codec)
    _check_quality(codec, quality)
    x = _check_images(images)
    u8 = pillow_pixels(x)
    c = x.shape[1]
    decoded = np.empty(x.shape, np.float32)
    nbytes = np.empty(len(x), np.int64)
    for i, px in enumerate(u8):
        data = encode_image(px, quality, codec)
        nbytes[i] = len(data)
        decoded[i] = decode_image(data, c)
        if ctx is not None and i % 64 == 63:
            ctx.progress((i + 1) / len(x), f"{_NAMES[codec]} {i + 1:,} / {len(x):,}")
    return decoded, nbytes


def jpeg_round_trip(images: Any, quality: int) -> tuple[np.ndarray, np.ndarray]:
    """`codec_round_trip` with JPEG: ``(decoded (N, C, H, W) float32, bytes per image (N,) int64)``."""
    return codec_round_trip(images, quality, "jpeg")


def _set_ratio(image_shape: Sequence[int], nbytes: np.ndarray) -> float:
    """Compression ratio of a set: original bits / (8 · mean bytes) (= total / total)."""
    return image_bits(image_shape) / (8.0 * float(np.mean(nbytes)))


@dataclass(frozen=True)
class CodecPoint:
    """One point of a codec's rate–distortion curve, over a set of images.

    Attributes
    ----------
    codec : str
    quality : int
    compression_ratio : float
        ``H·W·C·8 / (8 · mean bytes)``: the set's original bits over its coded bits, the
        same definition as the latent code's ratio (a ratio of totals, not a mean of
        per-image ratios, which would favour small files).
    bpp : float
        Bits per pixel: ``8 · mean bytes / (H·W)``.
    psnr_db : float
        Mean PSNR over images, dB (data range 1.0).
    ssim : float
        Mean SSIM over images (`explorer.core.reconstruction.metrics.ssim`); NaN for images smaller
        than SSIM's 11×11 window.
    mean_bytes : float
        Mean bytes per image.
    n_images : int
    """

    codec: str
    quality: int
    compression_ratio: float
    bpp: float
    psnr_db: float
    ssim: float
    mean_bytes: float
    n_images: int


def codec_curve(images: Any, codec: str = "jpeg", qualities: Iterable[int] | None = None,
                ctx: JobContext | None = None) -> list[CodecPoint]:
    """Rate–distortion curve of a codec on ``images``: one `CodecPoint` per quality.

    Parameters
    ----------
    images : array_like, shape (N, C, H, W), float in [0, 1], C = 1 or 3, N ≥ 1
        Quality is measured against these (float) images.
    codec : {"jpeg", "webp"}
    qualities : iterable of int, optional
        Default `DEFAULT_QUALITIES` (clipped to the codec's range).
    ctx : JobContext, optional

    Returns
    -------
    list of CodecPoint
        In the order of ``qualities``.

    Raises
    ------
    ValueError
        Bad images, codec or quality; no images.
    """
    codec = _check_codec(codec)
    x = _check_images(images)
    if len(x) == 0:
        raise ValueError("a codec curve needs at least one image")
    lo, hi = QUALITY_RANGE[codec]
    qs = [int(q) for q in (qualities if qualities is not None else DEFAULT_QUALITIES)]
    if qualities is None:
        qs = sorted({min(max(q, lo), hi) for q in qs})
    c, h, w = x.shape[1:]
    out = []
    for k, q in enumerate(qs):
        decoded, nbytes = codec_round_trip(x, q, codec)
        mean_bytes = float(np.mean(nbytes))
        out.append(CodecPoint(codec, q, _set_ratio((c, h, w), nbytes), 8.0 * mean_bytes / (h * w),
                              float(np.mean(psnr(x, decoded))), float(np.mean(ssim_or_nan(x, decoded))),
                              mean_bytes, len(x)))
        if ctx is not None:
            ctx.progress((k + 1) / len(qs), f"{_NAMES[codec]} quality {q}")
    return out


@dataclass(frozen=True)
class RatioMatch:
    """The codec quality whose compression ratio is closest to a target.

    Attributes
    ----------
    codec : str
    target_ratio : float
    quality : int
        Chosen quality (an end of the range when the target is out of reach).
    compression_ratio : float
        Ratio achieved at ``quality`` (set ratio, see `CodecPoint`).
    bpp : float
        Bits per pixel at ``quality``.
    reachable : bool
        True when the target lies between the ratios at the highest and lowest quality.
    highest_ratio, lowest_ratio : float
        Ratios at the lowest and highest quality: what the codec can span on these images.
    message : str
        One sentence for the user, e.g. "JPEG cannot reach 98× on these images; its
        highest is 2.62× at quality 1".
    """

    codec: str
    target_ratio: float
    quality: int
    compression_ratio: float
    bpp: float
    reachable: bool
    highest_ratio: float
    lowest_ratio: float
    message: str


def _fmt(r: float) -> str:
    return f"{r:.3g}×"


def match_ratio(images: Any, target_ratio: float, codec: str = "jpeg",
                ctx: JobContext | None = None) -> RatioMatch:
    """Find the integer quality whose compression ratio on ``images`` is closest to ``target_ratio``.

    Bisection over the codec's integer quality range (JPEG 1–95, WebP 0–100), assuming
    the set ratio falls as quality rises; the two qualities bracketing the target are
    compared and the closer one (absolute difference of ratios) is returned. Nothing is
    extrapolated: a target above the ratio at the lowest quality (or below the one at the
    highest) is reported as unreachable, with the closest end of the range.

    Parameters
    ----------
    images : array_like, shape (N, C, H, W), float in [0, 1], C = 1 or 3, N ≥ 1
    target_ratio : float
        E.g. the latent code's `explorer.core.reconstruction.compression_ratio` (> 0).
    codec : {"jpeg", "webp"}
    ctx : JobContext, optional
        Cancel between encodings.

    Returns
    -------
    RatioMatch

    Raises
    ------
    ValueError
        Bad images, codec, or a non-positive target.

    Notes
    -----
    Tiny images pay for the codec's headers: a 28×28 grey JPEG is ~240 bytes even at
    quality 1 (JFIF marker, quantisation and Huffman tables), so its ratio stays near 2–3×
    where a latent code reaches 10–100×. That is a real finding and the message says so.
    """
    codec = _check_codec(codec)
    x = _check_images(images)
    if len(x) == 0:
        raise ValueError("matching a ratio needs at least one image")
    target = float(target_ratio)
    if not (target > 0 and math.isfinite(target)):
        raise ValueError(f"target_ratio must be a positive number, got {target_ratio}")
    shape = x.shape[1:]
    h, w = shape[1:]
    cache: dict[int, float] = {}
    lo_q, hi_q = QUALITY_RANGE[codec]

    def mean_bytes(q: int) -> float:
        if q not in cache:
            cache[q] = float(np.mean(encoded_sizes(x, q, codec, ctx)))
        return cache[q]

    def ratio(q: int) -> float:
        return image_bits(shape) / (8.0 * mean_bytes(q))

    highest, lowest = ratio(lo_q), ratio(hi_q)
    name = _NAMES[codec]
    if target > highest:
        q, reachable = lo_q, False
        msg = (f"{name} cannot reach {_fmt(target)} on these images; its highest is "
               f"{_fmt(highest)} at quality {lo_q}")
    elif target < lowest:
        q, reachable = hi_q, False
        msg = (f"{name} cannot go as low as {_fmt(target)} on these images; its lowest is "
               f"{_fmt(lowest)} at quality {hi_q}")
    else:
        a, b = lo_q, hi_q  # ratio(a) ≥ target ≥ ratio(b)
        while b - a > 1:
            mid = (a + b) // 2
            if ratio(mid) >= target:
                a = mid
            else:
                b = mid
            if ctx is not None:
                ctx.progress(1.0 - (b - a) / (hi_q - lo_q), f"matching {name} to {_fmt(target)}")
        q = a if abs(ratio(a) - target) <= abs(ratio(b) - target) else b
        reachable = True
        msg = f"{name} at quality {q} gives {_fmt(ratio(q))} (target {_fmt(target)})"
    return RatioMatch(codec=codec, target_ratio=target, quality=q, compression_ratio=ratio(q),
                      bpp=8.0 * mean_bytes(q) / (h * w), reachable=reachable,
                      highest_ratio=highest, lowest_ratio=lowest, message=msg)
