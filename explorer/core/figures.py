"""Image grids without Qt: upscale and tile images, add captions, save labelled PNG/SVG/PDF figures."""

from __future__ import annotations

import base64
import functools
import io
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from explorer.core.export import atomic_path
from explorer.core.pixels import to_uint8

UPSCALE = ("nearest", "smooth")
FIGURE_FORMATS = (".png", ".svg", ".pdf")
SVG_FONT_FAMILY = "DejaVu Sans, Helvetica, Arial, sans-serif"


# -- pixels ------------------------------------------------------------------------------------


def scaled_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """Size ``(H', W')`` of an ``H × W`` image upscaled by ``scale``: each side rounded, at least 1 px."""
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    return max(1, int(round(height * scale))), max(1, int(round(width * scale)))


def scale_images(images, scale: float = 1, upscale: str = "nearest") -> np.ndarray:
    """Convert images to 8-bit channels-last and resize them by ``scale``.

    Parameters
    ----------
    images : array_like, shape (..., C, H, W)
        float in [0, 1] (or uint8), ``C`` 1 (grey) or 3 (RGB); any leading axes.
    scale : float
        Resize factor (> 0); each side becomes ``round(side·scale)`` pixels.
    upscale : {"nearest", "smooth"}
        "nearest" repeats pixels (exact block copies for an integer ``scale``), which
        shows the model's real resolution; "smooth" uses Pillow's Lanczos filter.

    Returns
    -------
    numpy.ndarray
        ``(..., H', W', C)`` uint8.

    Raises
    ------
    ValueError
        Fewer than 3 axes, ``C`` not 1 or 3, ``scale <= 0`` or an unknown ``upscale``.
    """
    a = np.asarray(images)
    if a.ndim < 3 or a.shape[-3] not in (1, 3):
        raise ValueError(f"images must have shape (..., C, H, W) with C = 1 or 3, got {a.shape}")
    if upscale not in UPSCALE:
        raise ValueError(f"upscale must be one of {UPSCALE}, got {upscale!r}")
    h, w = a.shape[-2:]
    h2, w2 = scaled_size(h, w, scale)
    u8 = np.moveaxis(to_uint8(a), -3, -1)  # (..., H, W, C)
    if (h2, w2) == (h, w):
        return np.ascontiguousarray(u8)
    if upscale == "nearest" and h2 % h == 0 and w2 % w == 0 and h2 // h == w2 // w:
        k = h2 // h
        return np.repeat(np.repeat(u8, k, axis=-3), k, axis=-2)
    lead = u8.shape[:-3]
    c = u8.shape[-1]
    flat = u8.reshape(-1, h, w, c)
    out = np.empty((len(flat), h2, w2, c), dtype=np.uint8)
    resample = Image.Resampling.NEAREST if upscale == "nearest" else Image.Resampling.LANCZOS
    for i, img in enumerate(flat):
        pil = Image.fromarray(img[..., 0] if c == 1 else img)
        out[i] = np.asarray(pil.resize((w2, h2), resample=resample)).reshape(h2, w2, c)
    return out.reshape(*lead, h2, w2, c)


def _bg_uint8(bg, channels: int) -> np.ndarray:
    """Background grey level or RGB colour in [0, 1] → uint8 vector of ``channels`` values."""
    b = to_uint8(np.atleast_1d(np.asarray(bg, dtype=np.float32)))
    if b.shape not in ((1,), (3,)):
        raise ValueError(f"bg must be a grey level or an (r, g, b) colour in [0, 1], got {bg!r}")
    return np.broadcast_to(b, (channels,)) if len(b) == 1 else b


def _out_channels(c: int, bg) -> int:
    return 3 if c == 3 or np.size(bg) == 3 else 1


