"""The Compare view in the window: small multiples of the open models, linked hover and selection."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tests.gui.windows import N_IMAGES, open_and_wait, save_vae  # noqa: E402


@pytest.fixture
def three_models(make_window, qtbot, tmp_path, data_file):
    paths = [save_vae(tmp_path / f"model_{n}.pt", latent_dim=d, seed=s) for n, d, s in
             (("a", 4, 1), ("b", 2, 2), ("c", 3, 3))]
    window = make_window()
    open_and_wait(qtbot, window, data_file, paths)
    qtbot.waitUntil(lambda: all(m.embedding is not None for m in window.session.models)
                    and not window.runner.running_kinds(), timeout=20_000)
    return window


def _hover_xy(view):
    x, y = view._hover_item.getData()
    return None if len(x) == 0 else (float(x[0]), float(y[0]))


def test_compare_mode_shows_every_model_titled_and_aligned(three_models, qtbot):
    window = three_models
    window.compare_action.trigger()
    assert window.session.compare_mode and window.central.currentWidget() is window.compare_view
    views = window.compare_view.views
    assert len(views) == 3
    panels = window.compare_presenter.panels
    for view, panel, m in zip(views, panels, window.session.models, strict=True):
        title = view.plot_item.titleLabel.text
        assert m.name in title and f"d = {m.entry.model.latent_dim}" in title
        assert view.point_count == N_IMAGES
        np.testing.assert_allclose(view._xy, panel.embedding)
    assert "Procrustes-aligned" in views[1].plot_item.titleLabel.text
    window.compare_action.trigger()
    assert not window.session.compare_mode and window.central.currentWidget() is window.view


def test_hover_in_one_view_rings_the_same_image_in_all_and_shows_reconstructions(three_models, qtbot):
    window = three_models
    window.session.set_compare_mode(True)
    views = window.compare_view.views
    panels = window.compare_presenter.panels
    views[1].hovered.emit(17)  # what the view emits when the cursor is over its point 17
    assert window.session.hovered == 17
    for view, panel in zip(views, panels, strict=True):
        assert _hover_xy(view) == pytest.approx(tuple(panel.embedding[17]))
    strip = window.compare_view.strip
    qtbot.waitUntil(lambda: strip.count == 1 + 3, timeout=2000)  # once the cursor rests
    assert window.hover_preview.index() == 17
    views[1].hovered.emit(-1)
    assert window.session.hovered == -1 and all(_hover_xy(v) is None for v in views)


def test_selection_in_one_view_selects_the_same_images_in_all(three_models, qtbot):
    window = three_models
    window.session.set_compare_mode(True)
    views = window.compare_view.views
    picked = np.array([3, 40, 41, 200])
    views[2].set_selection(picked)  # as a lasso would: the view emits selection_changed
    np.testing.assert_array_equal(window.session.selection, picked)
    for view in views:
        np.testing.assert_array_equal(view.selection, picked)


def test_one_colouring_for_all_views(three_models, qtbot):
    window = three_models
    s = window.session
    s.set_compare_mode(True)
    src = s.models[2]
    s.run(s.kmeans(src.key, "latent", 3, 0))
    window.compare_view.colour_model_requested.emit(src.key)
    s.set_colour("cluster")
    for view, panel in zip(window.compare_view.views, window.compare_presenter.panels, strict=True):
        col = s.compare_colouring(panel)
        np.testing.assert_array_equal(col.categories, src.clustering.labels)
        # the same image has the same colour in every view
        np.testing.assert_array_equal(view._colors, window.compare_view.views[0]._colors)


def test_synced_interpolation_plays_every_model_and_exports_one_movie(three_models, qtbot, tmp_path):
    from PIL import Image

    window = three_models
    s = window.session
    s.set_compare_mode(True)
    assert not window.compare_view.invert_button.isVisible()  # no GAN on prior samples here
    iv = window.compare_view.interpolation
    window.compare_view.tabs.setCurrentWidget(iv)
    s.select([5, 60])
    iv.frames_spin.setValue(12)
    assert s.settings["interpolation"]["frames"] == 12
    iv.build_button.click()
    assert len(iv.runs) == 3 and all(r.frames.shape == (12, 1, 28, 28) for r in iv.runs)
    assert iv.slider.maximum() == 11 and iv.play_button.isEnabled()
    iv.slider.setValue(11)  # the last frame of each model is its reconstruction of image 60
    m = s.models[1].entry.model
    import torch

    with torch.no_grad():
        end = m.decode(torch.from_numpy(s.models[1].codes.z[60:61])).numpy()[0]
    np.testing.assert_allclose(iv.runs[1].frames[11], end, atol=1e-5)
    out = tmp_path / "synced.gif"
    window.compare_presenter.export_interpolation(str(out))
    qtbot.waitUntil(lambda: out.exists() and not window.runner.running_kinds(), timeout=20_000)
    with Image.open(out) as gif:
        assert gif.n_frames == 12
        assert gif.size[0] >= 3 * 28 * 4  # three models side by side at 4x


def test_scorecard_tab_shows_the_table_marks_the_best_and_exports(three_models, qtbot, tmp_path):
    window = three_models
    s = window.session
    s.set_compare_mode(True)
    sv = window.compare_view.scorecard
    window.compare_view.tabs.setCurrentWidget(sv)
    sv.n_spin.setValue(120)
    sv.precisions_edit.setText("float32 4bit")
    sv.compute_button.click()
    qtbot.waitUntil(lambda: s.scorecard is not None and not window.runner.running_kinds(), timeout=60_000)
    card = s.scorecard["card"]
    assert sv.table.columnCount() == 3 and sv.table.rowCount() == len(card.columns)  # a row per measurement
    j = card.column("clustering.v_measure")
    for i in range(3):
        cell = card.cells[i][j]
        item = sv.table.item(j, i)
        assert item.text().startswith(f"{cell.value:.4f}") and item.font().bold() == cell.best
    assert "120" in sv.notes.text()
    assert any("4bit" in sv.table.verticalHeaderItem(k).text() for k in range(sv.table.rowCount()))
    header = sv.table.verticalHeader()  # the whole name and units show, wrapped, not cut at the header's width
    for k, c in enumerate(card.columns):
        text = sv.table.verticalHeaderItem(k).text()
        assert text.replace("\n", " ") == c.name + (f" ({c.detail})" if c.detail else "")
        lines = text.split("\n")
        assert max(header.fontMetrics().horizontalAdvance(line) for line in lines) <= header.width()
        assert header.sectionSize(k) >= len(lines) * header.fontMetrics().height()
    window.grab().save(str(tmp_path / "scorecard.png"))
    window.compare_presenter.export_scorecard(str(tmp_path / "t.tex"))
    tex = (tmp_path / "t.tex").read_text()
    assert "\\toprule" in tex and sv.notes.text() == f"Wrote {tmp_path / 't.tex'}."
    sv.precisions_edit.setText("float33")
    sv.compute_button.click()
    assert sv.notes.text().startswith("Precision:")


def test_same_images_tab_shows_every_models_reconstructions_and_one_rd_plot(three_models, qtbot):
    window = three_models
    s = window.session
    s.set_compare_mode(True)
    window.compare_view.scorecard.n_spin.setValue(60)
    window.compare_view.scorecard.compute_button.click()
    qtbot.waitUntil(lambda: s.scorecard is not None and not window.runner.running_kinds(), timeout=60_000)
    si = window.compare_view.same_images
    si.n_show.setValue(5)
    page = si.page.pixmap()
    assert page is not None and not page.isNull() and "first 5 of the scorecard's 60 images" in si.status.text()
    assert page.height() > 4 * 28 * 3  # originals + three models' rows
    si.rd_n.setValue(30)
    si.rd_button.click()
    qtbot.waitUntil(lambda: "rd" in s.scorecard and not window.runner.running_kinds(), timeout=60_000)
    rows = s.scorecard["rd"]
    models = {r["model"] for r in rows if r["method"] == "latent"}
    assert len(models) == 3 and {r["method"] for r in rows} >= {"latent", "jpeg"}
    # one compression ratio for every model: original image bits / code bits
    for r in rows:
        if r["method"] == "latent" and r["setting"] == "float32":
            d = next(m.entry.model.latent_dim for m in s.models if m.name in r["model"])
            assert r["ratio"] == pytest.approx(28 * 28 * 8 / (32 * d))
    plots = [item for item in si.rd_plot.ci.items if hasattr(item, "listDataItems")]
    assert len(plots) == 2 and len(plots[0].listDataItems()) >= 4  # three models + JPEG
