"""How points are coloured and what the window writes about them: colourings, legends' names, captions."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from explorer.core.projection.spec import ProjectionSpec

__all__ = ["COLOUR_MODES", "MAX_RECENT", "Colouring", "axis_labels", "caption", "caption_parts", "colouring",
           "hover_caption", "label_names", "model_details", "push_recent", "selection_captions"]

#: How points can be coloured: class label, k-means cluster, one latent dimension, one colour, or
#: how badly the generator reproduces each image from its inverted code (GAN inversion).
COLOUR_MODES: tuple[str, ...] = ("label", "cluster", "dimension", "none", "inversion_error", "nll", "factor")

#: Longest recent-files list kept.
MAX_RECENT = 10


def axis_labels(spec: ProjectionSpec, meta: dict | None = None) -> tuple[str, str]:
    """Axis titles of an embedding, e.g. ``("PC 1 (31.2 % of variance)", "PC 2 (18.0 % of variance)")``.

    UMAP and t-SNE axes have no units; the identity shows ``z[0]``, ``z[1]``.
    """
    if spec.method == "pca":
        ratio = (meta or {}).get("explained_variance_ratio")
        if ratio and len(ratio) == 2:
            first, second = (f"PC {i + 1} ({100 * r:.1f} % of variance)" for i, r in enumerate(ratio))
            return first, second
        return "PC 1", "PC 2"
    if spec.method == "identity":
        return "z[0]", "z[1]"
    name = {"umap": "UMAP", "tsne": "t-SNE"}[spec.method]
    return f"{name} 1", f"{name} 2"


def caption(model_name: str, codes, spec: ProjectionSpec, dataset_name: str = "") -> str:
    """One line naming what the embedding shows, for the plot title and figure exports.

    Example: ``"vae_fashion.pt · codes of 10,000 fashion-mnist (test) images, d = 16 · PCA"``
    (the three :func:`caption_parts` joined by " · ").
    """
    return " · ".join(caption_parts(model_name, codes, spec, dataset_name))


def caption_parts(model_name: str, codes, spec: ProjectionSpec, dataset_name: str = "") -> tuple[str, str, str]:
    """The model, the points (how many, which, d) and the projection of an embedding's caption."""
    n = len(codes.z)
    d = codes.z.shape[1]
    if codes.source == "prior":
        what = f"{n:,} prior samples z ~ p(z), d = {d}"
    elif codes.source == "inverted":
        what = f"inverted codes of {n:,} {dataset_name + ' ' if dataset_name else ''}images, d = {d}"
    else:
        what = f"codes of {n:,} {dataset_name + ' ' if dataset_name else ''}images, d = {d}"
    return model_name, what, spec.label()


# --------------------------------------------------------------------------------------
# Colourings and captions
# --------------------------------------------------------------------------------------


@dataclass
class Colouring:
    """How to colour N points: categories with names, or one value per point.

    Attributes
    ----------
    mode : {"label", "cluster", "dimension", "none", "inversion_error"}
    categories : numpy.ndarray or None
        (N,) int64 category per point (label / cluster modes).
    names : tuple of str or None
        Display name per category value (indexable by the values in ``categories``).
    values : numpy.ndarray or None
        (N,) float64 value per point (dimension and inversion-error modes).
    vmin, vmax : float
        Range of ``values`` mapped onto the colour map (1st and 99th percentile).
    title : str
        Legend or colour-bar title, e.g. ``"class"``, ``"k-means cluster (latent space, k = 10)"``
        or ``"z[3]"``.
    """

    mode: str
    categories: np.ndarray | None = None
    names: tuple[str, ...] | None = None
    values: np.ndarray | None = None
    vmin: float = 0.0
    vmax: float = 1.0
    title: str = ""


def label_names(labels: np.ndarray, class_names: Sequence[str] | None) -> tuple[str, ...]:
    """Display name of every class value up to ``labels.max()`` (class names, else the numbers)."""
    top = int(labels.max()) + 1 if len(labels) else 0
    names = list(class_names or ())
    return tuple(names[i] if i < len(names) else str(i) for i in range(max(top, len(names))))


