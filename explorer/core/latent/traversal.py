"""Latent traversals: value ranges, one-dimension-at-a-time codes and grids, dimension ordering."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from explorer.core.codes import DEFAULT_BATCH, decode_codes
from explorer.core.jobs import JobContext

# -- ranges ---------------------------------------------------------------------------------


def prior_range(latent_dim: int, sigmas: float = 3.0) -> np.ndarray:
    """Per-dimension range ``±sigmas·σ`` of the standard normal prior ``p(z) = N(0, I)``.

    Parameters
    ----------
    latent_dim : int
        Dimension ``d`` of the latent code.
    sigmas : float
        Half-width in standard deviations (> 0); 3 covers 99.7 % of the prior.

    Returns
    -------
    numpy.ndarray
        ``(d, 2)`` float64, rows ``[−sigmas, +sigmas]``.

    Raises
    ------
    ValueError
        If ``latent_dim < 1`` or ``sigmas <= 0``.
    """
    if int(latent_dim) < 1 or not sigmas > 0:
        raise ValueError(f"prior_range needs latent_dim ≥ 1 and sigmas > 0, got {latent_dim} and {sigmas}")
    return np.tile(np.array([-float(sigmas), float(sigmas)]), (int(latent_dim), 1))


def fitted_range(codes, sigmas: float = 2.0, posterior_var=None) -> np.ndarray:
    """Per-dimension range ``mean ± sigmas·std`` of a Gaussian fitted to the codes.

    As the "fitted Gaussian" traversals of disentanglement_lib (Locatello et al. 2019),
    this follows where the encoder actually puts the data, which for a β-VAE can be far
    narrower (active dimensions) or wider than the prior.

    Parameters
    ----------
    codes : array_like, shape (N, d)
        Latent codes of a dataset (e.g. posterior means from ``encode_images``).
    sigmas : float
        Half-width in standard deviations (> 0).
    posterior_var : array_like, shape (N, d), optional
        Posterior variances ``exp(logvar)`` of the same examples. When given, the
        variance is the aggregate posterior's, ``Var(mean) + E[var]`` (law of total
        variance); otherwise the population variance of ``codes`` (``ddof = 0``).

    Returns
    -------
    numpy.ndarray
        ``(d, 2)`` float64, rows ``[mean − sigmas·std, mean + sigmas·std]``.

    Raises
    ------
    ValueError
        If ``codes`` is not 2-D with at least one row, ``posterior_var`` has another
        shape, or ``sigmas <= 0``.
    """
    c = np.asarray(codes, dtype=np.float64)
    if c.ndim != 2 or len(c) == 0:
        raise ValueError(f"codes must be a non-empty array (N, d), got shape {c.shape}")
    if not sigmas > 0:
        raise ValueError(f"sigmas must be > 0, got {sigmas}")
    mean = c.mean(axis=0)
    var = c.var(axis=0)
    if posterior_var is not None:
        pv = np.asarray(posterior_var, dtype=np.float64)
        if pv.shape != c.shape:
            raise ValueError(f"posterior_var must have the shape of codes {c.shape}, got {pv.shape}")
        var = var + pv.mean(axis=0)
    half = float(sigmas) * np.sqrt(var)
    return np.stack([mean - half, mean + half], axis=1)


# -- traversal codes and grids ----------------------------------------------------------------


def _check_z(z) -> np.ndarray:
    z = np.asarray(z)
    if z.ndim != 1 or len(z) == 0:
        raise ValueError(f"the base latent code z must have shape (d,), got {z.shape}")
    return z


def _check_dims(dims, d: int) -> np.ndarray:
    dims = np.atleast_1d(np.asarray(dims))
    if dims.ndim != 1 or len(dims) == 0 or not np.issubdtype(dims.dtype, np.integer):
        raise ValueError(f"dims must be a non-empty list of latent dimensions, got {dims!r}")
    if dims.min() < 0 or dims.max() >= d:
        raise ValueError(f"latent dimensions must lie in 0..{d - 1}, got {dims.tolist()}")
    return dims.astype(np.int64)


def traversal_values(dims, ranges, n_cols: int | None = None, latent_dim: int | None = None) -> np.ndarray:
    """Values each traversed dimension takes, one row per dimension.

    Parameters
    ----------
    dims : sequence of int
        Latent dimensions to traverse (rows), in display order.
    ranges : array_like, shape (n_cols,) or (d, 2)
        Either the values themselves, shared by every row, or per-dimension
        ``[low, high]`` ranges (as from :func:`prior_range`, :func:`fitted_range`),
        indexed by the dimension number, spanned by ``n_cols`` evenly spaced values.
    n_cols : int, optional
        Number of values per row; required with ranges, checked against shared values.
    latent_dim : int, optional
        ``d``, to check ``dims`` and the ranges' length.

    Returns
    -------
    numpy.ndarray
        ``(len(dims), n_cols)`` float64.

    Raises
    ------
    ValueError
        Bad shapes, a missing or mismatched ``n_cols``, or dimensions out of range.
    """
    r = np.asarray(ranges, dtype=np.float64)
    if r.ndim == 1:
        if n_cols is not None and int(n_cols) != len(r):
            raise ValueError(f"{len(r)} traversal values given but n_cols is {n_cols}")
        if len(r) == 0:
            raise ValueError("traversal values must not be empty")
        d = latent_dim if latent_dim is not None else int(np.max(dims)) + 1
        dims = _check_dims(dims, d)
        return np.tile(r, (len(dims), 1))
    if r.ndim != 2 or r.shape[1] != 2:
        raise ValueError(f"ranges must be values (n_cols,) or per-dimension ranges (d, 2), got shape {r.shape}")
    if latent_dim is not None and len(r) != latent_dim:
        raise ValueError(f"ranges has {len(r)} rows but the latent code has {latent_dim} dimensions")
    if n_cols is None or int(n_cols) < 1:
        raise ValueError(f"n_cols ≥ 1 is needed to span per-dimension ranges, got {n_cols}")
    dims = _check_dims(dims, len(r))
    lo, hi = r[dims, 0], r[dims, 1]
    if int(n_cols) == 1:
        return ((lo + hi) / 2.0)[:, None]
    u = np.linspace(0.0, 1.0, int(n_cols))
    return lo[:, None] + (hi - lo)[:, None] * u[None, :]


def traversal_codes(z, dims, ranges, n_cols: int | None = None) -> np.ndarray:
    """Latent codes of a traversal grid: copies of ``z`` with one dimension replaced per row.

    Row ``i`` varies dimension ``dims[i]`` over its values while all other dimensions
    keep the values of ``z`` — the traversal figure of β-VAE (Higgins et al. 2017).

    Parameters
    ----------
    z : array_like, shape (d,)
        Base latent code (e.g. the posterior mean of an image, or a prior sample).
    dims : sequence of int
        Dimensions to traverse, one row each, in display order (see :func:`active_order`).
    ranges : array_like, shape (n_cols,) or (d, 2)
        Shared absolute values, or per-dimension ``[low, high]`` ranges; see
        :func:`traversal_values`.
    n_cols : int, optional
        Number of columns; required with ranges.

    Returns
    -------
    numpy.ndarray
        ``(len(dims), n_cols, d)``; float32 for a float32 ``z``, float64 otherwise.
        ``out[i, j, dims[i]] = values[i, j]`` and ``out[i, j, k] = z[k]`` for ``k ≠ dims[i]``.

    Raises
    ------
    ValueError
        As :func:`traversal_values`, or if ``z`` is not 1-D.
    """
    z = _check_z(z)
    dtype = np.result_type(z.dtype, np.float32)
    values = traversal_values(dims, ranges, n_cols, latent_dim=len(z))
    dims = _check_dims(dims, len(z))
    rows, cols = values.shape
    out = np.broadcast_to(z.astype(dtype), (rows, cols, len(z))).copy()
    out[np.arange(rows), :, dims] = values
    return out


def traversal_grid(
    model,
    z,
    dims,
    ranges,
    n_cols: int | None = None,
    ctx: JobContext | None = None,
    batch_size: int = DEFAULT_BATCH,
) -> np.ndarray:
    """Decode a traversal grid: one row per latent dimension, columns across its range.

    Parameters
    ----------
    model : models.base.GenerativeModel
    z, dims, ranges, n_cols
        As :func:`traversal_codes`; ``len(z) == model.latent_dim``.
    ctx : JobContext, optional
        Progress and cancel, checked between batches.
    batch_size : int
        Codes per forward pass.

    Returns
    -------
    numpy.ndarray
        ``(len(dims), n_cols, C, H, W)`` float32 images in [0, 1].

    Raises
    ------
    ValueError
        Bad shapes (see :func:`traversal_codes`) or ``len(z) != model.latent_dim``.
    explorer.core.jobs.Cancelled
        The job was cancelled.
    """
    z = _check_z(z)
    if len(z) != model.latent_dim:
        raise ValueError(f"z has {len(z)} dimensions but the model's latent code has {model.latent_dim}")
    codes = traversal_codes(z, dims, ranges, n_cols)
    rows, cols, d = codes.shape
    images = decode_codes(model, codes.reshape(rows * cols, d), batch_size=batch_size, ctx=ctx)
    return images.reshape(rows, cols, *images.shape[1:])


# -- animated traversals -----------------------------------------------------------------------


def cycle_values(start: float, value_range, n_frames: int) -> np.ndarray:
    """Values of one dimension in a looping traversal: up to the top, down to the bottom, back.

    Starting at ``start``, the value moves linearly up to ``high``, down to ``low`` and
    up again to just below ``start`` — a triangle wave of one period sampled at
    ``n_frames`` evenly spaced phases without the closing point, so the animation loops
    seamlessly (the cycle of disentanglement_lib's animated traversals, Locatello et al.
    2019).

    Parameters
    ----------
    start : float
        Value in the base code; clipped to the range.
    value_range : (low, high)
        Range of the dimension, ``low <= high``.
    n_frames : int
        Number of values, ≥ 1.

    Returns
    -------
    numpy.ndarray
        ``(n_frames,)`` float64 in ``[low, high]``; the first is ``start`` (clipped).

    Raises
    ------
    ValueError
        If ``n_frames < 1`` or ``low > high``.
    """
    low, high = (float(v) for v in value_range)
    if int(n_frames) < 1 or not low <= high:
        raise ValueError(f"a traversal cycle needs n_frames ≥ 1 and low ≤ high, got {n_frames} and {value_range}")
    width = high - low
    if width == 0.0:
        return np.full(int(n_frames), low)
    s0 = min(max((float(start) - low) / width, 0.0), 1.0)
    phase = np.linspace(s0, s0 + 2.0, int(n_frames), endpoint=False)
    s = 1.0 - np.abs(1.0 - np.mod(phase, 2.0))  # triangle wave, period 2, peak 1 at phase 1
    s[0] = s0  # exact start (mod 2 of s0 is s0, but keep it bit-exact)
    return low + width * s


def traversal_cycle_frames(
    model,
    z,
    dim: int,
    value_range,
    n_frames: int,
    ctx: JobContext | None = None,
    batch_size: int = DEFAULT_BATCH,
) -> np.ndarray:
    """Decode an animated traversal of one latent dimension (see :func:`cycle_values`).

    Parameters
    ----------
    model : models.base.GenerativeModel
    z : array_like, shape (d,)
        Base latent code; dimension ``dim`` starts at ``z[dim]``.
    dim : int
        Latent dimension to animate.
    value_range : (low, high)
        Its range, e.g. a row of :func:`prior_range` or :func:`fitted_range`.
    n_frames : int
        Frames in one cycle.
    ctx : JobContext, optional
        Progress and cancel, checked between batches.
    batch_size : int
        Codes per forward pass.

    Returns
    -------
    numpy.ndarray
        ``(n_frames, C, H, W)`` float32 images in [0, 1].

    Raises
    ------
    ValueError
        Bad shapes, a dimension out of range, ``n_frames < 1``.
    explorer.core.jobs.Cancelled
        The job was cancelled.
    """
    z = _check_z(z)
    if len(z) != model.latent_dim:
        raise ValueError(f"z has {len(z)} dimensions but the model's latent code has {model.latent_dim}")
    (dim,) = _check_dims([dim], len(z))
    codes = np.tile(z.astype(np.float32), (int(n_frames), 1))
    codes[:, dim] = cycle_values(z[dim], value_range, n_frames)
    return decode_codes(model, codes, batch_size=batch_size, ctx=ctx)


# -- ordering dimensions -----------------------------------------------------------------------


def kl_per_dimension(
    model, images, batch_size: int = DEFAULT_BATCH, ctx: JobContext | None = None
) -> np.ndarray:
    """Average KL divergence of each latent dimension's posterior from the prior, in nats.

    ``KL_j = mean_x ½ (μ_j(x)² + σ_j(x)² − 1 − log σ_j(x)²)``, the closed form of
    ``KL(q(z_j|x) || N(0, 1))`` for a diagonal Gaussian posterior (Kingma & Welling
    2014, appendix B). Dimensions with KL near 0 are inactive (collapsed to the prior);
    β-VAE papers order traversal rows by it (Higgins et al. 2017).

    Parameters
    ----------
    model : models.base.GenerativeModel
        A model with ``posterior(x) -> (mu, logvar)`` (VAE; ALI's encoder too).
    images : array_like, shape (N, C, H, W)
        float32 in [0, 1] matching ``model.image_shape``; N ≥ 1.
    batch_size : int
        Images per forward pass.
    ctx : JobContext, optional
        Progress and cancel, checked between batches.

    Returns
    -------
    numpy.ndarray
        ``(d,)`` float64, non-negative, in nats.

    Raises
    ------
    TypeError
        The model has no Gaussian posterior (use :func:`code_variance`).
    ValueError
        ``images`` is empty or does not match ``model.image_shape``.
    explorer.core.jobs.Cancelled
        The job was cancelled.
    """
    if not callable(getattr(model, "posterior", None)):
        raise TypeError(
            f"a {getattr(model, 'kind', type(model).__name__)} model has no Gaussian posterior q(z|x); "
            "order its dimensions by code_variance instead"
        )
    x_all = np.ascontiguousarray(images, dtype=np.float32)
    if x_all.ndim != 4 or tuple(x_all.shape[1:]) != tuple(model.image_shape) or len(x_all) == 0:
        raise ValueError(
            f"images of shape {x_all.shape} do not fit the model's input (N, {', '.join(map(str, model.image_shape))})"
        )
    import torch  # here: importing this module must not load torch (see explorer.core.codes)

    from models.base import check_finite

    n = len(x_all)
    total = np.zeros(model.latent_dim, dtype=np.float64)
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            mu, logvar = model.posterior(torch.from_numpy(x_all[start:stop]))
            check_finite(logvar, model, "posterior")
            mu = check_finite(mu, model, "posterior").cpu().double()  # float64 sums on the CPU
            logvar = logvar.cpu().double()
            kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)
            total += kl.sum(dim=0).numpy()
            if ctx is not None:
                ctx.progress(stop / n, f"KL per dimension: {stop:,} / {n:,} images")
    return total / n


def code_variance(codes) -> np.ndarray:
    """Variance of each latent dimension over a set of codes, for models without a posterior.

    Parameters
    ----------
    codes : array_like, shape (N, d)
        Latent codes (encoded images, or codes found by GAN inversion).

    Returns
    -------
    numpy.ndarray
        ``(d,)`` float64 population variance (``ddof = 0``), in squared latent units.

    Raises
    ------
    ValueError
        If ``codes`` is not a non-empty 2-D array.
    """
    c = np.asarray(codes, dtype=np.float64)
    if c.ndim != 2 or len(c) == 0:
        raise ValueError(f"codes must be a non-empty array (N, d), got shape {c.shape}")
    return c.var(axis=0)


def active_order(values) -> np.ndarray:
    """Latent dimensions sorted by a per-dimension score, largest first.

    Parameters
    ----------
    values : array_like, shape (d,)
        Score per dimension, e.g. :func:`kl_per_dimension` or :func:`code_variance`.

    Returns
    -------
    numpy.ndarray
        ``(d,)`` int64 dimension indices; ties keep increasing index order, NaN last.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    key = np.where(np.isnan(v), np.inf, -v)
    return np.argsort(key, kind="stable").astype(np.int64)


def dimension_label(dim: int, kl: float | None = None) -> str:
    """Row label of a traversal figure: ``"z3"`` or ``"z3 (KL 2.41 nats)"``."""
    return f"z{int(dim)}" if kl is None else f"z{int(dim)} (KL {float(kl):.2f} nats)"


def value_labels(values: Sequence[float], digits: int = 2) -> list[str]:
    """Column labels for traversal values, with a true minus sign: ``["−2.00", "0.00", "+2.00"]``."""
    out = []
    for v in values:
        v = float(v)
        text = f"{abs(v):.{digits}f}"
        sign = "" if float(text) == 0.0 else ("−" if v < 0 else "+")
        out.append(sign + text)
    return out
