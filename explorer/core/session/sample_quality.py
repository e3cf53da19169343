"""Sample quality and the human real-vs-fake test of the session's models, kept in its evaluations store.

The session side of the Sample-quality panel: `sample_quality_task` runs the one orchestration
(`explorer.core.sample_quality.sample_quality`) on a model of the session and keeps its record
as the model's ``"sample_quality"`` :class:`~explorer.core.session.evaluations.Evaluation`;
`sample_quality_images` brings back the images the panel shows (seeded, so a restored session
shows the same samples and nearest training images); `human_test_session` and
`record_human_result` make and keep the human test (family ``"human"``).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numpy as np

from explorer.core.jobs import JobContext
from explorer.core.session.evaluations import Evaluation
from explorer.core.session.sample_quality_tables import (
    COMPARE_NOTE,
    METRICS,
    TABLE_COLUMNS,
    export_table,
    memorisation_figure,
    samples_figure,
    space_words,
    table_rows,
)
from explorer.core.session.state import Task

__all__ = ["FAMILY", "HUMAN_FAMILY", "GRID_SAMPLES", "MEMORISATION_ROWS", "PR_ROWS", "PR_COLUMNS",
           "SampleQualityImages", "MemorisationRows", "HumanTrials", "settings_for", "sample_quality_task",
           "evaluation_of", "sample_quality_images", "images_of", "cached_images", "human_test_session",
           "record_human_result", "human_test_of", "keep_images", "table_rows", "export_table", "METRICS",
           "COMPARE_NOTE", "TABLE_COLUMNS", "samples_figure", "memorisation_figure", "space_words"]

#: Families in the evaluations store.
FAMILY = "sample_quality"
HUMAN_FAMILY = "human"
#: Samples the panel's grid shows (the first ones of the seeded draw).
GRID_SAMPLES = 48
#: Memorisation-grid rows kept in the evaluation per space: the examined samples nearest to a training image.
MEMORISATION_ROWS = 8
#: Rows and columns of the ``"precision_recall"`` matrix (NaN where a row was not measured).
PR_ROWS = ("model", "floor", "reconstructions")
PR_COLUMNS = ("precision", "recall", "density", "coverage")
SPACES = ("pixel", "feature")

# Per session (not saved): the last real-side reference, shared by the next model's measurement, and the images of
# each model's current evaluation. Weak keys: a closed session takes its caches with it.
_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _cache(session) -> dict:
    c = _CACHES.get(session)
    if c is None:
        c = _CACHES[session] = {"reference": None, "images": {}}
    return c


def settings_for(session, **kwargs):
    """`SampleQualitySettings` whose real sets come from the session's dataset source.

    Parameters
    ----------
    session : Session
        With an open dataset; its spec (a name or path) names the real splits.
    **kwargs
        Other `SampleQualitySettings` fields (``extractor``, ``n_samples``, ``real_split``, ``seed`` …).

    Raises
    ------
    ValueError
        No dataset is open.
    SampleQualityError
        Bad settings (one sentence).
    """
    from pathlib import Path

    from explorer.core.sample_quality import SampleQualitySettings
    from explorer.data import DATASET_NAMES

    spec = session.dataset_spec
    if spec is None:
        raise ValueError("open a dataset first: its train and test splits are the real images")
    data = spec.spec
    if data.strip().lower().replace("_", "-") not in DATASET_NAMES and Path(data).expanduser().exists():
        data = str(Path(data).expanduser().resolve())  # the record must find it again from another folder
    return SampleQualitySettings(**{"data": data, **kwargs})


@dataclass
class MemorisationRows:
    """One space of the memorisation grid: a few samples and their nearest training images.

    Attributes
    ----------
    space : {"pixel", "feature"}
    sample_indices : numpy.ndarray, shape (R,), int64
        Indices into the generated samples.
    train_indices : numpy.ndarray, shape (R, k), int64
        Their k nearest training images (ascending distance), indices into the train split.
    distances : numpy.ndarray, shape (R, k), float64
        Euclidean distances: pixel values in [0, 1] (pixel space) or feature units.
    samples : numpy.ndarray, shape (R, C, H, W), float32, or None
    neighbours : numpy.ndarray, shape (R, k, C, H, W), float32, or None
        The images, once brought back (`sample_quality_images`).
    """

    space: str
    sample_indices: np.ndarray
    train_indices: np.ndarray
    distances: np.ndarray
    samples: np.ndarray | None = None
    neighbours: np.ndarray | None = None

    def matrix(self) -> np.ndarray:
        """``(R, 1 + 2k)`` float64: sample index, k training indices, k distances (the Evaluation's matrix)."""
        return np.c_[self.sample_indices.astype(np.float64), self.train_indices.astype(np.float64), self.distances]

    @classmethod
    def from_matrix(cls, space: str, m: np.ndarray) -> MemorisationRows:
        """Inverse of `matrix`."""
        m = np.asarray(m, np.float64)
        k = (m.shape[1] - 1) // 2
        return cls(space, m[:, 0].astype(np.int64), m[:, 1:1 + k].astype(np.int64), m[:, 1 + k:1 + 2 * k])


@dataclass
class SampleQualityImages:
    """What the panel's grids show of one model's sample-quality evaluation.

    Attributes
    ----------
    samples : numpy.ndarray, shape (G, C, H, W), float32 in [0, 1]
        The first G of the N samples measured (``decode(z)``, seeded ``z ~ p(z)``).
    memorisation : dict of str to MemorisationRows
        ``"pixel"`` and ``"feature"`` (empty without a memorisation report).
    evaluation : Evaluation
        The evaluation these images belong to.
    """

    samples: np.ndarray
    memorisation: dict = field(default_factory=dict)
    evaluation: Evaluation | None = None


def _pr_matrix(result) -> np.ndarray:
    out = np.full((len(PR_ROWS), len(PR_COLUMNS)), np.nan)
    rows = {"model": result.record, "floor": result.record.get("floor"), "reconstructions": result.reconstructions}
    for i, name in enumerate(PR_ROWS):
        rec = rows[name]
        if rec:
            out[i] = [np.nan if rec.get(c) is None else float(rec[c]) for c in PR_COLUMNS]
    return out


def _rows_of(report, space: str, n_rows: int) -> MemorisationRows:
    sp = getattr(report, space)
    order = np.argsort(sp.distances[:, 0], kind="stable")[:n_rows]  # the samples nearest to the training set
    return MemorisationRows(space, np.asarray(report.sample_indices)[order].astype(np.int64),
                            sp.indices[order].astype(np.int64), sp.distances[order].astype(np.float64))


def evaluation_of(result, settings, n_rows: int = MEMORISATION_ROWS) -> Evaluation:
    """The ``"sample_quality"`` Evaluation of a `SampleQualityResult`.

    Parameters
    ----------
    result : SampleQualityResult
    settings : SampleQualitySettings
        The settings it was measured with.
    n_rows : int
        Memorisation-grid rows kept per space.

    Returns
    -------
    Evaluation
        ``record``: ``result.record`` (the keys ``evaluate --metrics sample-quality`` writes), plus
        ``"reconstructions"`` (``result.reconstructions``, None without encoder), ``"settings"``
        (`SampleQualitySettings.to_dict`: what `sample_quality_images` needs to bring the
        images back) and ``"notes"``. ``matrices``: ``"precision_recall"`` ``(3, 4)`` — rows
        :data:`PR_ROWS`, columns :data:`PR_COLUMNS`, NaN where not measured — and, with a
        memorisation report, ``"memorisation_pixel"`` / ``"memorisation_feature"`` ``(R, 7)``
        (`MemorisationRows.matrix`: the R examined samples nearest to a training image).
    """
    record = {**result.record, "reconstructions": result.reconstructions, "settings": settings.to_dict(),
              "notes": list(result.notes)}
    matrices = {"precision_recall": _pr_matrix(result)}
    if result.memorisation is not None:
        for space in SPACES:
            matrices[f"memorisation_{space}"] = _rows_of(result.memorisation, space, n_rows).matrix()
    return Evaluation(FAMILY, record, matrices=matrices)


def _train_split(settings, image_shape):
    from explorer.data import fit_to_model, load_dataset

    return fit_to_model(load_dataset(settings.data, split="train"), tuple(image_shape))


def images_of(evaluation: Evaluation, samples: np.ndarray, train_images: np.ndarray | None,
              n_grid: int = GRID_SAMPLES) -> SampleQualityImages:
    """The grids' images from all N samples and the training images (no model run).

    Parameters
    ----------
    evaluation : Evaluation
        A ``"sample_quality"`` evaluation (`evaluation_of`).
    samples : numpy.ndarray, shape (N, C, H, W)
        All samples it measured.
    train_images : numpy.ndarray, shape (N_train, C, H, W), or None
        The train split (fitted to the model's images); None leaves the memorisation grid out.
    n_grid : int
    """
    out = SampleQualityImages(np.ascontiguousarray(samples[:n_grid], np.float32), {}, evaluation)
    if train_images is None:
        return out
    for space in SPACES:
        m = evaluation.matrices.get(f"memorisation_{space}")
        if m is None:
            continue
        rows = MemorisationRows.from_matrix(space, m)
        rows.samples = np.ascontiguousarray(samples[rows.sample_indices], np.float32)
        rows.neighbours = np.ascontiguousarray(train_images[rows.train_indices], np.float32)
        out.memorisation[space] = rows
    return out


def sample_quality_images(model, evaluation: Evaluation, ctx: JobContext | None = None,
                          n_grid: int = GRID_SAMPLES, data: str | None = None) -> SampleQualityImages:
    """Bring back the samples and nearest training images of a kept evaluation (after a restore).

    The samples are drawn again exactly as the measurement drew them
    (`explorer.core.sample_quality.generate_samples` with the record's ``n_samples``, ``seed``
    and ``batch_size``), so the same images come back; the training images are read from the
    train split of the record's ``data``.

    Parameters
    ----------
    model : models.base.GenerativeModel
        The model the evaluation was made for.
    evaluation : Evaluation
    ctx : JobContext, optional
    n_grid : int
    data : str, optional
        Where the training images are now (the session's dataset source, e.g. after the
        session file moved); default the record's ``settings["data"]``.

    Returns
    -------
    SampleQualityImages

    Raises
    ------
    ValueError
        The evaluation has no settings (made by another version).
    explorer.errors.DatasetError
        The train split cannot be read any more (one sentence).
    """
    from explorer.core.jobs import sub_context
    from explorer.core.sample_quality import SampleQualitySettings, generate_samples

    saved = evaluation.record.get("settings")
    if not isinstance(saved, dict):
        raise ValueError("this sample-quality result does not say how it was measured; compute it again")
    s = SampleQualitySettings.from_dict(saved if data is None else {**saved, "data": data})
    samples = generate_samples(model, s.n_samples, s.seed, s.batch_size, sub_context(ctx, 0.0, 0.8))
    train = None
    if any(f"memorisation_{sp}" in evaluation.matrices for sp in SPACES):
        if ctx is not None:
            ctx.progress(0.8, "reading the training images")
        train = _train_split(s, model.image_shape).images
    return images_of(evaluation, samples, train, n_grid)


def cached_images(session, key: str) -> SampleQualityImages | None:
    """The images of model ``key``'s current sample-quality evaluation, if this session has them (not saved)."""
    ev = session.evaluation(key, FAMILY)
    got = _cache(session)["images"].get(key)
    return got if ev is not None and got is not None and got.evaluation is ev else None


def keep_images(session, key: str, images: SampleQualityImages) -> None:
    """Remember ``images`` for model ``key`` (what `cached_images` returns while its evaluation stands)."""
    _cache(session)["images"][key] = images


def sample_quality_task(session, key: str, settings) -> Task:
    """Measure model ``key``'s samples (FID, KID, IS, precision/recall, density/coverage, floor, memorisation).

    Runs `explorer.core.sample_quality.sample_quality` off the GUI thread and keeps
    `evaluation_of` its result as the model's ``"sample_quality"`` evaluation (announced by
    ``evaluation_changed``, saved in the ``.lxs``). The real side (extractor features of the
    real splits) of the session's last measurement is passed on, so a second model with the
    same settings and image size does not compute it again.

    Parameters
    ----------
    session : Session
    key : str
        An open, loaded model.
    settings : SampleQualitySettings
        E.g. from `settings_for`.

    Returns
    -------
    Task
        Family ``"evaluate"``, from ``session.evaluation_task``.

    Raises
    ------
    KeyError
        No open model ``key``.
    ValueError
        The model is not loaded yet.
    """
    from explorer.core.sample_quality import sample_quality

    m = session.state(key)
    if m is None:
        raise KeyError(f"no open model {key!r}")
    model = m.model
    if model is None:
        raise ValueError(f"{m.name} is not loaded yet")
    cache = _cache(session)
    reference = cache["reference"]
    out: dict = {}

    def run(ctx):
        res = sample_quality(model, settings, ctx, reference=reference)
        ev = evaluation_of(res, settings)
        train = res.reference.train.images if res.reference.train is not None else None
        out.update(reference=res.reference, images=images_of(ev, res.samples, train))
        return ev

    n = settings.n_samples
    task = session.evaluation_task(key, FAMILY, run, f"Sample quality of {m.name} ({n:,} samples)",
                                   detail=f"N = {n:,} samples vs the {settings.real_split} split, {settings.extractor}")
    keep = task.apply

    def apply(ev: Evaluation):
        keep(ev)
        if out.get("reference") is not None:
            cache["reference"] = out["reference"]
        if session.evaluation(key, FAMILY) is ev:
            keep_images(session, key, out["images"])

    task.apply = apply
    return task


# ---------------------------------------------------------------------------- the human test


@dataclass
class HumanTrials:
    """A human real-vs-fake test with the images it shows.

    Attributes
    ----------
    test : HumanTest
        The seeded sequence and the answers.
    real : numpy.ndarray, shape (N_real, C, H, W), float32 in [0, 1]
        The dataset's images (fitted to the model's image size).
    fake : numpy.ndarray, shape (N_fake, C, H, W), float32 in [0, 1]
        The model's samples ``decode(z)``, ``z ~ p(z)`` seeded by the test's seed.
    key : str
        The model.
    dataset : str
        The real images' name (for the record).
    """

    test: object
    real: np.ndarray
    fake: np.ndarray
    key: str = ""
    dataset: str = ""

    def __len__(self) -> int:
        return len(self.test)

    def image(self, trial: int) -> np.ndarray:
        """The ``(C, H, W)`` image shown at ``trial``."""
        pool = self.real if self.test.is_real[trial] else self.fake
        return pool[self.test.index[trial]]

    @property
    def current(self) -> int | None:
        """The trial waiting for an answer (None when all are answered)."""
        return self.test.next_trial

    def answer(self, says_real: bool) -> int | None:
        """Record the answer to the current trial; returns the trial answered (None when the test was done)."""
        t = self.test.next_trial
        if t is not None:
            self.test.answer(t, says_real)
        return t


def human_test_session(session, key: str, n: int = 100, seed: int = 0) -> HumanTrials:
    """A seeded human test of model ``key``: ``n`` trials, half real dataset images, half samples.

    Parameters
    ----------
    session : Session
        With an open dataset (the real images) and model ``key`` loaded.
    key : str
    n : int
        Even number of trials ≥ 2; ``n / 2`` samples are drawn from the prior with ``seed``.
    seed : int
        Seeds the samples, which real images are shown, and the order (`HumanTest.new`).

    Returns
    -------
    HumanTrials

    Raises
    ------
    KeyError
        No open model ``key``.
    ValueError
        No dataset, or the model is not loaded.
    SampleQualityError
        Odd ``n`` or fewer real images than ``n / 2`` (one sentence).
    """
    from explorer.core.sample_quality import HumanTest, SampleQualityError, generate_samples
    from explorer.data import fit_to_model

    m = session.state(key)
    if m is None:
        raise KeyError(f"no open model {key!r}")
    if session.dataset is None:
        raise ValueError("open a dataset first: its images are the real ones of the test")
    if m.model is None:
        raise ValueError(f"{m.name} is not loaded yet")
    if n < 2 or n % 2:
        raise SampleQualityError(f"the human test needs an even number of trials ≥ 2, got {n}.")
    real = fit_to_model(session.dataset, tuple(m.model.image_shape))
    fake = generate_samples(m.model, n // 2, int(seed), batch_size=max(n // 2, 1))
    test = HumanTest.new(len(real), len(fake), n, int(seed), model=m.name)
    ds = session.dataset
    spec = session.dataset_spec
    subsample = spec is not None and spec.limit is not None and len(ds) >= spec.limit  # a limit above N: all of it
    sub = (f", the seeded subsample of {len(ds):,} images open in the explorer" if subsample
           else f" ({len(ds):,} images)")
    name = f"{ds.name} {ds.split or 'all'} split{sub}"
    return HumanTrials(test, real.images, fake, key, name)


def record_human_result(session, key: str, test) -> Evaluation:
    """Keep a human test's result as model ``key``'s ``"human"`` evaluation (saved in the ``.lxs``).

    Parameters
    ----------
    session : Session
    key : str
    test : HumanTest or HumanTrials
        With at least one answer (stopped early: the answered trials count).

    Returns
    -------
    Evaluation
        ``record``: `HumanTest.result` (``error_rate`` as a fraction — 0.5: people cannot
        tell —, ``ci95`` the Wilson score 95 % interval, ``n_answered`` …) plus ``"n"`` (answered
        trials), ``"counts"`` (``real_called_real``, ``real_called_fake``, ``fake_called_real``,
        ``fake_called_fake``), ``"real_set"`` and ``"test"`` (`HumanTest.to_dict`, the sequence and
        answers).

    Raises
    ------
    KeyError
        No open model ``key``.
    SampleQualityError
        Nothing answered yet.
    """
    from explorer.core.sample_quality import SampleQualityError

    dataset = getattr(test, "dataset", "")
    test = getattr(test, "test", test)
    r = test.result()
    if r["n_answered"] == 0:
        raise SampleQualityError("the human test has no answers yet; nothing is kept.")
    counts = {"real_called_real": r["n_real_answered"] - r["real_called_fake"],
              "real_called_fake": r["real_called_fake"], "fake_called_real": r["fake_called_real"],
              "fake_called_fake": r["n_fake_answered"] - r["fake_called_real"]}
    record = {**r, "n": r["n_answered"], "counts": counts, "real_set": dataset,
              "method": "HYPE∞-style (Zhou et al. 2019): one image at a time, real or fake; error rate with a "
                        "Wilson score 95 % interval",
              "test": test.to_dict()}
    ev = Evaluation(HUMAN_FAMILY, record)
    session.set_evaluation(key, ev)
    return ev


def human_test_of(evaluation: Evaluation):
    """The `HumanTest` (sequence and answers) a ``"human"`` evaluation kept."""
    from explorer.core.sample_quality import HumanTest

    return HumanTest.from_dict(evaluation.record["test"])
