"""`latent-explorer session create`, `info S.lxs` and `render embedding`: sessions headless."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from explorer.cli import main
from explorer.core.session.files import read_session, results_path
from models.checkpoint import save_checkpoint
from models.vae import VAE


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(1)
    labels = np.arange(120) % 4
    images = (0.15 * rng.random((120, 28, 28)) + 0.2 * labels[:, None, None]).astype(np.float32)
    data = tmp_path / "toy.npz"
    np.savez(data, images=images, labels=labels)
    torch.manual_seed(0)
    vae = save_checkpoint(tmp_path / "vae.pt", VAE(6, (1, 28, 28), hidden=16).eval(), dataset="toy", seed=0)
    return data, vae


def test_session_create_writes_what_it_names(tmp_path, files, capsys):
    from sklearn.cluster import KMeans
    from sklearn.metrics import v_measure_score

    data, vae = files
    out = tmp_path / "s.lxs"
    assert main(["session", "create", str(vae), "--data", str(data), "--colour", "cluster", "--k", "4",
                 "--seed", "3", "--with-results", "--out", str(out)]) == 0
    doc = read_session(out).doc
    assert doc["colouring"] == {"mode": "cluster", "dim": 0}
    assert doc["models"][0]["clustering"] == {"space": "latent", "k": 4, "seed": 3}
    assert doc["models"][0]["projection"]["method"] == "pca"
    with np.load(results_path(out), allow_pickle=False) as z:
        codes, clusters = z["m0_z"], z["m0_clusters"]
    assert codes.shape == (120, 6)
    from explorer.core.clustering import DEFAULT_N_INIT

    ref = KMeans(n_clusters=4, random_state=3, n_init=DEFAULT_N_INIT).fit_predict(codes)
    assert v_measure_score(ref, clusters) == pytest.approx(1.0)  # the same partition as scikit-learn's


def test_info_of_a_session_names_models_hashes_and_state(tmp_path, files, capsys):
    data, vae = files
    out = tmp_path / "s.lxs"
    assert main(["session", "create", str(vae), "--data", str(data), "--colour", "dim:2", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "vae.pt" in text and "file matches" in text and "colouring   dimension 2" in text
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["models"][0]["file"] == "matches" and info["selection_size"] == 0
    vae.write_bytes(vae.read_bytes()[:-10] + b"0123456789")  # the model file changed
    assert main(["info", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["models"][0]["file"] == "changed"


def test_bad_colour_and_broken_session_get_one_sentence(tmp_path, files, capsys):
    data, vae = files
    with pytest.raises(SystemExit):
        main(["session", "create", str(vae), "--data", str(data), "--colour", "rainbow", "--out", "x.lxs"])
    assert "--colour must be" in capsys.readouterr().err
    assert main(["session", "create", str(vae), "--data", str(data), "--colour", "dim:9",
                 "--out", str(tmp_path / "x.lxs")]) == 2
    err = capsys.readouterr().err
    assert "dim:9" in err and "d = 6" in err and not (tmp_path / "x.lxs").exists()
    broken = tmp_path / "cut.lxs"
    broken.write_text('{"format": "latent-explorer-session", "version": 1, "mod')
    for argv in (["info", str(broken)], ["render", "embedding", str(broken), "--out", str(tmp_path / "f.png")]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert "cut.lxs" in err and "not valid JSON" in err and "Traceback" not in err and "\n" not in err
    assert not (tmp_path / "f.png").exists()


def test_render_embedding_in_a_fresh_process_draws_the_saved_view(tmp_path, files):
    """`render embedding` of a session made elsewhere: the PNG of the same session in this process is the same."""
    from explorer.cli.session import _restored
    from explorer.gui.figure import render_figure

    data, vae = files
    out = tmp_path / "s.lxs"
    assert main(["session", "create", str(vae), "--data", str(data), "--colour", "label", "--out", str(out)]) == 0
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-m", "explorer", "render", "embedding", str(out), "--out",
                           str(tmp_path / "cli.png"), "--scale", "2"], capture_output=True, text=True, env=env,
                          timeout=240)
    assert proc.returncode == 0, proc.stderr
    s = _restored(out)
    render_figure(s, tmp_path / "here.png", scale=2)
    from PIL import Image

    a = np.asarray(Image.open(tmp_path / "cli.png").convert("RGB"))
    b = np.asarray(Image.open(tmp_path / "here.png").convert("RGB"))
    assert a.shape == (1360, 1800, 3)  # the fixed figure size at scale 2
    assert np.array_equal(a, b)
    # a journal column: 85 mm at 300 dpi, and the dpi in the file
    assert main(["render", "embedding", str(out), "--out", str(tmp_path / "col.png"), "--width-mm", "85",
                 "--dpi", "300"]) == 0
    with Image.open(tmp_path / "col.png") as im:
        assert abs(im.size[0] - round(85 / 25.4 * 300)) <= 1 and round(im.info["dpi"][0]) == 300


@pytest.mark.parametrize("argv, message", [
    (["--k", "500"], "--k 500: the dataset has 120 images"),
    (["--limit", "1"], "at least 2 are needed"),
])
def test_session_create_bad_values_get_one_sentence(tmp_path, files, capsys, argv, message):
    data, vae = files
    out = tmp_path / "x.lxs"
    assert main(["session", "create", str(vae), "--data", str(data), *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert message in err and "Traceback" not in err and not out.exists()


@pytest.mark.parametrize("argv, message", [(["--scale", "inf"], "--scale: inf is not a finite number"),
                                           (["--width-mm", "nan"], "--width-mm: nan is not a finite number"),
                                           (["--dpi", "0"], "--dpi: 0 must be at least 10"),
                                           (["--out-ext", ".jpg"], "use a .png, .svg or .pdf")])
def test_render_embedding_checks_its_arguments_before_opening_anything(tmp_path, files, capsys, argv, message):
    data, vae = files
    out = tmp_path / "s.lxs"
    assert main(["session", "create", str(vae), "--data", str(data), "--out", str(out)]) == 0
    capsys.readouterr()
    fig = tmp_path / ("fig" + (argv[1] if argv[0] == "--out-ext" else ".png"))
    extra = [] if argv[0] == "--out-ext" else argv
    if extra:  # an argparse type refuses it: SystemExit(2) before anything is opened
        with pytest.raises(SystemExit, match="2"):
            main(["render", "embedding", str(out), "--out", str(fig), *extra])
    else:
        assert main(["render", "embedding", str(out), "--out", str(fig), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Encoding" not in err and not fig.exists()
