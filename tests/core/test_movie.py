"""Tests for explorer.core.latent.movie (GIF/MP4) and explorer.core.figures (tiles, PNG/SVG/PDF figures)."""

import base64
import io
import warnings
import xml.etree.ElementTree as ET

import imageio.v3 as iio
import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from explorer.core.figures import (
    auto_font_size,
    caption_height,
    render_grid_figure,
    save_grid_figure,
    scale_images,
    tile_images,
    to_uint8,
)
from explorer.core.jobs import Cancelled, JobContext
from explorer.core.latent.movie import prepare_frames, write_movie

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"


def grey_frames(t=6, h=7, w=5):
    """Distinct grey frames whose levels are exact multiples of 1/255."""
    rng = np.random.default_rng(0)
    return (rng.integers(0, 256, size=(t, 1, h, w)) / 255.0).astype(np.float32)


def rgb_frames(t=5, h=8, w=6):
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    frames = [np.stack([yy, xx, np.full_like(xx, k / t)]) for k in range(t)]
    return np.array(frames, dtype=np.float32)


def read_mp4(path):
    gen = imageio_ffmpeg.read_frames(str(path))
    meta = next(gen)
    w, h = meta["size"]
    with warnings.catch_warnings():
        # imageio-ffmpeg 0.8 leaves ffmpeg's stdin/stdout pipes open once the video ends (pyproject.toml)
        warnings.filterwarnings("ignore", r"unclosed file <_io\.Buffered(Reader|Writer) name=\d+>", ResourceWarning)
        frames = [np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in gen]
    return meta, np.array(frames)


def no_leftovers(folder, keep=()):
    return sorted(p.name for p in folder.iterdir() if p.name not in keep) == []


# -- figures: pixels and tiles -------------------------------------------------------------------


def test_to_uint8_rounds_and_clips():
    assert to_uint8(np.array([-0.5, 0.0, 0.5, 1.0, 2.0, np.nan])).tolist() == [0, 0, 128, 255, 255, 0]


def test_scale_images_nearest_and_smooth_sizes():
    f = grey_frames(2)
    near = scale_images(f, 3)
    assert near.shape == (2, 21, 15, 1)
    assert np.array_equal(near[..., 0], np.repeat(np.repeat(to_uint8(f[:, 0]), 3, 1), 3, 2))
    assert scale_images(f, 1.5).shape == (2, 10, 8, 1)  # round(10.5) = 10 (half to even), round(7.5) = 8
    smooth = scale_images(rgb_frames(2), 2.5, "smooth")
    assert smooth.shape == (2, 20, 15, 3) and smooth.dtype == np.uint8
    with pytest.raises(ValueError):
        scale_images(f, 2, "bicubic")


def test_tile_images_layout():
    cells = np.zeros((2, 3, 1, 4, 5), np.float32)
    cells[1, 2] = 1.0
    tile = tile_images(cells, pad_px=2, bg=0.5, scale=2)
    assert tile.shape == (2 * 8 + 3 * 2, 3 * 10 + 4 * 2, 1)
    assert tile[0, 0, 0] == 128 and tile[2, 2, 0] == 0  # padding, then the first cell
    y, x = 2 + 8 + 2, 2 + 2 * (10 + 2)
    assert np.all(tile[y:y + 8, x:x + 10] == 255) and tile[y - 1, x, 0] == 128
    assert tile_images(cells, bg=(1.0, 0.0, 0.0)).shape[-1] == 3  # a coloured background makes RGB


# -- figures: PNG / SVG / PDF ----------------------------------------------------------------------


@pytest.fixture
def grid():
    return np.random.default_rng(3).random((3, 4, 1, 6, 6), dtype=np.float32)


LABELS = dict(row_labels=["z3 (KL 2.41 nats)", "z0 (KL 1.02 nats)", "z1 (KL 0.01 nats)"],
              col_labels=["−2.00", "−0.67", "+0.67", "+2.00"], title="Traversals <β-VAE & co>")


