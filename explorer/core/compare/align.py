"""Aligning several models' 2-D embeddings of the same dataset so they can be read against each other."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from explorer.importing import load

__all__ = ["ALIGNMENTS", "Alignment", "shared_positions", "procrustes_align", "align_embeddings",
           "aligned_umap", "aligned_umap_cancellable"]

#: Ways to align: none (each projection as computed), orthogonal Procrustes onto the first
#: model, or umap-learn's AlignedUMAP fitted on all models at once.
ALIGNMENTS: tuple[str, ...] = ("none", "procrustes", "aligned-umap")


@dataclass(frozen=True)
class Alignment:
    """How one model's embedding was moved onto the reference.

    Attributes
    ----------
    method : {"none", "procrustes", "aligned-umap"}
    rotation : numpy.ndarray or None
        (2, 2) float64 orthogonal matrix R (det ±1) for Procrustes: ``aligned = (e - c) @ R + c_ref``.
    reflected : bool
        Whether R includes a reflection (det R = -1).
    n_shared : int
        Number of dataset images the fit used (shown by this model and by the reference).
    residual : float
        Root-mean-square distance between aligned and reference points on the shared images,
        in embedding units (nan for "none" and "aligned-umap").
    """

    method: str
    rotation: np.ndarray | None
    reflected: bool
    n_shared: int
    residual: float

    def describe(self) -> str:
        """A short caption: what the alignment was allowed to do."""
        if self.method == "procrustes":
            what = "rotated and reflected" if self.reflected else "rotated"
            return (f"Procrustes onto the first model: {what} and shifted only, no scaling "
                    f"({self.n_shared:,} shared images)")
        if self.method == "aligned-umap":
            return f"AlignedUMAP, fitted with the other models ({self.n_shared:,} shared images)"
        return "not aligned"


def shared_positions(indices_ref: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of two embeddings that show the same dataset images.

    Parameters
    ----------
    indices_ref, indices : numpy.ndarray
        (N_ref,) and (N,) int dataset indices of each embedding's rows (unique in each).

    Returns
    -------
    rows_ref, rows : numpy.ndarray
        (M,) int64 row positions, ``indices_ref[rows_ref] == indices[rows]``, ascending in the
        dataset index.
    """
    indices_ref = np.asarray(indices_ref, dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64)
    _, rows_ref, rows = np.intersect1d(indices_ref, indices, assume_unique=True, return_indices=True)
    return rows_ref.astype(np.int64), rows.astype(np.int64)


def procrustes_align(reference: np.ndarray, moving: np.ndarray, rows_ref: np.ndarray | None = None,
                     rows: np.ndarray | None = None) -> tuple[np.ndarray, Alignment]:
    """Rotate/reflect (and shift) ``moving`` onto ``reference`` by orthogonal Procrustes.

    Solves min_R ‖(B − b̄) R − (A − ā)‖_F over orthogonal 2×2 R on the shared rows (Schönemann
    1966; `scipy.linalg.orthogonal_procrustes`), then applies ``(moving − b̄) R + ā`` to every
    row of ``moving``. No scaling: distances within the embedding are unchanged, which is why a
    rotation or a flip is all it may do to the picture.

    Parameters
    ----------
    reference : numpy.ndarray
        (N_ref, 2) float embedding A of the first model.
    moving : numpy.ndarray
        (N, 2) float embedding B to align.
    rows_ref, rows : numpy.ndarray, optional
        (M,) int rows of A and B that show the same images (`shared_positions`); default all
        rows, which then requires N_ref == N.

    Returns
    -------
    aligned : numpy.ndarray
        (N, 2) float64.
    alignment : Alignment

    Raises
    ------
    ValueError
        Shapes that are not (·, 2), fewer than 2 shared rows, or non-finite values.
    """
    load("scipy.linalg")
    from scipy.linalg import orthogonal_procrustes

    a = np.asarray(reference, dtype=np.float64)
    b = np.asarray(moving, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 2 or b.ndim != 2 or b.shape[1] != 2:
        raise ValueError(f"embeddings must be (N, 2), got {a.shape} and {b.shape}")
    if rows_ref is None or rows is None:
        if len(a) != len(b):
            raise ValueError(f"embeddings of {len(a)} and {len(b)} points need the rows they share")
        rows_ref = rows = np.arange(len(a))
    rows_ref = np.asarray(rows_ref, dtype=np.int64)
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows_ref) != len(rows):
        raise ValueError(f"{len(rows_ref)} reference rows but {len(rows)} rows to align")
    if len(rows) < 2:
        raise ValueError(f"Procrustes needs at least 2 images shown by both models, got {len(rows)}")
    if not (np.isfinite(a[rows_ref]).all() and np.isfinite(b).all()):
        raise ValueError("embeddings to align hold non-finite values")
    ca = a[rows_ref].mean(axis=0)
    cb = b[rows].mean(axis=0)
    r, _ = orthogonal_procrustes(b[rows] - cb, a[rows_ref] - ca)
    aligned = (b - cb) @ r + ca
    residual = float(np.sqrt(np.mean(np.sum((aligned[rows] - a[rows_ref]) ** 2, axis=1))))
    return aligned, Alignment("procrustes", r, bool(np.linalg.det(r) < 0), len(rows), residual)


