"""Binds a judging panel's widgets to its Session settings group, so a saved session keeps them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSignalBlocker

__all__ = ["SettingsBinding", "in_panel_words", "SAMPLE_QUALITY_WORDS", "LIKELIHOOD_WORDS"]


class SettingsBinding:
    """Widgets ↔ ``session.settings[group]`` (`explorer.core.session.panel_settings`).

    A user's change of any bound widget stores every field with `Session.update_settings`
    (which marks the session changed); a change of the group in the session — a restored
    ``.lxs``, a script — sets the widgets, with their signals blocked so nothing is stored back.

    Parameters
    ----------
    session : explorer.core.session.Session
    group : str
        A key of `explorer.core.session.panel_settings.PANEL_SETTINGS`.
    fields : dict
        key → ``(get, set, widgets)``: ``get()`` returns the value to store (or raises
        ValueError while the widget holds something unusable: that key is left as it was),
        ``set(value)`` shows a stored value, ``widgets`` are the widgets whose signals to block
        while it does.
    """

    def __init__(self, session, group: str, fields: dict[str, tuple[Callable[[], Any], Callable[[Any], None], tuple]]
                 ) -> None:
        self.session, self.group, self.fields = session, group, fields
        self.loading = False
        session.settings_changed.connect(self._on_settings_changed)
        self.load()

    def _on_settings_changed(self, group: str) -> None:
        if group == self.group:
            self.load()

    def load(self) -> None:
        """Show the session's values (keys it lacks keep the widgets' defaults)."""
        values = self.session.settings.get(self.group, {})
        self.loading = True
        try:
            for key, (_get, put, widgets) in self.fields.items():
                if key in values:
                    blockers = [QSignalBlocker(w) for w in widgets]
                    try:
                        put(values[key])
                    finally:
                        del blockers
        finally:
            self.loading = False

    def store(self, *_args) -> None:
        """Store what the widgets say (connected to their change signals; no-op while loading)."""
        if self.loading:
            return
        from explorer.core.session.panel_settings import check_panel_value

        values = {}
        for key, (get, _put, _widgets) in self.fields.items():
            try:  # a value the widget cannot give, or one a session file would refuse: that key stays as it was
                values[key] = check_panel_value(self.group, key, get())
            except ValueError:
                continue
        self.session.update_settings(self.group, **values)


#: The command line's option names in the core's sentences → the Sample quality panel's words.
SAMPLE_QUALITY_WORDS = {"choose another --real-split": "choose the other real set", "--real-split": "the real set",
                        "--n-samples": "N samples", "give --extractor PATH": "choose a feature extractor file",
                        "give --extractor classifier,": "choose the bundled classifier,", "--data": "the dataset",
                        "--extractor": "the extractor"}

#: The same for the Likelihood panel.
LIKELIHOOD_WORDS = {"AIS (--estimator ais)": "AIS", "use --binarize for one": "tick binarize for one",
                    "--binarize evaluates": "binarize evaluates", "--binarize": "binarize",
                    "give --sigma or a smaller --n-images": "set σ or a smaller N images", "--sigma": "σ",
                    "--n-images": "N images"}


def in_panel_words(sentence: str, words: dict[str, str]) -> str:
    """``sentence`` (from the core, which names command-line options) in a panel's words.

    Parameters
    ----------
    sentence : str
        One sentence, e.g. "choose another --real-split".
    words : dict
        Option → the panel's name for the control (longest options first are replaced first,
        so "--extractor PATH" wins over "--extractor").

    Returns
    -------
    str
    """
    for option in sorted(words, key=len, reverse=True):
        sentence = sentence.replace(option, words[option])
    return sentence
