"""A session's computed results in its companion ``.npz``: written from, and put back into, the model states."""

from __future__ import annotations

from typing import Any

import numpy as np

from explorer.core.projection.spec import ProjectionSpec
from explorer.core.session.state import ModelState

__all__ = ["results_arrays", "apply_results", "spec_to_dict", "spec_from_dict"]


def spec_to_dict(spec: ProjectionSpec | None) -> dict | None:
    """``{"method", "params", "seed"}`` of a projection spec (None stays None)."""
    return None if spec is None else {"method": spec.method, "params": dict(spec.params), "seed": spec.seed}


def spec_from_dict(d: dict | None) -> ProjectionSpec | None:
    """The projection spec of :func:`spec_to_dict`'s dict (None stays None).

    Raises
    ------
    ValueError
        Not a dict, or an unknown method / parameter / value.
    """
    if d is None:
        return None
    if not isinstance(d, dict):
        raise ValueError("not an object")
    return ProjectionSpec(d.get("method", "pca"), d.get("params", {}), d.get("seed", 0))


def results_arrays(session) -> tuple[dict, dict]:
    """The arrays of a session's results file and their metadata (see ``docs/session-format.md``)."""
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {"dataset_identity": session.dataset_id, "models": []}
    for i, m in enumerate(session.models):
        if m.codes is None:
            meta["models"].append(None)
            continue
        c = m.codes
        arrays[f"m{i}_z"] = np.asarray(c.z, np.float32)
        if c.indices is not None:
            arrays[f"m{i}_indices"] = np.asarray(c.indices, np.int64)
        if c.fit_error is not None:
            arrays[f"m{i}_fit_error"] = np.asarray(c.fit_error, np.float64)
        entry: dict[str, Any] = {"sha256": m.file_hash, "source": c.source, "notes": list(c.notes),
                                 "embeddings": [], "clustering": None}
        for j, (spec, res) in enumerate(m.embeddings.items()):
            arrays[f"m{i}_e{j}"] = np.asarray(res.embedding, np.float32)
            entry["embeddings"].append({"spec": spec_to_dict(spec), "key": res.key, "meta": res.meta})
        if m.clustering is not None:
            arrays[f"m{i}_clusters"] = np.asarray(m.clustering.labels, np.int64)
            entry["clustering"] = m.clustering.to_dict()
        meta["models"].append(entry)
    return arrays, meta


def apply_results(session, m: ModelState) -> None:
    """Use ``m``'s saved results (codes, embeddings, clustering) now that the dataset is open; clears them."""
    from explorer.core.clustering import SCORE_KEYS, ClusteringResult
    from explorer.core.embedding import EmbeddingResult
    from explorer.core.workspace import LatentCodes

    res, m.results = m.results, None
    ds = session.dataset
    if res is None or ds is None or m.codes is not None or res["dataset_identity"] != session.dataset_id:
        return
    arrays, meta, i = res["arrays"], res["meta"], res["index"]
    z = arrays.get(f"m{i}_z")
    if z is None:
        return
    indices = arrays.get(f"m{i}_indices")
    source = meta.get("source", "encoder")
    if source == "prior":
        return  # the images of prior samples are G(z): the model must be loaded for them
    images = ds.images if indices is None else ds.images[indices]
    labels = ds.labels if indices is None or ds.labels is None else ds.labels[indices]
    if len(z) != len(images):
        return
    m.codes = LatentCodes(z=z, source=source, images=images, labels=labels, notes=tuple(meta.get("notes", ())),
                          indices=indices, fit_error=arrays.get(f"m{i}_fit_error"))
    m.file_hash = m.file_hash or meta.get("sha256")
    m.preview = m.entry is None
    for j, e in enumerate(meta.get("embeddings", [])):
        spec = spec_from_dict(e["spec"])
        m.embeddings[spec] = EmbeddingResult(embedding=arrays[f"m{i}_e{j}"], spec=spec, key=e.get("key", ""),
                                             from_cache=True, meta=e.get("meta") or {})
    if m.want_spec in m.embeddings:
        m.shown, m.want_spec, m.view_range, m.want_view_range = m.want_spec, None, m.want_view_range, None
    c = meta.get("clustering")
    if c is not None and f"m{i}_clusters" in arrays and (c["space"] == "latent" or m.want_spec is None):
        labels_pred = arrays[f"m{i}_clusters"]
        scores = None if c.get(SCORE_KEYS[0]) is None else {k: c[k] for k in SCORE_KEYS}
        m.clustering = ClusteringResult(space=c["space"], k=int(c["k"]), seed=int(c["seed"]), labels=labels_pred,
                                        scores=scores, silhouette=c.get("silhouette"), n=int(c["n"]),
                                        silhouette_sample_size=c.get("silhouette_sample_size"))
        m.want_clustering = None
    if m.entry is not None:
        m.entry.codes = m.codes
    session.codes_changed.emit(m.key)
    session.embedding_changed.emit(m.key)
    session.clustering_changed.emit(m.key)
