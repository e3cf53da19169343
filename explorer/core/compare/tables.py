"""The scorecard as CSV, JSON, Markdown, LaTeX (booktabs) and an HTML table — every file written atomically."""

from __future__ import annotations

import csv
import html
import io
import math
from pathlib import Path

from explorer.core.compare.scorecard import Cell, Scorecard
from explorer.core.export import atomic_path, to_jsonable, write_json

__all__ = ["format_value", "scorecard_csv", "scorecard_markdown", "scorecard_latex", "scorecard_html",
           "latex_escape", "write_scorecard", "SCORECARD_FILES"]

#: The files `write_scorecard` writes into a folder.
SCORECARD_FILES: tuple[str, ...] = ("scorecard.json", "scorecard.csv", "scorecard.md", "scorecard.tex")

#: Shown for a model without the number (e.g. no likelihood for a GAN).
MISSING = "—"


def format_value(value, fmt: str) -> str:
    """``value`` formatted for a table: numbers with ``fmt``, None as "—", inf as "∞"."""
    if value is None:
        return MISSING
    if isinstance(value, float) and not math.isfinite(value):
        return "∞" if value > 0 else ("−∞" if value < 0 else MISSING)
    try:
        return format(value, fmt)
    except (TypeError, ValueError):
        return str(value)


def _ci_text(cell: Cell, fmt: str) -> str:
    if cell.ci95 is None:
        return ""
    return f" [{format_value(cell.ci95[0], fmt)}, {format_value(cell.ci95[1], fmt)}]"


def scorecard_csv(card: Scorecard) -> str:
    """CSV text: a ``model`` column, then per column its value at full precision, the record's 95 % interval
    (``… ci95 low/high``) where there is one, and ``… vs best`` ("best", "n.s." or "significant") where marked."""
    header = ["model"]
    for c in card.columns:
        header.append(c.header)
        if c.ci is not None:
            header += [f"{c.header} ci95 low", f"{c.header} ci95 high"]
        if c.direction is not None:
            header.append(f"{c.header} vs best")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)

    def raw(v):
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            return "" if v is None or math.isnan(v) else repr(v)
        return repr(v) if isinstance(v, float) else v

    for name, row in zip(card.names, card.cells, strict=True):
        out = [name]
        for c, cell in zip(card.columns, row, strict=True):
            out.append(raw(cell.value))
            if c.ci is not None:
                out += [raw(cell.ci95[0]), raw(cell.ci95[1])] if cell.ci95 else ["", ""]
            if c.direction is not None:
                out.append("best" if cell.best else "n.s." if cell.not_significant
                           else "significant" if cell.not_significant is False else "")
        w.writerow(out)
    return buf.getvalue()


def _mark_text(cell: Cell, fmt: str, bold: tuple[str, str], ns: str, with_ci: bool = True) -> str:
    text = format_value(cell.value, fmt) + (_ci_text(cell, fmt) if with_ci else "")
    if cell.best:
        text = f"{bold[0]}{text}{bold[1]}"
    if cell.not_significant:
        text += ns
    return text


def scorecard_markdown(card: Scorecard) -> str:
    """A GitHub-flavoured Markdown table; best in bold, "(n.s.)" after a difference that is not significant,
    the record's 95 % interval in brackets; the notes below."""
    def esc(s: str) -> str:
        return s.replace("|", "\\|")

    lines = ["| model | " + " | ".join(esc(c.header) for c in card.columns) + " |",
             "|---|" + "|".join("---:" if c.fmt not in ("s",) else "---" for c in card.columns) + "|"]
    for name, row in zip(card.names, card.cells, strict=True):
        lines.append("| " + esc(name) + " | " + " | ".join(
            esc(_mark_text(cell, c.fmt, ("**", "**"), " (n.s.)")) for c, cell in zip(card.columns, row, strict=True))
            + " |")
    lines.append("")
    lines += [f"- {n}" for n in card.notes]
    return "\n".join(lines) + "\n"


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_LATEX_UNICODE = {"×": r"$\times$", "±": r"$\pm$", "σ": r"$\sigma$", "β": r"$\beta$", "λ": r"$\lambda$",
                  "−": "$-$", "–": "--", "—": "---", "²": r"$^2$", "·": r"$\cdot$", "∞": r"$\infty$",
                  "≥": r"$\geq$", "≤": r"$\leq$", "ä": r"\"a", "é": r"\'e", "“": "``", "”": "''", " ": " "}


