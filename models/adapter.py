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

from explorer.limits import MAX_IMAGE_VALUES, MAX_LATENT_DIM
from models.base import KINDS, ModelFileError, NoEncoderError, as_codes, as_images, check_finite

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
    has_features, has_logits : bool
        Whether ``inner`` has a callable ``features`` / ``logits`` (the optional feature-extractor
        part of the contract, used by the sample-quality metrics).
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
                f"got {_short(inner.latent_dim)} and {_short(inner.image_shape)}; fix them."
            )
        if self.latent_dim > MAX_LATENT_DIM:
            raise error(f"{label}: latent_dim is {self.latent_dim:,}, more than the {MAX_LATENT_DIM:,} supported; "
                        "fix it.")
        c, h, w = self.image_shape
        if c * h * w > MAX_IMAGE_VALUES:
            raise error(f"{label}: image_shape {self.image_shape} has {c * h * w:,} values per image, more than "
                        f"the {MAX_IMAGE_VALUES:,} supported; fix it.")
        self.kind = inner.kind
        self.has_encoder = callable(getattr(inner, "encode", None))
        self.has_features = callable(getattr(inner, "features", None))
        self.has_logits = callable(getattr(inner, "logits", None))
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
        except KeyboardInterrupt:
            raise
        except BaseException as e:  # SystemExit too: the adapter's code must not end the program
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
            check_finite(x, self, "decode")
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
            z = self._tensor(self._call("encode", x), "encode", (x.shape[0], self.latent_dim))
            return check_finite(z, self, "encode")

    def features(self, x) -> torch.Tensor:
        """Optional contract: images ``(N, C, H, W)`` in [0, 1] → feature rows ``(N, F)`` float32 (F fixed).

        Raises
        ------
        ModelFileError
            If the wrapped model has no ``features``, or it raises, returns something other
            than a finite 2-D tensor/array with N rows, or changes its width between calls.
        """
        return _feature_rows(self, "features", x)

    def logits(self, x) -> torch.Tensor:
        """Optional contract: images ``(N, C, H, W)`` in [0, 1] → class logits ``(N, K)`` float32 (K fixed).

        Raises
        ------
        ModelFileError
            As `features`, for ``logits``.
        """
        return _feature_rows(self, "logits", x)

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
        """Scalar parameters of the wrapped ``torch.nn.Module`` (``module``), or of the torch modules the
        wrapped object holds as attributes (each parameter counted once); None if there is none."""
        modules = [self.module] if self.module is not None else [
            v for v in vars(self.inner).values() if isinstance(v, nn.Module)] if hasattr(self.inner, "__dict__") else []
        if not modules:
            return None
        params = {id(p): p for m in modules for p in m.parameters()}
        return sum(p.numel() for p in params.values())

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
    - optionally, as a feature extractor for the sample-quality metrics, ``features(x)`` :
      ``(N, C, H, W)`` in [0, 1] → ``(N, F)`` and ``logits(x)`` → ``(N, K)`` class logits (for
      the Inception Score); checked like the rest. A feature network that is no generative
      model is opened with `load_feature_adapter`.
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
    if path.is_dir():
        raise AdapterError(f"{label} is a folder, not a Python file; choose the adapter .py file.")
    if not path.is_file():
        raise AdapterError(f"{label} does not exist; check the path.")
    inner = _run_adapter_file(path, label)
    model = WrappedModel(inner, label, AdapterError, "adapter")
    model.probe()
    return model


def _run_adapter_file(path: Path, label: str):
    """Execute the adapter file ``path`` and return what its ``load_model()`` returns (AdapterError otherwise)."""
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
        except KeyboardInterrupt:
            raise
        except BaseException as e:  # SystemExit too: running the adapter must not end the program
            sys.modules.pop(spec.name, None)
            raise AdapterError(
                f"{label} raised {type(e).__name__} while running: {_one_line(e)}; fix the file."
            ) from e
        load_model = getattr(module, "load_model", None)
        if not callable(load_model):
            raise AdapterError(f"{label} defines no load_model() function; add one that returns the model.")
        try:
            inner = load_model()
        except KeyboardInterrupt:
            raise
        except BaseException as e:
            raise AdapterError(
                f"{label}: load_model() raised {type(e).__name__}: {_one_line(e)}; fix the adapter."
            ) from e
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)
    return inner


