"""Tests for explorer.core.reconstruction.quantize: precision parsing, code bits, k-bit error bound,
float16 round trip."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.core.reconstruction.quantize import (
    PrecisionSpec,
    Quantizer,
    code_bits,
    parse_precision,
    precision_choices,
    round_trip,
)


@pytest.fixture(scope="module")
def codes():
    rng = np.random.default_rng(0)
    scale = np.array([1.0, 0.1, 3.0, 0.5, 2.0])
    return (rng.normal(size=(2000, 5)) * scale + np.array([0.0, 1.0, -2.0, 0.3, 5.0])).astype(np.float32)


@pytest.mark.parametrize(
    "text, kind, bits",
    [("float32", "float32", 32), ("FP32", "float32", 32), (" float16 ", "float16", 16), ("fp16", "float16", 16),
     ("8bit", "kbit", 8), ("4-bit", "kbit", 4), ("2 bits", "kbit", 2), ("16bit", "kbit", 16)],
)
def test_parse_precision(text, kind, bits):
    spec = parse_precision(text)
    assert spec == PrecisionSpec(kind, bits)
    assert parse_precision(spec.name) == spec
    assert parse_precision(spec) is spec


@pytest.mark.parametrize("bad", ["1bit", "17bit", "int8", "float64", "", "8 bytes"])
def test_parse_precision_rejects(bad):
    with pytest.raises(ValueError, match="float32, float16 or 2bit"):
        parse_precision(bad)


def test_precision_choices_all_parse():
    names = precision_choices()
    assert names[:3] == ["float32", "float16", "16bit"] and names[-1] == "2bit" and len(names) == 17
    assert [parse_precision(n).name for n in names] == names


def test_code_bits():
    assert code_bits(16, "float32") == 512
    assert code_bits(16, "float16") == 256
    assert code_bits(16, "8bit") == 128
    assert code_bits(10, "3bit") == 30
    with pytest.raises(ValueError):
        code_bits(0, "float32")


def test_fit_range_is_mean_plus_minus_3_sigma(codes):
    q = Quantizer(8).fit(codes)
    z = codes.astype(np.float64)
    np.testing.assert_allclose(q.low_, z.mean(0) - 3 * z.std(0))
    np.testing.assert_allclose(q.high_, z.mean(0) + 3 * z.std(0))
    np.testing.assert_allclose(q.step_, (q.high_ - q.low_) / 255)
    assert q.n_levels == 256


@pytest.mark.parametrize("k", [2, 3, 4, 6, 8, 12, 16])
def test_error_at_most_half_a_step_inside_range(codes, k):
    q = Quantizer(k).fit(codes)
    rt = q.round_trip(codes)
    inside = q.in_range(codes)
    assert inside.mean() > 0.99  # ± 3σ of Gaussian data
    err = np.abs(codes.astype(np.float64) - rt)
    bound = q.step_ / 2 + np.spacing(np.abs(rt).astype(np.float32)).astype(np.float64)  # + float32 rounding
    assert np.all(err[inside] <= np.broadcast_to(bound, err.shape)[inside])
    assert rt.dtype == np.float32 and rt.shape == codes.shape
    idx = q.quantize(codes)
    assert idx.dtype == (np.uint8 if k <= 8 else np.uint16)
    assert idx.min() >= 0 and int(idx.max()) <= 2**k - 1


@pytest.mark.parametrize("k", [2, 5, 8, 16])
def test_grid_points_reconstruct_exactly(codes, k):
    q = Quantizer(k).fit(codes)
    levels = np.unique(np.r_[0, 1, 2**k // 3, 2**k - 2, 2**k - 1]).astype(np.int64)
    idx = np.repeat(levels[:, None], codes.shape[1], axis=1)
    grid = q.dequantize(idx)
    np.testing.assert_array_equal(q.quantize(grid), idx)
    np.testing.assert_array_equal(q.round_trip(grid), grid)
    np.testing.assert_allclose(grid[0], q.low_.astype(np.float32))
    np.testing.assert_allclose(grid[-1], q.high_.astype(np.float32))


def test_values_outside_range_are_clipped(codes):
    q = Quantizer(4).fit(codes)
    far = np.stack([q.low_ - 100.0, q.high_ + 100.0])
    np.testing.assert_array_equal(q.quantize(far), [[0] * 5, [15] * 5])
    np.testing.assert_allclose(q.round_trip(far), np.stack([q.low_, q.high_]).astype(np.float32))


def test_constant_dimension_has_one_level():
    z = np.c_[np.full(10, 2.5), np.arange(10.0)].astype(np.float32)
    q = Quantizer(3).fit(z)
    rt = q.round_trip(z)
    np.testing.assert_array_equal(rt[:, 0], 2.5)
    assert q.step_[0] == 0


def test_float16_round_trip_equals_numpy(codes):
    z = codes * 1000.0  # exercise rounding at several magnitudes
    np.testing.assert_array_equal(round_trip(z, "float16"), z.astype(np.float16).astype(np.float32))
    out = round_trip(codes, "float32")
    np.testing.assert_array_equal(out, codes)
    assert out is not codes


def test_round_trip_kbit_fits_on_codes_or_uses_given_quantizer(codes):
    np.testing.assert_array_equal(round_trip(codes, "6bit"), Quantizer(6).fit(codes).round_trip(codes))
    train = Quantizer(6).fit(codes[:100])
    np.testing.assert_array_equal(round_trip(codes, "6bit", train), train.round_trip(codes))
    with pytest.raises(ValueError, match="6 bits"):
        round_trip(codes, "8bit", train)


def test_quantizer_errors(codes):
    with pytest.raises(RuntimeError, match="not fitted"):
        Quantizer(8).quantize(codes)
    with pytest.raises(ValueError):
        Quantizer("float16")
    with pytest.raises(ValueError):
        Quantizer(1)
    q = Quantizer(4).fit(codes)
    with pytest.raises(ValueError, match="dimensions"):
        q.quantize(codes[:, :3])
    with pytest.raises(ValueError, match=r"\[0, 15\]"):
        q.dequantize(np.full((1, 5), 16))
    with pytest.raises(ValueError, match="NaN"):
        Quantizer(4).fit(np.array([[np.nan, 1.0]]))