def tile_cells(cells: np.ndarray, pad_px: int = 2, bg=1.0) -> np.ndarray:
    """Tile 8-bit channels-last cells ``(rows, cols, h, w, c)`` into one image with padding.

    Padding of ``pad_px`` pixels in the colour ``bg`` separates the cells and frames the
    grid. Returns ``(rows·h + (rows+1)·pad, cols·w + (cols+1)·pad, c')`` uint8, ``c'`` 3
    if the cells or ``bg`` are RGB, else 1.
    """
    rows, cols, h, w, c = cells.shape
    pad = int(pad_px)
    if pad < 0:
        raise ValueError(f"pad_px must be ≥ 0, got {pad_px}")
    oc = _out_channels(c, bg)
    out = np.empty((rows * h + (rows + 1) * pad, cols * w + (cols + 1) * pad, oc), dtype=np.uint8)
    out[...] = _bg_uint8(bg, oc)
    for i in range(rows):
        y = pad + i * (h + pad)
        for j in range(cols):
            x = pad + j * (w + pad)
            out[y:y + h, x:x + w] = cells[i, j]  # a grey cell broadcasts over RGB
    return out


def tile_images(images, pad_px: int = 2, bg=1.0, scale: float = 1, upscale: str = "nearest") -> np.ndarray:
    """Tile a grid of images into one 8-bit image, each cell upscaled, with padding between.

    Parameters
    ----------
    images : array_like, shape (rows, cols, C, H, W) or (N, C, H, W)
        float in [0, 1] (or uint8), ``C`` 1 or 3; a 4-D array is one row.
    pad_px : int
        Pixels of background between cells and around the grid (after scaling).
    bg : float or (r, g, b)
        Background grey level or colour in [0, 1]; white by default.
    scale : float
        Resize factor of each cell (> 0).
    upscale : {"nearest", "smooth"}
        Resampling, see :func:`scale_images`.

    Returns
    -------
    numpy.ndarray
        ``(H', W', 3)`` uint8 for RGB images or an RGB ``bg``, else ``(H', W', 1)``, with
        ``H' = rows·round(H·scale) + (rows + 1)·pad_px`` and likewise ``W'``.

    Raises
    ------
    ValueError
        Bad shape, ``C`` not 1 or 3, ``scale <= 0``, ``pad_px < 0``, unknown ``upscale``
        or a bad ``bg``.
    """
    a = np.asarray(images)
    if a.ndim == 4:
        a = a[None]
    if a.ndim != 5 or 0 in a.shape[:2]:
        raise ValueError(f"images must have shape (rows, cols, C, H, W), got {a.shape}")
    return tile_cells(scale_images(a, scale, upscale), pad_px, bg)


# -- text --------------------------------------------------------------------------------------


# Preferred label font: DejaVu Sans (on most Linux systems, and matplotlib's default) has
# the minus sign, Greek letters and ×; Pillow's bundled Aileron lacks them.
FONT_FILES = ("DejaVuSans.ttf",)
# Stand-ins for the characters Pillow's bundled font cannot draw.
_ASCII_FALLBACK = str.maketrans({
    "−": "-", "–": "-", "—": "-", "×": "x", "β": "beta", "σ": "sigma", "μ": "mu",
    "Δ": "Delta", "α": "alpha", "γ": "gamma", "λ": "lambda", "±": "+/-",
})


@functools.lru_cache(maxsize=1)
def font_file() -> str | None:
    """The TrueType file used for labels (first of `FONT_FILES` Pillow finds), or None for Pillow's own."""
    for name in FONT_FILES:
        try:
            ImageFont.truetype(name, 10)
        except OSError:
            continue
        return name
    return None


@functools.lru_cache(maxsize=32)
def font(size: int):
    """The label font at ``size`` pixels: DejaVu Sans if installed, else Pillow's bundled font.

    Figures are byte-identical across runs on one machine; another machine without
    DejaVu Sans draws the labels with Pillow's bundled font (and ASCII stand-ins for
    the minus sign and Greek letters).
    """
    name = font_file()
    if name is not None:
        return ImageFont.truetype(name, max(1, int(size)))
    return ImageFont.load_default(size=max(1, int(size)))  # bitmap font if Pillow lacks FreeType


