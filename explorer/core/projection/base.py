"""What every projection estimator shares, and nearest-neighbour placement of new codes on an embedding."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from explorer.core.jobs import JobContext
from explorer.core.projection.spec import check_codes
from explorer.importing import load

__all__ = ["NearestNeighbourPlacement"]


class _ProjectionBase(BaseEstimator):
    """Shared behaviour of the projection estimators."""

    #: How :meth:`transform` places new points: ``"exact"`` (the same map as the fit),
    #: ``"umap-transform"`` (umap-learn's optimisation of new points against the fitted
    #: graph) or ``"nearest-neighbour"`` (position of the nearest training code).
    transform_kind = "exact"

    def fit_transform(self, X, y=None, ctx: JobContext | None = None) -> np.ndarray:
        """Fit to ``X`` and return ``embedding_`` ((N, 2) float32)."""
        return self.fit(X, y, ctx=ctx).embedding_

    def _check_features(self, X) -> np.ndarray:
        check_is_fitted(self, "embedding_")
        X = check_codes(X, "points")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"points have {X.shape[1]} dimensions, the projection was fitted on {self.n_features_in_}")
        return X


class NearestNeighbourPlacement:
    """Place new points at the embedding position of their nearest training code.

    This is *not* a projection of the new point: it returns an existing point of the
    embedding (the training code nearest in latent space). It is how Latent Explorer
    shows new codes on a t-SNE embedding, which has no transform, and a fallback for
    any embedding.

    Parameters
    ----------
    codes : numpy.ndarray
        (N, d) float training codes.
    embedding : numpy.ndarray
        (N, 2) float embedding of ``codes``.
    metric : str
        Distance in latent space (a ``sklearn.neighbors.NearestNeighbors`` metric).

    Raises
    ------
    ValueError
        Shapes do not match.
    """

    transform_kind = "nearest-neighbour"

    def __init__(self, codes, embedding, metric: str = "euclidean"):
        load("sklearn.neighbors")
        from sklearn.neighbors import NearestNeighbors

        codes = check_codes(codes)
        embedding = check_codes(embedding, "embedding")
        if embedding.shape != (codes.shape[0], 2):
            raise ValueError(f"embedding of shape {embedding.shape} does not match {codes.shape[0]} codes")
        self.embedding = embedding
        self.metric = metric
        self.n_features_in_ = codes.shape[1]
        self._nn = NearestNeighbors(n_neighbors=1, metric=metric).fit(codes)

    def kneighbors(self, points) -> np.ndarray:
        """Index (M,) int64 of the nearest training code for each of the (M, d) ``points``."""
        points = check_codes(points, "points")
        if points.shape[1] != self.n_features_in_:
            raise ValueError(f"points have {points.shape[1]} dimensions, the codes have {self.n_features_in_}")
        return self._nn.kneighbors(points, n_neighbors=1, return_distance=False)[:, 0].astype(np.int64)

    def transform(self, points, ctx: JobContext | None = None) -> np.ndarray:
        """(M, 2) float32 embedding positions of the nearest training codes of ``points`` ((M, d))."""
        return self.embedding[self.kneighbors(points)].copy()
