"""Training the sample-quality classifier (`models.classifier.LeNetClassifier`) with the seeded `Trainer` loop."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.classifier import LeNetClassifier
from models.train import Trainer, as_training_images

__all__ = ["ClassifierTrainer", "make_classifier_trainer"]


class ClassifierTrainer(Trainer):
    """Trains a `models.classifier.LeNetClassifier` on labelled images: cross-entropy, Adam (lr 1e-3).

    Same determinism as every `Trainer` (seeded shuffling, dropout and initialisation; same
    seed, data and thread count give bit-identical weights).

    Parameters
    ----------
    model : LeNetClassifier
    images : torch.Tensor or numpy.ndarray, shape (N, *model.image_shape)
        Training images in [0, 1] (see `as_training_images`).
    labels : array_like of int, shape (N,)
        Class indices in ``[0, model.n_classes)``.
    batch_size, lr, betas, seed
        As `Trainer`.

    Raises
    ------
    ValueError
        Labels of the wrong length or outside ``[0, n_classes)``, and the errors of `Trainer`.
    """

    kind = "classifier"

    def __init__(self, model: nn.Module, images, labels, *, batch_size: int = 128, lr: float = 1e-3,
                 betas=(0.9, 0.999), seed: int = 0, device=None):
        y = torch.as_tensor(np.asarray(labels), dtype=torch.int64).reshape(-1)
        n = len(images)
        if y.shape[0] != n:
            raise ValueError(f"need one label per training image, got {y.shape[0]} labels for {n} images")
        if n and (int(y.min()) < 0 or int(y.max()) >= model.n_classes):
            raise ValueError(
                f"labels must lie in [0, {model.n_classes}), got values in [{int(y.min())}, {int(y.max())}]")
        self.labels = y
        super().__init__(model, images, batch_size=batch_size, lr=lr, betas=betas, seed=seed, device=device)

    def _batch(self, idx: torch.Tensor):
        return self.images[idx].to(self.device), self.labels[idx].to(self.device)

    def _make_optimisers(self) -> None:
        self.optimiser = torch.optim.Adam(self.model.parameters(), lr=self.lr, betas=self.betas)

    def _step(self, batch) -> dict[str, float]:
        x, y = batch
        self.optimiser.zero_grad(set_to_none=True)
        logits = self.model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        self.optimiser.step()
        return {"loss": float(loss.detach()), "accuracy": float((logits.detach().argmax(1) == y).float().mean())}


def make_classifier_trainer(
    images,
    labels,
    n_classes: int | None = None,
    *,
    class_names=None,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    device=None,
    **model_kwargs,
) -> ClassifierTrainer:
    """Build a freshly initialised (seeded) `LeNetClassifier` for ``images`` and its trainer.

    Parameters
    ----------
    images : torch.Tensor or numpy.ndarray, shape (N, C, H, W)
        Training images, float in [0, 1] (or uint8); ``(C, H, W)`` sets the classifier's input shape.
    labels : array_like of int, shape (N,)
    n_classes : int, optional
        Default ``len(class_names)``, else ``max(labels) + 1``.
    class_names : sequence of str, optional
    batch_size, lr, seed, device
        As `ClassifierTrainer`; ``seed`` also seeds the weight initialisation.
    **model_kwargs
        Further `LeNetClassifier` arguments (``num_features``, ``widths``, ``dropout``).

    Returns
    -------
    ClassifierTrainer

    Raises
    ------
    ValueError
        Bad images, labels or classifier arguments.
    """
    images = as_training_images(images)
    y = np.asarray(labels).reshape(-1)
    if n_classes is None:
        n_classes = len(class_names) if class_names is not None else int(y.max()) + 1 if y.size else 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LeNetClassifier(tuple(images.shape[1:]), n_classes, class_names=class_names, **model_kwargs)
    return ClassifierTrainer(model, images, y, batch_size=batch_size, lr=lr, seed=seed, device=device)
