"""`latent-explorer evaluate --metrics likelihood`: the record, its units, and bad input as one sentence."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from explorer.cli import main
from explorer.core.likelihood import KDE_WARNING, LikelihoodSettings, estimate_likelihood
from explorer.data import load_dataset
from models.checkpoint import save_checkpoint
from models.loading import load_any
from tests.models.conftest import tiny_model

ISSUE_KEYS = {"estimator", "n_images", "nll_nats", "nll_nats_ci95", "bits_per_dim", "elbo_nats",
              "observation_model", "data_convention"}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: these small decoder calls are slower with more on a shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lik")
    out = {}
    for kind in ("vae", "gan"):
        out[kind] = folder / f"{kind}.pt"
        save_checkpoint(out[kind], tiny_model(kind, image_shape=(1, 8, 8)), dataset="digits", seed=0)
    broken = tiny_model("vae", image_shape=(1, 8, 8))
    with torch.no_grad():
        # finite weights (a checkpoint with NaN weights is refused on loading) whose output overflows
        broken.decoder[0].weight.fill_(3e38)
    out["nan"] = folder / "nan.pt"
    save_checkpoint(out["nan"], broken, dataset="digits", seed=0)
    return out


def _evaluate(ckpt, tmp_path, *extra):
    out = tmp_path / "out.json"
    status = main(["evaluate", str(ckpt), "--data", "digits", "--limit", "60", "--metrics", "likelihood",
                   "--json", str(out), *extra])
    return status, out


def test_iwae_record_matches_the_core_function(checkpoints, tmp_path, capsys):
    status, out = _evaluate(checkpoints["vae"], tmp_path, "--iwae-k", "1", "10", "--n-images", "5", "--binarize",
                            "--seed", "2")
    assert status == 0
    rec = json.loads(out.read_text())["models"][0]["likelihood"]
    assert ISSUE_KEYS <= set(rec) and rec["estimator"] == "iwae" and rec["k"] == 10 and rec["n_images"] == 5
    assert "lower is better" in rec["units"]
    model, _ = load_any(checkpoints["vae"])
    ds = load_dataset("digits", limit=60, seed=2)
    ref = estimate_likelihood(model, ds, LikelihoodSettings(iwae_k=(1, 10), n_images=5, binarize=True, seed=2))
    assert rec["nll_nats"] == pytest.approx(float(ref.nll_nats.mean()), rel=1e-12)
    assert rec["bits_per_dim"] == pytest.approx(rec["nll_nats"] / (64 * np.log(2)), rel=1e-12)
    line = capsys.readouterr().out
    assert "likelihood IWAE k=10 on 5 images: NLL" in line and "nats/image" in line and "bits/dim" in line


def test_ais_on_a_gan_reports_sigma_and_the_bdmc_gap(checkpoints, tmp_path):
    status, out = _evaluate(checkpoints["gan"], tmp_path, "--estimator", "ais", "--ais-steps", "4",
                            "--ais-chains", "2", "--sigma", "0.2", "--n-images", "2")
    assert status == 0
    rec = json.loads(out.read_text())["models"][0]["likelihood"]
    assert ISSUE_KEYS <= set(rec) and rec["ais_steps"] == 4 and rec["sigma"] == 0.2
    assert np.isfinite(rec["bdmc_gap_nats"]) and "σ = 0.2" in rec["observation_model"]
    assert "upper bound" in rec["data_convention"]


def test_kde_carries_the_warning(checkpoints, tmp_path):
    status, out = _evaluate(checkpoints["gan"], tmp_path, "--estimator", "kde", "--n-images", "10")
    assert status == 0
    assert json.loads(out.read_text())["models"][0]["likelihood"]["warning"] == KDE_WARNING


def test_gan_asked_for_iwae_is_one_sentence_pointing_to_ais(checkpoints, tmp_path, capsys):
    status, out = _evaluate(checkpoints["gan"], tmp_path, "--n-images", "2")
    err = capsys.readouterr().err.strip()
    assert status == 2 and not out.exists()
    last = err.splitlines()[-1]  # the lines before are the dataset's notes
    assert last.startswith("latent-explorer: error: gan.pt is a GAN generator") and "--estimator ais" in last
    assert "Traceback" not in err and last.count(". ") == 0


def test_non_finite_decoder_is_one_sentence_and_no_json(checkpoints, tmp_path, capsys):
    status, out = _evaluate(checkpoints["nan"], tmp_path, "--estimator", "ais", "--sigma", "0.1", "--ais-steps", "2",
                            "--n-images", "2")
    err = capsys.readouterr().err.strip()
    assert status == 2 and not out.exists()
    last = err.splitlines()[-1]
    assert last.startswith("latent-explorer: error: nan.pt") and "non-finite" in last and "Traceback" not in err


def test_bad_settings_are_one_sentence(checkpoints, tmp_path, capsys):
    status, _ = _evaluate(checkpoints["gan"], tmp_path, "--estimator", "ais", "--sigma", "-1")
    err = capsys.readouterr().err
    assert status == 2 and "sigma must be a positive number" in err
