"""The judging panels' settings (likelihood, sample quality, disentanglement) as Session settings groups.

The Evaluate panels keep what the user chose — estimator, N, seed, extractor … — in
``Session.settings[group]`` rather than in their widgets, so a saved ``.lxs`` holds them and a
restored session shows them again (`explorer.core.session.files`). Each group is a flat dict
whose keys and allowed values are :data:`PANEL_SETTINGS`; `check_panel_settings` checks a
group read from a session file (one sentence per bad value, the same as every other entry).
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["PANEL_SETTINGS", "PANEL_GROUPS", "MAX_PATH_CHARS", "check_panel_settings", "check_panel_value",
           "ValueChecks", "value_check_text"]

#: Longest extractor path kept (characters); longer is a bad value.
MAX_PATH_CHARS = 4096

#: group → key → check. ``("int", lo, hi)``, ``("num", lo, hi)``, ``("choice", options)``,
#: ``("bool",)``, ``("ints", lo, hi, max_len)`` (a list of integers), ``("path",)`` (a string of
#: at most :data:`MAX_PATH_CHARS` characters: "classifier" or a file, relative to the session file).
PANEL_SETTINGS: dict[str, dict[str, tuple]] = {
    "likelihood": {
        "estimator": ("choice", ("iwae", "ais", "kde")),
        "iwae_k": ("ints", 1, 1_000_000, 32),
        "ais_steps": ("int", 2, 100_000),
        "ais_chains": ("int", 1, 64),
        "sigma": ("num", 0.0, 1.0),  # 0: chosen on held-out images
        "n_images": ("int", 1, 1_000_000),
        "seed": ("int", 0, 2**31 - 1),
        "binarize": ("bool",),
    },
    "sample_quality": {
        "extractor": ("path",),
        "n_samples": ("int", 10, 200_000),  # explorer.core.sample_quality's MAX_SAMPLES
        "real_split": ("choice", ("test", "train")),
        "seed": ("int", 0, 2**31 - 1),
        "trials": ("int", 2, 1000),
    },
    "disentanglement": {
        "settings": ("choice", ("fast", "reference")),
        "n_train": ("int", 20, 100_000),
        "seed": ("int", 0, 2**31 - 1),
    },
}

#: The groups, in the order a session file writes them.
PANEL_GROUPS = tuple(PANEL_SETTINGS)


def check_panel_settings(c, group: str, entry: Any) -> dict[str, Any]:
    """Check one judging panel's settings read from a session file.

    Parameters
    ----------
    c : explorer.core.session.schema._Check
        The file's checker (its ``obj``/``int``/``num``/``choice``/``bad`` raise
        `SessionFileError` naming the file and the value).
    group : str
        A key of :data:`PANEL_SETTINGS`.
    entry : dict or None
        The group's entry (None: nothing saved, an empty dict back).

    Returns
    -------
    dict
        Only the known keys, each checked; unknown keys are a bad setting.

    Raises
    ------
    SessionFileError
        A value of the wrong type or out of range, or an unknown key (one sentence).
    """
    spec = PANEL_SETTINGS[group]
    title = group.replace("_", "-")
    entry = c.obj(entry, f'"{group}" entry', {})
    out: dict[str, Any] = {}
    for key, value in entry.items():
        check = spec.get(key)
        what = f"{title} setting {key}"
        if check is None:
            raise c.bad(f"{title} setting", key)
        kind = check[0]
        if kind == "int":
            out[key] = c.int(value, what, check[1], check[2])
        elif kind == "num":
            out[key] = c.num(value, what, check[1], check[2])
        elif kind == "choice":
            out[key] = c.choice(value, what, check[1])
        elif kind == "bool":
            if not isinstance(value, bool):
                raise c.bad(f"{what} (true or false)", value)
            out[key] = value
        elif kind == "ints":
            if not isinstance(value, list) or not 1 <= len(value) <= check[3]:
                raise c.bad(f"{what} (a list of 1 to {check[3]} integers)", value)
            out[key] = [c.int(v, what, check[1], check[2]) for v in value]
        else:  # path
            if not isinstance(value, str) or not 0 < len(value) <= MAX_PATH_CHARS or "\x00" in value:
                raise c.bad(f"{what} (\"classifier\" or a file path)", value)
            out[key] = value
    return out


def value_check_text(what: str, value: Any) -> str:
    """``"bad <what> (<value>)"``, the value's repr cut at 60 characters (the words of every check)."""
    text = repr(value)
    return f"bad {what} ({text[:60] + '…' if len(text) > 60 else text})"


class ValueChecks:
    """Type and range checks of values read from a file or set in the app, each one sentence.

    ``bad(what, value)`` makes the exception (here a ValueError; the session reader's
    ``schema._Check`` makes a `SessionFileError` naming the file); ``obj``, ``int``, ``num``
    and ``choice`` raise it or return the value.
    """

    def bad(self, what: str, value: Any) -> Exception:
        return ValueError(value_check_text(what, value))

    def obj(self, value: Any, what: str, default: dict | None = None) -> dict:
        if value is None and default is not None:
            return default
        if not isinstance(value, dict):
            raise self.bad(what, value)
        return value

    def int(self, value: Any, what: str, lo: int, hi: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise self.bad(f"{what} (an integer from {lo} to {hi})", value)
        return value

    def num(self, value: Any, what: str, lo: float, hi: float, lo_open: bool = False) -> float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
            and (lo < value if lo_open else lo <= value) and value <= hi
        if not ok:
            raise self.bad(f"{what} (a number in {'(' if lo_open else '['}{lo}, {hi}])", value)
        return float(value)

    def choice(self, value: Any, what: str, options: tuple) -> Any:
        if value not in options:
            raise self.bad(f"{what} (one of {', '.join(map(str, options))})", value)
        return value


def check_panel_value(group: str, key: str, value: Any) -> Any:
    """Check one value a judging panel stores (`Session.update_settings` does, so no saved file is refused later).

    Parameters
    ----------
    group : str
        A key of :data:`PANEL_SETTINGS`.
    key : str
    value
        As the panel gives it (an int, a float, a str, a bool or a list of ints).

    Returns
    -------
    The value as it is stored.

    Raises
    ------
    ValueError
        An unknown key, or a value the session file would not accept (one sentence, the same
        limits as reading it).
    """
    return check_panel_settings(ValueChecks(), group, {key: value})[key]
