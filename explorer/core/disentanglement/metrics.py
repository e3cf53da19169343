"""Disentanglement scores of codes against ground-truth factor classes: MIG, SAP, DCI, modularity, explicitness.

The definitions and defaults follow google-research/disentanglement_lib
(``evaluation/metrics/``); the layouts here are row-major: codes ``(N, D)``, factor
classes ``(N, K)``. The β-VAE and FactorVAE scores, which need images for chosen factor
values, are in `explorer.core.disentanglement.sampled`.
"""

from __future__ import annotations

import warnings

import numpy as np

from explorer.importing import load

#: Histogram bins of the discretised codes (disentanglement_lib's ``num_bins``).
DEFAULT_BINS = 20


def fit_quiet(estimator, x, y, notes: list | None, what: str):
    """Fit a scikit-learn estimator; a ConvergenceWarning becomes one sentence in ``notes`` (not an error)."""
    load("sklearn.exceptions")
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        estimator.fit(x, y)
    if notes is not None and any(issubclass(w.category, ConvergenceWarning) for w in caught):
        message = f"{what}: scikit-learn's solver stopped at its iteration limit before converging"
        if message not in notes:
            notes.append(message)
    return estimator


def discretize(codes: np.ndarray, bins: int = DEFAULT_BINS) -> np.ndarray:
    """Discretise each code dimension into ``bins`` equal-width histogram bins.

    Parameters
    ----------
    codes : numpy.ndarray, shape (N, D), float
    bins : int
        Bins per dimension, over that dimension's [min, max] (``numpy.histogram`` edges).

    Returns
    -------
    numpy.ndarray, shape (N, D), int64
        Bin index 1..bins of each value (``numpy.digitize`` on the left edges).
    """
    codes = np.asarray(codes, dtype=np.float64)
    out = np.empty(codes.shape, dtype=np.int64)
    for j in range(codes.shape[1]):
        edges = np.histogram(codes[:, j], bins)[1][:-1]
        out[:, j] = np.digitize(codes[:, j], edges)
    return out


def mutual_information_matrix(codes: np.ndarray, classes: np.ndarray, bins: int = DEFAULT_BINS) -> np.ndarray:
    """Mutual information between each discretised code dimension and each factor, in nats.

    Parameters
    ----------
    codes : numpy.ndarray, shape (N, D), float
    classes : numpy.ndarray, shape (N, K), int
        Factor class indices.
    bins : int
        See `discretize`.

    Returns
    -------
    numpy.ndarray, shape (K, D), float64
        ``I(v_k; z_j)`` (scikit-learn's ``mutual_info_score``, natural log): factor × latent.
    """
    load("sklearn.metrics")
    from sklearn.metrics import mutual_info_score

    disc = discretize(codes, bins)
    classes = np.asarray(classes)
    return np.array([[mutual_info_score(classes[:, k], disc[:, j]) for j in range(disc.shape[1])]
                     for k in range(classes.shape[1])])


def factor_entropies(classes: np.ndarray) -> np.ndarray:
    """Entropy ``H(v_k)`` of each factor's empirical distribution, in nats: ``(K,)`` float64."""
    load("sklearn.metrics")
    from sklearn.metrics import mutual_info_score

    classes = np.asarray(classes)
    return np.array([mutual_info_score(classes[:, k], classes[:, k]) for k in range(classes.shape[1])])


def mig(codes: np.ndarray, classes: np.ndarray, bins: int = DEFAULT_BINS) -> tuple[float, np.ndarray]:
    """Mutual information gap (Chen et al. 2018, eq. 5; disentanglement_lib ``mig.py``).

    ``MIG = (1/K) Σ_k (I(v_k; z_(1)) − I(v_k; z_(2))) / H(v_k)``, where ``z_(1)``, ``z_(2)``
    are the code dimensions with the largest and second largest mutual information with
    factor ``v_k`` (codes discretised into ``bins`` bins). Factors of zero entropy
    (constant) are left out.

    Parameters
    ----------
    codes : numpy.ndarray, shape (N, D), float, D ≥ 2
    classes : numpy.ndarray, shape (N, K), int
    bins : int

    Returns
    -------
    score : float
        In [0, 1].
    mi : numpy.ndarray, shape (K, D)
        The mutual-information matrix, nats (`mutual_information_matrix`).

    Raises
    ------
    ValueError
        If the codes have fewer than 2 dimensions or every factor is constant.
    """
    if np.asarray(codes).shape[1] < 2:
        raise ValueError("MIG needs codes of at least 2 dimensions")
    mi = mutual_information_matrix(codes, classes, bins)
    h = factor_entropies(classes)
    keep = h > 0
    if not np.any(keep):
        raise ValueError("MIG needs at least one factor that varies")
    top = np.sort(mi, axis=1)[:, ::-1]
    return float(np.mean((top[keep, 0] - top[keep, 1]) / h[keep])), mi


