"""The Sample-quality panel's metrics table (CSV/JSON) and its grids as figures (PNG/SVG/PDF), without Qt."""

from __future__ import annotations

import numpy as np

__all__ = ["METRICS", "COMPARE_NOTE", "TABLE_COLUMNS", "table_rows", "export_table", "space_words",
           "samples_figure", "memorisation_figure"]

#: The table's metrics: record key, spread key (None: no spread), name, units and direction, display factor.
METRICS = (
    ("fid", None, "FID", "Fréchet distance of the features (lower is better)", 1.0),
    ("kid", "kid_std", "KID × 10³", "unbiased MMD², cubic kernel, × 10³ as papers print it; ± std over subsets "
                                    "(lower is better)", 1e3),
    ("is", "is_std", "IS", "Inception Score from the extractor's logits, 10 splits, ± std (higher is better)", 1.0),
    ("precision", None, "precision", "Kynkäänniemi et al. 2019, k = 3, fraction 0–1 (higher is better)", 1.0),
    ("recall", None, "recall", "Kynkäänniemi et al. 2019, k = 3, fraction 0–1 (higher is better)", 1.0),
    ("density", None, "density", "Naeem et al. 2020, k = 5, about 1 for real-like samples", 1.0),
    ("coverage", None, "coverage", "Naeem et al. 2020, k = 5, fraction 0–1 (higher is better)", 1.0),
)
#: What every table says about comparing its numbers.
COMPARE_NOTE = ("compare models only at equal N and the same real set (and extractor): FID and KID fall as N grows; "
                "the real-vs-real floor is what two real image sets of that N score")
TABLE_COLUMNS = ("metric", "value", "spread", "extractor", "n_samples", "real_set", "floor", "floor_spread",
                 "reconstructions", "units")


def _scaled(rec: dict | None, key: str | None, factor: float):
    if rec is None or key is None or rec.get(key) is None:
        return None
    return float(rec[key]) * factor


def table_rows(record: dict, human: dict | None = None) -> list[dict]:
    """The metrics table of a ``"sample_quality"`` record: one row per metric, with the floor beside it.

    Parameters
    ----------
    record : dict
        A ``"sample_quality"`` evaluation's record (`evaluation_of`).
    human : dict, optional
        A ``"human"`` evaluation's record: adds the row ``human error rate`` (fraction, spread
        the Wilson 95 % interval as ``[low, high]``; its floor is 0.5, where people cannot tell).

    Returns
    -------
    list of dict
        Keys :data:`TABLE_COLUMNS`: ``value`` and ``spread`` as displayed (KID × 10³),
        ``floor`` / ``floor_spread`` the real-vs-real floor's, ``reconstructions`` the value of
        ``decode(encode(x))`` vs the originals (None without them), ``units`` what the number is.
        Metrics the record does not have (IS without logits) have ``value`` None.
    """
    floor, recon = record.get("floor"), record.get("reconstructions")
    common = {"extractor": record.get("extractor"), "n_samples": record.get("n_samples"),
              "real_set": record.get("real_set")}
    rows = []
    for key, spread, name, units, factor in METRICS:
        rows.append({"metric": name, "value": _scaled(record, key, factor), "spread": _scaled(record, spread, factor),
                     **common, "floor": _scaled(floor, key, factor), "floor_spread": _scaled(floor, spread, factor),
                     "reconstructions": _scaled(recon, key, factor), "units": units})
    if human:
        rows.append({"metric": "human error rate", "value": human.get("error_rate"), "spread": human.get("ci95"),
                     "extractor": "people", "n_samples": human.get("n"), "real_set": human.get("real_set"),
                     "floor": 0.5, "floor_spread": None, "reconstructions": None,
                     "units": "fraction of real/fake answers that were wrong, Wilson 95 % interval; 0.5: people "
                              "cannot tell real from generated (HYPE∞-style)"})
    return rows


