"""The scorecard's columns: a registry of column definitions per record family (clustering, reconstruction, …).

A family is a function of the models' records (the layout of `explorer.core.evaluate.evaluate_models`)
returning the columns it contributes — none when no record holds that family. Adding a metric
family to the scorecard is adding one function here with `column_family`; nothing else changes.
Every header names its units, the space, the feature extractor where there is one, and N.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["Column", "COLUMN_FAMILIES", "column_family", "scorecard_columns", "common", "differing"]


@dataclass(frozen=True)
class Column:
    """One column of the scorecard.

    Attributes
    ----------
    key : str
        Unique, dotted: ``"clustering.v_measure"``, ``"reconstruction.8bit.psnr_db"``.
    family : str
        The record family it reads (a key of `COLUMN_FAMILIES`).
    name : str
        Short name, e.g. "PSNR".
    detail : str
        Units, space, feature extractor and N, e.g. "dB, data range 1, 8bit codes, mean, N = 100".
    get : callable
        ``record -> value`` (None when the record lacks it).
    direction : {"higher", "lower"} or None
        Which values are better; None for descriptive columns (never marked).
    ci : callable, optional
        ``record -> (low, high)`` 95 % interval stated by the record, or None.
    paired : str, optional
        Name of the per-image data a paired bootstrap resamples (`explorer.core.compare.scorecard`):
        ``"images:<name>"`` (per-image values, mean) or ``"clustering:<score>"``; None: not tested.
    fmt : str
        Format of a number for the tables (``format(value, fmt)``).
    """

    key: str
    family: str
    name: str
    detail: str
    get: Callable[[dict], Any]
    direction: str | None = None
    ci: Callable[[dict], Any] | None = None
    paired: str | None = None
    fmt: str = ".4f"

    @property
    def header(self) -> str:
        """``"name (detail)"``."""
        return f"{self.name} ({self.detail})" if self.detail else self.name


#: Record family → function ``records -> list of Column``, in the scorecard's order.
COLUMN_FAMILIES: dict[str, Callable[[Sequence[dict]], list[Column]]] = {}


def column_family(name: str):
    """Register a column family under ``name`` (the record key it reads)."""
    def deco(fn):
        COLUMN_FAMILIES[name] = fn
        return fn
    return deco


def scorecard_columns(records: Sequence[dict]) -> list[Column]:
    """Every registered family's columns for these records, in registry order."""
    return [c for fn in COLUMN_FAMILIES.values() for c in fn(records)]


def _dig(rec: dict | None, *path):
    for p in path:
        if not isinstance(rec, dict):
            return None
        rec = rec.get(p)
    return rec


def common(records: Sequence[dict], *path, fmt: Callable[[Any], str] = str) -> str | None:
    """The value at ``path`` shared by every record that has it, formatted; "a / b" when they differ.

    Returns None when no record has it.
    """
    values = []
    for r in records:
        v = _dig(r, *path)
        if v is not None and v not in values:
            values.append(v)
    if not values:
        return None
    return " / ".join(fmt(v) for v in values) + (" (differs between models)" if len(values) > 1 else "")


def differing(records: Sequence[dict], family: str, keys: Sequence[str]) -> list[str]:
    """The settings ``keys`` of ``family`` whose values differ between the records that have that family.

    A column whose numbers were computed at different N, on different images, with another
    estimator or feature extractor compares nothing: its family marks no best then and says
    which settings differ.
    """
    recs = _has(records, family)
    out = []
    for key in keys:
        path = key.split(".")
        values = []
        for r in recs:
            v = _dig(r, *path)
            if v not in values:
                values.append(v)
        if len(values) > 1:
            out.append(path[-1].replace("_", " "))
    return out


def _unless_differing(cols: list[Column], records, family: str, keys: Sequence[str]) -> list[Column]:
    """``cols`` as they are, or — when ``keys`` differ between models — without a direction and saying so."""
    diff = differing(records, family, keys)
    if not diff:
        return cols
    why = f"not compared: {', '.join(diff)} differ between models"
    return [replace(c, detail=f"{c.detail}; {why}", direction=None, paired=None) for c in cols]


def _n(v) -> str:
    return f"{int(v):,}"


def _has(records, key) -> list[dict]:
    return [r[key] for r in records if isinstance(r.get(key), dict)]


# -- identity ------------------------------------------------------------------------------------


@column_family("model")
def _model_columns(records: Sequence[dict]) -> list[Column]:
    return [
        Column("model.kind", "model", "kind", "", lambda r: r.get("kind"), fmt="s"),
        Column("model.codes", "model", "codes", "encoder, or inverted: found by GAN inversion",
               lambda r: r.get("codes"), fmt="s"),
        Column("model.latent_dim", "model", "d", "latent dimensions", lambda r: r.get("latent_dim"), fmt="d"),
        Column("model.parameters", "model", "parameters", "all networks",
               lambda r: r.get("parameters"), fmt=",d"),
        Column("model.training_data", "model", "training data", "from the checkpoint",
               lambda r: r.get("training_data"), fmt="s"),
    ]


