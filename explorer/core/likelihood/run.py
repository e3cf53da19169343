"""The one likelihood orchestration (GUI panel, CLI `evaluate --metrics likelihood` and bench call it)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from explorer.core.jobs import JobContext, sub_context
from explorer.core.likelihood.ais import ais_log_likelihood, bdmc
from explorer.core.likelihood.bounds import (
    DEFAULT_BATCH_CODES,
    NonFiniteError,
    draw_eps,
    iwae_from_log_weights,
    log_importance_weights,
)
from explorer.core.likelihood.kde import KDE_WARNING, parzen_log_density, select_sigma, squared_distances
from explorer.core.likelihood.progress import StageProgress, with_eta
from explorer.core.likelihood.units import (
    LOG_256,
    UNITS,
    binarise,
    bits_per_dim,
    dequantise,
    image_generator,
    mean_ci95,
)
from explorer.data import Dataset, fit_to_model, subsample_indices
from explorer.errors import UserError

ESTIMATORS = ("iwae", "ais", "kde")

#: Images measured when ``n_images`` is not given: IWAE and KDE 1,000; AIS 100 (≈ T·L·C decoder
#: gradients per image).
DEFAULT_N_IMAGES = {"iwae": 1000, "ais": 100, "kde": 1000}

#: Images per AIS batch (all their chains run together); part of the seeding, so fixed — also on a GPU,
#: where only the decoder's calls within a batch are split after an out-of-memory error.
AIS_BATCH_IMAGES = 8

_STREAM_EPS, _STREAM_DATA = 1, 2


class LikelihoodError(UserError, ValueError):
    """A likelihood cannot be estimated for this model or these settings; the message is one sentence."""


@dataclass(frozen=True)
class LikelihoodSettings:
    """What to estimate and how (the Likelihood panel's settings; one keyword object for `evaluate_models`).

    Parameters
    ----------
    estimator : {"iwae", "ais", "kde"}
        IWAE/ELBO (needs ``posterior`` and ``log_px_given_z``), AIS (needs ``decode`` only),
        or a Parzen window on model samples.
    iwae_k : tuple of int
        The ``k`` of ``L_k``; the largest is the reported bound, all of them the curve.
    ais_steps : int
        ``T`` intermediate distributions (sigmoid schedule).
    ais_chains : int
        Independent AIS chains per image (log-mean-exp over them).
    leapfrog_steps : int
        Leapfrog steps per HMC transition.
    sigma : float, optional
        Observation noise σ of AIS, or the KDE bandwidth, in pixel units; None chooses it on
        a held-out split (the images not measured).
    sigma_grid : tuple of float
        AIS: the σ tried on the held-out split (KDE uses `kde.DEFAULT_SIGMA_GRID`).
    sigma_images : int
        AIS: held-out images for choosing σ.
    sigma_steps : int
        AIS: ``T`` of the short runs that choose σ.
    bdmc_images : int
        AIS: images simulated from the model for the BDMC gap (0 skips it).
    kde_samples : int
        KDE: model samples in the mixture.
    kde_validation : int
        KDE: held-out images for choosing the bandwidth.
    n_images : int, optional
        A seeded subset of the dataset (`explorer.data.subsample_indices`); default
        `DEFAULT_N_IMAGES` of the estimator.
    binarize : bool
        Bernoulli decoders: evaluate on seeded stochastic binarisations of the images.
    seed : int
    batch_codes : int
        Most codes per decoder call in IWAE on the CPU; on a GPU the batch starts larger and
        halves after an out-of-memory error (`bounds.log_importance_weights`).

    Raises
    ------
    ValueError
        One sentence naming the setting that is out of range.
    """

    estimator: str = "iwae"
    iwae_k: tuple[int, ...] = (1, 10, 100, 1000)
    ais_steps: int = 1000
    ais_chains: int = 4
    leapfrog_steps: int = 10
    sigma: float | None = None
    sigma_grid: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.3)
    sigma_images: int = 10
    sigma_steps: int = 100
    bdmc_images: int = 4
    kde_samples: int = 10000
    kde_validation: int = 500
    n_images: int | None = None
    binarize: bool = False
    seed: int = 0
    batch_codes: int = DEFAULT_BATCH_CODES

    def __post_init__(self):
        object.__setattr__(self, "iwae_k", tuple(sorted({int(k) for k in self.iwae_k})))
        object.__setattr__(self, "sigma_grid", tuple(float(s) for s in self.sigma_grid))
        if self.estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {', '.join(ESTIMATORS)}, got {self.estimator!r}")
        if not self.iwae_k or self.iwae_k[0] < 1:
            raise ValueError(f"the IWAE k must be positive integers, got {list(self.iwae_k)}")
        for name in ("ais_steps", "ais_chains", "leapfrog_steps", "sigma_images", "sigma_steps", "kde_samples",
                     "kde_validation", "batch_codes"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if int(self.bdmc_images) < 0:
            raise ValueError(f"bdmc_images must be ≥ 0, got {self.bdmc_images}")
        if self.n_images is not None and int(self.n_images) < 1:
            raise ValueError(f"n_images must be ≥ 1, got {self.n_images}")
        if self.sigma is not None and not (math.isfinite(self.sigma) and self.sigma > 0):
            raise ValueError(f"sigma must be a positive number, got {self.sigma}")
        if not self.sigma_grid or min(self.sigma_grid) <= 0:
            raise ValueError(f"sigma_grid must hold positive numbers, got {list(self.sigma_grid)}")

    @property
    def images(self) -> int:
        """The number of images measured (``n_images`` or the estimator's default)."""
        return int(self.n_images) if self.n_images is not None else DEFAULT_N_IMAGES[self.estimator]

    def to_dict(self) -> dict:
        """JSON-ready dict (tuples as lists); `from_dict` reads it back."""
        d = asdict(self)
        d["iwae_k"], d["sigma_grid"] = list(self.iwae_k), list(self.sigma_grid)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> LikelihoodSettings:
        """Settings from `to_dict` output; unknown keys are ignored.

        Raises
        ------
        ValueError
            If a value is out of range.
        """
        known = cls.__dataclass_fields__
        return cls(**{k: (tuple(v) if k in ("iwae_k", "sigma_grid") else v) for k, v in d.items() if k in known})


@dataclass
class LikelihoodResult:
    """What `estimate_likelihood` returns: the JSON record and the per-image arrays a panel draws.

    Attributes
    ----------
    record : dict
        The ``"likelihood"`` record of ``evaluate --json`` (finite numbers or None only).
    indices : numpy.ndarray, shape (N,), int64
        Dataset indices of the images measured (sorted).
    nll_nats : numpy.ndarray, shape (N,), float64
        Negative log-likelihood estimate per image, nats (lower is better).
    bits_per_dim : numpy.ndarray or None, shape (N,), float64
        ``nll_nats / (D ln 2)``; None when the observation model gives no likelihood of
        these images (a Bernoulli decoder on grey levels without binarisation).
    elbo_nats : numpy.ndarray or None, shape (N,), float64
        IWAE: −ELBO per image, same convention as ``nll_nats``.
    curve_k : tuple of int
        IWAE: the ``k`` of the curve (ascending); empty otherwise.
    curve_nll_nats : numpy.ndarray, shape (len(curve_k), N), float64
        IWAE: ``−L_k`` per image for each ``k`` (same convention as ``nll_nats``).
    sigma : float or None
        AIS σ / KDE bandwidth used.
    sigma_scores : dict of float to float
        Mean held-out log-likelihood (nats) per σ tried, when σ was chosen.
    bdmc_lower_nats, bdmc_upper_nats : numpy.ndarray or None, shape (S,)
        AIS: the BDMC forward / reverse estimates on simulated images.
    notes : list of str
        Sentences for the user (rounding to 8 bits, resizing, defaults).
    settings : LikelihoodSettings
    seconds : float
        Wall time.
    dims : int
        ``D = C·H·W`` of the model's images.
    """

    record: dict
    indices: np.ndarray
    nll_nats: np.ndarray
    bits_per_dim: np.ndarray | None
    elbo_nats: np.ndarray | None = None
    curve_k: tuple[int, ...] = ()
    curve_nll_nats: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    sigma: float | None = None
    sigma_scores: dict = field(default_factory=dict)
    bdmc_lower_nats: np.ndarray | None = None
    bdmc_upper_nats: np.ndarray | None = None
    notes: list = field(default_factory=list)
    settings: LikelihoodSettings | None = None
    seconds: float = 0.0
    dims: int = 0

    def curve(self) -> list[dict]:
        """IWAE: ``[{"k", "nll_nats", "nll_nats_ci95", "bits_per_dim"}]`` for the L_k-vs-k plot, k ascending."""
        out = []
        for k, row in zip(self.curve_k, self.curve_nll_nats, strict=True):
            m, ci = mean_ci95(row)
            dims = self.dims
            out.append({"k": int(k), "nll_nats": m, "nll_nats_ci95": ci,
                        "bits_per_dim": bits_per_dim(m, dims) if self.bits_per_dim is not None and dims else None})
        return out


def iwae_unavailable(model, name: str = "the model") -> str | None:
    """Why ELBO/IWAE cannot be computed for ``model``, as one sentence, or None when it can.

    The model needs ``posterior(x) -> (mu, logvar)`` (a diagonal Gaussian ``q(z|x)``) and
    ``log_px_given_z(x, z) -> (N,)`` in nats; an adapter (`models.adapter.WrappedModel`)
    says whether its file defines them through ``has_likelihood``.
    """
    flag = getattr(model, "has_likelihood", None)
    have_post = callable(getattr(model, "posterior", None))
    have_lik = callable(getattr(model, "log_px_given_z", None))
    if flag is None:
        flag = have_post and have_lik
    if flag:
        return None
    if getattr(model, "kind", None) == "gan" and not getattr(model, "has_encoder", False):
        return (f"{name} is a GAN generator: it has no inference network q(z|x) and no likelihood p(x|z), so "
                "ELBO/IWAE cannot be computed; use AIS (--estimator ais), which needs only the generator.")
    missing = getattr(model, "missing_likelihood", None) or " and ".join(
        m for m, ok in (("posterior(x) -> (mu, logvar)", have_post), ("log_px_given_z(x, z)", have_lik)) if not ok
    ) or "posterior(x) -> (mu, logvar) and log_px_given_z(x, z)"
    return (f"{name} ({getattr(model, 'kind', '?')}) defines no {missing}, so ELBO/IWAE cannot be computed; "
            "AIS (--estimator ais) needs only decode and still works.")


def _subset(n_total: int, n: int, seed: int, name: str) -> np.ndarray:
    return subsample_indices(n_total, min(int(n), n_total), seed)


def _held_out(n_total: int, used: np.ndarray, n: int, seed: int) -> np.ndarray:
    rest = np.setdiff1d(np.arange(n_total, dtype=np.int64), used)
    if rest.size == 0:
        return rest
    pick = np.random.default_rng([int(seed) & 0xFFFFFFFF, 7]).choice(rest.size, min(int(n), rest.size),
                                                                     replace=False)
    return np.sort(rest[pick])


def _dequantised(images: np.ndarray, indices: np.ndarray, seed: int, notes: list) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(images[indices]))
    out = torch.empty_like(x)
    worst = 0.0
    for i, idx in enumerate(indices):
        y, off = dequantise(x[i:i + 1], image_generator(seed, int(idx), _STREAM_DATA))
        out[i] = y[0]
        worst = max(worst, off)
    if worst > 1e-3:
        notes.append(f"the images are not 8-bit levels (off the 1/255 grid by up to {worst / 255:.2g}); "
                     "they were rounded to 8 bits before dequantisation")
    return out


def estimate_likelihood(
    model,
    dataset: Dataset,
    settings: LikelihoodSettings | None = None,
    ctx: JobContext | None = None,
    on_note: Callable[[str], None] | None = None,
    name: str = "the model",
) -> LikelihoodResult:
    """Estimate the negative log-likelihood of a seeded subset of ``dataset`` under ``model``.

    The one entry point of the feature: the Likelihood panel runs it as a job, ``latent-explorer
    evaluate --metrics likelihood`` writes its ``record``, the bench times it.

    - ``"iwae"``: ``L_k`` (Burda et al. 2016) for each ``settings.iwae_k`` from one set of
      ``max(k)`` importance samples per image (seeded per dataset index), and the ELBO (``L_1``).
      Observation model: the model's own decoder likelihood (``log_px_given_z``).
    - ``"ais"``: forward AIS (Wu et al. 2017) with ``p(x|z) = N(decode(z), σ² I)``, σ given or
      chosen on held-out images, and the BDMC gap on data simulated from the model.
    - ``"kde"``: Parzen window on ``decode(z)``, ``z ~ p(z)``, bandwidth by cross-validation
      (Goodfellow et al. 2014), with the warning of Theis et al. 2016.

    Continuous densities are evaluated on uniformly dequantised 8-bit images and reported as
    upper bounds on the discrete NLL (``+ D log 256``); a Bernoulli decoder is evaluated on
    seeded stochastic binarisations when ``settings.binarize``, and otherwise gets no bits/dim.

    Parameters
    ----------
    model : GenerativeModel
        A loaded model (checkpoint, adapter or TorchScript).
    dataset : Dataset
        Images ``(N, C, H, W)`` float32 in [0, 1]; resized to the model's input if needed.
    settings : LikelihoodSettings, optional
    ctx : JobContext, optional
        Progress (fraction of the whole job, a message ending with the estimated time left) and
        cancel.
    on_note : callable, optional
        Receives sentences for the user.
    name : str
        How messages name the model (e.g. the checkpoint file name).

    Returns
    -------
    LikelihoodResult
        ``record`` keys: ``estimator``, ``k`` (IWAE) or ``ais_steps`` (AIS), ``n_images``,
        ``nll_nats``, ``nll_nats_ci95``, ``bits_per_dim``, ``elbo_nats``, ``observation_model``,
        ``data_convention``, ``bdmc_gap_nats`` (AIS), ``warning`` (KDE), and ``units``, ``seed``,
        ``sigma`` (AIS, KDE), ``ais_chains`` (AIS), ``kde_samples`` (KDE), ``iwae_curve`` (IWAE).

    Raises
    ------
    LikelihoodError
        One sentence: IWAE asked of a model without ``posterior``/``log_px_given_z`` (pointing
        to AIS), ``binarize`` with a non-Bernoulli decoder, non-finite model output (naming the
        model), no held-out images to choose σ.
    explorer.core.jobs.Cancelled
        If ``ctx`` was cancelled.
    """
    s = settings or LikelihoodSettings()
    t0 = time.perf_counter()
    ctx = with_eta(ctx)
    notes: list[str] = []
    ds = fit_to_model(dataset, tuple(model.image_shape))
    if ds is not dataset:
        notes.extend(ds.notes[len(dataset.notes):])
    indices = _subset(len(ds), s.images, s.seed, name)
    if len(indices) < s.images and s.n_images is not None:
        notes.append(f"the dataset has {len(ds):,} images; all of them are measured (asked for {s.images:,})")
    try:
        if s.estimator == "iwae":
            res = _iwae(model, ds, indices, s, ctx, notes, name)
        elif s.estimator == "ais":
            res = _ais(model, ds, indices, s, ctx, notes, name)
        else:
            res = _kde(model, ds, indices, s, ctx, notes, name)
    except NonFiniteError as exc:
        raise LikelihoodError(
            f"{name}: {exc} while estimating the likelihood ({s.estimator}); no number can be given — "
            "check the model's weights.") from None
    for arr in (res.nll_nats, res.bits_per_dim, res.elbo_nats):
        if arr is not None and not np.isfinite(arr).all():
            raise LikelihoodError(f"{name}: the {s.estimator} estimate is not finite for "
                                  f"{int((~np.isfinite(arr)).sum())} image(s); check the model's output.")
    res.notes = notes
    res.settings = s
    res.seconds = time.perf_counter() - t0
    res.dims = int(np.prod(model.image_shape))
    if on_note:
        for n in notes:
            on_note(n)
    return res


def _summary(est: str, nll: np.ndarray, dims: int | None, n: int, observation: str, convention: str,
             seed: int) -> dict:
    m, ci = mean_ci95(nll)
    return {"estimator": est, "n_images": int(n), "nll_nats": m, "nll_nats_ci95": ci,
            "bits_per_dim": bits_per_dim(m, dims) if dims else None, "elbo_nats": None,
            "observation_model": observation, "data_convention": convention, "units": UNITS, "seed": int(seed)}


def _iwae(model, ds, indices, s: LikelihoodSettings, ctx, notes, name) -> LikelihoodResult:
    why = iwae_unavailable(model, name)
    if why:
        raise LikelihoodError(why)
    dims = int(np.prod(model.image_shape))
    lik = getattr(model, "likelihood", None)
    x = torch.from_numpy(np.ascontiguousarray(ds.images[indices]))
    offset = 0.0
    bpd = True
    if lik == "bernoulli":
        if s.binarize:
            x = torch.cat([binarise(x[i:i + 1], image_generator(s.seed, int(j), _STREAM_DATA))
                           for i, j in enumerate(indices)]) if len(x) else x
            convention = (f"stochastic binarisation: each pixel x_b ~ Bernoulli(x), seeded per image (seed {s.seed});"
                          " the NLL of the binarised images (a discrete likelihood), not of the grey-level images")
        else:
            bpd = False
            convention = ("grey levels in [0, 1] used as Bernoulli targets: a continuous relaxation, not a "
                          "normalised likelihood of these images, so no bits/dim (use --binarize for one)")
            notes.append(f"{name} has a Bernoulli decoder: on grey-level images its 'likelihood' is not a "
                         "normalised density, so no bits/dim is given; --binarize evaluates seeded binarisations")
        observation = "the model's decoder: Bernoulli p(x|z) per pixel with mean decode(z); prior N(0, I)"
    elif lik in ("gaussian", "continuous"):
        if s.binarize:
            raise LikelihoodError(f"--binarize applies to a Bernoulli decoder; {name} has a {lik} decoder, "
                                  "which is evaluated on dequantised 8-bit images instead.")
        x = _dequantised(ds.images, indices, s.seed, notes)
        offset = dims * LOG_256
        sig = getattr(model, "sigma", None)
        observation = ("the model's decoder: Gaussian p(x|z) = N(decode(z), σ²I)"
                       + (f" with σ = {float(sig):.4g} (pixel units)" if isinstance(sig, (int, float)) else "")
                       + "; prior N(0, I)") if lik == "gaussian" else \
            "the adapter's continuous log_px_given_z; prior N(0, I)"
        convention = _DEQUANT.format(dims=dims, seed=s.seed)
    else:
        bpd = False
        if s.binarize:
            raise LikelihoodError(f"--binarize needs a Bernoulli decoder; {name} does not declare its observation "
                                  "model (set likelihood = 'bernoulli' on the adapter).")
        observation = "the adapter's log_px_given_z (its observation model is not declared); prior N(0, I)"
        convention = ("images in [0, 1] as given to log_px_given_z; no bits/dim because the observation model is "
                      "not declared (set likelihood = 'bernoulli' or 'gaussian' on the adapter)")
    big_k = max(s.iwae_k)
    d = int(model.latent_dim)
    n = len(indices)
    chunk = max(1, min(64, 65536 // big_k))  # images whose draws (chunk, k, d) are held on the CPU at once
    from explorer.core.batching import start_batch
    from explorer.core.device import model_device

    device = model_device(model)
    memo = (type(model).__name__, tuple(model.image_shape))
    if device.type != "cpu":  # a chunk holds at least one of the device's (larger) batches of codes
        chunk = max(chunk, -(-start_batch(device, s.batch_codes, n * big_k, "IWAE", memo) // big_k))
    curve = np.zeros((len(s.iwae_k), n))
    elbo = np.zeros(n)
    eta = StageProgress(ctx, f"IWAE k = {big_k:,}: ")
    for i0 in range(0, n, chunk):
        idx = indices[i0:i0 + chunk]
        eps = draw_eps([image_generator(s.seed, int(j), _STREAM_EPS) for j in idx], big_k, d)
        log_w = log_importance_weights(model.posterior, model.log_px_given_z, x[i0:i0 + chunk], eps,
                                       s.batch_codes, ctx, device=device, memo=memo)
        lk = iwae_from_log_weights(log_w, s.iwae_k)
        for r, k in enumerate(s.iwae_k):
            curve[r, i0:i0 + len(idx)] = -lk[k] + offset
        elbo[i0:i0 + len(idx)] = -log_w.mean(dim=1).numpy() + offset
        eta((i0 + len(idx)) / n, f"{i0 + len(idx):,} / {n:,} images")
    nll = curve[-1]
    rec = _summary("iwae", nll, dims if bpd else None, n, observation, convention, s.seed)
    rec = {"estimator": "iwae", "k": big_k, **{k: v for k, v in rec.items() if k != "estimator"}}
    rec["elbo_nats"] = float(elbo.mean())
    res = LikelihoodResult(record=rec, indices=indices, nll_nats=nll,
                           bits_per_dim=bits_per_dim(nll, dims) if bpd else None, elbo_nats=elbo,
                           curve_k=s.iwae_k, curve_nll_nats=curve, dims=dims)
    rec["iwae_curve"] = res.curve()
    return res


_DEQUANT = ("8-bit images, uniform dequantisation ỹ = (x·255 + u)/256 with u ~ U[0, 1) seeded per image (seed {seed}); "
            "nll_nats = −log p(ỹ) + D log 256 with D = {dims}, so nll_nats and bits_per_dim are upper bounds on the "
            "NLL of the discrete 8-bit images")


def _ais(model, ds, indices, s: LikelihoodSettings, ctx, notes, name) -> LikelihoodResult:
    if s.binarize:
        raise LikelihoodError("--binarize applies to IWAE with a Bernoulli decoder; AIS uses a Gaussian observation "
                              "model on dequantised 8-bit images.")
    dims = int(np.prod(model.image_shape))
    d = int(model.latent_dim)
    decode = model.decode
    from explorer.core.device import model_device

    # the decoder's calls (images × chains codes) halve after a GPU out-of-memory error; the images per AIS
    # batch (AIS_BATCH_IMAGES) do not change, since their chains share one generator
    on = {"device": model_device(model), "memo": (type(model).__name__, tuple(model.image_shape))}
    n = len(indices)
    # shares of the progress bar: σ selection, evaluation, BDMC (by decoder gradients)
    w_sel = 0.0 if s.sigma is not None else len(s.sigma_grid) * s.sigma_images * s.sigma_steps
    w_eval = n * s.ais_steps
    w_bdmc = 2 * s.bdmc_images * s.ais_steps
    total = w_sel + w_eval + w_bdmc
    a, b = w_sel / total, (w_sel + w_eval) / total
    sigma_scores: dict = {}
    if s.sigma is None:
        held = _held_out(len(ds), indices, s.sigma_images, s.seed)
        if held.size == 0:
            raise LikelihoodError(f"choosing σ for AIS needs held-out images, but all {len(ds):,} images of the "
                                  "dataset are measured; give --sigma or a smaller --n-images.")
        yh = _dequantised(ds.images, held, s.seed, [])
        sel_ctx = sub_context(ctx, 0.0, a)
        eta = StageProgress(sel_ctx, "AIS: choosing σ on held-out images, ")
        for i, sig in enumerate(s.sigma_grid):
            g = torch.Generator().manual_seed(int(np.random.SeedSequence([s.seed, 11, i]).generate_state(1)[0]))
            run = ais_log_likelihood(decode, yh, d, sig, s.sigma_steps, s.ais_chains, g, s.leapfrog_steps, ctx,
                                     progress=lambda f, i=i, sig=sig: eta((i + f) / len(s.sigma_grid), f"σ = {sig:g}"),
                                     **on)
            sigma_scores[sig] = float(run.log_mean_w.mean())
        sigma = max(sigma_scores, key=sigma_scores.get)
        how = (f"chosen on {held.size} held-out images (not measured) from {list(s.sigma_grid)} by the highest mean "
               f"log-likelihood of {s.sigma_steps}-step AIS")
        notes.append(f"AIS σ = {sigma:g} {how}")
    else:
        sigma, how = float(s.sigma), "given"
    y = _dequantised(ds.images, indices, s.seed, notes)
    ev_ctx = sub_context(ctx, a, b)
    eta = StageProgress(ev_ctx, f"AIS T = {s.ais_steps:,}, {s.ais_chains} chains: ")
    log_p = np.zeros(n)
    for i0 in range(0, n, AIS_BATCH_IMAGES):
        g = torch.Generator().manual_seed(int(np.random.SeedSequence([s.seed, 13, int(indices[i0])])
                                              .generate_state(1)[0]))
        yb = y[i0:i0 + AIS_BATCH_IMAGES]
        m = len(yb)
        run = ais_log_likelihood(decode, yb, d, sigma, s.ais_steps, s.ais_chains, g, s.leapfrog_steps, ctx,
                                 progress=lambda f, done=i0, m=m: eta((done + f * m) / n,
                                                                      f"{done + int(f * m):,} / {n:,} images"),
                                 **on)
        log_p[i0:i0 + len(yb)] = run.log_mean_w
    nll = -log_p + dims * LOG_256
    gap = None
    lower = upper = None
    if s.bdmc_images:
        bd_ctx = sub_context(ctx, b, 1.0)
        eta = StageProgress(bd_ctx, "BDMC on simulated images: ")
        g = torch.Generator().manual_seed(int(np.random.SeedSequence([s.seed, 17]).generate_state(1)[0]))
        res_b = bdmc(decode, d, sigma, s.bdmc_images, s.ais_steps, s.ais_chains, g, s.leapfrog_steps, ctx,
                     progress=lambda f: eta(f, "forward and reverse AIS"), **on)
        gap, lower, upper = res_b.gap_nats, res_b.lower_nats, res_b.upper_nats
    observation = (f"Gaussian p(x|z) = N(decode(z), σ²I) with σ = {sigma:.4g} (pixel units; {how}); prior N(0, I); "
                   f"AIS: sigmoid schedule, T = {s.ais_steps:,}, {s.ais_chains} chains (log-mean-exp), HMC with "
                   f"{s.leapfrog_steps} leapfrog steps, step size adapted towards 0.65 acceptance")
    rec = _summary("ais", nll, dims, n, observation, _DEQUANT.format(dims=dims, seed=s.seed), s.seed)
    rec = {"estimator": "ais", "ais_steps": int(s.ais_steps), **{k: v for k, v in rec.items() if k != "estimator"}}
    rec["bdmc_gap_nats"] = gap
    rec["sigma"], rec["ais_chains"] = float(sigma), int(s.ais_chains)
    return LikelihoodResult(record=rec, indices=indices, nll_nats=nll, bits_per_dim=bits_per_dim(nll, dims),
                            sigma=float(sigma), sigma_scores=sigma_scores, bdmc_lower_nats=lower,
                            bdmc_upper_nats=upper)


def _kde(model, ds, indices, s: LikelihoodSettings, ctx, notes, name) -> LikelihoodResult:
    from explorer.core.likelihood.kde import DEFAULT_SIGMA_GRID

    if s.binarize:
        raise LikelihoodError("--binarize applies to IWAE with a Bernoulli decoder; a Parzen window is a continuous "
                              "density, evaluated on dequantised 8-bit images.")
    dims = int(np.prod(model.image_shape))
    g = torch.Generator().manual_seed(int(np.random.SeedSequence([s.seed, 19]).generate_state(1)[0]))
    from explorer.core.batching import run_batched
    from explorer.core.device import model_device

    # the prior draws in blocks of 1,024 from one generator, as always; decoded in batches of 1,024 on the CPU,
    # on a GPU from 4,096 halving after an out-of-memory error (explorer.core.batching)
    z = torch.cat([model.sample_prior(min(1024, s.kde_samples - i), g) for i in range(0, s.kde_samples, 1024)])
    samples = torch.empty(s.kde_samples, dims, dtype=torch.float32, device="cpu")

    def decode_step(start: int, stop: int) -> None:
        out = model.decode(z[start:stop]).detach().float().cpu()
        if not torch.isfinite(out).all():
            raise NonFiniteError("decode returned non-finite values")
        samples[start:stop] = out.flatten(1)

    def decoded(stop: int) -> None:
        if ctx is not None:
            ctx.progress(0.5 * stop / s.kde_samples, f"KDE: {stop:,} / {s.kde_samples:,} model samples")

    if ctx is not None:
        ctx.progress(0.0, f"KDE: 0 / {s.kde_samples:,} model samples")
    with torch.no_grad():
        run_batched(s.kde_samples, 1024, decode_step, model_device(model), "decode", decoded,
                    memo=(type(model).__name__, tuple(model.image_shape)))
    y = _dequantised(ds.images, indices, s.seed, notes)
    if s.sigma is None:
        held = _held_out(len(ds), indices, s.kde_validation, s.seed)
        if held.size == 0:
            raise LikelihoodError(f"choosing the KDE bandwidth needs held-out images, but all {len(ds):,} images "
                                  "are measured; give --sigma or a smaller --n-images.")
        yv = _dequantised(ds.images, held, s.seed, [])
        sigma, scores = select_sigma(squared_distances(yv.flatten(1), samples, ctx=ctx), dims, DEFAULT_SIGMA_GRID)
        sigma_scores = dict(zip(DEFAULT_SIGMA_GRID, map(float, scores), strict=True))
        how = f"by cross-validation on {held.size:,} held-out images (not measured)"
    else:
        sigma, sigma_scores, how = float(s.sigma), {}, "given"
    if ctx is not None:
        ctx.progress(0.75, "KDE: log densities of the measured images")
    log_p = parzen_log_density(squared_distances(y.flatten(1), samples, ctx=ctx), sigma, dims)
    nll = -log_p + dims * LOG_256
    observation = (f"Parzen window: mixture of N(s_j, σ²I) over {s.kde_samples:,} model samples s_j = decode(z_j), "
                   f"z_j ~ p(z), bandwidth σ = {sigma:.4g} (pixel units, {how})")
    rec = _summary("kde", nll, dims, len(indices), observation, _DEQUANT.format(dims=dims, seed=s.seed), s.seed)
    rec["warning"] = KDE_WARNING
    rec["sigma"], rec["kde_samples"] = float(sigma), int(s.kde_samples)
    if ctx is not None:
        ctx.progress(1.0, "KDE done")
    return LikelihoodResult(record=rec, indices=indices, nll_nats=nll, bits_per_dim=bits_per_dim(nll, dims),
                            sigma=float(sigma), sigma_scores=sigma_scores)
