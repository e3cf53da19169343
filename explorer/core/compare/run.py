"""Measuring several models on the same dataset images once, for the scorecard, its report and the bench.

One orchestration (DESIGN.md §2): `compare_models` opens each model, fits the same seeded
sample of dataset images to it, finds each image's full-precision code once — from the
encoder, or for a GAN without encoder from the shared inverted-codes store
(`explorer.core.reconstruction.inverted`) — and uses those codes for the clustering, for the
reconstructions at every precision, and for the report's figures. Its records have the layout
of `explorer.core.evaluate.evaluate_models`, so each number equals single-model ``evaluate``
on the same images.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from explorer.core.jobs import JobContext, sub_context
from explorer.importing import load

__all__ = ["BASE_METRICS", "ModelRun", "Comparison", "compare_models", "silhouette_values", "clustering_record"]

#: The measurements `compare_models` makes itself on the shared images; other names of
#: `explorer.core.evaluate.METRICS` (likelihood, sample quality, disentanglement, as they land)
#: are measured by `evaluate_models` and merged into the same records.
BASE_METRICS: tuple[str, ...] = ("clustering", "reconstruction")


@dataclass
class ModelRun:
    """One model of a comparison and what was computed for it on the shared images.

    Attributes
    ----------
    path : pathlib.Path
    entry : explorer.core.workspace.ModelEntry
    record : dict
        Its record, in the layout of `explorer.core.evaluate.evaluate_models` (plus ``name``,
        ``parameters``, ``training_data``, ``image_shape``).
    images : numpy.ndarray, shape (N, C, H, W), float32 in [0, 1]
        The shared images fitted to this model.
    codes : numpy.ndarray, shape (N, d), float32
        Full-precision codes of the images: posterior mean / encoder output, or inverted.
    source : {"encoder", "inverted"}
    cluster_labels : numpy.ndarray, shape (N,), int64, or None
        k-means cluster of each image.
    silhouette : numpy.ndarray or None
        Per-image silhouette values s(i) the record's silhouette is the mean of, shape (S,)
        (S = N, or the seeded sample of `explorer.core.clustering.SILHOUETTE_MAX_SAMPLES`).
    embedding : numpy.ndarray, shape (N, 2), or None
        The 2-D projection clustered when the space is "embedding".
    reports : list of ReconstructionReport
        One per precision, in the order asked for (reconstructions kept for the figures).
    inversion : InversionSettings or None
        How inverted codes were found.
    store : InvertedCodesStore or None
        The store the inverted codes came from (the report's figures read it again, never invert).
    """

    path: Path
    entry: Any
    record: dict
    images: np.ndarray
    codes: np.ndarray
    source: str
    cluster_labels: np.ndarray | None = None
    silhouette: np.ndarray | None = None
    embedding: np.ndarray | None = None
    reports: list = field(default_factory=list)
    inversion: Any = None
    store: Any = None

    @property
    def name(self) -> str:
        """The model's file name."""
        return self.entry.name


@dataclass
class Comparison:
    """Every model measured on the same images.

    Attributes
    ----------
    runs : list of ModelRun
        In the order given.
    indices : numpy.ndarray, shape (N,), int64
        Dataset indices of the shared images (`explorer.data.subsample_indices`).
    labels : numpy.ndarray, shape (N,), or None
        Their classes.
    dataset : explorer.data.Dataset
        As opened.
    settings : dict
        ``metrics``, ``k``, ``space``, ``projection``, ``seed``, ``precisions``, ``sample``, ``n_images``.
    notes : list of str
        Sentences for the user (inverted codes, resizing, the sample size chosen).
    """

    runs: list[ModelRun]
    indices: np.ndarray
    labels: np.ndarray | None
    dataset: Any
    settings: dict
    notes: list[str] = field(default_factory=list)

    @property
    def n_images(self) -> int:
        """N, the images every model was measured on."""
        return int(len(self.indices))

    def result(self) -> dict:
        """``{"models": [...], "dataset": {...}}`` — the layout `evaluate --json` writes."""
        ds = self.dataset
        return {"models": [r.record for r in self.runs],
                "dataset": {"name": ds.name, "split": ds.split, "n_images": len(ds),
                            "image_shape": list(ds.image_shape)}}


def silhouette_values(x: np.ndarray, labels: np.ndarray, seed: int = 0,
                      max_samples: int | None = None) -> np.ndarray | None:
    """Per-point silhouette values whose mean is `explorer.core.clustering.silhouette`'s score.

    Parameters
    ----------
    x : numpy.ndarray, shape (N, D), float
        Points that were clustered.
    labels : numpy.ndarray, shape (N,), int
    seed : int
        Seed of the sample drawn when N > ``max_samples`` (scikit-learn's sampling in
        ``silhouette_score(..., sample_size, random_state=seed)``).
    max_samples : int, optional
        Default `explorer.core.clustering.SILHOUETTE_MAX_SAMPLES`.

    Returns
    -------
    numpy.ndarray, shape (S,), float (the points' dtype), or None
        ``sklearn.metrics.silhouette_samples`` (Rousseeuw 1987, Euclidean) of all N points
        or of the seeded sample; None when the silhouette is undefined (fewer than 2 or more
        than N − 1 clusters).
    """
    load("sklearn.metrics", "sklearn.utils")
    from sklearn.metrics import silhouette_samples
    from sklearn.utils import check_random_state

    from explorer.core.clustering import SILHOUETTE_MAX_SAMPLES

    max_samples = SILHOUETTE_MAX_SAMPLES if max_samples is None else int(max_samples)
    x = np.asarray(x)
    labels = np.asarray(labels)
    n = len(x)
    if not 2 <= np.unique(labels).size <= n - 1:
        return None
    if n > max_samples:
        pick = check_random_state(int(seed)).permutation(n)[:max_samples]
        x, labels = x[pick], labels[pick]
    return np.asarray(silhouette_samples(x, labels))  # its dtype: the mean is scikit-learn's score to the bit


def clustering_record(result, sil: np.ndarray | None, n_total: int, projection: str | None) -> dict:
    """The ``"clustering"`` record of `explorer.core.clustering.evaluate_clustering` from a clustering and
    its silhouette values (no k-means or distance computed again).

    Parameters
    ----------
    result : explorer.core.clustering.ClusteringResult
    sil : numpy.ndarray or None
        `silhouette_values` of the same points and labels.
    n_total : int
        Points clustered (N).
    projection : str or None
        The projection clustered ("embedding" space), else None.
    """
    from explorer.core.clustering import SCORE_KEYS, SILHOUETTE_MAX_SAMPLES

    out: dict[str, Any] = {"space": result.space, "k": result.k}
    for key in SCORE_KEYS:
        out[key] = None if result.scores is None else result.scores[key]
    out["silhouette"] = None if sil is None else float(np.mean(sil))
    sampled = sil is not None and n_total > SILHOUETTE_MAX_SAMPLES
    out["silhouette_sample_size"] = int(SILHOUETTE_MAX_SAMPLES) if sampled else None
    out["n_images"] = int(n_total)
    out["projection"] = projection
    return out


def _describe_training(info: dict) -> str | None:
    """"fashion-mnist train split (60,000 images)" from a checkpoint's provenance, or None."""
    name = info.get("dataset")
    if not name:
        return None
    extra = info.get("extra") or {}
    split = extra.get("split")
    n = extra.get("n_train")
    text = str(name) + (f" {split} split" if split and split != "all" else "")
    return text + (f" ({int(n):,} images)" if isinstance(n, int) else "")


def compare_models(
    checkpoints: Sequence[str | Path],
    dataset,
    metrics: Sequence[str] = BASE_METRICS,
    *,
    n_images: int | None = None,
    k: int | None = None,
    space: str = "latent",
    projection: str = "pca",
    umap_backend: str = "umap-learn",
    seed: int = 0,
    precisions: Sequence[str] = ("float32",),
    sample: str = "mean",
    inversion=None,
    cache: bool | str = True,
    ctx: JobContext | None = None,
    device=None,
    on_note: Callable[[str], None] | None = None,
) -> Comparison:
    """Measure every model on the same seeded sample of dataset images, each code found once (job).

    Parameters
    ----------
    checkpoints : sequence of path
        Checkpoints, adapters or TorchScript files (at least one).
    dataset : explorer.data.Dataset
        As opened; fitted to each model here (resizing is noted per model).
    metrics : sequence of str
        "clustering" and/or "reconstruction" (computed here), and any other name of
        `explorer.core.evaluate.METRICS` (measured by `evaluate_models` and merged).
    n_images : int, optional
        N: a seeded sample (`explorer.data.subsample_indices`, ``seed``); default every image,
        or `explorer.core.reconstruction.jobs.DEFAULT_INVERSION_IMAGES` when a model needs GAN
        inversion (said in a note). The same N images for every model.
    k : int, optional
        k-means clusters; default the number of classes, else 10.
    space : {"latent", "embedding"}
        Cluster the codes z (N, d) or their 2-D ``projection``.
    projection : {"pca", "umap", "tsne"}
        The embedding clustered with ``space="embedding"``.
    umap_backend : {"umap-learn", "cuml"}
        UMAP's implementation (`explorer.core.projection.spec.named_spec`), kept in the settings.
    seed : int
        Seeds the sample of images, k-means, the silhouette sample, projections and prior draws.
    precisions : sequence of str
        Reconstruction precisions ("float32", "float16", "kbit"); the first fills ``"reconstruction"``.
    sample : {"mean", "posterior"}
        Reconstruction codes of a VAE (clustering always uses the posterior mean, as ``evaluate``).
    inversion : InversionSettings, optional
        GAN inversion settings (default ``InversionSettings(seed=seed)``).
    cache : bool or path
        Keep inverted codes in the user's cache folder (True), in memory only (False), or in
        this folder.
    ctx : JobContext, optional
        Progress (one share per model) and cancel.
    device : torch.device, optional
        Where the models compute (`explorer.core.workspace.open_model`); default the CPU. Each
        record's ``"device"`` says where it did.
    on_note : callable, optional
        Receives each note as it is made.

    Returns
    -------
    Comparison

    Raises
    ------
    ValueError
        No checkpoint, an unknown metric, space or sample, or k outside [1, N].
    models.base.ModelFileError
        A model file cannot be loaded.
    explorer.core.jobs.Cancelled
    """
    from explorer.core.clustering import cluster
    from explorer.core.evaluate import METRICS
    from explorer.core.reconstruction.inversion import InversionSettings
    from explorer.core.reconstruction.inverted import InvertedCodesStore
    from explorer.core.reconstruction.jobs import DEFAULT_INVERSION_IMAGES, fitted_images, reconstruction_record
    from explorer.core.reconstruction.reconstruct import latent_codes, reconstruction_report
    from explorer.core.workspace import dataset_identity, open_model
    from explorer.data import subsample_indices

    if not checkpoints:
        raise ValueError("compare needs at least one model")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; known: {', '.join(METRICS)}")
    if space not in ("latent", "embedding"):
        raise ValueError(f"space must be 'latent' or 'embedding', got {space!r}")
    if sample not in ("mean", "posterior"):
        raise ValueError(f"sample must be 'mean' or 'posterior', got {sample!r}")
    notes: list[str] = []

    def note(text: str) -> None:
        notes.append(text)
        if on_note:
            on_note(text)

    inversion = inversion or InversionSettings(seed=seed)
    entries = [open_model(p, device) for p in checkpoints]
    if n_images is None and any(not e.model.has_encoder for e in entries):
        n_images = DEFAULT_INVERSION_IMAGES
        if len(dataset) > n_images:
            note(f"A model needs GAN inversion (slow): every model is measured on the same seeded sample of "
                 f"{n_images} images (use --n-images to change)")
    idx = subsample_indices(len(dataset), n_images, seed)
    n = len(idx)
    labels = None if dataset.labels is None else np.ascontiguousarray(dataset.labels[idx])
    if k is None:
        k = len(np.unique(dataset.labels)) if dataset.labels is not None else 10
    if "clustering" in metrics and not 1 <= int(k) <= n:
        raise ValueError(f"k = {k} clusters need at least k images; the comparison has N = {n:,}")
    dataset_id = None
    runs: list[ModelRun] = []
    m_total = len(entries)
    for i, entry in enumerate(entries):
        mctx = sub_context(ctx, i / m_total, (i + 1) / m_total)
        model = entry.model
        x, orig = fitted_images(model, dataset, idx)
        if x.shape[1:] != orig.shape[1:]:
            c0, h0, w0 = orig.shape[1:]
            c, h, w = x.shape[1:]
            note(f"{entry.name}: the images are resized from {h0}×{w0}×{c0} to the model's {h}×{w}×{c}; "
                 f"compression ratios use the bits of the original images")
        store = None
        if model.has_encoder:
            codes, _, _ = latent_codes(model, x, "encoder", "mean", seed, sub_context(mctx, 0.0, 0.3))
            source, used_inversion = "encoder", None
        else:
            dataset_id = dataset_id or dataset_identity(dataset)
            directory = None if cache is True else (False if cache is False else cache)
            store = InvertedCodesStore(model, entry.file_hash, dataset_id, len(dataset), inversion, directory)
            codes = store.get(idx, x, sub_context(mctx, 0.0, 0.6)).codes
            source, used_inversion = "inverted", store.settings
            note(f"{entry.name}: a GAN without encoder takes part through the inverted codes of the same "
                 f"{n:,} images (GAN inversion, codes labelled “inverted”)")
        info = entry.info or {}
        rec: dict = {"checkpoint": str(entry.path), "kind": model.kind, "latent_dim": int(model.latent_dim),
                     "codes": source, "device": entry.device, "name": entry.name, "parameters": info.get("parameters"),
                     "training_data": _describe_training(info), "image_shape": list(model.image_shape)}
        run = ModelRun(Path(entry.path), entry, rec, x, codes, source, inversion=used_inversion, store=store)
        if "reconstruction" in metrics:
            rcodes = codes
            if model.has_encoder and sample == "posterior":
                rcodes, _, _ = latent_codes(model, x, "encoder", "posterior", seed, sub_context(mctx, 0.6, 0.7))
            k_p = max(len(precisions), 1)
            for j, p in enumerate(precisions):
                rep = reconstruction_report(model, x, p, sub_context(mctx, 0.7 + 0.2 * j / k_p,
                                                                     0.7 + 0.2 * (j + 1) / k_p),
                                            codes_source=source, codes=rcodes, inversion=used_inversion,
                                            originals=orig)
                run.reports.append(rep)
            every = [reconstruction_record(rep, sample) for rep in run.reports]
            rec["reconstruction"] = every[0]
            rec["reconstruction_by_precision"] = every
        if "clustering" in metrics:
            points = codes
            if space == "embedding":
                from explorer.core.projection import compute_projection
                from explorer.core.projection.spec import named_spec

                run.embedding = compute_projection(codes, named_spec(projection, seed, umap_backend),
                                                   sub_context(mctx, 0.9, 0.95)).embedding
                points = run.embedding
            result = cluster(points, int(k), seed, space, labels, with_silhouette=False)
            run.cluster_labels = result.labels
            run.silhouette = silhouette_values(points, result.labels, seed)
            rec["clustering"] = clustering_record(result, run.silhouette, n,
                                                  projection if space == "embedding" else None)
            if source == "inverted":
                rec["inversion"] = inversion.to_dict()
        if mctx is not None:
            mctx.progress(1.0, f"{entry.name} measured on {n:,} images")
        runs.append(run)
    comparison = Comparison(runs, idx, labels, dataset,
                            {"metrics": list(metrics), "k": int(k), "space": space, "projection": projection,
                             "umap_backend": umap_backend,
                             "seed": int(seed), "precisions": list(precisions), "sample": sample,
                             "n_images": n}, notes)
    others = [m for m in metrics if m not in BASE_METRICS]
    if others:
        _merge_other_metrics(comparison, checkpoints, others, n_images, seed, ctx, on_note, device)
    return comparison


def _merge_other_metrics(comparison: Comparison, checkpoints, metrics, n_images, seed, ctx, on_note,
                         device=None) -> None:
    """Measure the other metric families with `evaluate_models` and add their keys to each record."""
    from explorer.core.evaluate import evaluate_models

    extra = evaluate_models(checkpoints, comparison.dataset, metrics=list(metrics), seed=seed, n_images=n_images,
                            ctx=ctx, on_note=on_note, device=device)
    for run, rec in zip(comparison.runs, extra["models"], strict=True):
        for key, value in rec.items():
            run.record.setdefault(key, value)
