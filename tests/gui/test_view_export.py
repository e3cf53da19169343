"""SVG and PDF exports render like the PNG outside Qt (cairosvg, pdfium); PNG size/dpi; overlays optional."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import io  # noqa: E402
import stat  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from explorer.gui.colors import label_colors  # noqa: E402
from explorer.gui.view_export import bake_svg_strokes, export_view, png_scale  # noqa: E402


def _figure(view, n=10_000):
    rng = np.random.default_rng(0)
    lab = rng.integers(0, 10, n)
    xy = rng.normal(size=(n, 2)) + lab[:, None] * 0.3
    colors, legend = label_colors(lab, [f"class {i}" for i in range(10)])
    view.resize(800, 600)
    view.set_points(xy, colors, legend=legend)
    view.set_marker_point(xy[5], "#5")  # the slider star
    view.set_overlay_path(xy[:4])  # an interpolation path
    view.flush()
    return xy


def _rgb(data_or_path, size=None) -> np.ndarray:
    im = Image.open(data_or_path if not isinstance(data_or_path, bytes) else io.BytesIO(data_or_path))
    im = im.convert("RGB")
    if size is not None and im.size != size:
        im = im.resize(size)
    return np.asarray(im, dtype=np.float64)


def _dark_fraction(rgb: np.ndarray) -> float:
    return float((rgb.mean(axis=2) < 60).mean())


@pytest.mark.parametrize("glyph_threshold", [30_000, 100])  # points drawn as glyphs, and as a raster layer
def test_svg_and_pdf_render_like_the_png_outside_qt(embedding_view, tmp_path, glyph_threshold):
    import cairosvg
    import pypdfium2 as pdfium

    view = embedding_view
    view.glyph_threshold = glyph_threshold
    _figure(view)
    png = _rgb(export_view(view, tmp_path / "v.png"))
    size = (png.shape[1], png.shape[0])
    svg_path = export_view(view, tmp_path / "v.svg")
    with open(svg_path, encoding="utf-8") as fh:
        text = fh.read()
    # 10,000 points are one embedded image, not 10,000 paths; no stroke effect other renderers ignore
    assert text.count("<image") == 1 and text.count("<path") < 200 and "non-scaling-stroke" not in text
    assert os.path.getsize(svg_path) < 1_500_000
    svg = _rgb(cairosvg.svg2png(url=str(svg_path)), size)
    pdf_doc = pdfium.PdfDocument(str(export_view(view, tmp_path / "v.pdf")))
    pdf = np.asarray(pdf_doc[0].render(scale=96 / 72).to_pil().convert("RGB").resize(size), dtype=np.float64)
    pdf_doc.close()
    for name, img in (("svg via cairosvg", svg), ("pdf via pdfium", pdf)):
        # no black bands where the path and the star are (what unbaked strokes gave), same picture
        assert abs(_dark_fraction(img) - _dark_fraction(png)) < 0.01, name
        assert np.abs(img - png).mean() < 8.0, name


def test_baking_moves_the_group_transform_into_the_coordinates(tmp_path):
    path = tmp_path / "t.svg"
    path.write_text('<svg xmlns="http://www.w3.org/2000/svg"><g fill="none" stroke-width="2" '
                    'transform="matrix(10,0,0,-10,100,50)"><path vector-effect="non-scaling-stroke" '
                    'd="M1,2 L3,-1 "/><polyline fill="none" vector-effect="non-scaling-stroke" points="0,0 1,1 "/>'
                    '<rect vector-effect="non-scaling-stroke" x="1" y="1" width="2" height="1"/>'
                    '</g><g transform="matrix(2,0,0,2,0,0)"><text>keep</text></g></svg>')
    bake_svg_strokes(str(path))
    out = path.read_text()
    assert 'd="M110.0000,30.0000 L130.0000,60.0000 "' in out  # (10x + 100, -10y + 50)
    assert 'points="100.0000,50.0000 110.0000,40.0000 "' in out
    assert 'x="110.0000" y="30.0000" width="20.0000" height="10.0000"' in out
    assert "non-scaling-stroke" not in out and out.count("transform=") == 1  # the text group keeps its own


def test_png_at_a_width_in_mm_and_dpi_records_the_dpi(embedding_view, tmp_path):
    view = embedding_view
    _figure(view, 2000)
    scale = png_scale(view, width_mm=85, dpi=300)
    out = export_view(view, tmp_path / "fig.png", scale, dpi=300)
    with Image.open(out) as im:
        assert abs(im.size[0] - 85 / 25.4 * 300) <= 1
        assert tuple(round(v) for v in im.info["dpi"]) == (300, 300)
    assert stat.S_IMODE(os.stat(out).st_mode) & 0o044  # readable by others, as an ordinary new file
    with pytest.raises(ValueError, match="millimetres"):
        png_scale(view, width_mm=float("nan"), dpi=300)
    with pytest.raises(ValueError, match="at most 20,000"):
        png_scale(view, width_mm=2000, dpi=1200)


def test_overlays_can_be_left_out(embedding_view, tmp_path):
    view = embedding_view
    _figure(view, 500)
    with_star = _rgb(export_view(view, tmp_path / "a.png"))
    without = _rgb(export_view(view, tmp_path / "b.png", overlays=False))
    assert _dark_fraction(without) < _dark_fraction(with_star)
    assert view._marker_item.isVisible() and view._path_item.isVisible()  # the view is as it was


def test_file_export_asks_the_png_size_and_writes_it(make_window, qtbot, tmp_path, data_file, vae_file, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from explorer.gui import window_files
    from tests.gui.windows import open_and_wait

    window = make_window()
    open_and_wait(qtbot, window, data_file, [vae_file])
    target = tmp_path / "out" / "fig.png"
    target.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    asked = []
    monkeypatch.setattr(window_files, "png_size_dialog",
                        lambda parent, settings: asked.append(1) or {"width_mm": 85.0, "dpi": 300.0})
    window.files.export_dialog()
    assert asked == [1]
    with Image.open(target) as im:
        assert abs(im.size[0] - round(85 / 25.4 * 300)) <= 1 and round(im.info["dpi"][0]) == 300
    assert window.settings.value("paths/last_export_dir") == str(target.parent)
    svg = tmp_path / "out" / "fig.svg"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(svg), ""))
    window.files.export_dialog()
    assert asked == [1] and svg.exists()  # no size question for a vector file


def test_every_export_dialog_starts_in_the_last_export_folder(make_window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from explorer.gui import dialogs

    asked = []

    def fake(parent, title, start, file_filter):
        asked.append(start)
        return str(tmp_path / "figs" / "x.png"), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", fake)
    (tmp_path / "figs").mkdir()
    window = make_window()
    dialogs.set_export_folder(None)
    assert dialogs.ask_save_path(window, "Export grid", "grid.png", "PNG (*.png)") == str(tmp_path / "figs" / "x.png")
    assert asked[-1] == "grid.png"
    dialogs.ask_save_path(window, "Export traversal", "traversal.png", "PNG (*.png)")
    assert asked[-1] == str(tmp_path / "figs" / "traversal.png")  # another panel, the same folder
    window.save_settings()
    assert window.settings.value("paths/last_export_dir") == str(tmp_path / "figs")
    dialogs.set_export_folder(None)
    window2 = make_window()  # the same settings file: the folder comes back
    assert dialogs.export_folder() == str(tmp_path / "figs") and window2 is not None
