"""``--resize``: the filter fitting dataset images to a model's input is chosen, recorded and named."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from explorer.cli import main
from explorer.core.codes import encode_images
from explorer.data import fit_to_model, load_dataset
from models.checkpoint import save_checkpoint
from models.vae import VAE

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("method, label", [("bilinear", "bilinear, antialiased like torchvision"),
                                           ("nearest", "nearest neighbour")])
def test_evaluate_resizes_with_the_filter_asked_for_and_says_so(tmp_path, capsys, method, label):
    torch.manual_seed(0)
    model = VAE(2, (1, 16, 16), hidden=8, channels=[4, 4]).eval()  # digits are 8×8: resized to 16×16
    ckpt = save_checkpoint(tmp_path / "m.pt", model, dataset="digits", seed=0)
    out = tmp_path / "e.json"
    args = ["evaluate", str(ckpt), "--data", "digits", "--limit", "60", "--k", "3", "--json", str(out)]
    assert main(args + ([] if method == "bilinear" else ["--resize", method])) == 0
    err = capsys.readouterr().err
    assert f"Images resized from 8×8 to 16×16 ({label})" in err
    rec = json.loads(out.read_text())
    assert rec["dataset"]["resize"] == method
    # the clustering is of the codes of the images resized with that filter
    ds = load_dataset("digits", limit=60, seed=0)
    z = encode_images(model, fit_to_model(ds, (1, 16, 16), resize=method).images)
    from explorer.core.clustering import evaluate_clustering

    expected = evaluate_clustering(z, None, ds.labels, 3, space="latent", seed=0)
    assert rec["models"][0]["clustering"]["v_measure"] == pytest.approx(expected["v_measure"], abs=1e-12)
    other = fit_to_model(ds, (1, 16, 16), resize="lanczos").images
    assert not np.allclose(other, fit_to_model(ds, (1, 16, 16), resize=method).images)


def test_session_records_the_resize_filter_and_restores_it(tmp_path, capsys):
    from explorer.core.session import Session
    from explorer.core.session.files import read_session, restore_session

    torch.manual_seed(0)
    model = VAE(2, (1, 16, 16), hidden=8, channels=[4, 4]).eval()
    ckpt = save_checkpoint(tmp_path / "m.pt", model, dataset="digits", seed=0)
    out = tmp_path / "s.lxs"
    assert main(["session", "create", str(ckpt), "--data", "digits", "--limit", "40", "--resize", "bicubic",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    doc = json.loads(out.read_text())
    assert doc["dataset"]["resize"] == "bicubic"
    s = Session(use_workers=False)
    s.run_all(restore_session(s, read_session(out)))
    assert s.dataset.resize == "bicubic" and s.dataset_spec.resize == "bicubic"
    assert s.dataset_id == doc["dataset"]["identity"] and not s.notes
    expected = encode_images(model, fit_to_model(s.dataset, (1, 16, 16), resize="bicubic").images)
    np.testing.assert_allclose(s.models[0].codes.z, expected, atol=1e-6)
    s.close()
