"""The one disentanglement orchestration GUI, CLI and bench call: every score, the MI and DCI matrices, carriers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from explorer.core.disentanglement import metrics as m
from explorer.core.disentanglement import sampled
from explorer.core.jobs import JobContext, sub_context
from explorer.data import Dataset, subsample_indices
from explorer.data.factors import factor_classes, factor_sampler
from explorer.importing import load


@dataclass(frozen=True)
class DisentanglementSettings:
    """How the scores are computed; `reference` is disentanglement_lib's, `fast` is for interactive use.

    Attributes
    ----------
    name : str
        "reference", "fast" or "custom".
    n_train, n_test : int
        Points (images with their factors) for MIG, SAP, DCI, modularity and
        explicitness; MIG and modularity use the training points only.
    bins : int
        Histogram bins of the discretised codes (mutual information).
    batch_size : int
        Images per point of the β-VAE and FactorVAE scores.
    beta_vae_train, beta_vae_test : int
        Points of the β-VAE score.
    factor_vae_train, factor_vae_test, factor_vae_variance : int
        Votes of the FactorVAE score and images of its global variances.
    prune_std : float
        FactorVAE: dimensions with a global standard deviation below this are pruned.
    dci_classifier : {"gbt", "gbt_binned", "hist_gain", "hist_gbt"}
        See `explorer.core.disentanglement.metrics.dci`.
    dci_train, dci_test : int or None
        DCI uses only the first this many training / test points (a random subset, the
        points being independent draws); None uses all of them.
    sap_c : float
        ``C`` of the SAP linear SVMs.
    """

    name: str = "reference"
    n_train: int = 10_000
    n_test: int = 5_000
    bins: int = 20
    batch_size: int = 64
    beta_vae_train: int = 10_000
    beta_vae_test: int = 5_000
    factor_vae_train: int = 10_000
    factor_vae_test: int = 5_000
    factor_vae_variance: int = 10_000
    prune_std: float = 0.05
    dci_classifier: str = "gbt"
    sap_c: float = 0.01
    dci_train: int | None = None
    dci_test: int | None = None

    @classmethod
    def reference(cls) -> DisentanglementSettings:
        """disentanglement_lib's defaults (10,000 / 5,000 points, 20 bins, batch 64, GBT for DCI)."""
        return cls()

    @classmethod
    def fast(cls) -> DisentanglementSettings:
        """For interactive use (see the README for how far it falls from the reference).

        MIG, SAP, modularity and explicitness keep the reference points (they are cheap,
        and with the same seed they give the reference values). DCI keeps them too and runs
        the reference's boosting itself — `GradientBoostingClassifier`'s 100 stages of
        least-squares trees of depth 3 on the negative gradients, Newton-step leaves and
        squared-error importances — with each node's split searched over at most 255
        thresholds per code dimension (quantile bins) instead of over every value
        ("gbt_binned", `explorer.core.disentanglement.binned_gbt`). The β-VAE and FactorVAE
        scores use 300 / 150 points and 3,000 images for the variances.

        Measured against the reference DCI (same 10,000 / 5,000 points, seed 0, scikit-learn
        1.9.1, one thread; README "Disentanglement"), disentanglement / completeness /
        informativeness and CPU seconds: demo β-VAE 0.0538 / 0.0697 / 0.4430 vs 0.0534 / 0.0686 /
        0.4357 (largest difference 0.0073), 35.2 vs 472.4 CPU s (13.4× less); β-TCVAE demo 0.1257 /
        0.1336 / 0.4873 vs 0.1183 / 0.1308 / 0.4832 (0.0074), 36.8 vs 482.6 s (13.1×); plain VAE
        (``vae_dsprites.pt``) 0.0141 / 0.0207 / 0.2774 vs 0.0136 / 0.0216 / 0.2735 (0.0039), 34.8 vs
        442.2 s (12.7×); synthetic codes with known structure (4 factors of 3–10 classes, 8
        dimensions) 0.7141 / 0.7745 / 0.8547 vs 0.7170 / 0.7764 / 0.8540 (0.0029), 8.8 vs 94.5 s
        (10.7×). So within 0.0074 of the reference on every case, at 10.7–13.4× less CPU.
        """
        return cls(name="fast", beta_vae_train=300, beta_vae_test=150, factor_vae_train=300,
                   factor_vae_test=150, factor_vae_variance=3_000, dci_classifier="gbt_binned")

    @classmethod
    def named(cls, name: str) -> DisentanglementSettings:
        """`reference` or `fast` by name; ValueError for another name."""
        if name == "reference":
            return cls.reference()
        if name == "fast":
            return cls.fast()
        raise ValueError(f"disentanglement settings must be 'reference' or 'fast', got {name!r}")

    def to_dict(self) -> dict:
        """The settings as a JSON-able dict."""
        return asdict(self)


