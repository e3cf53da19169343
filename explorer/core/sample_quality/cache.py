"""Features of real image sets kept in the cache folder, so the real side of sample quality is computed once."""

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


def cached_features(extractor, ds: Dataset, batch_size: int, ctx: JobContext | None, what: str,
                    folder: Path | None | bool = None) -> tuple[np.ndarray, np.ndarray | None]:
    """``extractor.run(ds.images)``, read from / kept in ``<cache>/sample_quality/`` when the extractor is a file.

    The key is the extractor's `extractor_identity` and the images' bytes (BLAKE2b), so a
    retrained classifier or changed images miss. A damaged or mismatched cache file is ignored.

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

    Returns
    -------
    features : numpy.ndarray, shape (N, F), float64
    logits : numpy.ndarray, shape (N, K), float64, or None
    """
    ident = None if folder is False else extractor_identity(extractor)
    if ident is None:
        return extractor.run(ds.images, batch_size, ctx, what)
    from explorer.core.export import atomic_write
    from explorer.paths import cache_dir

    h = hashlib.blake2b(digest_size=16)
    h.update(ident.encode())
    h.update(str(ds.images.shape).encode())
    h.update(np.ascontiguousarray(ds.images).view(np.uint8).data)
    path = Path(folder or cache_dir() / "sample_quality") / f"features-{h.hexdigest()}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                f = z["features"]
                lg = z["logits"] if "logits" in z.files else None
            if f.shape == (len(ds), extractor.num_features) and np.isfinite(f).all():
                return f.astype(np.float64), (None if lg is None else lg.astype(np.float64))
        except (OSError, ValueError, KeyError):
            pass  # damaged: compute again and overwrite
    f, lg = extractor.run(ds.images, batch_size, ctx, what)
    arrays = {"features": f} if lg is None else {"features": f, "logits": lg}

    def write(fh):
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        fh.write(buf.getvalue())

    try:
        atomic_write(path, write)
    except OSError:
        pass  # a read-only cache folder costs only the next run's time
    return f, lg