def test_png_figure_size_and_determinism(tmp_path, grid):
    fig, lay, tile = render_grid_figure(grid, **LABELS, scale=4)
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    save_grid_figure(a, grid, **LABELS, scale=4)
    save_grid_figure(b, grid, **LABELS, scale=4)
    assert a.read_bytes() == b.read_bytes()
    with Image.open(a) as im:
        assert im.format == "PNG" and im.size == (lay["width"], lay["height"])
        arr = np.asarray(im)
    # The tiled images sit unchanged at (x0, y0), left of them the row labels have ink.
    y0, x0 = lay["y0"], lay["x0"]
    assert np.array_equal(arr[y0:y0 + tile.shape[0], x0:x0 + tile.shape[1]], tile[..., 0])
    assert arr[y0:, :x0].min() < 128
    assert no_leftovers(tmp_path, keep={"a.png", "b.png"})


def test_svg_figure_is_well_formed_with_text_labels(tmp_path, grid):
    path = save_grid_figure(tmp_path / "fig.svg", grid, **LABELS, scale=4)
    root = ET.parse(path).getroot()
    assert root.tag == SVG + "svg"
    texts = [t.text for t in root.iter(SVG + "text")]
    assert texts == [LABELS["title"], *LABELS["col_labels"], *LABELS["row_labels"]]
    (image,) = root.iter(SVG + "image")
    href = image.get(XLINK + "href")
    assert href.startswith("data:image/png;base64,")
    embedded = np.asarray(Image.open(io.BytesIO(base64.b64decode(href.split(",", 1)[1]))))
    _, lay, tile = render_grid_figure(grid, **LABELS, scale=4)
    assert np.array_equal(embedded, tile[..., 0])
    assert (int(image.get("x")), int(image.get("y"))) == (lay["x0"], lay["y0"])


def test_pdf_figure(tmp_path, grid):
    a = save_grid_figure(tmp_path / "fig.pdf", grid, **LABELS, scale=2)
    data = a.read_bytes()
    assert data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF")
    assert b"fig.pdf." not in data  # the temp file's name is not the document title
    b = save_grid_figure(tmp_path / "again.pdf", grid, **LABELS, scale=2)
    assert b.read_bytes() == data  # no timestamps


def test_rgb_figure_without_labels(tmp_path):
    path = save_grid_figure(tmp_path / "rgb.png", rgb_frames(4)[None], scale=2, upscale="smooth")
    with Image.open(path) as im:
        assert im.mode == "RGB"


def test_figure_errors_leave_no_file(tmp_path, grid):
    with pytest.raises(ValueError, match="fig.jpg"):
        save_grid_figure(tmp_path / "fig.jpg", grid)
    with pytest.raises(ValueError):
        save_grid_figure(tmp_path / "fig.png", grid, row_labels=["only one"])
    assert no_leftovers(tmp_path)


# -- movies ------------------------------------------------------------------------------------------


def test_grey_gif_pixels_equal_the_nearest_upscaled_input(tmp_path):
    frames = grey_frames()
    path = write_movie(tmp_path / "m.gif", frames, fps=20, scale=3)
    props = iio.improps(path, index=None)
    assert props.n_images == 6
    back = iio.imread(path, index=None)
    assert back.shape[:3] == (6, 21, 15)
    expected = np.repeat(np.repeat(to_uint8(frames[:, 0]), 3, axis=1), 3, axis=2)
    assert np.array_equal(back[..., 0], expected)
    meta = iio.immeta(path, index=0)
    assert meta["loop"] == 0 and meta["duration"] == 50
    assert "loop" not in iio.immeta(write_movie(tmp_path / "once.gif", frames, loop=False), index=0)
    assert no_leftovers(tmp_path, keep={"m.gif", "once.gif"})


