"""A session's computed results in its companion ``.npz``: written from, and put back into, the model states."""

from __future__ import annotations

import json
import zipfile
from typing import Any

import numpy as np

from explorer.core.projection.spec import ProjectionSpec
from explorer.core.session.state import ModelState

__all__ = ["results_arrays", "apply_results", "ResultsFile", "spec_to_dict", "spec_from_dict"]


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


class ResultsFile:
    """A session's results ``.npz``, read member by member: each array's header (shape, dtype) is checked
    against what it must be before its data is read, so a damaged or hostile file costs nothing.

    Parameters
    ----------
    path : pathlib.Path

    Raises
    ------
    ValueError
        Not a zip archive, or its ``meta`` member is missing or not the expected JSON.
    """

    #: Largest ``meta`` member read (bytes).
    MAX_META = 16 * 1024 * 1024

    def __init__(self, path) -> None:
        self.path = path
        try:
            with zipfile.ZipFile(path) as zf:
                info = zf.getinfo("meta.npy")
                if info.file_size > self.MAX_META:
                    raise ValueError("its metadata is too large")
                meta = self._read(zf, "meta", lambda shape, dtype: dtype == np.uint8 and len(shape) == 1)
            self.meta = json.loads(bytes(meta).decode("utf-8"))
        except (OSError, KeyError, zipfile.BadZipFile, UnicodeDecodeError, EOFError) as exc:
            raise ValueError(f"{type(exc).__name__}: {exc}") from None
        if not isinstance(self.meta, dict) or not isinstance(self.meta.get("models"), list):
            raise ValueError("its metadata has no model list")

    @staticmethod
    def _read(zf, name: str, accept) -> np.ndarray:
        with zf.open(name + ".npy") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"its array {name!r} has an unknown .npy version {version}")
            if dtype.hasobject or not accept(shape, dtype):
                raise ValueError(f"its array {name!r} has shape {shape} and dtype {dtype}, not what it must be")
            return _read_data(f, shape, dtype, fortran)

    def model(self, i: int) -> dict | None:
        """The metadata of model ``i`` (a dict) or None."""
        models = self.meta["models"]
        entry = models[i] if 0 <= i < len(models) else None
        return entry if isinstance(entry, dict) else None

    def array(self, name: str, shape: tuple, kinds: str) -> np.ndarray | None:
        """Member ``name`` if it is there with exactly ``shape`` (None = any length on that axis) and a dtype of
        one of ``kinds`` (numpy kind letters); None when absent. Raises ValueError when present but wrong."""
        def accept(s, dtype):
            return len(s) == len(shape) and all(w is None or w == v for w, v in zip(shape, s, strict=True)) \
                and dtype.kind in kinds
        try:
            with zipfile.ZipFile(self.path) as zf:
                if name + ".npy" not in zf.namelist():
                    return None
                return self._read(zf, name, accept)
        except (OSError, zipfile.BadZipFile, EOFError) as exc:
            raise ValueError(f"{type(exc).__name__}: {exc}") from None


def _read_data(f, shape, dtype, fortran) -> np.ndarray:
    """The data of an ``.npy`` member after its header (its size is known and checked by the caller)."""
    count = int(np.prod(shape, dtype=np.int64))
    data = f.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise ValueError("an array is truncated")
    a = np.frombuffer(data, dtype=dtype, count=count)
    return (a.reshape(shape[::-1]).T if fortran else a.reshape(shape)).copy()


def apply_results(session, m: ModelState) -> None:
    """Use ``m``'s saved results (codes, embeddings, clustering) now that the dataset is open; clears them.

    Only results whose dataset identity and model hash match, and whose arrays have the
    shapes the dataset and the codes need, are used; anything else is said in one sentence
    (``session.error_reported``) and computed again.
    """
    res, m.results = m.results, None
    if res is None or session.dataset is None or m.codes is not None:
        return
    file = res["file"]
    try:
        _apply(session, m, file, res["index"], res["sha256"])
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        m.codes, m.embeddings, m.shown, m.clustering = None, {}, None, None
        session.error_reported.emit(f"The results file '{file.path.name}' does not fit this session ({exc}); "
                                    f"the results of {m.name} are computed again.")


