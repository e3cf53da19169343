"""Features of real image sets (and what is derived from them alone) kept in the cache folder, computed once."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np

from explorer.core.jobs import JobContext
from explorer.data import Dataset


def extractor_identity(extractor) -> str | None:
    """SHA-256 of the extractor's file plus its preprocessing, or None when it cannot be pinned (adapters)."""
    from explorer.core.projection.cache import file_sha256

    path = getattr(extractor, "path", None)
    if path is None or type(extractor).__name__ == "AdapterExtractor":  # an adapter's weights live elsewhere
        return None
    return hashlib.sha256(f"{file_sha256(path)}|{type(extractor).__name__}|{extractor.preprocessing}".encode()
                          ).hexdigest()


def cache_folder(folder: Path | None | bool = None) -> Path | None:
    """The sample-quality cache folder: None → `explorer.paths.cache_dir` / "sample_quality", False → None (off)."""
    if folder is False:
        return None
    if folder is None:
        from explorer.paths import cache_dir

        return cache_dir() / "sample_quality"
    return Path(folder)


def features_key(extractor, ds: Dataset) -> str | None:
    """The cache key of ``extractor``'s features of ``ds``: its `extractor_identity` and the images' bytes (BLAKE2b).

    None when the extractor cannot be pinned (adapters): then nothing derived from its features is cached either.
    """
    ident = extractor_identity(extractor)
    if ident is None:
        return None
    h = hashlib.blake2b(digest_size=16)
    h.update(ident.encode())
    h.update(str(ds.images.shape).encode())
    h.update(np.ascontiguousarray(ds.images).view(np.uint8).data)
    return h.hexdigest()


#: Version of what the derived results hold and how they are computed: bump it when that changes, so that
#: no result of older code is served (e.g. a floor record computed with another KID implementation).
DERIVED_VERSION = 2


def derived_key(*parts) -> str:
    """A cache key (hex) for results derived from cached features: the features' keys, the settings used and
    :data:`DERIVED_VERSION`."""
    return hashlib.blake2b(repr((DERIVED_VERSION, *parts)).encode(), digest_size=16).hexdigest()


def _write_npz(path: Path, arrays: dict) -> None:
    from explorer.core.export import atomic_write

    def write(fh):
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        fh.write(buf.getvalue())

    try:
        atomic_write(path, write)
    except OSError:
        pass  # a read-only cache folder costs only the next run's time


def _read_npz(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, KeyError, EOFError):
        return None  # damaged: compute again and overwrite


def cached_arrays(folder: Path | None, name: str, key: str | None, compute, check=None) -> dict:
    """Arrays ``compute()`` returns, read from / kept in ``folder / f"{name}-{key}.npz"`` (atomic write).

    Parameters
    ----------
    folder : pathlib.Path or None
        None (or ``key`` None): no cache, ``compute()`` is called.
    name : str
        File name prefix (what the arrays are).
    key : str or None
    compute : callable
        ``() -> dict of str to numpy.ndarray``.
    check : callable, optional
        ``dict -> bool``: whether arrays read back fit (shape, finiteness); a damaged or
        mismatched file is ignored and overwritten.

    Returns
    -------
    dict of str to numpy.ndarray
    """
    if folder is None or key is None:
        return compute()
    path = Path(folder) / f"{name}-{key}.npz"
    got = _read_npz(path)
    if got is not None and (check is None or check(got)):
        return got
    arrays = compute()
    _write_npz(path, arrays)
    return arrays


def cached_record(folder: Path | None, name: str, key: str | None, compute) -> dict:
    """A JSON record ``compute()`` returns, read from / kept in ``folder / f"{name}-{key}.json"`` (atomic write)."""
    import json

    if folder is None or key is None:
        return compute()
    path = Path(folder) / f"{name}-{key}.json"
    if path.is_file():
        try:
            got = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(got, dict):
                return got
        except (OSError, ValueError):
            pass  # damaged: compute again and overwrite
    record = compute()
    from explorer.core.export import write_json

    try:
        write_json(path, record)
    except OSError:
        pass
    return record


def cached_features(extractor, ds: Dataset, batch_size: int, ctx: JobContext | None, what: str,
                    folder: Path | None | bool = None, *, key: str | None = None
                    ) -> tuple[np.ndarray, np.ndarray | None]:
    """``extractor.run(ds.images)``, read from / kept in ``<cache>/sample_quality/`` when the extractor is a file.

    The key is the extractor's `extractor_identity` and the images' bytes (BLAKE2b), so a
    retrained classifier or changed images miss (`features_key`). A damaged or mismatched
    cache file is ignored.

    Parameters
    ----------
    extractor : Extractor
    ds : Dataset
    batch_size : int
    ctx : JobContext, optional
    what : str
        Named in progress messages.
    folder : pathlib.Path, False or None
        Cache folder; None: `explorer.paths.cache_dir` / "sample_quality"; False: no cache.
    key : str, optional
        ``features_key(extractor, ds)`` when the caller has it already (hashing 60,000 images takes a while).

    Returns
    -------
    features : numpy.ndarray, shape (N, F), float64
    logits : numpy.ndarray, shape (N, K), float64, or None
    """
    folder = cache_folder(folder)
    if folder is not None and key is None:
        key = features_key(extractor, ds)

    def compute():
        f, lg = extractor.run(ds.images, batch_size, ctx, what)
        return {"features": f} if lg is None else {"features": f, "logits": lg}

    def fits(z):
        f = z.get("features")
        return f is not None and f.shape == (len(ds), extractor.num_features) and bool(np.isfinite(f).all())

    got = cached_arrays(folder, "features", key, compute, fits)
    lg = got.get("logits")
    return got["features"].astype(np.float64), (None if lg is None else lg.astype(np.float64))
