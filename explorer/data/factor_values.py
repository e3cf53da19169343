"""Names of ground-truth factor values ("square", "scale 0.5", "0.16 rad") for legends, panels and choices."""

from __future__ import annotations

import numpy as np

from explorer.errors import DatasetError

__all__ = ["MAX_VALUE_NAMES", "MAX_NAME_LENGTH", "number_text", "npz_value_names", "value_label",
           "value_labels", "class_labels", "resolve_value", "value_summary"]

#: At most this many named values per factor in an .npz's ``factor_value_names``.
MAX_VALUE_NAMES = 4096
#: At most this many characters per value name.
MAX_NAME_LENGTH = 64


def number_text(v: float) -> str:
    """A factor value as a short number: 3 significant digits, a true minus sign ("0.5", "−0.0323")."""
    return f"{float(v):.3g}".replace("-", "−")


def npz_value_names(raw: np.ndarray, factors: np.ndarray, where: str) -> tuple[dict[float, str] | None, ...]:
    """Check an .npz's optional ``factor_value_names`` and key it by factor value.

    The array is ``(K, M)`` strings (read with ``allow_pickle=False``, so never objects):
    row ``k`` names the sorted distinct values of factor column ``k`` in order, padded with
    empty strings; an all-empty row leaves that factor unnamed.

    Parameters
    ----------
    raw : numpy.ndarray, shape (K, M), unicode or bytes
    factors : numpy.ndarray, shape (N, K), float64
        The whole file's factors (before any subsample), whose distinct values are named.
    where : str
        The file, quoted, for the error sentence.

    Returns
    -------
    tuple of K (dict or None)

    Raises
    ------
    DatasetError
        Not strings, wrong shape, more than `MAX_VALUE_NAMES` per factor, a name longer than
        `MAX_NAME_LENGTH`, or a row naming another number of values than its factor has.
    """
    k = factors.shape[1]
    if raw.dtype.kind not in "US" or raw.ndim != 2 or raw.shape[0] != k or raw.shape[1] > MAX_VALUE_NAMES:
        shape = "×".join(str(s) for s in raw.shape)
        raise DatasetError(f"{where} holds factor_value_names of shape {shape} ({raw.dtype}); expected ({k}, M) "
                           f"strings with M ≤ {MAX_VALUE_NAMES}, one row per factor.")
    if raw.dtype.itemsize // (4 if raw.dtype.kind == "U" else 1) > MAX_NAME_LENGTH:
        raise DatasetError(f"{where} holds factor value names longer than {MAX_NAME_LENGTH} characters.")
    rows = raw.astype(str)
    out: list[dict[float, str] | None] = []
    for j in range(k):
        names = [str(s) for s in rows[j]]
        while names and names[-1] == "":
            names.pop()
        if not names:
            out.append(None)
            continue
        values = np.unique(factors[:, j])
        if len(names) != len(values) or "" in names:
            raise DatasetError(f"{where} names {len(names)} values of factor {j} in factor_value_names, but that "
                               f"factor has {len(values)} distinct values; give one non-empty name per value, "
                               "in increasing order of value.")
        out.append({float(v): n for v, n in zip(values, names, strict=True)})
    return tuple(out)


def value_label(dataset, k: int, value: float, with_name: bool = False) -> str:
    """The name of value ``value`` of factor ``k`` of ``dataset`` ("heart", "0.16 rad"), else the number.

    ``with_name`` prefixes the factor's name unless the value has a word of its own
    ("scale 0.5", "orientation 0.16 rad", but "heart").
    """
    names = getattr(dataset, "factor_value_names", None)
    table = names[int(k)] if names is not None and int(k) < len(names) else None
    named = table.get(float(value)) if table else None
    text = named if named is not None else number_text(value)
    if not with_name or (named is not None and not _numeric(named)):
        return text
    fn = dataset.factor_names
    return f"{fn[int(k)] if fn and int(k) < len(fn) else f'factor {int(k)}'} {text}"


def _numeric(name: str) -> bool:
    head = name.split(" ")[0].replace("−", "-")
    try:
        float(head)
    except ValueError:
        return False
    return True


def value_labels(dataset, k: int, values=None, with_name: bool = False) -> tuple[str, ...]:
    """`value_label` of each of ``values`` (default: the sorted distinct values of factor ``k``)."""
    if values is None:
        values = np.unique(np.asarray(dataset.factors, np.float64)[:, int(k)])
    return tuple(value_label(dataset, k, v, with_name) for v in np.asarray(values, np.float64).ravel())


def class_labels(dataset, k: int, with_name: bool = False) -> tuple[str, ...]:
    """Labels of factor ``k``'s value classes, numbered as `explorer.data.factors.factor_classes` numbers them.

    A factor with at most `explorer.data.factors.MAX_FACTOR_CLASSES` distinct values: one
    label per sorted distinct value. A finer factor (cut into equal-width bins): "bin i".
    """
    from explorer.data.factors import MAX_FACTOR_CLASSES, factor_classes

    column = np.asarray(dataset.factors, np.float64)[:, int(k)]
    values = np.unique(column)
    if len(values) <= MAX_FACTOR_CLASSES:
        return value_labels(dataset, k, values, with_name)
    n = factor_classes(column[:, None])[1][0]
    return tuple(f"bin {i}" for i in range(n))


def value_summary(dataset, k: int, listed: int = 4) -> str:
    """Factor ``k``'s values in a few words: all of them up to ``listed`` ("square, ellipse, heart"), else the
    first and last ("0.5 … 1", "0.00 rad … 6.13 rad")."""
    labels = class_labels(dataset, k)
    return ", ".join(labels) if len(labels) <= listed else f"{labels[0]} … {labels[-1]}"


def resolve_value(dataset, k: int, text: str) -> int:
    """The value class (as `class_labels` numbers them) of factor ``k`` that ``text`` names.

    ``text`` is a value name ("heart", "0.16 rad", case-insensitive) or a number, matched
    to the nearest distinct value when it lies within half the smallest gap between two
    values (so "0.16" finds orientation 0.157 or 0.161).

    Raises
    ------
    ValueError
        One sentence listing the factor's values when nothing (or a binned factor) matches.
    """
    labels = class_labels(dataset, k)
    column = np.asarray(dataset.factors, np.float64)[:, int(k)]
    values = np.unique(column)
    fn = dataset.factor_names[int(k)] if dataset.factor_names else f"factor {int(k)}"
    wanted = text.strip().lower()
    for i, label in enumerate(labels):
        if label.lower() == wanted or label.replace("−", "-").lower() == wanted:
            return i
    if len(labels) == len(values):
        try:
            x = float(wanted.replace("−", "-").removesuffix("rad").strip())
        except ValueError:
            x = None
        if x is not None and np.isfinite(x):
            gap = float(np.min(np.diff(values))) if len(values) > 1 else np.inf
            i = int(np.argmin(np.abs(values - x)))
            if abs(values[i] - x) < gap / 2:
                return i
    shown = ", ".join(labels[:12]) + (", …" if len(labels) > 12 else "")
    raise ValueError(f"factor {fn!r} has no value {text!r}; its values are {shown}")