def _apply(session, m: ModelState, file, i: int, sha256: str) -> None:
    from explorer.core.clustering import SCORE_KEYS, ClusteringResult
    from explorer.core.embedding import EmbeddingResult
    from explorer.core.workspace import LatentCodes

    ds = session.dataset
    meta = file.model(i)
    if meta is None or meta.get("sha256") != sha256 or file.meta.get("dataset_identity") != session.dataset_id:
        return  # made for another model file or another dataset: computed again, nothing to say
    source = meta.get("source", "encoder")
    if source not in ("encoder", "inverted"):
        return  # the images of prior samples are G(z): the model must be loaded for them
    n_data = len(ds)
    indices = file.array(f"m{i}_indices", (None,), "i")
    if indices is not None and (len(indices) == 0 or indices.min() < 0 or indices.max() >= n_data
                                or np.any(np.diff(indices) <= 0)):
        raise ValueError("its dataset indices do not fit the dataset")
    n = n_data if indices is None else len(indices)
    z = file.array(f"m{i}_z", (n, None), "f")
    if z is None or z.shape[1] < 1 or not np.all(np.isfinite(z)):
        raise ValueError("its codes are missing, not N × d or not finite")
    z = z.astype(np.float32, copy=False)
    fit_error = file.array(f"m{i}_fit_error", (n,), "f")
    images = ds.images if indices is None else ds.images[indices]
    labels = ds.labels if indices is None or ds.labels is None else ds.labels[indices]
    embeddings = {}
    entries = meta.get("embeddings", [])
    if not isinstance(entries, list):
        raise ValueError("its embeddings are not a list")
    for j, e in enumerate(entries):
        spec = spec_from_dict(e["spec"])
        xy = file.array(f"m{i}_e{j}", (n, 2), "f")
        if xy is None:
            raise ValueError(f"embedding {j} is missing")
        embeddings[spec] = EmbeddingResult(embedding=xy.astype(np.float32, copy=False), spec=spec,
                                           key=str(e.get("key", "")), from_cache=True,
                                           meta=e.get("meta") if isinstance(e.get("meta"), dict) else {})
    clustering = None
    c = meta.get("clustering")
    clusters = file.array(f"m{i}_clusters", (n,), "iu")
    if isinstance(c, dict) and clusters is not None:
        k = int(c["k"])
        if c["space"] not in ("latent", "embedding") or not 1 <= k <= n or clusters.min() < 0 or clusters.max() >= k:
            raise ValueError("its clustering does not fit its points")
        scores = None if c.get(SCORE_KEYS[0]) is None else {key: float(c[key]) for key in SCORE_KEYS}
        clustering = ClusteringResult(space=c["space"], k=k, seed=int(c["seed"]), labels=clusters.astype(np.int64),
                                      scores=scores, silhouette=c.get("silhouette"), n=n,
                                      silhouette_sample_size=c.get("silhouette_sample_size"))
    m.codes = LatentCodes(z=z, source=source, images=images, labels=labels,
                          notes=tuple(str(x) for x in meta.get("notes", ()))[:8], indices=indices,
                          fit_error=None if fit_error is None else fit_error.astype(np.float64))
    m.file_hash = m.file_hash or sha256
    m.preview = m.entry is None
    m.embeddings = embeddings
    if m.want_spec in m.embeddings:
        m.shown, m.want_spec, m.view_range, m.want_view_range = m.want_spec, None, m.want_view_range, None
    if clustering is not None and (clustering.space == "latent" or m.shown is not None):
        m.clustering, m.want_clustering = clustering, None
    if m.entry is not None:
        m.entry.codes = m.codes
    session.codes_changed.emit(m.key)
    session.embedding_changed.emit(m.key)
    session.clustering_changed.emit(m.key)
