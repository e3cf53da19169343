"""The latent sliders' directions (axes of z, GANSpace, SeFa, attribute vectors) as session state, saved in .lxs."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from explorer.core.latent.directions import (
    Direction,
    attribute_vector,
    axis_direction,
    ganspace_directions,
    sefa_directions,
)
from explorer.limits import MAX_DIRECTIONS as _MAX_DIRECTIONS

__all__ = ["KINDS", "KIND_TITLES", "DirectionChoice", "compute_directions", "attribute_groups", "set_directions",
           "clear_directions", "set_direction_offset", "directions_of", "follow_slider_code", "MAX_DIRECTIONS",
           "AttributeSets", "store_attribute_set", "attribute_sets_of", "clear_attribute_sets"]

#: The direction kinds of the sliders panel's chooser, in its order.
KINDS = ("axis", "ganspace", "sefa", "attribute")
#: Their words in the chooser.
KIND_TITLES = {"axis": "Axes of z", "ganspace": "GANSpace", "sefa": "SeFa", "attribute": "Attribute vector"}
#: At most this many directions are chosen at once (sliders shown); defined in explorer.limits.
MAX_DIRECTIONS = _MAX_DIRECTIONS
#: Dataset indices of stored selections are below this (as the session file's other indices).
MAX_INDEX = 1 << 40


@dataclass
class DirectionChoice:
    """The directions the latent sliders move along for one model, and where along them the code is.

    The sliders' code is ``base + Σ_i offsets[i] · directions[i].vector``: moving slider ``i``
    by ``t`` moves the code by exactly ``t · u_i`` (``u_i`` unit length).

    Attributes
    ----------
    kind : {"axis", "ganspace", "sefa", "attribute"}
    directions : list of Direction
        Each ``(d,)`` float32 unit vector.
    base : numpy.ndarray, shape (d,), float32
        The code at offsets zero (the slider code when the directions were chosen).
    offsets : numpy.ndarray, shape (k,), float64
        Latent units along each direction.
    """

    kind: str
    directions: list
    base: np.ndarray
    offsets: np.ndarray = field(default=None)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"direction kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        self.base = np.asarray(self.base, np.float32).ravel()
        if not self.directions or len(self.directions) > MAX_DIRECTIONS:
            raise ValueError(f"choose 1 to {MAX_DIRECTIONS} directions, got {len(self.directions)}")
        if any(d.vector.shape != self.base.shape for d in self.directions):
            raise ValueError(f"every direction must have the code's {self.base.size} dimensions")
        self.offsets = (np.zeros(len(self.directions)) if self.offsets is None
                        else np.asarray(self.offsets, np.float64).ravel())
        if self.offsets.shape != (len(self.directions),) or not np.isfinite(self.offsets).all():
            raise ValueError(f"need one finite offset per direction ({len(self.directions)})")

    def code(self) -> np.ndarray:
        """``(d,)`` float32: ``base + Σ offsets[i] · u_i`` (computed in float64)."""
        u = np.stack([d.vector.astype(np.float64) for d in self.directions])
        return (self.base.astype(np.float64) + self.offsets @ u).astype(np.float32)

    def to_dict(self) -> dict:
        """The ``"directions"`` entry of a model in the ``.lxs``."""
        return {"kind": self.kind, "directions": [d.to_dict() for d in self.directions],
                "base": [float(v) for v in self.base], "offsets": [float(t) for t in self.offsets]}

    @classmethod
    def from_dict(cls, data) -> DirectionChoice:
        """Inverse of `to_dict`; ValueError (one sentence) for a malformed entry."""
        if not isinstance(data, dict) or not isinstance(data.get("directions"), list):
            raise ValueError("the directions entry must be an object with a list of directions")
        base, offsets = data.get("base"), data.get("offsets")
        if not _finite_list(base) or not _finite_list(offsets):
            raise ValueError("the directions' base code and offsets must be lists of finite numbers")
        if len(data["directions"]) > MAX_DIRECTIONS:
            raise ValueError(f"more than {MAX_DIRECTIONS} directions")
        return cls(str(data.get("kind")), [Direction.from_dict(d) for d in data["directions"]], base, offsets)


@dataclass
class AttributeSets:
    """Two stored selections of one model, for the attribute vector "selection A − selection B".

    Attributes
    ----------
    a, b : numpy.ndarray of int64 or None
        Sorted distinct dataset indices; ``a`` None: not stored yet; ``b`` None: "the rest"
        (every image of the codes not in A).
    dataset_id : str
        `explorer.core.workspace.dataset_identity` of the dataset the indices are of: a set
        stored on another dataset is refused, not silently reused.
    """

    a: np.ndarray | None = None
    b: np.ndarray | None = None
    dataset_id: str = ""

    def to_dict(self) -> dict:
        """The ``"attribute_sets"`` entry of a model in the ``.lxs``."""
        return {"A": None if self.a is None else [int(i) for i in self.a],
                "B": None if self.b is None else [int(i) for i in self.b], "dataset": self.dataset_id}

    @classmethod
    def from_dict(cls, data) -> AttributeSets:
        """Inverse of `to_dict`; ValueError (one sentence) unless A and B are lists of dataset indices or null."""
        if not isinstance(data, dict) or not isinstance(data.get("dataset", ""), str) \
                or len(data.get("dataset", "")) > 1000 or set(data) - {"A", "B", "dataset"}:
            raise ValueError("the stored selections must be an object with \"A\", \"B\" and \"dataset\"")
        out = []
        for which in ("A", "B"):
            v = data.get(which)
            if v is not None and not (isinstance(v, list) and len(v) <= MAX_INDEX and all(
                    isinstance(i, int) and not isinstance(i, bool) and 0 <= i < MAX_INDEX for i in v)):
                raise ValueError(f"stored selection {which} must be a list of dataset indices or null")
            out.append(None if v is None else np.unique(np.asarray(v, np.int64)))
        return cls(out[0], out[1], data.get("dataset", ""))


def attribute_sets_of(session, key=None) -> AttributeSets | None:
    """Model ``key``'s stored selections A and B (default: active model), or None."""
    m = session.state(session.active_key if key is None else key)
    return None if m is None else getattr(m, "attribute_sets", None)


