"""The report's figures drawn headless with the project's own renderers (the embedding view and its export,
the labelled image grids): embeddings, reconstructions and rate–distortion, each as PDF and PNG."""

from __future__ import annotations

import html
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["headless", "qt_app", "draw_embeddings", "draw_reconstructions", "draw_rate_distortion"]

#: Logical size (pixels) of one embedding panel; PNG exports are drawn at twice that.
PANEL_SIZE = (560, 480)


def headless() -> None:
    """Qt without a screen, quiet: set before PySide6 is first imported."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("QT_LOGGING_RULES", "qt.qpa.*=false")  # the offscreen plugin's notes are not ours


_QUIET = ("This plugin does not support propagateSizeHints()",)  # the offscreen plugin, uncategorised


def _qt_message(mode, context, message) -> None:
    """Qt's messages to stderr as usual, except the offscreen plugin's notes that are not ours."""
    if message not in _QUIET:
        print(message, file=sys.stderr)


def qt_app():
    """The (offscreen) QApplication the figures are drawn with."""
    headless()
    from PySide6.QtCore import qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication(["latent-explorer"])
        qInstallMessageHandler(_qt_message)
    return app


class _Exportable:
    """What `explorer.gui.view_export.export_view` needs of a view: a pyqtgraph item to export, no point layer.

    ``render_mode`` is neither "raster" nor "glyph", so the export does not look for the embedding
    view's point layer to redraw at print resolution: the curves are vector items.
    """

    render_mode = "items"

    def __init__(self, item) -> None:
        self.plot_item = item

    def flush(self, timeout: float = 10.0) -> None:
        """Nothing is drawn asynchronously here."""


def _png_array(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path, formats=["PNG"]) as im:  # our own export; never sniffed as another format
        rgb = np.asarray(im.convert("RGB"))
    return np.ascontiguousarray(np.moveaxis(rgb, -1, 0))  # (3, H, W) uint8


def _save_both(save, pdf: Path) -> list[Path]:
    """``save(path)`` for ``pdf`` and for the PNG beside it (the HTML page shows the PNG)."""
    png = pdf.with_suffix(".png")
    save(pdf)
    save(png)
    return [pdf, png]


def draw_embeddings(panels, labels, class_names, out_pdf: Path, title: str) -> list[Path]:
    """Small multiples of aligned embeddings, one panel per model, coloured by class, as PDF and PNG.

    Each panel is drawn by `explorer.gui.embedding_view.EmbeddingView` and exported by
    `explorer.gui.view_export.export_view` (the window's File ▸ Export view), then the panels are
    set side by side with `explorer.core.figures.save_grid_figure`.

    Parameters
    ----------
    panels : sequence of explorer.core.compare.report.EmbeddingPanel
    labels : numpy.ndarray, shape (N,), or None
        Classes of the shared images (one colouring for all panels).
    class_names : sequence of str or None
    out_pdf : pathlib.Path
    title : str

    Returns
    -------
    list of pathlib.Path
        The PDF and the PNG written.
    """
    from PySide6.QtCore import Qt

    from explorer.core.figures import save_grid_figure
    from explorer.gui.colors import categorical_palette, label_colors
    from explorer.gui.embedding_view import EmbeddingView
    from explorer.gui.view_export import export_view

    app = qt_app()
    cells = []
    with tempfile.TemporaryDirectory(prefix=".panels-", dir=out_pdf.parent) as tmp:
        for i, panel in enumerate(panels):
            if labels is not None:
                colors, legend = label_colors(labels, class_names)
            else:
                colors, legend = np.tile(categorical_palette(1)[0], (len(panel.xy), 1)), None
            view = EmbeddingView(threaded=False)
            view.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
            view.resize(*PANEL_SIZE)
            try:
                view.show()
                app.processEvents()
                view.set_points(panel.xy, colors, legend=legend)
                view.set_axis_labels(*panel.axis_labels)
                view.set_marker(3.0, 0.7)
                plot = view.plot_item
                text = panel.title
                cut = text.find(" · ", text.find(" · ", text.find(" · ") + 3) + 3)
                shown = html.escape(text) if cut < 0 else html.escape(text[:cut]) + "<br>" + html.escape(text[cut + 3:])
                plot.setTitle(shown, size="9pt", color="#333333")
                plot.layout.setRowFixedHeight(0, 40)
                view.resize(*PANEL_SIZE)
                app.processEvents()
                png = Path(tmp) / f"panel{i}.png"
                export_view(view, png, scale=2.0)
                cells.append(_png_array(png))
            finally:
                view.close()
                view.deleteLater()
        app.processEvents()
    h = max(c.shape[1] for c in cells)
    w = max(c.shape[2] for c in cells)
    grid = np.full((1, len(cells), 3, h, w), 255, np.uint8)
    for j, c in enumerate(cells):
        grid[0, j, :, :c.shape[1], :c.shape[2]] = c
    return _save_both(lambda p: save_grid_figure(p, grid, title=title, pad_px=12, font_size=22, dpi=192), out_pdf)


def draw_reconstructions(rows, out_pdf: Path, title: str, scale: float = 3.0) -> list[Path]:
    """The reconstructions grid: the originals, then one row per model with each image's PSNR and SSIM.

    Each row is laid out by `explorer.core.figures.render_grid_figure` (its per-image PSNR/SSIM as
    column labels); the rows are stacked into one page.

    Parameters
    ----------
    rows : list of dict
        `explorer.core.compare.report.reconstruction_grid`.
    out_pdf : pathlib.Path
    title : str
    scale : float
        Image scale factor.

    Returns
    -------
    list of pathlib.Path
    """
    from explorer.core.compare.pages import reconstructions_page
    from explorer.core.export import atomic_path

    page = reconstructions_page(rows, title, scale)

    def save(path: Path) -> None:
        with atomic_path(path) as tmp:
            if path.suffix == ".pdf":
                page.save(tmp, format="PDF", resolution=150.0, title=title, creationDate=None, modDate=None)
            else:
                page.save(tmp, format="PNG", dpi=(150, 150))

    return _save_both(save, out_pdf)


def draw_rate_distortion(rows: Sequence[dict], out_pdf: Path, title: str) -> list[Path]:
    """PSNR and SSIM against compression ratio (log) for every model, with JPEG and WebP, as PDF and PNG.

    Drawn with pyqtgraph (as the window's rate–distortion view) and exported by
    `explorer.gui.view_export.export_view`.

    Parameters
    ----------
    rows : sequence of dict
        `explorer.core.compare.report.rate_distortion_curves`.
    out_pdf : pathlib.Path
    title : str

    Returns
    -------
    list of pathlib.Path
    """
    from PySide6.QtCore import Qt

    from explorer.gui.compare_figures import rate_distortion_layout
    from explorer.gui.view_export import export_view

    app = qt_app()
    win = rate_distortion_layout(rows, title)
    win.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    win.resize(1180, 520)
    try:
        win.show()
        app.processEvents()
        target = _Exportable(win.ci)
        out = _save_both(lambda p: export_view(target, p, scale=2.0 if p.suffix == ".png" else 1.0), out_pdf)
    finally:
        win.close()
        win.deleteLater()
        app.processEvents()
    return out
