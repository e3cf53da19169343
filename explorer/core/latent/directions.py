"""Directions to traverse besides the axes of z: GANSpace principal directions, SeFa, attribute vectors."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from explorer.importing import load

SOURCES = ("axis", "ganspace", "sefa", "attribute")


@dataclass(frozen=True)
class Direction:
    """A unit direction in latent space, with where it came from.

    Attributes
    ----------
    name : str
        Shown to people ("PC 1", "SeFa 2", "ellipse − square").
    vector : numpy.ndarray, shape (d,), float32
        Unit length (L2).
    source : {"axis", "ganspace", "sefa", "attribute"}
    scale : float
        A natural step along the direction, in latent units: the standard deviation of
        the codes along it (GANSpace), the square root of the eigenvalue (SeFa), or the
        distance between the two means (attribute vector). Slider ranges use it.
    info : dict
        Plain facts (explained variance ratio, eigenvalue, layer name, the two groups).
    """

    name: str
    vector: np.ndarray
    source: str
    scale: float = 1.0
    info: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-able form, for the saved session."""
        return {"name": self.name, "vector": [float(v) for v in self.vector], "source": self.source,
                "scale": float(self.scale), "info": dict(self.info)}

    @classmethod
    def from_dict(cls, data: dict) -> Direction:
        """Inverse of `to_dict`; ValueError for a malformed entry (not unit length, unknown source)."""
        from explorer.limits import finite_number

        try:
            raw, info = data["vector"], data.get("info") or {}
            if not isinstance(raw, list) or not all(finite_number(v) for v in raw) or not isinstance(info, dict):
                raise ValueError("its vector must be a list of numbers and its info an object")
            vector = np.asarray(raw, dtype=np.float32)
            source, name, scale = str(data["source"]), str(data["name"]), data.get("scale", 1.0)
            if not finite_number(scale) or not scale > 0:
                raise ValueError(f"its scale must be a positive number, got {scale!r}")
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"a saved direction is malformed ({exc})") from None
        if source not in SOURCES or vector.ndim != 1 or not np.isfinite(vector).all() \
                or abs(float(np.linalg.norm(vector)) - 1.0) > 1e-4:
            raise ValueError(f"saved direction {name!r} is not a unit vector of a known source")
        return cls(name, vector, source, float(scale), dict(info))


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    if not np.isfinite(n) or n == 0:
        raise ValueError("a direction of length zero has no orientation")
    return (np.asarray(v, np.float64) / n)


def _fix_sign(v: np.ndarray) -> np.ndarray:
    """Deterministic sign: the component of largest magnitude is positive."""
    return v if v[int(np.argmax(np.abs(v)))] >= 0 else -v


def axis_direction(dim: int, latent_dim: int) -> Direction:
    """The axis ``e_dim`` as a `Direction` (what the per-dimension sliders move along)."""
    if not 0 <= int(dim) < int(latent_dim):
        raise ValueError(f"dimension {dim} is outside 0..{latent_dim - 1}")
    v = np.zeros(int(latent_dim), np.float32)
    v[int(dim)] = 1.0
    return Direction(f"z{int(dim)}", v, "axis")


def ganspace_directions(codes, n: int | None = None) -> list[Direction]:
    """Principal directions of codes (GANSpace, Härkönen et al. 2020, sec. 2).

    PCA (scikit-learn, full SVD) of sampled codes ``z ~ p(z)`` or of encoded codes;
    GANSpace proper takes the PCA of an intermediate activation of a large GAN — here it
    is the codes themselves, which for a model with an encoder shows the directions in
    which the encoded data vary most.

    Parameters
    ----------
    codes : array_like, shape (N, d), N ≥ 2
    n : int, optional
        Number of directions (default all ``min(N, d)``).

    Returns
    -------
    list of Direction
        "PC 1", "PC 2", … in decreasing variance; ``scale`` the standard deviation of
        the codes along the direction, ``info["explained_variance_ratio"]``.

    Raises
    ------
    ValueError
        Fewer than 2 codes, or not 2-D.
    """
    load("sklearn.decomposition")
    from sklearn.decomposition import PCA

    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2 or len(codes) < 2:
        raise ValueError(f"GANSpace needs at least 2 codes of shape (N, d), got {codes.shape}")
    k = min(codes.shape) if n is None else min(int(n), *codes.shape)
    pca = PCA(n_components=k, svd_solver="full").fit(codes)
    return [Direction(f"PC {i + 1}", _fix_sign(_unit(c)).astype(np.float32), "ganspace",
                      float(np.sqrt(pca.explained_variance_[i])),
                      {"explained_variance_ratio": float(pca.explained_variance_ratio_[i]), "n_codes": len(codes)})
            for i, c in enumerate(pca.components_)]


