"""The state dict each built-in model kind has for a config, computed without torch (tests compare it with the modules).

`latent-explorer info` checks a checkpoint's weights against the architecture without
importing torch (`models.checkpoint_reader`). This module says, for the kinds "vae"
(`models.vae.VAE`), "gan" (`models.dcgan.DCGAN`), "ali" (`models.ali.ALI`) and
"classifier" (`models.classifier.LeNetClassifier`), which ``state_dict`` keys a model built
from ``config`` has, in the order ``Module.state_dict`` gives them, with their shapes, whether
they hold floating-point numbers and whether they are parameters (or buffers: batch-norm
running statistics). It mirrors the constructors layer by layer; tests/models/test_state_shapes.py
builds the real modules over many configs and checks that every key, shape, kind of number
and parameter flag agrees, so the two cannot drift apart unnoticed.

Only configs this module can vouch for are accepted: exact Python types (an ``int`` that is
not a ``bool``, a finite ``float``), values in the ranges the constructors accept, and sizes
within `explorer.limits`. Anything else raises `ConfigNotSupported`, and the caller leaves the
file to the torch loader (`models.checkpoint.load_checkpoint`), which builds the model and
words the error — so nothing the loader refuses is accepted here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from explorer.limits import MAX_IMAGE_VALUES, MAX_LATENT_DIM

__all__ = ["ConfigNotSupported", "StateEntry", "ExpectedModel", "expected_model", "KINDS", "NETWORK_NAMES"]

#: Checkpoint kinds this module knows (`models.checkpoint._SAVABLE`).
KINDS = ("vae", "gan", "ali", "classifier")
#: Sub-networks `models.loading.describe` counts parameters of, when a model has them.
NETWORK_NAMES = ("encoder", "decoder", "generator", "discriminator")
#: Largest integer a config may hold (`models.checkpoint._check_config_sizes` refuses larger).
_MAX_CONFIG_INT = 2**31

_VAE_KEYS = ("latent_dim", "image_shape", "likelihood", "beta", "sigma", "channels", "hidden", "objective")
_GAN_KEYS = ("latent_dim", "image_shape", "g_width", "d_width")
_ALI_KEYS = ("latent_dim", "image_shape", "g_width", "e_width", "d_width", "d_features", "dropout")
_CLASSIFIER_KEYS = ("image_shape", "n_classes", "num_features", "widths", "dropout", "class_names")


class ConfigNotSupported(ValueError):
    """A config this module cannot vouch for (the torch loader decides about it); the message says why."""


@dataclass(frozen=True)
class StateEntry:
    """One ``state_dict`` entry of a model: its shape and what it holds.

    Attributes
    ----------
    shape : tuple of int
        ``tuple(tensor.shape)``; ``()`` for a scalar (batch norm's ``num_batches_tracked``).
    floating : bool
        True for float32 weights and running statistics, False for the int64 batch counter.
    parameter : bool
        True for a ``torch.nn.Parameter`` (counted by `models.layers.count_parameters`),
        False for a buffer.
    """

    shape: tuple[int, ...]
    floating: bool = True
    parameter: bool = True

    @property
    def numel(self) -> int:
        """Number of elements: the product of ``shape`` (1 for a scalar)."""
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes the entry takes in the model: 4 per float32 element, 8 per int64 element."""
        return self.numel * (4 if self.floating else 8)


@dataclass
class ExpectedModel:
    """What a model of ``kind`` built from a config is, as `models.loading.describe` reports it.

    Attributes
    ----------
    kind : str
    image_shape : tuple of int
        ``(C, H, W)``.
    latent_dim : int or None
        ``d``; None for a classifier.
    has_encoder : bool or None
        None for a classifier.
    state : dict of str to StateEntry
        In ``state_dict`` order.
    """

    kind: str
    image_shape: tuple[int, int, int]
    latent_dim: int | None
    has_encoder: bool | None
    state: dict[str, StateEntry] = field(default_factory=dict)

    @property
    def parameters(self) -> int:
        """Scalar parameters of the whole model (buffers excluded), as `models.layers.count_parameters`."""
        return sum(e.numel for e in self.state.values() if e.parameter)

    @property
    def networks(self) -> dict[str, int]:
        """Parameters per sub-network named in `NETWORK_NAMES`, in the model's order (``describe``'s "networks")."""
        out: dict[str, int] = {}
        for key, e in self.state.items():
            head = key.split(".", 1)[0]
            if head in NETWORK_NAMES:
                out[head] = out.get(head, 0) + (e.numel if e.parameter else 0)
        return out

    @property
    def nbytes(self) -> int:
        """Bytes the model's weights and buffers take (what the loader checks against memory)."""
        return sum(e.nbytes for e in self.state.values())


# ----------------------------------------------------------------------------- strict config values


def _int(config: dict, key: str, default, low: int = 1) -> int:
    value = config.get(key, default)
    if type(value) is not int or not low <= value <= _MAX_CONFIG_INT:
        raise ConfigNotSupported(f"{key} = {value!r} is not an integer in [{low}, {_MAX_CONFIG_INT}]")
    return value


def _float(config: dict, key: str, default, low: float, high: float = math.inf, open_low: bool = False) -> float:
    value = config.get(key, default)
    if type(value) is int and abs(value) > _MAX_CONFIG_INT:
        raise ConfigNotSupported(f"{key} = {value!r} is too large")
    if type(value) not in (int, float) or not math.isfinite(value) or value > high \
            or value < low or (open_low and value == low):
        raise ConfigNotSupported(f"{key} = {value!r} is not a finite number in the accepted range")
    return float(value)


def _ints(value, key: str, n: int | None = None) -> list[int]:
    if type(value) not in (list, tuple) or (n is not None and len(value) != n) or not value \
            or any(type(v) is not int or not 1 <= v <= _MAX_CONFIG_INT for v in value):
        raise ConfigNotSupported(f"{key} = {value!r} is not a list of positive integers" +
                                 (f" of length {n}" if n is not None else ""))
    return list(value)


def _only(config: dict, keys: tuple[str, ...], kind: str) -> None:
    if type(config) is not dict:
        raise ConfigNotSupported(f"the config is a {type(config).__name__}")
    extra = [k for k in config if k not in keys]
    if extra:
        raise ConfigNotSupported(f"the {kind} config has keys its constructor does not take: {extra!r}")


def _image_shape(config: dict) -> tuple[int, int, int]:
    c, h, w = _ints(config.get("image_shape", [1, 28, 28]), "image_shape", 3)
    if c * h * w > MAX_IMAGE_VALUES:
        raise ConfigNotSupported(f"image_shape {[c, h, w]} exceeds {MAX_IMAGE_VALUES} values")
    return c, h, w


def _conv_shape(config: dict) -> tuple[int, int, int, int, int]:
    """``(C, H, W)`` of a convolutional model and its `models.layers.spatial_stages` ``(n, base)``."""
    c, h, w = _image_shape(config)
    if h != w:
        raise ConfigNotSupported(f"image_shape {[c, h, w]} is not square")
    n, base = 0, h
    while base % 2 == 0 and base > 4:
        base //= 2
        n += 1
    if n == 0:
        raise ConfigNotSupported(f"image side {h} cannot be halved")
    return c, h, w, n, base


def _latent_dim(config: dict) -> int:
    if "latent_dim" not in config:
        raise ConfigNotSupported("the config has no latent_dim")
    d = _int(config, "latent_dim", None)
    if d > MAX_LATENT_DIM:
        raise ConfigNotSupported(f"latent_dim {d} exceeds {MAX_LATENT_DIM}")
    return d


# ----------------------------------------------------------------------------- layers (torch.nn's state dicts)


class _State(dict):
    """Ordered ``{key: StateEntry}`` with one method per torch layer, mirroring its ``state_dict``."""

    def conv(self, prefix: str, c_in: int, c_out: int, k: int, bias: bool = True) -> None:
        """``nn.Conv2d(c_in, c_out, k)``: weight ``(c_out, c_in, k, k)``, bias ``(c_out,)``."""
        self[f"{prefix}.weight"] = StateEntry((c_out, c_in, k, k))
        if bias:
            self[f"{prefix}.bias"] = StateEntry((c_out,))

    def deconv(self, prefix: str, c_in: int, c_out: int, k: int, bias: bool = True) -> None:
        """``nn.ConvTranspose2d(c_in, c_out, k)``: weight ``(c_in, c_out, k, k)``, bias ``(c_out,)``."""
        self[f"{prefix}.weight"] = StateEntry((c_in, c_out, k, k))
        if bias:
            self[f"{prefix}.bias"] = StateEntry((c_out,))

    def linear(self, prefix: str, n_in: int, n_out: int) -> None:
        """``nn.Linear(n_in, n_out)``: weight ``(n_out, n_in)``, bias ``(n_out,)``."""
        self[f"{prefix}.weight"] = StateEntry((n_out, n_in))
        self[f"{prefix}.bias"] = StateEntry((n_out,))

    def batch_norm(self, prefix: str, c: int) -> None:
        """``nn.BatchNorm2d(c)``: weight and bias, then the running mean, variance and int64 batch count."""
        self[f"{prefix}.weight"] = StateEntry((c,))
        self[f"{prefix}.bias"] = StateEntry((c,))
        self[f"{prefix}.running_mean"] = StateEntry((c,), parameter=False)
        self[f"{prefix}.running_var"] = StateEntry((c,), parameter=False)
        self[f"{prefix}.num_batches_tracked"] = StateEntry((), floating=False, parameter=False)

    def conv_stack(self, prefix: str, channels: list[int], *, norm: bool = False, dropout: float = 0.0) -> None:
        """`models.layers.conv_stack` (``norm_first`` False): conv [+ batch norm] + activation [+ dropout] per stage."""
        i = 0
        for stage, (c_in, c_out) in enumerate(zip(channels[:-1], channels[1:], strict=True)):
            use_norm = norm and stage > 0
            self.conv(f"{prefix}.{i}", c_in, c_out, 4, bias=not use_norm)
            i += 1
            if use_norm:
                self.batch_norm(f"{prefix}.{i}", c_out)
                i += 1
            i += 1  # the activation
            if dropout > 0:
                i += 1

    def deconv_stack(self, prefix: str, channels: list[int], *, norm: bool = False) -> None:
        """`models.layers.deconv_stack`: transposed conv [+ batch norm + ReLU] per stage, bias on the last."""
        i, n = 0, len(channels) - 1
        for stage, (c_in, c_out) in enumerate(zip(channels[:-1], channels[1:], strict=True)):
            last = stage == n - 1
            self.deconv(f"{prefix}.{i}", c_in, c_out, 4, bias=last or not norm)
            i += 1
            if not last:
                if norm:
                    self.batch_norm(f"{prefix}.{i}", c_out)
                    i += 1
                i += 1  # ReLU

    def generator(self, prefix: str, d: int, c: int, n: int, base: int, width: int) -> None:
        """`models.layers.ConvGenerator`: ``project`` (transposed conv to base × base, batch norm) and ``body``."""
        widths = [width * 2**i for i in range(n)][::-1]
        self.deconv(f"{prefix}.project.0", d, widths[0], base, bias=False)
        self.batch_norm(f"{prefix}.project.1", widths[0])
        self.deconv_stack(f"{prefix}.body", widths + [c], norm=True)


# ----------------------------------------------------------------------------- the kinds


def _vae(config: dict) -> ExpectedModel:
    _only(config, _VAE_KEYS, "vae")
    d = _latent_dim(config)
    c, h, _, n, base = _conv_shape(config)
    if config.get("likelihood", "bernoulli") not in ("bernoulli", "gaussian"):
        raise ConfigNotSupported(f"likelihood {config.get('likelihood')!r}")
    if config.get("objective", "beta_vae") not in ("beta_vae", "beta_tcvae"):
        raise ConfigNotSupported(f"objective {config.get('objective')!r}")
    _float(config, "beta", 1.0, 0.0)
    _float(config, "sigma", 0.1, 0.0, open_low=True)
    hidden = _int(config, "hidden", 128)
    channels = config.get("channels")
    channels = [32] * (n // 2) + [64] * (n - n // 2) if channels is None else _ints(channels, "channels", n)
    flat = channels[-1] * base * base
    s = _State()
    s.conv_stack("encoder.0", [c] + channels)
    s.linear("encoder.2", flat, hidden)
    s.linear("encoder.4", hidden, 2 * d)
    s.linear("decoder.0", d, hidden)
    s.linear("decoder.2", hidden, flat)
    s.deconv_stack("decoder.5", channels[::-1] + [c])
    return ExpectedModel("vae", (c, h, h), d, True, s)


def _gan(config: dict) -> ExpectedModel:
    _only(config, _GAN_KEYS, "gan")
    d = _latent_dim(config)
    c, h, _, n, base = _conv_shape(config)
    g_width, d_width = _int(config, "g_width", 32), _int(config, "d_width", 32)
    s = _State()
    s.generator("generator", d, c, n, base, g_width)
    widths = [d_width * 2**i for i in range(n)]
    s.conv_stack("discriminator.body", [c] + widths, norm=True)
    s.conv("discriminator.head", widths[-1], 1, base)
    return ExpectedModel("gan", (c, h, h), d, False, s)


def _ali(config: dict) -> ExpectedModel:
    _only(config, _ALI_KEYS, "ali")
    d = _latent_dim(config)
    c, h, _, n, base = _conv_shape(config)
    g_width, e_width, d_width = (_int(config, k, 32) for k in ("g_width", "e_width", "d_width"))
    features = _int(config, "d_features", 128)
    dropout = _float(config, "dropout", 0.2, 0.0, 1.0)
    s = _State()
    e_widths = [e_width * 2**i for i in range(n)]
    s.conv_stack("encoder.body", [c] + e_widths, norm=True)
    s.conv("encoder.head", e_widths[-1], 2 * d, base)
    s.generator("generator", d, c, n, base, g_width)
    x_widths = [d_width * 2**i for i in range(n)]
    s.conv_stack("discriminator.x_path.0", [c] + x_widths, dropout=dropout)
    s.conv("discriminator.x_path.1", x_widths[-1], features, base)
    s.linear("discriminator.z_path.0", d, features)
    s.linear("discriminator.z_path.3", features, features)
    s.linear("discriminator.joint.0", 2 * features, 2 * features)
    s.linear("discriminator.joint.3", 2 * features, 1)
    return ExpectedModel("ali", (c, h, h), d, True, s)


def _classifier(config: dict) -> ExpectedModel:
    _only(config, _CLASSIFIER_KEYS, "classifier")
    c, h, w = _image_shape(config)
    if h < 4 or w < 4:
        raise ConfigNotSupported(f"image_shape {[c, h, w]} is smaller than 4 × 4")
    k = _int(config, "n_classes", 10, low=2)
    features = _int(config, "num_features", 128)
    w1, w2 = _ints(config.get("widths", [16, 32]), "widths", 2)
    _float(config, "dropout", 0.3, 0.0, 1.0)
    names = config.get("class_names")
    if names is not None and (type(names) not in (list, tuple) or len(names) != k
                              or any(type(x) is not str for x in names)):
        raise ConfigNotSupported("class_names is not one string per class")
    s = _State()
    s.conv("body.0", c, w1, 3)
    s.conv("body.3", w1, w2, 3)
    s.linear("body.7", w2 * (h // 4) * (w // 4), features)
    s.linear("head.1", features, k)
    return ExpectedModel("classifier", (c, h, w), None, None, s)


_BUILDERS = {"vae": _vae, "gan": _gan, "ali": _ali, "classifier": _classifier}


def expected_model(kind: str, config: dict) -> ExpectedModel:
    """The state dict, image shape, latent dimension and encoder flag of a ``kind`` model built from ``config``.

    Mirrors ``models.checkpoint.MODEL_CLASSES[kind](**config)`` (and the classifier's) without
    torch. Defaults are the constructors' for keys the config leaves out.

    Parameters
    ----------
    kind : {"vae", "gan", "ali", "classifier"}
    config : dict
        Constructor keyword arguments, as a checkpoint's ``config`` records them.

    Returns
    -------
    ExpectedModel

    Raises
    ------
    ConfigNotSupported
        For an unknown kind, a key the constructor does not take, a missing ``latent_dim``,
        any value not of the exact type and range this module vouches for (e.g. a float
        width, a ``bool``, a NaN ``beta``, ``channels`` of the wrong length, a non-square or
        unhalvable image), or sizes beyond `explorer.limits` — the torch loader decides those.
    """
    if kind not in _BUILDERS:
        raise ConfigNotSupported(f"unknown kind {kind!r}")
    return _BUILDERS[kind](config)
