"""`latent-explorer evaluate --metrics disentanglement` and `train --objective beta_tcvae`: keys, errors, settings."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from explorer.cli import main
from explorer.core.disentanglement import DisentanglementSettings, evaluate_disentanglement
from explorer.core.evaluate import METRICS, evaluate_models
from explorer.data import Dataset, render_dsprites
from models.checkpoint import load_checkpoint, save_checkpoint
from models.vae import VAE

KEYS = {"beta_vae", "factor_vae", "mig", "sap", "dci", "modularity", "explicitness", "settings", "n_train",
        "n_test", "sklearn_version"}
TINY = DisentanglementSettings(name="custom", n_train=120, n_test=60, beta_vae_train=30, beta_vae_test=20,
                               factor_vae_train=30, factor_vae_test=20, factor_vae_variance=200, batch_size=8,
                               dci_classifier="gbt")


@pytest.fixture(scope="module")
def dsprites_vae(tmp_path_factory):
    torch.manual_seed(0)
    model = VAE(3, (1, 64, 64), channels=[4, 4, 4, 4], hidden=8).eval()
    return save_checkpoint(tmp_path_factory.mktemp("m") / "v.pt", model, dataset="dsprites", seed=0)


def test_evaluate_models_adds_the_record_of_the_one_orchestration(dsprites_vae, monkeypatch):
    import explorer.core.disentanglement as dis

    assert "disentanglement" in METRICS
    # a complete factor grid of rendered sprites (3 shapes × 2 scales × 2 × 2 positions): indexed, few classes
    grid = np.stack(np.meshgrid([1, 2, 3], [0.5, 1.0], [0.0], [0.2, 0.8], [0.3, 0.7], indexing="ij"),
                    axis=-1).reshape(-1, 5)
    ds = Dataset(images=render_dsprites(grid), factors=grid, factor_names=("shape", "scale", "orientation",
                                                                          "pos_x", "pos_y"), name="grid")
    calls = []

    def spy(*args, **kwargs):
        calls.append(evaluate_disentanglement(*args, **kwargs))
        return calls[-1]

    monkeypatch.setattr(dis, "evaluate_disentanglement", spy)
    out = evaluate_models([dsprites_vae], ds, metrics=["disentanglement"], seed=0, disentanglement=TINY)
    rec = out["models"][0]["disentanglement"]
    assert len(calls) == 1 and rec == calls[0].record
    assert set(rec) == KEYS and set(rec["dci"]) == {"disentanglement", "completeness", "informativeness"}
    assert rec["settings"]["name"] == "custom" and rec["settings"]["representation"] == "encoder mean"
    assert rec["settings"]["factor_source"] == "grid" and rec["n_train"] == 120 and rec["n_test"] == 60
    for k in ("beta_vae", "factor_vae", "mig", "sap", "modularity", "explicitness"):
        assert 0.0 <= rec[k] <= 1.0
    result = calls[0]
    assert result.mutual_information.shape == (5, 3) and result.dci_importance.shape == (3, 5)
    np.testing.assert_array_equal(result.carriers, np.argmax(result.mutual_information, axis=1))
    json.dumps(result.to_dict())


def test_cli_refuses_data_without_factors_in_one_sentence(dsprites_vae, capsys):
    code = main(["evaluate", str(dsprites_vae), "--data", "digits", "--metrics", "disentanglement",
                 "--settings", "fast"])
    err = capsys.readouterr().err
    assert code == 2 and "needs data with ground-truth factors" in err and "Traceback" not in err


def test_cli_train_beta_tcvae_records_the_objective(tmp_path):
    out = tmp_path / "t.pt"
    code = main(["train", "vae", "--data", "dsprites", "--limit", "40", "--latent-dim", "2", "--objective",
                 "beta_tcvae", "--beta", "6", "--epochs", "1", "--batch-size", "20", "--threads", "1",
                 "--out", str(out)])
    assert code == 0
    ckpt = load_checkpoint(out)
    assert ckpt.config["objective"] == "beta_tcvae" and ckpt.config["beta"] == 6.0
    assert set(ckpt.history) == {"loss", "recon", "kl", "tc"} and np.isfinite(ckpt.history["tc"][0])
    assert main(["train", "dcgan", "--data", "dsprites", "--limit", "8", "--latent-dim", "2", "--objective",
                 "beta_tcvae", "--epochs", "1", "--out", str(tmp_path / "g.pt")]) == 2