def store_attribute_set(session, key, which: str, indices=None) -> AttributeSets:
    """Store the current selection (or ``indices``) as group A or B of model ``key``'s attribute vector.

    ``which`` "A" or "B" stores the selection (dataset indices); "rest" makes B every image
    not in A. Storing A on another dataset than the stored B forgets B. Announced by
    ``directions_changed(key)``, saved in the session file (``attribute_sets``).

    Raises
    ------
    ValueError
        No dataset, an empty selection, or ``which`` not "A", "B" or "rest".
    """
    m = _model_state(session, key)
    if session.dataset is None:
        raise ValueError("open a dataset first: A and B are selections of its images")
    if which not in ("A", "B", "rest"):
        raise ValueError(f"store the selection as 'A', 'B' or 'rest', not {which!r}")
    old = getattr(m, "attribute_sets", None)
    sets = AttributeSets(dataset_id=session.dataset_id or "") if old is None or old.dataset_id != (
        session.dataset_id or "") else AttributeSets(old.a, old.b, old.dataset_id)
    if which == "rest":
        sets.b = None
    else:
        idx = np.unique(np.asarray(session.selection if indices is None else indices, np.int64).ravel())
        idx = idx[(idx >= 0) & (idx < len(session.dataset))]
        if len(idx) == 0:
            raise ValueError(f"select some images first, then store them as {which}")
        if which == "A":
            sets.a = idx
        else:
            sets.b = idx
    m.attribute_sets = sets
    session.directions_changed.emit(m.key)
    session.mark_dirty()
    return sets


