"""`render traversal --directions ganspace|sefa|attribute`: the sliders panel's directions and pixels, headless."""

from __future__ import annotations

import numpy as np
import pytest

import resources
from explorer.cli import main
from explorer.core.codes import encode_images
from explorer.core.latent.directions import sefa_directions
from explorer.core.latent.sliders import save_traversal
from explorer.core.session import Session
from explorer.core.session.directions import compute_directions
from explorer.data import fit_to_model, load_dataset
from models.loading import load_any

VAE_FASHION = resources.path("checkpoints", "vae_fashion.pt")
DCGAN = resources.path("checkpoints", "dcgan_fashion.pt")
BETAVAE_DSPRITES = resources.path("checkpoints", "betavae_dsprites.pt")


def _window_session(data: str, limit: int, path, split="test"):
    """What the window holds after File ▸ Open dataset (limit, seed 0) and Open model."""
    s = Session()
    s.run(s.open_dataset(data, split, limit, 0))
    tasks = [t for m in s.add_models([path]) for t in s.open_model_tasks(m)]
    s.run_all(tasks + s.follow_up())
    return s


def test_sefa_without_data_writes_the_core_files_bytes(tmp_path):
    out, ref = tmp_path / "cli.png", tmp_path / "core.png"
    assert main(["render", "traversal", str(VAE_FASHION), "--directions", "sefa", "--n-directions", "3",
                 "--cols", "5", "--scale", "1", "--out", str(out)]) == 0
    model = load_any(VAE_FASHION)[0]
    dirs = sefa_directions(model, 3)
    save_traversal(ref, model, np.zeros(model.latent_dim, np.float32), [], None, n_cols=5, scale=1, directions=dirs)
    assert out.read_bytes() == ref.read_bytes()


def test_ganspace_equals_the_windows_directions_and_pixels(tmp_path, capsys):
    out, ref = tmp_path / "cli.png", tmp_path / "gui.png"
    assert main(["render", "traversal", str(VAE_FASHION), "--data", "fashion-mnist", "--limit", "150",
                 "--index", "7", "--directions", "ganspace", "--n-directions", "4", "--cols", "6", "--scale", "1",
                 "--out", str(out)]) == 0
    assert "4 directions: PC 1, PC 2, PC 3, PC 4; GANSpace: PCA of 150 encoded codes" in capsys.readouterr().out
    s = _window_session("fashion-mnist", 150, VAE_FASHION)
    m = s.models[0]
    dirs = compute_directions(s, m.key, "ganspace", 4)  # what the sliders panel computes
    save_traversal(ref, m.model, m.codes.z[7], [], None, n_cols=6, scale=1, directions=dirs)
    assert out.read_bytes() == ref.read_bytes()
    # and the directions are the PCA of the encoder means themselves (scikit-learn, independent of the session)
    from sklearn.decomposition import PCA

    model = load_any(VAE_FASHION)[0]
    ds = fit_to_model(load_dataset("fashion-mnist", split="test", limit=150, seed=0), model.image_shape)
    pca = PCA(4, svd_solver="full").fit(encode_images(model, ds.images).astype(np.float64))
    for d, c in zip(dirs, pca.components_, strict=True):
        assert abs(abs(float(d.vector @ c)) - 1.0) < 1e-5


def test_factor_attribute_on_dsprites_is_the_difference_of_mean_codes(tmp_path):
    out, ref = tmp_path / "cli.gif", tmp_path / "gui.gif"
    argv = ["render", "traversal", str(BETAVAE_DSPRITES), "--data", "dsprites", "--limit", "240", "--split", "all",
            "--directions", "attribute", "--attribute", "factor:shape=ellipse-square", "--frames", "6",
            "--scale", "1", "--out", str(out)]
    assert main(argv) == 0
    model = load_any(BETAVAE_DSPRITES)[0]
    ds = load_dataset("dsprites", limit=240, seed=0)
    z = encode_images(model, fit_to_model(ds, model.image_shape).images).astype(np.float64)
    shape = ds.factors[:, 0]  # 1 square, 2 ellipse, 3 heart (the documented order)
    diff = z[shape == 2].mean(0) - z[shape == 1].mean(0)
    s = _window_session("dsprites", 240, BETAVAE_DSPRITES, split="all")
    (d,) = compute_directions(s, s.models[0].key, "attribute", by="factor", target=(0, 1), reference=(0, 0))
    assert d.name == "ellipse − square"
    np.testing.assert_allclose(d.vector, diff / np.linalg.norm(diff), atol=1e-5)
    assert d.scale == pytest.approx(np.linalg.norm(diff), rel=1e-5)
    save_traversal(ref, model, np.zeros(model.latent_dim, np.float32), [], None, n_frames=6, scale=1, directions=[d])
    assert out.read_bytes() == ref.read_bytes()


