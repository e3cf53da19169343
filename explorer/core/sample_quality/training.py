"""Train the domain classifier whose features and logits the sample-quality metrics use."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from explorer.core.jobs import JobContext
from explorer.data import Dataset

#: Defaults of `train_classifier` (those the bundled Fashion-MNIST classifier was trained with).
DEFAULT_EPOCHS = 15
DEFAULT_BATCH_SIZE = 128


def provenance_path(checkpoint) -> Path:
    """The provenance JSON beside a checkpoint: ``x.pt`` → ``x.provenance.json``."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.stem + ".provenance.json")


def train_classifier(
    train: Dataset,
    out,
    *,
    test: Dataset | None = None,
    epochs: int = DEFAULT_EPOCHS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    seed: int = 0,
    command: str | None = None,
    torch_threads: int | None = None,
    ctx: JobContext | None = None,
    device=None,
) -> dict:
    """Train a `models.classifier.LeNetClassifier` on a labelled dataset; write it and its provenance atomically.

    Deterministic: the same data, seed and torch thread count give bit-identical weights
    (`models.train_classifier.ClassifierTrainer`). The checkpoint (``out``, `models.checkpoint`
    format, kind "classifier") and ``<stem>.provenance.json`` beside it are each written to
    a temporary file and renamed; nothing is written when the job is cancelled.

    Parameters
    ----------
    train : Dataset
        Labelled training images ``(N, C, H, W)`` float32 in [0, 1].
    out : str or os.PathLike
        Checkpoint to write (``*.pt``).
    test : Dataset, optional
        Labelled held-out images of the same shape; their accuracy goes into the provenance.
    epochs, batch_size, seed : int
    command : str, optional
        The command line, recorded in both files.
    torch_threads : int, optional
        Recorded in the provenance (set it with ``torch.set_num_threads`` before calling).
    ctx : JobContext, optional
        Progress per optimisation step; cancel stops between steps.
    device : torch.device, optional
        Where it trains (`explorer.core.device.resolve_device`; default the CPU); recorded as
        ``"device"`` in both files. The checkpoint holds CPU tensors whatever the device.

    Returns
    -------
    dict
        The provenance: ``checkpoint``, ``command``, ``seed``, ``epochs``, ``batch_size``,
        ``wall_time_s`` (training, seconds), ``device``, ``torch_threads``, ``train_data``, ``n_train``,
        ``train_accuracy`` (last epoch's running mean, fraction), ``test_accuracy`` (fraction in
        [0, 1], None without ``test``), ``n_test``, ``test_data``, ``image_shape``, ``n_classes``,
        ``num_features``, ``class_names``, ``parameters``, ``file_bytes``.

    Raises
    ------
    ValueError
        One sentence when a dataset has no labels, or the test images differ in shape.
    explorer.core.jobs.Cancelled
        When ``ctx`` was cancelled (nothing written).
    """
    import torch

    from explorer.core.export import write_json
    from models.checkpoint import save_checkpoint
    from models.classifier import accuracy
    from models.layers import count_parameters
    from models.train_classifier import make_classifier_trainer

    if train.labels is None:
        raise ValueError(f"dataset '{train.name}' has no labels; a classifier is trained on labelled images.")
    if test is not None and (test.labels is None or test.image_shape != train.image_shape):
        raise ValueError(
            f"test set '{test.name}' must be labelled images of shape {train.image_shape}, "
            f"got shape {test.image_shape}{' without labels' if test.labels is None else ''}.")
    trainer = make_classifier_trainer(torch.from_numpy(np.ascontiguousarray(train.images)), train.labels,
                                      class_names=train.class_names, batch_size=batch_size, seed=seed,
                                      device=device)
    t0 = time.perf_counter()
    for m in trainer.run(epochs, should_stop=(lambda: ctx.cancelled) if ctx else None):
        if ctx is not None:
            ctx.progress(m["step"] / m["total_steps"],
                         f"classifier epoch {m['epoch'] + 1}/{epochs}: loss {m['loss']:.3f}")
    if ctx is not None:
        ctx.check()
    wall = time.perf_counter() - t0
    model = trainer.model
    test_acc = None if test is None else accuracy(model, test.images, test.labels)
    out = Path(out)
    split = lambda d: f"{d.name} {d.split or 'all'} split" if d is not None else None  # noqa: E731
    extra = {"wall_time_s": round(wall, 1), "n_train": len(train), "split": train.split or "all",
             "test_accuracy": test_acc, "n_test": None if test is None else len(test),
             "torch_threads": torch_threads, "device": str(trainer.device)}
    save_checkpoint(out, model, dataset=train.name, seed=seed, history=trainer.history, command=command,
                    extra=extra)
    provenance = {
        "checkpoint": out.name, "command": command, "seed": int(seed), "epochs": int(epochs),
        "batch_size": int(batch_size), "wall_time_s": round(wall, 1), "device": str(trainer.device),
        "torch_threads": torch_threads,
        "train_data": split(train), "n_train": len(train),
        "train_accuracy": trainer.history.get("accuracy", [None])[-1],
        "test_accuracy": test_acc, "test_accuracy_note": "fraction of test images whose arg-max logit is the label",
        "n_test": None if test is None else len(test), "test_data": split(test),
        "image_shape": list(model.image_shape), "n_classes": model.n_classes, "num_features": model.num_features,
        "class_names": model.class_names, "parameters": count_parameters(model),
        "file_bytes": out.stat().st_size,
    }
    write_json(provenance_path(out), provenance)
    return provenance