def drawable(text: str) -> str:
    """``text`` with the characters the label font cannot draw replaced by ASCII stand-ins."""
    return text if font_file() is not None else text.translate(_ASCII_FALLBACK)


def _text_width(text: str, fnt) -> float:
    return float(fnt.getlength(drawable(text))) if text else 0.0


def _line_height(fnt) -> tuple[int, int]:
    """(ascent, descent) in pixels."""
    try:
        ascent, descent = fnt.getmetrics()
    except AttributeError:  # pragma: no cover - bitmap font
        box = fnt.getbbox("Ag")
        ascent, descent = box[3], 0
    return int(ascent), int(descent)


def _fit_text(text: str, size: int, max_width: float, min_size: int = 6) -> tuple[str, object]:
    """Shrink the font (down to ``min_size``), then cut the text with "…", until it fits."""
    s = int(size)
    while s > min_size and _text_width(text, font(s)) > max_width:
        s -= 1
    f = font(s)
    if _text_width(text, f) <= max_width:
        return text, f
    while text and _text_width(text + "…", f) > max_width:
        text = text[:-1]
    return (text + "…" if text else ""), f


def _ink(bg_u8: np.ndarray) -> int | tuple[int, int, int]:
    """Black text on a light background, white on a dark one, in the image's mode."""
    v = 0 if float(np.mean(bg_u8)) >= 128 else 255
    return v if len(bg_u8) == 1 else (v, v, v)


def auto_font_size(width: int) -> int:
    """Caption font size in pixels for a frame ``width`` pixels wide: width/20, within 8–24."""
    return int(min(24, max(8, round(width / 20))))