@dataclass
class DisentanglementResult:
    """What `evaluate_disentanglement` returns.

    Attributes
    ----------
    record : dict
        Exactly the keys of ``evaluate --metrics disentanglement``: ``"beta_vae"``,
        ``"factor_vae"`` (float in [0, 1], or None without a complete factor grid),
        ``"mig"``, ``"sap"``, ``"dci"`` ``{"disentanglement", "completeness",
        "informativeness"}``, ``"modularity"``, ``"explicitness"`` (floats in [0, 1]),
        ``"settings"`` (`DisentanglementSettings.to_dict` plus ``"seed"``,
        ``"representation"`` and ``"notes"``), ``"n_train"``, ``"n_test"``,
        ``"sklearn_version"``.
    factor_names : tuple of str
        The K factors, in the row order of `mutual_information`.
    mutual_information : numpy.ndarray, shape (K, D), float64
        ``I(v_k; z_j)`` in nats on the training points (codes in ``bins`` bins).
    dci_importance : numpy.ndarray, shape (D, K), float64
        The DCI importance matrix, code × factor (non-negative).
    sap_accuracy : numpy.ndarray, shape (K, D), float64
        Test accuracy of each single-dimension SAP classifier.
    carriers : tuple of int
        For each factor, the latent dimension with the largest mutual information.
    notes : tuple of str
        Sentences for the user (missing grid, solver limits, small data).
    """

    record: dict
    factor_names: tuple[str, ...]
    mutual_information: np.ndarray
    dci_importance: np.ndarray
    sap_accuracy: np.ndarray
    carriers: tuple[int, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        """Record plus matrices as lists (JSON export of the panel)."""
        return {**self.record, "factor_names": list(self.factor_names),
                "mutual_information_nats": self.mutual_information.tolist(),
                "dci_importance": self.dci_importance.tolist(), "sap_accuracy": self.sap_accuracy.tolist(),
                "carriers": list(self.carriers)}


def representation(model, inversion=None):
    """The representation function of a model and its name: images ``(n, C, H, W)`` → codes ``(n, d)``.

    The encoder's mean ``E[z|x]`` for a model with an encoder ("encoder mean"); for a
    GAN without one, the codes GAN inversion finds (``explorer.core.reconstruction.inversion.invert``
    with ``inversion`` settings; "inverted codes (GAN inversion)"), which is slow:
    use small settings. Images are resized to the model's input when they differ.
    """
    from explorer.core.codes import encode_images
    from explorer.data.fit import fit_to_model

    def fit(images):
        if tuple(images.shape[1:]) == tuple(model.image_shape):
            return images
        return fit_to_model(Dataset(images=images), tuple(model.image_shape)).images

    if model.has_encoder:
        return (lambda x: encode_images(model, fit(x))), "encoder mean"
    from explorer.core.reconstruction.inversion import invert

    return (lambda x: invert(model, fit(x), inversion).codes), "inverted codes (GAN inversion)"


def factor_points(dataset: Dataset, sampler, n_train: int, n_test: int, represent, rng: np.random.Generator,
                  ctx: JobContext | None = None, notes: list | None = None):
    """Codes and factor classes of the training and test points of MIG, SAP, DCI, modularity and explicitness.

    With a sampler, ``n_train + n_test`` factor combinations are drawn (each factor
    uniform and independent, as disentanglement_lib) and their images encoded; without
    one, a seeded subset of the dataset's own images (fewer when it is small: two
    thirds train, a note says so).

    Returns
    -------
    codes_train : numpy.ndarray, shape (n_train, D), float64
    classes_train : numpy.ndarray, shape (n_train, K), int64
    codes_test, classes_test
        The same for the test points.
    """
    notes = [] if notes is None else notes
    if sampler is not None:
        classes = sampler.sample_factors(n_train + n_test, rng)
        codes = sampled.represent_classes(sampler, represent, classes, ctx, "codes")
        return codes[:n_train], classes[:n_train], codes[n_train:], classes[n_train:]
    classes, _, binned = factor_classes(dataset.factors)
    notes.extend(binned)
    n = len(dataset)
    if n < n_train + n_test:
        n_train, n_test = max(1, (2 * n) // 3), n - max(1, (2 * n) // 3)
        notes.append(f"only {n:,} images with factors: {n_train:,} training / {n_test:,} test points")
    pick = subsample_indices(n, n_train + n_test, int(rng.integers(2**31)))
    pick = rng.permutation(pick)
    images = dataset.images[pick]
    codes = np.concatenate([np.asarray(represent(images[s:s + 1024]), np.float64)
                            for s in range(0, len(images), 1024)])
    if ctx is not None:
        ctx.progress(1.0, "codes")
    return codes[:n_train], classes[pick[:n_train]], codes[n_train:], classes[pick[n_train:]]


def evaluate_disentanglement(
    model,
    dataset: Dataset,
    settings: DisentanglementSettings | None = None,
    seed: int = 0,
    ctx: JobContext | None = None,
    *,
    represent=None,
    representation_name: str | None = None,
    inversion=None,
) -> DisentanglementResult:
    """Every disentanglement score of one model against a dataset's ground-truth factors.

    The β-VAE score (Higgins et al. 2017), FactorVAE score (Kim & Mnih 2018), MIG
    (Chen et al. 2018), SAP (Kumar et al. 2018), DCI (Eastwood & Williams 2018),
    modularity and explicitness (Ridgeway & Mozer 2018), with disentanglement_lib's
    definitions; the settings say how many points and which classifiers. Points come
    from the dataset's factor sampler (procedural dSprites renders, a complete factor
    grid is indexed; `explorer.data.factors.factor_sampler`); without one, the
    dataset's own images and factors are split into training and test points and the
    β-VAE and FactorVAE scores are None ("needs a complete factor grid").

    Parameters
    ----------
    model : models.base.GenerativeModel
    dataset : Dataset
        Must have ``factors``.
    settings : DisentanglementSettings, optional
        Default `DisentanglementSettings.reference`.
    seed : int
        Seeds every draw and classifier: the same inputs and seed give the same numbers
        (with the same scikit-learn version, recorded).
    ctx : JobContext, optional
        Progress over the stages and cancel (checked between batches and classifiers).
    represent : callable, optional
        Images → codes, instead of the model's (`representation`).
    representation_name : str, optional
        What ``represent`` returns, for the record.
    inversion : InversionSettings, optional
        For a GAN without encoder.

    Returns
    -------
    DisentanglementResult

    Raises
    ------
    ValueError
        If the dataset has no factors, or the codes have fewer than 2 dimensions.
    explorer.core.jobs.Cancelled
        When ``ctx`` is cancelled.
    """
    load("sklearn")
    import sklearn

    settings = settings or DisentanglementSettings.reference()
    if dataset.factors is None:
        raise ValueError(f"dataset '{dataset.name}' has no ground-truth factors; disentanglement needs them")
    if represent is None:
        represent, name = representation(model, inversion)
        representation_name = representation_name or name
    notes: list[str] = []
    sampler, reason = factor_sampler(dataset)
    rng = np.random.default_rng([seed, 0])
    ztr, ytr, zte, yte = factor_points(dataset, sampler, settings.n_train, settings.n_test, represent, rng,
                                 sub_context(ctx, 0.0, 0.15), notes)
    factor_names = tuple(sampler.factor_names if sampler is not None
                         else (dataset.factor_names or [f"factor_{k}" for k in range(ytr.shape[1])]))
    mig, mi = m.mig(ztr, ytr, settings.bins)
    if ctx is not None:
        ctx.progress(0.16, "MIG")
    sap, sap_acc = m.sap(ztr, ytr, zte, yte, c=settings.sap_c, seed=seed, notes=notes)
    if ctx is not None:
        ctx.progress(0.2, "SAP")
    modularity = m.modularity_from_mi(mi.T)
    explicit, _ = m.explicitness(ztr, ytr, zte, yte, seed=seed, notes=notes)
    if ctx is not None:
        ctx.progress(0.22, "modularity and explicitness")
    a, b = settings.dci_train, settings.dci_test
    dci = m.dci(ztr[:a], ytr[:a], zte[:b], yte[:b], settings.dci_classifier, seed=seed,
                ctx=sub_context(ctx, 0.22, 0.6))
    beta = factor = None
    if sampler is not None:
        beta = sampled.beta_vae_score(sampler, represent, settings.beta_vae_train, settings.beta_vae_test,
                                      settings.batch_size, seed, sub_context(ctx, 0.6, 0.8), notes)["score"]
        factor = sampled.factor_vae_score(sampler, represent, settings.factor_vae_train, settings.factor_vae_test,
                                          settings.batch_size, settings.factor_vae_variance, settings.prune_std,
                                          seed, sub_context(ctx, 0.8, 1.0))["score"]
    else:
        notes.append(f"β-VAE and FactorVAE scores: {reason}; the other scores use the dataset's own images")
    if ctx is not None:
        ctx.progress(1.0, "disentanglement done")
    record = {
        "beta_vae": beta,
        "factor_vae": factor,
        "mig": mig,
        "sap": sap,
        "dci": {"disentanglement": dci["disentanglement"], "completeness": dci["completeness"],
                "informativeness": dci["informativeness"]},
        "modularity": modularity,
        "explicitness": explicit,
        "settings": {**settings.to_dict(), "seed": int(seed), "representation": representation_name,
                     "factor_source": sampler.kind if sampler is not None else "dataset",
                     "notes": list(notes)},
        "n_train": int(len(ztr)),
        "n_test": int(len(zte)),
        "sklearn_version": sklearn.__version__,
    }
    return DisentanglementResult(record=record, factor_names=factor_names, mutual_information=mi,
                                 dci_importance=dci["importance"], sap_accuracy=sap_acc,
                                 carriers=tuple(int(j) for j in np.argmax(mi, axis=1)), notes=tuple(notes))