def colouring(mode: str, n: int, *, labels=None, class_names=None, clusters=None, cluster_title: str = "",
              z=None, dim: int = 0, errors=None, values=None, value_title: str = "", factors=None,
              factor_names=None, factor_levels=None, value_names=None) -> Colouring:
    """Build the colouring of ``n`` points in ``mode``.

    Parameters
    ----------
    mode : {"label", "cluster", "dimension", "none", "inversion_error", "nll", "factor"}
    n : int
        Number of points.
    labels : numpy.ndarray, optional
        (N,) int class per point (label mode).
    class_names : sequence of str, optional
        Name per class value.
    clusters : numpy.ndarray, optional
        (N,) int k-means cluster per point (cluster mode).
    cluster_title : str
        Title of the cluster legend (say which space was clustered).
    z : numpy.ndarray, optional
        (N, d) latent codes (dimension mode).
    dim : int
        Latent dimension shown in dimension mode, 0 <= dim < d.
    errors : numpy.ndarray, optional
        (N,) pixel MSE of ``G(z)`` against each image, for inverted codes (inversion-error
        mode): where the generator cannot reach the data (e.g. dropped modes).
    values : numpy.ndarray, optional
        (N,) per-image negative log-likelihood (nll mode), NaN for images not evaluated
        (drawn grey); ``value_title`` names its units, estimator and N.
    factors : numpy.ndarray, optional
        (N, K) ground-truth factor values (factor mode); ``dim`` picks the factor and
        ``factor_names`` names it. A factor with at most 12 distinct values is coloured by
        category (its values as names), a finer one continuously. ``factor_levels``: the
        factor's distinct values over the whole dataset, so that views of different subsets
        give one value one colour (default: those of ``factors``). ``value_names``: one legend
        entry per level ("square", "scale 0.5"; `explorer.data.factor_values.value_labels`),
        default "NAME = value".

    Returns
    -------
    Colouring

    Raises
    ------
    ValueError
        Unknown mode, or the data the mode needs is missing or of the wrong length.
    """
    if mode not in COLOUR_MODES:
        raise ValueError(f"unknown colour mode {mode!r}; choose one of {', '.join(COLOUR_MODES)}")
    if mode == "label":
        if labels is None:
            raise ValueError("these points have no labels to colour by")
        labels = np.asarray(labels).astype(np.int64, copy=False)
        if labels.shape != (n,):
            raise ValueError(f"labels must have shape ({n},), got {labels.shape}")
        return Colouring("label", categories=labels, names=label_names(labels, class_names), title="class")
    if mode == "cluster":
        if clusters is None:
            raise ValueError("no k-means clustering to colour by; run k-means first")
        clusters = np.asarray(clusters).astype(np.int64, copy=False)
        if clusters.shape != (n,):
            raise ValueError(f"clusters must have shape ({n},), got {clusters.shape}")
        k = int(clusters.max()) + 1 if n else 0
        return Colouring("cluster", categories=clusters, names=tuple(f"cluster {i}" for i in range(k)),
                         title=cluster_title or "k-means cluster")
    if mode == "dimension":
        if z is None:
            raise ValueError("no latent codes to colour by")
        z = np.asarray(z)
        if z.ndim != 2 or len(z) != n:
            raise ValueError(f"codes must have shape ({n}, d), got {z.shape}")
        if not 0 <= int(dim) < z.shape[1]:
            raise ValueError(f"latent dimension {dim} is outside 0..{z.shape[1] - 1}")
        values = z[:, int(dim)].astype(np.float64)
        return Colouring("dimension", values=values, **_percentile_range(values), title=f"z[{int(dim)}]")
    if mode == "inversion_error":
        if errors is None:
            raise ValueError("only codes found by GAN inversion have an inversion error")
        values = np.asarray(errors, dtype=np.float64)
        if values.shape != (n,):
            raise ValueError(f"errors must have shape ({n},), got {values.shape}")
        return Colouring("inversion_error", values=values, **_percentile_range(values),
                         title="pixel MSE of G(z), z inverted")
    if mode == "nll":
        if values is None:
            raise ValueError("no per-image likelihood to colour by; estimate the likelihood first")
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (n,):
            raise ValueError(f"likelihood values must have shape ({n},), got {values.shape}")
        return Colouring("nll", values=values, **_percentile_range(values), title=value_title or "−log p(x)")
    if mode == "factor":
        if factors is None:
            raise ValueError("this dataset has no ground-truth factors to colour by")
        factors = np.asarray(factors, dtype=np.float64)
        if factors.ndim != 2 or len(factors) != n:
            raise ValueError(f"factors must have shape ({n}, K), got {factors.shape}")
        if not 0 <= int(dim) < factors.shape[1]:
            raise ValueError(f"factor {dim} is outside 0..{factors.shape[1] - 1}")
        names = list(factor_names or ())
        title = names[int(dim)] if int(dim) < len(names) else f"factor {int(dim)}"
        column = factors[:, int(dim)]
        levels = np.unique(column) if factor_levels is None else np.asarray(factor_levels, np.float64)
        if len(levels) <= 12:
            codes = np.searchsorted(levels, column)
            if (codes >= len(levels)).any() or not np.array_equal(levels[np.minimum(codes, len(levels) - 1)], column):
                raise ValueError("factor_levels must hold every value of the factor")
            names = (tuple(str(v) for v in value_names) if value_names is not None and len(value_names) == len(levels)
                     else tuple(f"{title} = {v:.3g}" for v in levels))
            return Colouring("factor", categories=codes.astype(np.int64), names=names, title=title)
        return Colouring("factor", values=column, **_percentile_range(column), title=title)
    return Colouring("none")


