"""`latent-explorer render traversal|interpolation`: files, sizes, frame counts and one-sentence errors."""

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

import resources
from explorer.cli import main
from explorer.core.figures import render_grid_figure
from explorer.core.latent import sliders
from models.loading import load_any

DEMO = resources.path("checkpoints", "vae_fashion.pt")


def test_render_traversal_png_matches_core(tmp_path):
    out = tmp_path / "t.png"
    assert main(["render", "traversal", str(DEMO), "--dims", "1", "4", "--cols", "5", "--scale", "1",
                 "--out", str(out)]) == 0
    model = load_any(DEMO)[0]
    images, rows, cols = sliders.traversal_figure(model, np.zeros(model.latent_dim, np.float32), [1, 4],
                                                  sliders.slider_ranges("prior", model.latent_dim), 5)
    fig, _, _ = render_grid_figure(images, rows, cols, scale=1)
    np.testing.assert_array_equal(np.asarray(Image.open(out)), np.asarray(fig))
    assert rows == ["z1", "z4"] and cols == ["−3.00", "−1.50", "0.00", "+1.50", "+3.00"]


def test_render_traversal_with_data_orders_by_kl(tmp_path, capsys):
    out = tmp_path / "t.svg"
    assert main(["render", "traversal", str(DEMO), "--data", "fashion-mnist", "--limit", "200", "--index", "0",
                 "--range", "fitted", "--out", str(out)]) == 0
    text = out.read_text()
    assert "nats)" in text and text.count("<text") == 10 + 10  # 10 row labels + 10 column labels
    assert "10 dimensions" in capsys.readouterr().out


def test_render_animated_traversal_gif(tmp_path):
    out = tmp_path / "t.gif"
    assert main(["render", "traversal", str(DEMO), "--dims", "0", "3", "--frames", "12", "--scale", "1",
                 "--out", str(out)]) == 0
    frames = iio.imread(out, index=None)
    # two rows of cells, and a column left of them labelling each row with its dimension and range
    assert frames.shape[1] == 2 * 28 + 3 * 2 and frames.shape[2] > 28 + 2 * 2 + 40
    assert 1 < frames.shape[0] <= 12


@pytest.mark.parametrize("ext", [".gif", ".mp4"])
def test_render_interpolation_frame_count_and_size(tmp_path, ext):
    out = tmp_path / f"m{ext}"
    assert main(["render", "interpolation", str(DEMO), "--data", "fashion-mnist", "--limit", "50", "--from", "2",
                 "--to", "9", "--slerp", "--frames", "20", "--scale", "3", "--out", str(out)]) == 0
    frames = iio.imread(out, index=None)
    assert frames.shape[0] == 20 and frames.shape[1:3] == (84, 84)


@pytest.mark.parametrize("argv, words", [
    (["traversal", str(DEMO), "--out", "x.txt"], "extension"),
    (["traversal", str(DEMO), "--dims", "99", "--out", "x.png"], "out of range"),
    (["traversal", str(DEMO), "--index", "3", "--out", "x.png"], "need --data"),
    (["interpolation", "missing.pt", "--out", "x.gif"], "does not exist"),
    (["interpolation", str(DEMO), "--out", "x.png"], "extension"),
    (["interpolation", str(DEMO), "--data", "fashion-mnist", "--limit", "10", "--to", "50", "--out", "x.gif"],
     "out of range"),
])
def test_render_errors_are_one_sentence(tmp_path, monkeypatch, capsys, argv, words):
    monkeypatch.chdir(tmp_path)
    assert main(["render", *argv]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir())
