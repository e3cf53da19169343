"""Seeded, deterministic, cancellable training loops for the VAE, DCGAN and ALI."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.base import is_out_of_memory
from models.checkpoint import MODEL_CLASSES


class TrainingDiverged(ValueError):
    """Training produced a NaN or infinite loss; the message says at which step and which metric."""


class TrainingOutOfMemory(ValueError):
    """A training step does not fit in the device's memory at the user's batch size (one sentence naming both).

    The batch size is a hyperparameter of the training (it changes the result), so it is never
    lowered silently, as the batches of inference are (`explorer.core.batching`).

    Attributes
    ----------
    device : torch.device
    batch_size : int
    step : int
        The 1-based step that ran out of memory.
    """

    def __init__(self, device, batch_size: int, step: int):
        self.device, self.batch_size, self.step = device, int(batch_size), int(step)
        if step == 0:
            text = f"the model's weights do not fit in the memory of {device}; choose a smaller model or --device cpu"
        else:
            text = (f"training step {step} with --batch-size {batch_size} does not fit in the memory of {device}; "
                    "choose a smaller --batch-size (it is a setting of the training, so it is not changed for you), "
                    "a smaller model, or --device cpu")
        super().__init__(text)


def _empty_device_cache(device: torch.device) -> None:
    if device.type == "cuda" and torch.cuda.is_available():
        torch.cuda.empty_cache()
    elif device.type == "mps" and hasattr(torch, "mps") and hasattr(torch.mps, "empty_cache"):
        torch.mps.empty_cache()


def training_memory(kind: str, image_shape, latent_dim: int, batch_size: int, **model_kwargs) -> int:
    """Bytes that training a freshly built ``kind`` model would allocate, estimated before allocating anything.

    The model is built on torch's ``meta`` device (shapes only); the estimate is four copies of
    the weights (weights, gradients, Adam's two moments) plus a batch of images and codes in
    float32 through every layer, bounded above by 64 copies of one batch of images.

    Parameters
    ----------
    kind : {"vae", "gan", "ali"}
    image_shape : (C, H, W)
    latent_dim : int
    batch_size : int
    **model_kwargs
        Further constructor arguments of the model class.

    Returns
    -------
    int
        Bytes.

    Raises
    ------
    ValueError
        If the model cannot be built for these sizes (e.g. images too small to halve).
    """
    if kind not in MODEL_CLASSES:
        raise ValueError(f"unknown model kind {kind!r}; use one of {sorted(MODEL_CLASSES)}")
    with torch.device("meta"):
        shell = MODEL_CLASSES[kind](latent_dim, tuple(image_shape), **model_kwargs)
    weights = sum(p.numel() for p in shell.parameters()) * 4
    c, h, w = (int(v) for v in image_shape)
    activations = 64 * int(batch_size) * (c * h * w + int(latent_dim)) * 4
    return 4 * weights + activations


def as_training_images(images) -> torch.Tensor:
    """Return training images as a float32 tensor ``(N, C, H, W)`` in [0, 1].

    Parameters
    ----------
    images : torch.Tensor or numpy.ndarray, shape (N, C, H, W)
        float in [0, 1], or uint8 in [0, 255] (divided by 255).

    Raises
    ------
    ValueError
        If there are no images, the array is not 4-D, or float values leave [0, 1].
    """
    if isinstance(images, np.ndarray):
        arr = (
            images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else np.asarray(images, np.float32)
        )
        t = torch.from_numpy(np.ascontiguousarray(arr) if arr.flags.writeable else arr.copy())
    else:
        t = torch.as_tensor(images)
        t = t.float() / 255.0 if t.dtype == torch.uint8 else t.to(torch.float32)
    if t.ndim != 4 or t.shape[0] == 0:
        raise ValueError(
            f"training images must be a non-empty (N, C, H, W) array, got shape {tuple(t.shape)}"
        )
    lo, hi = float(t.min()), float(t.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"training images must lie in [0, 1], got values in [{lo:.3g}, {hi:.3g}]")
    return t


@contextlib.contextmanager
def _seeded_step(seed: int, device: torch.device | None = None) -> Iterator[None]:
    """Seed torch's global generator and force deterministic kernels for one step; restore both after.

    On the CPU (``device`` None or CPU) deterministic algorithms are switched on. On another
    device the step is seeded (the CPU's and that device's global generators) but its kernels
    are the device's own (CUDA's deterministic mode needs ``CUBLAS_WORKSPACE_CONFIG`` set before
    start-up and refuses some kernels), so results there are reproducible only up to kernel order.
    """
    on_cpu = device is None or device.type == "cpu"
    was_on = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    forked = [] if on_cpu or device.type != "cuda" else [device.index or 0]
    with torch.random.fork_rng(devices=forked):
        torch.manual_seed(seed)  # seeds every device's global generator
        if on_cpu:
            torch.use_deterministic_algorithms(True)
        try:
            yield
        finally:
            if on_cpu:
                torch.use_deterministic_algorithms(was_on, warn_only=warn_only)


class Trainer:
    """Mini-batch training loop shared by all kinds; subclasses define one optimisation step.

    Determinism: the shuffling order comes from a ``torch.Generator`` seeded with
    ``seed``; every step runs with torch's global generator forked and re-seeded from
    ``(seed, step)`` (reparameterisation noise, prior draws, dropout) and with
    deterministic algorithms on, so the same seed, data and torch thread count give
    bit-identical weights on the CPU. The caller's global random state is left untouched.
    ``run(1); run(1)`` equals ``run(2)``.

    Devices: the model and each mini-batch are moved to ``device``; the images stay on the
    CPU (one batch at a time goes to the device), metrics come back as Python floats and
    ``model`` is on ``device`` after training (move it to the CPU to save it).

    Threads: torch's global generator and deterministic-algorithms flag are process-wide,
    so while a step runs in a worker thread other threads should draw random numbers from
    their own ``torch.Generator`` (as `sample_prior(n, generator)` does). To preview the
    model during training, call ``decode``/``encode`` from the thread that iterates
    `run`, between steps (they switch the model to eval mode and back).

    Parameters
    ----------
    model : torch.nn.Module
        A `VAE`, `DCGAN` or `ALI` (trained in place).
    images : torch.Tensor or numpy.ndarray, shape (N, *model.image_shape)
        Training images in [0, 1] (see `as_training_images`).
    batch_size : int
        Mini-batch size; the last incomplete batch of each epoch is dropped (unless
        ``N < batch_size``, when the one batch is all the data). Kept on every device: a step
        that does not fit raises `TrainingOutOfMemory` rather than changing it.
    lr : float
        Adam learning rate.
    betas : (float, float)
        Adam's ``(β1, β2)``.
    seed : int
        Non-negative seed for shuffling and for every step's randomness.
    device : torch.device or str, optional
        Where the model trains (`explorer.core.device.resolve_device`); default the CPU.

    Raises
    ------
    TrainingOutOfMemory
        The model's weights do not fit in the device's memory.

    Attributes
    ----------
    model : torch.nn.Module
    device : torch.device
    history : dict of str to list of float
        Per-epoch mean of every metric the steps report (losses in nats for the VAE).
    step, epoch : int
        Optimisation steps and complete epochs done so far.
    """

    kind = ""

    def __init__(
        self, model: nn.Module, images, *, batch_size: int, lr: float, betas=(0.9, 0.999), seed: int = 0,
        device=None,
    ):
        if model.kind != self.kind:
            raise ValueError(f"{type(self).__name__} trains '{self.kind}' models, got a '{model.kind}' model")
        self.device = torch.device("cpu" if device is None else device)
        try:
            self.model = model.to(self.device)
        except Exception as exc:  # noqa: BLE001 - only a device's out-of-memory error is worded; the rest re-raised
            if not is_out_of_memory(exc):
                raise
            _empty_device_cache(self.device)
            raise TrainingOutOfMemory(self.device, batch_size, 0) from None
        self.images = as_training_images(images)
        if tuple(self.images.shape[1:]) != tuple(model.image_shape):
            raise ValueError(
                f"training images have shape {tuple(self.images.shape[1:])} per image but the model "
                f"makes {tuple(model.image_shape)}"
            )
        if int(seed) < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed}")
        self.seed = int(seed)
        self.batch_size = max(1, min(int(batch_size), self.images.shape[0]))
        self.lr, self.betas = float(lr), tuple(betas)
        self.history: dict[str, list[float]] = {}
        self.step = 0
        self.epoch = 0
        self._shuffle = torch.Generator().manual_seed(self.seed)
        self._make_optimisers()

    @property
    def steps_per_epoch(self) -> int:
        """Optimisation steps in one epoch: ``N // batch_size`` (at least 1)."""
        return max(1, self.images.shape[0] // self.batch_size)

    def run(self, epochs: int, should_stop: Callable[[], bool] | None = None) -> Iterator[dict]:
        """Train for ``epochs`` epochs, yielding after every optimisation step.

        Parameters
        ----------
        epochs : int
            Number of passes over the data.
        should_stop : callable, optional
            Checked before each step; returning True ends training cleanly. Stopping
            iteration (``break``, ``close()``) works as well. A partly done epoch adds
            nothing to `history`.

        Yields
        ------
        dict
            ``"step"`` (1-based, counted over all runs; the progress is
            ``step / total_steps``), ``"epoch"`` (0-based index of the epoch the step
            belongs to, counted over all runs: show ``epoch + 1`` to people), ``"total_steps"``
            (value of ``"step"`` at the end of this run),
            ``"steps_per_epoch"``, and the step's metrics as floats (always finite: a NaN or
            infinite one raises `TrainingDiverged` instead, with the weights of that step): VAE ``loss``,
            ``recon``, ``kl`` (nats per image); DCGAN/ALI ``loss_d``, ``loss_g``,
            ``d_real``, ``d_fake`` (mean discriminator probabilities).

        Raises
        ------
        TrainingDiverged
            A metric is NaN or infinite.
        TrainingOutOfMemory
            A step does not fit in the device's memory at ``batch_size`` (one sentence; the
            batch size is the user's and is not lowered).
        """
        spe = self.steps_per_epoch
        total = self.step + epochs * spe
        n = self.images.shape[0]
        try:
            for _ in range(epochs):
                perm = torch.randperm(n, generator=self._shuffle)
                sums: dict[str, float] = {}
                for b in range(spe):
                    if should_stop is not None and should_stop():
                        return
                    try:
                        batch = self._batch(perm[b * self.batch_size : (b + 1) * self.batch_size])
                        self.model.train()
                        with _seeded_step((self.seed * 1_000_003 + self.step) % 2**63, self.device):
                            metrics = self._step(batch)
                    except Exception as exc:  # noqa: BLE001 - only out-of-memory errors are worded; the rest re-raised
                        if not is_out_of_memory(exc):
                            raise
                        batch = None
                        _empty_device_cache(self.device)
                        raise TrainingOutOfMemory(self.device, self.batch_size, self.step + 1) from None
                    bad = [k for k, v in metrics.items() if not np.isfinite(v)]
                    if bad:
                        raise TrainingDiverged(
                            f"training diverged at step {self.step + 1} (epoch {self.epoch + 1}): "
                            + ", ".join(f"{k} is {metrics[k]}" for k in bad))
                    self.step += 1
                    for k, v in metrics.items():
                        sums[k] = sums.get(k, 0.0) + v
                    epoch_index = self.epoch
                    if b == spe - 1:
                        self.epoch += 1
                        for k, v in sums.items():
                            self.history.setdefault(k, []).append(v / spe)
                    yield {
                        "step": self.step,
                        "epoch": epoch_index,
                        "total_steps": total,
                        "steps_per_epoch": spe,
                        **metrics,
                    }
        finally:
            self.model.eval()

    def _batch(self, idx: torch.Tensor):
        """The mini-batch of rows ``idx`` handed to `_step` (the images; a classifier adds its labels)."""
        return self.images[idx].to(self.device)

    def _make_optimisers(self) -> None:
        raise NotImplementedError

    def _step(self, x: torch.Tensor) -> dict[str, float]:
        raise NotImplementedError


def kl_warmup_beta(step, beta: float, warmup_steps: int):
    """β of optimisation step ``step`` under a linear KL warm-up (Bowman et al. 2016; Sønderby et al. 2016).

    ``β_s = β · min(1, s / S)`` for the 0-based step ``s`` and ``S`` warm-up steps: 0 at the
    first step, rising linearly by ``β / S`` per step, ``β`` from step ``S`` on.

    Parameters
    ----------
    step : int or numpy.ndarray of int
        0-based optimisation step(s), counted over all epochs.
    beta : float
        The β the schedule reaches (≥ 0).
    warmup_steps : int
        ``S`` ≥ 0; 0 means no warm-up (``β`` at every step).

    Returns
    -------
    float or numpy.ndarray of float64
        β of each step, in ``[0, beta]``.
    """
    if warmup_steps <= 0:
        return beta * np.ones_like(step, dtype=np.float64) if isinstance(step, np.ndarray) else float(beta)
    w = np.minimum(1.0, np.asarray(step, dtype=np.float64) / warmup_steps)
    return beta * w if isinstance(step, np.ndarray) else float(beta * w)


class VAETrainer(Trainer):
    """Trains a `VAE` on its `loss` with Adam (defaults lr 1e-3, betas (0.9, 0.999)); β-TCVAE gets N = len(images).

    KL warm-up (``kl_warmup_epochs`` > 0, "beta_vae" objective only): step ``s`` minimises
    ``recon + β_s · kl`` with ``β_s = β · min(1, s / S)``, ``S = kl_warmup_epochs · steps_per_epoch``
    (`kl_warmup_beta`; Bowman et al. 2016, Sønderby et al. 2016); each step then also reports
    ``"beta"`` (so `history` holds its per-epoch mean). The model keeps its β. With 0 (the
    default) training is exactly as without the option.

    Raises
    ------
    ValueError
        A negative ``kl_warmup_epochs``, or a warm-up with the "beta_tcvae" objective.
    """

    kind = "vae"

    def __init__(self, model: nn.Module, images, *, kl_warmup_epochs: int = 0, **kwargs):
        if int(kl_warmup_epochs) != kl_warmup_epochs or kl_warmup_epochs < 0:
            raise ValueError(f"kl_warmup_epochs must be a whole number of epochs ≥ 0, got {kl_warmup_epochs}")
        if kl_warmup_epochs and getattr(model, "objective", "beta_vae") != "beta_vae":
            raise ValueError(f"KL warm-up applies to the beta_vae objective only, not to {model.objective}")
        self.kl_warmup_epochs = int(kl_warmup_epochs)
        super().__init__(model, images, **kwargs)

    @property
    def kl_warmup_steps(self) -> int:
        """Optimisation steps of the KL warm-up: ``kl_warmup_epochs · steps_per_epoch`` (0: none)."""
        return self.kl_warmup_epochs * self.steps_per_epoch

    def _make_optimisers(self) -> None:
        self.optimiser = torch.optim.Adam(self.model.parameters(), lr=self.lr, betas=self.betas)

    def _step(self, x: torch.Tensor) -> dict[str, float]:
        self.optimiser.zero_grad(set_to_none=True)
        if getattr(self.model, "objective", "beta_vae") == "beta_tcvae":
            out = self.model.loss(x, dataset_size=self.images.shape[0])
        else:
            out = self.model.loss(x)
        if self.kl_warmup_epochs:
            beta_s = kl_warmup_beta(self.step, self.model.beta, self.kl_warmup_steps)
            out["loss"] = out["recon"] + beta_s * out["kl"]
            out["beta"] = torch.tensor(beta_s, dtype=torch.float64)
        out["loss"].backward()
        self.optimiser.step()
        return {k: float(v.detach()) for k, v in out.items()}


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


class GANTrainer(Trainer):
    """Trains a `DCGAN`: alternating discriminator and generator steps, non-saturating loss (Goodfellow et al. 2014).

    D minimises ``−log D(x) − log(1 − D(G(z)))``; G minimises ``−log D(G(z))``;
    Adam with lr 2e-4 and β1 0.5 for both (Radford et al. 2016).
    """

    kind = "gan"

    def _make_optimisers(self) -> None:
        m = self.model
        self.opt_d = torch.optim.Adam(m.discriminator.parameters(), lr=self.lr, betas=self.betas)
        self.opt_g = torch.optim.Adam(m.generator.parameters(), lr=self.lr, betas=self.betas)

    def _step(self, x: torch.Tensor) -> dict[str, float]:
        G, D = self.model.generator, self.model.discriminator
        real = x * 2.0 - 1.0
        z = torch.randn(x.shape[0], self.model.latent_dim, device=x.device)
        fake = G(z)

        self.opt_d.zero_grad(set_to_none=True)
        d_real, d_fake = D(real), D(fake.detach())
        loss_d = _bce(d_real, 1.0) + _bce(d_fake, 0.0)
        loss_d.backward()
        self.opt_d.step()

        self.opt_g.zero_grad(set_to_none=True)
        D.requires_grad_(False)
        loss_g = _bce(D(fake), 1.0)
        loss_g.backward()
        D.requires_grad_(True)
        self.opt_g.step()
        return {
            "loss_d": float(loss_d.detach()),
            "loss_g": float(loss_g.detach()),
            "d_real": float(torch.sigmoid(d_real.detach()).mean()),
            "d_fake": float(torch.sigmoid(d_fake.detach()).mean()),
        }


class ALITrainer(Trainer):
    """Trains an `ALI`: D tells ``(x, E(x))`` from ``(G(z), z)``; E and G learn together (Dumoulin et al. 2017).

    D minimises ``−log D(x, ẑ) − log(1 − D(x̃, z))`` with ``ẑ ~ E(x)`` (reparameterised)
    and ``x̃ = G(z)``; E and G minimise the non-saturating
    ``−log(1 − D(x, ẑ)) − log D(x̃, z)``. Adam, lr 2e-4, β1 0.5.
    """

    kind = "ali"

    def _make_optimisers(self) -> None:
        m = self.model
        self.opt_d = torch.optim.Adam(m.discriminator.parameters(), lr=self.lr, betas=self.betas)
        ge = list(m.generator.parameters()) + list(m.encoder.parameters())
        self.opt_ge = torch.optim.Adam(ge, lr=self.lr, betas=self.betas)

    def _step(self, x: torch.Tensor) -> dict[str, float]:
        m = self.model
        E, G, D = m.encoder, m.generator, m.discriminator
        real = x * 2.0 - 1.0
        mu, logvar = E(real)
        z_hat = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        z = torch.randn(x.shape[0], m.latent_dim, device=x.device)
        x_tilde = G(z)

        self.opt_d.zero_grad(set_to_none=True)
        d_enc, d_gen = D(real, z_hat.detach()), D(x_tilde.detach(), z)
        loss_d = _bce(d_enc, 1.0) + _bce(d_gen, 0.0)
        loss_d.backward()
        self.opt_d.step()

        self.opt_ge.zero_grad(set_to_none=True)
        D.requires_grad_(False)
        loss_g = _bce(D(real, z_hat), 0.0) + _bce(D(x_tilde, z), 1.0)
        loss_g.backward()
        D.requires_grad_(True)
        self.opt_ge.step()
        return {
            "loss_d": float(loss_d.detach()),
            "loss_g": float(loss_g.detach()),
            "d_real": float(torch.sigmoid(d_enc.detach()).mean()),
            "d_fake": float(torch.sigmoid(d_gen.detach()).mean()),
        }


TRAINER_CLASSES: dict[str, type[Trainer]] = {"vae": VAETrainer, "gan": GANTrainer, "ali": ALITrainer}


def make_trainer(
    kind: str,
    images,
    latent_dim: int,
    *,
    beta: float = 1.0,
    kl_warmup_epochs: int = 0,
    likelihood: str = "bernoulli",
    batch_size: int = 128,
    lr: float | None = None,
    seed: int = 0,
    device=None,
    **model_kwargs,
) -> Trainer:
    """Build a freshly initialised model of ``kind`` (seeded) and its trainer.

    Parameters
    ----------
    kind : {"vae", "gan", "ali"}
    images : torch.Tensor or numpy.ndarray, shape (N, C, H, W)
        Training images, float in [0, 1] (or uint8); ``(C, H, W)`` sets the model's image shape.
    latent_dim : int
        Dimension ``d`` of ``z``.
    beta : float
        β of the β-VAE loss (VAE only).
    kl_warmup_epochs : int
        VAE only: β rises linearly from 0 over this many epochs (`VAETrainer`); 0 (default) none.
    likelihood : {"bernoulli", "gaussian"}
        ``p(x|z)`` of the VAE (VAE only).
    batch_size : int
    lr : float, optional
        Adam learning rate; default 1e-3 for the VAE, 2e-4 for DCGAN and ALI (with β1 = 0.5).
    seed : int
        Seeds the weight initialisation, the shuffling and every step.
    device : torch.device or str, optional
        Where it trains (default the CPU); the weights are initialised on the CPU first, so
        a seed starts from the same weights on every device.
    **model_kwargs
        Further constructor arguments of `VAE`, `DCGAN` or `ALI` (e.g. ``channels``,
        ``g_width``, ``sigma``, the VAE's ``objective="beta_tcvae"``).

    Returns
    -------
    Trainer
        `VAETrainer`, `GANTrainer` or `ALITrainer`; iterate ``trainer.run(epochs)``.

    Raises
    ------
    ValueError
        For an unknown kind, bad images or bad model arguments.
    """
    if kind not in MODEL_CLASSES:
        raise ValueError(f"unknown model kind {kind!r}; use one of {sorted(MODEL_CLASSES)}")
    images = as_training_images(images)
    if kind == "vae":
        model_kwargs.update(beta=beta, likelihood=likelihood)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MODEL_CLASSES[kind](latent_dim, tuple(images.shape[1:]), **model_kwargs)
    if kind == "vae":
        lr, betas = (1e-3 if lr is None else lr), (0.9, 0.999)
    else:
        lr, betas = (2e-4 if lr is None else lr), (0.5, 0.999)
    if kl_warmup_epochs and kind != "vae":
        raise ValueError(f"KL warm-up applies to the VAE only, not to {kind}")
    warmup = {"kl_warmup_epochs": kl_warmup_epochs} if kind == "vae" else {}
    return TRAINER_CLASSES[kind](model, images, batch_size=batch_size, lr=lr, betas=betas, seed=seed,
                                 device=device, **warmup)