# -- clustering ------------------------------------------------------------------------------------

_CLUSTER_NAMES = (("homogeneity", "homogeneity"), ("completeness", "completeness"), ("v_measure", "V-measure"),
                  ("ari", "ARI"), ("nmi", "NMI"))


@column_family("clustering")
def _clustering_columns(records: Sequence[dict]) -> list[Column]:
    recs = _has(records, "clustering")
    if not recs:
        return []
    k = common(recs, "k")
    space = common(recs, "space")
    proj = common(recs, "projection")
    where = f"2-D {proj.upper()} embedding" if space == "embedding" and proj else "latent space z"
    n = common(recs, "n_images", fmt=_n)
    base = f"k-means k = {k} on the {where}, N = {n}"
    cols = [Column(f"clustering.{key}", "clustering", name, f"{base}, 0–1" if key != "ari" else f"{base}, −0.5–1",
                   (lambda r, key=key: _dig(r, "clustering", key)), "higher", paired=f"clustering:{key}")
            for key, name in _CLUSTER_NAMES]
    sample = common(recs, "silhouette_sample_size", fmt=_n)
    sil_n = f"seeded sample of {sample}" if sample else f"N = {n}"
    cols.append(Column("clustering.silhouette", "clustering", "silhouette",
                       f"Euclidean on the {where}, k = {k}, −1–1, {sil_n}",
                       lambda r: _dig(r, "clustering", "silhouette"), "higher", paired="images:silhouette"))
    return cols


# -- reconstruction ------------------------------------------------------------------------------


def _precision_record(r: dict, precision: str) -> dict | None:
    for rec in r.get("reconstruction_by_precision") or ([r["reconstruction"]] if r.get("reconstruction") else []):
        if rec.get("precision") == precision:
            return rec
    return None


@column_family("reconstruction")
def _reconstruction_columns(records: Sequence[dict]) -> list[Column]:
    precisions: list[str] = []
    for r in records:
        for rec in r.get("reconstruction_by_precision") or ([r["reconstruction"]] if r.get("reconstruction") else []):
            if rec.get("precision") not in precisions:
                precisions.append(rec["precision"])
    cols = []
    for p in precisions:
        recs = [x for x in (_precision_record(r, p) for r in records) if x is not None]
        n = common(recs, "n_images", fmt=_n)

        def get(r, key, p=p):
            return _dig(_precision_record(r, p), key)

        def ci(r, key, p=p):
            v = _dig(_precision_record(r, p), key)
            return tuple(v) if v is not None and None not in v else None

        cols += [
            Column(f"reconstruction.{p}.compression_ratio", "reconstruction", f"ratio {p}",
                   "×, original image bits H·W·C·8 / code bits d·b", lambda r, g=get: g(r, "compression_ratio"),
                   None, fmt=".3g"),  # a rate, not a score: judged only with PSNR (rate–distortion), never "best"
            Column(f"reconstruction.{p}.psnr_db", "reconstruction", f"PSNR {p}",
                   f"dB, data range 1, decode(code at {p}), mean and 95 % CI, N = {n}",
                   lambda r, g=get: g(r, "psnr_db"), "higher", lambda r, c=ci: c(r, "psnr_db_ci95"),
                   paired=f"images:psnr:{p}", fmt=".2f"),
            Column(f"reconstruction.{p}.ssim", "reconstruction", f"SSIM {p}",
                   f"Wang 2004, Gaussian σ = 1.5, decode(code at {p}), mean and 95 % CI, N = {n}",
                   lambda r, g=get: g(r, "ssim"), "higher", lambda r, c=ci: c(r, "ssim_ci95"),
                   paired=f"images:ssim:{p}", fmt=".4f"),
        ]
    return cols


# -- likelihood (issue 11) -------------------------------------------------------------------------------


@column_family("likelihood")
def _likelihood_columns(records: Sequence[dict]) -> list[Column]:
    recs = _has(records, "likelihood")
    if not recs:
        return []

    def est(v):
        return str(v).upper() if str(v).lower() in ("iwae", "ais", "kde") else str(v)

    estimator = common(recs, "estimator", fmt=est) or "estimator not stated"
    kk = common(recs, "k")
    steps = common(recs, "ais_steps")
    what = estimator + (f" k = {kk}" if kk else "") + (f", {steps} AIS steps" if steps else "")
    obs = common(recs, "observation_model")
    conv = common(recs, "data_convention")
    n = common(recs, "n_images", fmt=_n)
    ctx = ", ".join(x for x in (what, obs, conv, f"N = {n}") if x)

    def ci(r):
        v = _dig(r, "likelihood", "nll_nats_ci95")
        return tuple(v) if v is not None and None not in v else None

    return _unless_differing([
        Column("likelihood.nll_nats", "likelihood", "NLL", f"nats per image, {ctx}",
               lambda r: _dig(r, "likelihood", "nll_nats"), "lower", ci, fmt=".2f"),
        Column("likelihood.bits_per_dim", "likelihood", "bits/dim", f"NLL / (D ln 2), {ctx}",
               lambda r: _dig(r, "likelihood", "bits_per_dim"), "lower", fmt=".4f"),
    ], records, "likelihood", ("estimator", "k", "ais_steps", "n_images", "seed", "observation_model",
                               "data_convention", "dataset_identity"))


