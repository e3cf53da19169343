"""Export of a pyqtgraph plot (the embedding view) with its legend and colour bar to PNG, SVG or PDF."""

from __future__ import annotations

import math
import os
import tempfile

from pyqtgraph.exporters import Exporter, ImageExporter
from PySide6 import QtCore, QtGui

from explorer.core.export import file_umask
from explorer.core.spatial import rasterize

__all__ = ["EXPORT_FORMATS", "VECTOR_RASTER_FACTOR", "export_view", "png_scale", "bake_svg_strokes"]

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


#: Resolution of the point layer in SVG and PDF exports, relative to the screen (2: 192 dpi at 96 dpi).
VECTOR_RASTER_FACTOR = 2.0
MM_PER_INCH = 25.4


def png_scale(view, width_mm: float | None = None, dpi: float | None = None) -> float:
    """The PNG scale that gives ``width_mm`` millimetres at ``dpi`` dots per inch (e.g. 85 mm at 300 dpi).

    Parameters
    ----------
    view : EmbeddingView
    width_mm : float, optional
        Printed width of the figure in mm (> 0); default the screen width at ``dpi``.
    dpi : float, optional
        Dots per inch (> 0), default 96 (screen).

    Returns
    -------
    float
        Pixel width of the PNG ÷ the plot's width on screen.

    Raises
    ------
    ValueError
        A width or resolution that is not a finite positive number, or one that would make a
        PNG wider than 20,000 pixels.
    """
    dpi = 96.0 if dpi is None else float(dpi)
    if not (math.isfinite(dpi) and dpi > 0):
        raise ValueError(f"the resolution must be a positive number of dots per inch, got {dpi}")
    screen_w = view.plot_item.sceneBoundingRect().width()
    if width_mm is None:
        return dpi / 96.0
    if not (math.isfinite(float(width_mm)) and float(width_mm) > 0):
        raise ValueError(f"the figure width must be a positive number of millimetres, got {width_mm}")
    pixels = float(width_mm) / MM_PER_INCH * dpi
    if pixels > 20_000:
        raise ValueError(f"{width_mm} mm at {dpi:g} dpi is {pixels:,.0f} pixels wide; at most 20,000")
    return pixels / max(screen_w, 1.0)


def export_view(view, path, scale=1.0, *, dpi: float | None = None, overlays: bool = True):
    """Write what an :class:`EmbeddingView` shows, with legend and colour bar, to a file.

    The format follows the extension: PNG (pyqtgraph ``ImageExporter``), SVG
    (the scene rendered through ``QSvgGenerator``) or PDF (through
    ``QPdfWriter``). In SVG and PDF the points are one embedded raster layer at
    `VECTOR_RASTER_FACTOR` × the screen resolution (as matplotlib's ``rasterized=True``:
    10,000 points are one image, not 10,000 paths), while axes, text, legend, the
    selection rings, the slider star and the interpolation path stay vector. Strokes are
    written in page units (no ``vector-effect``, which cairo, librsvg and ImageMagick
    ignore), so the SVG renders the same in browsers, Inkscape, cairosvg, rsvg and
    pdftoppm. The file is written next to the target and renamed over it, with the
    permissions of an ordinary new file, so a failed export leaves no partial file.

    Parameters
    ----------
    view : EmbeddingView
    path : str or os.PathLike
        Target file; its extension must be one of :data:`EXPORT_FORMATS`.
    scale : float
        PNG only: pixel size relative to the screen (2.0 for a print-quality
        image; `png_scale` converts a width in mm at a dpi); raster layers are redrawn
        at that resolution.
    dpi : float, optional
        PNG only: the resolution written into the file (pHYs), so that it prints at the
        intended size; default 96 × ``scale``.
    overlays : bool
        Include the slider star and the interpolation path (False: only the points,
        selection, axes, legend and colour bar).

    Returns
    -------
    str
        The path written.

    Raises
    ------
    ValueError
        If the extension is not .png, .svg or .pdf, or ``scale`` is not positive.
    OSError
        If the file cannot be written.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in EXPORT_FORMATS:
        raise ValueError(f"cannot export to '{path}': use a .png, .svg or .pdf file name")
    if not (math.isfinite(float(scale)) and float(scale) > 0):
        raise ValueError(f"the export scale must be a positive number, got {scale}")
    view.flush()
    item = view.plot_item
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=ext, dir=directory)
    os.close(fd)
    restores = []
    try:
        if not overlays:
            restores.append(_hide_overlays(view))
        if ext == ".png":
            exporter = ImageExporter(item)
            params = exporter.parameters()
            width = max(1, int(round(params["width"] * scale)))
            params["width"] = width  # height follows the aspect ratio
            params["antialias"] = True
            if scale != 1.0 and view.render_mode == "raster":
                restores.append(_hires_raster(view, width / item.sceneBoundingRect().width()))
            exporter.export(tmp)
            _set_png_dpi(tmp, 96.0 * float(scale) if dpi is None else float(dpi))
        else:
            if view.render_mode in ("raster", "glyph"):  # the points as one layer at print resolution
                restores.append(_hires_raster(view, VECTOR_RASTER_FACTOR))
            (_SVGExporter if ext == ".svg" else _PDFExporter)(item).export(tmp)
            if ext == ".svg":
                bake_svg_strokes(tmp)
        if not os.path.getsize(tmp):
            raise OSError(f"export to '{path}' produced an empty file")
        os.chmod(tmp, 0o666 & ~file_umask())  # mkstemp makes 0600; a figure is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    finally:
        for restore in reversed(restores):
            restore()
    return path


def _set_png_dpi(path: str, dpi: float) -> None:
    """Record ``dpi`` in a PNG's pHYs chunk (Pillow rewrites the file; pixels unchanged)."""
    from PIL import Image

    with Image.open(path, formats=["PNG"]) as im:
        im.load()
        im.save(path, format="PNG", dpi=(dpi, dpi))