def clear_attribute_sets(session, key=None) -> None:
    """Forget model ``key``'s stored selections A and B."""
    m = session.state(session.active_key if key is None else key)
    if m is not None and getattr(m, "attribute_sets", None) is not None:
        m.attribute_sets = None
        session.directions_changed.emit(m.key)
        session.mark_dirty()


def _finite_list(v) -> bool:
    from explorer.limits import MAX_LATENT_DIM, finite_number

    return isinstance(v, list) and len(v) <= MAX_LATENT_DIM and all(finite_number(x) for x in v)


def _model_state(session, key):
    key = session.active_key if key is None else key
    m = session.state(key)
    if m is None:
        raise ValueError("directions need an open model")
    return m


def _latent_dim(m) -> int:
    if m.model is not None:
        return int(m.model.latent_dim)
    if m.codes is not None:
        return int(m.codes.z.shape[1])
    raise ValueError(f"{m.name} is not loaded yet")


def attribute_groups(session, key, by: str, target, reference=None) -> tuple[np.ndarray, np.ndarray, str]:
    """The two groups of an attribute vector as point indices into model ``key``'s codes.

    Parameters
    ----------
    session : Session
    key : str or None
        An open model whose codes are of the dataset (default: active).
    by : {"class", "factor", "selection", "sets"}
        ``"class"``: labels ``target`` minus ``reference`` (None: minus every other class);
        ``"factor"``: ``target`` and ``reference`` are ``(factor index, value class)`` pairs
        (value classes as `explorer.data.factors.factor_classes` numbers them; ``reference``
        None: minus every other value of the target's factor); ``"selection"``: the selected
        images minus the rest (``target``/``reference`` ignored) or minus the dataset indices
        ``reference`` when given; ``"sets"``: the stored selection A minus the stored B (or
        minus the rest when B is "the rest"; :func:`store_attribute_set`).
    target, reference
        See ``by``.

    Returns
    -------
    target_points, reference_points : numpy.ndarray of int64
        Indices into ``codes.z``.
    name : str
        E.g. "Sneaker − Sandal", "ellipse − square", "scale 1 − scale 0.5", "selection − rest".

    Raises
    ------
    ValueError
        No dataset codes, labels or factors where needed, or an empty group.
    """
    m = _model_state(session, key)
    codes, ds = m.codes, session.dataset
    if codes is None or not codes.of_dataset or ds is None:
        raise ValueError("attribute vectors need codes of dataset images (a model with an encoder, or inverted codes)")
    idx = np.arange(len(codes.z)) if codes.indices is None else np.asarray(codes.indices)
    if by == "class":
        if ds.labels is None:
            raise ValueError(f"dataset '{ds.name}' has no class labels")
        lab = np.asarray(ds.labels)[idx]
        names = ds.class_names or ()

        def word(c):
            return names[c] if int(c) < len(names) else str(int(c))

        t = lab == int(target)
        if reference is None:  # one class against all the others
            r, name = ~t, f"{word(int(target))} − rest"
        else:
            r, name = lab == int(reference), f"{word(int(target))} − {word(int(reference))}"
    elif by == "factor":
        from explorer.data.factor_values import class_labels
        from explorer.data.factors import factor_classes

        if ds.factors is None:
            raise ValueError(f"dataset '{ds.name}' has no ground-truth factors")
        classes = factor_classes(ds.factors)[0][idx]
        ft, vt = (int(x) for x in target)
        if not 0 <= ft < classes.shape[1]:
            raise ValueError(f"dataset '{ds.name}' has factors 0..{classes.shape[1] - 1}, not {ft}")

        def word(f, v):  # "ellipse", "scale 0.5" (`explorer.data.factor_values`)
            labels = class_labels(ds, f, with_name=True)
            return labels[v] if 0 <= v < len(labels) else f"factor {f} = {v}"

        t = classes[:, ft] == vt
        if reference is None:  # one value against the factor's other values
            r, name = classes[:, ft] != vt, f"{word(ft, vt)} − rest"
        else:
            fr, vr = (int(x) for x in reference)
            if not 0 <= fr < classes.shape[1]:
                raise ValueError(f"dataset '{ds.name}' has factors 0..{classes.shape[1] - 1}, not {fr}")
            r, name = classes[:, fr] == vr, f"{word(ft, vt)} − {word(fr, vr)}"
    elif by == "selection":
        sel = np.isin(idx, np.asarray(session.selection, np.int64))
        if reference is None:
            t, r, name = sel, ~sel, "selection − rest"
        else:
            t, r, name = sel, np.isin(idx, np.asarray(reference, np.int64)), "selection − reference"
    elif by == "sets":
        sets = getattr(m, "attribute_sets", None)
        if sets is None or sets.a is None:
            raise ValueError("store a selection as A first (then one as B, or B = the rest)")
        if sets.dataset_id != (session.dataset_id or ""):
            raise ValueError("the stored selections A and B are of another dataset; store them again")
        t = np.isin(idx, sets.a)
        if sets.b is None:
            r, name = ~t, "A − rest"
        else:
            r, name = np.isin(idx, sets.b), "A − B"
    else:
        raise ValueError(f"attribute groups are by 'class', 'factor', 'selection' or 'sets', got {by!r}")
    if not t.any() or not r.any():
        raise ValueError(f"the attribute vector {name} needs two non-empty groups")
    return np.flatnonzero(t), np.flatnonzero(r), name