def export_table(path, record: dict, human: dict | None = None) -> str:
    """Write the metrics table by the file's suffix: ``.csv`` (`table_rows`) or ``.json`` (the records and the rows).

    The write is atomic (nothing partial is left). The JSON holds ``"sample_quality"`` (the
    whole record, memorisation included), ``"human"`` (or None), ``"table"`` and ``"note"``
    (:data:`COMPARE_NOTE`); the CSV one row per metric, a ``# note`` line first.

    Raises
    ------
    ValueError
        Another suffix.
    OSError
        The file cannot be written.
    """
    import csv
    import io
    import os

    from explorer.core.export import atomic_path, write_json

    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    rows = table_rows(record, human)
    if ext == ".json":
        write_json(path, {"sample_quality": record, "human": human, "table": rows, "note": COMPARE_NOTE})
    elif ext == ".csv":
        buf = io.StringIO()
        buf.write(f"# {COMPARE_NOTE}\n")
        w = csv.DictWriter(buf, fieldnames=TABLE_COLUMNS, lineterminator="\n")
        w.writeheader()
        for r in rows:
            spread = r["spread"]
            w.writerow({**r, "spread": "" if spread is None else (
                " – ".join(f"{v:.6g}" for v in spread) if isinstance(spread, list) else repr(spread))})
        with atomic_path(path) as tmp:
            tmp.write_text(buf.getvalue(), encoding="utf-8")
    else:
        raise ValueError(f"cannot write the sample-quality table to '{path}': use .csv or .json")
    return path


def space_words(record: dict, space: str) -> str:
    """How distances are measured in ``space`` ("pixel" or "feature"), from a record's memorisation facts."""
    mem = record.get("memorisation") or {}
    default = "L2 over pixel values in [0, 1]" if space == "pixel" else "L2 in the extractor's features"
    return str(mem.get(f"{space}_space", default))


def samples_figure(path, images, ncols: int = 12) -> str:
    """Save the samples grid as PNG, SVG or PDF (`explorer.core.figures.save_grid_figure`, atomic).

    Parameters
    ----------
    path : str or os.PathLike
        ``.png``, ``.svg`` or ``.pdf``.
    images : SampleQualityImages
    ncols : int
        Images per row; a last, short row is filled with blank cells.
    """
    from explorer.core.figures import save_grid_figure

    x = images.samples
    rows = -(-len(x) // ncols)
    cells = np.ones((rows * ncols, *x.shape[1:]), np.float32)
    cells[:len(x)] = x
    rec = images.evaluation.record if images.evaluation is not None else {}
    seed = (rec.get("settings") or {}).get("seed")
    title = (f"decode(z), z ~ p(z): the first {len(x)} of N = {rec.get('n_samples', len(x)):,} samples"
             + ("" if seed is None else f" (seed {seed})"))
    return str(save_grid_figure(path, cells.reshape(rows, ncols, *x.shape[1:]), title=title, scale=2))


def memorisation_figure(path, images, space: str = "pixel") -> str:
    """Save the memorisation grid of ``space`` (sample | three nearest training images, distances) as PNG/SVG/PDF.

    Parameters
    ----------
    path : str or os.PathLike
        ``.png``, ``.svg`` or ``.pdf`` (written atomically).
    images : SampleQualityImages
        With ``memorisation[space]`` brought back (`sample_quality_images`).
    space : {"pixel", "feature"}

    Returns
    -------
    str
        The path written.

    Raises
    ------
    ValueError
        There is no memorisation grid of ``space`` (no train split, or the images are not back yet).
    """
    from explorer.core.figures import save_grid_figure

    rows = images.memorisation.get(space)
    if rows is None or rows.neighbours is None:
        raise ValueError(f"there is no {space}-space memorisation grid to export")
    cells = np.concatenate([rows.samples[:, None], rows.neighbours], axis=1)
    k = rows.neighbours.shape[1]
    labels = [f"sample {int(i)}: d = " + ", ".join(f"{d:.3g}" for d in ds)
              for i, ds in zip(rows.sample_indices, rows.distances, strict=True)]
    cols = ["sample", *[("1st", "2nd", "3rd")[j] if j < 3 else f"{j + 1}th" for j in range(k)]]
    rec = images.evaluation.record if images.evaluation is not None else {}
    title = f"Nearest training images, {space} space ({space_words(rec, space)})"
    return str(save_grid_figure(path, cells, row_labels=labels, col_labels=cols, title=title, scale=3))