def _percentile_range(values: np.ndarray) -> dict:
    """``{"vmin", "vmax"}``: the 1st and 99th percentile of the finite values (a unit range if flat)."""
    finite = values[np.isfinite(values)]
    lo, hi = (np.percentile(finite, [1.0, 99.0]) if len(finite) else (0.0, 1.0))
    if not hi > lo:
        lo, hi = float(lo) - 0.5, float(lo) + 0.5
    return {"vmin": float(lo), "vmax": float(hi)}


def _class_text(i: int, labels, class_names) -> str:
    if labels is None:
        return ""
    value = int(labels[i])
    names = class_names or ()
    return f"{names[value]} ({value})" if 0 <= value < len(names) else str(value)


def hover_caption(index: int, labels=None, class_names=None) -> str:
    """The label text shown for the hovered point, e.g. ``"Sneaker (7)"``; ``""`` without labels."""
    return _class_text(int(index), labels, class_names)


def selection_captions(indices, labels=None, class_names=None, clusters=None) -> list[str] | None:
    """Captions under the images of a selection (the grid shows the index itself).

    Returns
    -------
    list of str or None
        Per index: the class name and the cluster (``"Sneaker · c3"``; ``"cluster 3"``
        without labels); None when there are neither labels nor clusters.
    """
    if labels is None and clusters is None:
        return None
    out = []
    names = class_names or ()
    for i in np.asarray(indices, dtype=np.int64):
        parts = []
        if labels is not None:
            v = int(labels[i])
            parts.append(names[v] if 0 <= v < len(names) else str(v))
        if clusters is not None:
            c = int(clusters[i])
            parts.append(f"c{c}" if parts else f"cluster {c}")
        out.append(" · ".join(parts))
    return out


def model_details(info: dict) -> str:
    """A few lines about a model file for the model panel (from ``models.loading.describe``).

    Example::

        VAE, d = 16, 1×28×28, encoder q(z|x)
        879,073 parameters
        trained on fashion-mnist (train), 12 epochs, seed 0
        final training loss 237.8 nats/image (recon 223.5, KL 14.31)

    GAN losses have no unit and are shown as they are.
    """
    lines = []
    kind = str(info.get("kind") or "?").upper()
    shape = info.get("image_shape")
    shape_text = "×".join(str(v) for v in shape) if shape else "?"
    enc = "encoder q(z|x)" if info.get("has_encoder") else "no encoder"
    lines.append(f"{kind}, d = {info.get('latent_dim', '?')}, {shape_text}, {enc}")
    if info.get("parameters"):
        lines.append(f"{int(info['parameters']):,} parameters")
    trained = []
    if info.get("dataset"):
        split = (info.get("extra") or {}).get("split")
        trained.append(f"trained on {info['dataset']}" + (f" ({split})" if split else ""))
    if info.get("epochs"):
        trained.append(f"{info['epochs']} epochs")
    if info.get("seed") is not None:
        trained.append(f"seed {info['seed']}")
    if trained:
        lines.append(", ".join(trained))
    final = {k: v for k, v in (info.get("history_final") or {}).items() if isinstance(v, (int, float))}
    if final:
        if info.get("kind") == "vae" and "loss" in final:
            rest = ", ".join(f"{'KL' if k == 'kl' else k} {v:.4g}" for k, v in final.items() if k != "loss")
            lines.append(f"final training loss {final['loss']:.4g} nats/image" + (f" ({rest})" if rest else ""))
        else:
            lines.append("final " + ", ".join(f"{k} {v:.3g}" for k, v in final.items()))
    if info.get("source") and info.get("source") != "checkpoint":
        lines.append(f"loaded from a {info['source']}")
    return "\n".join(lines)


def push_recent(recent: Sequence[str], path: str | os.PathLike, limit: int = MAX_RECENT) -> list[str]:
    """The recent-files list after opening ``path``: it first, no duplicates, at most ``limit`` entries."""
    from explorer.paths import resolved

    p = str(resolved(path))
    return [p] + [r for r in recent if r != p][: max(int(limit) - 1, 0)]
