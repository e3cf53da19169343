"""The Likelihood panel's session side: a task estimating −log p(x) of a model, kept as its "likelihood" evaluation."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from explorer.core.session.evaluations import Evaluation
from explorer.core.session.state import Task

__all__ = ["FAMILY", "CURVE_COLUMNS", "estimator_availability", "least_likely", "likelihood_evaluation",
           "likelihood_family", "likelihood_task", "per_image_csv", "per_image_unit", "second_families",
           "summary_lines", "write_per_image_csv"]

#: The evaluations-store family of the likelihood on the session's own dataset (what "nll" colours by).
FAMILY = "likelihood"

#: Columns of the ``"iwae_curve"`` matrix: k, mean −L_k (nats), its 95 % interval (nats).
CURVE_COLUMNS = ("k", "nll_nats", "ci95_lo", "ci95_hi")


def likelihood_family(dataset_name: str | None = None) -> str:
    """The family of a likelihood evaluation: ``"likelihood"``, or ``"likelihood:<name>"`` for a second dataset.

    ``dataset_name`` is made to fit the family pattern (characters other than letters, digits,
    ``_ . -`` become ``_``; at most 80 characters).
    """
    if not dataset_name:
        return FAMILY
    name = re.sub(r"[^A-Za-z0-9_.\-]", "_", str(dataset_name))[:80] or "data"
    return f"{FAMILY}:{name}"


def second_families(session, key: str | None = None) -> list[str]:
    """The families of model ``key``'s (default: active) likelihoods on second datasets, sorted."""
    return sorted(f for f in session.evaluations_of(key) if f.startswith(FAMILY + ":"))


def estimator_availability(model, name: str = "the model") -> dict:
    """Which estimators ``model`` supports: ``{"iwae" | "ais" | "kde": None (works) or one sentence why not}``.

    IWAE/ELBO needs ``posterior`` and ``log_px_given_z`` (`explorer.core.likelihood.iwae_unavailable`);
    AIS needs ``decode``; a Parzen window needs ``decode`` and ``sample_prior``.
    """
    from explorer.core.likelihood import iwae_unavailable

    has_decode = callable(getattr(model, "decode", None))
    has_prior = callable(getattr(model, "sample_prior", None))
    return {
        "iwae": iwae_unavailable(model, name),
        "ais": None if has_decode else f"{name} has no decode(z), which AIS needs.",
        "kde": None if has_decode and has_prior else
        f"{name} needs decode(z) and sample_prior(n) for a Parzen window on its samples.",
    }


def likelihood_evaluation(result, family: str = FAMILY, dataset=None, dataset_id: str | None = None) -> Evaluation:
    """The :class:`Evaluation` of a `LikelihoodResult` (`explorer.core.likelihood.estimate_likelihood`).

    Parameters
    ----------
    result : explorer.core.likelihood.LikelihoodResult
    family : str
        ``"likelihood"`` or ``"likelihood:<dataset>"``.
    dataset : explorer.data.Dataset, optional
        The images measured (its name, split and N go into ``record["dataset"]``).
    dataset_id : str, optional
        Its identity (None: the session's dataset, filled in by the task).

    Returns
    -------
    Evaluation
        ``record``: ``result.record`` (what ``evaluate --metrics likelihood`` writes) plus
        ``settings`` (`LikelihoodSettings.to_dict`), ``notes``, ``wall_time_s`` and ``dataset``;
        ``indices`` ``(N,)`` int64; ``values`` ``(N,)`` float64 ``"nll_nats"``,
        ``"bits_per_dim"`` (when defined), ``"elbo_nats"`` (IWAE; −ELBO per image, nats);
        ``matrices``: ``"iwae_curve"`` ``(len(k), 4)`` rows (k, mean −L_k in nats, 95 % interval
        low, high) for IWAE, ``"bdmc"`` ``(S, 2)`` rows (forward, reverse AIS log p in nats) for AIS.
    """
    record = dict(result.record)
    if result.settings is not None:
        record["settings"] = result.settings.to_dict()
    record["notes"] = list(result.notes)
    record["wall_time_s"] = round(float(result.seconds), 3)
    if dataset is not None:
        record["dataset"] = {"name": dataset.name, "split": dataset.split, "n_total": len(dataset)}
    values = {"nll_nats": result.nll_nats}
    if result.bits_per_dim is not None:
        values["bits_per_dim"] = result.bits_per_dim
    if result.elbo_nats is not None:
        values["elbo_nats"] = result.elbo_nats
    matrices = {}
    if len(result.curve_k):
        matrices["iwae_curve"] = np.array([[row["k"], row["nll_nats"], *row["nll_nats_ci95"]]
                                           for row in result.curve()], np.float64)
    if result.bdmc_lower_nats is not None and result.bdmc_upper_nats is not None:
        matrices["bdmc"] = np.stack([np.asarray(result.bdmc_lower_nats, np.float64),
                                     np.asarray(result.bdmc_upper_nats, np.float64)], axis=1)
    return Evaluation(family, record, dataset_id=dataset_id, indices=result.indices, values=values,
                      matrices=matrices)


