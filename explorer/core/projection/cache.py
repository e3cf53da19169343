"""Embeddings on disk: file hashes, cache keys and the `ProjectionCache` — light, no scikit-learn."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from explorer.core.export import atomic_write
from explorer.core.projection.spec import ProjectionSpec, check_codes

log = logging.getLogger("explorer.core.projection")

__all__ = ["ProjectionCache", "default_cache_directory", "file_sha256", "projection_cache_key"]


def file_sha256(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in chunks (constant memory).

    Parameters
    ----------
    path : str or os.PathLike
        The file (e.g. a checkpoint).
    chunk_size : int
        Bytes per read (default 1 MiB).

    Returns
    -------
    str
        64 lowercase hex digits.

    Raises
    ------
    OSError
        The file cannot be read (FileNotFoundError, PermissionError, ...).
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            h.update(chunk)
    return h.hexdigest()


def projection_cache_key(model_sha256: str, dataset_id: str, spec: ProjectionSpec, n: int) -> str:
    """The cache key of an embedding: which codes (model, dataset, N) and which projection.

    Parameters
    ----------
    model_sha256 : str
        :func:`file_sha256` of the checkpoint that encoded the codes.
    dataset_id : str
        Identifies the exact images and their order (e.g. ``"fashion-mnist:test"`` or a
        hash of the file), and how they were encoded if that can vary.
    spec : ProjectionSpec
        Method, parameters and seed (:meth:`ProjectionSpec.key`).
    n : int
        Number of codes N.

    Returns
    -------
    str
        A JSON string; equal inputs give equal keys, any difference a different key.
    """
    return json.dumps(
        {"version": 1, "model": str(model_sha256), "dataset": str(dataset_id), "projection": spec.key(), "n": int(n)},
        sort_keys=True,
    )


def default_cache_directory() -> Path:
    """``$LATENT_EXPLORER_CACHE/projections``, else ``~/.cache/latent-explorer/projections``."""
    from explorer.paths import cache_dir

    return cache_dir() / "projections"


class ProjectionCache:
    """Embeddings on disk, one ``.npy`` (and a ``.json`` of metadata) per key.

    Parameters
    ----------
    directory : str or os.PathLike, optional
        Where the files go (created on the first ``put``); default
        :func:`default_cache_directory`.

    Notes
    -----
    Files are named by the SHA-256 of the key (see :func:`projection_cache_key`). Writes
    are atomic (temp file beside the target, then ``os.replace``), so a crash leaves the
    old file or the new one, never half of one. A file that cannot be read as an (N, 2)
    finite float array is removed and reported as a miss. Re-opening is one ``np.load``
    (70,000 × 2: about a millisecond).
    """

    def __init__(self, directory: str | os.PathLike | None = None):
        self.directory = Path(directory) if directory is not None else default_cache_directory()

    def path_for(self, key: str) -> Path:
        """Path of the ``.npy`` file for ``key``."""
        return self.directory / (hashlib.sha256(key.encode("utf-8")).hexdigest() + ".npy")

    def _meta_path(self, key: str) -> Path:
        return self.path_for(key).with_suffix(".json")

    def get(self, key: str) -> np.ndarray | None:
        """The cached embedding ((N, 2) float32) for ``key``, or None (missing or corrupt: then removed)."""
        path = self.path_for(key)
        try:
            arr = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001 - any unreadable file is a miss
            log.warning("ignoring unreadable projection cache file %s: %s", path, exc)
            self.remove(key)
            return None
        if (
            not isinstance(arr, np.ndarray)
            or arr.ndim != 2
            or arr.shape[1] != 2
            or not np.issubdtype(arr.dtype, np.floating)
            or not np.isfinite(arr).all()
        ):
            log.warning("ignoring malformed projection cache file %s", path)
            self.remove(key)
            return None
        return np.ascontiguousarray(arr, dtype=np.float32)

    def get_meta(self, key: str) -> dict | None:
        """The metadata stored with ``key`` (includes ``key``, ``shape``, ``created``), or None."""
        try:
            return json.loads(self._meta_path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put(self, key: str, embedding, meta: Mapping[str, Any] | None = None) -> Path:
        """Store ``embedding`` ((N, 2) float, saved as float32) under ``key`` atomically.

        Parameters
        ----------
        key : str
            From :func:`projection_cache_key`.
        embedding : numpy.ndarray
            (N, 2) finite floats.
        meta : mapping, optional
            JSON-serialisable extra facts (e.g. ``spec.label()``, elapsed seconds).

        Returns
        -------
        pathlib.Path
            The ``.npy`` file written.

        Raises
        ------
        ValueError
            ``embedding`` is not (N, 2) finite.
        OSError
            The directory cannot be written.
        """
        arr = check_codes(embedding, "embedding")
        if arr.shape[1] != 2:
            raise ValueError(f"embedding must have shape (N, 2), got {arr.shape}")
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path_for(key)
        info = {**dict(meta or {}), "key": key, "shape": list(arr.shape), "dtype": "float32", "created": time.time()}
        text = json.dumps(info, sort_keys=True, default=str).encode("utf-8")
        atomic_write(path, lambda f: np.save(f, arr, allow_pickle=False))
        atomic_write(self._meta_path(key), lambda f: f.write(text))
        return path

    def remove(self, key: str) -> None:
        """Delete ``key``'s files if present."""
        for p in (self.path_for(key), self._meta_path(key)):
            try:
                p.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("could not remove projection cache file %s: %s", p, exc)

    def clear(self) -> int:
        """Delete every cached embedding in the directory; return how many were removed."""
        count = 0
        if self.directory.is_dir():
            for p in self.directory.glob("*.npy"):
                try:
                    p.unlink()
                    count += 1
                except OSError:
                    pass
                try:
                    p.with_suffix(".json").unlink()
                except OSError:
                    pass
        return count
