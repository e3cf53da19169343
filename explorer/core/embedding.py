"""What the embedding window computes, without Qt: latent codes and 2-D projections, cached on disk."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from explorer.core.export import atomic_write
from explorer.core.jobs import JobContext

# explorer.core.projection (and with it scikit-learn, ~1 s) is imported where it is
# used, so the window can paint before it is loaded; the spec and the cache are light.
if TYPE_CHECKING:
    from explorer.core.projection.cache import ProjectionCache
    from explorer.core.projection.spec import ProjectionSpec

log = logging.getLogger(__name__)

__all__ = [
    "CodesCache",
    "EmbeddingResult",
    "codes_cache_key",
    "codes_identity",
    "default_spec",
    "encode_cached",
    "Preview",
    "peek_cached",
    "project_cached",
]


# --------------------------------------------------------------------------------------
# Latent codes, cached on disk
# --------------------------------------------------------------------------------------


def codes_cache_key(model_sha256: str, dataset_id: str, source: str = "encoder", seed: int = 0) -> str:
    """The cache key of a model's latent codes of a dataset.

    Parameters
    ----------
    model_sha256 : str
        SHA-256 of the model file (``ModelEntry.file_hash``).
    dataset_id : str
        :func:`explorer.core.workspace.dataset_identity` of the dataset.
    source : {"encoder", "prior"}
        How the codes were made.
    seed : int
        Seed of prior samples (unused for the encoder, but part of the key).

    Returns
    -------
    str
        JSON text; equal inputs give equal keys.
    """
    return json.dumps({"version": 1, "model": str(model_sha256), "dataset": str(dataset_id),
                       "source": str(source), "seed": int(seed)}, sort_keys=True)


class CodesCache:
    """Encoder codes on disk, one ``.npy`` (float32, (N, d)) plus a ``.json`` of notes per key.

    Encoding the 10,000 bundled test images takes about 2 s on two cores; re-opening a
    model reads its codes back in a few milliseconds instead.

    Parameters
    ----------
    directory : str or os.PathLike, optional
        Default ``explorer.paths.cache_dir() / "codes"``.

    Notes
    -----
    Writes are atomic (temp file, then rename). An unreadable or malformed file is a miss
    and is removed.
    """

    def __init__(self, directory: str | os.PathLike | None = None):
        if directory is None:
            from explorer.paths import cache_dir

            directory = cache_dir() / "codes"
        self.directory = Path(directory)

    def path_for(self, key: str) -> Path:
        """The ``.npy`` file of ``key``."""
        return self.directory / (hashlib.sha256(key.encode("utf-8")).hexdigest() + ".npy")

    def get(self, key: str, n: int | None = None) -> tuple[np.ndarray, dict] | None:
        """``(z, meta)`` for ``key`` or None; ``z`` is (N, d) float32 (N checked against ``n``)."""
        path = self.path_for(key)
        try:
            z = np.load(path, allow_pickle=False)
            meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001 - any unreadable file is a miss
            log.warning("ignoring unreadable codes cache file %s: %s", path, exc)
            self.remove(key)
            return None
        if (z.ndim != 2 or not np.issubdtype(z.dtype, np.floating) or (n is not None and len(z) != n)
                or not np.isfinite(z).all()):
            log.warning("ignoring malformed codes cache file %s", path)
            self.remove(key)
            return None
        return np.ascontiguousarray(z, dtype=np.float32), meta

    def put(self, key: str, z: np.ndarray, meta: dict | None = None) -> Path:
        """Store (N, d) codes under ``key`` atomically; return the ``.npy`` path."""
        z = np.ascontiguousarray(z, dtype=np.float32)
        if z.ndim != 2:
            raise ValueError(f"codes must have shape (N, d), got {z.shape}")
        path = self.path_for(key)
        text = json.dumps({**(meta or {}), "key": key, "shape": list(z.shape), "created": time.time()},
                          sort_keys=True, default=str).encode("utf-8")
        atomic_write(path, lambda f: np.save(f, z, allow_pickle=False))
        atomic_write(path.with_suffix(".json"), lambda f: f.write(text))
        return path

    def may_hold_model(self, model_sha256: str) -> bool:
        """Whether any cached codes may be of the model file with this SHA-256 (False: none are).

        Reads the notes (``.json``) only, not the codes: ~20 µs a file. An unreadable notes file
        counts as a yes, so a False is certain.

        Parameters
        ----------
        model_sha256 : str
            :func:`explorer.core.projection.cache.file_sha256` of the checkpoint (64 hex digits).
        """
        try:
            notes = list(self.directory.glob("*.json"))
        except OSError:
            return True
        for path in notes:
            try:
                if model_sha256 in path.read_text(encoding="utf-8"):
                    return True
            except (OSError, UnicodeDecodeError):
                return True
        return False

    def remove(self, key: str) -> None:
        """Delete ``key``'s files if present."""
        path = self.path_for(key)
        for p in (path, path.with_suffix(".json")):
            try:
                p.unlink()
            except OSError:
                pass


