"""Training loops: one-epoch smoke tests, determinism, cancellation, and a VAE that learns."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.checkpoint import load_checkpoint, save_checkpoint
from models.train import VAETrainer, make_trainer

from .conftest import synthetic_images

METRICS = {"vae": {"loss", "recon", "kl"}, "gan": {"loss_d", "loss_g", "d_real", "d_fake"}}
METRICS["ali"] = METRICS["gan"]
SMALL = {
    "vae": {"channels": [8, 16], "hidden": 32},
    "gan": {"g_width": 8, "d_width": 8},
    "ali": {"g_width": 8, "e_width": 8, "d_width": 8, "d_features": 32},
}


def _trainer(kind, images, seed=0, **kw):
    return make_trainer(kind, images, 4, batch_size=32, seed=seed, **SMALL[kind], **kw)


def test_one_epoch_smoke(kind, tmp_path):
    images = synthetic_images(300)
    trainer = make_trainer(kind, images, 8, batch_size=64, seed=0)  # default-sized model
    steps = list(trainer.run(1))
    assert len(steps) == 300 // 64 == trainer.steps_per_epoch
    assert [s["step"] for s in steps] == list(range(1, 5))
    assert all(s["epoch"] == 0 and s["total_steps"] == 4 for s in steps)
    assert set(steps[-1]) == {"step", "epoch", "total_steps", "steps_per_epoch"} | METRICS[kind]
    assert all(np.isfinite(s[k]) for s in steps for k in METRICS[kind])
    assert set(trainer.history) == METRICS[kind] and all(len(v) == 1 for v in trainer.history.values())
    assert trainer.history[sorted(METRICS[kind])[0]][0] == pytest.approx(
        np.mean([s[sorted(METRICS[kind])[0]] for s in steps])
    )
    assert not trainer.model.training
    path = save_checkpoint(
        tmp_path / "m.pt", trainer.model, dataset="synthetic", seed=0, history=trainer.history
    )
    assert load_checkpoint(path).history == trainer.history


def test_same_seed_gives_bit_identical_weights(kind):
    images = synthetic_images(96)
    a, b = _trainer(kind, images), _trainer(kind, images)
    for t in (a, b):
        for _ in t.run(2):
            pass
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert a.history == b.history
    c = _trainer(kind, images, seed=1)
    list(c.run(2))
    assert not all(torch.equal(sa[k], c.model.state_dict()[k]) for k in sa)


def test_split_runs_equal_one_run_and_leave_global_state_alone():
    images = synthetic_images(96)
    a, b = _trainer("ali", images), _trainer("ali", images)
    torch.manual_seed(5)
    expected = torch.rand(2)
    torch.manual_seed(5)
    list(a.run(2))
    assert torch.equal(torch.rand(2), expected)  # caller's RNG untouched
    assert not torch.are_deterministic_algorithms_enabled()  # flag restored
    list(b.run(1))
    list(b.run(1))
    assert (a.step, a.epoch) == (b.step, b.epoch) == (6, 2)
    assert all(torch.equal(v, b.model.state_dict()[k]) for k, v in a.model.state_dict().items())


def test_cancel_by_should_stop_and_by_breaking():
    images = synthetic_images(160)
    trainer = _trainer("vae", images)
    done = []
    for m in trainer.run(3, should_stop=lambda: len(done) >= 7):
        done.append(m)
    assert len(done) == 7 and trainer.step == 7 and trainer.epoch == 1
    assert len(trainer.history["loss"]) == 1  # the unfinished second epoch adds nothing
    for m in trainer.run(5):
        if m["step"] == 9:
            break
    assert trainer.step == 9 and not trainer.model.training


def test_vae_learns_on_structured_data():
    trainer = make_trainer(
        "vae", synthetic_images(256), 4, batch_size=32, lr=3e-3, seed=0, channels=[8, 16], hidden=32
    )
    list(trainer.run(4))
    loss = trainer.history["loss"]
    assert loss[-1] < 0.9 * loss[0]
    elbo = trainer.model.elbo(synthetic_images(64, seed=9), generator=torch.Generator().manual_seed(0))
    assert float(elbo.mean()) > -loss[0]


def test_images_validated_and_uint8_accepted():
    u8 = (synthetic_images(40) * 255).to(torch.uint8).numpy()
    trainer = make_trainer("vae", u8, 2, batch_size=16, channels=[4, 4], hidden=8)
    assert trainer.images.dtype == torch.float32 and float(trainer.images.max()) <= 1.0
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        make_trainer("vae", synthetic_images(8) * 2, 2)
    with pytest.raises(ValueError, match="unknown model kind"):
        make_trainer("flow", synthetic_images(8), 2)
    with pytest.raises(ValueError, match="trains 'vae' models"):
        VAETrainer(
            make_trainer("gan", synthetic_images(8), 2).model, synthetic_images(8), batch_size=4, lr=1e-3
        )
