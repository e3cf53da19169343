"""PCA to two components in numpy — scikit-learn's ``PCA(n_components=2)`` without importing scikit-learn.

The window's first embedding is a PCA; importing scikit-learn (with scipy.stats) costs ~2 s of
CPU, which on a cold start competes with torch's import. This computes the same decomposition
(Pearson 1901; as ``sklearn.decomposition.PCA``: centred data, components sorted by variance,
signs by scikit-learn's ``svd_flip(u_based_decision=False)`` — the largest-magnitude entry of each
component positive). tests/core/test_projection.py checks it against scikit-learn.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PrincipalComponents"]


class PrincipalComponents:
    """The first ``n_components`` principal components of codes, from the covariance's eigendecomposition.

    Parameters
    ----------
    n_components : int
        Components kept (≤ d).

    Attributes
    ----------
    components_ : numpy.ndarray, shape (n_components, d), float64
        Unit principal axes, largest variance first; each one's largest-magnitude entry is positive.
    mean_ : numpy.ndarray, shape (d,), float64
    explained_variance_ : numpy.ndarray, shape (n_components,), float64
        Variance along each axis (divided by N − 1), in squared latent units.
    explained_variance_ratio_ : numpy.ndarray, shape (n_components,), float64
        Fraction of the total variance, in [0, 1].
    n_features_in_ : int

    Notes
    -----
    The covariance (d × d) is formed in float64 and decomposed with ``numpy.linalg.eigh``:
    for the N ≫ d of latent codes this is scikit-learn's own "covariance_eigh" solver. Sums
    are float64 whatever the input dtype.
    """

    def __init__(self, n_components: int = 2):
        self.n_components = int(n_components)

    def fit(self, x) -> PrincipalComponents:
        """Fit to ``x`` ((N, d) float, N ≥ 2, d ≥ n_components); ValueError otherwise."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < self.n_components:
            raise ValueError(f"PCA with {self.n_components} components needs (N ≥ 2, d ≥ {self.n_components}) "
                             f"points, got shape {x.shape}")
        self.mean_ = x.mean(axis=0)
        xc = x - self.mean_
        cov = (xc.T @ xc) / (x.shape[0] - 1)
        values, vectors = np.linalg.eigh(cov)  # ascending
        order = np.argsort(values)[::-1]
        values = np.clip(values[order], 0.0, None)
        comps = vectors[:, order].T[: self.n_components].copy()
        # scikit-learn's svd_flip(u_based_decision=False): the largest |entry| of each component is positive
        big = np.argmax(np.abs(comps), axis=1)
        comps *= np.sign(comps[np.arange(len(comps)), big])[:, None]
        total = values.sum()
        self.components_ = comps
        self.explained_variance_ = values[: self.n_components]
        self.explained_variance_ratio_ = self.explained_variance_ / total if total > 0 else np.zeros(self.n_components)
        self.n_features_in_ = x.shape[1]
        return self

    def transform(self, x) -> np.ndarray:
        """Coordinates of ``x`` ((M, d) float) on the components: (M, n_components) float64."""
        return (np.asarray(x, dtype=np.float64) - self.mean_) @ self.components_.T

    def fit_transform(self, x) -> np.ndarray:
        """`fit` then `transform` of the same points."""
        return self.fit(x).transform(x)
