"""The disentanglement scores of one open model as a session task, kept in the evaluations store."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from explorer.core.session.evaluations import Evaluation
from explorer.core.session.state import Task

__all__ = ["FAMILY", "disentanglement_settings", "disentanglement_evaluation", "disentanglement_task",
           "factor_names_of", "carrier_traversal_codes",
           "disentanglement_table", "export_disentanglement", "SCORE_ROWS"]

#: The evaluations-store family of these scores.
FAMILY = "disentanglement"


def disentanglement_settings(name="fast", n: int | None = None):
    """`DisentanglementSettings` by name, optionally with ``n`` training points instead of the named number.

    Parameters
    ----------
    name : {"fast", "reference"} or DisentanglementSettings
    n : int, optional
        Training points N of MIG, SAP, DCI, modularity and explicitness (≥ 20); the test
        points become ``N // 2`` and DCI's subsets are capped at them. Settings with another
        N than the named one are called "custom" (the reference is 10,000 / 5,000 points).

    Returns
    -------
    explorer.core.disentanglement.DisentanglementSettings

    Raises
    ------
    ValueError
        An unknown name or ``n`` below 20.
    """
    from explorer.core.disentanglement import DisentanglementSettings

    base = name if isinstance(name, DisentanglementSettings) else DisentanglementSettings.named(str(name))
    if n is None or int(n) == base.n_train:
        return base
    n = int(n)
    if n < 20:
        raise ValueError(f"disentanglement needs at least 20 training points, got N = {n}")
    n_test = max(10, n // 2)
    return replace(base, name="custom", n_train=n, n_test=n_test,
                   dci_train=min(base.dci_train or n, n), dci_test=min(base.dci_test or n_test, n_test))


def disentanglement_evaluation(result) -> Evaluation:
    """The store's `Evaluation` of a `DisentanglementResult`.

    Parameters
    ----------
    result : explorer.core.disentanglement.DisentanglementResult

    Returns
    -------
    Evaluation
        Family ``"disentanglement"``; ``record`` is the result's record (what ``latent-explorer
        evaluate --metrics disentanglement`` writes) plus ``"factor_names"`` (K) and
        ``"carriers"`` (factor name -> the latent dimension with the largest mutual
        information); ``matrices`` ``{"mi": (K, d) nats, "dci_importance": (d, K),
        "sap_accuracy": (K, d)}`` float64.
    """
    record = {**result.record, "factor_names": list(result.factor_names),
              "carriers": dict(zip(result.factor_names, (int(c) for c in result.carriers), strict=True))}
    matrices = {"mi": result.mutual_information, "dci_importance": result.dci_importance,
                "sap_accuracy": result.sap_accuracy}
    return Evaluation(FAMILY, record, matrices=matrices)


def factor_names_of(evaluation: Evaluation) -> list[str]:
    """The K factor names of a disentanglement evaluation, in the MI matrix's row order."""
    names = evaluation.record.get("factor_names")
    if names:
        return [str(n) for n in names]
    k = evaluation.matrices["mi"].shape[0] if "mi" in evaluation.matrices else 0
    return [f"factor_{i}" for i in range(k)]


def disentanglement_task(session, key: str | None = None, settings="fast", seed: int = 0,
                         n: int | None = None) -> Task:
    """A task computing every disentanglement score of model ``key`` on the open dataset's factors.

    Snapshots the model and dataset, runs the one orchestration
    `explorer.core.disentanglement.evaluate_disentanglement` (β-VAE and FactorVAE scores, MIG,
    SAP, DCI, modularity, explicitness; disentanglement_lib's definitions) and keeps its
    :func:`disentanglement_evaluation` in the session's evaluations store
    (``session.evaluation(key, "disentanglement")``).

    Parameters
    ----------
    session : Session
    key : str, optional
        An open, loaded model (default: the active one).
    settings : {"fast", "reference"} or DisentanglementSettings
    seed : int
        Same model, dataset, settings and seed give the same numbers.
    n : int, optional
        Training points N (:func:`disentanglement_settings`).

    Returns
    -------
    Task
        Family ``"evaluate"``, kind ``"evaluate:disentanglement:KEY"`` (a new one cancels the old).

    Raises
    ------
    ValueError
        One sentence: no dataset, a dataset without ground-truth factors, no loaded model, bad settings.
    """
    from explorer.core.disentanglement import evaluate_disentanglement

    key = session.active_key if key is None else key
    m = session.state(key)
    if m is None or m.model is None:
        raise ValueError("disentanglement needs a loaded model; open one first")
    dataset = session.dataset
    if dataset is None:
        raise ValueError("disentanglement needs a dataset with ground-truth factors; open one first")
    if dataset.factors is None:
        raise ValueError(f"dataset '{dataset.name}' has no ground-truth factors (an .npz with 'factors', "
                         "the dSprites archive or --data dsprites); disentanglement scores need them")
    s = disentanglement_settings(settings, n)
    model, seed = m.model, int(seed)

    def run(ctx):
        return disentanglement_evaluation(evaluate_disentanglement(model, dataset, s, seed, ctx))

    return session.evaluation_task(key, FAMILY, run, f"Disentanglement of {m.name} ({s.name}, N = {s.n_train:,})",
                                   detail=f"{s.name} settings, N = {s.n_train:,} / {s.n_test:,}, seed {seed}")


