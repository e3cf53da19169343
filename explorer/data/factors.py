"""Ground-truth factors as class indices, and samplers that give images for chosen factor values."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer.data import dsprites
from explorer.data.dataset import Dataset

#: A factor column with more distinct values than this is treated as continuous and binned.
MAX_FACTOR_CLASSES = 64
#: Bins of a continuous factor (as disentanglement_lib discretises codes: 20 histogram bins).
CONTINUOUS_BINS = 20

NEEDS_GRID = "needs a complete factor grid"


def factor_classes(factors: np.ndarray) -> tuple[np.ndarray, tuple[int, ...], tuple[str, ...]]:
    """Turn factor values into class indices, one column per factor.

    Parameters
    ----------
    factors : numpy.ndarray, shape (N, K)
        Factor values (float64). A column with at most `MAX_FACTOR_CLASSES` distinct
        values becomes the index of its value in the sorted distinct values; a column
        with more is cut into `CONTINUOUS_BINS` equal-width bins (``numpy.histogram``
        edges), and a note says so.

    Returns
    -------
    classes : numpy.ndarray, shape (N, K), int64
        Class index of each factor, 0..n_k − 1.
    sizes : tuple of int
        Number of classes ``n_k`` of each factor (the distinct values present).
    notes : tuple of str
        One sentence per binned factor.

    Raises
    ------
    ValueError
        If ``factors`` is not 2-D with at least one row, or holds NaN/inf.
    """
    factors = np.asarray(factors, dtype=np.float64)
    if factors.ndim != 2 or len(factors) == 0:
        raise ValueError(f"factors must be a non-empty (N, K) array, got shape {factors.shape}")
    if not np.all(np.isfinite(factors)):
        raise ValueError("factors hold NaN or infinite values")
    out = np.empty(factors.shape, dtype=np.int64)
    sizes, notes = [], []
    for k in range(factors.shape[1]):
        values, inverse = np.unique(factors[:, k], return_inverse=True)
        if len(values) > MAX_FACTOR_CLASSES:
            edges = np.histogram(factors[:, k], CONTINUOUS_BINS)[1][:-1]
            inverse = np.digitize(factors[:, k], edges) - 1
            _, inverse = np.unique(inverse, return_inverse=True)
            notes.append(f"factor {k} has {len(values):,} distinct values; it was cut into "
                         f"{CONTINUOUS_BINS} equal-width bins")
        out[:, k] = inverse.reshape(-1)
        sizes.append(int(out[:, k].max()) + 1)
    return out, tuple(sizes), tuple(notes)


class FactorSampler:
    """Draws factor combinations (as class indices) and gives the images that show them.

    Attributes
    ----------
    factor_names : tuple of str
    factor_sizes : tuple of int
        Number of values of each factor.
    kind : str
        "procedural" (rendered) or "grid" (indexed into a data set).
    """

    factor_names: tuple[str, ...] = ()
    factor_sizes: tuple[int, ...] = ()
    kind = ""

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n, K)`` int64 class indices, each factor uniform and independent."""
        return np.stack([rng.integers(0, s, size=n) for s in self.factor_sizes], axis=1).astype(np.int64)

    def images(self, classes: np.ndarray) -> np.ndarray:
        """Images ``(n, C, H, W)`` float32 in [0, 1] of the factor class indices ``(n, K)``."""
        raise NotImplementedError


class ProceduralDspritesSampler(FactorSampler):
    """dSprites factor combinations rendered by `explorer.data.dsprites.render` (any combination)."""

    kind = "procedural"
    factor_names = dsprites.FACTOR_NAMES
    factor_sizes = tuple(len(v) for v in dsprites.FACTOR_VALUES.values())

    def images(self, classes: np.ndarray) -> np.ndarray:
        classes = np.asarray(classes, dtype=np.int64)
        values = np.column_stack([v[classes[:, k]] for k, v in enumerate(dsprites.FACTOR_VALUES.values())])
        return dsprites.render(values)


@dataclass
class GridSampler(FactorSampler):
    """Images looked up in a data set whose factors are a complete grid (each combination exactly once).

    Attributes
    ----------
    dataset : Dataset
    order : numpy.ndarray, shape (Π n_k,), int64
        Row of the data set for each combination, in C order of the class indices.
    """

    dataset: Dataset
    order: np.ndarray
    factor_names: tuple[str, ...]
    factor_sizes: tuple[int, ...]
    kind = "grid"

    def images(self, classes: np.ndarray) -> np.ndarray:
        flat = np.ravel_multi_index(tuple(np.asarray(classes, dtype=np.int64).T), self.factor_sizes)
        return self.dataset.images[self.order[flat]]


def factor_sampler(dataset: Dataset) -> tuple[FactorSampler | None, str]:
    """The sampler the β-VAE and FactorVAE scores need, or why there is none.

    - procedurally generated dSprites (``name == "dsprites"``, ``source == "generated"``):
      `ProceduralDspritesSampler`, which renders any combination;
    - a data set whose factor class indices (`factor_classes`) hold every combination
      of their values exactly once (like the real dSprites archive, 737,280 images):
      `GridSampler`, indexed;
    - anything else: None and the reason, "needs a complete factor grid".

    Parameters
    ----------
    dataset : Dataset

    Returns
    -------
    sampler : FactorSampler or None
    reason : str
        "" with a sampler, else one sentence.
    """
    if dataset.factors is None:
        return None, f"'{dataset.name}' has no ground-truth factors"
    if dataset.name == "dsprites" and dataset.source == "generated":
        return ProceduralDspritesSampler(), ""
    classes, sizes, _ = factor_classes(dataset.factors)
    total = int(np.prod(np.asarray(sizes, dtype=np.float64)))
    if total != len(dataset):
        return None, (f"'{dataset.name}' {NEEDS_GRID} ({len(dataset):,} images for "
                      f"{total:,} factor combinations)")
    flat = np.ravel_multi_index(tuple(classes.T), sizes)
    order = np.full(total, -1, dtype=np.int64)
    order[flat] = np.arange(len(dataset))
    if np.any(order < 0):
        return None, f"'{dataset.name}' {NEEDS_GRID} (some factor combinations repeat, others are missing)"
    names = dataset.factor_names or tuple(f"factor_{k}" for k in range(len(sizes)))
    return GridSampler(dataset=dataset, order=order, factor_names=tuple(names), factor_sizes=sizes), ""
