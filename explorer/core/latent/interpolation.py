"""Linear and spherical interpolation of latent codes, and paths through keypoints for movies."""

from __future__ import annotations

import numpy as np

from explorer.core.codes import DEFAULT_BATCH, decode_codes
from explorer.core.jobs import JobContext

METHODS = ("lerp", "slerp")

# Below this sin(Ω) (≈ 0.06° between the vectors) slerp falls back to lerp.
_PARALLEL_EPS = 1e-6


def _out_dtype(*arrays) -> np.dtype:
    """float32 codes stay float32; anything else becomes float64."""
    return np.result_type(*(np.asarray(a).dtype for a in arrays), np.float32)


def _check_pair(z0, z1) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(z0, dtype=np.float64)
    b = np.asarray(z1, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"z0 and z1 must be latent codes of the same shape (d,), got {a.shape} and {b.shape}")
    return a, b


def lerp(z0, z1, t):
    """Linear interpolation ``(1 − t)·z0 + t·z1`` between two latent codes.

    Parameters
    ----------
    z0, z1 : array_like, shape (d,)
        Latent codes.
    t : float or array_like of shape (T,)
        Interpolation parameter; 0 gives ``z0``, 1 gives ``z1``; values outside
        [0, 1] extrapolate along the line.

    Returns
    -------
    numpy.ndarray
        ``(d,)`` for a scalar ``t``, otherwise ``(*t.shape, d)``; float32 when the
        codes are float32, float64 otherwise. ``t = 0`` and ``t = 1`` return the
        endpoints exactly.

    Raises
    ------
    ValueError
        If ``z0`` and ``z1`` are not 1-D of the same length.
    """
    dtype = _out_dtype(z0, z1)
    a, b = _check_pair(z0, z1)
    tt = np.asarray(t, dtype=np.float64)[..., None]
    out = (1.0 - tt) * a + tt * b
    return out.astype(dtype, copy=False)


def angle(z0, z1) -> float:
    """Angle Ω between two latent codes, in radians in [0, π]; 0 if either is the zero vector.

    Parameters
    ----------
    z0, z1 : array_like, shape (d,)
    """
    a, b = _check_pair(z0, z1)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(np.arccos(np.clip(np.dot(a / na, b / nb), -1.0, 1.0)))


def slerp(z0, z1, t):
    """Spherical linear interpolation between two latent codes (White 2016).

    ``slerp(z0, z1; t) = sin((1 − t)Ω)/sin Ω · z0 + sin(tΩ)/sin Ω · z1`` with Ω the
    angle between ``z0`` and ``z1``. The vectors themselves are interpolated (not
    their directions), so for codes of equal norm ``r`` the path stays on the sphere
    of radius ``r`` along the great circle through them; for codes of different norms
    it stays in their plane. Under a Gaussian prior this avoids the low-norm middle of
    a lerp path, where the prior puts little mass in high dimension (White 2016,
    "Sampling Generative Networks", arXiv:1609.04468).

    Parameters
    ----------
    z0, z1 : array_like, shape (d,)
        Latent codes.
    t : float or array_like of shape (T,)
        Interpolation parameter in [0, 1] (values outside extrapolate along the arc).

    Returns
    -------
    numpy.ndarray
        ``(d,)`` for a scalar ``t``, otherwise ``(*t.shape, d)``; float32 when the
        codes are float32, float64 otherwise. ``t = 0`` and ``t = 1`` return the
        endpoints exactly.

    Raises
    ------
    ValueError
        If ``z0`` and ``z1`` are not 1-D of the same length.

    Notes
    -----
    When ``sin Ω`` is below 1e-6 — nearly parallel or antiparallel codes — or either
    code is the zero vector, the arc is undefined or numerically unstable and the
    result is the lerp (the limit of slerp as Ω → 0).
    """
    dtype = _out_dtype(z0, z1)
    a, b = _check_pair(z0, z1)
    omega = angle(a, b)
    so = np.sin(omega)
    if so < _PARALLEL_EPS:
        return lerp(a, b, t).astype(dtype, copy=False)
    tt = np.asarray(t, dtype=np.float64)[..., None]
    out = (np.sin((1.0 - tt) * omega) / so) * a + (np.sin(tt * omega) / so) * b
    # Keep the endpoints bit-exact (the sine ratios are 1 ± 1 ulp there).
    out = np.where(tt == 0.0, a, np.where(tt == 1.0, b, out))
    return out.astype(dtype, copy=False)


def _segment_lengths(keypoints: np.ndarray, method: str, closed: bool) -> np.ndarray:
    ends = np.roll(keypoints, -1, axis=0) if closed else keypoints[1:]
    starts = keypoints if closed else keypoints[:-1]
    if method == "lerp":
        return np.linalg.norm(ends - starts, axis=1)
    return np.array([angle(a, b) for a, b in zip(starts, ends, strict=True)])


