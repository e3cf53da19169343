"""The judging panels (likelihood, sample quality, disentanglement …) as docks of the main window, and their menu.

Each panel registers one :class:`JudgingPanel` in :data:`PANELS`. Its dock exists from the start
(so the window's saved layout restores it) but the panel itself — and whatever heavy modules it
imports — is built the first time the dock is shown, not before the first paint.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QLabel, QMenu, QWidget

__all__ = ["JudgingPanel", "PANELS", "JudgingDocks"]


@dataclass(frozen=True)
class JudgingPanel:
    """One judging panel.

    Attributes
    ----------
    title : str
        The dock's title and the menu's words.
    name : str
        The dock's object name (kept in the window's saved layout).
    factory : str
        ``"module:function"``; ``function(window) -> QWidget`` builds the panel for a
        :class:`~explorer.gui.main_window.MainWindow` (it uses ``window.session``,
        ``window.session_runner``, ``window._show_error``).
    shortcut : str
        Keyboard shortcut of its menu action ("" for none).
    """

    title: str
    name: str
    factory: str
    shortcut: str = ""


#: The judging panels, in menu order.
PANELS: list[JudgingPanel] = []
PANELS.append(JudgingPanel("Likelihood", "LikelihoodDock", "explorer.gui.likelihood_panel:make_likelihood_panel",
                           "Ctrl+Shift+L"))


class JudgingDocks:
    """The judging panels' docks of ``window`` (bottom area, closed at first) and their *Evaluate* menu.

    Parameters
    ----------
    window : MainWindow
    menu : QMenu
        Where each panel's show/hide action goes.
    """

    def __init__(self, window, menu: QMenu) -> None:
        self.window = window
        self.docks: dict[str, QDockWidget] = {}
        self._panels: dict[str, QWidget] = {}
        for p in PANELS:
            placeholder = QLabel(f"{p.title}: opening…", window)
            placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
            dock = window._dock(p.title, p.name, placeholder, Qt.DockWidgetArea.BottomDockWidgetArea)
            dock.hide()
            dock.visibilityChanged.connect(lambda visible, p=p: visible and self.panel(p.name))
            action = dock.toggleViewAction()
            if p.shortcut:
                action.setShortcut(p.shortcut)
            menu.addAction(action)
            self.docks[p.name] = dock

    def panel(self, name: str) -> QWidget:
        """The panel of dock ``name``, built now if it was not yet (KeyError: no such panel)."""
        if name not in self._panels:
            spec = next(p for p in PANELS if p.name == name)
            module, function = spec.factory.split(":")
            widget = getattr(importlib.import_module(module), function)(self.window)
            self._panels[name] = widget
            self.docks[name].setWidget(widget)
        return self._panels[name]

    def show(self, name: str) -> QWidget:
        """Show and raise dock ``name``; return its panel."""
        panel = self.panel(name)
        dock = self.docks[name]
        dock.show()
        dock.raise_()
        return panel