def compute_directions(session, key, kind: str, n: int | None = None, *, codes: str = "encoded",
                       n_codes: int = 2000, seed: int = 0, by: str = "class", target=None,
                       reference=None) -> list[Direction]:
    """Directions of model ``key`` for the sliders (computed now; small: PCA of ≤ a few thousand codes).

    Parameters
    ----------
    session : Session
    key : str or None
        An open model (default: active).
    kind : {"axis", "ganspace", "sefa", "attribute"}
        ``"axis"``: the axes ``e_j`` of z; ``"ganspace"``: principal directions of codes
        (Härkönen et al. 2020; `ganspace_directions`); ``"sefa"``: eigenvectors of ``AᵀA``
        for the first layer the code meets (Shen & Zhou 2021; the layer, e.g.
        ``decoder.0`` / ``generator.project.0``, is in each direction's ``info["layer"]``);
        ``"attribute"``: mean code of one group minus another (:func:`attribute_groups`).
    n : int, optional
        At most this many directions (default all d; one for an attribute vector).
    codes : {"encoded"}
        GANSpace: the model's codes of the open dataset (encoder means, or a GAN's inverted
        codes). Samples of the N(0, I) prior (``"prior"``, or a GAN showing prior samples)
        are refused with a sentence: their covariance is the identity, so PCA finds noise.
    by, target, reference
        Attribute vector groups (:func:`attribute_groups`).

    Returns
    -------
    list of Direction
        Unit ``(d,)`` float32 vectors.

    Raises
    ------
    ValueError
        One sentence: unknown kind, model not loaded, no codes, no first layer for SeFa, empty groups.
    """
    m = _model_state(session, key)
    d = _latent_dim(m)
    if kind == "axis":
        return [axis_direction(j, d) for j in range(d if n is None else min(int(n), d))]
    if kind == "ganspace":
        if codes == "prior" or (codes == "encoded" and m.codes is not None and m.codes.source == "prior"):
            raise ValueError(f"GANSpace needs codes that carry the data's structure: samples z ~ N(0, I) of "
                             f"{m.name}'s prior have the identity as covariance, so their principal directions are "
                             "noise. Use encoded or GAN-inverted codes (Points of a GAN ▸ Dataset images, inverted "
                             "z), or SeFa for the generator's own directions.")
        if codes == "encoded":
            if m.codes is None:
                raise ValueError(f"{m.name} has no codes yet")
            z = m.codes.z
        else:
            raise ValueError(f"GANSpace codes are 'encoded' or 'prior', got {codes!r}")
        dirs = ganspace_directions(z, n)
        return [Direction(di.name, di.vector, di.source, di.scale,
                          {**di.info, "codes": "prior samples" if codes == "prior" else "encoded codes"})
                for di in dirs]
    if kind == "sefa":
        if m.model is None:
            raise ValueError(f"{m.name} is not loaded yet")
        return sefa_directions(m.model, n)
    if kind == "attribute":
        t, r, name = attribute_groups(session, m.key, by, target, reference)
        v = attribute_vector(m.codes.z, t, r, name)
        return [Direction(v.name, v.vector, v.source, v.scale, {**v.info, "by": by})]
    raise ValueError(f"direction kind must be one of {', '.join(KINDS)}, got {kind!r}")