def first_layer_weight(model) -> tuple[np.ndarray, str]:
    """The weight ``A`` of the first layer the code ``z`` meets in the decoder / generator.

    ``A`` maps ``z`` linearly to the layer's pre-activation: for a ``Linear(d, m)``,
    ``A = weight`` ``(m, d)``; for the DCGAN/ALI projection
    ``ConvTranspose2d(d, C, k)`` on a 1×1 input, ``A = weight.reshape(d, C·k·k).T``.

    Parameters
    ----------
    model : models.base.GenerativeModel
        A bundled VAE (``decoder[0]``), DCGAN or ALI (``generator.project[0]``), or any
        model whose decoder/generator's first ``Linear``/``ConvTranspose2d`` takes ``d`` inputs.

    Returns
    -------
    A : numpy.ndarray, shape (m, d), float64
    layer : str
        The module's name, e.g. "decoder.0" or "generator.project.0".

    Raises
    ------
    ValueError
        If no such layer is found.
    """
    from torch import nn

    d = int(model.latent_dim)
    for name, module in model.named_modules():
        if not name.startswith(("decoder", "generator")):
            continue
        if isinstance(module, nn.Linear) and module.in_features == d:
            return module.weight.detach().cpu().double().numpy().copy(), name
        if isinstance(module, nn.ConvTranspose2d) and module.in_channels == d:
            w = module.weight.detach().cpu().double().numpy()
            return w.reshape(d, -1).T.copy(), name
    raise ValueError(f"{type(model).__name__} has no first linear layer taking the {d}-dimensional code")


def sefa_directions(model=None, n: int | None = None, *, weight: np.ndarray | None = None,
                    layer: str | None = None) -> list[Direction]:
    """Closed-form directions of SeFa (Shen & Zhou 2021, eq. 5): the eigenvectors of ``AᵀA``.

    ``A`` is the first layer weight of the generator (`first_layer_weight`, named in
    ``info["layer"]``); the direction ``n`` maximising ``‖A n‖²`` over unit ``n`` is the top
    eigenvector, then the next ones orthogonal to it. (The authors' code also normalises
    the columns of ``A`` first; we follow the paper's equation.)

    Parameters
    ----------
    model : models.base.GenerativeModel, optional
        Where ``A`` comes from (ignored when ``weight`` is given).
    n : int, optional
        Number of directions (default ``d``).
    weight : numpy.ndarray, shape (m, d), optional
        ``A`` itself.
    layer : str, optional
        Name recorded with ``weight``.

    Returns
    -------
    list of Direction
        "SeFa 1", … in decreasing eigenvalue; ``scale`` 1 (the prior's unit),
        ``info["eigenvalue"]``, ``info["layer"]``.
    """
    if weight is None:
        if model is None:
            raise ValueError("SeFa needs a model or the weight A")
        weight, layer = first_layer_weight(model)
    a = np.asarray(weight, dtype=np.float64)
    values, vectors = np.linalg.eigh(a.T @ a)
    order = np.argsort(values)[::-1]
    k = len(order) if n is None else min(int(n), len(order))
    return [Direction(f"SeFa {i + 1}", _fix_sign(_unit(vectors[:, j])).astype(np.float32), "sefa", 1.0,
                      {"eigenvalue": float(values[j]), "layer": layer or "given weight"})
            for i, j in enumerate(order[:k])]


