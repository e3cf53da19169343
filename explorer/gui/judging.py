"""The judging panels (likelihood, sample quality, disentanglement …) as docks of the main window, and their menu.

Each panel registers one :class:`JudgingPanel` in :data:`PANELS`. Its dock exists from the start
(so the window's saved layout restores it) but the panel itself — and whatever heavy modules it
imports — is built the first time the dock is shown, not before the first paint.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QFrame, QLabel, QMenu, QScrollArea, QWidget

__all__ = ["JudgingPanel", "JudgingAction", "PANELS", "ACTIONS", "JudgingDocks"]


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


@dataclass(frozen=True)
class JudgingAction:
    """An Evaluate-menu action that shows a judging panel and calls one of its methods (e.g. a test window).

    Attributes
    ----------
    title : str
        The menu's words.
    panel : str
        The panel's dock object name (:attr:`JudgingPanel.name`).
    method : str
        Name of the panel's method called without arguments once it is shown.
    shortcut : str
    """

    title: str
    panel: str
    method: str
    shortcut: str = ""


#: The judging panels, in menu order.
PANELS: list[JudgingPanel] = []
#: Further Evaluate-menu actions, after the panels.
ACTIONS: list[JudgingAction] = []

PANELS.append(JudgingPanel("Likelihood", "LikelihoodDock", "explorer.gui.likelihood_panel:make_likelihood_panel",
                           "Ctrl+Shift+L"))
PANELS.append(JudgingPanel("Sample quality", "SampleQualityDock",
                          "explorer.gui.sample_quality_panel:make_sample_quality_panel", "Ctrl+Shift+Q"))
PANELS.append(JudgingPanel("Disentanglement", "DisentanglementDock",
                           "explorer.gui.disentanglement_panel:make_disentanglement_panel", "Ctrl+Shift+D"))
ACTIONS.append(JudgingAction("Human real/fake test…", "SampleQualityDock", "start_human_test", "Ctrl+Shift+H"))


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
        # Tabbed with the Selection panel (once the window runs: tabifying in the constructor leaves a stray tab
        # bar), so that opening one adds a tab, not a column the window must widen for.
        QTimer.singleShot(0, self._tabify)
        self.actions: dict[str, QAction] = {}
        if ACTIONS:
            menu.addSeparator()
        for a in ACTIONS:
            action = QAction(a.title, window)
            if a.shortcut:
                action.setShortcut(a.shortcut)
            action.triggered.connect(lambda _checked=False, a=a: getattr(self.show(a.panel), a.method)())
            menu.addAction(action)
            self.actions[a.title] = action

    def _tabify(self) -> None:
        w = self.window
        anchor = getattr(w, "selection_dock", None)
        if anchor is None or getattr(w, "_layout_restored", False):
            return
        for dock in self.docks.values():
            if w.dockWidgetArea(dock) == w.dockWidgetArea(anchor):
                w.tabifyDockWidget(anchor, dock)

    def panel(self, name: str) -> QWidget:
        """The panel of dock ``name``, built now if it was not yet (KeyError: no such panel)."""
        if name not in self._panels:
            spec = next(p for p in PANELS if p.name == name)
            module, function = spec.factory.split(":")
            widget = getattr(importlib.import_module(module), function)(self.window)
            self._panels[name] = widget
            scroll = QScrollArea()  # a wide panel scrolls in its dock instead of widening the window
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QFrame.Shape.NoFrame)
            scroll.setWidget(widget)
            self.docks[name].setWidget(scroll)
        return self._panels[name]

    def show(self, name: str) -> QWidget:
        """Show and raise dock ``name``; return its panel."""
        panel = self.panel(name)
        dock = self.docks[name]
        dock.show()
        dock.raise_()  # its tab comes to the front
        return panel
