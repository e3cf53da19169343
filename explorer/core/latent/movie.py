"""Write decoded frames as a looping GIF or an H.264 MP4, upscaled and captioned, atomically."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image

from explorer.core.export import atomic_path
from explorer.core.figures import (
    _bg_uint8,
    add_caption,
    add_row_labels,
    auto_font_size,
    scale_images,
    tile_cells,
)
from explorer.core.jobs import JobContext

MOVIE_FORMATS = (".gif", ".mp4")


def prepare_frames(
    frames,
    scale: float = 1,
    upscale: str = "nearest",
    caption: str | Sequence[str] | None = None,
    *,
    pad_px: int = 2,
    bg=1.0,
    font_size: int | None = None,
    ctx: JobContext | None = None,
    row_labels: Sequence[str] | None = None,
) -> np.ndarray:
    """Turn decoded frames into the 8-bit pictures of a movie: upscale, tile, label rows, caption.

    Parameters
    ----------
    frames : array_like, shape (T, C, H, W) or (T, rows, cols, C, H, W)
        float in [0, 1] (or uint8), ``C`` 1 (grey) or 3 (RGB). The 6-D form is a grid
        per frame (e.g. an animated traversal of several dimensions), tiled with
        ``pad_px`` pixels of ``bg`` between and around the cells.
    scale : float
        Resize factor of each image (> 0), integer or not.
    upscale : {"nearest", "smooth"}
        Pixel repetition or Pillow's Lanczos filter (see ``figures.scale_images``).
    caption : str or sequence of T str, optional
        Text burned into a band below the pictures — the same for every frame, or one
        per frame (e.g. the traversed value). The band's height depends on the font
        size only, so all frames have the same size.
    pad_px : int
        Padding of a 6-D grid; unused for 4-D frames.
    bg : float or (r, g, b)
        Padding and caption band colour in [0, 1].
    font_size : int, optional
        Caption size in pixels; default width/20 within 8–24 px.
    ctx : JobContext, optional
        Cancel, checked between frames.
    row_labels : sequence of str, optional
        6-D frames only: one label per grid row, drawn left of it (`figures.add_row_labels`),
        e.g. an animated traversal's dimension and value range.

    Returns
    -------
    numpy.ndarray
        ``(T, H', W', c)`` uint8, ``c`` 1 for grey frames on a grey ``bg``, else 3.

    Raises
    ------
    ValueError
        Bad shapes, no frames, or a caption list of the wrong length.
    """
    a = np.asarray(frames)
    if a.ndim not in (4, 6) or len(a) == 0:
        raise ValueError(f"frames must have shape (T, C, H, W) or (T, rows, cols, C, H, W) with T ≥ 1, got {a.shape}")
    n = len(a)
    captions = None
    if caption is not None and not isinstance(caption, str):
        captions = [str(c) for c in caption]
        if len(captions) != n:
            raise ValueError(f"{len(captions)} captions given for {n} frames")
    scaled = scale_images(a, scale, upscale)  # (T, [rows, cols,] H', W', C)
    if row_labels is not None and (a.ndim != 6 or len(row_labels) != a.shape[1]):
        raise ValueError(f"row_labels needs one label per grid row of 6-D frames, got {len(row_labels)} "
                         f"for frames of shape {a.shape}")
    if a.ndim == 6:
        pics = []
        for f in scaled:
            tiled = tile_cells(f, pad_px, bg)
            if row_labels is not None:
                tiled = add_row_labels(tiled, row_labels, f.shape[2], pad_px, bg=bg)
            pics.append(tiled)
            if ctx is not None:
                ctx.check()
        pics = np.stack(pics)
    else:
        pics = scaled
        if np.size(bg) == 3 and pics.shape[-1] == 1:
            pics = np.repeat(pics, 3, axis=-1)
    if caption is None:
        return np.ascontiguousarray(pics)
    h, w, c = pics.shape[1:]
    size = auto_font_size(w) if font_size is None else int(font_size)
    empty = np.empty((0, w, c), dtype=np.uint8)
    if captions is None:
        band = add_caption(empty, caption, size, bg)
        out = np.empty((n, h + len(band), w, band.shape[-1]), dtype=np.uint8)
        out[:, :h] = pics
        out[:, h:] = band
        return out
    out = None
    for i, text in enumerate(captions):
        band = add_caption(empty, text, size, bg)
        if out is None:
            out = np.empty((n, h + len(band), w, band.shape[-1]), dtype=np.uint8)
        out[i, :h] = pics[i]
        out[i, h:] = band
        if ctx is not None:
            ctx.check()
    return out


# Pixels sampled to build a GIF's shared palette (all of them for small movies).
_PALETTE_SAMPLE = 250_000


def gif_palette(pics: np.ndarray) -> Image.Image:
    """One 256-colour palette for all RGB frames ``(T, H, W, 3)`` uint8 of a GIF.

    Built with Pillow's fast octree quantiser from a regular subsample of all frames'
    pixels (about 250 000). A shared palette does not flicker between frames, lets
    Pillow store only what changed, and is ~10× faster than Pillow's per-frame palettes.
    """
    n, h, w, _ = pics.shape
    step = max(1, int(np.sqrt(n * h * w / _PALETTE_SAMPLE)))
    sub = pics[:, ::step, ::step]
    sample = np.ascontiguousarray(sub.reshape(-1, sub.shape[2], 3))  # frames stacked vertically
    return Image.fromarray(sample).quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)


def _write_gif(target: Path, pics: np.ndarray, fps: float, loop: bool) -> None:
    """Save 8-bit frames ``(T, H, W, c)`` as an animated GIF with Pillow."""
    if pics.shape[-1] == 1:  # grey: lossless with Pillow's grey palette
        images = [Image.fromarray(p[..., 0]) for p in pics]
    else:
        palette = gif_palette(pics)
        images = [Image.fromarray(p).quantize(palette=palette, dither=Image.Dither.NONE) for p in pics]
    extra = {"loop": 0} if loop else {}
    images[0].save(
        target, format="GIF", save_all=True, append_images=images[1:],
        duration=int(round(1000.0 / fps)), **extra,
    )


def _pad_even(pics: np.ndarray, bg) -> np.ndarray:
    """Pad right/bottom by one pixel of ``bg`` where a side is odd (yuv420p needs even sizes)."""
    n, h, w, c = pics.shape
    h2, w2 = h + h % 2, w + w % 2
    if (h2, w2) == (h, w):
        return pics
    out = np.empty((n, h2, w2, c), dtype=np.uint8)
    out[...] = _bg_uint8(bg, c)
    out[:, :h, :w] = pics
    return out


def write_movie(
    path,
    frames,
    fps: float = 10.0,
    scale: float = 1,
    upscale: str = "nearest",
    caption: str | Sequence[str] | None = None,
    loop: bool = True,
    *,
    quality: float = 8.0,
    pad_px: int = 2,
    bg=1.0,
    font_size: int | None = None,
    ctx: JobContext | None = None,
    row_labels: Sequence[str] | None = None,
) -> Path:
    """Write frames as an animated GIF or an H.264 MP4, chosen by the file's extension.

    GIF is written by Pillow: grey frames losslessly with a grey palette; RGB frames
    with one shared 256-colour palette (:func:`gif_palette`, no dithering). MP4 goes
    through imageio-ffmpeg's bundled ffmpeg with libx264 and the yuv420p pixel format
    that players expect; odd frame sizes are padded by one pixel of ``bg``. The file
    is first written beside the target under a temporary name with the same
    extension, then renamed onto it, so a failed or cancelled export leaves no file.

    Parameters
    ----------
    path : str or Path
        Target, ``.gif`` or ``.mp4``.
    frames : array_like, shape (T, C, H, W) or (T, rows, cols, C, H, W)
        float in [0, 1] (or uint8), ``C`` 1 or 3; see :func:`prepare_frames`.
    fps : float
        Frames per second (> 0). GIF stores delays in hundredths of a second, so the
        rate is rounded to that; browsers slow down delays under 20 ms (fps > 50).
    scale : float
        Resize factor of each image (> 0), e.g. 10 for 28 px images → 280 px.
    upscale : {"nearest", "smooth"}
        Pixel repetition (shows the model's true resolution) or Lanczos.
    caption : str or sequence of T str, optional
        Text in a band below the frames, see :func:`prepare_frames`.
    loop : bool
        GIF: loop forever (True) or play once. MP4 has no loop flag; players decide.
    quality : float
        MP4 quality 0–10 (imageio-ffmpeg's scale, mapped to x264 CRF 51·(1 − q/10));
        8 is visually lossless for small images. Ignored for GIF.
    pad_px, bg, font_size, row_labels
        See :func:`prepare_frames`.
    ctx : JobContext, optional
        Progress (fraction of frames encoded) and cancel.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    ValueError
        An unknown extension, bad frames, ``fps <= 0`` or ``quality`` outside 0–10.
    explorer.core.jobs.Cancelled
        The job was cancelled; nothing is left at ``path``.
    OSError, RuntimeError
        The file could not be written or ffmpeg failed; nothing is left at ``path``.

    Notes
    -----
    Pillow merges consecutive identical GIF frames into one frame with their summed
    delay, so a GIF of a traversal that does not change the image can hold fewer
    frames than ``T`` while playing for the same time.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in MOVIE_FORMATS:
        raise ValueError(f"cannot write movie '{path.name}': the extension must be .gif or .mp4")
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    if ext == ".mp4" and not 0 <= quality <= 10:
        raise ValueError(f"MP4 quality must lie in 0–10, got {quality}")
    pics = prepare_frames(frames, scale, upscale, caption, pad_px=pad_px, bg=bg, font_size=font_size, ctx=ctx,
                          row_labels=row_labels)
    n, h, w, c = pics.shape
    with atomic_path(path) as tmp:
        if ext == ".gif":
            _write_gif(tmp, pics, fps, loop)
            if ctx is not None:
                ctx.progress(1.0, f"wrote {n} frames to {path.name}")
        else:
            pics = _pad_even(pics, bg)
            h, w = pics.shape[1:3]
            writer = imageio_ffmpeg.write_frames(
                str(tmp),
                (w, h),
                pix_fmt_in="gray" if c == 1 else "rgb24",
                pix_fmt_out="yuv420p",
                fps=float(fps),
                quality=float(quality),
                codec="libx264",
                macro_block_size=2,
                ffmpeg_log_level="error",
                output_params=["-movflags", "+faststart"],
            )
            try:
                writer.send(None)  # start ffmpeg
                for i, pic in enumerate(pics):
                    writer.send(np.ascontiguousarray(pic))
                    if ctx is not None:
                        ctx.progress((i + 1) / n, f"encoded {i + 1} / {n} frames")
            finally:
                writer.close()
    return path