def _hide_overlays(view):
    """Temporarily hide the slider star (and its label) and the interpolation path."""
    items = [view._marker_item, view._marker_label, view._path_item, view._path_ends]
    shown = [it.isVisible() for it in items]
    for it in items:
        it.hide()

    def restore():
        for it, was in zip(items, shown, strict=True):
            it.setVisible(was)
    return restore


def _hires_raster(view, factor):
    """Temporarily draw every point into the raster layer at ``factor`` x the screen resolution.

    In glyph mode (few points in view) the glyphs are hidden meanwhile, so an export holds
    the points once, as one image.
    """
    item = view._raster_item
    glyphs = view._glyph_item
    old_image, old_rect = item.image, QtCore.QRectF(item.mapRectToParent(item.boundingRect()))
    raster_shown, glyphs_shown = item.isVisible(), glyphs.isVisible()
    vr = view.view_box.viewRect()
    sr = view.view_box.sceneBoundingRect()
    w, h = int(math.ceil(sr.width() * factor)), int(math.ceil(sr.height() * factor))
    img = rasterize(view._xy, view._draw_colors, (vr.left(), vr.top(), vr.right(), vr.bottom()),
                    w, h, view._point_px * factor, origin="lower")
    item.setImage(img, autoLevels=False, levels=None)
    item.setRect(vr)
    item.show()
    glyphs.hide()

    def restore():
        if old_image is not None:
            item.setImage(old_image, autoLevels=False, levels=None)
            item.setRect(old_rect)
        item.setVisible(raster_shown)
        glyphs.setVisible(glyphs_shown)
    return restore


_NUMBER = r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def _apply(matrix, x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = matrix
    return a * x + c * y + e, b * x + d * y + f


def _transform_points(text: str, matrix) -> str:
    """``x,y`` pairs (SVG path data of M/L/C/Z, or a polyline's points) mapped through ``matrix``."""
    import re

    def pair(m):
        x, y = _apply(matrix, float(m.group(1)), float(m.group(2)))
        return f"{x:.4f},{y:.4f}"
    return re.sub(rf"({_NUMBER}),({_NUMBER})", pair, text)


def bake_svg_strokes(path: str) -> None:
    """Rewrite QSvgGenerator's non-scaling strokes so every SVG renderer draws them the same.

    Qt writes a scaled group (``transform="matrix(…)"``) whose paths carry
    ``vector-effect="non-scaling-stroke"``; renderers without that feature (cairo /
    cairosvg, librsvg, ImageMagick) scale the stroke with the group — a 2 px line in a
    group scaled 50× becomes a 100 px band. Here the group's matrix is applied to the
    coordinates of its paths and polylines (Qt writes absolute M, L, C, Z commands) and
    the transform and the vector effect are dropped: the same picture, strokes in page
    units, for every renderer. Groups holding anything else (text, images) are left as
    they are.

    Parameters
    ----------
    path : str
        An SVG file written by `_SVGExporter`; rewritten in place.
    """
    import re

    with open(path, encoding="utf-8") as fh:
        svg = fh.read()
    group = re.compile(r"(<g\b[^>]*?)\s+transform=\"matrix\(([^)]*)\)\"([^>]*>)(.*?)(</g>)", re.S)

    def rewrite(m):
        head, numbers, tail, body, end = m.groups()
        if "non-scaling-stroke" not in body or re.search(r"<(?!/?(?:path|polyline|polygon|rect)\b)[a-zA-Z]", body):
            return m.group(0)
        matrix = [float(v) for v in numbers.replace(" ", ",").split(",") if v]
        if len(matrix) != 6 or ("<rect" in body and (matrix[1] or matrix[2])):
            return m.group(0)

        def element(e):
            text = e.group(0).replace(' vector-effect="non-scaling-stroke"', "")
            text = re.sub(r'\bd="([^"]*)"', lambda d: f'd="{_transform_points(d.group(1), matrix)}"', text)
            return re.sub(r'\bpoints="([^"]*)"',
                          lambda p: f'points="{_transform_points(p.group(1), matrix)}"', text)
        def rect(e):
            a, _, _, d, ex, fy = matrix
            get = {k: float(v) for k, v in re.findall(r'\b(x|y|width|height)="([^"]*)"', e.group(0))}
            x0, y0 = a * get.get("x", 0.0) + ex, d * get.get("y", 0.0) + fy
            x1, y1 = x0 + a * get.get("width", 0.0), y0 + d * get.get("height", 0.0)
            attrs = re.sub(r'\s*\b(?:x|y|width|height)="[^"]*"', "", e.group(0))
            attrs = attrs.replace(' vector-effect="non-scaling-stroke"', "").rstrip("/>").rstrip()
            return (f'{attrs} x="{min(x0, x1):.4f}" y="{min(y0, y1):.4f}" width="{abs(x1 - x0):.4f}" '
                    f'height="{abs(y1 - y0):.4f}"/>')
        body = re.sub(r"<(?:path|polyline|polygon)\b[^>]*/>", element, body)
        body = re.sub(r"<rect\b[^>]*/>", rect, body)
        return head + tail + body + end
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(group.sub(rewrite, svg))
