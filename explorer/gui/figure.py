"""The embedding of a session as a figure file — one function for File ▸ Export view and `render embedding`."""

from __future__ import annotations

import os
from pathlib import Path

from explorer.core.session import Session

__all__ = ["FIGURE_SIZE", "render_figure"]

#: Size of an exported embedding figure in logical pixels (width, height); PNG ``scale`` multiplies it.
FIGURE_SIZE = (900, 680)


def render_figure(session: Session, path: str | os.PathLike, scale: float = 1.0,
                  size: tuple[int, int] = FIGURE_SIZE, *, width_mm: float | None = None,
                  dpi: float | None = None) -> Path:
    """Draw the session's active embedding (projection, colouring, legend or colour bar, selection, zoom) to a file.

    The figure is drawn on its own view of a fixed ``size``, not on the window, so the same
    session gives the same file from the window and from ``latent-explorer render embedding``.

    Parameters
    ----------
    session : Session
        Its active model must have an embedding.
    path : path-like
        ``.png``, ``.svg`` or ``.pdf`` (written atomically).
    scale : float
        PNG only: pixel size relative to ``size`` (2.0 for print); ignored when ``width_mm``
        is given.
    size : (int, int)
        Logical pixels of the figure.
    width_mm, dpi : float, optional
        PNG only: the printed width in millimetres at ``dpi`` dots per inch (e.g. 170 mm
        at 300 dpi); the dpi is written into the file
        (`explorer.gui.view_export.png_scale`).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        No embedding to draw, an unknown file extension, or a bad width / dpi.
    OSError
        The file cannot be written.
    """
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from explorer.gui.embedding_presenter import EmbeddingPresenter
    from explorer.gui.embedding_view import EXPORT_FORMATS, EmbeddingView, export_view

    m = session.active
    if m is None or m.embedding is None:
        raise ValueError("there is no embedding to draw: the session's active model has no projection yet")
    if Path(path).suffix.lower() not in EXPORT_FORMATS:
        raise ValueError(f"cannot export to '{path}': use a .png, .svg or .pdf file name")
    app = QApplication.instance() or QApplication(["latent-explorer"])
    view = EmbeddingView(threaded=False)
    view.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    view.resize(*size)
    presenter = EmbeddingPresenter(session, view, interactive=False)
    try:
        view.show()
        app.processEvents()
        presenter.refresh()
        view.resize(*size)
        app.processEvents()
        presenter.redraw()  # again at its final size: the zoom and the raster fit the figure
        if width_mm is not None or dpi is not None:
            from explorer.gui.view_export import png_scale

            scale = png_scale(view, width_mm, dpi)
        out = export_view(view, path, scale=scale, dpi=dpi)
    finally:
        presenter.close()
        presenter.deleteLater()
        view.close()
        view.deleteLater()
    return Path(out)
