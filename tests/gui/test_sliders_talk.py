"""Talk mode: keyboard control of the slider code and of the interpolation movie."""

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from explorer.gui.interpolation_panel import InterpolationPanel
from explorer.gui.slider_panel import SliderPanel
from explorer.gui.talk_mode import STEP_FRACTION, TalkModeView
from models.vae import VAE


@pytest.fixture
def talk(qtbot):
    torch.manual_seed(0)
    model = VAE(4, (1, 28, 28)).eval()
    sliders, interp = SliderPanel(), InterpolationPanel()
    qtbot.addWidget(sliders)
    qtbot.addWidget(interp)
    sliders.set_model(model)
    interp.set_model(model)
    view = TalkModeView(sliders, interp)
    qtbot.addWidget(view)
    view.start(full_screen=False)
    qtbot.waitExposed(view)
    return view, sliders, interp


def test_keys_change_value_dimension_and_sample(talk, qtbot):
    view, sliders, interp = talk
    assert view.mode == "sliders"
    d0 = view.dim()
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert sliders.code()[d0] == pytest.approx(STEP_FRACTION * 6, abs=1e-2)
    assert f"z{d0} = +0.30" in view.caption.text()
    qtbot.keyClick(view, Qt.Key.Key_Down)
    assert view.dim() == sliders.order()[1]
    qtbot.keyClick(view, Qt.Key.Key_R)
    assert np.abs(sliders.code()).sum() > 0
    np.testing.assert_allclose(view.image_view.image(), sliders.image_view.image(), atol=1e-6)
    qtbot.keyClick(view, Qt.Key.Key_Space)
    assert view.timer.isActive()
    z = sliders.code()
    qtbot.waitUntil(lambda: not np.array_equal(sliders.code(), z), timeout=2000)
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert not view.isVisible() and not view.timer.isActive()


def test_movie_keys(talk, qtbot):
    view, sliders, interp = talk
    interp.add_prior_sample()
    interp.add_prior_sample()
    interp.frames_spin.setValue(8)
    interp.build()
    view.set_mode("movie")
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert interp.frame == 1 and "frame 2 / 8" in view.caption.text()
    qtbot.keyClick(view, Qt.Key.Key_Left)
    qtbot.keyClick(view, Qt.Key.Key_Left)
    assert interp.frame == 7
    qtbot.keyClick(view, Qt.Key.Key_Space)
    assert interp.play_button.isChecked()
    qtbot.keyClick(view, Qt.Key.Key_Space)
    assert not interp.play_button.isChecked()
    qtbot.keyClick(view, Qt.Key.Key_M)
    assert view.mode == "sliders"