def encode_cached(entry, dataset, dataset_id: str, seed: int = 0, cache: CodesCache | None = None,
                  ctx: JobContext | None = None):
    """The latent codes of ``dataset`` under ``entry``'s model, read from disk when encoded before.

    Parameters
    ----------
    entry : explorer.core.workspace.ModelEntry
        The model (``file_hash`` keys the cache).
    dataset : explorer.data.Dataset
        Images ``(N, C, H, W)`` float32 in [0, 1].
    dataset_id : str
        :func:`explorer.core.workspace.dataset_identity` of ``dataset``.
    seed : int
        Seed of the prior samples when the model has no encoder.
    cache : CodesCache, optional
        Default: a :class:`CodesCache` in the user's cache folder.
    ctx : JobContext, optional
        Progress and cancel of the encoding (between batches; `explorer.core.codes.encode_batch`).

    Returns
    -------
    explorer.core.workspace.LatentCodes
        As :func:`explorer.core.workspace.compute_codes` returns them. Prior samples of
        a GAN without encoder are never cached (decoding them is needed for their images
        anyway).

    Raises
    ------
    explorer.core.jobs.Cancelled
        ``ctx`` was cancelled.
    """
    from explorer.core.workspace import LatentCodes, compute_codes

    model = entry.model
    if not model.has_encoder:
        return compute_codes(model, dataset, seed=seed, ctx=ctx)
    cache = cache if cache is not None else CodesCache()
    key = codes_cache_key(entry.file_hash, dataset_id, "encoder", 0)
    hit = cache.get(key, n=len(dataset))
    if hit is not None and hit[0].shape[1] == model.latent_dim:
        z, meta = hit
        if ctx is not None:
            ctx.progress(1.0, f"read {len(z):,} cached codes")
        return LatentCodes(z=z, source="encoder", images=dataset.images, labels=dataset.labels,
                           notes=tuple(meta.get("notes", ())))
    codes = compute_codes(model, dataset, seed=seed, ctx=ctx)
    try:
        cache.put(key, codes.z, {"notes": list(codes.notes), "model": str(entry.path)})
    except OSError as exc:  # a read-only cache must not stop the user
        log.warning("could not cache codes of %s: %s", entry.path, exc)
    return codes


def codes_identity(dataset_id: str, codes) -> str:
    """What the projection cache key says about the points: the dataset, or the prior samples.

    Parameters
    ----------
    dataset_id : str
        :func:`explorer.core.workspace.dataset_identity`.
    codes : explorer.core.workspace.LatentCodes

    Returns
    -------
    str
        ``dataset_id`` for encoder codes; for prior samples and inverted codes the source,
        their number and a hash of the codes (so another seed, sample or inversion setting
        gives another key).
    """
    if codes.source in ("prior", "inverted"):
        digest = hashlib.blake2b(np.ascontiguousarray(codes.z).tobytes(), digest_size=8).hexdigest()
        return f"{dataset_id}|{codes.source}|n={len(codes.z)}|{digest}"
    return dataset_id


# --------------------------------------------------------------------------------------
# Projections, cached on disk
# --------------------------------------------------------------------------------------