def align_embeddings(embeddings: Sequence[np.ndarray], indices: Sequence[np.ndarray],
                     method: str = "procrustes") -> tuple[list[np.ndarray], list[Alignment]]:
    """Align each embedding onto the first on the dataset images they share.

    Parameters
    ----------
    embeddings : sequence of numpy.ndarray
        (N_i, 2) float embeddings, the first is the reference.
    indices : sequence of numpy.ndarray
        (N_i,) int dataset indices of each embedding's rows (models may show different
        subsets, e.g. a GAN's inverted images).
    method : {"none", "procrustes"}
        "aligned-umap" is fitted from the codes, not from finished embeddings: `aligned_umap`.

    Returns
    -------
    aligned : list of numpy.ndarray
        (N_i, 2) float64 each; the first is the reference unchanged.
    alignments : list of Alignment

    Raises
    ------
    ValueError
        An unknown method, mismatched lengths, or a model sharing fewer than 2 images with
        the first.
    """
    if method not in ("none", "procrustes"):
        raise ValueError(f"method must be 'none' or 'procrustes' here, got {method!r}")
    if len(embeddings) != len(indices):
        raise ValueError(f"{len(embeddings)} embeddings but {len(indices)} index arrays")
    if not embeddings:
        return [], []
    ref = np.asarray(embeddings[0], dtype=np.float64)
    out = [ref]
    alignments = [Alignment(method, np.eye(2) if method == "procrustes" else None, False, len(ref),
                            0.0 if method == "procrustes" else float("nan"))]
    for emb, idx in zip(embeddings[1:], indices[1:], strict=True):
        rows_ref, rows = shared_positions(indices[0], idx)
        if method == "none":
            out.append(np.asarray(emb, dtype=np.float64))
            alignments.append(Alignment("none", None, False, len(rows), float("nan")))
            continue
        aligned, alignment = procrustes_align(ref, emb, rows_ref, rows)
        out.append(aligned)
        alignments.append(alignment)
    return out, alignments