def carrier_traversal_codes(z, carriers, n_cols: int = 9, span: float = 3.0) -> np.ndarray:
    """Codes of one traversal row per factor along its carrying latent dimension.

    Row ``k`` sets dimension ``carriers[k]`` of ``z`` to ``n_cols`` evenly spaced values in
    ``[-span, span]`` (latent units, the prior's standard deviations), the other dimensions
    kept (as `explorer.core.latent.traversal.traversal_codes` does for one dimension).

    Parameters
    ----------
    z : array_like, shape (d,)
    carriers : sequence of int
        K latent dimensions, each in ``0..d-1``.
    n_cols : int
    span : float

    Returns
    -------
    numpy.ndarray, shape (K, n_cols, d), float32
    """
    from explorer.core.latent.traversal import prior_range, traversal_codes

    z = np.asarray(z, np.float32).ravel()
    if not len(carriers):
        return np.zeros((0, int(n_cols), len(z)), np.float32)
    grid = traversal_codes(z, list(carriers), prior_range(len(z), float(span)), int(n_cols))
    return np.asarray(grid, np.float32)


#: The table's rows: (title, path into the record, which points it used).
SCORE_ROWS = (("β-VAE score", ("beta_vae",), "beta_vae"), ("FactorVAE score", ("factor_vae",), "factor_vae"),
              ("MIG", ("mig",), "points"), ("SAP", ("sap",), "points"),
              ("DCI disentanglement", ("dci", "disentanglement"), "dci"),
              ("DCI completeness", ("dci", "completeness"), "dci"),
              ("DCI informativeness", ("dci", "informativeness"), "dci"),
              ("modularity", ("modularity",), "train"), ("explicitness", ("explicitness",), "points"))


def _points_text(record: dict, which: str) -> str:
    s = record.get("settings") or {}
    n_train, n_test = int(record.get("n_train") or 0), int(record.get("n_test") or 0)
    if which in ("beta_vae", "factor_vae"):
        return (f"{int(s.get(which + '_train') or 0):,} / {int(s.get(which + '_test') or 0):,} votes of "
                f"{int(s.get('batch_size') or 0)} images")
    if which == "dci":
        a, b = s.get("dci_train"), s.get("dci_test")
        return f"{min(int(a), n_train) if a else n_train:,} / {min(int(b), n_test) if b else n_test:,}"
    if which == "train":
        return f"{n_train:,}"
    return f"{n_train:,} / {n_test:,}"


def disentanglement_table(evaluation: Evaluation) -> list[dict]:
    """The panel's scores table: one row per score.

    Returns
    -------
    list of dict
        ``{"metric", "value" (float in [0, 1], unitless, or None: not computed), "settings"
        (name and DCI classifier), "n" (training / test points, or votes of a batch for the
        β-VAE and FactorVAE scores), "sklearn_version", "representation"}``.
    """
    rec = evaluation.record
    s = rec.get("settings") or {}
    rows = []
    for title, path, which in SCORE_ROWS:
        v = rec
        for p in path:
            v = v.get(p) if isinstance(v, dict) else None
        how = f"{s.get('name', '?')}" + (f", DCI {s.get('dci_classifier')}" if which == "dci" else "")
        rows.append({"metric": title, "value": None if v is None else float(v), "settings": how,
                     "n": _points_text(rec, which), "sklearn_version": rec.get("sklearn_version", ""),
                     "representation": s.get("representation", "")})
    return rows


def export_disentanglement(evaluation: Evaluation, path) -> str:
    """Write a disentanglement evaluation by the file's suffix: .csv (the scores table) or .json (all of it).

    The JSON holds the record (``evaluate --metrics disentanglement``'s keys, the factor
    names and carriers) and the matrices (``"mi"`` K × d in nats, ``"dci_importance"``
    d × K, ``"sap_accuracy"`` K × d). The write is atomic.

    Raises
    ------
    ValueError
        Another suffix.
    OSError
        The file cannot be written (nothing partial is left).
    """
    import csv
    import io
    import os

    from explorer.core.export import atomic_path, write_json

    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext == ".json":
        d = evaluation.to_dict()
        write_json(path, {**d["record"], "factor_names": factor_names_of(evaluation),
                          "mutual_information_nats": d["matrices"].get("mi"),
                          "dci_importance": d["matrices"].get("dci_importance"),
                          "sap_accuracy": d["matrices"].get("sap_accuracy"),
                          "dataset_identity": evaluation.dataset_id})
    elif ext == ".csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, ["metric", "value", "settings", "n", "sklearn_version", "representation"],
                           lineterminator="\n")
        w.writeheader()
        for row in disentanglement_table(evaluation):
            w.writerow({**row, "value": "" if row["value"] is None else repr(row["value"])})
        with atomic_path(path) as tmp:
            tmp.write_text(buf.getvalue(), encoding="utf-8")
    else:
        raise ValueError(f"cannot write the disentanglement scores to '{path}': use .csv or .json")
    return path
