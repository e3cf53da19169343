"""The report folder of `latent-explorer compare`: checked before the work, built beside it, renamed at the end."""

from __future__ import annotations

import contextlib
import html
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from explorer.core.export import atomic_path, file_umask
from explorer.errors import UserError

__all__ = ["MARKER", "REPORT_FILES", "check_out_folder", "report_folder", "index_html"]

#: A file every report folder holds; a folder with it may be replaced by a new report.
MARKER = ".latent-explorer-compare"

#: The files of a report folder (each figure also as PNG beside its PDF).
REPORT_FILES: tuple[str, ...] = ("scorecard.json", "scorecard.csv", "scorecard.md", "scorecard.tex",
                                 "embeddings.pdf", "reconstructions.pdf", "rate_distortion.pdf", "index.html")


def check_out_folder(out: Path) -> None:
    """Refuse ``--out`` before any work when the report could not be written there.

    Accepted: a path that does not exist in a writable folder, an empty folder, or an earlier
    report folder (it holds `MARKER`), which the new report replaces at the end.

    Raises
    ------
    UserError
        One sentence naming the path and the problem.
    """
    out = Path(out)
    parent = out.absolute().parent
    if out.exists() or out.is_symlink():
        if not out.is_dir() or out.is_symlink():
            raise UserError(f"--out '{out}' exists and is not a folder; choose a new folder name.")
        if any(out.iterdir()) and not (out / MARKER).is_file():
            raise UserError(f"--out '{out}' is a folder that is not empty and was not written by latent-explorer "
                            f"compare; it is left alone — choose a new folder name.")
    if not parent.is_dir():
        raise UserError(f"--out '{out}': the folder '{parent}' does not exist.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"--out '{out}': the folder '{parent}' is not writable.")


@contextlib.contextmanager
def report_folder(out: Path) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``out``; on success it becomes ``out``.

    On any exception the temporary folder is removed and ``out`` is left as it was; an
    earlier report at ``out`` is replaced only once the new one is complete.
    """
    out = Path(out)
    check_out_folder(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.absolute().parent))
    try:
        yield tmp
        (tmp / MARKER).write_text("a report folder written by latent-explorer compare\n", encoding="utf-8")
        os.chmod(tmp, 0o777 & ~file_umask())  # mkdtemp makes 0700; a report is an ordinary folder
        old = None
        if out.exists():
            check_out_folder(out)  # it may have changed while we worked
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.absolute().parent))
            os.rmdir(old)
            os.replace(out, old)
        try:
            os.replace(tmp, out)
        except BaseException:
            if old is not None:
                os.replace(old, out)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def index_html(folder: Path, title: str, scorecard_table: str, figures: Sequence[tuple[str, str, str]],
               lines: Sequence[str]) -> Path:
    """Write ``index.html``: the scorecard table and the figures, static, every link relative (opens from disk).

    Parameters
    ----------
    folder : pathlib.Path
    title : str
    scorecard_table : str
        HTML of the table (`explorer.core.compare.tables.scorecard_html`).
    figures : sequence of (heading, png name, pdf name)
    lines : sequence of str
        Sentences shown under the title (what was compared, how).

    Returns
    -------
    pathlib.Path
    """
    e = html.escape
    figs = "".join(f'<section><h2>{e(h)}</h2><a href="{e(pdf)}"><img src="{e(png)}" alt="{e(h)}"></a>'
                   f'<p><a href="{e(pdf)}">{e(pdf)}</a> · <a href="{e(png)}">{e(png)}</a></p></section>'
                   for h, png, pdf in figures)
    downloads = " · ".join(f'<a href="{n}">{n}</a>' for n in ("scorecard.csv", "scorecard.json", "scorecard.md",
                                                               "scorecard.tex"))
    text = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>
body {{ font-family: DejaVu Sans, Helvetica, Arial, sans-serif; margin: 1.5em; color: #222; }}
table.scorecard {{ border-collapse: collapse; font-size: 12px; }}
table.scorecard th, table.scorecard td {{ border-bottom: 1px solid #ccc; padding: 4px 6px; vertical-align: top; }}
table.scorecard thead th {{ border-bottom: 2px solid #444; text-align: left; }}
table.scorecard small {{ color: #555; font-weight: normal; }}
td strong {{ color: #000; }} sup {{ color: #a33; }}
.wide {{ overflow-x: auto; }} img {{ max-width: 100%; border: 1px solid #ddd; }}
ul.notes {{ font-size: 12px; color: #444; }}
</style></head><body>
<h1>{e(title)}</h1>
{''.join(f'<p>{e(s)}</p>' for s in lines)}
<h2>Scorecard</h2>
<div class="wide">{scorecard_table}</div>
<p>Download: {downloads}</p>
{figs}
</body></html>
"""
    path = folder / "index.html"
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