@dataclass
class EmbeddingResult:
    """A 2-D embedding ready to show.

    Attributes
    ----------
    embedding : numpy.ndarray
        (N, 2) float32.
    spec : ProjectionSpec
        What was computed.
    key : str
        Its :func:`explorer.core.projection.projection_cache_key`.
    from_cache : bool
        True when read from disk instead of computed.
    meta : dict
        Facts stored with it: ``label``, ``elapsed_s`` (seconds of the original fit),
        ``waited_s`` (seconds the user waited for it: from the request to the result,
        queue, worker start-up / warm-up and fit included) and, for PCA,
        ``explained_variance_ratio`` (two fractions in [0, 1]).
    projection : explorer.core.projection.Projection or None
        The fitted projection when computed in this call (None from the cache).
    """

    embedding: np.ndarray
    spec: ProjectionSpec
    key: str
    from_cache: bool
    meta: dict = field(default_factory=dict)
    projection: Any = None


def projection_key(model_sha256: str, points_id: str, spec: ProjectionSpec, n: int) -> str:
    """Shorthand for :func:`explorer.core.projection.projection_cache_key`."""
    from explorer.core.projection.cache import projection_cache_key

    return projection_cache_key(model_sha256, points_id, spec, n)


def cached_embedding(key: str, spec: ProjectionSpec, n: int, cache: ProjectionCache | None = None
                     ) -> EmbeddingResult | None:
    """The embedding stored under ``key`` (N checked), or None — one ``np.load``, ~1 ms for 70,000 points."""
    if cache is None:
        from explorer.core.projection.cache import ProjectionCache

        cache = ProjectionCache()
    emb = cache.get(key)
    if emb is None or len(emb) != n:
        return None
    return EmbeddingResult(embedding=emb, spec=spec, key=key, from_cache=True, meta=cache.get_meta(key) or {})


def project_cached(
    codes: np.ndarray,
    spec: ProjectionSpec,
    key: str,
    cache: ProjectionCache | None = None,
    compute: Callable[..., Any] | None = None,
    ctx: JobContext | None = None,
    requested_at: float | None = None,
) -> EmbeddingResult:
    """Return the embedding of ``codes`` from the disk cache, or compute and cache it.

    Parameters
    ----------
    codes : numpy.ndarray
        (N, d) float latent codes.
    spec : ProjectionSpec
        Method, parameters, seed.
    key : str
        :func:`projection_key` of these codes and ``spec``.
    cache : ProjectionCache, optional
        Default: :class:`ProjectionCache` in the user's cache folder.
    compute : callable, optional
        ``compute(codes, spec, ctx=ctx) -> Projection``; default
        :func:`explorer.core.projection.compute_projection` (in this process). Pass
        ``ProjectionWorker.run`` for UMAP / t-SNE so they can be cancelled.
    ctx : JobContext, optional
        Progress and cancel.
    requested_at : float, optional
        ``time.monotonic()`` when the user asked (e.g. pressed Compute); the result's
        ``meta["waited_s"]`` counts from then (default: from this call, plus whatever the
        projection itself waited for, ``Projection.waited``).

    Returns
    -------
    EmbeddingResult
        ``from_cache`` says whether anything was computed.

    Raises
    ------
    ValueError
        Codes unfit for the method (e.g. the identity with d != 2).
    explorer.core.jobs.Cancelled
        ``ctx`` was cancelled.
    """
    from explorer.core import projection

    cache = cache if cache is not None else projection.ProjectionCache()
    hit = cached_embedding(key, spec, len(codes), cache)
    if hit is not None:
        return hit
    compute = compute if compute is not None else projection.compute_projection
    t_called = time.monotonic()
    proj = compute(codes, spec, ctx=ctx)
    now = time.monotonic()
    waited = max(now - t_called, float(getattr(proj, "waited", 0.0) or 0.0), float(proj.elapsed))
    if requested_at is not None:
        waited = max(waited, now - float(requested_at))
    meta: dict[str, Any] = {"label": spec.label(), "elapsed_s": float(proj.elapsed), "waited_s": float(waited)}
    ratio = getattr(proj.estimator, "explained_variance_ratio_", None)
    if ratio is not None:
        meta["explained_variance_ratio"] = [float(r) for r in ratio]
    try:
        cache.put(key, proj.embedding, meta)
    except OSError as exc:
        log.warning("could not cache the projection %s: %s", spec.label(), exc)
    return EmbeddingResult(embedding=proj.embedding, spec=spec, key=key, from_cache=False, meta=meta,
                           projection=proj)