def test_gif_with_caption_band_and_float_scale(tmp_path):
    frames = grey_frames(4, 10, 20)
    path = write_movie(tmp_path / "c.gif", frames, fps=10, scale=2.5, upscale="smooth",
                       caption=[f"z2 = {v:+.1f}" for v in range(4)])
    back = iio.imread(path, index=None)
    band = caption_height(auto_font_size(50))
    assert back.shape[:3] == (4, 25 + band, 50)
    assert back[:, 25:].min() < 100  # some ink in the band


def test_rgb_gif_round_trip(tmp_path):
    frames = rgb_frames()
    path = write_movie(tmp_path / "rgb.gif", frames, scale=2, caption="slerp")
    back = iio.imread(path, index=None)
    h = 16 + caption_height(auto_font_size(12))
    assert back.shape == (5, h, 12, 3)
    expected = scale_images(frames, 2)
    err = np.abs(back[:, :16].astype(int) - expected.astype(int))
    assert err.max() <= 8  # a shared 256-colour palette holds these few colours almost exactly


def test_grid_frames_are_tiled(tmp_path):
    frames = np.stack([grey_frames(3)] * 2, axis=1)[:, :, None]  # (T, rows=2, cols=1, C, H, W)
    pics = prepare_frames(frames, scale=2, pad_px=1)
    assert pics.shape == (3, 2 * 14 + 3, 10 + 2, 1)


def test_mp4_frame_count_and_even_size(tmp_path):
    frames = grey_frames(8, 7, 5)
    path = write_movie(tmp_path / "m.mp4", frames, fps=12, scale=3, caption="lerp")
    meta, back = read_mp4(path)
    h = 21 + caption_height(auto_font_size(15))
    assert back.shape == (8, h + h % 2, 16, 3)  # padded to even sides for yuv420p
    assert meta["fps"] == pytest.approx(12)
    # H.264 at quality 8 keeps flat 3×3 blocks close to the input.
    expected = np.repeat(np.repeat(to_uint8(frames[:, 0]), 3, 1), 3, 2).astype(int)
    assert np.abs(back[:, :21, :15, 0].astype(int) - expected).mean() < 12
    assert no_leftovers(tmp_path, keep={"m.mp4"})


def test_mp4_rgb_smooth(tmp_path):
    path = write_movie(tmp_path / "rgb.mp4", rgb_frames(4, 9, 9), scale=2.0, upscale="smooth")
    _, back = read_mp4(path)
    assert back.shape == (4, 18, 18, 3)


def test_unknown_extension(tmp_path):
    with pytest.raises(ValueError, match="m.avi"):
        write_movie(tmp_path / "m.avi", grey_frames())
    assert no_leftovers(tmp_path)


@pytest.mark.parametrize("name", ["m.mp4", "m.gif"])
def test_cancelled_write_leaves_no_partial_file(tmp_path, name):
    target = tmp_path / name
    target.write_bytes(b"previous export")
    ctx = JobContext(on_progress=lambda fraction, message: ctx.cancel() if fraction >= 0.25 else None)
    with pytest.raises(Cancelled):
        write_movie(target, grey_frames(8), ctx=ctx)
    assert target.read_bytes() == b"previous export"
    assert no_leftovers(tmp_path, keep={name})


def test_failed_write_leaves_no_partial_file(tmp_path):
    with pytest.raises(ValueError):
        write_movie(tmp_path / "m.gif", grey_frames(3), caption=["one", "two"])
    with pytest.raises(ValueError):
        write_movie(tmp_path / "m.mp4", grey_frames(3)[:, :, :, :, None])
    assert no_leftovers(tmp_path)


def test_labels_fall_back_to_pillows_bundled_font(tmp_path, grid, monkeypatch):
    import explorer.core.figures as figures

    monkeypatch.setattr(figures, "font_file", lambda: None)
    monkeypatch.setattr(figures, "font", figures.font.__wrapped__)  # uncached: no DejaVu instances
    assert figures.drawable("−2.00 β") == "-2.00 beta"
    path = save_grid_figure(tmp_path / "f.png", grid, **LABELS, scale=4)
    with Image.open(path) as im:
        assert im.size[0] > 4 * 6 * 4