def sap(codes_train: np.ndarray, classes_train: np.ndarray, codes_test: np.ndarray,
        classes_test: np.ndarray, c: float = 0.01, seed: int = 0, notes: list | None = None
        ) -> tuple[float, np.ndarray]:
    """Separated attribute predictability (Kumar et al. 2018; disentanglement_lib ``sap_score.py``, discrete factors).

    For every code dimension ``j`` and factor ``k`` a linear SVM on that one dimension,
    ``LinearSVC(C=0.01, class_weight="balanced")``, predicts the factor's class; its
    test accuracy is ``S[k, j]``. SAP is the mean over factors of the gap between the
    two highest accuracies of a row.

    Parameters
    ----------
    codes_train, codes_test : numpy.ndarray, shape (N, D), float
    classes_train, classes_test : numpy.ndarray, shape (N, K), int
    c : float
        The SVM's ``C`` (regularisation (0.01 in disentanglement_lib)).
    seed : int
        ``random_state`` of the SVMs.
    notes : list, optional
        Receives a sentence when an SVM did not converge.

    Returns
    -------
    score : float
        In [0, 1].
    accuracy : numpy.ndarray, shape (K, D)
        Test accuracy of each single-dimension classifier.
    """
    load("sklearn.svm")
    from sklearn.svm import LinearSVC

    d, k = codes_train.shape[1], classes_train.shape[1]
    scores = np.zeros((k, d))
    for i in range(k):
        y, y_test = classes_train[:, i], classes_test[:, i]
        if len(np.unique(y)) < 2:
            continue
        for j in range(d):
            clf = LinearSVC(C=c, class_weight="balanced", random_state=seed)
            fit_quiet(clf, codes_train[:, j:j + 1], y, notes, "SAP")
            scores[i, j] = float(np.mean(clf.predict(codes_test[:, j:j + 1]) == y_test))
    top = np.sort(scores, axis=1)[:, ::-1]
    return float(np.mean(top[:, 0] - top[:, 1])), scores


def _entropy_rows(p: np.ndarray, base: int) -> np.ndarray:
    """Entropy of each row of non-negative weights (normalised per row), in log base ``base``."""
    load("scipy.stats")
    from scipy.stats import entropy

    return np.array([entropy(row + 1e-11, base=base) for row in p])


def dci_from_importance(importance: np.ndarray) -> tuple[float, float]:
    """DCI disentanglement and completeness from an importance matrix (Eastwood & Williams 2018, sec. 3).

    With ``R`` the ``(D, K)`` code × factor importance matrix, code ``j``'s distribution
    over factors ``P_j = R[j] / Σ_k R[j, k]`` has disentanglement ``1 − H_K(P_j)``
    (entropy in log base K); the score weighs it by ``ρ_j = Σ_k R[j, k] / Σ R``.
    Completeness is the same on the factors: ``1 − H_D(R[:, k] / Σ_j R[j, k])`` weighted
    by the factor's share of the importance. (A constant 1e-11 is added to each entry
    before the entropy, as disentanglement_lib does.)

    Parameters
    ----------
    importance : numpy.ndarray, shape (D, K), float, non-negative
        Code × factor.

    Returns
    -------
    disentanglement, completeness : float
        In [0, 1]; 0 and 0 when the matrix is all zero.
    """
    r = np.asarray(importance, dtype=np.float64)
    total = r.sum()
    if total == 0:
        return 0.0, 0.0
    d, k = r.shape
    dis = 1.0 - _entropy_rows(r, base=k) if k > 1 else np.ones(d)
    com = 1.0 - _entropy_rows(r.T, base=d) if d > 1 else np.ones(k)
    return float(np.sum(dis * r.sum(axis=1) / total)), float(np.sum(com * r.sum(axis=0) / total))


#: `HistGradientBoostingClassifier` arguments that mirror `GradientBoostingClassifier`'s defaults
#: (100 stages of learning rate 0.1, trees of depth 3 with leaves of ≥ 1 point, no L2 penalty, no
#: early stopping); the codes are cut into at most 255 bins per dimension instead of exact thresholds.
HIST_AS_GBT = {"max_iter": 100, "learning_rate": 0.1, "max_depth": 3, "max_leaf_nodes": None, "min_samples_leaf": 1,
               "l2_regularization": 0.0, "early_stopping": False}