def likelihood_task(session, key: str, settings=None, dataset=None, family: str = FAMILY, *, split: str = "test",
                    limit: int | None = None) -> Task:
    """A task estimating −log p(x) of model ``key`` (`explorer.core.likelihood.estimate_likelihood`) and keeping it.

    The one orchestration the Likelihood panel runs; ``latent-explorer evaluate --metrics
    likelihood`` calls the same ``estimate_likelihood``.

    Parameters
    ----------
    session : explorer.core.session.Session
    key : str
        An open, loaded model.
    settings : explorer.core.likelihood.LikelihoodSettings, optional
        Estimator, k / T / chains / σ, N images (a seeded subset), binarisation, seed.
    dataset : explorer.data.Dataset or str or path-like, optional
        None: the session's dataset. Otherwise a second dataset — a loaded ``Dataset``, or a
        name (``"digits"``, ``"fashion-mnist"``, ``"dsprites"``) or path loaded inside the task
        with the session's resize filter (`explorer.data.load_dataset`) — whose evaluation is
        kept under ``"likelihood:<its name>"`` with its own ``dataset_id``, so that its
        histogram can overlay the first.
    family : str
        ``"likelihood"`` (default; for a second dataset it becomes ``likelihood_family(name)``).
    split, limit : optional
        For a second dataset given by name or path: the split and seeded subsample read.

    Returns
    -------
    Task
        From ``session.evaluation_task``; its result is the :class:`Evaluation` of
        `likelihood_evaluation`.

    Raises
    ------
    KeyError
        No open model ``key``.
    explorer.core.likelihood.LikelihoodError
        At once, one sentence: the model is still loading, there is no dataset, or IWAE was
        asked of a model without an inference network (a GAN: the sentence points to AIS).
        Later errors (non-finite output …) fail the task with one sentence.
    """
    from explorer.core.likelihood import LikelihoodError, LikelihoodSettings

    m = session.state(key)
    if m is None:
        raise KeyError(f"no open model {key!r}")
    if m.entry is None:
        raise LikelihoodError(f"{m.name} is not loaded yet; estimate its likelihood once it has opened.")
    s = settings or LikelihoodSettings()
    model, name = m.entry.model, m.name
    why = estimator_availability(model, name)[s.estimator]
    if why:
        raise LikelihoodError(why)
    resize = session.dataset_spec.resize if session.dataset_spec is not None else None
    if dataset is None:
        if session.dataset is None:
            raise LikelihoodError("open a dataset first: the likelihood is estimated on its images.")
        data, data_name = session.dataset, None
    elif isinstance(dataset, (str, Path)):
        p = Path(str(dataset))
        data, data_name = None, (p.stem if p.suffix else p.name) or str(dataset)
    else:
        data, data_name = dataset, dataset.name
    if data_name is not None and family == FAMILY:
        family = likelihood_family(data_name)
    where = "" if data_name is None else f" on {data_name}"
    label = f"Likelihood ({s.estimator.upper()}) of {name}{where}"

    def run(ctx):
        from explorer.core.likelihood import estimate_likelihood

        ds, ds_id = data, None
        if ds is None:
            from explorer.core.workspace import dataset_identity
            from explorer.data import load_dataset

            if ctx is not None:
                ctx.progress(0.0, f"reading {data_name}")
            ds = load_dataset(dataset, split=split, limit=limit, resize=resize)
            ds_id = dataset_identity(ds)
        elif data_name is not None:
            from explorer.core.workspace import dataset_identity

            ds_id = dataset_identity(ds)
        res = estimate_likelihood(model, ds, s, ctx, name=name)
        return likelihood_evaluation(res, family, ds, ds_id)

    return session.evaluation_task(key, family, run, label, detail=f"{s.estimator.upper()}, N = {s.images:,}")


def per_image_unit(evaluation: Evaluation) -> tuple[str, str]:
    """The per-image series a histogram or grid shows: ``("bits_per_dim", "bits/dim")``, else nats."""
    if "bits_per_dim" in evaluation.values and np.isfinite(evaluation.values["bits_per_dim"]).any():
        return "bits_per_dim", "bits/dim"
    return "nll_nats", "nats"


