"""Slider panel, traversal view and interpolation panel: live decode, exports equal to the CLI's."""

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QPoint, Qt

import resources
from explorer.cli import main as cli_main
from explorer.core.codes import decode_codes, prior_codes
from explorer.core.latent import sliders as core
from explorer.gui.interpolation_panel import InterpolationPanel
from explorer.gui.slider_panel import SliderPanel
from explorer.gui.traversal_view import TraversalView, parse_dims
from models.loading import load_any
from models.vae import VAE

DEMO = resources.path("checkpoints", "vae_fashion.pt")


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return VAE(4, (1, 28, 28)).eval()


@pytest.fixture(scope="module")
def demo():
    return load_any(DEMO)[0]


def test_slider_drag_changes_image(qtbot, tiny):
    panel = SliderPanel()
    qtbot.addWidget(panel)
    codes = np.random.default_rng(0).normal(size=(200, 4)).astype(np.float32)
    panel.set_model(tiny, codes)
    panel.resize(700, 400)
    panel.show()
    qtbot.waitExposed(panel)
    before = panel.image_view.image().copy()
    np.testing.assert_allclose(before, decode_codes(tiny, np.zeros(4))[0], atol=1e-6)
    dim = panel.order()[0]
    s = panel.slider(dim)
    seen = []
    panel.code_changed.connect(seen.append)
    # Drag the handle with the mouse from the middle to the right end.
    qtbot.mousePress(s, Qt.MouseButton.LeftButton, pos=QPoint(s.width() // 2, s.height() // 2))
    qtbot.mouseMove(s, QPoint(s.width() * 3 // 4, s.height() // 2))
    qtbot.mouseMove(s, QPoint(s.width() - 2, s.height() // 2))
    qtbot.mouseRelease(s, Qt.MouseButton.LeftButton, pos=QPoint(s.width() - 2, s.height() // 2))
    assert seen and seen[-1][dim] > 1.0
    z = panel.code()
    after = panel.image_view.image()
    assert not np.allclose(after, before)
    np.testing.assert_allclose(after, decode_codes(tiny, z)[0], atol=1e-6)


def test_slider_burst_decodes_once_per_paint(qtbot, tiny):
    panel = SliderPanel()
    qtbot.addWidget(panel)
    panel.set_model(tiny)
    panel.show()
    qtbot.waitExposed(panel)
    qtbot.waitUntil(lambda: panel.image_view.decode_count > 0, timeout=5000)  # first paint
    n0 = panel.image_view.decode_count
    for step in range(0, 1000, 50):  # 20 value changes, no paint in between
        panel.slider(0).setValue(step)
    assert panel.image_view.decode_count == n0  # nothing decoded yet: no stale frames queued
    panel.image_view.repaint()
    assert panel.image_view.decode_count == n0 + 1  # one decode, of the latest state
    np.testing.assert_allclose(panel.image_view.image(), decode_codes(tiny, panel.code())[0], atol=1e-6)
    assert panel.code()[0] == pytest.approx(core.step_to_value(950, -3, 3))


def test_slider_buttons_and_ranges(qtbot, tiny):
    panel = SliderPanel()
    qtbot.addWidget(panel)
    codes = np.random.default_rng(1).normal(0, 0.1, size=(500, 4)).astype(np.float32)
    panel.set_model(tiny, codes)
    assert panel.scores.kind == "variance"
    panel.random_from_prior()
    z = panel.code()
    assert np.abs(z).sum() > 0
    panel.reset()
    np.testing.assert_array_equal(panel.code(), np.zeros(4))
    panel.range_combo.setCurrentIndex(1)
    np.testing.assert_allclose(panel.ranges(), core.slider_ranges("fitted", 4, codes))
    panel.set_code(codes[3])
    np.testing.assert_array_equal(panel.code(), codes[3])


def test_many_dimensions_scroll(qtbot):
    torch.manual_seed(0)
    big = VAE(512, (1, 28, 28)).eval()
    panel = SliderPanel()
    qtbot.addWidget(panel)
    panel.set_model(big)
    assert len(panel.order()) == 512
    panel.resize(600, 400)
    panel.show()
    qtbot.waitExposed(panel)
    assert panel.scroll.verticalScrollBar().maximum() > 0


def test_parse_dims():
    assert parse_dims("3, 0 7", 8) == [3, 0, 7]
    assert parse_dims("0-2", 8) == [0, 1, 2]
    assert parse_dims("", 8) is None
    with pytest.raises(ValueError):
        parse_dims("9", 8)


@pytest.mark.parametrize("ext", [".png", ".svg", ".pdf"])
def test_traversal_gui_export_equals_cli(qtbot, demo, tmp_path, ext):
    view = TraversalView()
    qtbot.addWidget(view)
    view.set_source(demo, np.zeros(demo.latent_dim, np.float32), core.slider_ranges("prior", demo.latent_dim))
    view.dims_edit.setText("3 0 7")
    view.cols_spin.setValue(7)
    assert view.render()
    (tmp_path / "gui").mkdir()
    (tmp_path / "cli").mkdir()
    gui = view.export(tmp_path / "gui" / f"t{ext}")  # same name: the PDF title is the file's stem
    cli = tmp_path / "cli" / f"t{ext}"
    assert cli_main(["render", "traversal", str(DEMO), "--dims", "3", "0", "7", "--cols", "7",
                     "--out", str(cli)]) == 0
    assert gui.read_bytes() == cli.read_bytes()
    if ext == ".png":  # what the view shows is the PNG's picture
        shown = view.picture.pixmap().toImage().convertToFormat(view.picture.pixmap().toImage().Format.Format_RGB888)
        png = np.asarray(Image.open(cli).convert("RGB"))
        assert (shown.width(), shown.height()) == (png.shape[1], png.shape[0])


def test_interpolation_gui_export_equals_cli(qtbot, demo, tmp_path):
    panel = InterpolationPanel()
    qtbot.addWidget(panel)
    panel.set_model(demo)
    for z in prior_codes(demo, 2, seed=5):
        panel.add_keypoint(z, "prior")
    panel.method_combo.setCurrentText("lerp")
    panel.frames_spin.setValue(16)
    paths = []
    panel.path_changed.connect(paths.append)
    assert panel.build()
    assert paths[-1].shape == (16, demo.latent_dim)
    panel.step(1)
    assert panel.frame == 1
    panel.step(-2)
    assert panel.frame == 15  # loops
    for ext in (".gif", ".mp4"):
        gui = panel.export(tmp_path / f"gui{ext}")
        cli = tmp_path / f"cli{ext}"
        assert cli_main(["render", "interpolation", str(DEMO), "--seed", "5", "--frames", "16", "--fps", "12",
                         "--scale", "4", "--out", str(cli)]) == 0
        a, b = iio.imread(gui, index=None), iio.imread(cli, index=None)
        assert a.shape[0] == 16 and a.shape[1:3] == (112, 112)
        np.testing.assert_array_equal(a, b)


def test_interpolation_player_plays(qtbot, tiny):
    panel = InterpolationPanel()
    qtbot.addWidget(panel)
    panel.set_model(tiny)
    panel.add_prior_sample()
    panel.add_prior_sample()
    panel.add_prior_sample()
    panel.frames_spin.setValue(10)
    assert panel.build()
    assert panel.filmstrip.count() == 10
    panel.fps_spin.setValue(60)
    panel.loop_check.setChecked(False)
    panel.play_button.setChecked(True)
    qtbot.waitUntil(lambda: not panel.play_button.isChecked(), timeout=3000)
    assert panel.frame == 9
    panel.filmstrip.setCurrentRow(4)
    assert panel.frame == 4