def split_gain_importances(model, n_features: int) -> np.ndarray:
    """Split-gain ("impurity") importances of a fitted `HistGradientBoostingClassifier`.

    The total loss reduction ("gain") of the splits on each feature, summed over every tree
    of every iteration and class and normalised to sum to 1 — the histogram counterpart of
    `GradientBoostingClassifier.feature_importances_` (total reduction of the trees' squared
    error, normalised), which scikit-learn does not offer for histogram boosting. It reads the
    fitted trees' node tables (``_predictors``, stable since scikit-learn 0.21: ``feature_idx``,
    ``gain``, ``is_leaf``).

    Parameters
    ----------
    model : sklearn.ensemble.HistGradientBoostingClassifier
        Fitted.
    n_features : int

    Returns
    -------
    numpy.ndarray, shape (n_features,), float64
        Non-negative, sum 1 (all zero when no tree split).

    Raises
    ------
    RuntimeError
        When this scikit-learn keeps its trees differently (one sentence naming the version).
    """
    load("sklearn")
    import sklearn

    imp = np.zeros(n_features)
    try:
        for iteration in model._predictors:
            for tree in iteration:
                nodes = tree.nodes
                inner = nodes[nodes["is_leaf"] == 0]
                np.add.at(imp, inner["feature_idx"].astype(np.int64), np.maximum(inner["gain"], 0.0))
    except (AttributeError, KeyError, ValueError) as exc:
        raise RuntimeError(f"scikit-learn {sklearn.__version__} keeps histogram-boosting trees differently "
                           f"({exc}); use the reference DCI (GradientBoostingClassifier).") from None
    total = imp.sum()
    return imp / total if total > 0 else imp


def dci(codes_train: np.ndarray, classes_train: np.ndarray, codes_test: np.ndarray, classes_test: np.ndarray,
        classifier: str = "gbt", seed: int = 0, ctx=None) -> dict:
    """DCI disentanglement, completeness and informativeness (Eastwood & Williams 2018; disentanglement_lib ``dci.py``).

    One classifier per factor predicts the factor's class from the whole code; the
    absolute feature importances form column ``k`` of the ``(D, K)`` importance matrix
    (`dci_from_importance`); informativeness is the mean test accuracy over factors.

    Parameters
    ----------
    codes_train, codes_test : numpy.ndarray, shape (N, D), float
    classes_train, classes_test : numpy.ndarray, shape (N, K), int
    classifier : {"gbt", "gbt_binned", "hist_gain", "hist_gbt"}
        "gbt": ``GradientBoostingClassifier()`` with scikit-learn's defaults (the
        reference; slow). "gbt_binned": the same boosting — least-squares trees on the
        negative gradients, Newton-step leaves, squared-error importances — with the splits
        searched over at most 255 thresholds per feature
        (`explorer.core.disentanglement.binned_gbt.fit_binned_gbt`; the fast settings; see
        `DisentanglementSettings.fast` for how far it falls from the reference).
        "hist_gain": ``HistGradientBoostingClassifier(**HIST_AS_GBT)`` — the reference's
        stages, learning rate and depth on histogram-binned codes — with split-gain importances
        (`split_gain_importances`), the counterpart of the reference's impurity importances (the
        fast settings of before: its Newton splits and hessian-weighted gains put D and C 0.01–0.03
        above the reference's on the demos). "hist_gbt": ``HistGradientBoostingClassifier()``
        with its own defaults and permutation importances on the training points, clipped at 0
        (the fast DCI of before; its importances spread differently from the reference's).
        The histogram classifiers run on one OpenMP thread: trees of depth 3 on ≤ 10⁴ points
        give each thread too little work, and on a busy 2-core machine two threads ran 40× slower
        (their per-node barriers wait for descheduled threads).
    seed : int
        ``random_state`` of the classifiers.
    ctx : JobContext, optional
        Progress per factor and cancel.

    Returns
    -------
    dict
        ``"disentanglement"``, ``"completeness"``, ``"informativeness"`` (floats in [0, 1]),
        ``"informativeness_train"``, and ``"importance"`` ``(D, K)`` float64.

    Raises
    ------
    ValueError
        For an unknown classifier.
    """
    load("sklearn.ensemble")
    from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    if classifier not in ("gbt", "gbt_binned", "hist_gain", "hist_gbt"):
        raise ValueError(f"classifier must be 'gbt', 'gbt_binned', 'hist_gain' or 'hist_gbt', got {classifier!r}")
    d, k = codes_train.shape[1], classes_train.shape[1]
    importance = np.zeros((d, k))
    acc_train, acc_test = [], []
    for i in range(k):
        y = classes_train[:, i]
        if len(np.unique(y)) < 2:
            acc_train.append(1.0)
            acc_test.append(float(np.mean(classes_test[:, i] == y[0])))
            continue
        if classifier == "gbt":
            model = GradientBoostingClassifier(random_state=seed).fit(codes_train, y)
            importance[:, i] = np.abs(model.feature_importances_)
        elif classifier == "gbt_binned":
            from explorer.core.disentanglement.binned_gbt import fit_binned_gbt

            model = fit_binned_gbt(codes_train, y)
            importance[:, i] = model.feature_importances_
        elif classifier == "hist_gain":
            with threadpool_limits(limits=1, user_api="openmp"):
                model = HistGradientBoostingClassifier(random_state=seed, **HIST_AS_GBT).fit(codes_train, y)
            importance[:, i] = split_gain_importances(model, d)
        else:
            load("sklearn.inspection")
            from sklearn.inspection import permutation_importance

            with threadpool_limits(limits=1, user_api="openmp"):
                model = HistGradientBoostingClassifier(random_state=seed).fit(codes_train, y)
                perm = permutation_importance(model, codes_train, y, n_repeats=3, random_state=seed)
            importance[:, i] = np.clip(perm.importances_mean, 0.0, None)
        with threadpool_limits(limits=1, user_api="openmp"):
            fitted = model.train_prediction if classifier == "gbt_binned" else model.predict(codes_train)
            acc_train.append(float(np.mean(fitted == y)))
            acc_test.append(float(np.mean(model.predict(codes_test) == classes_test[:, i])))
        if ctx is not None:
            ctx.progress((i + 1) / k, f"DCI: factor {i + 1} / {k} fitted")
    dis, com = dci_from_importance(importance)
    return {"disentanglement": dis, "completeness": com, "informativeness": float(np.mean(acc_test)),
            "informativeness_train": float(np.mean(acc_train)), "importance": importance}