# -- sample quality (issue 12) -----------------------------------------------------------------------------


@column_family("sample_quality")
def _sample_quality_columns(records: Sequence[dict]) -> list[Column]:
    recs = _has(records, "sample_quality")
    if not recs:
        return []
    extractor = common(recs, "extractor") or "extractor not stated"
    n = common(recs, "n_samples", fmt=_n)
    real = common(recs, "real_set")
    ctx = ", ".join(x for x in (f"features: {extractor}", f"N = {n} samples" if n else None,
                                f"real set: {real}" if real else None) if x)

    def sq(key):
        return lambda r: _dig(r, "sample_quality", key)

    return _unless_differing([
        Column("sample_quality.fid", "sample_quality", "FID", f"Fréchet distance of features, {ctx}", sq("fid"),
               "lower", fmt=".2f"),
        Column("sample_quality.kid", "sample_quality", "KID × 10³", f"unbiased MMD² × 1,000, cubic kernel, {ctx}",
               lambda r: None if (v := _dig(r, "sample_quality", "kid")) is None else 1000.0 * v, "lower",
               fmt=".2f"),
        Column("sample_quality.is", "sample_quality", "IS", f"Inception score, 10 splits, {ctx}", sq("is"),
               "higher", fmt=".2f"),
        Column("sample_quality.precision", "sample_quality", "precision", f"Kynkäänniemi 2019, k = 3, 0–1, {ctx}",
               sq("precision"), "higher", fmt=".3f"),
        Column("sample_quality.recall", "sample_quality", "recall", f"Kynkäänniemi 2019, k = 3, 0–1, {ctx}",
               sq("recall"), "higher", fmt=".3f"),
        Column("sample_quality.density", "sample_quality", "density", f"Naeem 2020, k = 5, {ctx}",
               sq("density"), "higher", fmt=".3f"),
        Column("sample_quality.coverage", "sample_quality", "coverage", f"Naeem 2020, k = 5, 0–1, {ctx}",
               sq("coverage"), "higher", fmt=".3f"),
    ], records, "sample_quality", ("extractor", "n_samples", "real_set", "dataset_identity"))


# -- disentanglement (issue 13) -----------------------------------------------------------------------------

_DIS_NAMES = ((("beta_vae",), "β-VAE score"), (("factor_vae",), "FactorVAE score"), (("mig",), "MIG"),
              (("sap",), "SAP"), (("dci", "disentanglement"), "DCI disentanglement"),
              (("dci", "completeness"), "DCI completeness"), (("dci", "informativeness"), "DCI informativeness"),
              (("modularity",), "modularity"), (("explicitness",), "explicitness"))


@column_family("disentanglement")
def _disentanglement_columns(records: Sequence[dict]) -> list[Column]:
    recs = _has(records, "disentanglement")
    if not recs:
        return []
    settings = common(recs, "settings", "name") or common(recs, "settings")
    representation = common(recs, "settings", "representation") or "encoder mean"
    n_train = common(recs, "n_train", fmt=_n)
    n_test = common(recs, "n_test", fmt=_n)
    ctx = ", ".join(x for x in (f"{settings} settings" if settings else None, representation,
                                f"N = {n_train} train / {n_test} test" if n_train else None) if x)
    cols = []
    for path, name in _DIS_NAMES:
        if not any(_dig(r, *path) is not None for r in recs):
            continue
        cols.append(Column("disentanglement." + ".".join(path), "disentanglement", name, f"0–1, {ctx}",
                           (lambda r, path=path: _dig(r, "disentanglement", *path)), "higher", fmt=".3f"))
    same = [f"settings.{k}" for k in ("name", "n_train", "n_test", "bins", "batch_size", "beta_vae_train",
                                      "factor_vae_train", "prune_std", "dci_classifier", "sap_c", "dci_train",
                                      "seed", "representation")]
    return _unless_differing(cols, records, "disentanglement", (*same, "n_train", "n_test", "sklearn_version",
                                                                 "dataset_identity"))


# -- human real-vs-fake test (issue 12) ------------------------------------------------------------------


@column_family("human")
def _human_columns(records: Sequence[dict]) -> list[Column]:
    recs = _has(records, "human")
    if not recs:
        return []
    n = common(recs, "n", fmt=_n)

    def ci(r):
        v = _dig(r, "human", "ci95")
        return tuple(v) if v is not None and None not in v else None

    return _unless_differing([Column("human.error_rate", "human", "human error",
                   f"HYPE∞-style real/fake test, fraction of answers wrong, 0.5 = indistinguishable, Wilson 95 % CI, "
                   f"N = {n} answers", lambda r: _dig(r, "human", "error_rate"), "higher", ci, fmt=".3f")],
                             records, "human", ("n", "real_set", "dataset_identity"))
