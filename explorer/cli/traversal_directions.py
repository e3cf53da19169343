"""`render traversal --directions ganspace|sefa|attribute`: the sliders panel's directions, headless."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from explorer.errors import UserError

__all__ = ["DIRECTION_KINDS", "AttributeSpec", "parse_attribute", "add_direction_arguments", "resolve_attribute",
           "cli_directions", "describe_directions"]

#: ``--directions`` words → the kinds of `explorer.core.session.directions.compute_directions`.
DIRECTION_KINDS = {"axes": "axis", "ganspace": "ganspace", "sefa": "sefa", "attribute": "attribute"}

ATTRIBUTE_HELP = ("with --directions attribute: the two groups whose mean codes are subtracted, "
                  "'class:A-B' (class A minus class B, by name or number), 'class:A' (A minus every other class), "
                  "'factor:NAME=V-W' (images whose factor NAME has value V minus those with value W) or "
                  "'factor:NAME=V' (V minus the factor's other values); values by name or number, "
                  "e.g. factor:shape=ellipse-square, factor:scale=1-0.5, class:Sneaker-Sandal. "
                  "A name holding '-' (T-shirt/top) is found by trying each '-'")


@dataclass(frozen=True)
class AttributeSpec:
    """``--attribute`` as written: ``by`` "class" or "factor", the factor's name, and the two value words.

    ``reference`` None means "the rest" (every other class / value of the factor).
    """

    by: str
    factor: str | None
    target: str
    reference: str | None
    text: str


def parse_attribute(text: str) -> AttributeSpec:
    """argparse type of ``--attribute``: ``class:A[-B]`` or ``factor:NAME=V[-W]`` (syntax only; names checked later).

    Raises
    ------
    argparse.ArgumentTypeError
        Anything else, in one sentence.
    """
    by, sep, rest = text.partition(":")
    by = by.strip().lower()
    if sep and by == "class" and rest.strip():
        return AttributeSpec("class", None, rest.strip(), None, text)
    if sep and by == "factor":
        name, eq, values = rest.partition("=")
        if eq and name.strip() and values.strip():
            return AttributeSpec("factor", name.strip(), values.strip(), None, text)
    raise argparse.ArgumentTypeError(f"--attribute must be 'class:A-B', 'class:A', 'factor:NAME=V-W' or "
                                     f"'factor:NAME=V', not {text!r}")


def add_direction_arguments(p) -> None:
    """Add ``--directions``, ``--n-directions`` and ``--attribute`` to ``render traversal``."""
    from explorer.cli.args import int_in
    from explorer.limits import MAX_DIRECTIONS  # not explorer.core.session: every command would import it

    p.add_argument("--directions", choices=list(DIRECTION_KINDS), default="axes",
                   help="what each row moves along: 'axes' of z (default; --dims), 'ganspace' (principal "
                        "directions of the codes of --data, Härkönen et al. 2020), 'sefa' (eigenvectors of AᵀA "
                        "of the decoder's first layer, Shen & Zhou 2021) or 'attribute' (mean code of one group "
                        "minus another, see --attribute) — the sliders panel's directions; rows span "
                        "±3 × each direction's scale")
    p.add_argument("--n-directions", type=int_in(1, MAX_DIRECTIONS), default=None, metavar="K",
                   help="with --directions ganspace|sefa: the first K directions, one row each (default 5, "
                        "as the panel)")
    p.add_argument("--attribute", type=parse_attribute, default=None, metavar="class:A-B|factor:NAME=V-W",
                   help=ATTRIBUTE_HELP)


def _split_pair(text: str, known) -> list[tuple[str, str | None]]:
    """Every way to read ``text`` as ``A-B`` (or ``A``) with both words ``known`` (a predicate)."""
    text = text.replace("−", "-")
    out = [(text, None)] if known(text) else []
    for i, ch in enumerate(text):
        if ch == "-" and 0 < i < len(text) - 1:
            a, b = text[:i].strip(), text[i + 1:].strip()
            if known(a) and (b.lower() == "rest" or known(b)):
                out.append((a, None if b.lower() == "rest" else b))
    return out


def _class_index(ds, word: str) -> int | None:
    names = list(ds.class_names or ())
    for i, n in enumerate(names):
        if n.lower() == word.lower():
            return i
    try:
        i = int(word)
    except ValueError:
        return None
    top = int(ds.labels.max()) + 1 if len(ds.labels) else 0
    return i if 0 <= i < max(top, len(names)) else None


def resolve_attribute(spec: AttributeSpec, ds) -> dict:
    """``compute_directions`` keywords (``by``, ``target``, ``reference``) for ``spec`` on dataset ``ds``.

    Raises
    ------
    UserError
        The dataset lacks labels or factors, or a class, factor or value is not in it (one sentence).
    """
    from explorer.data.factor_values import class_labels, resolve_value

    where = f"--attribute {spec.text!r}"
    if spec.by == "class":
        if ds.labels is None:
            raise UserError(f"{where}: dataset '{ds.name}' has no class labels.")
        pairs = _split_pair(spec.target, lambda w: _class_index(ds, w) is not None)
        if len(pairs) != 1:
            names = ", ".join(ds.class_names or ()) or f"0..{int(ds.labels.max())}"
            why = "is ambiguous" if pairs else "does not name one or two of its classes"
            raise UserError(f"{where} {why} for dataset '{ds.name}' (classes: {names}).")
        a, b = pairs[0]
        return {"by": "class", "target": _class_index(ds, a), "reference": None if b is None else _class_index(ds, b)}
    if ds.factors is None:
        raise UserError(f"{where}: dataset '{ds.name}' has no ground-truth factors (try --data dsprites, or an .npz "
                        "with 'factors').")
    names = list(ds.factor_names or [f"factor_{k}" for k in range(ds.factors.shape[1])])
    lowered = [n.lower() for n in names]
    if spec.factor.lower() in lowered:
        k = lowered.index(spec.factor.lower())
    elif spec.factor.isdigit() and int(spec.factor) < len(names):
        k = int(spec.factor)
    else:
        raise UserError(f"{where}: dataset '{ds.name}' has no factor {spec.factor!r} (its factors: "
                        f"{', '.join(names)}).")

    def value(word):
        try:
            return resolve_value(ds, k, word)
        except ValueError:
            return None

    pairs = _split_pair(spec.target, lambda w: value(w) is not None)
    if len(pairs) != 1:
        shown = class_labels(ds, k)
        listed = ", ".join(shown[:12]) + (", …" if len(shown) > 12 else "")
        why = "is ambiguous" if pairs else "does not name one or two values"
        raise UserError(f"{where} {why} of factor '{names[k]}' (its values: {listed}).")
    a, b = pairs[0]
    return {"by": "factor", "target": (k, value(a)), "reference": None if b is None else (k, value(b))}


def describe_directions(directions) -> str:
    """One line on what the rows are: GANSpace variance, SeFa's layer, an attribute vector's groups."""
    d = directions[0]
    if d.source == "ganspace":
        ev = 100 * sum(float(x.info.get("explained_variance_ratio", 0.0)) for x in directions)
        return (f"GANSpace: PCA of {d.info.get('n_codes', 0):,} {d.info.get('codes', 'codes')}, these "
                f"{len(directions)} directions hold {ev:.1f} % of their variance")
    if d.source == "sefa":
        return f"SeFa: eigenvectors of AᵀA for layer {d.info.get('layer')}"
    if d.source == "attribute":
        return (f"attribute vector {d.name}: mean of {d.info.get('n_target', 0):,} codes − mean of "
                f"{d.info.get('n_reference', 0):,}, ‖Δ‖ = {d.scale:.3f} latent units")
    return f"{len(directions)} axes of z"


def cli_directions(args, kind: str, load_model):
    """The model, base code and directions of ``render traversal --directions KIND`` (not "axes").

    With ``--data`` the model is opened in a headless `explorer.core.session.Session` on that
    dataset (what the window does) and the directions come from
    `explorer.core.session.directions.compute_directions`, so the rows are the sliders
    panel's for the same settings; without it only SeFa can run (it needs no codes).

    Parameters
    ----------
    args : argparse.Namespace
        Of ``render traversal``.
    kind : {"ganspace", "sefa", "attribute"}
    load_model : callable
        ``load_model(path, args)`` → the model on ``--device`` (SeFa without ``--data``).

    Returns
    -------
    model : models.base.GenerativeModel
    z : numpy.ndarray, shape (d,), float32
        The base code: image ``--index``'s encoder mean, else zeros (the prior mean).
    directions : list of Direction

    Raises
    ------
    UserError
        One sentence: a kind that needs --data without it, --dims or --range fitted with directions,
        --attribute missing or given to another kind, a GAN's prior samples for GANSpace, a class,
        factor or value the data lacks.
    """
    import numpy as np

    from explorer.core.latent.directions import sefa_directions

    if args.dims is not None:
        raise UserError(f"--dims picks axes of z; with --directions {args.directions} use --n-directions.")
    if args.range_mode == "fitted":
        raise UserError(f"--range fitted applies to the axes of z; rows along --directions {args.directions} "
                        "span ±3 × each direction's scale.")
    if (kind == "attribute") != (args.attribute is not None):
        raise UserError("--directions attribute needs --attribute (e.g. class:A-B or factor:NAME=V-W)"
                        if kind == "attribute" else f"--attribute applies to --directions attribute, not "
                                                    f"{args.directions}.")
    n = 5 if args.n_directions is None else int(args.n_directions)  # the panel's default
    if args.data is None:
        if kind != "sefa":
            raise UserError(f"--directions {args.directions} needs --data: the codes of a dataset's images.")
        if args.index is not None:
            raise UserError("--index needs --data (the dataset whose image it encodes).")
        model = load_model(args.checkpoint, args)
        return model, np.zeros(int(model.latent_dim), np.float32), sefa_directions(model, n)

    from explorer.cli.session import create_session
    from explorer.core.session.directions import compute_directions

    groups = {}

    def check(ds):  # a misspelt class or factor: one sentence before the encoding, not after it
        if kind == "attribute":
            groups.update(resolve_attribute(args.attribute, ds))

    s = create_session([args.checkpoint], args.data, args.split, args.limit, args.seed, "pca", ("none", 0),
                       None, args.resize, getattr(args, "device", None), on_dataset=check)
    try:
        return _session_directions(args, kind, n, s, compute_directions, groups)
    finally:
        s.close()


def _session_directions(args, kind, n, s, compute_directions, groups):
    import numpy as np

    m = s.models[0]
    model, codes, ds = m.model, m.codes, s.dataset
    prior = codes.source == "prior"
    if kind in ("ganspace", "attribute") and prior:
        raise UserError(f"--directions {args.directions}: '{args.checkpoint}' is a GAN without an encoder, so its "
                        "codes are samples z ~ N(0, I) of the prior, not codes of --data (PCA of them finds noise, "
                        "and they carry no labels); use --directions sefa.")
    z = np.zeros(int(model.latent_dim), np.float32)
    if args.index is not None:
        if not 0 <= args.index < len(ds):
            raise UserError(f"--index {args.index} is out of range for dataset '{args.data}', which has {len(ds)} "
                            f"images (0..{len(ds) - 1}).")
        if prior:
            raise UserError("the model has no encoder, so --index cannot give a base code; leave it out.")
        rows = np.arange(len(codes.z)) if codes.indices is None else np.asarray(codes.indices)
        z = codes.z[int(np.flatnonzero(rows == args.index)[0])].copy()
    try:
        dirs = compute_directions(s, m.key, kind, None if kind == "attribute" else n, codes="encoded", **groups)
    except ValueError as exc:
        raise UserError(f"--directions {args.directions}: {str(exc).rstrip('.')}.") from None
    return model, z, dirs