def modularity_from_mi(mi_codes_factors: np.ndarray) -> float:
    """Modularity (Ridgeway & Mozer 2018, sec. 3; disentanglement_lib ``modularity_explicitness.py``).

    For code ``j`` with mutual information ``m_jk`` with each factor and ``θ_j = max_k m_jk``:
    ``δ_j = Σ_{k ≠ argmax} m_jk² / (θ_j² (K − 1))`` and modularity is the mean of ``1 − δ_j``
    (0 for a code that carries no information).

    Parameters
    ----------
    mi_codes_factors : numpy.ndarray, shape (D, K)
        Mutual information, code × factor.

    Returns
    -------
    float
        In [0, 1].
    """
    sq = np.square(np.asarray(mi_codes_factors, dtype=np.float64))
    top = sq.max(axis=1)
    k = sq.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = (sq.sum(axis=1) - top) / (top * (k - 1.0))
    score = np.where(top == 0, 0.0, 1.0 - delta)
    return float(np.mean(score))


def explicitness(codes_train: np.ndarray, classes_train: np.ndarray, codes_test: np.ndarray,
                 classes_test: np.ndarray, seed: int = 0, notes: list | None = None) -> tuple[float, float]:
    """Explicitness (Ridgeway & Mozer 2018): ROC AUC of a linear classifier per factor.

    Codes are standardised with the training mean and standard deviation; per factor a
    ``LogisticRegression()`` (scikit-learn defaults) predicts the class probabilities,
    and the macro-average over classes of the one-vs-rest ROC AUC is that factor's
    score; explicitness is the mean over factors (classes absent from the test points
    are left out of that factor's average).

    Parameters
    ----------
    codes_train, codes_test : numpy.ndarray, shape (N, D), float
    classes_train, classes_test : numpy.ndarray, shape (N, K), int
    seed : int
    notes : list, optional
        Receives a sentence when a regression did not converge.

    Returns
    -------
    test, train : float
        Mean ROC AUC in [0, 1] on the test and the training points.
    """
    load("sklearn.linear_model", "sklearn.metrics")
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    mean, std = codes_train.mean(axis=0), codes_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    xtr, xte = (codes_train - mean) / std, (codes_test - mean) / std
    test, train = [], []
    for i in range(classes_train.shape[1]):
        y = classes_train[:, i]
        if len(np.unique(y)) < 2:
            continue
        clf = fit_quiet(LogisticRegression(random_state=seed), xtr, y, notes, "explicitness")
        out = []
        for x, t in ((xte, classes_test[:, i]), (xtr, y)):
            p = clf.predict_proba(x)
            aucs = [roc_auc_score(t == c, p[:, n]) for n, c in enumerate(clf.classes_)
                    if 0 < np.sum(t == c) < len(t)]
            out.append(float(np.mean(aucs)) if aucs else float("nan"))
        test.append(out[0])
        train.append(out[1])
    return float(np.nanmean(test)), float(np.nanmean(train))
