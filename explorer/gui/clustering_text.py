"""The Clustering panel's words and styles: score names and tooltips, curve styles, score and space text."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from explorer.gui.colors import TAB10

__all__ = ["SCORE_NAMES", "NO_LABELS_TEXT", "format_score", "space_phrase", "legend_entry"]

#: Display names of the scores, in table order (label-based scores, then the silhouette).
SCORE_NAMES: dict[str, str] = {
    "homogeneity": "Homogeneity",
    "completeness": "Completeness",
    "v_measure": "V-measure",
    "ari": "ARI",
    "nmi": "NMI",
    "silhouette": "Silhouette",
}
#: Column titles of the sweep table (the full names are in the tooltips and in copied text).
_SHORT_NAMES = {"homogeneity": "Homog.", "completeness": "Compl.", "v_measure": "V-meas.",
                "ari": "ARI", "nmi": "NMI", "silhouette": "Silh."}
_TOOLTIPS = {
    "homogeneity": "Each cluster holds only one class (Rosenberg & Hirschberg 2007); in [0, 1]",
    "completeness": "All images of a class fall in one cluster (Rosenberg & Hirschberg 2007); in [0, 1]",
    "v_measure": "Harmonic mean of homogeneity and completeness (β = 1); in [0, 1]",
    "ari": "Adjusted Rand index (Hubert & Arabie 1985); 0 for chance, 1 for identical partitions",
    "nmi": "Normalised mutual information, arithmetic mean; equals the V-measure for β = 1",
    "silhouette": "Mean silhouette coefficient (Rousseeuw 1987), Euclidean; in [-1, 1], needs no labels",
}
#: Shown instead of the label-based scores when the dataset has no labels.
NO_LABELS_TEXT = "Homogeneity, completeness and V-measure need labels; this dataset has none."

_SWEEP_HINT = "Sweep k runs k-means for every k in the range and plots the scores against k."

#: Pen colour, line style and symbol of each curve of the sweep plot.
_CURVE_STYLE = {
    "homogeneity": (TAB10[0], Qt.PenStyle.SolidLine, "o"),
    "completeness": (TAB10[1], Qt.PenStyle.SolidLine, "s"),
    "v_measure": (TAB10[2], Qt.PenStyle.SolidLine, "t"),
    "ari": (TAB10[3], Qt.PenStyle.SolidLine, "d"),
    "nmi": (TAB10[4], Qt.PenStyle.DashLine, "x"),  # lies on the V-measure curve: dashed, on top
    "silhouette": (TAB10[5], Qt.PenStyle.SolidLine, "o"),
}
_INK = QColor(30, 30, 30)
_K_MIN, _K_MAX = 2, 50
_SEED_MAX = 2**31 - 1
_SYMBOL_GLYPHS = {"o": "●", "s": "■", "t": "▼", "d": "◆", "x": "✕"}


def legend_entry(key: str) -> str:
    """Rich-text legend entry: a coloured line sample with the curve's symbol, then the score's name."""
    rgba, style, symbol = _CURVE_STYLE[key]
    color = "#{:02x}{:02x}{:02x}".format(*(int(v) for v in rgba[:3]))
    line = "╌" if style == Qt.PenStyle.DashLine else "─"
    return (f'<span style="white-space:nowrap"><span style="color:{color}">{line}{_SYMBOL_GLYPHS[symbol]}{line}</span>'
            f"&nbsp;{SCORE_NAMES[key]}</span>")


def format_score(value: float | None) -> str:
    """A score with 3 decimals (``"0.512"``), or ``"—"`` when it is None."""
    return "—" if value is None else f"{value:.3f}"


def space_phrase(space: str, label: str) -> str:
    """What was clustered, for a sentence: ``"the full latent codes z (d = 16)"``, ``"the 2-D embedding (PCA)"``.

    Parameters
    ----------
    space : {"latent", "embedding"}
    label : str
        The space's name as shown in the panel's combo box.
    """
    if len(label) > 1 and label[0].isupper() and label[1].islower():
        label = label[0].lower() + label[1:]  # "Latent codes" -> "latent codes", but "UMAP" stays
    return f"the full {label}" if space == "latent" else f"the {label}"