@dataclass
class Preview:
    """A model's cached codes and embedding on a dataset, found without loading the model.

    Attributes
    ----------
    path : pathlib.Path
        The model file.
    file_hash : str
        Its SHA-256 (what the caches are keyed by).
    dataset_id : str
        :func:`explorer.core.workspace.dataset_identity` of the dataset.
    codes : explorer.core.workspace.LatentCodes
        Encoder codes read from the :class:`CodesCache`.
    result : EmbeddingResult or None
        Their embedding read from the projection cache; None when only the codes are cached
        (their first embedding is then computed from them while the model loads).
    """

    path: Path
    file_hash: str
    dataset_id: str
    codes: Any
    result: EmbeddingResult | None


def peek_cached(path: str | os.PathLike, dataset, dataset_id: str, spec: ProjectionSpec,
                codes_cache: CodesCache | None = None, projection_cache: ProjectionCache | None = None,
                ctx: JobContext | None = None) -> Preview | None:
    """Look for a model file's codes and embedding in the caches, without loading the model (no torch).

    Re-opening a model shown before then paints at once, while the model itself loads
    (importing torch alone takes 1–2 s).

    Parameters
    ----------
    path : path-like
        The model file (hashed: ~5 ms for a few MB).
    dataset : explorer.data.Dataset
        The open dataset.
    dataset_id : str
        Its :func:`explorer.core.workspace.dataset_identity`.
    spec : ProjectionSpec
        The projection wanted; PCA and the identity follow :func:`default_spec` for the
        codes' dimension, and a UMAP / t-SNE that is not cached falls back to it.
    codes_cache, projection_cache : optional
        Default: the user's cache folders.
    ctx : JobContext, optional
        Cancel.

    Returns
    -------
    Preview or None
        None when the codes are not cached, for a Python adapter (its cache key needs the
        weights it loads), or when the file cannot be read (opening it will say why). Its
        ``result`` is None when the codes are cached but no embedding of them is.
    """
    from explorer.core.projection.cache import ProjectionCache, file_sha256
    from explorer.core.workspace import LatentCodes

    path = Path(path)
    if path.suffix == ".py":
        return None  # an adapter's identity includes the weights it loads: known only once it has run
    try:
        file_hash = file_sha256(path)
    except OSError:
        return None
    if ctx is not None:
        ctx.check()
    codes_cache = codes_cache if codes_cache is not None else CodesCache()
    hit = codes_cache.get(codes_cache_key(file_hash, dataset_id, "encoder", 0), n=len(dataset))
    if hit is None:
        return None
    z, meta = hit
    codes = LatentCodes(z=z, source="encoder", images=dataset.images, labels=dataset.labels,
                        notes=tuple(meta.get("notes", ())))
    projection_cache = projection_cache if projection_cache is not None else ProjectionCache()
    fallback = default_spec(z.shape[1])
    for candidate in ((fallback,) if spec.method in ("pca", "identity") else (spec, fallback)):
        key = projection_key(file_hash, codes_identity(dataset_id, codes), candidate, len(z))
        result = cached_embedding(key, candidate, len(z), projection_cache)
        if result is not None:
            return Preview(path=path, file_hash=file_hash, dataset_id=dataset_id, codes=codes, result=result)
    return Preview(path=path, file_hash=file_hash, dataset_id=dataset_id, codes=codes, result=None)


def default_spec(latent_dim: int) -> ProjectionSpec:
    """The projection shown first: the codes as they are when ``d == 2``, else PCA."""
    from explorer.core.projection.spec import ProjectionSpec

    return ProjectionSpec("identity") if int(latent_dim) == 2 else ProjectionSpec("pca")