def latex_escape(text: str) -> str:
    """``text`` safe in LaTeX: the ten special characters escaped, a few Unicode signs as LaTeX commands."""
    return "".join(_LATEX_SPECIAL.get(ch, _LATEX_UNICODE.get(ch, ch)) for ch in str(text))


def scorecard_latex(card: Scorecard, caption: str | None = None, label: str = "tab:scorecard") -> str:
    """A booktabs ``table``: names on the first header row, units/space/N on the second (small), best in
    ``\\textbf``, a not-significant difference with a superscript n.s.; the notes in the caption.

    Needs ``\\usepackage{booktabs}`` only. Every row has as many cells as there are columns.
    """
    spec = "l" + "".join("l" if c.fmt == "s" else "r" for c in card.columns)
    names = ["model"] + [latex_escape(c.name) for c in card.columns]
    details = [""] + [r"{\scriptsize " + latex_escape(c.detail) + "}" if c.detail else "" for c in card.columns]
    out = [r"\begin{table}[t]", r"\centering", r"\small", r"\begin{tabular}{" + spec + "}", r"\toprule",
           " & ".join(names) + r" \\", " & ".join(details) + r" \\", r"\midrule"]
    for name, row in zip(card.names, card.cells, strict=True):
        cells = [latex_escape(name)]
        for c, cell in zip(card.columns, row, strict=True):
            text = latex_escape(format_value(cell.value, c.fmt))
            if cell.ci95 is not None:
                text += r" {\scriptsize [" + latex_escape(format_value(cell.ci95[0], c.fmt)) + ", " \
                        + latex_escape(format_value(cell.ci95[1], c.fmt)) + "]}"
            if cell.best:
                text = r"\textbf{" + text + "}"
            if cell.not_significant:
                text += r"\textsuperscript{n.s.}"
            cells.append(text)
        out.append(" & ".join(cells) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}"]
    cap = " ".join([caption] if caption else []) + (" " if caption else "") + " ".join(card.notes)
    out += [r"\caption{" + latex_escape(cap.strip()) + "}", r"\label{" + latex_escape(label) + "}", r"\end{table}"]
    return "\n".join(out) + "\n"


def scorecard_html(card: Scorecard) -> str:
    """An HTML ``<table class="scorecard">`` (escaped), best in ``<strong>``, n.s. as ``<sup>``, notes below."""
    e = html.escape
    head = "".join(f'<th title="{e(c.header)}">{e(c.name)}<br><small>{e(c.detail)}</small></th>'
                   for c in card.columns)
    rows = []
    for name, row in zip(card.names, card.cells, strict=True):
        tds = []
        for c, cell in zip(card.columns, row, strict=True):
            text = e(format_value(cell.value, c.fmt))
            if cell.ci95 is not None:
                text += f' <small>{e(_ci_text(cell, c.fmt).strip())}</small>'
            if cell.best:
                text = f"<strong>{text}</strong>"
            if cell.not_significant:
                lo, hi = cell.diff_ci95 or (math.nan, math.nan)
                text += f' <sup title="difference from the best: 95 % interval [{lo:.4g}, {hi:.4g}]">n.s.</sup>'
            tds.append(f"<td>{text}</td>")
        rows.append(f"<tr><th>{e(name)}</th>{''.join(tds)}</tr>")
    notes = "".join(f"<li>{e(n)}</li>" for n in card.notes)
    return (f'<table class="scorecard"><thead><tr><th>model</th>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>\n<ul class="notes">{notes}</ul>\n')


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_scorecard(card: Scorecard, folder: str | Path, result: dict, caption: str | None = None) -> list[Path]:
    """Write `SCORECARD_FILES` into ``folder`` (each atomically).

    Parameters
    ----------
    card : Scorecard
    folder : path
        An existing folder.
    result : dict
        ``{"models": [...], "dataset": {...}}`` in ``evaluate``'s layout; the JSON keeps it and adds
        ``"scorecard"`` (`Scorecard.to_dict`).
    caption : str, optional
        Opening sentence of the LaTeX caption.

    Returns
    -------
    list of pathlib.Path

    Raises
    ------
    OSError
        A file cannot be written (nothing partial is left of it).
    """
    folder = Path(folder)
    doc = dict(result)
    doc["scorecard"] = card.to_dict()
    paths = [folder / n for n in SCORECARD_FILES]
    write_json(paths[0], to_jsonable(doc))
    _write_text(paths[1], scorecard_csv(card))
    _write_text(paths[2], scorecard_markdown(card))
    _write_text(paths[3], scorecard_latex(card, caption))
    return paths
