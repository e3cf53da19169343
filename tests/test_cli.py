"""The `latent-explorer` command line: train, info, evaluate, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, homogeneity_completeness_v_measure, normalized_mutual_info_score

from explorer.cli import main
from explorer.core.clustering import cluster_codes
from explorer.core.codes import encode_images
from explorer.data import fit_to_model, load_dataset
from models.loading import load_any


@pytest.fixture(scope="module")
def trained_vae(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "vae.pt"
    status = main(["train", "vae", "--data", "digits", "--limit", "300", "--latent-dim", "4",
                   "--epochs", "1", "--seed", "3", "--out", str(out)])
    assert status == 0
    return out


def test_train_writes_a_checkpoint_that_records_its_command(trained_vae):
    model, info = load_any(trained_vae)
    assert info["kind"] == "vae" and info["latent_dim"] == 4
    assert info["image_shape"] == [1, 8, 8]
    assert info["seed"] == 3 and info["epochs"] == 1
    assert info["dataset"] == "digits"
    assert "train vae" in info["command"] and "--latent-dim 4" in info["command"]
    assert np.isfinite(info["history_final"]["loss"])


def test_info_prints_json(trained_vae, capsys):
    assert main(["info", str(trained_vae), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "vae" and info["latent_dim"] == 4 and info["source"] == "checkpoint"


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04broken zip"])
def test_info_on_bad_file_is_one_sentence_and_nonzero(tmp_path, capsys, content):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(content)
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("latent-explorer: error: ") and "bad.pt" in err
    assert "\n" not in err and "Traceback" not in err


def test_missing_dataset_is_one_sentence(tmp_path, capsys):
    status = main(["train", "vae", "--data", str(tmp_path / "nowhere"), "--latent-dim", "2",
                   "--epochs", "1", "--out", str(tmp_path / "x.pt")])
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert "nowhere" in err and "\n" not in err
    assert not (tmp_path / "x.pt").exists()


def test_evaluate_clustering_matches_sklearn(trained_vae, tmp_path):
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(trained_vae), "--data", "digits", "--limit", "300", "--seed", "3",
                 "--metrics", "clustering", "--k", "10", "--space", "latent", "--json", str(out)]) == 0
    rec = json.loads(out.read_text())["models"][0]
    c = rec["clustering"]
    assert rec["checkpoint"] == str(trained_vae)
    assert set(c) >= {"space", "k", "homogeneity", "completeness", "v_measure", "ari", "nmi"}
    assert c["space"] == "latent" and c["k"] == 10
    # the same codes and k-means, scored by scikit-learn directly
    model, _ = load_any(trained_vae)
    ds = load_dataset("digits", limit=300, seed=3)
    z = encode_images(model, fit_to_model(ds, model.image_shape).images)
    pred = cluster_codes(z, 10, seed=3)
    h, comp, v = homogeneity_completeness_v_measure(ds.labels, pred)
    assert c["homogeneity"] == pytest.approx(h, abs=1e-12)
    assert c["completeness"] == pytest.approx(comp, abs=1e-12)
    assert c["v_measure"] == pytest.approx(v, abs=1e-12)
    assert c["ari"] == pytest.approx(adjusted_rand_score(ds.labels, pred), abs=1e-12)
    assert c["nmi"] == pytest.approx(normalized_mutual_info_score(ds.labels, pred), abs=1e-12)


def test_evaluate_embedding_space_is_stated(trained_vae, tmp_path):
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(trained_vae), "--data", "digits", "--limit", "200", "--space", "embedding",
                 "--json", str(out)]) == 0
    c = json.loads(out.read_text())["models"][0]["clustering"]
    assert c["space"] == "embedding" and c["projection"] == "pca" and c["k"] == 10
