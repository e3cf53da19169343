"""The scorecard: one row per model, one column per measurement, best marked, paired bootstrap against the best.

Built from the per-model records of `explorer.core.compare.run.compare_models` (the layout of
`explorer.core.evaluate.evaluate_models`, so the numbers are those of ``evaluate`` on the same
images) and, for the significance marks, from the per-image data the comparison kept. The
columns come from the registry in `explorer.core.compare.columns`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from explorer.core.compare.bootstrap import (
    CLUSTERING_SCORES,
    DEFAULT_RESAMPLES,
    bootstrap_clustering,
    bootstrap_means,
    paired_difference,
    resample_indices,
)
from explorer.core.compare.columns import Column, scorecard_columns

__all__ = ["Cell", "Scorecard", "paired_data", "build_scorecard", "scorecard_of"]


@dataclass
class Cell:
    """One model's entry in one column.

    Attributes
    ----------
    value : float, int, str or None
        None: the model has no such number (e.g. no likelihood for a GAN).
    ci95 : (float, float) or None
        The record's 95 % interval of the value.
    best : bool
        The best value of the column (ties: every model that has it).
    not_significant : bool or None
        True: the paired bootstrap's 95 % interval of (value − best) contains 0; False: it
        does not; None: not tested (the best itself, a descriptive column, no per-image data).
    diff_ci95 : (float, float) or None
        That interval, in the column's units.
    """

    value: Any
    ci95: tuple[float, float] | None = None
    best: bool = False
    not_significant: bool | None = None
    diff_ci95: tuple[float, float] | None = None

    def to_dict(self) -> dict:
        """JSON-ready (NaN → None)."""
        def f(v):
            return None if isinstance(v, float) and not math.isfinite(v) else v
        return {"value": f(self.value), "ci95": None if self.ci95 is None else [f(v) for v in self.ci95],
                "best": self.best, "not_significant": self.not_significant,
                "diff_ci95": None if self.diff_ci95 is None else [f(v) for v in self.diff_ci95]}


@dataclass
class Scorecard:
    """The table: `columns` × one row per model.

    Attributes
    ----------
    names : list of str
        Row labels (model file names; a model whose codes are inverted says so).
    columns : list of Column
    cells : list of list of Cell
        ``cells[row][column]``.
    n_images : int
        N, the images every model was measured on (the scorecard's own families).
    notes : list of str
        What the reader must know: same images and N, inverted codes, the bootstrap.
    bootstrap : dict
        ``{"n_resamples", "seed", "interval": "percentile 95 %", "what": ...}``.
    """

    names: list[str]
    columns: list[Column]
    cells: list[list[Cell]]
    n_images: int
    notes: list[str] = field(default_factory=list)
    bootstrap: dict = field(default_factory=dict)

    def column(self, key: str) -> int:
        """Position of the column ``key``.

        Raises
        ------
        KeyError
            No such column.
        """
        for i, c in enumerate(self.columns):
            if c.key == key:
                return i
        raise KeyError(key)

    def cell(self, row: int, key: str) -> Cell:
        """The cell of model ``row`` in column ``key``."""
        return self.cells[row][self.column(key)]

    def to_dict(self) -> dict:
        """``{"columns": [{key, family, name, detail, header, direction}], "rows": [{"model", "cells": {key:
        Cell.to_dict()}}], "n_images", "notes", "bootstrap"}``."""
        return {
            "columns": [{"key": c.key, "family": c.family, "name": c.name, "detail": c.detail, "header": c.header,
                         "direction": c.direction, "paired_test": c.paired is not None} for c in self.columns],
            "rows": [{"model": name,
                      "cells": {c.key: cell.to_dict() for c, cell in zip(self.columns, row, strict=True)}}
                     for name, row in zip(self.names, self.cells, strict=True)],
            "n_images": self.n_images,
            "notes": list(self.notes),
            "bootstrap": dict(self.bootstrap),
        }


def paired_data(comparison) -> list[dict[str, np.ndarray]]:
    """Per-image data of each model of a comparison, by the names `Column.paired` uses.

    Returns
    -------
    list of dict
        Per model: ``"images:psnr:<precision>"``, ``"images:ssim:<precision>"`` (N,) float64 per
        image, ``"images:silhouette"`` (S,), ``"clustering:labels"`` (N,) cluster of each image and
        ``"clustering:true"`` (N,) its class, where computed.
    """
    out = []
    for run in comparison.runs:
        d: dict[str, np.ndarray] = {}
        for rep in run.reports:
            d[f"images:psnr:{rep.precision}"] = np.asarray(rep.psnr, dtype=np.float64)
            d[f"images:ssim:{rep.precision}"] = np.asarray(rep.ssim, dtype=np.float64)
        if run.silhouette is not None:
            d["images:silhouette"] = np.asarray(run.silhouette, dtype=np.float64)
        if run.cluster_labels is not None and comparison.labels is not None:
            d["clustering:labels"] = np.asarray(run.cluster_labels)
            d["clustering:true"] = np.asarray(comparison.labels)
        out.append(d)
    return out


def _number(v) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _best_rows(values: Sequence[Any], direction: str | None) -> list[int]:
    nums = [_number(v) for v in values]
    finite = [v for v in nums if v is not None]
    if direction not in ("higher", "lower") or len(finite) < 2:  # a lone value is not "best" of anything
        return []
    best = max(finite) if direction == "higher" else min(finite)
    return [i for i, v in enumerate(nums) if v is not None and v == best]


def build_scorecard(records: Sequence[dict], paired: Sequence[dict] | None = None, *,
                    n_images: int = 0, names: Sequence[str] | None = None,
                    n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                    notes: Sequence[str] = ()) -> Scorecard:
    """The scorecard of per-model records, with a paired bootstrap against each column's best.

    Parameters
    ----------
    records : sequence of dict
        Per-model records (``evaluate``'s layout).
    paired : sequence of dict, optional
        Per-model per-image data (`paired_data`) on the same images in the same order; without
        it no difference is tested.
    n_images : int
        N of the scorecard's own measurements (for the notes).
    names : sequence of str, optional
        Row labels (default the records' ``name`` or ``checkpoint``).
    n_resamples : int
        Bootstrap resamples B (≥ 1,000 for the report).
    seed : int
        Seed of the resamples; the same resamples serve every model and column (paired).
    notes : sequence of str
        Sentences added before the scorecard's own.

    Returns
    -------
    Scorecard
        A model's difference from the best is tested when the column names per-image data and
        both models have it: per-image values are resampled and averaged (PSNR, SSIM,
        silhouette s(i)); clustering scores are recomputed from each resample's (class,
        cluster) pairs, the k-means assignment kept. "Not significant": the 2.5–97.5th
        percentile interval of the resampled differences contains 0.

    Raises
    ------
    ValueError
        ``paired`` does not have one entry per record.
    """
    columns = scorecard_columns(records)
    if paired is not None and len(paired) != len(records):
        raise ValueError(f"{len(paired)} paired data sets for {len(records)} models")
    names = list(names) if names is not None else [str(r.get("name") or r.get("checkpoint")) for r in records]
    cells = [[Cell(c.get(r), c.ci(r) if c.ci is not None else None) for c in columns] for r in records]
    resamples: dict[int, np.ndarray] = {}

    def draws(n: int) -> np.ndarray:
        if n not in resamples:
            resamples[n] = resample_indices(n, n_resamples, seed)
        return resamples[n]

    cluster_cache: dict[int, dict[str, np.ndarray]] = {}
    mean_cache: dict[tuple[int, str], np.ndarray | None] = {}

    def resampled(row: int, name: str) -> np.ndarray | None:
        d = paired[row] if paired is not None else {}
        if name.startswith("images:"):
            if (row, name) not in mean_cache:
                v = d.get(name)
                mean_cache[row, name] = None if v is None or not len(v) else bootstrap_means(v[None], draws(len(v)))[0]
            return mean_cache[row, name]
        if name.startswith("clustering:"):
            if "clustering:labels" not in d:
                return None
            if row not in cluster_cache:
                cluster_cache[row] = {k: v[0] for k, v in bootstrap_clustering(
                    d["clustering:true"], d["clustering:labels"][None], draws(len(d["clustering:labels"])),
                    CLUSTERING_SCORES).items()}
            return cluster_cache[row].get(name.split(":", 1)[1])
        return None

    for j, col in enumerate(columns):
        best = _best_rows([row[j].value for row in cells], col.direction)
        for i in best:
            cells[i][j].best = True
        if not best or col.paired is None or paired is None:
            continue
        ref = resampled(best[0], col.paired)
        if ref is None:
            continue
        for i, row in enumerate(cells):
            if i in best or _number(row[j].value) is None:
                continue
            mine = resampled(i, col.paired)
            if mine is None or len(mine) != len(ref):
                continue
            diff = paired_difference(mine, ref)
            row[j].diff_ci95 = diff.ci95
            row[j].not_significant = not diff.significant
    own = []
    if n_images:
        own.append(f"Every model is measured on the same {n_images:,} dataset images (same N, same seeded sample); "
                   f"a GAN without encoder through the inverted codes of those images.")
    families = [name for f, name in (("likelihood", "likelihood"), ("sample_quality", "sample quality"),
                                     ("disentanglement", "disentanglement"), ("human", "human test"))
                if any(isinstance(r.get(f), dict) for r in records)]
    if families and n_images:
        own.append(f"The {', '.join(families)} columns are each model's own evaluation at the N "
                   "and settings their headers state, not measured on the scorecard's images; a column whose "
                   "models differ in them marks no best.")
    own.append("Bold: best value per column (higher or lower is better, as the column says).")
    if paired is not None:
        own.append(f"n.s.: the difference from the column's best is not significant — the 95 % percentile interval "
                   f"of a paired bootstrap over the same images ({n_resamples:,} resamples, seed {seed}) contains 0. "
                   f"PSNR, SSIM and silhouette resample per-image values; clustering scores are recomputed on each "
                   f"resample of the images with the k-means assignment kept.")
    return Scorecard(names, columns, cells, int(n_images), list(notes) + own,
                     {"n_resamples": int(n_resamples), "seed": int(seed), "interval": "percentile 95 %",
                      "tested": paired is not None})


def scorecard_of(comparison, n_resamples: int = DEFAULT_RESAMPLES, seed: int | None = None,
                 extra: Sequence[dict] | None = None) -> Scorecard:
    """`build_scorecard` of a `explorer.core.compare.run.Comparison` (rows say *inverted* for inverted codes).

    ``seed`` defaults to the comparison's seed. ``extra``: per model, record families measured
    elsewhere (e.g. the likelihood a model's panel estimated, ``{"likelihood": record}``), added
    where the comparison's own record has no such family.
    """
    names = [r.name + (" (inverted)" if r.source == "inverted" else "") for r in comparison.runs]
    records = [r.record for r in comparison.runs]
    if extra is not None:
        if len(extra) != len(records):
            raise ValueError(f"{len(extra)} sets of extra records for {len(records)} models")
        records = [{**x, **r} for x, r in zip(extra, records, strict=True)]
    return build_scorecard(records, paired_data(comparison),
                           n_images=comparison.n_images, names=names, n_resamples=n_resamples,
                           seed=comparison.settings["seed"] if seed is None else seed, notes=comparison.notes)
