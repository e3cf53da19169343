"""Settings ▸ Compute device: the choice reaches the Session, is kept in QSettings, and the window says the device."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
import torch  # noqa: E402

from explorer.gui.device_menu import SETTINGS_KEY  # noqa: E402
from tests.gui.windows import open_and_wait  # noqa: E402

HAS_ACCEL = torch.cuda.is_available() or (
    getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available())


@pytest.mark.skipif(HAS_ACCEL, reason="auto picks an accelerator on this machine")
def test_device_choice_reaches_the_session_and_is_kept(make_window, qtbot, data_file, vae_file, no_dialogs):
    window = make_window()
    choice = window.device_choice
    assert window.session.device == "cpu" and choice.label.text() == "Device: cpu"
    assert [a.data() for a in choice.menu.actions()] == ["auto", "cpu", "cuda", "mps"]
    choice.menu.aboutToShow.emit()  # which devices exist is asked when the menu opens
    assert not choice.actions["cuda"].isEnabled() and "no CUDA GPU" in choice.actions["cuda"].toolTip()
    assert choice.actions["auto"].isEnabled() and choice.actions["cpu"].isEnabled()

    assert not choice.choose("cuda")  # not here: one sentence, the choice stays
    assert len(no_dialogs) == 1 and "no CUDA GPU" in no_dialogs[0] and window.session.device == "cpu"
    assert choice.actions["cpu"].isChecked()

    choice.actions["auto"].trigger()
    assert window.session.device == "auto" and choice.label.text() == "Device: auto → cpu"
    assert window.settings.value(SETTINGS_KEY) == "auto"
    open_and_wait(qtbot, window, data_file, [vae_file])
    assert window.active_entry.device == "cpu"
    assert window.model_panel.details_text().endswith("computes on cpu")

    window.save_settings()
    again = make_window()  # the same settings file: the choice comes back (not resolved before a model opens)
    assert again.session.device == "auto" and again.device_choice.actions["auto"].isChecked()
    again.settings.setValue(SETTINGS_KEY, "cuda")  # saved on a machine with a GPU, opened here
    third = make_window()
    assert third.session.device == "cpu" and third.device_choice.actions["cpu"].isChecked()
    assert third.device_choice.label.text() == "Device: cpu (cuda is not available here)"


def test_the_settings_menu_sits_before_help(make_window):
    window = make_window()
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert "Settings" in titles and titles.index("Settings") == titles.index("Help") - 1
