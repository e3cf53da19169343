"""Headless measurements of models on a dataset (`latent-explorer evaluate`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from explorer.core.clustering import evaluate_clustering
from explorer.core.jobs import JobContext
from explorer.core.projection import compute_projection
from explorer.core.projection.spec import named_spec
from explorer.core.reconstruction.jobs import DEFAULT_INVERSION_IMAGES, reconstruction_records
from explorer.core.workspace import compute_codes, open_model
from explorer.data import Dataset, subsample_indices

#: Measurements `evaluate_models` knows.
METRICS: tuple[str, ...] = ("clustering", "reconstruction", "sample-quality", "likelihood", "disentanglement")

__all__ = ["METRICS", "DEFAULT_INVERSION_IMAGES", "reconstruction_subset", "evaluate_model_reconstruction",
           "evaluate_models"]

#: The seeded subset of the images measured (the same function the dataset readers use).
reconstruction_subset = subsample_indices


def evaluate_model_reconstruction(
    model,
    dataset: Dataset,
    precisions: Sequence[str] = ("float32",),
    n_images: int | None = None,
    sample: str = "mean",
    seed: int = 0,
    inversion=None,
    ctx: JobContext | None = None,
    on_note: Callable[[str], None] | None = None,
    store=None,
) -> tuple[dict, list[dict]]:
    """Reconstruction records of one model at each precision (codes computed once).

    `explorer.core.reconstruction.jobs.reconstruction_records`, which see for the
    parameters and the keys of the records.
    """
    return reconstruction_records(model, dataset, precisions, n_images, sample, seed, inversion, ctx,
                                  on_note=on_note, store=store)


def evaluate_models(
    checkpoints: Sequence[str | Path],
    dataset: Dataset,
    metrics: Sequence[str] = ("clustering",),
    k: int | None = None,
    space: str = "latent",
    projection: str = "pca",
    seed: int = 0,
    ctx: JobContext | None = None,
    on_note: Callable[[str], None] | None = None,
    *,
    umap_backend: str = "umap-learn",
    precisions: Sequence[str] = ("float32",),
    n_images: int | None = None,
    sample: str = "mean",
    inversion=None,
    gan_codes: str = "prior",
    cache: bool = True,
    sample_quality=None,
    likelihood=None,
    device=None,
    disentanglement=None,
) -> dict:
    """Measure each model on ``dataset``; the record ``latent-explorer evaluate --json`` writes.

    Parameters
    ----------
    checkpoints : sequence of path
        Checkpoints, adapters or TorchScript files.
    dataset : Dataset
        Resized per model to its input shape.
    metrics : sequence of {"clustering", "reconstruction"}
        What to measure.
    k : int, optional
        k-means clusters; default the number of classes, else 10.
    space : {"latent", "embedding"}
        Cluster the full codes ``z`` (N, d) or their 2-D ``projection``.
    projection : {"pca", "umap", "tsne"}
        The embedding used when ``space == "embedding"`` (default parameters, ``seed``).
    umap_backend : {"umap-learn", "cuml"}
        UMAP's implementation (`explorer.core.projection.spec.named_spec`); recorded as
        ``clustering.umap_backend`` when a UMAP embedding is clustered.
    seed : int
        Seed of k-means, the projection and prior samples.
    ctx : JobContext, optional
    on_note : callable, optional
        Receives sentences for the user (resizing, prior samples shown instead of data).
    precisions, n_images, sample, inversion
        Of the reconstruction measurement (`evaluate_model_reconstruction`): with several
        precisions, ``"reconstruction"`` holds the first and ``"reconstruction_by_precision"``
        the list for all of them, in the order given.
    gan_codes : {"prior", "inverted"}
        Clustering of a GAN without encoder: on samples from the prior (no labels, so no
        label-based scores), or on the codes of real images found by GAN inversion — a
        seeded sample of ``n_images`` (default `DEFAULT_INVERSION_IMAGES`), the same
        images whose reconstructions are measured.
    cache : bool
        Keep inverted codes in the user's cache folder (`explorer.core.reconstruction.inverted`), so
        that the next run — or the window — does not invert the same images again.
    sample_quality : explorer.core.sample_quality.SampleQualitySettings, optional
        Settings of the ``"sample-quality"`` measurement (default: its defaults with ``seed``); its
        real sets come from ``sample_quality.data`` (not ``dataset``) and are prepared once for all
        models. Adds ``"sample_quality"`` (`explorer.core.sample_quality.SampleQualityResult.record`)
        and ``"sample_quality_reconstructions"`` (None for a model without encoder) to each record.
    likelihood : explorer.core.likelihood.LikelihoodSettings, optional
        Of the ``"likelihood"`` measurement (`explorer.core.likelihood.estimate_likelihood`, whose
        ``record`` it stores); default ``LikelihoodSettings(seed=seed, n_images=n_images)``.
    device : torch.device, optional
        Where the models encode and decode (`explorer.core.device.resolve_device`); default the
        CPU. Every record says which device computed it (``"device"``; an adapter or TorchScript
        file stays on the CPU, `explorer.core.device.place_model`).
    disentanglement : DisentanglementSettings, optional
        Settings of the "disentanglement" measurement (default the reference settings):
        `explorer.core.disentanglement.evaluate_disentanglement` adds ``"disentanglement"``
        with its record (``"beta_vae"``, ``"factor_vae"``, ``"mig"``, ``"sap"``, ``"dci"``,
        ``"modularity"``, ``"explicitness"``, ``"settings"``, ``"n_train"``, ``"n_test"``,
        ``"sklearn_version"``); the dataset must have ground-truth factors.

    Returns
    -------
    dict
        ``{"models": [{"checkpoint": str, "kind": str, "latent_dim": int, "codes": "encoder" | "prior" | "inverted",
        "clustering": {"space", "k", "homogeneity", "completeness", "v_measure", "ari", "nmi",
        "silhouette", "silhouette_sample_size", "n_images", "projection"},
        "reconstruction": {"precision", "compression_ratio", "psnr_db", "ssim", "n_images",
        "codes": "encoder" | "inverted", "jpeg": {"quality", "compression_ratio", "psnr_db",
        "ssim", …}, …}, "reconstruction_by_precision": [...]}], "dataset": {...}}``.
        Label-based scores are None when the points have no labels (prior samples of
        a GAN without encoder have none). Records of inverted codes add ``"inversion"``
        (the `InversionSettings`). With ``"likelihood"`` in ``metrics`` each model record has
        ``"likelihood": {"estimator", "k" | "ais_steps", "n_images", "nll_nats", "nll_nats_ci95",
        "bits_per_dim", "elbo_nats", "observation_model", "data_convention", "bdmc_gap_nats" (AIS),
        "warning" (KDE), "units", …}`` — negative log-likelihood per image, lower is better.

    Raises
    ------
    models.base.ModelFileError
        A model file cannot be loaded (one sentence).
    explorer.core.likelihood.LikelihoodError
        The likelihood cannot be estimated for a model (one sentence naming it).
    """
    from explorer.core.reconstruction.inversion import InversionSettings
    from explorer.core.reconstruction.inverted import InvertedCodesStore, inverted_dataset_codes
    from explorer.core.workspace import dataset_identity

    if gan_codes not in ("prior", "inverted"):
        raise ValueError(f"gan_codes must be 'prior' or 'inverted', got {gan_codes!r}")
    if k is None:
        k = len(np.unique(dataset.labels)) if dataset.labels is not None else 10
    inversion = inversion or InversionSettings(seed=seed)
    dataset_id = None
    sq_reference = None  # the real side of sample quality, shared by the models
    records = []
    for path in checkpoints:
        entry = open_model(path)
        if device is not None and str(device) != "cpu":
            from explorer.core.device import place_model

            entry.device = str(place_model(entry.model, device))  # an adapter stays on the CPU: the record says so
        codes = store = None
        if not entry.model.has_encoder and ("reconstruction" in metrics or gan_codes == "inverted"):
            dataset_id = dataset_id or dataset_identity(dataset)
            store = InvertedCodesStore(entry.model, entry.file_hash, dataset_id, len(dataset), inversion,
                                       None if cache else False)
        if "clustering" in metrics and store is not None and gan_codes == "inverted":
            codes = inverted_dataset_codes(store, dataset, n_images or DEFAULT_INVERSION_IMAGES, seed, ctx)
        elif "clustering" in metrics:
            codes = compute_codes(entry.model, dataset, seed=seed, ctx=ctx)
            for note in codes.notes:
                if on_note:
                    on_note(f"{entry.name}: {note}")
        rec: dict = {"checkpoint": str(path), "kind": entry.model.kind, "latent_dim": entry.model.latent_dim,
                     "device": entry.device,
                     "codes": codes.source if codes is not None
                     else ("encoder" if entry.model.has_encoder else "prior")}
        if "reconstruction" in metrics:
            first, every = evaluate_model_reconstruction(
                entry.model, dataset, precisions, n_images, sample, seed, inversion, ctx,
                on_note=(lambda s, n=entry.name: on_note(f"{n}: {s}")) if on_note else None, store=store)
            rec["reconstruction"] = first
            rec["reconstruction_by_precision"] = every
        if "clustering" in metrics:
            embedding = None
            if space == "embedding":
                embedding = compute_projection(codes.z, named_spec(projection, seed, umap_backend), ctx).embedding
            rec["clustering"] = evaluate_clustering(codes.z, embedding, codes.labels, k, space=space, seed=seed)
            rec["clustering"]["projection"] = projection if space == "embedding" else None
            if space == "embedding" and projection == "umap":
                rec["clustering"]["umap_backend"] = umap_backend
            if codes.source == "inverted":
                rec["inversion"] = inversion.to_dict()
        if "sample-quality" in metrics:
            from explorer.core.sample_quality import SampleQualitySettings
            from explorer.core.sample_quality import sample_quality as measure_samples

            sq = measure_samples(entry.model, sample_quality or SampleQualitySettings(seed=seed), ctx,
                                 reference=sq_reference,
                                 on_note=(lambda s, n=entry.name: on_note(f"{n}: {s}")) if on_note else None)
            sq_reference = sq.reference
            rec["sample_quality"] = sq.record
            rec["sample_quality_reconstructions"] = sq.reconstructions
        if "likelihood" in metrics:
            from explorer.core.likelihood import LikelihoodSettings, estimate_likelihood

            rec["likelihood"] = estimate_likelihood(
                entry.model, dataset, likelihood or LikelihoodSettings(seed=seed, n_images=n_images), ctx,
                on_note=(lambda s, n=entry.name: on_note(f"{n}: {s}")) if on_note else None, name=entry.name).record
        if "disentanglement" in metrics:
            from explorer.core.disentanglement import evaluate_disentanglement

            result = evaluate_disentanglement(entry.model, dataset, disentanglement, seed=seed, ctx=ctx,
                                              inversion=inversion)
            rec["disentanglement"] = result.record
            for note in result.notes:
                if on_note:
                    on_note(f"{entry.name}: disentanglement: {note}")
        records.append(rec)
    return {"models": records,
            "dataset": {"name": dataset.name, "split": dataset.split, "n_images": len(dataset),
                        "image_shape": list(dataset.image_shape), "resize": dataset.resize}}
