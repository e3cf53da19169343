"""GAN-inverted latent codes of dataset images, kept per image in memory and on disk, shared by every view."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from explorer.core.export import atomic_write
from explorer.core.jobs import JobContext, sub_context

# torch comes in with explorer.core.reconstruction.inversion, imported where an image is inverted.
if TYPE_CHECKING:
    from explorer.core.reconstruction.inversion import InversionSettings

log = logging.getLogger(__name__)

__all__ = ["inversion_time_note",
           "InvertedCodes", "InvertedCodesStore", "InvertedCodesStores", "inverted_store_key", "inverted_dataset_codes",
           "inversion_summary"]

#: Seconds between two saves of a store while an inversion runs (it is also saved at the end,
#: and when the job is cancelled or fails).
SAVE_EVERY_S = 10.0


def inverted_store_key(model_sha256: str, dataset_id: str, settings: InversionSettings) -> str:
    """The key of a store: the model file, the dataset, and every setting that changes a code.

    ``batch_size`` is left out: `explorer.core.reconstruction.inversion.invert` seeds each image by its
    dataset index and Adam acts per coordinate, so batching does not change a code.

    Returns
    -------
    str
        JSON text; equal inputs give equal keys.
    """
    s = settings.to_dict()
    s.pop("batch_size", None)
    return json.dumps({"version": 1, "model": str(model_sha256), "dataset": str(dataset_id),
                       "inversion": s}, sort_keys=True)


@dataclass
class InvertedCodes:
    """Codes of some dataset images, as `InvertedCodesStore.get` returns them.

    Attributes
    ----------
    indices : numpy.ndarray, shape (N,), int64
        Dataset indices, in the order asked for.
    codes : numpy.ndarray, shape (N, d), float32
        The code ``z*`` found for each image (labelled "inverted").
    mse : numpy.ndarray, shape (N,), float64
        Pixel mean squared error of ``G(z*)`` against the image (images in [0, 1]).
    n_inverted : int
        How many of them were optimised in this call; the others came from memory or disk.
    """

    indices: np.ndarray
    codes: np.ndarray
    mse: np.ndarray
    n_inverted: int


class InvertedCodesStore:
    """The GAN-inverted code of every image of one dataset under one model and one setting.

    GAN inversion costs tens of milliseconds to a second per image on a CPU (measured:
    `explorer.core.reconstruction.inversion.measured_seconds_per_image`), so each image is inverted once:
    `get` optimises only the images not done before and keeps every finished batch — in
    memory for the other views of the session, and in ``<cache>/inverted/<key>.npz`` for
    the next session and the command line. A cancelled job keeps the batches it finished.

    Parameters
    ----------
    model : models.base.GenerativeModel
        A model whose ``decode`` passes gradients (see `explorer.core.reconstruction.inversion.invert`).
    model_sha256 : str
        SHA-256 of the model file (``ModelEntry.file_hash``).
    dataset_id : str
        `explorer.core.workspace.dataset_identity` of the dataset.
    n_total : int
        Images in the dataset (≥ 1).
    settings : explorer.core.reconstruction.inversion.InversionSettings
        Steps, restarts, learning rate, prior weight and seed of the inversion.
    directory : str or os.PathLike, optional
        Default ``explorer.paths.cache_dir() / "inverted"``; None-like ``False`` keeps
        the store in memory only.

    Notes
    -----
    Thread-safe: two jobs may ask for codes at once (each inverts what is missing when it
    starts, so an image asked for by both may be inverted twice — never stored wrongly).
    An unreadable or mismatched file is ignored and replaced.
    """

    def __init__(self, model, model_sha256: str, dataset_id: str, n_total: int, settings: InversionSettings,
                 directory: str | os.PathLike | bool | None = None) -> None:
        if int(n_total) < 1:
            raise ValueError(f"a store needs at least one image, got n_total = {n_total}")
        self.model = model
        self.settings = settings
        self.n_total = int(n_total)
        self.key = inverted_store_key(model_sha256, dataset_id, settings)
        d = int(model.latent_dim)
        self._codes = np.full((self.n_total, d), np.nan, np.float32)
        self._mse = np.full(self.n_total, np.nan)
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()
        if directory is False:
            self.path: Path | None = None
        else:
            if directory is None:
                from explorer.paths import cache_dir

                directory = cache_dir() / "inverted"
            self.path = Path(directory) / (hashlib.sha256(self.key.encode("utf-8")).hexdigest() + ".npz")
            self._load()

    # ---- state

    @property
    def done(self) -> np.ndarray:
        """``(n_total,)`` bool: which dataset images have a code."""
        with self._lock:
            return np.isfinite(self._mse)

    @property
    def n_done(self) -> int:
        """How many dataset images have a code."""
        return int(self.done.sum())

    def missing(self, indices) -> np.ndarray:
        """The dataset indices among ``indices`` (unique, in first-seen order) without a code yet."""
        idx = self._check_indices(indices)
        _, first = np.unique(idx, return_index=True)
        uniq = idx[np.sort(first)]
        return uniq[~self.done[uniq]]

    # ---- codes

    def get(self, indices, images, ctx: JobContext | None = None) -> InvertedCodes:
        """Codes of the dataset images ``indices``, inverting those not done before.

        Parameters
        ----------
        indices : array_like of int, shape (N,)
            Dataset indices in ``[0, n_total)``; repeats allowed.
        images : array_like, shape (N, C, H, W), float32 in [0, 1]
            The images at ``indices``, already fitted to ``model.image_shape``
            (`explorer.data.fit_to_model`). Only the missing ones are read.
        ctx : JobContext, optional
            Progress of the inversion (fraction of its Adam steps) and cancel.

        Returns
        -------
        InvertedCodes

        Raises
        ------
        ValueError
            Indices out of range, or images that do not match them or the model.
        explorer.core.jobs.Cancelled
            The job was cancelled; the batches finished before are kept.
        """
        from explorer.core.reconstruction.inversion import invert

        idx = self._check_indices(indices)
        x = np.asarray(images)
        if x.ndim != 4 or len(x) != len(idx):
            raise ValueError(f"images must have shape (N, C, H, W) with N = {len(idx)}, got {x.shape}")
        todo = self.missing(idx)
        if len(todo):
            where = {int(i): k for k, i in enumerate(idx)}
            rows = np.array([where[int(i)] for i in todo], dtype=np.int64)
            last_save = [time.monotonic()]

            def keep(start: int, stop: int, part) -> None:
                with self._lock:
                    self._codes[todo[start:stop]] = part.codes
                    self._mse[todo[start:stop]] = part.mse
                if time.monotonic() - last_save[0] > SAVE_EVERY_S:
                    self.save()
                    last_save[0] = time.monotonic()

            try:
                invert(self.model, np.ascontiguousarray(x[rows], dtype=np.float32), self.settings, ctx,
                       image_ids=todo, on_batch=keep)
            finally:
                self.save()
        elif ctx is not None:
            ctx.progress(1.0, f"{len(idx):,} inverted codes from the cache")
        with self._lock:
            return InvertedCodes(indices=idx, codes=self._codes[idx].copy(), mse=self._mse[idx].copy(),
                                 n_inverted=len(todo))

    def save(self) -> None:
        """Write the finished codes to disk (atomically); a failure is logged, not raised.

        Codes another process (or another store of the same key) saved meanwhile are
        read in first, so neither overwrites the other's finished work.
        """
        if self.path is None:
            return
        with self._save_lock:  # one writer at a time, and the newest copy written last
            self._load()
            with self._lock:
                codes, mse = self._codes.copy(), self._mse.copy()
            try:
                atomic_write(self.path, lambda f: np.savez(f, codes=codes, mse=mse,
                                                           key=np.frombuffer(self.key.encode("utf-8"), np.uint8)))
            except OSError as exc:  # a read-only cache must not stop the user
                log.warning("could not save inverted codes to %s: %s", self.path, exc)

    def _load(self) -> None:
        """Take the codes of the file on disk for the images this store has none for."""
        try:
            with np.load(self.path, allow_pickle=False) as f:
                key = bytes(f["key"]).decode("utf-8")
                codes, mse = f["codes"], f["mse"]
        except FileNotFoundError:
            return
        except Exception as exc:  # noqa: BLE001 - any unreadable file is ignored
            log.warning("ignoring unreadable inverted codes %s: %s", self.path, exc)
            return
        if key != self.key or codes.shape != self._codes.shape or mse.shape != self._mse.shape:
            log.warning("ignoring mismatched inverted codes %s", self.path)
            return
        with self._lock:
            ok = np.isfinite(mse) & np.isfinite(codes).all(axis=1) & ~np.isfinite(self._mse)
            self._codes[ok] = codes[ok]
            self._mse[ok] = mse[ok]

    def _check_indices(self, indices) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(idx) and (idx.min() < 0 or idx.max() >= self.n_total):
            raise ValueError(f"dataset indices must lie in [0, {self.n_total}), got {idx.min()}…{idx.max()}")
        return idx


def inversion_summary(settings: InversionSettings) -> str:
    """Half a sentence on how codes were inverted, e.g. ``"200 Adam steps × 4 restarts, λ = 0.001"``."""
    steps = f"{settings.steps} Adam step" + ("" if settings.steps == 1 else "s")
    restarts = f"{settings.restarts} restart" + ("" if settings.restarts == 1 else "s")
    return f"{steps} × {restarts}, λ = {settings.prior_weight:g}"


def inversion_time_note(model, settings: InversionSettings) -> str:
    """What a panel says about the time inversion takes: the measured seconds per image, or that it is not measured.

    From `explorer.core.reconstruction.inversion.measured_seconds_per_image` (this model,
    these settings, this process) — never a guessed figure.
    """
    from explorer.core.reconstruction.inversion import measured_seconds_per_image

    spi = measured_seconds_per_image(model, settings)
    if spi is None:
        return "Time per image: measured on the first images inverted."
    return f"Measured {spi:.3g} s per image on this machine."


def inverted_dataset_codes(store: InvertedCodesStore, dataset, n: int | None = None, seed: int = 0,
                           ctx: JobContext | None = None):
    """The embedding points of a GAN without encoder made from real images: their inverted codes.

    Parameters
    ----------
    store : InvertedCodesStore
        Of the model and ``dataset``.
    dataset : explorer.data.Dataset
        As opened; fitted to the model here.
    n : int, optional
        A seeded sample of ``n`` images (`explorer.data.subsample_indices`);
        None: every image.
    seed : int
        Seed of the sample.
    ctx : JobContext, optional

    Returns
    -------
    explorer.core.workspace.LatentCodes
        ``source="inverted"``, ``indices`` the dataset indices of the points (increasing),
        ``images`` and ``labels`` those of the dataset at them, ``generated`` the images
        ``G(z)`` of the codes, ``fit_error`` their pixel MSE, and a note saying how the
        codes were found.

    Raises
    ------
    ValueError
        The dataset does not match the store.
    explorer.core.jobs.Cancelled
    """
    from explorer.core.codes import decode_codes
    from explorer.core.workspace import LatentCodes
    from explorer.data import fit_to_model, subsample_indices

    if len(dataset) != store.n_total:
        raise ValueError(f"the store holds {store.n_total:,} images, the dataset {len(dataset):,}")
    model = store.model
    idx = subsample_indices(len(dataset), n, seed)
    fitted = fit_to_model(dataset, model.image_shape)
    got = store.get(idx, fitted.images[idx], sub_context(ctx, 0.0, 0.95))
    generated = decode_codes(model, got.codes, ctx=sub_context(ctx, 0.95, 1.0))
    which = (f"all {len(idx):,} dataset images" if len(idx) == len(dataset)
             else f"{len(idx):,} dataset images (a sample drawn with seed {seed})")
    note = (f"This GAN has no encoder: the points are {which}, each at the code z found by GAN inversion "
            f"({inversion_summary(store.settings)}; mean pixel MSE of G(z) {float(np.mean(got.mse)):.4f}) — "
            f"codes labelled “inverted”.")
    return LatentCodes(z=got.codes, source="inverted", images=np.ascontiguousarray(dataset.images[idx]),
                       labels=None if dataset.labels is None else np.ascontiguousarray(dataset.labels[idx]),
                       notes=(note,) + tuple(fitted.notes[len(dataset.notes):]), indices=idx,
                       generated=generated, fit_error=got.mse)


class InvertedCodesStores:
    """One `InvertedCodesStore` per (model file, dataset, inversion setting), shared by a session's views.

    The embedding of a GAN's real images, the reconstruction panel and the ALI/BiGAN
    comparison ask the same registry, so an image inverted for one is never inverted
    again for another.

    Parameters
    ----------
    directory : str or os.PathLike or False, optional
        Passed to every store (default: the user's cache folder; False: memory only).
    """

    def __init__(self, directory: str | os.PathLike | bool | None = None) -> None:
        self.directory = directory
        self._stores: dict[str, InvertedCodesStore] = {}
        self._lock = threading.Lock()

    def get(self, model, model_sha256: str, dataset_id: str, n_total: int,
            settings: InversionSettings) -> InvertedCodesStore:
        """The store of this model, dataset and setting (made, and read from disk, on first use)."""
        key = inverted_store_key(model_sha256, dataset_id, settings)
        with self._lock:
            store = self._stores.get(key)
            if store is None or store.model is not model or store.n_total != int(n_total):
                store = InvertedCodesStore(model, model_sha256, dataset_id, n_total, settings, self.directory)
                self._stores[key] = store
            return store

    def forget(self, model_sha256: str | None = None) -> None:
        """Drop the stores of one model file (all when None) from memory; files stay on disk."""
        with self._lock:
            for key in [k for k in self._stores
                        if model_sha256 is None or json.loads(k)["model"] == str(model_sha256)]:
                del self._stores[key]
