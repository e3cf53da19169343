"""The judging panels' docks: built on first show, listed in the Evaluate menu, restored with the layout."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QLabel

from explorer.gui import judging

BUILT = []


def make_panel(window):
    """A stand-in panel that records the window it was built for."""
    BUILT.append(window)
    return QLabel(f"panel of {len(window.session.models)} models")


@pytest.fixture
def one_panel(monkeypatch):
    BUILT.clear()
    monkeypatch.setattr(judging, "PANELS", [judging.JudgingPanel("Test panel", "TestJudgingDock",
                                                                   f"{__name__}:make_panel", "Ctrl+Alt+T")])


def test_a_panel_is_built_once_when_its_dock_is_first_shown(one_panel, make_window, qtbot):
    w = make_window()
    dock = w.judging.docks["TestJudgingDock"]
    assert not dock.isVisible() and BUILT == []  # nothing imported or built before it is asked for
    menu = next(a.menu() for a in w.menuBar().actions() if a.text() == "&Evaluate")
    action = next(a for a in menu.actions() if a.text() == "Test panel")
    assert action.shortcut().toString() == "Ctrl+Alt+T"
    action.trigger()
    qtbot.waitUntil(lambda: dock.isVisible())
    assert BUILT == [w] and dock.widget().widget().text() == "panel of 0 models"
    dock.hide()
    assert w.judging.show("TestJudgingDock") is dock.widget().widget() and BUILT == [w]


def test_a_saved_layout_with_the_dock_open_builds_it_at_start(one_panel, make_window, qtbot):
    w = make_window()
    w.judging.show("TestJudgingDock")
    w.close()  # the layout is saved in the window's settings file
    BUILT.clear()
    w2 = make_window()
    qtbot.waitUntil(lambda: len(BUILT) == 1)
    assert w2.judging.docks["TestJudgingDock"].isVisible()


def test_an_evaluate_action_shows_its_panel_and_calls_its_method(one_panel, monkeypatch, make_window, qtbot):
    monkeypatch.setattr(judging, "ACTIONS", [judging.JudgingAction("Run it", "TestJudgingDock", "clear")])
    w = make_window()
    assert BUILT == []
    w.judging.actions["Run it"].trigger()  # QLabel.clear: the panel is built, shown, then cleared
    qtbot.waitUntil(lambda: w.judging.docks["TestJudgingDock"].isVisible())
    assert BUILT == [w] and w.judging.docks["TestJudgingDock"].widget().widget().text() == ""


def test_a_wide_panel_scrolls_in_its_dock_instead_of_widening_the_window(monkeypatch, make_window, qtbot):
    monkeypatch.setattr(judging, "PANELS", [judging.JudgingPanel("Wide", "WideDock", f"{__name__}:make_wide")])
    w = make_window()
    qtbot.wait(20)  # the docks are tabbed with the Selection panel once the window runs
    before = w.width()
    w.judging.show("WideDock")
    qtbot.wait(50)
    assert w.width() == before


def make_wide(window):
    """A panel that needs 3,000 px."""
    label = QLabel("wide")
    label.setMinimumWidth(3000)
    return label