def attribute_vector(codes, target, reference, name: str | None = None) -> Direction:
    """Attribute vector: mean code of one group minus the mean code of another ("smile vector").

    As Latent Space Cartography's attribute vectors (Liu et al. 2019) and White 2016:
    ``v = mean(z[target]) − mean(z[reference])``; the direction is ``v / ‖v‖`` and its
    ``scale`` is ``‖v‖``, so ``mean(z[reference]) + scale · direction = mean(z[target])``.

    Parameters
    ----------
    codes : array_like, shape (N, d)
    target, reference : array_like of bool, shape (N,), or of int indices
        The two groups: a class, a factor value, or a selection of dataset indices.
    name : str, optional
        Default "target − reference".

    Returns
    -------
    Direction
        ``source`` "attribute"; ``info`` holds both group sizes.

    Raises
    ------
    ValueError
        An empty group, or two groups with the same mean.
    """
    codes = np.asarray(codes, dtype=np.float64)
    groups = []
    for g in (target, reference):
        g = np.asarray(g)
        idx = np.flatnonzero(g) if g.dtype == bool else g.astype(np.int64).ravel()
        if len(idx) == 0:
            raise ValueError("an attribute vector needs two non-empty groups of codes")
        groups.append(idx)
    diff = codes[groups[0]].mean(axis=0) - codes[groups[1]].mean(axis=0)
    length = float(np.linalg.norm(diff))
    return Direction(name or "target − reference", _unit(diff).astype(np.float32), "attribute", length,
                     {"n_target": int(len(groups[0])), "n_reference": int(len(groups[1]))})


def class_attribute_vector(codes, labels, target: int, reference: int, class_names=None) -> Direction:
    """`attribute_vector` between two classes (or factor values given as ``labels``): ``target − reference``."""
    labels = np.asarray(labels)
    names = class_names or {}
    tn = names[target] if len(names) > target else str(target)
    rn = names[reference] if len(names) > reference else str(reference)
    return attribute_vector(codes, labels == target, labels == reference, f"{tn} − {rn}")


def direction_range(direction: Direction, sigmas: float = 3.0) -> tuple[float, float]:
    """Slider range of the offset along a direction: ``±sigmas · scale`` (latent units)."""
    return -float(sigmas) * direction.scale, float(sigmas) * direction.scale


def direction_codes(z, direction: Direction, offsets) -> np.ndarray:
    """Codes ``z + t · u`` for each offset ``t`` along the unit direction ``u``.

    Parameters
    ----------
    z : array_like, shape (d,)
        Base code (the slider code).
    direction : Direction
    offsets : array_like, shape (n,)
        Latent units along the direction.

    Returns
    -------
    numpy.ndarray, shape (n, d), float32
        Feed to `explorer.core.codes.decode_codes`, a traversal row, or a movie.

    Raises
    ------
    ValueError
        If ``z`` and the direction differ in dimension.
    """
    z = np.asarray(z, dtype=np.float64).ravel()
    if z.shape != direction.vector.shape:
        raise ValueError(f"the code has {z.size} dimensions but direction {direction.name!r} has "
                         f"{direction.vector.size}")
    t = np.asarray(offsets, dtype=np.float64).ravel()
    return (z[None, :] + t[:, None] * direction.vector.astype(np.float64)[None, :]).astype(np.float32)


def direction_traversal_codes(z, directions, n_cols: int, sigmas: float = 3.0) -> np.ndarray:
    """Codes of a traversal grid along directions: row ``i`` moves ``z`` along ``directions[i]``.

    Offsets are ``n_cols`` evenly spaced values over `direction_range` of each direction.

    Returns
    -------
    numpy.ndarray, shape (len(directions), n_cols, d), float32
        Same layout as `explorer.core.latent.traversal.traversal_codes`.
    """
    rows = []
    for d in directions:
        lo, hi = direction_range(d, sigmas)
        rows.append(direction_codes(z, d, np.linspace(lo, hi, int(n_cols))))
    return np.stack(rows)
