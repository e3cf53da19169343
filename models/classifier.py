"""A LeNet-style domain classifier whose penultimate layer is the feature space of the sample-quality metrics."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from models.base import as_images, module_device
from models.layers import inference


class LeNetClassifier(nn.Module):
    """Small LeNet-style CNN (LeCun et al. 1998) for grey or colour images: features and class logits.

    ``conv 3×3 (w₁) → ReLU → max-pool 2 → conv 3×3 (w₂) → ReLU → max-pool 2 → linear (F) → ReLU
    → dropout → linear (K)``. The ``F``-dimensional ReLU output of the penultimate layer is the
    feature space of FID/KID/precision/recall ("Fréchet LeNet distance" in MNIST-family papers);
    the softmax of the ``K`` logits gives the class probabilities p(y|x) of the Inception Score.

    Parameters
    ----------
    image_shape : (C, H, W)
        Input images; ``H`` and ``W`` at least 4 (two 2× poolings, rounding down).
    n_classes : int
        Number of classes ``K`` ≥ 2.
    num_features : int
        Width ``F`` of the penultimate layer.
    widths : (int, int)
        Channels of the two convolutions.
    dropout : float
        Dropout probability before the last layer (training only).
    class_names : sequence of str, optional
        One name per class, kept in the checkpoint.

    Attributes
    ----------
    kind : str
        "classifier" (the checkpoint's kind; not a generative model).
    image_shape : tuple of int
    n_classes, num_features : int

    Raises
    ------
    ValueError
        Bad ``image_shape``, fewer than 2 classes, non-positive widths, or ``class_names`` of
        the wrong length.
    """

    kind = "classifier"

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        n_classes: int = 10,
        *,
        num_features: int = 128,
        widths: Sequence[int] = (16, 32),
        dropout: float = 0.3,
        class_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        shape = tuple(int(s) for s in image_shape)
        if len(shape) != 3 or shape[0] < 1 or shape[1] < 4 or shape[2] < 4:
            raise ValueError(f"image_shape must be (C, H, W) with C ≥ 1 and H, W ≥ 4, got {tuple(image_shape)}")
        widths = tuple(int(w) for w in widths)
        if int(n_classes) < 2 or int(num_features) < 1 or len(widths) != 2 or min(widths) < 1:
            raise ValueError(
                f"need n_classes ≥ 2, num_features ≥ 1 and two positive widths, got {n_classes}, "
                f"{num_features}, {widths}")
        if class_names is not None and len(class_names) != int(n_classes):
            raise ValueError(f"class_names has {len(class_names)} names for {n_classes} classes")
        self.image_shape = shape
        self.n_classes, self.num_features = int(n_classes), int(num_features)
        self.widths, self.dropout = widths, float(dropout)
        self.class_names = None if class_names is None else [str(c) for c in class_names]
        c, h, w = shape
        self.body = nn.Sequential(
            nn.Conv2d(c, widths[0], 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(widths[0], widths[1], 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(widths[1] * (h // 4) * (w // 4), self.num_features), nn.ReLU(inplace=True),
        )
        self.head = nn.Sequential(nn.Dropout(self.dropout), nn.Linear(self.num_features, self.n_classes))

    def config(self) -> dict:
        """Constructor keyword arguments (JSON-able) from which ``LeNetClassifier(**config)`` rebuilds it."""
        return {"image_shape": list(self.image_shape), "n_classes": self.n_classes,
                "num_features": self.num_features, "widths": list(self.widths), "dropout": self.dropout,
                "class_names": self.class_names}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, K)`` of images ``(N, C, H, W)`` in [0, 1] (training mode follows ``self.training``)."""
        return self.head(self.body(x))

    def features(self, x) -> torch.Tensor:
        """Penultimate-layer features, eval mode: images ``(N, C, H, W)`` float32 in [0, 1] → ``(N, F)`` float32 ≥ 0.

        Raises
        ------
        ValueError
            If the images are not ``(N, *image_shape)``.
        """
        x = as_images(x, self.image_shape, module_device(self))
        with inference(self, x):
            return self.body(x)

    def logits(self, x) -> torch.Tensor:
        """Class logits, eval mode: images ``(N, C, H, W)`` float32 in [0, 1] → ``(N, K)`` float32.

        Raises
        ------
        ValueError
            If the images are not ``(N, *image_shape)``.
        """
        x = as_images(x, self.image_shape, module_device(self))
        with inference(self, x):
            return self.head(self.body(x))

    def features_and_logits(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        """Both at the cost of one pass, eval mode: ``(N, F)`` features and ``(N, K)`` logits, float32.

        Raises
        ------
        ValueError
            If the images are not ``(N, *image_shape)``.
        """
        x = as_images(x, self.image_shape, module_device(self))
        with inference(self, x):
            f = self.body(x)
            return f, self.head(f)


def accuracy(model: LeNetClassifier, images, labels, batch_size: int = 1000) -> float:
    """Fraction of ``images`` whose arg-max logit equals ``labels``.

    Parameters
    ----------
    model : LeNetClassifier
    images : array_like, shape (N, C, H, W)
        float32 in [0, 1].
    labels : array_like of int, shape (N,)
    batch_size : int

    Returns
    -------
    float
        In [0, 1].

    Raises
    ------
    ValueError
        If there are no images, or images and labels differ in number.
    """
    x = torch.as_tensor(images, dtype=torch.float32)
    y = torch.as_tensor(labels, dtype=torch.int64)
    if x.shape[0] == 0 or x.shape[0] != y.shape[0]:
        raise ValueError(f"need as many labels as images (≥ 1), got {y.shape[0]} labels for {x.shape[0]} images")
    correct = 0
    for i in range(0, x.shape[0], batch_size):
        correct += int((model.logits(x[i:i + batch_size]).argmax(1).cpu() == y[i:i + batch_size]).sum())
    return correct / x.shape[0]
