"""Procedural dSprites: 64×64 binary images of a square, ellipse or heart from five factors."""

from __future__ import annotations

import numpy as np

from explorer.data.dataset import Dataset
from explorer.errors import DatasetError
from explorer.limits import memory_shortfall

#: Names of the factors, in the column order of ``Dataset.factors`` (as DeepMind's dSprites).
FACTOR_NAMES = ("shape", "scale", "orientation", "pos_x", "pos_y")
#: Class names of the shape factor: shape value 1, 2, 3 ↔ label 0, 1, 2.
CLASS_NAMES = ("square", "ellipse", "heart")

#: The factor values of dSprites (Matthey et al. 2017). The shape values 1, 2, 3 follow
#: the real ``latents_values``; orientation takes 40 steps of 2π/40 in [0, 2π).
FACTOR_VALUES = {
    "shape": np.array([1.0, 2.0, 3.0]),
    "scale": np.linspace(0.5, 1.0, 6),
    "orientation": np.arange(40) * (2 * np.pi / 40),
    "pos_x": np.linspace(0.0, 1.0, 32),
    "pos_y": np.linspace(0.0, 1.0, 32),
}

#: Side of the square canvas, in pixels.
IMAGE_SIZE = 64
#: The centre of a sprite lies at ``MARGIN + (1 - 2 * MARGIN) * pos`` of the canvas width,
#: so one position step (1/31) moves it by about one pixel, as in the real dataset.
MARGIN = 0.25
#: Half the side of the square at scale 1, in canvas widths (6.4 pixels).
HALF_SIZE = 0.1
# Semi-axes of the ellipse along the sprite's x and y axes, in units of the half size.
_ELLIPSE_AXES = (1.2, 0.6)
# Vertical centre of the heart curve's bounding box (x from -1.139 to 1.139, y from -1 to 1.236).
_HEART_CENTRE = 0.118
# Side of the window rasterised around each sprite: covers the largest sprite (scale 1,
# at most 1.45 half sizes from its centre ≈ 9.3 pixels) and stays inside the canvas.
_WINDOW = 24
# Images rasterised per block, to bound the temporary arrays.
_BLOCK = 2048


def position_to_pixel(pos: np.ndarray | float) -> np.ndarray | float:
    """Return the pixel coordinate of a sprite centre for ``pos_x`` or ``pos_y`` in [0, 1].

    Pixel ``j`` covers ``[j, j + 1)``, so the centre of mass of a symmetric sprite
    (square, ellipse) is at column/row index ``position_to_pixel(pos) - 0.5``.
    """
    return (MARGIN + (1.0 - 2.0 * MARGIN) * np.asarray(pos)) * IMAGE_SIZE


def sample_factors(n: int, seed: int = 0) -> np.ndarray:
    """Draw random factor combinations from the dSprites grid.

    Parameters
    ----------
    n : int
        Number of combinations.
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives the same factors.

    Returns
    -------
    numpy.ndarray
        ``(n, 5)`` float64 factor values, columns `FACTOR_NAMES`, each drawn uniformly and
        independently from `FACTOR_VALUES` (shape in {1, 2, 3}).
    """
    rng = np.random.default_rng(seed)
    return np.stack([values[rng.integers(0, len(values), size=n)] for values in FACTOR_VALUES.values()], axis=1)


