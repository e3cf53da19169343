"""Save dialogs of every export: one remembered export folder, shared by the window and its panels."""

from __future__ import annotations

import os

from PySide6.QtWidgets import QFileDialog, QWidget

__all__ = ["ask_save_path", "export_folder", "set_export_folder"]

_folder: str | None = None  # the folder of the last export (the window restores it from its settings)


def export_folder() -> str | None:
    """The folder the next export dialog opens in (None: Qt's default, the working folder)."""
    return _folder


def set_export_folder(path: str | os.PathLike | None) -> None:
    """Remember ``path`` (a folder) for the next export dialog; None forgets it."""
    global _folder
    _folder = os.fspath(path) if path else None


def ask_save_path(parent: QWidget | None, title: str, name: str, file_filter: str) -> str | None:
    """Ask where to save an export, starting in the last export's folder with ``name`` proposed.

    Parameters
    ----------
    parent : QWidget or None
    title : str
        Dialog title, e.g. "Export traversal".
    name : str
        Proposed file name, e.g. "traversal.png".
    file_filter : str
        Qt filter string, e.g. "PNG image (*.png)".

    Returns
    -------
    str or None
        The chosen path (its folder is remembered), or None when the user cancelled.
    """
    start = os.path.join(_folder, name) if _folder and os.path.isdir(_folder) else name
    path, _ = QFileDialog.getSaveFileName(parent, title, start, file_filter)
    if not path:
        return None
    set_export_folder(os.path.dirname(os.path.abspath(path)))
    return path