def caption_height(font_size: int) -> int:
    """Height in pixels of the caption band for a font of ``font_size`` pixels."""
    ascent, descent = _line_height(font(font_size))
    return ascent + descent + 2 * max(2, font_size // 3)


def add_caption(image: np.ndarray, text: str, font_size: int | None = None, bg=1.0) -> np.ndarray:
    """Append a band below an 8-bit image with ``text`` centred in it.

    Parameters
    ----------
    image : numpy.ndarray, shape (H, W, c)
        uint8, ``c`` 1 or 3.
    text : str
        Caption; shrunk, then cut with "…", to fit the width.
    font_size : int, optional
        Pixels; default :func:`auto_font_size` of the width. The band's height
        (:func:`caption_height`) depends only on it, so captions of any text give
        frames of the same size.
    bg : float or (r, g, b)
        Band colour in [0, 1]; the text is black on light bands, white on dark ones.

    Returns
    -------
    numpy.ndarray
        ``(H + caption_height(font_size), W, c')`` uint8; ``c'`` 3 if the image or
        ``bg`` is RGB.
    """
    h, w, c = image.shape
    size = auto_font_size(w) if font_size is None else int(font_size)
    oc = _out_channels(c, bg)
    bg_u8 = _bg_uint8(bg, oc)
    band_h = caption_height(size)
    band = Image.new("L" if oc == 1 else "RGB", (w, band_h), int(bg_u8[0]) if oc == 1 else tuple(int(v) for v in bg_u8))
    margin = max(2, size // 3)
    fitted, fnt = _fit_text(str(text), size, w - 2 * margin)
    if fitted:
        ImageDraw.Draw(band).text((w / 2, band_h / 2), drawable(fitted), font=fnt, fill=_ink(bg_u8), anchor="mm")
    band_arr = np.asarray(band).reshape(band_h, w, oc)
    top = np.broadcast_to(image, (h, w, oc)) if c != oc else image
    return np.concatenate([top, band_arr], axis=0)


def add_row_labels(image: np.ndarray, labels, cell_h: int, pad_px: int, font_size: int | None = None,
                   bg=1.0) -> np.ndarray:
    """Prepend a column to a tiled grid with one label per row, centred on the row's cells.

    Parameters
    ----------
    image : numpy.ndarray, shape (H, W, c)
        uint8 grid from :func:`tile_cells` with ``len(labels)`` rows of height ``cell_h``
        separated by ``pad_px`` pixels.
    labels : sequence of str
        One per row, e.g. a traversal's "z[3] ∈ [−2.1, 2.3]".
    cell_h, pad_px : int
        Row height and padding of the grid, in pixels.
    font_size : int, optional
        Pixels; default ``cell_h`` / 4 within 8–18.
    bg : float or (r, g, b)
        Colour of the label column in [0, 1].

    Returns
    -------
    numpy.ndarray
        ``(H, W + label width, c')`` uint8; the label column's width fits the longest label
        (at most 360 pixels; longer labels are shrunk, then cut with "…").
    """
    h, w, c = image.shape
    labels = [str(t) for t in labels]
    size = int(min(18, max(8, cell_h // 4))) if font_size is None else int(font_size)
    fnt = font(size)
    margin = max(3, size // 2)
    width = int(min(360, max((_text_width(t, fnt) for t in labels), default=0) + 2 * margin)) + 1
    oc = _out_channels(c, bg)
    bg_u8 = _bg_uint8(bg, oc)
    col = Image.new("L" if oc == 1 else "RGB", (width, h), int(bg_u8[0]) if oc == 1 else tuple(int(v) for v in bg_u8))
    draw = ImageDraw.Draw(col)
    for i, text in enumerate(labels):
        fitted, f = _fit_text(text, size, width - 2 * margin)
        y = pad_px + i * (cell_h + pad_px) + cell_h / 2
        if fitted:
            draw.text((width - margin, y), drawable(fitted), font=f, fill=_ink(bg_u8), anchor="rm")
    col_arr = np.asarray(col).reshape(h, width, oc)
    body = np.broadcast_to(image, (h, w, oc)) if c != oc else image
    return np.concatenate([col_arr, body], axis=1)


# -- labelled figures ----------------------------------------------------------------------------


def _figure_layout(tile_hw, rows, cols, cell_hw, pad, row_labels, col_labels, title, font_size):
    """Positions (pixels) shared by the raster (PNG/PDF) and vector (SVG) figures."""
    th, tw = tile_hw
    ch, cw = cell_hw
    fnt = font(font_size)
    ascent, descent = _line_height(fnt)
    gap = max(3, font_size // 2)
    margin = max(4, font_size // 2)
    lay = {"font_size": font_size, "texts": []}

    title_size = int(round(font_size * 1.25))
    title_h = 0
    if title:
        t_asc, t_desc = _line_height(font(title_size))
        title_h = t_asc + t_desc + gap
    col_size = font_size
    col_h = 0
    if col_labels is not None:
        widest = max((_text_width(str(s), fnt) for s in col_labels), default=0.0)
        room = max(1, cw - 2)  # keep at least pad + 2 px between neighbouring labels
        if widest > room:
            col_size = max(6, int(font_size * room / widest))
        c_asc, c_desc = _line_height(font(col_size))
        col_h = c_asc + c_desc + gap
    row_w = 0
    if row_labels is not None:
        row_w = int(np.ceil(max((_text_width(str(s), fnt) for s in row_labels), default=0.0))) + gap
    x0 = margin + row_w
    y0 = margin + title_h + col_h
    title_w = _text_width(str(title), font(title_size)) if title else 0.0
    width = max(x0 + tw + margin, int(np.ceil(title_w)) + 2 * margin)
    height = y0 + th + margin
    lay.update(width=int(width), height=int(height), x0=int(x0), y0=int(y0))

    if title:
        t_asc, _ = _line_height(font(title_size))
        lay["texts"].append(dict(text=str(title), x=width / 2, y=margin + t_asc, anchor="middle", size=title_size))
    if col_labels is not None:
        _, c_desc = _line_height(font(col_size))
        for j, s in enumerate(col_labels):
            x = x0 + pad + j * (cw + pad) + cw / 2
            lay["texts"].append(dict(text=str(s), x=x, y=y0 - gap - c_desc, anchor="middle", size=col_size))
    if row_labels is not None:
        for i, s in enumerate(row_labels):
            yc = y0 + pad + i * (ch + pad) + ch / 2
            # Baseline that centres the cap height on the row: half the ascent below the centre.
            lay["texts"].append(dict(text=str(s), x=x0 - gap, y=yc + (ascent - descent) / 2,
                                     anchor="end", size=font_size))
    return lay


_PIL_ANCHOR = {"start": "ls", "middle": "ms", "end": "rs"}


def _png_bytes(arr: np.ndarray, dpi: float | None = None) -> bytes:
    img = Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)
    buf = io.BytesIO()
    img.save(buf, format="PNG", **({"dpi": (dpi, dpi)} if dpi else {}))
    return buf.getvalue()


def render_grid_figure(
    images,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    title: str | None = None,
    *,
    pad_px: int = 2,
    bg=1.0,
    scale: float = 1,
    upscale: str = "nearest",
    font_size: int | None = None,
) -> tuple[Image.Image, dict, np.ndarray]:
    """Lay out and rasterise a labelled grid figure.

    Parameters are those of :func:`save_grid_figure`.

    Returns
    -------
    figure : PIL.Image.Image
        The whole figure ("L" for grey images on a grey background, else "RGB").
    layout : dict
        ``width``, ``height``, ``x0``, ``y0`` (top-left of the tiled images) and
        ``texts`` (each ``text``, ``x``, baseline ``y``, ``anchor`` in
        {"start", "middle", "end"}, font ``size``), all in pixels.
    tile : numpy.ndarray
        The tiled images, ``(H', W', c)`` uint8, as placed at ``(x0, y0)``.
    """
    a = np.asarray(images)
    if a.ndim == 4:
        a = a[None]
    if a.ndim != 5 or 0 in a.shape[:2]:
        raise ValueError(f"images must have shape (rows, cols, C, H, W), got {a.shape}")
    rows, cols = a.shape[:2]
    if row_labels is not None and len(row_labels) != rows:
        raise ValueError(f"{len(row_labels)} row labels given for {rows} rows")
    if col_labels is not None and len(col_labels) != cols:
        raise ValueError(f"{len(col_labels)} column labels given for {cols} columns")
    cells = scale_images(a, scale, upscale)
    ch, cw = cells.shape[2:4]
    tile = tile_cells(cells, pad_px, bg)
    size = int(font_size) if font_size else int(min(24, max(9, round(0.45 * ch))))
    lay = _figure_layout(tile.shape[:2], rows, cols, (ch, cw), int(pad_px), row_labels, col_labels, title, size)
    oc = tile.shape[-1]
    bg_u8 = _bg_uint8(bg, oc)
    fig = Image.new("L" if oc == 1 else "RGB", (lay["width"], lay["height"]),
                    int(bg_u8[0]) if oc == 1 else tuple(int(v) for v in bg_u8))
    fig.paste(Image.fromarray(tile[..., 0] if oc == 1 else tile), (lay["x0"], lay["y0"]))
    draw = ImageDraw.Draw(fig)
    ink = _ink(bg_u8)
    for t in lay["texts"]:
        draw.text((t["x"], t["y"]), drawable(t["text"]), font=font(t["size"]), fill=ink,
                  anchor=_PIL_ANCHOR[t["anchor"]])
    return fig, lay, tile


def _hex(v) -> str:
    """uint8 grey level or RGB → "#rrggbb"."""
    return "#" + "".join(f"{int(x):02x}" for x in np.broadcast_to(np.asarray(v).ravel(), (3,)))


def _svg_document(lay: dict, tile: np.ndarray, bg_u8: np.ndarray, title: str | None, upscale: str) -> str:
    w, h = lay["width"], lay["height"]
    th, tw = tile.shape[:2]
    ink_hex = _hex(np.asarray(_ink(bg_u8)))
    data = base64.b64encode(_png_bytes(tile)).decode("ascii")
    rendering = ' style="image-rendering:pixelated"' if upscale == "nearest" else ""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'version="1.1" width="{w}" height="{h}" viewBox="0 0 {w} {h}">',
    ]
    if title:
        out.append(f"  <title>{escape(str(title))}</title>")
    out.append(f'  <rect x="0" y="0" width="{w}" height="{h}" fill="{_hex(bg_u8)}"/>')
    out.append(
        f'  <image x="{lay["x0"]}" y="{lay["y0"]}" width="{tw}" height="{th}"{rendering} '
        f'xlink:href="data:image/png;base64,{data}"/>'
    )
    out.append(f'  <g font-family={quoteattr(SVG_FONT_FAMILY)} fill="{ink_hex}">')
    for t in lay["texts"]:
        out.append(
            f'    <text x="{t["x"]:.1f}" y="{t["y"]:.1f}" font-size="{t["size"]}" '
            f'text-anchor="{t["anchor"]}">{escape(t["text"])}</text>'
        )
    out.append("  </g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def save_grid_figure(
    path,
    images,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    title: str | None = None,
    *,
    pad_px: int = 2,
    bg=1.0,
    scale: float = 1,
    upscale: str = "nearest",
    font_size: int | None = None,
    dpi: float = 150.0,
) -> Path:
    """Save a grid of images with row labels, column labels and a title as PNG, SVG or PDF.

    The format follows the extension. PNG and PDF are rasters drawn with Pillow (the
    PDF embeds the PNG's pixels at ``dpi``); SVG embeds the tiled images as one base64
    PNG ``<image>`` and writes the labels as ``<text>``, so they stay editable in a
    vector editor. The write is atomic (temp file beside the target, then rename).
    Same inputs give the same bytes (PNG, PDF and SVG carry no timestamps).

    Parameters
    ----------
    path : str or Path
        Target file, ``.png``, ``.svg`` or ``.pdf``.
    images : array_like, shape (rows, cols, C, H, W)
        float in [0, 1] (or uint8), ``C`` 1 or 3; e.g. from ``traversal_grid``.
    row_labels : sequence of str, optional
        One per row, right-aligned left of the grid, e.g. ``"z3 (KL 2.41 nats)"``.
    col_labels : sequence of str, optional
        One per column, centred above it, e.g. the traversal values; their font
        shrinks to fit the column width.
    title : str, optional
        Centred above everything; also the PDF/SVG document title.
    pad_px : int
        Pixels between cells (after scaling).
    bg : float or (r, g, b)
        Background in [0, 1]; text is black on light, white on dark backgrounds.
    scale : float
        Resize factor of each image (> 0).
    upscale : {"nearest", "smooth"}
        Resampling of the images, see :func:`scale_images`.
    font_size : int, optional
        Label size in pixels; default 0.45 × the cell height, within 9–24 px.
    dpi : float
        Resolution recorded in the PNG and used to size the PDF page (pixels per inch).

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    ValueError
        An unknown extension, label counts that do not match the grid, or bad images.
    OSError
        The file could not be written; nothing is left at ``path`` then.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in FIGURE_FORMATS:
        raise ValueError(f"cannot save figure '{path.name}': the extension must be .png, .svg or .pdf")
    fig, lay, tile = render_grid_figure(
        images, row_labels, col_labels, title,
        pad_px=pad_px, bg=bg, scale=scale, upscale=upscale, font_size=font_size,
    )
    with atomic_path(path) as tmp:
        if ext == ".png":
            fig.save(tmp, format="PNG", dpi=(dpi, dpi))
        elif ext == ".pdf":
            # Explicit title and no dates: the temp name and the clock stay out of the file.
            fig.save(tmp, format="PDF", resolution=float(dpi), title=title or path.stem,
                     creationDate=None, modDate=None)
        else:
            bg_u8 = _bg_uint8(bg, tile.shape[-1])
            tmp.write_text(_svg_document(lay, tile, bg_u8, title, upscale), encoding="utf-8")
    return path
