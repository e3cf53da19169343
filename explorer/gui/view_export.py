"""Export of a pyqtgraph plot (the embedding view) with its legend and colour bar to PNG, SVG or PDF."""

from __future__ import annotations

import math
import os
import tempfile

from pyqtgraph.exporters import Exporter, ImageExporter
from PySide6 import QtCore, QtGui

from explorer.core.export import file_umask
from explorer.core.spatial import rasterize

__all__ = ["EXPORT_FORMATS", "export_view"]

#: File types that :func:`export_view` writes.
EXPORT_FORMATS = (".png", ".svg", ".pdf")


class _SceneExporter(Exporter):
    """Render a pyqtgraph item through QPainter onto a vector device, in export mode.

    Export mode makes pyqtgraph items draw for print (e.g. scatter glyphs as
    vector paths instead of cached pixmaps).
    """

    def parameters(self):
        return None

    def _paint(self, device):
        source = self.getSourceRect()
        painter = QtGui.QPainter(device)
        try:
            target = QtCore.QRectF(0, 0, source.width(), source.height())
            painter.fillRect(target, QtGui.QColor("white"))
            painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
            self.setExportMode(True, {"antialias": True, "background": QtGui.QColor("white"),
                                      "painter": painter, "resolutionScale": 1.0})
            self.getScene().render(painter, target, QtCore.QRectF(source))
        finally:
            self.setExportMode(False)
            painter.end()


class _PDFExporter(_SceneExporter):
    """One-page PDF sized to the item, via QPdfWriter."""

    Name = "PDF document"
    resolution = 96  # device pixels per inch: 1 screen pixel = 0.75 pt

    def export(self, fileName=None, toBytes=False, copy=False):  # noqa: N803 - pyqtgraph Exporter.export signature
        source = self.getSourceRect()
        writer = QtGui.QPdfWriter(fileName)
        writer.setResolution(self.resolution)
        writer.setCreator("Latent Explorer")
        size_pt = QtCore.QSizeF(source.width() * 72.0 / self.resolution,
                                source.height() * 72.0 / self.resolution)
        writer.setPageSize(QtGui.QPageSize(size_pt, QtGui.QPageSize.Unit.Point, "view"))
        writer.setPageMargins(QtCore.QMarginsF(0, 0, 0, 0))
        self._paint(writer)


class _SVGExporter(_SceneExporter):
    """SVG via QSvgGenerator.

    pyqtgraph 0.14.0's own SVGExporter fails on closed paths ("... Z") that
    Qt 6.11 writes for clipped views (pyqtgraph issue #3495).
    """

    Name = "SVG vector image"

    def export(self, fileName=None, toBytes=False, copy=False):  # noqa: N803 - pyqtgraph Exporter.export signature
        from PySide6 import QtSvg  # only needed here

        source = self.getSourceRect()
        gen = QtSvg.QSvgGenerator()
        gen.setFileName(fileName)
        gen.setSize(QtCore.QSize(int(math.ceil(source.width())), int(math.ceil(source.height()))))
        gen.setViewBox(QtCore.QRectF(0, 0, source.width(), source.height()))
        gen.setResolution(96)
        gen.setTitle("Latent Explorer embedding")
        self._paint(gen)


def export_view(view, path, scale=1.0):
    """Write what an :class:`EmbeddingView` shows, with legend and colour bar, to a file.

    The format follows the extension: PNG (pyqtgraph ``ImageExporter``), SVG
    (the scene rendered through ``QSvgGenerator``) or PDF (through
    ``QPdfWriter``). In SVG and PDF, axes, text and glyphs are vector; a raster
    layer (many points) is embedded as an image at twice the screen resolution. The file is written next
    to the target and renamed over it, so a failed export leaves no partial file.

    Parameters
    ----------
    view : EmbeddingView
    path : str or os.PathLike
        Target file; its extension must be one of :data:`EXPORT_FORMATS`.
    scale : float
        PNG only: pixel size relative to the screen (2.0 for a print-quality
        image); raster layers are redrawn at that resolution.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    ValueError
        If the extension is not .png, .svg or .pdf.
    OSError
        If the file cannot be written.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in EXPORT_FORMATS:
        raise ValueError(f"cannot export to '{path}': use a .png, .svg or .pdf file name")
    view.flush()
    item = view.plot_item
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=ext, dir=directory)
    os.close(fd)
    restore = None
    try:
        if ext == ".png":
            exporter = ImageExporter(item)
            params = exporter.parameters()
            width = max(1, int(round(params["width"] * scale)))
            params["width"] = width  # height follows the aspect ratio
            params["antialias"] = True
            if scale != 1.0 and view.render_mode == "raster":
                restore = _hires_raster(view, width / item.sceneBoundingRect().width())
            exporter.export(tmp)
        else:
            if view.render_mode == "raster":  # print resolution for the point layer
                restore = _hires_raster(view, 2.0)
            (_SVGExporter if ext == ".svg" else _PDFExporter)(item).export(tmp)
        if not os.path.getsize(tmp):
            raise OSError(f"export to '{path}' produced an empty file")
        os.chmod(tmp, 0o666 & ~file_umask())  # mkstemp makes 0600; a figure is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    finally:
        if restore is not None:
            restore()
    return path


def _hires_raster(view, factor):
    """Temporarily replace the raster layer by one drawn at ``factor`` x the screen resolution."""
    item = view._raster_item
    old_image, old_rect = item.image, QtCore.QRectF(item.mapRectToParent(item.boundingRect()))
    vr = view.view_box.viewRect()
    sr = view.view_box.sceneBoundingRect()
    w, h = int(math.ceil(sr.width() * factor)), int(math.ceil(sr.height() * factor))
    img = rasterize(view._xy, view._draw_colors, (vr.left(), vr.top(), vr.right(), vr.bottom()),
                    w, h, view._point_px * factor, origin="lower")
    item.setImage(img, autoLevels=False, levels=None)
    item.setRect(vr)

    def restore():
        item.setImage(old_image, autoLevels=False, levels=None)
        item.setRect(old_rect)
    return restore
