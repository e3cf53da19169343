"""The β-VAE and FactorVAE scores, which encode images rendered or looked up for chosen factor values."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from explorer.core.disentanglement.metrics import fit_quiet
from explorer.importing import load

#: Points generated per call of the representation function (bounds the images held at once).
_CHUNK_POINTS = 16


def _represent_batches(sampler, represent: Callable[[np.ndarray], np.ndarray], factor_batches: np.ndarray,
                       ctx, label: str) -> np.ndarray:
    """Codes ``(P, B, D)`` of factor class batches ``(P, B, K)``, a few points at a time."""
    p, b, k = factor_batches.shape
    out = None
    for start in range(0, p, _CHUNK_POINTS):
        stop = min(start + _CHUNK_POINTS, p)
        flat = factor_batches[start:stop].reshape(-1, k)
        codes = np.asarray(represent(sampler.images(flat)), dtype=np.float64)
        if out is None:
            out = np.empty((p, b, codes.shape[1]))
        out[start:stop] = codes.reshape(stop - start, b, -1)
        if ctx is not None:
            ctx.progress(stop / p, f"{label}: {stop:,} / {p:,} points")
    return out


def represent_classes(sampler, represent, classes: np.ndarray, ctx=None, label: str = "codes",
                      chunk: int = 1024) -> np.ndarray:
    """Codes ``(n, D)`` float64 of the images of factor class indices ``(n, K)``, ``chunk`` images at a time."""
    n = len(classes)
    out = None
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        codes = np.asarray(represent(sampler.images(classes[start:stop])), dtype=np.float64)
        if out is None:
            out = np.empty((n, codes.shape[1]))
        out[start:stop] = codes
        if ctx is not None:
            ctx.progress(stop / n, f"{label}: {stop:,} / {n:,} images")
    return out


def beta_vae_points(sampler, represent, n_points: int, batch_size: int, rng: np.random.Generator,
                    ctx=None) -> tuple[np.ndarray, np.ndarray]:
    """Training points of the β-VAE score (Higgins et al. 2017, sec. 3; disentanglement_lib ``beta_vae.py``).

    Each point picks a factor ``k`` uniformly, draws two batches of ``batch_size``
    factor combinations that agree on factor ``k`` pairwise (the others independent),
    and its feature is the mean over the batch of ``|z(x1) − z(x2)|``; its label is ``k``.

    Parameters
    ----------
    sampler : explorer.data.factors.FactorSampler
    represent : callable
        Images ``(n, C, H, W)`` float32 → codes ``(n, D)``.
    n_points, batch_size : int
    rng : numpy.random.Generator
    ctx : JobContext, optional

    Returns
    -------
    features : numpy.ndarray, shape (n_points, D), float64
    labels : numpy.ndarray, shape (n_points,), int64
    """
    k = len(sampler.factor_sizes)
    labels = rng.integers(0, k, size=n_points)
    f1 = np.stack([sampler.sample_factors(batch_size, rng) for _ in range(n_points)])
    f2 = np.stack([sampler.sample_factors(batch_size, rng) for _ in range(n_points)])
    f2[np.arange(n_points), :, labels] = f1[np.arange(n_points), :, labels]
    both = np.concatenate([f1, f2], axis=1)  # (P, 2B, K): one call encodes both batches
    codes = _represent_batches(sampler, represent, both, ctx, "β-VAE score")
    features = np.mean(np.abs(codes[:, :batch_size] - codes[:, batch_size:]), axis=1)
    return features, labels.astype(np.int64)


def beta_vae_score(sampler, represent, n_train: int = 10_000, n_test: int = 5_000, batch_size: int = 64,
                   seed: int = 0, ctx=None, notes: list | None = None) -> dict:
    """β-VAE score (Higgins et al. 2017): accuracy of a linear classifier naming the fixed factor.

    A ``LogisticRegression()`` (scikit-learn defaults, as disentanglement_lib) is fitted
    on ``n_train`` points of `beta_vae_points` and scored on ``n_test`` fresh points.

    Parameters
    ----------
    sampler : explorer.data.factors.FactorSampler
    represent : callable
        Images → codes (the encoder mean, or inverted codes for a GAN).
    n_train, n_test : int
        Points (each two batches of ``batch_size`` images).
    batch_size : int
    seed : int
        Seeds the factor draws and the classifier.
    ctx : JobContext, optional
    notes : list, optional
        Receives a sentence if the regression did not converge.

    Returns
    -------
    dict
        ``"score"`` (test accuracy in [0, 1]; chance is 1/K), ``"train_accuracy"``.
    """
    load("sklearn.linear_model")
    from sklearn.linear_model import LogisticRegression

    from explorer.core.jobs import sub_context

    rng = np.random.default_rng([seed, 1])
    xtr, ytr = beta_vae_points(sampler, represent, n_train, batch_size, rng, sub_context(ctx, 0.0, 0.66))
    xte, yte = beta_vae_points(sampler, represent, n_test, batch_size, rng, sub_context(ctx, 0.66, 1.0))
    clf = fit_quiet(LogisticRegression(random_state=seed), xtr, ytr, notes, "β-VAE score")
    return {"score": float(np.mean(clf.predict(xte) == yte)), "train_accuracy": float(np.mean(clf.predict(xtr) == ytr))}


def factor_vae_votes(sampler, represent, n_points: int, batch_size: int, global_var: np.ndarray,
                     active: np.ndarray, rng: np.random.Generator, ctx=None) -> np.ndarray:
    """Votes of the FactorVAE score (Kim & Mnih 2018, sec. 4; disentanglement_lib ``factor_vae.py``).

    Each point fixes one factor (chosen uniformly) at one value across a batch, divides
    each active code dimension's variance over the batch (ddof = 1) by its global
    variance, and votes ``(factor, dimension of the smallest ratio)``.

    Returns
    -------
    numpy.ndarray, shape (K, D), int64
        Vote counts, factor × code dimension (inactive dimensions get none).
    """
    k = len(sampler.factor_sizes)
    labels = rng.integers(0, k, size=n_points)
    f = np.stack([sampler.sample_factors(batch_size, rng) for _ in range(n_points)])
    f[np.arange(n_points), :, labels] = f[np.arange(n_points), :1, labels]
    codes = _represent_batches(sampler, represent, f, ctx, "FactorVAE score")
    local = np.var(codes, axis=1, ddof=1)  # (P, D)
    dims = np.flatnonzero(active)
    best = dims[np.argmin(local[:, dims] / global_var[dims], axis=1)]
    votes = np.zeros((k, codes.shape[2]), dtype=np.int64)
    np.add.at(votes, (labels, best), 1)
    return votes


def factor_vae_score(sampler, represent, n_train: int = 10_000, n_test: int = 5_000, batch_size: int = 64,
                     n_variance: int = 10_000, prune_std: float = 0.05, seed: int = 0, ctx=None) -> dict:
    """FactorVAE score (Kim & Mnih 2018): accuracy of the majority-vote classifier from dimension to factor.

    Global variances of each code dimension come from ``n_variance`` random images;
    dimensions whose standard deviation is below ``prune_std`` are pruned (collapsed).
    Each dimension is assigned the factor it won most votes for on ``n_train`` points
    (`factor_vae_votes`); the score is the fraction of ``n_test`` fresh votes that
    assignment gets right.

    Parameters
    ----------
    sampler, represent
        As `beta_vae_score`.
    n_train, n_test : int
        Votes (each one batch of ``batch_size`` images).
    batch_size : int
    n_variance : int
        Images for the global variances.
    prune_std : float
        Standard-deviation threshold of the pruning (0.05 in disentanglement_lib).
    seed : int
    ctx : JobContext, optional

    Returns
    -------
    dict
        ``"score"`` (test accuracy in [0, 1]; chance is about 1/K), ``"train_accuracy"``,
        ``"active_dims"`` (int). All 0 when every dimension is pruned.
    """
    from explorer.core.jobs import sub_context

    rng = np.random.default_rng([seed, 2])
    sample = sampler.sample_factors(n_variance, rng)
    codes = represent_classes(sampler, represent, sample, sub_context(ctx, 0.0, 0.1), "FactorVAE variances")
    global_var = np.var(codes, axis=0, ddof=1)
    active = np.sqrt(global_var) >= prune_std
    if not np.any(active):
        return {"score": 0.0, "train_accuracy": 0.0, "active_dims": 0}
    train = factor_vae_votes(sampler, represent, n_train, batch_size, global_var, active, rng,
                             sub_context(ctx, 0.1, 0.7))
    test = factor_vae_votes(sampler, represent, n_test, batch_size, global_var, active, rng,
                            sub_context(ctx, 0.7, 1.0))
    assign = np.argmax(train, axis=0)  # factor of each code dimension
    cols = np.arange(train.shape[1])
    return {"score": float(test[assign, cols].sum() / test.sum()),
            "train_accuracy": float(train[assign, cols].sum() / train.sum()),
            "active_dims": int(active.sum())}
