"""The t-SNE projection estimator (openTSNE, scikit-learn contract), with progress and cancel."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.utils.validation import check_is_fitted

from explorer.core.jobs import JobContext
from explorer.core.projection.base import NearestNeighbourPlacement, _ProjectionBase
from explorer.core.projection.spec import check_codes

__all__ = ["TSNEProjection"]


class _TSNEProgress:
    """openTSNE callback: reports iterations done through ``ctx.progress`` (which checks cancel)."""

    def __init__(self, ctx: JobContext, exaggeration_iter: int, total: int):
        self._ctx = ctx
        self._offset = 0
        self._last = 0
        self._exaggeration_iter = exaggeration_iter
        self._total = max(total, 1)

    def __call__(self, iteration: int, error: float, embedding) -> bool:
        if iteration < self._last:  # the second phase restarts its iteration count
            self._offset = self._exaggeration_iter
        self._last = iteration
        done = self._offset + iteration
        phase = "early exaggeration" if self._offset == 0 and self._exaggeration_iter > 0 else "optimisation"
        self._ctx.progress(done / self._total, f"t-SNE: {phase}, iteration {done}/{self._total}, KL {error:.3f}")
        return False


class TSNEProjection(_ProjectionBase):
    """t-SNE embedding to 2-D (van der Maaten & Hinton 2008, JMLR 9:2579) via openTSNE.

    Parameters
    ----------
    perplexity : float
        Effective number of neighbours (> 0; openTSNE lowers it, with a warning, when
        it is too large for N).
    metric : str
        Distance in latent space (an openTSNE metric name).
    n_iter : int
        Iterations after the early-exaggeration phase.
    early_exaggeration_iter : int
        Iterations of early exaggeration (factor 12).
    random_state : int
        Seed; the same seed and codes give the same embedding.

    Attributes
    ----------
    embedding_ : numpy.ndarray
        (N, 2) float32.
    kl_divergence_ : float
        Final Kullback–Leibler divergence (nats).
    placement_ : NearestNeighbourPlacement
        Places new points (see :meth:`place_nearest_neighbour`).
    n_features_in_ : int
        Latent dimension ``d``.

    Notes
    -----
    t-SNE has no map for new points. :meth:`transform` therefore does **not** embed
    them: it is :meth:`place_nearest_neighbour`, which returns the position of the
    nearest training code in latent space (``transform_kind == "nearest-neighbour"``).
    Progress is reported every 10 iterations (openTSNE callbacks), which is also where
    a cancel is noticed; the affinity computation before them is not interruptible.
    """

    transform_kind = "nearest-neighbour"

    def __init__(
        self,
        perplexity: float = 30.0,
        metric: str = "euclidean",
        n_iter: int = 500,
        early_exaggeration_iter: int = 250,
        random_state: int = 0,
    ):
        self.perplexity = perplexity
        self.metric = metric
        self.n_iter = n_iter
        self.early_exaggeration_iter = early_exaggeration_iter
        self.random_state = random_state

    def fit(self, X, y=None, ctx: JobContext | None = None) -> TSNEProjection:
        """Fit t-SNE to ``X`` ((N, d) float, N >= 4).

        Raises
        ------
        ValueError
            Bad shape or NaN/inf.
        ImportError
            openTSNE is not installed.
        explorer.core.jobs.Cancelled
            ``ctx`` was cancelled (checked every 10 iterations).
        """
        X = check_codes(X, min_rows=4)
        ctx = ctx or JobContext.none()
        try:
            from openTSNE import TSNE
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("t-SNE needs the openTSNE package: pip install openTSNE") from exc
        total = self.early_exaggeration_iter + self.n_iter
        ctx.progress(0.0, f"t-SNE: affinities (perplexity {self.perplexity:g})")
        tsne = TSNE(
            n_components=2,
            perplexity=self.perplexity,
            metric=self.metric,
            n_iter=self.n_iter,
            early_exaggeration_iter=self.early_exaggeration_iter,
            callbacks=_TSNEProgress(ctx, self.early_exaggeration_iter, total),
            callbacks_every_iters=10,
            random_state=self.random_state,
            n_jobs=1,
            verbose=False,
        )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning)
            emb = tsne.fit(X)
        self.embedding_ = np.ascontiguousarray(np.asarray(emb).view(np.ndarray), dtype=np.float32)
        self.kl_divergence_ = float(getattr(emb, "kl_divergence", float("nan")))
        self.placement_ = NearestNeighbourPlacement(X, self.embedding_, metric=self.metric)
        self.n_features_in_ = X.shape[1]
        return self

    def place_nearest_neighbour(self, X) -> np.ndarray:
        """Positions (M, 2) float32 of the training codes nearest to ``X`` ((M, d)) — not a t-SNE transform."""
        check_is_fitted(self, "placement_")
        return self.placement_.transform(X)

    def transform(self, X, ctx: JobContext | None = None) -> np.ndarray:
        """Nearest-neighbour placement, **not** a t-SNE transform: see :meth:`place_nearest_neighbour`."""
        return self.place_nearest_neighbour(X)