def least_likely(evaluation: Evaluation, n: int = 16) -> tuple[np.ndarray, np.ndarray, str]:
    """The ``n`` images with the highest −log p(x): out-of-distribution and label-noise candidates.

    Returns
    -------
    indices : numpy.ndarray, shape (m,), int64
        Dataset indices, least likely first (m = min(n, finite values)); ties by index.
    values : numpy.ndarray, shape (m,), float64
        Their −log p(x) in ``unit``.
    unit : str
        ``"bits/dim"`` or ``"nats"`` (`per_image_unit`).
    """
    name, unit = per_image_unit(evaluation)
    v = evaluation.values[name]
    ok = np.flatnonzero(np.isfinite(v))
    order = ok[np.lexsort((evaluation.indices[ok], -v[ok]))][: max(0, int(n))]
    return evaluation.indices[order], v[order], unit


def per_image_csv(evaluation: Evaluation) -> str:
    """The per-image values as CSV text: ``index`` then each series (nats or bits/dim), one row per image.

    The header names the units: ``nll_nats`` and ``elbo_nats`` (−ELBO) are nats per image,
    ``bits_per_dim`` bits per dimension; lower is better. Empty cells: not computed.
    """
    names = [n for n in ("nll_nats", "bits_per_dim", "elbo_nats") if n in evaluation.values]
    lines = [",".join(["index", *names])]
    for i, idx in enumerate(evaluation.indices):
        cells = [str(int(idx))]
        for n in names:
            x = float(evaluation.values[n][i])
            cells.append(repr(x) if np.isfinite(x) else "")
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


def write_per_image_csv(evaluation: Evaluation, path) -> None:
    """Write `per_image_csv` to ``path`` atomically (OSError when it cannot be written)."""
    from explorer.core.export import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(per_image_csv(evaluation))


def summary_lines(evaluation: Evaluation) -> list[str]:
    """The result as sentences with units and N (what the panel shows), from the evaluation's record.

    −log p(x) in nats per image and bits/dim with the 95 % interval of the mean, the ELBO and
    its gap (IWAE), σ and the BDMC gap (AIS), the KDE warning, observation model and data
    convention, notes.
    """
    r = evaluation.record
    est = str(r.get("estimator", "?"))
    n = r.get("n_images")
    what = {"iwae": f"IWAE, k = {r.get('k', 0):,}", "ais": f"AIS, T = {r.get('ais_steps', 0):,}, "
            f"{r.get('ais_chains', '?')} chains", "kde": "Parzen window (KDE)"}.get(est, est)
    data = r.get("dataset") or {}
    where = f" of {data['name']}" + (f" ({data['split']})" if data.get("split") else "") if data else ""
    lines = []
    nll, ci = r.get("nll_nats"), r.get("nll_nats_ci95") or [None, None]
    if nll is not None:
        text = f"−log p(x) = {nll:.2f} nats per image"
        if ci[0] is not None:
            text += f" (95 % interval {ci[0]:.2f} – {ci[1]:.2f})"
        bpd = r.get("bits_per_dim")
        if bpd is not None:
            dims = nll / (bpd * np.log(2)) if bpd else None
            text += f" = {bpd:.4f} bits/dim"
            if ci[0] is not None and dims:
                text += f" ({ci[0] / (dims * np.log(2)):.4f} – {ci[1] / (dims * np.log(2)):.4f})"
        else:
            text += "; no bits/dim for this observation model"
        lines.append(f"{text}; {what}, N = {n:,} images{where}; lower is better.")
    elbo = r.get("elbo_nats")
    if elbo is not None and nll is not None:
        lines.append(f"−ELBO = {elbo:.2f} nats per image; gap −ELBO − (−L_k) = {elbo - nll:.2f} nats "
                     "(how much tighter the importance-weighted bound is).")
    if est == "ais":
        gap = r.get("bdmc_gap_nats")
        lines.append(f"σ = {r.get('sigma', float('nan')):.4g} (pixel units); BDMC gap = "
                     + (f"{gap:.2f} nats" if gap is not None else "not measured")
                     + " (forward vs reverse AIS on images simulated from the model: bounds the estimate's error).")
    if r.get("warning"):
        lines.append(f"Warning: {r['warning']}")
    if r.get("observation_model"):
        lines.append(f"Observation model: {r['observation_model']}.")
    if r.get("data_convention"):
        lines.append(f"Data: {r['data_convention']}.")
    for note in r.get("notes") or []:
        lines.append(f"Note: {note}.")
    if r.get("wall_time_s") is not None:
        lines.append(f"Seed {r.get('seed', 0)}; {r['wall_time_s']:.1f} s.")
    return lines
