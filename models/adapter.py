"""Third-party models through a user-written Python adapter file (running it is the user's explicit choice)."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from models.base import KINDS, ModelFileError, NoEncoderError, as_codes, as_images

_RANGE_SLACK = 1e-3  # decoded values may overshoot [0, 1] by this much (then clipped)
#: Observation models an adapter may declare as ``likelihood`` (for the units of likelihood numbers).
LIKELIHOOD_KINDS = ("bernoulli", "gaussian", "continuous")


class AdapterError(ModelFileError):
    """An adapter file failed to load or its model broke the contract; one sentence naming the file."""


class WrappedModel:
    """A foreign model made to conform to `GenerativeModel`: checked shapes, float32 tensors, [0, 1] images.

    Built by `load_adapter` and `models.torchscript.load_torchscript`; not usually made directly.

    Parameters
    ----------
    inner : object
        Has ``kind``, ``latent_dim``, ``image_shape`` and ``decode(z)``; optionally
        ``encode(x)`` and ``sample_prior(n, generator)``.
    label : str
        How messages name the file, e.g. ``"adapter 'my_model.py'"``.
    error : type of ModelFileError
        Exception raised for contract violations.
    source : str
        "adapter" or "torchscript".

    Attributes
    ----------
    kind : {"vae", "gan", "ali"}
    latent_dim : int
    image_shape : tuple of int
        ``(C, H, W)``.
    has_encoder : bool
        Whether ``inner`` has a callable ``encode``.
    has_likelihood : bool
        Whether ``inner`` has callable ``posterior`` and ``log_px_given_z`` (ELBO/IWAE).
    missing_likelihood : str
        Which of the two are missing ("" when none).
    likelihood : {"bernoulli", "gaussian", "continuous"} or None
        The observation model ``inner`` declares, if any.
    inner : object
        The wrapped object.
    module : torch.nn.Module or None
        The torch module behind it, when there is one (for parameter counts).

    Raises
    ------
    ModelFileError
        (of type ``error``) if an attribute is missing or invalid.
    """

    def __init__(
        self, inner, label: str, error: type[ModelFileError] = AdapterError, source: str = "adapter"
    ):
        self.inner, self.label, self._error, self.source = inner, label, error, source
        for attr in ("kind", "latent_dim", "image_shape", "decode"):
            if not hasattr(inner, attr):
                raise error(
                    f"{label}: the model has no '{attr}' attribute; add it (see the adapter contract)."
                )
        if inner.kind not in KINDS:
            raise error(
                f"{label}: the model's kind {inner.kind!r} is not one of {', '.join(KINDS)}; set kind accordingly."
            )
        try:
            self.latent_dim = int(inner.latent_dim)
            self.image_shape = tuple(int(s) for s in inner.image_shape)
        except (TypeError, ValueError):
            self.latent_dim, self.image_shape = 0, ()
        if self.latent_dim < 1 or len(self.image_shape) != 3 or min(self.image_shape) < 1:
            raise error(
                f"{label}: latent_dim must be a positive int and image_shape three positive ints (C, H, W), "
                f"got {inner.latent_dim!r} and {inner.image_shape!r}; fix them."
            )
        self.kind = inner.kind
        self.has_encoder = callable(getattr(inner, "encode", None))
        self.module = inner if isinstance(inner, nn.Module) else None
        if self.module is not None:
            self.module.eval()
        # optional likelihood contract (ELBO/IWAE): posterior(x) -> (mu, logvar), log_px_given_z(x, z) -> (N,)
        self.missing_likelihood = " and ".join(
            m for m, a in (("posterior(x) -> (mu, logvar)", "posterior"), ("log_px_given_z(x, z)", "log_px_given_z"))
            if not callable(getattr(inner, a, None)))
        self.has_likelihood = not self.missing_likelihood
        self.likelihood = getattr(inner, "likelihood", None)
        if self.likelihood not in (None, *LIKELIHOOD_KINDS):
            raise error(
                f"{label}: the model's likelihood {self.likelihood!r} is not one of {', '.join(LIKELIHOOD_KINDS)}; "
                "set it accordingly or leave it out."
            )

    def __repr__(self) -> str:
        return (f"WrappedModel({self.label}, kind={self.kind!r}, latent_dim={self.latent_dim}, "
                f"image_shape={self.image_shape})")

    def _call(self, name: str, *args):
        try:
            return getattr(self.inner, name)(*args)
        except Exception as e:
            raise self._error(f"{self.label}: {name} raised {type(e).__name__}: {_one_line(e)}.") from e

    def _tensor(self, out, name: str, shape: tuple[int, ...]) -> torch.Tensor:
        if isinstance(out, np.ndarray):
            out = torch.from_numpy(np.ascontiguousarray(out))
        if not isinstance(out, torch.Tensor):
            raise self._error(
                f"{self.label}: {name} returned a {type(out).__name__}; return a torch tensor or numpy array."
            )
        out = out.to(device="cpu", dtype=torch.float32)
        if tuple(out.shape) != shape:
            raise self._error(
                f"{self.label}: {name} returned shape {tuple(out.shape)}, expected {shape}; fix its output."
            )
        return out

    def decode(self, z) -> torch.Tensor:
        """Codes ``(N, d)`` → images ``(N, C, H, W)`` float32 in [0, 1].

        Gradients reach ``z`` when it requires them and the wrapped decoder is torch code.

        Raises
        ------
        ValueError
            If ``z`` is not ``(N, d)``.
        ModelFileError
            If the wrapped ``decode`` raises, returns the wrong shape or type, or values
            outside [0, 1] (a decoder ending in tanh needs ``(x + 1) / 2``).
        """
        z = as_codes(z, self.latent_dim)
        with torch.set_grad_enabled(z.requires_grad):
            x = self._tensor(self._call("decode", z), "decode", (z.shape[0], *self.image_shape))
            if x.numel():
                lo, hi = float(x.detach().min()), float(x.detach().max())
                if lo < -_RANGE_SLACK or hi > 1 + _RANGE_SLACK:
                    raise self._error(
                        f"{self.label}: decode returned values in [{lo:.3g}, {hi:.3g}], expected [0, 1]; "
                        "rescale them in the model (e.g. (x + 1) / 2 after tanh)."
                    )
            return x.clamp(0.0, 1.0)

    def encode(self, x) -> torch.Tensor:
        """Images ``(N, C, H, W)`` in [0, 1] → codes ``(N, d)`` float32.

        Raises
        ------
        NoEncoderError
            If the wrapped model has no ``encode``.
        ModelFileError
            If the wrapped ``encode`` raises or returns the wrong shape or type.
        """
        if not self.has_encoder:
            raise NoEncoderError(
                f"{self.label} has no encoder; reconstructions need an encoder — use GAN inversion."
            )
        x = as_images(x, self.image_shape)
        with torch.set_grad_enabled(x.requires_grad):
            return self._tensor(self._call("encode", x), "encode", (x.shape[0], self.latent_dim))

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` codes ``(n, d)`` from the wrapped ``sample_prior``, or from N(0, I) when it has none."""
        if callable(getattr(self.inner, "sample_prior", None)):
            return self._tensor(
                self._call("sample_prior", n, generator), "sample_prior", (n, self.latent_dim)
            )
        return torch.randn(n, self.latent_dim, generator=generator)

    def _no_likelihood(self) -> None:
        if not self.has_likelihood:
            raise self._error(
                f"{self.label} defines no {self.missing_likelihood}, so ELBO/IWAE cannot be computed; "
                "AIS needs only decode and still works."
            )

    def posterior(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        """Diagonal Gaussian ``q(z|x)``: images ``(N, C, H, W)`` → ``(mu, logvar)``, each ``(N, d)`` float32.

        Raises
        ------
        ModelFileError
            If the wrapped model has no ``posterior`` or ``log_px_given_z`` (one sentence saying
            which, and that AIS still works), or ``posterior`` raises or returns anything but two
            ``(N, d)`` tensors or arrays.
        """
        self._no_likelihood()
        x = as_images(x, self.image_shape)
        with torch.set_grad_enabled(x.requires_grad):
            out = self._call("posterior", x)
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                raise self._error(f"{self.label}: posterior returned a {type(out).__name__}; return (mu, logvar).")
            shape = (x.shape[0], self.latent_dim)
            return self._tensor(out[0], "posterior (mu)", shape), self._tensor(out[1], "posterior (logvar)", shape)

    def log_px_given_z(self, x, z) -> torch.Tensor:
        """The decoder's ``log p(x|z)`` per image, in nats: ``(N, C, H, W)``, ``(N, d)`` → ``(N,)`` float64.

        Raises
        ------
        ValueError
            If the shapes of ``x`` and ``z`` disagree with the model or with each other.
        ModelFileError
            If the wrapped model lacks the likelihood contract, or ``log_px_given_z`` raises or
            returns the wrong shape or type.
        """
        self._no_likelihood()
        x = as_images(x, self.image_shape)
        z = as_codes(z, self.latent_dim)
        if x.shape[0] != z.shape[0]:
            raise ValueError(f"x and z must hold the same number of items, got {x.shape[0]} and {z.shape[0]}")
        out = self._call("log_px_given_z", x, z)
        if isinstance(out, np.ndarray):
            out = torch.from_numpy(np.ascontiguousarray(out))
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (x.shape[0],):
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise self._error(
                f"{self.label}: log_px_given_z returned {got}, expected a tensor of shape ({x.shape[0]},); "
                "fix its output."
            )
        return out.detach().to(device="cpu", dtype=torch.float64)

    def parameter_count(self) -> int | None:
        """Scalar parameters of the wrapped ``torch.nn.Module`` (``module``), or None if there is none."""
        if self.module is None:
            return None
        return sum(p.numel() for p in self.module.parameters())

    def probe(self) -> None:
        """Decode two prior codes (and encode the result) once, so contract violations show at load time."""
        with torch.no_grad():
            z = self.sample_prior(2, torch.Generator().manual_seed(0))
            x = self.decode(z)
            if self.has_encoder:
                self.encode(x)
            if self.has_likelihood:
                self.log_px_given_z(x, self.posterior(x)[0])


def load_adapter(path) -> WrappedModel:
    """Run a user-named Python adapter file and wrap the model its ``load_model()`` returns.

    **This executes the file**: only call it on a file the user chose to run (loading a
    checkpoint never executes code; an adapter is the explicit opt-in for models in
    other formats). The file's folder is on ``sys.path`` while it runs, so it can import
    its neighbours.

    Contract: the file defines ``load_model()`` returning an object with

    - ``kind`` : "vae", "gan" or "ali";
    - ``latent_dim`` : int; ``image_shape`` : ``(C, H, W)``;
    - ``decode(z)`` : float32 tensor ``(N, d)`` → ``(N, C, H, W)`` in [0, 1] (torch tensor
      or numpy array);
    - optionally ``encode(x)`` : ``(N, C, H, W)`` in [0, 1] → ``(N, d)`` (``has_encoder``
      is True exactly when it exists), and ``sample_prior(n, generator)`` → ``(n, d)``
      (standard normal when absent);
    - optionally, for ELBO/IWAE (`explorer.core.likelihood`), both ``posterior(x)`` →
      ``(mu, logvar)``, each ``(N, d)`` (a diagonal Gaussian ``q(z|x)``), and
      ``log_px_given_z(x, z)`` → ``(N,)`` in nats (``has_likelihood`` is True exactly when
      both exist), and ``likelihood`` : "bernoulli", "gaussian" or "continuous" (the
      observation model, which decides the units: bits/dim on binarised or dequantised
      images); AIS needs only ``decode``.

    Example ``my_vae.py``::

        import torch
        from mylib import MyVAE

        class Adapter:
            kind, latent_dim, image_shape = "vae", 10, (1, 28, 28)
            def __init__(self):
                self.net = MyVAE(); self.net.load_state_dict(torch.load("w.pt", weights_only=True))
            def decode(self, z):
                return torch.sigmoid(self.net.decoder(z)).view(-1, 1, 28, 28)
            def encode(self, x):
                return self.net.encoder(x.flatten(1))[:, :10]

        def load_model():
            return Adapter()

    Parameters
    ----------
    path : str or os.PathLike
        The ``.py`` file.

    Returns
    -------
    WrappedModel
        Conforms to `GenerativeModel`; ``source`` is "adapter".

    Raises
    ------
    AdapterError
        One sentence naming the file, when it is missing, raises while running, has no
        ``load_model``, ``load_model`` raises, the model lacks an attribute, or a probe
        decode/encode of two codes gives the wrong shape, type or range.
    """
    path = Path(path)
    label = f"adapter '{path}'"
    if not path.is_file():
        raise AdapterError(f"{label} does not exist; check the path.")
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(f"_latent_explorer_adapter_{digest}", path)
    if spec is None or spec.loader is None:
        raise AdapterError(f"{label} cannot be imported as a Python module; give a .py file.")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    try:
        sys.modules[spec.name] = module  # as a normal import would (dataclasses, pickling need it)
        try:
            spec.loader.exec_module(module)
        except Exception as e:
            sys.modules.pop(spec.name, None)
            raise AdapterError(
                f"{label} raised {type(e).__name__} while running: {_one_line(e)}; fix the file."
            ) from e
        load_model = getattr(module, "load_model", None)
        if not callable(load_model):
            raise AdapterError(f"{label} defines no load_model() function; add one that returns the model.")
        try:
            inner = load_model()
        except Exception as e:
            raise AdapterError(
                f"{label}: load_model() raised {type(e).__name__}: {_one_line(e)}; fix the adapter."
            ) from e
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)
    model = WrappedModel(inner, label, AdapterError, "adapter")
    model.probe()
    return model


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()).rstrip(".")
    return text or "no message"
