"""KL warm-up of VAE training (Bowman et al. 2016; Sønderby et al. 2016): the per-step β schedule and its off switch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.cli import main
from models.loading import load_any
from models.train import VAETrainer, kl_warmup_beta, make_trainer

from .conftest import synthetic_images

SMALL = {"channels": [8, 16], "hidden": 32}


def _vae(images, **kw):
    return make_trainer("vae", images, 4, batch_size=32, seed=0, **SMALL, **kw)


def test_schedule_function_is_the_closed_form():
    steps = np.arange(0, 30)
    got = kl_warmup_beta(steps, 4.0, 12)
    want = np.array([4.0 * min(1.0, s / 12) for s in range(30)])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-15)
    assert got[0] == 0.0 and got[6] == 2.0 and got[12] == got[29] == 4.0
    assert kl_warmup_beta(5, 4.0, 12) == pytest.approx(5 / 3, abs=1e-15)
    assert kl_warmup_beta(5, 4.0, 0) == 4.0  # no warm-up


def test_per_step_beta_and_loss_follow_the_schedule():
    images = synthetic_images(96)  # 3 steps per epoch at batch 32
    trainer = _vae(images, beta=2.0, kl_warmup_epochs=2)
    assert trainer.kl_warmup_steps == 6
    steps = list(trainer.run(4))
    assert len(steps) == 12
    for s in steps:  # "step" is 1-based: the step's 0-based index is step - 1
        want = 2.0 * min(1.0, (s["step"] - 1) / 6)
        assert s["beta"] == pytest.approx(want, abs=1e-15)
        assert s["loss"] == pytest.approx(s["recon"] + want * s["kl"], rel=1e-5)
    assert [s["beta"] for s in steps[:7]] == pytest.approx([0, 1 / 3, 2 / 3, 1, 4 / 3, 5 / 3, 2], abs=1e-15)
    per_epoch = [np.mean([2.0 * min(1.0, s / 6) for s in range(3 * e, 3 * e + 3)]) for e in range(4)]
    assert trainer.history["beta"] == pytest.approx(per_epoch, abs=1e-12)  # [1/3, 5/3, 2, 2]
    assert trainer.model.beta == 2.0  # the model keeps its β


class _TodaysVAETrainer(VAETrainer):
    """`VAETrainer._step` as it was before the warm-up option (beta_vae objective), written out in the test."""

    def _step(self, x):
        self.optimiser.zero_grad(set_to_none=True)
        out = self.model.loss(x)
        out["loss"].backward()
        self.optimiser.step()
        return {k: float(v.detach()) for k, v in out.items()}


def test_zero_warmup_is_bit_identical_to_training_without_it():
    images = synthetic_images(96)
    plain, zero = _vae(images, beta=2.0), _vae(images, beta=2.0, kl_warmup_epochs=0)
    today = _vae(images, beta=2.0)
    today.__class__ = _TodaysVAETrainer
    runs = [list(t.run(2)) for t in (plain, zero, today)]
    assert all("beta" not in s for r in runs for s in r)
    ref = today.model.state_dict()
    for t in (plain, zero):
        assert all(torch.equal(v, ref[k]) for k, v in t.model.state_dict().items())
        assert t.history == today.history
    warmed = _vae(images, beta=2.0, kl_warmup_epochs=1)
    list(warmed.run(2))
    assert not all(torch.equal(v, ref[k]) for k, v in warmed.model.state_dict().items())


@pytest.mark.parametrize("bad", [-1, 1.5])
def test_bad_warmup_is_refused(bad):
    with pytest.raises(ValueError, match="kl_warmup_epochs must be a whole number"):
        _vae(synthetic_images(64), kl_warmup_epochs=bad)


def test_warmup_refused_for_tcvae_and_gan():
    images = synthetic_images(64)
    with pytest.raises(ValueError, match="beta_vae objective only"):
        _vae(images, objective="beta_tcvae", kl_warmup_epochs=1)
    with pytest.raises(ValueError, match="VAE only"):
        make_trainer("gan", images, 4, g_width=8, d_width=8, kl_warmup_epochs=1)


def test_cli_records_the_warmup_and_refuses_bad_values(tmp_path, capsys):
    out = tmp_path / "vae.pt"
    common = ["--data", "digits", "--limit", "256", "--latent-dim", "2", "--batch-size", "64", "--seed", "1"]
    assert main(["train", "vae", *common, "--epochs", "2", "--kl-warmup", "1", "--out", str(out)]) == 0
    _, info = load_any(out)
    assert info["extra"]["kl_warmup_epochs"] == 1 and info["extra"]["kl_warmup_steps"] == 4
    assert "--kl-warmup 1" in info["command"] and info["history_final"]["beta"] == 1.0
    capsys.readouterr()
    bad = tmp_path / "bad.pt"
    for args, words in ((["vae", "--epochs", "2", "--kl-warmup", "3"], "--kl-warmup 3 is more than --epochs 2"),
                        (["dcgan", "--epochs", "1", "--kl-warmup", "1"], "--kl-warmup applies to the VAE"),
                        (["vae", "--epochs", "1", "--objective", "beta_tcvae", "--kl-warmup", "1"],
                         "not to the beta_tcvae objective")):
        assert main(["train", args[0], *common, *args[1:], "--out", str(bad)]) == 2
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err and err.strip().count("\n") <= 2
    assert not bad.exists()