def directions_of(session, key=None) -> DirectionChoice | None:
    """The chosen directions of model ``key`` (default: active), or None (the sliders move along the axes)."""
    m = session.state(session.active_key if key is None else key)
    return None if m is None else getattr(m, "directions", None)


def set_directions(session, key, kind: str, directions) -> DirectionChoice:
    """Make ``directions`` the sliders' directions of model ``key``, starting at its slider code.

    The base is the current slider code (zeros when none), all offsets zero; announced by
    ``directions_changed(key)`` and saved in the session file.

    Raises
    ------
    ValueError
        Directions of another dimension than the model's code, none, or too many.
    """
    m = _model_state(session, key)
    d = _latent_dim(m)
    base = m.slider_code if m.slider_code is not None else np.zeros(d, np.float32)
    choice = DirectionChoice(kind, list(directions), base)
    m.directions = choice
    session.directions_changed.emit(m.key)
    session.mark_dirty()
    return choice


def clear_directions(session, key=None) -> None:
    """Back to the axes of z for model ``key``: forget its chosen directions (the slider code stays)."""
    m = session.state(session.active_key if key is None else key)
    if m is not None and getattr(m, "directions", None) is not None:
        m.directions = None
        session.directions_changed.emit(m.key)
        session.mark_dirty()


def set_direction_offset(session, key, i: int, t: float) -> np.ndarray:
    """Move model ``key``'s slider code to offset ``t`` along its chosen direction ``i``.

    The slider code becomes ``base + Σ_j offsets[j] · u_j`` with ``offsets[i] = t``: from
    offset ``t0`` it moves by exactly ``(t − t0) · u_i``.

    Parameters
    ----------
    session : Session
    key : str or None
    i : int
        Index into the chosen directions.
    t : float
        Latent units along the unit direction.

    Returns
    -------
    numpy.ndarray, shape (d,), float32
        The new slider code.

    Raises
    ------
    ValueError
        No directions chosen, ``i`` out of range, or ``t`` not finite.
    """
    m = _model_state(session, key)
    choice = getattr(m, "directions", None)
    if choice is None:
        raise ValueError(f"{m.name} has no chosen directions")
    if not 0 <= int(i) < len(choice.directions) or not math.isfinite(float(t)):
        raise ValueError(f"direction {i} / offset {t} is not one of the {len(choice.directions)} directions")
    choice.offsets[int(i)] = float(t)
    z = choice.code()
    session.set_slider_code(m.key, z)
    return z


def follow_slider_code(session, key=None) -> bool:
    """After the slider code was set by other means (a picked image, a reset), restart the offsets there.

    When model ``key``'s slider code differs from its directions' code, the base becomes the
    slider code and every offset zero. Returns True when it changed anything.
    """
    m = session.state(session.active_key if key is None else key)
    choice = None if m is None else getattr(m, "directions", None)
    if choice is None or m.slider_code is None or np.array_equal(choice.code(), m.slider_code):
        return False
    choice.base = np.asarray(m.slider_code, np.float32).copy()
    choice.offsets = np.zeros(len(choice.directions))
    session.directions_changed.emit(m.key)
    return True
