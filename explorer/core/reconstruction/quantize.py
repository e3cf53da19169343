"""Precision of a stored latent code: float32, float16 or uniform k-bit quantisation per dimension."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "MIN_BITS",
    "MAX_BITS",
    "DEFAULT_N_SIGMA",
    "PrecisionSpec",
    "parse_precision",
    "precision_choices",
    "code_bits",
    "Quantizer",
    "round_trip",
]

#: Smallest and largest k of the "kbit" precisions.
MIN_BITS, MAX_BITS = 2, 16

#: Half-width of the quantisation range in standard deviations: ``mean ± 3σ`` per dimension.
DEFAULT_N_SIGMA = 3.0

_KBIT = re.compile(r"^(\d+)\s*-?\s*bits?$")


@dataclass(frozen=True)
class PrecisionSpec:
    """How each component of a latent code is stored.

    Attributes
    ----------
    kind : {"float32", "float16", "kbit"}
        IEEE single or half precision, or uniform k-bit quantisation (`Quantizer`).
    bits : int
        Bits per component: 32, 16, or k in [2, 16].
    """

    kind: str
    bits: int

    @property
    def name(self) -> str:
        """Canonical text: "float32", "float16" or e.g. "8bit"; `parse_precision` reads it back."""
        return self.kind if self.kind != "kbit" else f"{self.bits}bit"

    def __str__(self) -> str:
        return self.name


def parse_precision(precision: Any) -> PrecisionSpec:
    """Read a precision such as "float32", "float16", "8bit" or "4-bit".

    Parameters
    ----------
    precision : str or PrecisionSpec
        Case and surrounding spaces are ignored; "fp32"/"fp16" are accepted too.
        A `PrecisionSpec` is returned unchanged.

    Returns
    -------
    PrecisionSpec

    Raises
    ------
    ValueError
        For anything else, or k outside [2, 16] (one sentence saying what is allowed).
    """
    if isinstance(precision, PrecisionSpec):
        return precision
    text = str(precision).strip().lower()
    if text in ("float32", "fp32"):
        return PrecisionSpec("float32", 32)
    if text in ("float16", "fp16"):
        return PrecisionSpec("float16", 16)
    m = _KBIT.match(text)
    if m and MIN_BITS <= int(m.group(1)) <= MAX_BITS:
        return PrecisionSpec("kbit", int(m.group(1)))
    raise ValueError(
        f"precision {precision!r} is not understood; use float32, float16 or "
        f"{MIN_BITS}bit … {MAX_BITS}bit"
    )


def precision_choices() -> list[str]:
    """Names of every precision, widest first: float32, float16, 16bit, 15bit, …, 2bit."""
    return ["float32", "float16"] + [f"{k}bit" for k in range(MAX_BITS, MIN_BITS - 1, -1)]


def code_bits(latent_dim: int, precision: Any) -> int:
    """Bits of one stored latent code: ``d · bits per component`` (32·d, 16·d or k·d).

    Parameters
    ----------
    latent_dim : int
        Dimension ``d`` of the code (≥ 1).
    precision : str or PrecisionSpec
        See `parse_precision`.

    Returns
    -------
    int
        Bits per code. The range a `Quantizer` stores (two float64 numbers per dimension,
        shared by every code of the set) is side information and is not counted.

    Raises
    ------
    ValueError
        For a bad precision or ``latent_dim < 1``.
    """
    d = int(latent_dim)
    if d < 1:
        raise ValueError(f"latent_dim must be ≥ 1, got {latent_dim}")
    return d * parse_precision(precision).bits


def _as_codes(z: Any, name: str = "codes") -> np.ndarray:
    arr = np.asarray(z)
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise ValueError(f"{name} must have shape (N, d), got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    return arr


class Quantizer:
    """Uniform k-bit scalar quantiser, one range per latent dimension.

    Each dimension ``j`` is quantised on ``2**k`` evenly spaced levels from
    ``low_[j] = mean_j − n_sigma·σ_j`` to ``high_[j] = mean_j + n_sigma·σ_j``, where mean
    and σ (population standard deviation, ``ddof=0``) are fitted on a set of codes.
    Both ends are levels, so ``step_ = (high_ − low_) / (2**k − 1)``. Values outside the
    range are clipped to the nearest end.

    Parameters
    ----------
    bits : int, str or PrecisionSpec
        k in [2, 16], or a "kbit" precision such as "8bit".
    n_sigma : float
        Half-width of the range in standard deviations (> 0); 3 keeps 99.7 % of a
        Gaussian dimension inside the range.

    Attributes
    ----------
    mean_, std_, low_, high_, step_ : numpy.ndarray, shape (d,), float64
        Fitted per-dimension statistics, range and step (in latent units).
    n_levels : int
        ``2**bits``.

    Notes
    -----
    Error bound: for ``low_[j] ≤ z ≤ high_[j]``, ``|z − round_trip(z)| ≤ step_[j] / 2``
    (computed in float64; the float32 output adds at most half an ulp of ``z``), and every
    level ``low_ + i·step_`` (as float32) is reproduced exactly. A dimension with σ = 0
    has a single level, its mean. Indices are uint8 for k ≤ 8, else uint16.

    Raises
    ------
    ValueError
        For k outside [2, 16] or ``n_sigma ≤ 0``.
    """

    def __init__(self, bits: Any = 8, n_sigma: float = DEFAULT_N_SIGMA) -> None:
        if isinstance(bits, (int, np.integer)):
            spec = parse_precision(f"{int(bits)}bit")
        else:
            spec = parse_precision(bits)
        if spec.kind != "kbit":
            raise ValueError(f"a Quantizer needs a k-bit precision ({MIN_BITS}bit … {MAX_BITS}bit), got {spec.name}")
        if not float(n_sigma) > 0:
            raise ValueError(f"n_sigma must be > 0, got {n_sigma}")
        self.bits = spec.bits
        self.n_sigma = float(n_sigma)
        self.n_levels = 2 ** self.bits

    @property
    def precision(self) -> PrecisionSpec:
        """The `PrecisionSpec` of this quantiser ("kbit", k)."""
        return PrecisionSpec("kbit", self.bits)

    @property
    def index_dtype(self) -> np.dtype:
        """uint8 for k ≤ 8, else uint16."""
        return np.dtype(np.uint8 if self.bits <= 8 else np.uint16)

    def fit(self, codes: Any) -> Quantizer:
        """Fit the per-dimension range ``mean ± n_sigma·σ`` on ``codes``.

        Parameters
        ----------
        codes : array_like, shape (N, d)
            Finite latent codes, N ≥ 1.

        Returns
        -------
        Quantizer
            ``self``.

        Raises
        ------
        ValueError
            Wrong shape, no rows, or non-finite values.
        """
        z = _as_codes(codes).astype(np.float64)
        if z.shape[0] == 0:
            raise ValueError("cannot fit a Quantizer on zero codes")
        if not np.isfinite(z).all():
            raise ValueError("codes contain NaN or infinite values")
        self.mean_ = z.mean(axis=0)
        self.std_ = z.std(axis=0)
        self.low_ = self.mean_ - self.n_sigma * self.std_
        self.high_ = self.mean_ + self.n_sigma * self.std_
        self.step_ = (self.high_ - self.low_) / (self.n_levels - 1)
        return self

    def _check_fitted(self, d: int) -> None:
        if not hasattr(self, "step_"):
            raise RuntimeError("this Quantizer is not fitted yet; call fit(codes) first")
        if d != self.step_.shape[0]:
            raise ValueError(f"codes have {d} dimensions, the Quantizer was fitted on {self.step_.shape[0]}")

    @property
    def max_error_(self) -> np.ndarray:
        """``step_ / 2``, shape (d,): the largest error inside the range, in latent units."""
        return self.step_ / 2.0

    def in_range(self, z: Any) -> np.ndarray:
        """Boolean mask (N, d): True where ``low_ ≤ z ≤ high_`` (the error bound holds)."""
        z = _as_codes(z).astype(np.float64)
        self._check_fitted(z.shape[1])
        return (z >= self.low_) & (z <= self.high_)

    def quantize(self, z: Any) -> np.ndarray:
        """Indices of the nearest levels (round half to even), clipped to [0, 2**k − 1].

        Parameters
        ----------
        z : array_like, shape (N, d)

        Returns
        -------
        numpy.ndarray, shape (N, d), uint8 (k ≤ 8) or uint16

        Raises
        ------
        RuntimeError
            Not fitted.
        ValueError
            Wrong number of dimensions.
        """
        z = _as_codes(z).astype(np.float64)
        self._check_fitted(z.shape[1])
        positive = self.step_ > 0
        safe = np.where(positive, self.step_, 1.0)
        idx = np.rint((z - self.low_) / safe)
        idx = np.where(positive, idx, 0.0)
        idx = np.nan_to_num(idx, nan=0.0)
        return np.clip(idx, 0, self.n_levels - 1).astype(self.index_dtype)

    def dequantize(self, idx: Any) -> np.ndarray:
        """Levels ``low_ + idx·step_`` for indices from `quantize`.

        Parameters
        ----------
        idx : array_like of int, shape (N, d), values in [0, 2**k − 1]

        Returns
        -------
        numpy.ndarray, shape (N, d), float32

        Raises
        ------
        ValueError
            Indices out of range or wrong number of dimensions.
        """
        idx = _as_codes(idx, "indices")
        self._check_fitted(idx.shape[1])
        if idx.size and (idx.min() < 0 or idx.max() > self.n_levels - 1):
            raise ValueError(f"indices must lie in [0, {self.n_levels - 1}]")
        return (self.low_ + idx.astype(np.float64) * self.step_).astype(np.float32)

    def round_trip(self, z: Any) -> np.ndarray:
        """``dequantize(quantize(z))``: the code as a decoder sees it, (N, d) float32."""
        return self.dequantize(self.quantize(z))

    def __repr__(self) -> str:
        return f"Quantizer(bits={self.bits}, n_sigma={self.n_sigma})"


def round_trip(z: Any, precision: Any, quantizer: Quantizer | None = None) -> np.ndarray:
    """Store codes at ``precision`` and read them back.

    Parameters
    ----------
    z : array_like, shape (N, d)
        Latent codes.
    precision : str or PrecisionSpec
        "float32" (a float32 copy), "float16" (exactly ``z.astype(float16).astype(float32)``;
        round to nearest even, magnitudes above 65504 become ±inf) or "kbit".
    quantizer : Quantizer, optional
        For "kbit": a fitted quantiser with the same k (e.g. fitted on the training set's
        codes). Default: a `Quantizer` with ``n_sigma = 3`` fitted on ``z`` itself.

    Returns
    -------
    numpy.ndarray, shape (N, d), float32

    Raises
    ------
    ValueError
        Bad precision, or a quantiser whose k differs from the precision's.
    """
    spec = parse_precision(precision)
    arr = _as_codes(z)
    if spec.kind == "float32":
        return arr.astype(np.float32, copy=True)
    if spec.kind == "float16":
        with np.errstate(over="ignore"):
            return arr.astype(np.float16).astype(np.float32)
    if quantizer is None:
        quantizer = Quantizer(spec.bits).fit(arr)
    elif quantizer.bits != spec.bits:
        raise ValueError(f"the quantiser has {quantizer.bits} bits, the precision asks for {spec.name}")
    return quantizer.round_trip(arr)