def render(factors: np.ndarray) -> np.ndarray:
    """Rasterise sprites from factor values.

    Each pixel is on when its centre lies inside the shape: the pixel grid is mapped
    into the sprite's frame (translated to the centre, rotated by ``-orientation``,
    divided by ``scale * HALF_SIZE``) and tested against the unit square
    ``max(|u|, |v|) <= 1``, the ellipse ``(u / 1.2)² + (v / 0.6)² <= 1`` or the heart
    curve ``(u² + w² - 1)³ - u² w³ <= 0`` (``w = v + 0.118``, centring its bounding
    box). ``v`` points up on screen and positive orientations turn counter-clockwise.
    Only a window around each sprite is tested, all images of a block at once.

    Parameters
    ----------
    factors : numpy.ndarray
        ``(N, 5)`` factor values, columns `FACTOR_NAMES`: shape in {1, 2, 3}, scale in
        (0, 1], orientation in radians, pos_x and pos_y in [0, 1] (0 = left / top).
        Values between the grid points are allowed.

    Returns
    -------
    numpy.ndarray
        ``(N, 1, 64, 64)`` float32 binary images (0 background, 1 sprite).

    Raises
    ------
    DatasetError
        If ``factors`` is not ``(N, 5)`` or a value is outside the ranges above.
    """
    factors = np.asarray(factors, dtype=np.float64)
    if factors.ndim != 2 or factors.shape[1] != 5:
        raise DatasetError(f"dSprites factors must have shape (N, 5), got {factors.shape}.")
    shapes, scales, angles, pos = factors[:, 0], factors[:, 1], factors[:, 2], factors[:, 3:]
    if not np.all(np.isin(shapes, FACTOR_VALUES["shape"])):
        raise DatasetError("dSprites shape values must be 1 (square), 2 (ellipse) or 3 (heart).")
    if not (np.all((scales > 0) & (scales <= 1)) and np.all((pos >= 0) & (pos <= 1)) and np.all(np.isfinite(angles))):
        raise DatasetError(
            "dSprites factors must have scale in (0, 1], pos_x and pos_y in [0, 1] and a finite orientation."
        )
    n = len(factors)
    images = np.zeros((n, 1, IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    centre = position_to_pixel(pos)  # (N, 2) x, y in pixels
    origin = np.floor(centre).astype(np.int64) - _WINDOW // 2  # first column / row of each window
    offsets = np.arange(_WINDOW)
    for shape in (1, 2, 3):
        (rows,) = np.nonzero(shapes == shape)
        for start in range(0, len(rows), _BLOCK):
            b = rows[start:start + _BLOCK]
            size = (scales[b] * HALF_SIZE * IMAGE_SIZE)[:, None, None]
            cols = origin[b, 0, None] + offsets  # (n, S) pixel columns of the window
            lines = origin[b, 1, None] + offsets  # (n, S) pixel rows
            dx = ((cols + 0.5 - centre[b, 0, None]) / size[:, 0]).astype(np.float32)[:, None, :]
            dy = ((centre[b, 1, None] - lines - 0.5) / size[:, 0]).astype(np.float32)[:, :, None]  # up
            cos = np.cos(angles[b]).astype(np.float32)[:, None, None]
            sin = np.sin(angles[b]).astype(np.float32)[:, None, None]
            mask = _inside(shape, cos * dx + sin * dy, cos * dy - sin * dx)
            images[b[:, None, None], 0, lines[:, :, None], cols[:, None, :]] = mask
    return images


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Point-in-shape test in the sprite's frame (unit half size)."""
    if shape == 1:
        return np.maximum(np.abs(u), np.abs(v)) <= 1
    if shape == 2:
        return (u / _ELLIPSE_AXES[0]) ** 2 + (v / _ELLIPSE_AXES[1]) ** 2 <= 1
    w = v + np.float32(_HEART_CENTRE)
    u2 = u * u
    return (u2 + w * w - 1) ** 3 - u2 * w**3 <= 0


def value_names(values_per_factor) -> tuple[dict[float, str], ...]:
    """Value names of the five dSprites factors (shape, scale, orientation, pos_x, pos_y).

    Shape values 1, 2, 3 are "square", "ellipse", "heart" (Matthey et al. 2017's
    documented order, as the real archive's ``latents_values`` stores them); scale and
    the positions show their value ("0.5", "0.0323"); orientation its value in radians
    ("0.16 rad"). For `Dataset.factor_value_names` (`explorer.data.factor_values`).

    Parameters
    ----------
    values_per_factor : sequence of 5 array_like of float
        The values of each factor (the generator's grid, or the archive's ``latents_values``
        columns; repeats are fine).

    Returns
    -------
    tuple of 5 dict
        ``{value: name}`` per factor, keyed by the float64 value.
    """
    def number(v) -> str:
        return f"{float(v):.3g}".replace("-", "−")

    shape, scale, orientation, pos_x, pos_y = (np.unique(np.asarray(v, np.float64)) for v in values_per_factor)
    return ({float(v): CLASS_NAMES[int(v) - 1] if float(v) in (1.0, 2.0, 3.0) else number(v) for v in shape},
            {float(v): number(v) for v in scale},
            {float(v): f"{float(v):.2f} rad" for v in orientation},
            {float(v): number(v) for v in pos_x},
            {float(v): number(v) for v in pos_y})


def generate(n: int = 10_000, seed: int = 0) -> Dataset:
    """Generate a dSprites-like dataset of random factor combinations.

    A procedural stand-in for DeepMind's dSprites (Matthey et al. 2017, 737,280 images):
    same five factors and grid of values, 64×64 binary images; sizes and margins are
    close to, not identical with, the original's.

    Checked against the documented dataset (tests/data/test_dsprites_archive.py): 3
    shapes (square, ellipse, heart), scale 6 values linearly spaced in [0.5, 1], 32 × 32
    positions in [0, 1], 64×64 binary images, 3·6·40·32·32 = 737,280 combinations.
    Remaining differences: (1) orientation: the real archive stores 40 values
    ``linspace(0, 2π, 40)`` (step 2π/39, so 0 and 2π — the same picture — both occur);
    ours are 40 distinct steps of 2π/40 in [0, 2π); (2) the sprites are drawn by our own
    point-in-shape test (`render`): the heart's outline, the ellipse's axes (1.2 : 0.6),
    the square's size at scale 1 (12.8 pixels) and the position margin (sprite centres
    from pixel 16 to 48) are ours, not pixel-identical to the original bitmaps; (3) the
    real archive is the complete grid in a fixed order, while `generate` draws
    combinations at random (with repeats). The disentanglement scores treat both the
    same way: factors as class indices.

    Parameters
    ----------
    n : int
        Number of images.
    seed : int
        Seed of the factor draw; the same ``n`` and seed give identical arrays.

    Returns
    -------
    Dataset
        ``images`` ``(n, 1, 64, 64)`` float32 in {0, 1}; ``factors`` ``(n, 5)`` float64
        values (`FACTOR_NAMES`); ``labels`` ``(n,)`` int64 shape index 0..2
        (`CLASS_NAMES`); ``factor_value_names`` square/ellipse/heart for the shape and the
        values themselves for the others; ``source`` "generated"; ``split`` None.

    Raises
    ------
    DatasetError
        If ``n`` is not a positive whole number.
    """
    if int(n) != n or n < 1:
        raise DatasetError(f"The number of dSprites images must be a positive whole number, got {n!r}.")
    short = memory_shortfall(int(n) * (64 * 64 * 4 + 5 * 8 + 8) * 2)  # images, factors, labels; a copy each
    if short:
        raise DatasetError(f"Generating {int(n):,} dSprites images (--limit) would need {short}; ask for fewer.")
    factors = sample_factors(int(n), seed)
    return Dataset(
        images=render(factors),
        labels=(factors[:, 0] - 1).astype(np.int64),
        class_names=CLASS_NAMES,
        factors=factors,
        factor_names=FACTOR_NAMES,
        factor_value_names=value_names(list(FACTOR_VALUES.values())),
        name="dsprites",
        source="generated",
        split=None,
        notes=(f"{int(n):,} dSprites images generated procedurally (seed {seed}).",),
    )