def aligned_umap(codes: Sequence[np.ndarray], indices: Sequence[np.ndarray], seed: int = 0,
                 n_neighbors: int = 15, min_dist: float = 0.1,
                 alignment_regularisation: float = 1e-2) -> tuple[list[np.ndarray], list[Alignment]]:
    """Fit umap-learn's `AlignedUMAP` on several models' codes of the same dataset at once.

    Consecutive models are linked by the dataset images they share (``relations`` maps a row
    of model i to the row of model i + 1 showing the same image), so each embedding is pulled
    towards its neighbour's layout (McInnes 2020, umap-learn ``AlignedUMAP``).

    Parameters
    ----------
    codes : sequence of numpy.ndarray
        (N_i, d_i) float codes; latent sizes may differ between models.
    indices : sequence of numpy.ndarray
        (N_i,) int dataset indices of each model's rows.
    seed : int
    n_neighbors, min_dist : UMAP parameters (umap-learn's defaults).
    alignment_regularisation : float
        umap-learn's weight of the alignment term.

    Returns
    -------
    embeddings : list of numpy.ndarray
        (N_i, 2) float64.
    alignments : list of Alignment

    Raises
    ------
    ValueError
        Fewer than two models, or consecutive models sharing fewer than 2 images.
    """
    if len(codes) < 2 or len(codes) != len(indices):
        raise ValueError("AlignedUMAP needs the codes and dataset indices of at least two models")
    relations = []
    shared = []
    for i in range(len(codes) - 1):
        rows_a, rows_b = shared_positions(indices[i], indices[i + 1])
        if len(rows_a) < 2:
            raise ValueError(f"models {i + 1} and {i + 2} share {len(rows_a)} images; AlignedUMAP needs 2")
        relations.append({int(a): int(b) for a, b in zip(rows_a, rows_b, strict=True)})
        shared.append(len(rows_a))
    from explorer.core.heavy import load_umap

    umap = load_umap()
    model = umap.AlignedUMAP(n_neighbors=n_neighbors, min_dist=min_dist, random_state=seed,
                             alignment_regularisation=alignment_regularisation)
    import warnings

    with warnings.catch_warnings():
        # umap-learn says a seed forces one thread; that is what a seed means here
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        embeddings = model.fit_transform([np.asarray(c, dtype=np.float32) for c in codes], relations=relations)
    out = [np.asarray(e, dtype=np.float64) for e in embeddings]
    n_shared = [len(codes[0])] + shared
    return out, [Alignment("aligned-umap", None, False, n, float("nan")) for n in n_shared]


def _aligned_umap_child(conn, codes, indices, seed) -> None:
    """Run `aligned_umap` in a child process and send back ``("ok", result)`` or ``("error", sentence)``."""
    try:
        conn.send(("ok", aligned_umap(codes, indices, seed=seed)))
    except Exception as exc:  # noqa: BLE001 - reported to the parent as one sentence
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def aligned_umap_cancellable(codes: Sequence[np.ndarray], indices: Sequence[np.ndarray], seed: int = 0,
                             ctx=None, poll_s: float = 0.2):
    """`aligned_umap` in a child process that a cancel (or a closing window) terminates at once.

    umap-learn's fit cannot be interrupted from inside; here the calling job only waits, checking
    ``ctx`` (`explorer.core.jobs.JobContext`) every ``poll_s`` seconds, and terminates the child
    when the job is cancelled.

    Returns
    -------
    The result of `aligned_umap`.

    Raises
    ------
    explorer.core.jobs.Cancelled
        The job was cancelled (the child is terminated first).
    ValueError
        The fit failed in the child (its error as one sentence).
    """
    import multiprocessing as mp

    context = mp.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    proc = context.Process(target=_aligned_umap_child, args=(child, list(codes), list(indices), int(seed)),
                           name="aligned-umap", daemon=True)
    proc.start()
    child.close()
    try:
        while not parent.poll(poll_s):
            if ctx is not None:
                ctx.check()
            if not proc.is_alive() and not parent.poll(0):
                raise ValueError(f"the AlignedUMAP process ended without a result (exit code {proc.exitcode})")
        status, value = parent.recv()
    finally:
        if proc.is_alive() and not parent.poll(0):
            proc.terminate()
        proc.join(5)
        if proc.is_alive():
            proc.kill()
            proc.join(1)
        parent.close()
    if status != "ok":
        raise ValueError(f"AlignedUMAP failed: {value}")
    return value
