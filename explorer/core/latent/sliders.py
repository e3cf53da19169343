"""Latent sliders, traversal figures and interpolation movies: the Qt-free steps shared by the GUI and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from explorer.core.figures import FIGURE_FORMATS, save_grid_figure
from explorer.core.jobs import JobContext
from explorer.core.latent.interpolation import interpolation_frames, interpolation_path
from explorer.core.latent.movie import MOVIE_FORMATS, write_movie
from explorer.core.latent.traversal import (
    active_order,
    code_variance,
    dimension_label,
    fitted_range,
    kl_per_dimension,
    prior_range,
    traversal_cycle_frames,
    traversal_grid,
    traversal_values,
    value_labels,
)

#: Slider range choices: ±3σ of the prior N(0, I), or ±2σ of the codes' fitted Gaussian.
RANGE_MODES = ("prior", "fitted")
PRIOR_SIGMAS = 3.0
FITTED_SIGMAS = 2.0
#: Integer steps of a slider across its range (QSlider works in integers).
SLIDER_STEPS = 1000
#: Images used to estimate the KL per dimension (enough for two significant digits).
KL_MAX_IMAGES = 2000
DEFAULT_COLUMNS = 10
DEFAULT_ROWS = 10


# -- ranges and slider positions -----------------------------------------------------------------


def slider_ranges(mode: str, latent_dim: int, codes=None) -> np.ndarray:
    """Range of every slider: ±3σ of the prior or ±2σ of the codes' fitted Gaussian.

    Parameters
    ----------
    mode : {"prior", "fitted"}
        "prior": ``[−3, 3]`` for every dimension (standard normal prior);
        "fitted": mean ± 2 standard deviations of ``codes`` per dimension
        (disentanglement_lib's fitted-Gaussian traversals).
    latent_dim : int
        ``d``.
    codes : array_like, shape (N, d), optional
        Latent codes of the dataset; required for "fitted".

    Returns
    -------
    numpy.ndarray
        ``(d, 2)`` float64 rows ``[low, high]`` with ``low < high`` (a degenerate fitted
        range is widened to ±1e-3 around its mean).

    Raises
    ------
    ValueError
        Unknown mode, "fitted" without codes, or codes of another dimension.
    """
    if mode not in RANGE_MODES:
        raise ValueError(f"slider range must be one of {RANGE_MODES}, got {mode!r}")
    if mode == "prior":
        return prior_range(int(latent_dim), PRIOR_SIGMAS)
    if codes is None:
        raise ValueError("the fitted range needs the latent codes of a dataset")
    c = np.asarray(codes)
    if c.ndim != 2 or c.shape[1] != latent_dim:
        raise ValueError(f"codes of shape {c.shape} do not have {latent_dim} dimensions")
    r = fitted_range(c, FITTED_SIGMAS)
    mid = r.mean(axis=1)
    flat = (r[:, 1] - r[:, 0]) < 2e-3
    r[flat, 0], r[flat, 1] = mid[flat] - 1e-3, mid[flat] + 1e-3
    return r


def value_to_step(value: float, low: float, high: float, steps: int = SLIDER_STEPS) -> int:
    """Integer slider position (0..steps) of ``value`` in ``[low, high]``, clipped, rounded."""
    if high <= low:
        return 0
    s = (float(value) - low) / (high - low) * steps
    return int(min(max(round(s), 0), steps))


def step_to_value(step: int, low: float, high: float, steps: int = SLIDER_STEPS) -> float:
    """Latent value of the integer slider position ``step`` (0 → ``low``, ``steps`` → ``high``)."""
    return float(low + (high - low) * (int(step) / steps))


# -- ordering dimensions --------------------------------------------------------------------------


@dataclass(frozen=True)
class DimensionScores:
    """How active each latent dimension is, and the order that puts active ones first.

    Attributes
    ----------
    values : numpy.ndarray
        ``(d,)`` float64 score per dimension.
    kind : {"kl", "variance"}
        "kl": average KL(q(z_j|x) || p(z_j)) in nats; "variance": variance of the codes
        (squared latent units) for models without a Gaussian posterior.
    order : numpy.ndarray
        ``(d,)`` int64 dimensions, largest score first (:func:`active_order`).
    """

    values: np.ndarray
    kind: str
    order: np.ndarray

    def text(self, dim: int) -> str:
        """Short read-out of one dimension's score: ``"2.41 nats"`` or ``"var 0.83"``."""
        v = float(self.values[int(dim)])
        return f"{v:.2f} nats" if self.kind == "kl" else f"var {v:.2f}"

    def label(self, dim: int) -> str:
        """Traversal row label: ``"z3 (KL 2.41 nats)"`` or ``"z3 (var 0.83)"``."""
        if self.kind == "kl":
            return dimension_label(dim, float(self.values[int(dim)]))
        return f"z{int(dim)} ({self.text(dim)})"


def dimension_scores(model, images=None, codes=None, max_images: int = KL_MAX_IMAGES,
                     ctx: JobContext | None = None) -> DimensionScores:
    """Score latent dimensions by average KL to the prior (VAE) or by the codes' variance.

    Parameters
    ----------
    model : models.base.GenerativeModel
    images : array_like, shape (N, C, H, W), optional
        Dataset images fitted to the model; the first ``max_images`` are used for the KL.
    codes : array_like, shape (N, d), optional
        Latent codes, used for the variance when the model has no posterior or no images.
    max_images : int
        Cap on the images passed to :func:`kl_per_dimension`.
    ctx : JobContext, optional
        Progress and cancel.

    Returns
    -------
    DimensionScores
        KL in nats (Kingma & Welling 2014, appendix B) for models with ``posterior``
        given images; otherwise the variance of ``codes``; with neither, zeros
        (natural order).
    """
    d = int(model.latent_dim)
    if images is not None and len(images) and callable(getattr(model, "posterior", None)):
        values = kl_per_dimension(model, np.asarray(images)[:max_images], ctx=ctx)
        return DimensionScores(values, "kl", active_order(values))
    if codes is not None and len(codes):
        values = code_variance(codes)
        return DimensionScores(values, "variance", active_order(values))
    values = np.zeros(d)
    return DimensionScores(values, "variance", np.arange(d, dtype=np.int64))


# -- traversal figures ----------------------------------------------------------------------------


def column_labels(dims, ranges, n_cols: int) -> list[str]:
    """Column labels of a traversal figure.

    The values themselves when every row spans the same values (prior range), else the
    position in the range from −1 to +1 of its half-width (``"−1.00"`` … ``"+1.00"``).
    """
    values = traversal_values(dims, ranges, n_cols, latent_dim=len(np.asarray(ranges)))
    if np.allclose(values, values[:1]):
        return value_labels(values[0])
    return value_labels(np.linspace(-1.0, 1.0, int(n_cols)))


def traversal_figure(model, z, dims, ranges, n_cols: int = DEFAULT_COLUMNS, scores: DimensionScores | None = None,
                     ctx: JobContext | None = None):
    """Decode a traversal grid and its labels (the β-VAE figure, Higgins et al. 2017).

    Parameters
    ----------
    model : models.base.GenerativeModel
    z : array_like, shape (d,)
        Base latent code.
    dims : sequence of int
        Dimensions, one row each, in display order.
    ranges : array_like, shape (d, 2)
        Per-dimension ``[low, high]`` (:func:`slider_ranges`).
    n_cols : int
        Values per row.
    scores : DimensionScores, optional
        Adds the score to each row label (KL in nats).
    ctx : JobContext, optional

    Returns
    -------
    images : numpy.ndarray
        ``(len(dims), n_cols, C, H, W)`` float32 in [0, 1].
    row_labels, col_labels : list of str
    """
    dims = [int(k) for k in dims]
    images = traversal_grid(model, np.asarray(z, dtype=np.float32), dims, ranges, int(n_cols), ctx=ctx)
    rows = [scores.label(k) if scores is not None else dimension_label(k) for k in dims]
    return images, rows, column_labels(dims, ranges, n_cols)


def save_traversal(path, model, z, dims, ranges, n_cols: int = DEFAULT_COLUMNS,
                   scores: DimensionScores | None = None, *, title: str | None = None, scale: float = 2,
                   upscale: str = "nearest", fps: float = 10.0, n_frames: int = 40,
                   ctx: JobContext | None = None, directions=None) -> Path:
    """Save a traversal as a figure (PNG/SVG/PDF) or an animated traversal (GIF/MP4).

    The GUI's export and ``latent-explorer render traversal`` both call this, so the
    same arguments give the same file.

    Parameters
    ----------
    path : str or Path
        ``.png``, ``.svg``, ``.pdf`` (grid figure) or ``.gif``, ``.mp4`` (one column per
        frame: every chosen dimension cycles through its range at once, as
        disentanglement_lib's animated traversals; ``n_frames`` per cycle; each row
        labelled with its dimension and value range, as the grid figure's rows).
    model, z, dims, ranges, n_cols, scores
        See :func:`traversal_figure`.
    title : str, optional
        Figure title (a caption band under a movie).
    scale : float
        Resize factor of each image; ``upscale`` "nearest" or "smooth".
    fps, n_frames : movies only.
    ctx : JobContext, optional
    directions : sequence of Direction, optional
        Rows along these unit directions instead of ``dims`` (GANSpace, SeFa, attribute
        vectors; `explorer.core.latent.direction_traversal.save_direction_traversal`,
        offsets ±3 · each direction's scale; ``dims``, ``ranges`` and ``scores`` are then unused).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        Unknown extension or bad dimensions.
    """
    if directions is not None:
        from explorer.core.latent.direction_traversal import save_direction_traversal

        return save_direction_traversal(path, model, z, directions, n_cols, title=title, scale=scale, upscale=upscale,
                                        fps=fps, n_frames=n_frames, ctx=ctx)
    path = Path(path)
    ext = path.suffix.lower()
    if ext in FIGURE_FORMATS:
        images, rows, cols = traversal_figure(model, z, dims, ranges, n_cols, scores, ctx=ctx)
        return save_grid_figure(path, images, rows, cols, title, scale=scale, upscale=upscale)
    if ext in MOVIE_FORMATS:
        frames = traversal_movie_frames(model, z, dims, ranges, n_frames, ctx=ctx)
        r = np.asarray(ranges, dtype=np.float64)
        names = [scores.label(k) if scores is not None else dimension_label(k) for k in dims]
        labels = [f"{name}: {_num(r[int(k)][0])} … {_num(r[int(k)][1])}" for name, k in zip(names, dims, strict=True)]
        return write_movie(path, frames, fps=fps, scale=scale, upscale=upscale, ctx=ctx, row_labels=labels,
                           caption=title)
    raise ValueError(f"cannot save traversal '{path.name}': the extension must be one of "
                     f"{', '.join(FIGURE_FORMATS + MOVIE_FORMATS)}")


def _num(v: float) -> str:
    """A range end for a label: 2 decimals, a true minus sign."""
    return f"{float(v):.2f}".replace("-", "\u2212")


def traversal_movie_frames(model, z, dims, ranges, n_frames: int, ctx: JobContext | None = None) -> np.ndarray:
    """Frames of an animated traversal: each dimension cycles through its range, one row each.

    Returns
    -------
    numpy.ndarray
        ``(n_frames, len(dims), 1, C, H, W)`` float32 in [0, 1] (one cell per dimension,
        stacked vertically), for :func:`explorer.core.latent.movie.write_movie`.
    """
    r = np.asarray(ranges, dtype=np.float64)
    per_dim = [traversal_cycle_frames(model, np.asarray(z, dtype=np.float32), int(k), r[int(k)], int(n_frames), ctx=ctx)
               for k in dims]
    return np.stack(per_dim, axis=1)[:, :, None]


# -- interpolation movies -------------------------------------------------------------------------


def interpolation_movie(model, keypoints, n_frames: int, method: str = "lerp", closed: bool = False,
                        ctx: JobContext | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Codes and decoded frames of an interpolation through keypoints.

    Parameters
    ----------
    model : models.base.GenerativeModel
    keypoints : array_like, shape (K, d)
        K ≥ 2 latent codes to pass through.
    n_frames : int
        ≥ K.
    method : {"lerp", "slerp"}
    closed : bool
        Return to the first keypoint (seamless loop).
    ctx : JobContext, optional

    Returns
    -------
    path : numpy.ndarray
        ``(n_frames, d)`` latent codes (:func:`interpolation_path`).
    frames : numpy.ndarray
        ``(n_frames, C, H, W)`` float32 in [0, 1].
    """
    path = interpolation_path(np.asarray(keypoints, dtype=np.float32), int(n_frames), method, closed)
    return path, interpolation_frames(model, path, ctx=ctx)


def save_interpolation(path, frames, *, fps: float = 12.0, scale: float = 4, upscale: str = "nearest",
                       caption: str | None = None, loop: bool = True, ctx: JobContext | None = None) -> Path:
    """Write interpolation frames as GIF or MP4 (:func:`explorer.core.latent.movie.write_movie`).

    The GUI's export and ``latent-explorer render interpolation`` both call this.

    Parameters
    ----------
    path : str or Path
        ``.gif`` or ``.mp4``.
    frames : array_like, shape (T, C, H, W)
        From :func:`interpolation_movie`.
    fps, scale, upscale, caption, loop
        See ``write_movie``.

    Returns
    -------
    pathlib.Path
    """
    return write_movie(path, frames, fps=fps, scale=scale, upscale=upscale, caption=caption or None, loop=loop,
                       ctx=ctx)


def default_dims(scores: DimensionScores, n: int = DEFAULT_ROWS) -> list[int]:
    """The ``n`` most active dimensions (all when ``d < n``), most active first."""
    return [int(k) for k in scores.order[: int(n)]]
