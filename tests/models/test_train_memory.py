"""Training that does not fit in a device's memory stops with one sentence; its batch size is never changed."""

from __future__ import annotations

import contextlib

import pytest
import torch

from models import train
from models.train import TrainingOutOfMemory, make_trainer

from .conftest import synthetic_images

SMALL = {"channels": [8, 16], "hidden": 32}


def _on_a_small_gpu(monkeypatch, trainer, limit):
    """The trainer as if on cuda:0 whose memory holds steps of at most ``limit`` images (the tensors stay here)."""
    trainer.device = torch.device("cuda:0")
    monkeypatch.setattr(train, "_seeded_step", lambda seed, device=None: contextlib.nullcontext())
    monkeypatch.setattr(train, "_empty_device_cache", lambda device: None)
    real_step, sizes = trainer._step, []

    def step(x):
        if len(x) > limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 3.00 GiB")
        sizes.append(len(x))
        return real_step(x)

    monkeypatch.setattr(trainer, "_step", step)
    monkeypatch.setattr(trainer, "_batch", lambda idx: trainer.images[idx])
    return sizes


def test_a_first_step_that_does_not_fit_is_one_sentence_and_keeps_the_batch_size(monkeypatch):
    trainer = make_trainer("vae", synthetic_images(96), 4, batch_size=32, seed=0, **SMALL)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    sizes = _on_a_small_gpu(monkeypatch, trainer, limit=16)
    with pytest.raises(TrainingOutOfMemory) as info:
        list(trainer.run(1))
    text = str(info.value)
    assert text == ("training step 1 with --batch-size 32 does not fit in the memory of cuda:0; choose a smaller "
                    "--batch-size (it is a setting of the training, so it is not changed for you), a smaller model, "
                    "or --device cpu")
    assert (info.value.device.type, info.value.batch_size, info.value.step) == ("cuda", 32, 1)
    assert sizes == [] and trainer.batch_size == 32 and trainer.step == 0 and not trainer.model.training
    assert all(torch.equal(before[k], v) for k, v in trainer.model.state_dict().items())  # nothing trained


def test_a_batch_that_fits_trains_at_the_users_size(monkeypatch):
    trainer = make_trainer("vae", synthetic_images(96), 4, batch_size=32, seed=0, **SMALL)
    sizes = _on_a_small_gpu(monkeypatch, trainer, limit=32)
    assert len(list(trainer.run(1))) == 3 and sizes == [32, 32, 32]


def test_other_errors_are_not_worded_as_memory(monkeypatch):
    trainer = make_trainer("vae", synthetic_images(64), 4, batch_size=32, seed=0, **SMALL)

    def broken(x):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    monkeypatch.setattr(trainer, "_step", broken)
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        list(trainer.run(1))


def test_the_cli_says_it_in_one_sentence_and_writes_nothing(tmp_path, capsys, monkeypatch):
    from explorer.cli import main

    def out_of_memory(self, x):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory.")

    monkeypatch.setattr(train.VAETrainer, "_step", out_of_memory)
    out = tmp_path / "m.pt"
    assert main(["train", "vae", "--data", "digits", "--limit", "48", "--latent-dim", "2", "--epochs", "1",
                 "--batch-size", "16", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("latent-explorer: error: training step 1 with --batch-size 16 does not fit in the memory "
                          "of cpu;") and err.endswith(f"nothing was written to '{out}'.")
    assert "Traceback" not in err and not out.exists()


def test_weights_that_do_not_fit_are_one_sentence(monkeypatch):
    from models.vae import VAE

    model = VAE(4, (1, 28, 28), **SMALL)

    def to(device):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory.")

    monkeypatch.setattr(model, "to", to)
    monkeypatch.setattr(train, "_empty_device_cache", lambda device: None)
    with pytest.raises(TrainingOutOfMemory, match=r"^the model's weights do not fit in the memory of cuda:1; "
                                                  r"choose a smaller model or --device cpu$"):
        train.VAETrainer(model, synthetic_images(8), batch_size=4, lr=1e-3, device="cuda:1")