def _allocate(lengths: np.ndarray, n_inner: int) -> np.ndarray:
    """Split ``n_inner`` frames over segments in proportion to ``lengths`` (largest remainder)."""
    total = float(lengths.sum())
    weights = lengths / total if total > 0 else np.full(len(lengths), 1.0 / len(lengths))
    quota = weights * n_inner
    counts = np.floor(quota).astype(int)
    left = n_inner - int(counts.sum())
    if left > 0:
        # Largest remainders first; ties go to the earlier segment (stable sort).
        order = np.argsort(-(quota - counts), kind="stable")
        counts[order[:left]] += 1
    return counts


def _check_path_args(keypoints, frames: int, method: str, closed: bool) -> np.ndarray:
    kp = np.asarray(keypoints)
    if kp.ndim != 2 or len(kp) < 2:
        raise ValueError(f"keypoints must be an array (K, d) with K ≥ 2 latent codes, got shape {kp.shape}")
    if method not in METHODS:
        raise ValueError(f"interpolation method must be one of {METHODS}, got {method!r}")
    if int(frames) != frames or frames < len(kp):
        raise ValueError(f"a path through {len(kp)} keypoints needs at least {len(kp)} frames, got {frames}")
    return kp


def keypoint_indices(keypoints, frames: int, method: str = "lerp", closed: bool = False) -> np.ndarray:
    """Frame index of each keypoint in :func:`interpolation_path` with the same arguments.

    Returns
    -------
    numpy.ndarray
        ``(K,)`` int64, increasing, starting at 0; for an open path the last is
        ``frames − 1``.

    Raises
    ------
    ValueError
        As :func:`interpolation_path`.
    """
    kp = _check_path_args(keypoints, frames, method, closed)
    lengths = _segment_lengths(kp.astype(np.float64), method, closed)
    counts = _allocate(lengths, int(frames) - len(kp))
    # Keypoint k sits after k keypoints and the inner frames of segments 0..k-1.
    return np.concatenate([[0], np.cumsum(counts[: len(kp) - 1] + 1)]).astype(np.int64)


def interpolation_path(keypoints, frames: int, method: str = "lerp", closed: bool = False) -> np.ndarray:
    """Latent codes for a movie that passes through two or more keypoints.

    The ``frames − K`` frames between keypoints are shared among the segments in
    proportion to their length — the Euclidean distance for lerp, the angle Ω for
    slerp (White 2016) — so the path moves at a roughly even pace; within a segment
    they are evenly spaced in ``t``. Every keypoint is one frame of the path, exactly.

    Parameters
    ----------
    keypoints : array_like, shape (K, d)
        Latent codes to pass through, in order; ``K ≥ 2``.
    frames : int
        Number of codes to return; at least ``K``.
    method : {"lerp", "slerp"}
        Interpolation within each segment (:func:`lerp`, :func:`slerp`).
    closed : bool
        If True, a last segment returns from the last keypoint to the first; the first
        keypoint is not repeated at the end, so a looping movie does not stutter.

    Returns
    -------
    numpy.ndarray
        ``(frames, d)``; float32 for float32 keypoints, float64 otherwise. Row
        ``keypoint_indices(...)[k]`` equals ``keypoints[k]``.

    Raises
    ------
    ValueError
        Fewer than two keypoints, fewer frames than keypoints, or an unknown method.

    Notes
    -----
    Segments of zero length (repeated keypoints; for slerp also parallel codes, whose
    angle is 0) get no inner frames; if all segments have zero length the frames are
    shared equally. Shares are rounded by the largest-remainder method, ties to the
    earlier segment, so the path is deterministic.
    """
    kp = _check_path_args(keypoints, frames, method, closed)
    dtype = _out_dtype(kp)
    kp64 = kp.astype(np.float64)
    k = len(kp64)
    lengths = _segment_lengths(kp64, method, closed)
    counts = _allocate(lengths, int(frames) - k)
    interp = lerp if method == "lerp" else slerp
    pieces = []
    for s, m in enumerate(counts):
        a, b = kp64[s], kp64[(s + 1) % k]
        pieces.append(a[None])
        if m > 0:
            pieces.append(interp(a, b, np.arange(1, m + 1) / (m + 1)))
    if not closed:
        pieces.append(kp64[-1][None])
    # Keypoints went in as float64 copies of float32/float64 values: the cast back is exact.
    return np.concatenate(pieces, axis=0).astype(dtype)


def interpolation_frames(
    model, path, ctx: JobContext | None = None, batch_size: int = DEFAULT_BATCH
) -> np.ndarray:
    """Decode an interpolation path to movie frames.

    Parameters
    ----------
    model : models.base.GenerativeModel
    path : array_like, shape (T, d)
        Latent codes, e.g. from :func:`interpolation_path`.
    ctx : JobContext, optional
        Progress and cancel, checked between batches.
    batch_size : int
        Codes per forward pass.

    Returns
    -------
    numpy.ndarray
        ``(T, C, H, W)`` float32 images in [0, 1].

    Raises
    ------
    ValueError
        If ``path`` is not ``(T, model.latent_dim)``.
    explorer.core.jobs.Cancelled
        The job was cancelled.
    """
    path = np.asarray(path)
    if path.ndim != 2 or path.shape[1] != model.latent_dim:
        raise ValueError(f"an interpolation path must have shape (T, {model.latent_dim}), got {path.shape}")
    return decode_codes(model, path, batch_size=batch_size, ctx=ctx)
