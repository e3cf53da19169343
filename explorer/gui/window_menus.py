"""The main window's menus and selection tool bar (File, View, Evaluate, Help), built once by the window."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QLabel, QToolBar

__all__ = ["build_menus"]


def build_menus(window) -> None:
    """Give ``window`` (a `~explorer.gui.main_window.MainWindow`) its menus and tool bar.

    Sets ``window.selection_actions`` (the left-drag modes), ``window.toolbar``, ``window._panels_menu``
    (View ▸ Panels) and ``window.judging`` (the Evaluate menu's docks, `explorer.gui.judging`).
    """
    menu_bar = window.menuBar()
    window.files.build_file_menu(menu_bar.addMenu("&File"))
    view_menu = menu_bar.addMenu("&View")
    window.selection_actions = QActionGroup(window)
    window.selection_actions.setExclusive(True)
    toolbar = QToolBar("Selection tools", window)
    toolbar.setObjectName("SelectionToolBar")
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    toolbar.addWidget(QLabel(" Left drag: ", toolbar))
    for mode, text, tip in (("click", "Pan", "Left drag pans; click selects the nearest point"),
                            ("rect", "Rectangle select", "Left drag selects a rectangle of points (Shift adds)"),
                            ("lasso", "Lasso select", "Left drag draws a lasso around points (Shift adds)")):
        action = QAction(text, window, checkable=True)
        action.setData(mode)
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False, m=mode: window.set_selection_mode(m))
        window.selection_actions.addAction(action)
        toolbar.addAction(action)
        view_menu.addAction(action)
    window.selection_actions.actions()[0].setChecked(True)
    toolbar.addSeparator()
    clear_action = toolbar.addAction("Clear selection")
    clear_action.setToolTip("Select nothing (Esc in the plot)")
    clear_action.triggered.connect(lambda: window.session.select([]))
    fit_action = toolbar.addAction("Fit view")
    fit_action.setToolTip("Show all points")
    fit_action.triggered.connect(window.presenter.fit)
    toolbar.addSeparator()
    toolbar.addAction(window.files.export_action)
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
    window.toolbar = toolbar
    view_menu.addSeparator()
    view_menu.addAction(window.compare_action)
    toolbar.addSeparator()
    toolbar.addAction(window.compare_action)
    view_menu.addSeparator()
    panels = view_menu.addMenu("&Panels")
    for dock in (window.model_dock, window.hover_dock, window.projection_dock, window.clustering_dock,
                 window.selection_dock, window.slider_dock, window.traversal_dock, window.interpolation_dock):
        panels.addAction(dock.toggleViewAction())
    window._panels_menu = panels
    toolbar_action = toolbar.toggleViewAction()
    toolbar_action.setText("Selection tool bar")
    view_menu.addAction(toolbar_action)
    from explorer.gui.judging import JudgingDocks

    window.judging = JudgingDocks(window, menu_bar.addMenu("&Evaluate"))  # likelihood, sample quality, …
    help_menu = menu_bar.addMenu("&Help")
    help_menu.addAction("Where is the log file?").triggered.connect(window.files.show_log_location)
    help_menu.addAction("&About Latent Explorer").triggered.connect(window.files.show_about)
