"""The one sample-quality orchestration the panel, `evaluate --metrics sample-quality` and the bench call."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from explorer.core.jobs import JobContext, sub_context
from explorer.core.sample_quality import memorisation as mem
from explorer.core.sample_quality import metrics as qm
from explorer.core.sample_quality.cache import (
    cache_folder,
    cached_arrays,
    cached_features,
    cached_record,
    derived_key,
    features_key,
)
from explorer.core.sample_quality.extractors import BUNDLED, Extractor, load_extractor
from explorer.core.sample_quality.metrics import SampleQualityError
from explorer.data import Dataset
from explorer.errors import one_line

#: Most samples (and real images per set) a sample-quality measurement takes: 4× the 50,000 of FID papers.
MAX_SAMPLES = 200_000


@dataclass(frozen=True)
class SampleQualitySettings:
    """What to measure and against what; one object for the panel, the CLI and the bench.

    Attributes
    ----------
    extractor : str
        ``"classifier"`` (the bundled Fashion-MNIST LeNet), or a path: classifier checkpoint,
        feature adapter ``.py`` or Inception-v3 TorchScript (`load_extractor`).
    n_samples : int
        N samples drawn from the prior ``p(z)``; the floor uses the same N.
    real_split : {"test", "train"}
        The real set the samples are compared with.
    data : str
        Dataset name or path of the real images (`explorer.data.load_dataset`).
    seed : int
        Seeds the prior samples, subsets, KID subsets and IS splits.
    batch_size : int
    floor, reconstructions, memorisation : bool
        Also measure the real-vs-real floor, reconstructions vs originals, memorisation.
    memorisation_samples, memorisation_held_out : int
        Samples examined and held-out (test) images calibrating the threshold.
    memorisation_quantile : float
    kid_subsets, kid_subset_size, is_splits, pr_k, dc_k : int
        As `explorer.core.sample_quality.metrics` (the papers' values).
    cache : bool
        Keep the real sets' features in the cache folder (`explorer.core.sample_quality.cache`).
    """

    extractor: str = BUNDLED
    n_samples: int = 10_000
    real_split: str = "test"
    data: str = "fashion-mnist"
    seed: int = 0
    batch_size: int = 500
    floor: bool = True
    reconstructions: bool = True
    memorisation: bool = True
    memorisation_samples: int = 1000
    memorisation_held_out: int = 1000
    memorisation_quantile: float = mem.QUANTILE
    kid_subsets: int = qm.KID_SUBSETS
    kid_subset_size: int = qm.KID_SUBSET_SIZE
    is_splits: int = qm.IS_SPLITS
    pr_k: int = qm.PR_K
    dc_k: int = qm.DC_K
    cache: bool = True

    def __post_init__(self):
        # the settings can come from a session file: types and sizes are checked before anything is allocated
        ints = {"n_samples": (1, MAX_SAMPLES), "seed": (0, 2**63 - 1), "batch_size": (1, 65_536),
                "memorisation_samples": (1, MAX_SAMPLES), "memorisation_held_out": (1, MAX_SAMPLES),
                "kid_subsets": (1, 10_000), "kid_subset_size": (2, MAX_SAMPLES), "is_splits": (1, 1_000),
                "pr_k": (1, 1_000), "dc_k": (1, 1_000)}
        for name, (lo, hi) in ints.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise SampleQualityError(f"sample-quality setting {name} must be a whole number in {lo:,}–{hi:,}, "
                                         f"got {v!r}.")
        for name in ("floor", "reconstructions", "memorisation", "cache"):
            if not isinstance(getattr(self, name), bool):
                raise SampleQualityError(f"sample-quality setting {name} must be true or false, "
                                         f"got {getattr(self, name)!r}.")
        for name in ("extractor", "data"):
            if not isinstance(getattr(self, name), str):
                raise SampleQualityError(f"sample-quality setting {name} must be text, got {getattr(self, name)!r}.")
        q = self.memorisation_quantile
        if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 < q < 1:
            raise SampleQualityError(f"sample-quality setting memorisation_quantile must be in (0, 1), got {q!r}.")
        if self.real_split not in ("test", "train"):
            raise SampleQualityError(f"--real-split must be 'test' or 'train', got {self.real_split!r}.")
        need = self.min_samples
        if self.n_samples < need:
            raise SampleQualityError(
                f"--n-samples {self.n_samples} is too small: sample-quality metrics need at least {need} samples "
                f"(IS uses {self.is_splits} splits, density/coverage {self.dc_k} nearest neighbours).")

    @property
    def min_samples(self) -> int:
        """Fewest samples the metrics can be computed on."""
        return max(2, self.is_splits, self.pr_k + 1, self.dc_k + 1)

    def to_dict(self) -> dict:
        """Plain JSON (session files)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SampleQualitySettings:
        """Inverse of `to_dict`; keys it does not know are refused with one sentence (`SampleQualityError`)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise SampleQualityError(f"unknown sample-quality settings {', '.join(unknown)}; save the session again.")
        return cls(**d)


@dataclass
class SampleQualityReference:
    """The real side, prepared once and shared by every model measured against it.

    Attributes
    ----------
    extractor : Extractor
    real : Dataset
        The real set (``real_split``), fitted to the images' shape.
    train, test : Dataset or None
        The splits for the floor and memorisation (None when not available).
    real_features, real_logits : numpy.ndarray
        ``(N_r, F)`` and ``(N_r, K)`` (logits None without them).
    real_radii : dict of int to numpy.ndarray
        k-NN radii of the real features for precision/recall and density/coverage.
    train_features, test_features : numpy.ndarray or None
        Features of the whole train split and of the test split.
    image_shape : tuple of int
    notes : list of str
    floors : dict
        Floor records by N (computed on demand).
    train_logits, test_logits : numpy.ndarray or None
    cache_keys : dict of str to str
        `explorer.core.sample_quality.cache.features_key` of the ``"real"``, ``"train"`` and
        ``"test"`` sets (absent when the extractor cannot be pinned): what the radii, the floor and
        the held-out distances of memorisation are cached under.
    cache_dir : pathlib.Path or None
        The cache folder (None: caching off).
    held_out_nearest : dict
        Distances of the held-out images to their nearest training image, by space (memorisation).
    """

    extractor: Extractor
    settings: SampleQualitySettings
    real: Dataset
    train: Dataset | None
    test: Dataset | None
    real_features: np.ndarray
    real_logits: np.ndarray | None
    real_radii: dict
    train_features: np.ndarray | None
    test_features: np.ndarray | None
    image_shape: tuple
    notes: list = field(default_factory=list)
    floors: dict = field(default_factory=dict)
    train_logits: np.ndarray | None = None
    test_logits: np.ndarray | None = None
    cache_keys: dict = field(default_factory=dict)
    cache_dir: object = None
    held_out_nearest: dict = field(default_factory=dict)

    @property
    def real_name(self) -> str:
        return _set_name(self.real)


@dataclass
class SampleQualityResult:
    """What one model's measurement gives the panel, the CLI and the bench.

    Attributes
    ----------
    record : dict
        The ``"sample_quality"`` record: ``extractor``, ``n_samples``, ``real_set``, ``fid``, ``kid``,
        ``kid_std`` (unbiased MMD², printed × 10³), ``is``, ``is_std`` (None without logits),
        ``precision``, ``recall``, ``density``, ``coverage``, ``floor`` (the same keys for N real
        images of the other split vs the real set, plus ``compared_set``; None without it) and
        ``memorisation`` (`MemorisationReport.to_dict`, None without a train split).
    reconstructions : dict or None
        The same metrics for ``decode(encode(x))`` vs the originals x (N = ``n_samples`` real
        images, or all of them if fewer), with ``n_samples``, ``real_set`` and ``extractor``;
        None for a model without encoder.
    samples : numpy.ndarray, shape (N, C, H, W), float32
        The generated images measured (seeded prior draws, decoded).
    sample_features : numpy.ndarray, shape (N, F), float64
    memorisation : MemorisationReport or None
        With the neighbour indices into ``reference.train.images`` and distances (the grid:
        sample | three nearest training images).
    precision_recall : dict
        ``{"model": (precision, recall), "floor": (precision, recall) or None,
        "reconstructions": (...) or None}`` for the plot.
    notes : list of str
    reference : SampleQualityReference
        Pass it to the next model's call to skip the real side.
    seconds : dict
        Wall time of each stage, in s (``reference_s`` only when the real side was prepared here;
        ``metrics_fid_s``, ``metrics_kid_s``, ``metrics_is_s``, ``metrics_prdc_s`` split ``metrics_s``).
    """

    record: dict
    reconstructions: dict | None
    samples: np.ndarray
    sample_features: np.ndarray
    memorisation: mem.MemorisationReport | None
    precision_recall: dict
    notes: list
    reference: SampleQualityReference
    seconds: dict


def _set_name(ds: Dataset) -> str:
    return f"{ds.name} {ds.split or 'all'} split ({len(ds):,} images)"


def _subset(ds: Dataset, n: int, seed: int) -> np.ndarray:
    from explorer.data import subsample_indices

    return np.sort(subsample_indices(len(ds), min(n, len(ds)), seed)) if n < len(ds) else np.arange(len(ds))


def prepare_reference(settings: SampleQualitySettings, image_shape, ctx: JobContext | None = None, *,
                      extractor: Extractor | None = None, real: Dataset | None = None, train: Dataset | None = None,
                      test: Dataset | None = None) -> SampleQualityReference:
    """Load the extractor and the real splits and compute their features (the model-independent half).

    Parameters
    ----------
    settings : SampleQualitySettings
    image_shape : (C, H, W)
        Of the model's images; the real images are fitted to it (`explorer.data.fit_to_model`).
    ctx : JobContext, optional
    extractor : Extractor, optional
        Default ``load_extractor(settings.extractor)``.
    real, train, test : Dataset, optional
        Default loaded from ``settings.data`` (the real set is ``settings.real_split``); a
        missing train split leaves floor and memorisation out, with a note.

    Returns
    -------
    SampleQualityReference

    Raises
    ------
    SampleQualityError, models.base.ModelFileError, explorer.errors.DatasetError
        One sentence each.
    """
    from explorer.data import fit_to_model, load_dataset
    from explorer.errors import DatasetError

    notes: list[str] = []
    extractor = extractor or load_extractor(settings.extractor)
    extractor.check_images(image_shape)
    splits = {"train": train, "test": test}
    if real is not None:
        splits[settings.real_split] = real
    explicit = any(d is not None for d in (real, train, test))
    for name in ("test", "train"):
        if splits[name] is not None or (explicit and name != settings.real_split):
            continue  # the caller chose the sets: look for no others
        try:
            ds = load_dataset(settings.data, split=name)
        except (DatasetError, ValueError) as exc:
            if name == settings.real_split:
                raise
            notes.append(f"no {name} split of {settings.data} ({one_line(exc)}); the real-vs-real floor and "
                         "memorisation are left out.")
            continue
        if ds.split != name:
            if name == settings.real_split:
                raise SampleQualityError(f"--data {settings.data!r} has no {name} split; choose another --real-split "
                                         "or a dataset with train and test splits.")
            notes.append(f"{settings.data} has no {name} split; the real-vs-real floor and memorisation are left out.")
            continue
        splits[name] = ds
    fitted = {}
    for name, ds in splits.items():
        if ds is not None:
            f = fit_to_model(ds, tuple(image_shape))
            notes.extend(f.notes[len(ds.notes):])
            fitted[name] = f
    real = fitted[settings.real_split]
    train, test = fitted.get("train"), fitted.get("test")
    want_other = settings.floor or settings.memorisation
    stage = sub_context(ctx, 0.0, 0.4 if want_other else 1.0)
    folder = cache_folder(None if settings.cache else False)
    keys = {}
    if folder is not None:
        for name, ds in (("real", real), ("train", train), ("test", test)):
            key = None if ds is None else features_key(extractor, ds)
            if key is not None:
                keys[name] = key
    real_f, real_l = cached_features(extractor, real, settings.batch_size, stage, f"real images ({_set_name(real)})",
                                     folder or False, key=keys.get("real"))
    ks = [k for k in sorted({settings.pr_k, settings.dc_k}) if len(real_f) > k]
    radii_arrays = cached_arrays(
        folder, "radii", derived_key(keys.get("real"), ks) if "real" in keys else None,
        lambda: {f"k{k}": v for k, v in (qm.knn_radii_many(real_f, ks) if ks else {}).items()},
        lambda z: all(z.get(f"k{k}") is not None and z[f"k{k}"].shape == (len(real_f),) for k in ks))
    radii = {k: np.asarray(radii_arrays[f"k{k}"], np.float64) for k in ks}
    train_f = test_f = train_l = test_l = None
    if want_other and train is not None and test is not None:
        if settings.real_split == "train":
            train_f, train_l = real_f, real_l
        else:
            train_f, train_l = cached_features(extractor, train, settings.batch_size, sub_context(ctx, 0.4, 0.9),
                                         f"training images ({_set_name(train)})", folder or False,
                                               key=keys.get("train"))
        test_f, test_l = (real_f, real_l) if settings.real_split == "test" else cached_features(
            extractor, test, settings.batch_size, sub_context(ctx, 0.9, 1.0), "test images", folder or False,
            key=keys.get("test"))
    return SampleQualityReference(extractor, settings, real, train, test, real_f, real_l, radii, train_f, test_f,
                                  tuple(image_shape), notes, train_logits=train_l, test_logits=test_l,
                                  cache_keys=keys, cache_dir=folder)


def _scores(ref: SampleQualityReference, feats: np.ndarray, logits: np.ndarray | None, *, real_f=None,
            radii=None, seed: int = 0, seconds: dict | None = None) -> dict:
    s = ref.settings
    real_f = ref.real_features if real_f is None else real_f
    seconds = {} if seconds is None else seconds
    t = time.perf_counter()
    kid, kid_std = qm.kernel_inception_distance(real_f, feats, subsets=s.kid_subsets, subset_size=s.kid_subset_size,
                                               seed=seed)
    seconds["kid_s"] = time.perf_counter() - t
    is_mean = is_std = None
    t = time.perf_counter()
    if logits is not None:
        is_mean, is_std = qm.inception_score(logits, splits=s.is_splits, seed=seed)
    seconds["is_s"] = time.perf_counter() - t
    t = time.perf_counter()
    prdc = qm.precision_recall_density_coverage(real_f, feats, pr_k=s.pr_k, dc_k=s.dc_k,
                                               real_radii=ref.real_radii if radii is None else radii)
    seconds["prdc_s"] = time.perf_counter() - t
    t = time.perf_counter()
    fid = qm.frechet_distance(real_f, feats)
    seconds["fid_s"] = time.perf_counter() - t
    return {"fid": fid, "kid": kid, "kid_std": kid_std, "is": is_mean, "is_std": is_std, **prdc}


def floor_record(ref: SampleQualityReference, n: int, ctx: JobContext | None = None) -> dict | None:
    """The real-vs-real floor at N: N images of the other split (train; test if the real set is train) vs the real set.

    It depends on the real sets, the extractor and the settings alone, not on the model: kept on
    ``ref`` by N and in the cache folder (keyed by both sets' `features_key`, N and the metric
    settings), so it is computed once per real set. Returns None without the other split.
    """
    if n in ref.floors:
        return ref.floors[n]
    other_name = "train" if ref.settings.real_split == "test" else "test"
    if other_name == "train":
        other, other_f, other_l = ref.train, ref.train_features, ref.train_logits
    else:
        other, other_f, other_l = ref.test, ref.test_features, ref.test_logits
    if other is None or other_f is None:
        return None
    idx = _subset(other, n, ref.settings.seed + 1)
    compared = f"{other.name} {other.split} split ({len(idx):,} of {len(other):,} images, seeded)"

    def compute():
        logits = None if other_l is None else other_l[idx]
        return {"extractor": ref.extractor.name, "n_samples": len(idx), "real_set": ref.real_name,
                "compared_set": compared, **_scores(ref, other_f[idx], logits, seed=ref.settings.seed)}

    s = ref.settings
    keyed = "real" in ref.cache_keys and other_name in ref.cache_keys
    key = derived_key("floor", ref.cache_keys.get("real"), ref.cache_keys.get(other_name), len(idx), s.seed,
                      s.kid_subsets, s.kid_subset_size, s.is_splits, s.pr_k, s.dc_k, ref.extractor.name,
                      ref.real_name, compared) if keyed else None
    rec = cached_record(ref.cache_dir, "floor", key, compute)
    ref.floors[n] = rec
    return rec


def _held_out_nearest(ref: SampleQualityReference, space: str, held_out: np.ndarray, train: np.ndarray,
                      held_idx: np.ndarray) -> np.ndarray:
    """Distance of each held-out row to its nearest training row in ``space``; kept on ``ref`` and in the cache."""
    memo_key = (space, held_idx.tobytes())
    if memo_key in ref.held_out_nearest:
        return ref.held_out_nearest[memo_key]
    keyed = "train" in ref.cache_keys and "test" in ref.cache_keys
    key = derived_key("held_out_nearest", space, ref.cache_keys.get("train"), ref.cache_keys.get("test"),
                      held_idx.tobytes().hex()) if keyed else None
    got = cached_arrays(ref.cache_dir, "heldout", key,
                        lambda: {"nearest": mem.nearest_training(held_out, train, 1)[0][:, 0]},
                        lambda z: z.get("nearest") is not None and z["nearest"].shape == (len(held_idx),))
    ref.held_out_nearest[memo_key] = np.asarray(got["nearest"], np.float64)
    return ref.held_out_nearest[memo_key]


def generate_samples(model, n: int, seed: int, batch_size: int = 500, ctx: JobContext | None = None) -> np.ndarray:
    """``n`` images ``(n, C, H, W)`` float32 in [0, 1]: ``decode(z)`` of seeded prior draws ``z ~ p(z)``."""
    import torch

    z = model.sample_prior(n, torch.Generator().manual_seed(seed))
    out = np.empty((n, *model.image_shape), np.float32)
    with torch.no_grad():
        for i in range(0, n, batch_size):
            if ctx is not None:
                ctx.progress(i / n, f"decoding prior samples {i:,}/{n:,}")
            out[i:i + batch_size] = model.decode(z[i:i + batch_size]).cpu().numpy()
    return out


def _reconstruct(model, images: np.ndarray, batch_size: int, ctx: JobContext | None) -> np.ndarray:
    import torch

    out = np.empty_like(images, dtype=np.float32)
    with torch.no_grad():
        for i in range(0, len(images), batch_size):
            if ctx is not None:
                ctx.progress(i / len(images), f"reconstructing {i:,}/{len(images):,}")
            x = torch.from_numpy(np.ascontiguousarray(images[i:i + batch_size], np.float32))
            out[i:i + batch_size] = model.decode(model.encode(x)).cpu().numpy()
    return out


def sample_quality(model, settings: SampleQualitySettings | None = None, ctx: JobContext | None = None, *,
                   reference: SampleQualityReference | None = None,
                   on_note: Callable[[str], None] | None = None) -> SampleQualityResult:
    """Measure one model's samples: FID, KID, IS, precision/recall, density/coverage, floor, memorisation.

    ``settings.n_samples`` images ``decode(z)``, ``z ~ p(z)`` (seeded), are compared with the
    real set in the extractor's feature space (`explorer.core.sample_quality.metrics`); beside
    them the real-vs-real floor at the same N (`floor_record`), the reconstructions
    ``decode(encode(x))`` against their originals (models with an encoder), and the
    memorisation test of ``memorisation_samples`` samples against the whole train split
    (`explorer.core.sample_quality.memorisation`). FID falls as N grows: compare models only at
    equal N and the same real set and extractor, which every record names.

    Parameters
    ----------
    model : models.base.GenerativeModel
    settings : SampleQualitySettings, optional
    ctx : JobContext, optional
        Progress in [0, 1] and cancel between batches.
    reference : SampleQualityReference, optional
        From an earlier result (``result.reference``) with the same settings and image shape: the
        real side is not computed again.
    on_note : callable, optional
        Receives each note (N below the feature dimension, resizing, missing splits).

    Returns
    -------
    SampleQualityResult

    Raises
    ------
    SampleQualityError
        One sentence: N too small, images of the wrong size for the extractor, bad settings.
    models.base.ModelFileError, explorer.errors.DatasetError
        One sentence.
    explorer.core.jobs.Cancelled
        When ``ctx`` was cancelled.
    """
    settings = settings or SampleQualitySettings()
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    if reference is None or reference.settings != settings or tuple(reference.image_shape) != tuple(model.image_shape):
        from explorer.core.device import model_device

        extractor = load_extractor(settings.extractor)
        extractor.place(model_device(model))  # features where the model computes (an adapter's stay on the CPU)
        reference = prepare_reference(settings, model.image_shape, sub_context(ctx, 0.0, 0.45), extractor=extractor)
        seconds["reference_s"] = time.perf_counter() - t0
    ref, s, ex = reference, settings, reference.extractor
    notes = list(ref.notes)
    n = s.n_samples
    t = time.perf_counter()
    samples = generate_samples(model, n, s.seed, s.batch_size, sub_context(ctx, 0.45, 0.55))
    feats, logits = ex.run(samples, s.batch_size, sub_context(ctx, 0.55, 0.65), "samples")
    seconds["samples_s"] = time.perf_counter() - t
    for note in (qm.n_below_dimension_note(n, ex.num_features),
                 qm.n_below_dimension_note(len(ref.real_features), ex.num_features, "real images")):
        if note:
            notes.append(note)
    if not ex.has_logits:
        notes.append(f"the extractor {ex.short_name} has no logits, so no Inception Score is given.")
    t = time.perf_counter()
    if ctx is not None:
        ctx.progress(0.65, "FID, KID, IS, precision/recall, density/coverage")
    parts: dict[str, float] = {}
    scores = _scores(ref, feats, logits, seed=s.seed, seconds=parts)
    seconds["metrics_s"] = time.perf_counter() - t
    seconds.update({f"metrics_{k}": v for k, v in parts.items()})
    floor = None
    if s.floor:
        t = time.perf_counter()
        if ctx is not None:
            ctx.progress(0.75, "real-vs-real floor")
        floor = floor_record(ref, n, sub_context(ctx, 0.75, 0.8))
        seconds["floor_s"] = time.perf_counter() - t
    recon = None
    if s.reconstructions and getattr(model, "has_encoder", False):
        t = time.perf_counter()
        idx = _subset(ref.real, n, s.seed + 2)
        originals = ref.real.images[idx]
        rec_images = _reconstruct(model, originals, s.batch_size, sub_context(ctx, 0.8, 0.85))
        rf, rl = ex.run(rec_images, s.batch_size, sub_context(ctx, 0.85, 0.88), "reconstructions")
        sub_radii = ref.real_radii if len(idx) == len(ref.real) else {}  # {}: radii of the subset
        recon = {"extractor": ex.name, "n_samples": len(idx), "real_set": ref.real_name,
                 "compared": "decode(encode(x)) vs the originals x",
                 **_scores(ref, rf, rl, real_f=ref.real_features[idx], radii=sub_radii, seed=s.seed)}
        seconds["reconstructions_s"] = time.perf_counter() - t
    report = None
    if s.memorisation and ref.train is not None and ref.test is not None and ref.train_features is not None:
        t = time.perf_counter()
        if ctx is not None:
            ctx.progress(0.9, "memorisation: nearest training images")
        si = _subset(Dataset(samples), s.memorisation_samples, s.seed + 3)
        hi = _subset(ref.test, s.memorisation_held_out, s.seed + 4)
        flat = lambda a: np.ascontiguousarray(a, np.float32).reshape(len(a), -1)  # noqa: E731
        held = {"pixel": _held_out_nearest(ref, "pixel", flat(ref.test.images[hi]), flat(ref.train.images), hi),
                "feature": _held_out_nearest(ref, "feature", ref.test_features[hi], ref.train_features, hi)}
        report = mem.memorisation_report(
            samples[si], feats[si], ref.test.images[hi], ref.test_features[hi], ref.train.images, ref.train_features,
            k=mem.NEIGHBOURS, quantile=s.memorisation_quantile, sample_indices=si, held_out_nearest=held,
            facts={"extractor": ex.name, "training_set": _set_name(ref.train),
                   "held_out_set": _set_name(ref.test), "pixel_space": "L2 over pixel values in [0, 1]",
                   "feature_space": f"L2 in the {ex.num_features}-d features of {ex.short_name}"})
        seconds["memorisation_s"] = time.perf_counter() - t
    elif s.memorisation:
        notes.append("memorisation needs the train and test splits; it is left out.")
    record = {"extractor": ex.name, "n_samples": n, "real_set": ref.real_name, **scores,
              "floor": floor, "memorisation": None if report is None else report.to_dict()}
    pr = {"model": (scores["precision"], scores["recall"]),
          "floor": None if floor is None else (floor["precision"], floor["recall"]),
          "reconstructions": None if recon is None else (recon["precision"], recon["recall"])}
    if on_note:
        for note in notes:
            on_note(note)
    if ctx is not None:
        ctx.progress(1.0, "sample quality done")
    seconds["total_s"] = time.perf_counter() - t0
    return SampleQualityResult(record, recon, samples, feats, report, pr, notes, ref, seconds)