def _feature_rows(owner, name: str, x) -> torch.Tensor:
    """Call ``owner.inner.<name>(x)`` and check it gives finite ``(N, width)`` rows of a fixed width."""
    if not callable(getattr(owner.inner, name, None)):
        raise owner._error(f"{owner.label} has no {name}(x) method; add one to use it as a feature extractor.")
    x = as_images(x, owner.image_shape)
    with torch.no_grad():
        out = owner._call(name, x)
    if isinstance(out, np.ndarray):
        out = torch.from_numpy(np.ascontiguousarray(out))
    if not isinstance(out, torch.Tensor):
        raise owner._error(
            f"{owner.label}: {name} returned a {type(out).__name__}; return a torch tensor or numpy array.")
    out = out.detach().to(device="cpu", dtype=torch.float32)
    widths = owner.__dict__.setdefault("_widths", {})
    bad_width = out.ndim == 2 and widths.get(name, out.shape[1]) != out.shape[1]
    if out.ndim != 2 or out.shape[0] != x.shape[0] or out.shape[1] < 1 or bad_width:
        want = f"({x.shape[0]}, {widths[name]})" if name in widths else f"({x.shape[0]}, width)"
        raise owner._error(f"{owner.label}: {name} returned shape {tuple(out.shape)}, expected {want}; fix its output.")
    if not bool(torch.isfinite(out).all()):
        raise owner._error(f"{owner.label}: {name} returned NaN or infinite values; fix the network.")
    widths[name] = out.shape[1]
    return out


class FeatureNetwork:
    """A user's feature network (no generative model) made to conform: checked ``features`` and ``logits``.

    Built by `load_feature_adapter`.

    Attributes
    ----------
    image_shape : tuple of int
        ``(C, H, W)`` the network takes.
    has_features : bool
        True.
    has_logits : bool
        Whether the network has ``logits(x)`` (needed for the Inception Score).
    label, inner, source
        As `WrappedModel`; ``source`` is "adapter".
    """

    def __init__(self, inner, label: str, error: type[ModelFileError] = AdapterError):
        self.inner, self.label, self._error, self.source = inner, label, error, "adapter"
        if not callable(getattr(inner, "features", None)):
            raise error(f"{label}: the network has no features(x) method; add one (see the feature contract).")
        try:
            self.image_shape = tuple(int(s) for s in inner.image_shape)
        except (AttributeError, TypeError, ValueError):
            self.image_shape = ()
        if len(self.image_shape) != 3 or min(self.image_shape) < 1:
            raise error(f"{label}: image_shape must be three positive ints (C, H, W), "
                        f"got {getattr(inner, 'image_shape', None)!r}; fix it.")
        self.has_features = True
        self.has_logits = callable(getattr(inner, "logits", None))
        if isinstance(inner, nn.Module):
            inner.eval()

    def _call(self, name: str, *args):
        try:
            return getattr(self.inner, name)(*args)
        except Exception as e:
            raise self._error(f"{self.label}: {name} raised {type(e).__name__}: {_one_line(e)}.") from e

    def features(self, x) -> torch.Tensor:
        """Images ``(N, C, H, W)`` in [0, 1] → ``(N, F)`` float32; see `WrappedModel.features`."""
        return _feature_rows(self, "features", x)

    def logits(self, x) -> torch.Tensor:
        """Images ``(N, C, H, W)`` in [0, 1] → ``(N, K)`` float32; see `WrappedModel.logits`."""
        return _feature_rows(self, "logits", x)


def load_feature_adapter(path) -> WrappedModel | FeatureNetwork:
    """Run a user-named Python file whose ``load_model()`` returns a feature network, and check it.

    **This executes the file** (the user's explicit choice, as for `load_adapter`). Contract:
    ``image_shape`` ``(C, H, W)``; ``features(x)`` : ``(N, C, H, W)`` float32 in [0, 1] →
    ``(N, F)``; optionally ``logits(x)`` → ``(N, K)``. A generative adapter (with ``kind``,
    ``latent_dim``, ``decode``) that also has ``features`` works too. Two images of zeros
    are pushed through once, so contract violations show at load time.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.py`` file.

    Returns
    -------
    WrappedModel or FeatureNetwork
        With ``has_features`` True.

    Raises
    ------
    AdapterError
        One sentence naming the file: missing, raises, no ``load_model``, no ``features``,
        bad ``image_shape``, or the probe gives the wrong shape, type or non-finite values.
    """
    path = Path(path)
    label = f"feature adapter '{path}'"
    if not path.is_file():
        raise AdapterError(f"{label} does not exist; check the path.")
    inner = _run_adapter_file(path, label)
    if all(hasattr(inner, a) for a in ("kind", "latent_dim", "decode")):
        net: WrappedModel | FeatureNetwork = WrappedModel(inner, label, AdapterError, "adapter")
        if not net.has_features:
            raise AdapterError(
                f"{label}: the model has no features(x) method; add one to use it as a feature extractor.")
    else:
        net = FeatureNetwork(inner, label)
    probe = torch.zeros(2, *net.image_shape)
    net.features(probe)
    if net.has_logits:
        net.logits(probe)
    return net


def _short(value) -> str:
    """``repr(value)`` of at most 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _one_line(e: BaseException) -> str:
    """The gist of an exception's message in one line of at most 200 characters.

    TorchScript embeds its interpreter's traceback in the message: only its last line (the
    error itself) is kept.
    """
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    if any(line.startswith("Traceback") for line in lines):
        lines = lines[-1:]
    text = " ".join(" ".join(lines).split()).rstrip(".")
    if len(text) > 200:
        text = text[:197] + "..."
    return text or "no message"
