"""Shared convolutional building blocks: strided conv stacks, DCGAN generator, inference helpers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from torch import nn


def spatial_stages(size: int) -> tuple[int, int]:
    """Number of 2× down-samplings for a square image side and the side they end at.

    Halves ``size`` while it is even and larger than 4, so 28 → 14 → 7 (2 stages, base 7)
    and 64 → 32 → 16 → 8 → 4 (4 stages, base 4). Each stage is a 4×4 convolution with
    stride 2 and padding 1, whose transposed twin doubles the side exactly.

    Parameters
    ----------
    size : int
        Image height (= width), in pixels.

    Returns
    -------
    n_stages : int
        Number of stride-2 stages (at least 1).
    base : int
        Side of the feature map after the last stage.

    Raises
    ------
    ValueError
        If ``size`` cannot be halved even once (odd, or smaller than 8).
    """
    n, base = 0, int(size)
    while base % 2 == 0 and base > 4:
        base //= 2
        n += 1
    if n == 0:
        raise ValueError(
            f"image side {size} cannot be halved by strided convolutions; "
            "use an even side of at least 8 pixels (e.g. 28 or 64)"
        )
    return n, base


def check_image_shape(image_shape: Sequence[int]) -> tuple[int, int, int]:
    """Validate ``(C, H, W)`` for the convolutional models (square, halvable) and return it as a tuple.

    Raises
    ------
    ValueError
        If the shape is not three positive ints with ``H == W`` and ``H`` halvable
        (see `spatial_stages`).
    """
    shape = tuple(int(s) for s in image_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"image_shape must be (C, H, W) with positive sides, got {tuple(image_shape)}")
    if shape[1] != shape[2]:
        raise ValueError(f"image_shape must be square (H == W), got {shape}")
    spatial_stages(shape[1])
    return shape


class ConvModel(nn.Module):
    """Base of the bundled convolutional models: validated ``latent_dim`` and ``image_shape``, and `config`.

    Subclasses name the constructor keywords they store (as attributes of the same
    name) in ``CONFIG_FIELDS``; `config` returns them with ``latent_dim`` and
    ``image_shape``, which is what a checkpoint records to rebuild the model.

    Parameters
    ----------
    latent_dim : int
        d ≥ 1.
    image_shape : sequence of int
        ``(C, H, W)``, square and halvable (`check_image_shape`).

    Raises
    ------
    ValueError
        ``latent_dim`` < 1 or not an integer, or a bad ``image_shape``.
    """

    CONFIG_FIELDS: tuple[str, ...] = ()

    def __init__(self, latent_dim: int, image_shape: Sequence[int]) -> None:
        super().__init__()
        if isinstance(latent_dim, bool) or int(latent_dim) != latent_dim or int(latent_dim) < 1:
            raise ValueError(f"latent_dim must be an integer ≥ 1, got {latent_dim!r}")
        self.latent_dim = int(latent_dim)
        self.image_shape = check_image_shape(image_shape)

    def config(self) -> dict:
        """Constructor keyword arguments (JSON-able) from which ``type(self)(**config)`` rebuilds this model."""
        out: dict = {"latent_dim": self.latent_dim, "image_shape": list(self.image_shape)}
        for name in self.CONFIG_FIELDS:
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, (list, tuple)) else value
        return out


def conv_stack(
    channels: Sequence[int],
    *,
    norm: bool = False,
    norm_first: bool = False,
    activation: str = "relu",
    dropout: float = 0.0,
) -> nn.Sequential:
    """Strided 4×4 convolutions, each halving the side: ``channels[0] → … → channels[-1]``.

    Parameters
    ----------
    channels : sequence of int
        Input channels followed by the output channels of each stage.
    norm : bool
        Batch normalisation after each convolution (DCGAN, Radford et al. 2016).
    norm_first : bool
        Also normalise after the first convolution (DCGAN's discriminator does not).
    activation : {"relu", "lrelu"}
        ReLU, or LeakyReLU with slope 0.2.
    dropout : float
        Dropout probability after each activation (ALI's discriminator uses 0.2).

    Returns
    -------
    torch.nn.Sequential
        Maps ``(N, channels[0], S, S)`` to ``(N, channels[-1], S / 2**k, S / 2**k)``
        with ``k = len(channels) - 1``.
    """
    layers: list[nn.Module] = []
    for i, (c_in, c_out) in enumerate(zip(channels[:-1], channels[1:], strict=True)):
        use_norm = norm and (i > 0 or norm_first)
        layers.append(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=not use_norm))
        if use_norm:
            layers.append(nn.BatchNorm2d(c_out))
        layers.append(_activation(activation))
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def deconv_stack(channels: Sequence[int], *, norm: bool = False) -> nn.Sequential:
    """Transposed 4×4 convolutions with stride 2, each doubling the side; no activation after the last.

    Parameters
    ----------
    channels : sequence of int
        Input channels followed by the output channels of each stage.
    norm : bool
        Batch normalisation after every stage but the last.

    Returns
    -------
    torch.nn.Sequential
        Maps ``(N, channels[0], s, s)`` to ``(N, channels[-1], s * 2**k, s * 2**k)``;
        ReLU between stages, raw output (logits) after the last.
    """
    layers: list[nn.Module] = []
    n = len(channels) - 1
    for i, (c_in, c_out) in enumerate(zip(channels[:-1], channels[1:], strict=True)):
        last = i == n - 1
        layers.append(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=last or not norm))
        if not last:
            if norm:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def doubling_widths(width: int, n_stages: int) -> list[int]:
    """Channel widths of DCGAN-style stages from the image side inwards: ``width · 2**i``."""
    return [width * 2**i for i in range(n_stages)]


class ConvGenerator(nn.Module):
    """DCGAN generator ``G(z)`` (Radford et al. 2016): project, then transposed convolutions.

    ``z`` is projected by a transposed convolution to a ``base × base`` map with
    ``width · 2**(k-1)`` channels, then ``k`` stride-2 stages halve the channels and
    double the side; batch norm and ReLU everywhere except the output, which is ``tanh``.

    Parameters
    ----------
    latent_dim : int
        Dimension ``d`` of ``z``.
    image_shape : (C, H, W)
        Output image shape (square, see `spatial_stages`).
    width : int
        Channels of the last hidden stage (``ngf`` in the paper's code).

    Notes
    -----
    ``forward`` maps ``(N, d)`` float32 to ``(N, C, H, W)`` in [-1, 1].
    """

    def __init__(self, latent_dim: int, image_shape: Sequence[int], width: int) -> None:
        super().__init__()
        c, h, _ = check_image_shape(image_shape)
        n, base = spatial_stages(h)
        widths = doubling_widths(width, n)[::-1]  # deepest first
        self.project = nn.Sequential(
            nn.ConvTranspose2d(latent_dim, widths[0], base, 1, 0, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
        self.body = deconv_stack(widths + [c], norm=True)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.body(self.project(z[:, :, None, None])))


def _activation(name: str) -> nn.Module:
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "lrelu":
        return nn.LeakyReLU(0.2, inplace=True)
    raise ValueError(f"unknown activation {name!r}; use 'relu' or 'lrelu'")


def dcgan_init(module: nn.Module) -> None:
    """Initialise as in DCGAN: conv weights ~ N(0, 0.02), batch-norm scale ~ N(1, 0.02), biases 0.

    Use with ``module.apply(dcgan_init)``; draws from torch's global generator. Weights on the
    meta device (a shell built only for its shapes, as `models.checkpoint.load_checkpoint`
    does) are left alone: ``normal_`` there would import torch._dynamo, 1.5 s of CPU once per process.
    """
    weight = getattr(module, "weight", None)
    if isinstance(weight, torch.Tensor) and weight.is_meta:
        return
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


@contextlib.contextmanager
def inference(module: nn.Module, *inputs: torch.Tensor) -> Iterator[None]:
    """Run ``module`` in eval mode, tracking gradients only if an input requires them.

    Restores every sub-module's previous train/eval flag on exit, so calling
    ``decode`` in the middle of training changes nothing. Gradients stay on when
    an input has ``requires_grad`` (GAN inversion optimises ``z`` through ``decode``).
    """
    flags = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        with torch.set_grad_enabled(any(t.requires_grad for t in inputs)):
            yield
    finally:
        for m, flag in flags:
            m.training = flag


def count_parameters(module: nn.Module) -> int:
    """Number of scalar parameters in ``module`` (trainable or not)."""
    return sum(p.numel() for p in module.parameters())
