"""Convolutional variational auto-encoder (Kingma & Welling 2014) with the β-VAE weight (Higgins et al. 2017)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from models.base import as_codes, as_images, float64_device, generator_device, module_device
from models.layers import ConvModel, conv_stack, deconv_stack, inference, spatial_stages

LIKELIHOODS = ("bernoulli", "gaussian")
OBJECTIVES = ("beta_vae", "beta_tcvae")
_LOG_2PI = math.log(2.0 * math.pi)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL divergence from the diagonal Gaussian posterior to the standard normal prior, in nats.

    ``KL(N(mu, diag(exp(logvar))) || N(0, I)) = ½ Σ_j (mu_j² + exp(logvar_j) − 1 − logvar_j)``
    (Kingma & Welling 2014, appendix B).

    Parameters
    ----------
    mu, logvar : torch.Tensor, shape (N, d), float32
        Posterior mean and log-variance.

    Returns
    -------
    torch.Tensor, shape (N,)
        Non-negative KL per example, in nats.
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)


def default_channels(size: int) -> list[int]:
    """Encoder widths per stride-2 stage: 28 → [32, 64], 64 → [32, 32, 64, 64] (as Higgins et al. 2017)."""
    n, _ = spatial_stages(size)
    return [32] * (n // 2) + [64] * (n - n // 2)


class VAE(ConvModel):
    """Convolutional VAE: encoder ``q(z|x)``, decoder ``p(x|z)``, prior ``p(z) = N(0, I)``.

    Encoder: 4×4 stride-2 convolutions with ReLU (``channels``), a ReLU layer of
    ``hidden`` units, and a linear layer to ``(mu, logvar)``. The decoder mirrors it
    with transposed convolutions and outputs per-pixel logits; the image it returns
    is their sigmoid (the likelihood's mean).

    Parameters
    ----------
    latent_dim : int
        Dimension ``d`` of ``z``.
    image_shape : (C, H, W)
        Square images whose side halves at least once (28 and 64 both work; any C).
    likelihood : {"bernoulli", "gaussian"}
        ``p(x|z)`` per pixel. "bernoulli": Bernoulli with the decoder's logits
        (binary cross-entropy with logits; for grey levels in [0, 1] this is the usual
        continuous relaxation, not a normalised density). "gaussian": Gaussian with
        mean ``sigmoid(logits)`` and fixed standard deviation ``sigma``.
    beta : float
        Weight of the KL term in the training `loss` (β-VAE, Higgins et al. 2017);
        1 is the plain VAE. `elbo` always uses β = 1.
    sigma : float
        Standard deviation of the Gaussian likelihood, in pixel units ([0, 1] scale);
        unused for "bernoulli". The default 0.1 weighs a squared error by 1 / (2·0.01) = 50.
    channels : sequence of int, optional
        Encoder widths per stride-2 stage; default `default_channels`.
    hidden : int
        Units of the fully connected layer between convolutions and code.
    objective : {"beta_vae", "beta_tcvae"}
        Training `loss`: "beta_vae" weighs the whole KL by β (Higgins et al. 2017);
        "beta_tcvae" keeps the KL at weight 1 and adds ``(β − 1)·TC``, the total
        correlation of the aggregate posterior estimated by minibatch-weighted sampling
        (Chen et al. 2018, α = γ = 1; `models.tcvae.total_correlation_mws`).

    Attributes
    ----------
    kind : str
        "vae".
    has_encoder : bool
        True.

    Raises
    ------
    ValueError
        For an unknown likelihood, a non-positive ``sigma``/``latent_dim``, or an
        image shape the convolutions cannot handle, or ``channels`` of the wrong length.
    """

    kind = "vae"
    has_encoder = True
    has_likelihood = True  # posterior and log_px_given_z: ELBO/IWAE (explorer.core.likelihood)
    CONFIG_FIELDS = ("likelihood", "beta", "sigma", "channels", "hidden", "objective")

    def __init__(
        self,
        latent_dim: int,
        image_shape: Sequence[int] = (1, 28, 28),
        *,
        likelihood: str = "bernoulli",
        beta: float = 1.0,
        sigma: float = 0.1,
        channels: Sequence[int] | None = None,
        hidden: int = 128,
        objective: str = "beta_vae",
    ) -> None:
        super().__init__(latent_dim, image_shape)
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
        self.objective = objective
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        if float(sigma) <= 0 or float(beta) < 0:
            raise ValueError(f"sigma must be > 0 and beta ≥ 0, got sigma = {sigma}, beta = {beta}")
        self.likelihood = likelihood
        self.beta = float(beta)
        self.sigma = float(sigma)
        self.hidden = int(hidden)
        c, h, _ = self.image_shape
        n, base = spatial_stages(h)
        self.channels = [int(w) for w in (channels or default_channels(h))]
        if len(self.channels) != n:
            raise ValueError(f"channels needs {n} widths for {h}×{h} images, got {self.channels}")
        flat = self.channels[-1] * base * base
        self.encoder = nn.Sequential(
            conv_stack([c] + self.channels, activation="relu"),
            nn.Flatten(),
            nn.Linear(flat, self.hidden),
            nn.ReLU(inplace=True),
            nn.Linear(self.hidden, 2 * self.latent_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(self.latent_dim, self.hidden),
            nn.ReLU(inplace=True),
            nn.Linear(self.hidden, flat),
            nn.ReLU(inplace=True),
            nn.Unflatten(1, (self.channels[-1], base, base)),
            deconv_stack(self.channels[::-1] + [c]),
        )

    # -- inference network and generative model -------------------------------------------

    def _posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def _log_px_z(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``log p(x|z)`` per example (N,), in nats, summed over pixels."""
        if self.likelihood == "bernoulli":
            ll = -F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        else:
            z2 = ((x - torch.sigmoid(logits)) / self.sigma).pow(2)
            ll = -0.5 * z2 - math.log(self.sigma) - 0.5 * _LOG_2PI
        return ll.flatten(1).sum(dim=1)

    def posterior(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        """Parameters of ``q(z|x) = N(mu, diag(exp(logvar)))``.

        Parameters
        ----------
        x : torch.Tensor, shape (N, C, H, W), float32 in [0, 1]

        Returns
        -------
        mu, logvar : torch.Tensor, shape (N, d), float32

        Raises
        ------
        ValueError
            If ``x`` does not have shape ``(N, *image_shape)``.
        """
        x = as_images(x, self.image_shape, module_device(self))
        with inference(self, x):
            return self._posterior(x)

    def log_px_given_z(self, x, z) -> torch.Tensor:
        """The decoder's log-likelihood ``log p(x|z)`` per image, in nats, summed over pixels in float64.

        The model's own observation model (``likelihood``): Bernoulli with the decoder's
        logits (exact for binary ``x``; for grey levels a continuous relaxation, not a
        normalised density), or Gaussian ``N(sigmoid(logits), sigma² I)`` (a density on the
        [0, 1] pixel scale).

        Parameters
        ----------
        x : torch.Tensor, shape (N, C, H, W), float32 in [0, 1]
        z : torch.Tensor, shape (N, d), float32
            One code per image.

        Returns
        -------
        torch.Tensor, shape (N,), float64, in nats.

        Raises
        ------
        ValueError
            If the shapes are not ``(N, *image_shape)`` and ``(N, d)`` with the same N.
        """
        x = as_images(x, self.image_shape, module_device(self))
        z = as_codes(z, self.latent_dim, module_device(self))
        if x.shape[0] != z.shape[0]:
            raise ValueError(f"x and z must hold the same number of items, got {x.shape[0]} and {z.shape[0]}")
        with inference(self, x, z):
            logits = self.decoder(z)
            if self.likelihood == "bernoulli":
                ll = -F.binary_cross_entropy_with_logits(logits, x, reduction="none")
            else:
                z2 = ((x - torch.sigmoid(logits)) / self.sigma).pow(2)
                ll = -0.5 * z2 - math.log(self.sigma) - 0.5 * _LOG_2PI
            ll = ll.flatten(1)
            return ll.to(float64_device(ll.device)).sum(dim=1, dtype=torch.float64)

    def encode(self, x) -> torch.Tensor:
        """Posterior mean ``E[z|x]``: images ``(N, C, H, W)`` in [0, 1] → codes ``(N, d)`` float32."""
        return self.posterior(x)[0]

    def decode(self, z) -> torch.Tensor:
        """Mean of ``p(x|z)``: codes ``(N, d)`` → images ``(N, C, H, W)`` float32 in [0, 1].

        Gradients reach ``z`` when it requires them; the model's weights are never changed.
        """
        z = as_codes(z, self.latent_dim, module_device(self))
        with inference(self, z):
            return torch.sigmoid(self.decoder(z))

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` codes from ``p(z) = N(0, I)``: float32 tensor ``(n, d)``."""
        return torch.randn(n, self.latent_dim, generator=generator, device=generator_device(generator))

    # -- bounds and training loss ---------------------------------------------------------

    def elbo(self, x, n_samples: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
        """Evidence lower bound ``E_q[log p(x|z)] − KL(q(z|x) || p(z))`` per image, in nats.

        Uses β = 1 whatever the training β (so it bounds ``log p(x)``), the analytic KL
        (`kl_divergence`) and a Monte Carlo average of the reconstruction term over
        ``n_samples`` reparameterised draws (Kingma & Welling 2014, eq. 10).

        Parameters
        ----------
        x : torch.Tensor, shape (N, C, H, W), float32 in [0, 1]
        n_samples : int
            Number of ``z ~ q(z|x)`` draws per image.
        generator : torch.Generator, optional
            Source of the draws (for reproducible numbers).

        Returns
        -------
        torch.Tensor, shape (N,), float32
            ELBO in nats (≤ 0 for the Bernoulli likelihood; divide by ``C·H·W·ln 2``
            and negate for bits/dim).
        """
        x = as_images(x, self.image_shape, module_device(self))
        with inference(self, x):
            mu, logvar = self._posterior(x)
            std = (0.5 * logvar).exp()
            rec = torch.zeros(x.shape[0], device=mu.device)
            for _ in range(n_samples):  # drawn where the generator is (the CPU's: the same numbers on every device)
                eps = torch.randn(mu.shape, generator=generator, device=generator_device(generator)).to(mu.device)
                rec = rec + self._log_px_z(self.decoder(mu + std * eps), x)
            return rec / n_samples - kl_divergence(mu, logvar)

    def iwae_bound(self, x, k: int = 50, generator: torch.Generator | None = None) -> torch.Tensor:
        """Importance-weighted bound ``log (1/k) Σ_i p(x, z_i) / q(z_i|x)`` per image, in nats (Burda et al. 2016).

        Tighter than `elbo` for ``k > 1`` and equal in expectation for ``k = 1``.

        Parameters
        ----------
        x : torch.Tensor, shape (N, C, H, W), float32 in [0, 1]
        k : int
            Number of importance samples per image.
        generator : torch.Generator, optional

        Returns
        -------
        torch.Tensor, shape (N,), float32, in nats.
        """
        x = as_images(x, self.image_shape, module_device(self))
        with inference(self, x):
            mu, logvar = self._posterior(x)
            std = (0.5 * logvar).exp()
            log_w = []
            for _ in range(k):
                eps = torch.randn(mu.shape, generator=generator, device=generator_device(generator)).to(mu.device)
                z = mu + std * eps
                log_pz = -0.5 * (z.pow(2) + _LOG_2PI).sum(dim=1)
                log_qz = -0.5 * (eps.pow(2) + logvar + _LOG_2PI).sum(dim=1)
                log_w.append(self._log_px_z(self.decoder(z), x) + log_pz - log_qz)
            return torch.logsumexp(torch.stack(log_w), dim=0) - math.log(k)

    def loss(self, x: torch.Tensor, dataset_size: int | None = None) -> dict[str, torch.Tensor]:
        """Training objective on a batch (one reparameterised draw from torch's global generator).

        Parameters
        ----------
        x : torch.Tensor, shape (N, C, H, W), float32 in [0, 1]
        dataset_size : int, optional
            Number of training images; needed by the "beta_tcvae" objective (its
            minibatch-weighted sampling estimate), ignored by "beta_vae".

        Returns
        -------
        dict of str to scalar torch.Tensor
            "beta_vae": ``"loss"`` = mean of ``recon + beta · kl`` (differentiable),
            ``"recon"`` = mean ``−log p(x|z)`` and ``"kl"`` = mean KL, all in nats per
            image. "beta_tcvae": ``"loss"`` = ``recon + kl + (beta − 1) · tc`` and also
            ``"tc"``, the total-correlation estimate in nats (Chen et al. 2018).

        Raises
        ------
        ValueError
            For the "beta_tcvae" objective without ``dataset_size``.
        """
        mu, logvar = self._posterior(x)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        recon = -self._log_px_z(self.decoder(z), x).mean()
        kl = kl_divergence(mu, logvar).mean()
        if self.objective == "beta_tcvae":
            from models.tcvae import total_correlation_mws

            if dataset_size is None:
                raise ValueError("the beta_tcvae objective needs dataset_size, the number of training images")
            tc = total_correlation_mws(z, mu, logvar, dataset_size)
            return {"loss": recon + kl + (self.beta - 1.0) * tc, "recon": recon, "kl": kl, "tc": tc}
        return {"loss": recon + self.beta * kl, "recon": recon, "kl": kl}