def test_one_value_against_the_rest_and_values_by_number(tmp_path, capsys):
    out = tmp_path / "t.png"
    assert main(["render", "traversal", str(BETAVAE_DSPRITES), "--data", "dsprites", "--limit", "200",
                 "--directions", "attribute", "--attribute", "factor:scale=1", "--cols", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    ds = load_dataset("dsprites", limit=200, seed=0)
    big = ds.factors[:, 1] == 1.0
    assert f"scale 1 − rest: mean of {int(big.sum())} codes − mean of {int((~big).sum())}" in printed
    assert main(["render", "traversal", str(VAE_FASHION), "--data", "fashion-mnist", "--limit", "100",
                 "--directions", "attribute", "--attribute", "class:7-5", "--cols", "3", "--out", str(out)]) == 0
    assert "Sneaker − Sandal" in capsys.readouterr().out


@pytest.mark.parametrize("argv, words", [
    ([str(VAE_FASHION), "--directions", "pca"], "invalid choice: 'pca'"),
    ([str(VAE_FASHION), "--directions", "ganspace"], "needs --data"),
    ([str(DCGAN), "--data", "fashion-mnist", "--limit", "40", "--directions", "ganspace"],
     "GAN without an encoder"),
    ([str(BETAVAE_DSPRITES), "--data", "dsprites", "--limit", "60", "--directions", "attribute", "--attribute",
      "factor:colour=1-2"], "has no factor 'colour'"),
    ([str(BETAVAE_DSPRITES), "--data", "dsprites", "--limit", "60", "--directions", "attribute", "--attribute",
      "factor:shape=star-square"], "does not name one or two values of factor 'shape' (its values: square, ellipse"),
    ([str(VAE_FASHION), "--data", "fashion-mnist", "--limit", "40", "--directions", "attribute", "--attribute",
      "factor:shape=1-2"], "has no ground-truth factors"),
    ([str(VAE_FASHION), "--data", "fashion-mnist", "--limit", "40", "--directions", "attribute", "--attribute",
      "class:Boot-Sandal"], "does not name one or two of its classes"),
    ([str(VAE_FASHION), "--directions", "attribute"], "needs --attribute"),
    ([str(VAE_FASHION), "--directions", "sefa", "--attribute", "class:1-2"], "applies to --directions attribute"),
    ([str(VAE_FASHION), "--directions", "sefa", "--dims", "1"], "--dims picks axes"),
    ([str(VAE_FASHION), "--directions", "attribute", "--attribute", "shape=1"], "--attribute must be"),
    ([str(VAE_FASHION), "--n-directions", "3"], "--n-directions applies to --directions ganspace"),
    ([str(VAE_FASHION), "--directions", "sefa", "--index", "3"], "--index needs --data"),
])
def test_bad_direction_input_is_one_sentence(tmp_path, monkeypatch, capsys, argv, words):
    monkeypatch.chdir(tmp_path)
    try:
        code = main(["render", "traversal", *argv, "--out", "x.png"])
    except SystemExit as exc:  # argparse's own errors (unknown kind, bad --attribute syntax)
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()


def test_a_misspelt_attribute_is_refused_before_any_model_opens(tmp_path, monkeypatch, capsys):
    """The classes and factors are the dataset's: checked once it is read, not after encoding it."""
    from explorer.core.session import Session

    opened = []
    real = Session.add_models
    monkeypatch.setattr(Session, "add_models", lambda self, paths: opened.append(paths) or real(self, paths))
    monkeypatch.chdir(tmp_path)
    code = main(["render", "traversal", str(VAE_FASHION), "--data", "fashion-mnist", "--limit", "40",
                 "--directions", "attribute", "--attribute", "class:Boot-Sandal", "--out", "x.png"])
    assert code == 2 and "does not name one or two of its classes" in capsys.readouterr().err
    assert opened == [] and not (tmp_path / "x.png").exists()
    assert main(["render", "traversal", str(VAE_FASHION), "--data", "fashion-mnist", "--limit", "40",
                 "--directions", "attribute", "--attribute", "class:Sandal-Sneaker", "--cols", "3",
                 "--out", "y.png"]) == 0
    assert len(opened) == 1 and (tmp_path / "y.png").is_file()
