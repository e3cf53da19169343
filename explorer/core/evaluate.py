"""Headless measurements of models on a dataset (`latent-explorer evaluate`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from explorer.core.clustering import evaluate_clustering
from explorer.core.jobs import JobContext
from explorer.core.projection import ProjectionSpec, compute_projection
from explorer.core.workspace import compute_codes, open_model
from explorer.data import Dataset


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
) -> dict:
    """Measure each model on ``dataset``; the record ``latent-explorer evaluate --json`` writes.

    Parameters
    ----------
    checkpoints : sequence of path
        Checkpoints, adapters or TorchScript files.
    dataset : Dataset
        Resized per model to its input shape.
    metrics : sequence of {"clustering"}
        What to measure.
    k : int, optional
        k-means clusters; default the number of classes, else 10.
    space : {"latent", "embedding"}
        Cluster the full codes ``z`` (N, d) or their 2-D ``projection``.
    projection : {"pca", "umap", "tsne"}
        The embedding used when ``space == "embedding"`` (default parameters, ``seed``).
    seed : int
        Seed of k-means, the projection and prior samples.
    ctx : JobContext, optional
    on_note : callable, optional
        Receives sentences for the user (resizing, prior samples shown instead of data).

    Returns
    -------
    dict
        ``{"models": [{"checkpoint": str, "kind": str, "latent_dim": int, "codes": "encoder" | "prior",
        "clustering": {"space", "k", "homogeneity", "completeness", "v_measure", "ari", "nmi",
        "silhouette", "silhouette_sample_size", "n_images", "projection"}}], "dataset": {...}}``.
        Label-based scores are None when the points have no labels (a GAN without
        encoder is measured on prior samples, which have none).

    Raises
    ------
    models.base.ModelFileError
        A model file cannot be loaded (one sentence).
    """
    if k is None:
        k = len(np.unique(dataset.labels)) if dataset.labels is not None else 10
    records = []
    for path in checkpoints:
        entry = open_model(path)
        codes = compute_codes(entry.model, dataset, seed=seed, ctx=ctx)
        for note in codes.notes:
            if on_note:
                on_note(f"{entry.name}: {note}")
        rec: dict = {"checkpoint": str(path), "kind": entry.model.kind, "latent_dim": entry.model.latent_dim,
                     "codes": codes.source}
        if "clustering" in metrics:
            embedding = None
            if space == "embedding":
                embedding = compute_projection(codes.z, ProjectionSpec(projection, {}, seed), ctx).embedding
            rec["clustering"] = evaluate_clustering(codes.z, embedding, codes.labels, k, space=space, seed=seed)
            rec["clustering"]["projection"] = projection if space == "embedding" else None
        records.append(rec)
    return {"models": records,
            "dataset": {"name": dataset.name, "split": dataset.split, "n_images": len(dataset),
                        "image_shape": list(dataset.image_shape)}}
