"""Traversal grids and movies along directions (GANSpace, SeFa, attribute vectors) instead of the axes of z."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from explorer.core.codes import decode_codes
from explorer.core.jobs import JobContext
from explorer.core.latent.directions import Direction, direction_range, direction_traversal_codes
from explorer.core.latent.traversal import cycle_values, value_labels

__all__ = ["direction_label", "direction_traversal_figure", "direction_movie_frames", "save_direction_traversal"]

#: Half-width of a direction's row, in its ``scale`` (`explorer.core.latent.directions.direction_range`).
SIGMAS = 3.0


def direction_label(direction: Direction, sigmas: float = SIGMAS) -> str:
    """Row label: the direction's name and its offset range in latent units, e.g. "PC 1 (±2.41)"."""
    lo, hi = direction_range(direction, sigmas)
    return f"{direction.name} (±{hi:.2f})"


def direction_traversal_figure(model, z, directions, n_cols: int = 9, sigmas: float = SIGMAS,
                               ctx: JobContext | None = None):
    """Decode a traversal grid along directions: row ``i`` moves ``z`` by ``t · u_i``.

    Offsets ``t`` are ``n_cols`` evenly spaced values over ``±sigmas · scale`` of each
    direction (`explorer.core.latent.directions.direction_traversal_codes`).

    Parameters
    ----------
    model : models.base.GenerativeModel
    z : array_like, shape (d,)
    directions : sequence of Direction
    n_cols : int
    sigmas : float
    ctx : JobContext, optional

    Returns
    -------
    images : numpy.ndarray, shape (len(directions), n_cols, C, H, W), float32 in [0, 1]
    row_labels : list of str
        Name and offset range of each direction.
    col_labels : list of str
        Offsets in units of each row's scale ("−3.00" … "+3.00").
    """
    directions = list(directions)
    if not directions:
        raise ValueError("a traversal along directions needs at least one direction")
    codes = direction_traversal_codes(z, directions, int(n_cols), sigmas)
    k, cols, d = codes.shape
    images = decode_codes(model, codes.reshape(k * cols, d), ctx=ctx)
    return (images.reshape(k, cols, *images.shape[1:]), [direction_label(di, sigmas) for di in directions],
            value_labels(np.linspace(-sigmas, sigmas, int(n_cols))))


def direction_movie_frames(model, z, directions, n_frames: int, sigmas: float = SIGMAS,
                           ctx: JobContext | None = None) -> np.ndarray:
    """Frames of an animated traversal along directions: each row's offset cycles through its range from 0.

    Returns
    -------
    numpy.ndarray, shape (n_frames, len(directions), 1, C, H, W), float32 in [0, 1]
        For `explorer.core.latent.movie.write_movie`.
    """
    z = np.asarray(z, np.float64).ravel()
    rows = []
    for di in directions:
        t = cycle_values(0.0, direction_range(di, sigmas), int(n_frames))
        codes = (z[None] + t[:, None] * di.vector.astype(np.float64)[None]).astype(np.float32)
        rows.append(decode_codes(model, codes, ctx=ctx))
    return np.stack(rows, axis=1)[:, :, None]


def save_direction_traversal(path, model, z, directions, n_cols: int = 9, *, title: str | None = None,
                             scale: float = 2, upscale: str = "nearest", fps: float = 10.0, n_frames: int = 40,
                             sigmas: float = SIGMAS, ctx: JobContext | None = None) -> Path:
    """Save a traversal along directions as a figure (PNG/SVG/PDF) or a movie (GIF/MP4).

    The same files as `explorer.core.latent.sliders.save_traversal` writes for dimensions
    (which calls this with ``directions=``), with one row per direction.

    Raises
    ------
    ValueError
        Unknown extension, no directions, or directions of another dimension than ``z``.
    """
    from explorer.core.figures import FIGURE_FORMATS, save_grid_figure
    from explorer.core.latent.movie import MOVIE_FORMATS, write_movie

    path = Path(path)
    ext = path.suffix.lower()
    directions = list(directions)
    if ext in FIGURE_FORMATS:
        images, rows, cols = direction_traversal_figure(model, z, directions, n_cols, sigmas, ctx=ctx)
        return save_grid_figure(path, images, rows, cols, title, scale=scale, upscale=upscale)
    if ext in MOVIE_FORMATS:
        frames = direction_movie_frames(model, z, directions, n_frames, sigmas, ctx=ctx)
        return write_movie(path, frames, fps=fps, scale=scale, upscale=upscale, ctx=ctx,
                           row_labels=[direction_label(di, sigmas) for di in directions], caption=title)
    raise ValueError(f"cannot write a traversal to '{path}': use .png, .svg, .pdf, .gif or .mp4")
