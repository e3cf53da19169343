"""The window over the Session: the defects of the window-as-session, session files from the File menu, figures."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QRectF  # noqa: E402
from PySide6.QtGui import QColor  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from tests.gui.windows import N_IMAGES, open_and_wait, save_vae  # noqa: E402


@pytest.fixture
def two_models(make_window, qtbot, tmp_path, data_file):
    """A window with model A (d = 4) and model B (d = 2) open; A active."""
    a = save_vae(tmp_path / "model_a.pt", latent_dim=4, seed=1)
    b = save_vae(tmp_path / "model_b.pt", latent_dim=2, seed=2)
    window = make_window()
    open_and_wait(qtbot, window, data_file, [a, b])
    qtbot.waitUntil(lambda: all(m.embedding is not None for m in window.session.models)
                    and not window.runner.running_kinds(), timeout=20_000)
    return window, a, b


def _activate(qtbot, window, path):
    row = [m.path for m in window.session.models].index(path)
    window.model_panel.model_list.setCurrentRow(row)  # the user clicks the model
    qtbot.waitUntil(lambda: window.active_entry is not None and window.active_entry.path == path
                    and window.shown_codes is window.active_entry.codes, timeout=15_000)


def _wait_idle(qtbot, window, timeout=20_000):
    qtbot.waitUntil(lambda: not window.runner.running_kinds(), timeout=timeout)


# ---------------------------------------------------------------------------- defects of the window-as-session


def test_model_list_is_in_command_line_order(two_models):
    window, a, b = two_models
    assert [window.model_panel.model_list.item(i).text().split("\n")[0]
            for i in range(window.model_panel.model_list.count())][:2] == [a.name, b.name]
    assert [m.path for m in window.session.models] == [a, b]


def test_clustering_caption_describes_the_active_model_after_switching(two_models, qtbot):
    window, a, b = two_models
    window.run_kmeans("latent", 3, 0)
    _wait_idle(qtbot, window)
    scores_a = window.clustering_result().scores
    assert "d = 4" in window.clustering_panel.result_line()
    _activate(qtbot, window, b)
    assert window.clustering_result() is None and window.clustering_panel.result() is None
    window.run_kmeans("latent", 3, 0)
    _wait_idle(qtbot, window)
    assert "d = 2" in window.clustering_panel.result_line()
    _activate(qtbot, window, a)  # back to A: its scores, under its own space
    line = window.clustering_panel.result_line()
    assert "d = 4" in line and "d = 2" not in line
    assert window.clustering_panel.result().scores == scores_a


def _held(monkeypatch, module, name):
    """Make ``module.name`` wait until released: returns (started, release) events."""
    release, started = threading.Event(), threading.Event()
    real = getattr(module, name)

    def slow(*args, **kwargs):
        started.set()
        release.wait(20)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, slow)
    return started, release


def test_kmeans_running_when_switching_lands_on_its_model(two_models, qtbot, monkeypatch):
    import explorer.core.clustering as clustering

    window, a, b = two_models
    started, release = _held(monkeypatch, clustering, "cluster")
    window.run_kmeans("latent", 3, 0)
    qtbot.waitUntil(started.is_set, timeout=10_000)
    _activate(qtbot, window, b)
    assert not window.clustering_panel.is_busy()  # B runs no k-means of its own
    release.set()
    _wait_idle(qtbot, window)
    state_a = window.session.state(str(a.resolve()))
    assert state_a.clustering is not None and state_a.clustering.k == 3  # not dropped
    assert window.clustering_result() is None  # and not shown on B
    _activate(qtbot, window, a)
    assert window.clustering_panel.result() is state_a.clustering


def test_a_projection_of_one_model_is_not_shown_as_busy_on_the_other(two_models, qtbot, monkeypatch):
    import explorer.core.embedding as emb

    window, a, b = two_models
    started, release = _held(monkeypatch, emb, "project_cached")
    from explorer.core.projection import ProjectionSpec

    window.request_projection(ProjectionSpec("pca", seed=3))  # not cached: a job of model A
    qtbot.waitUntil(started.is_set, timeout=10_000)
    assert window.projection_panel.compute_button.text() == "Restart"
    _activate(qtbot, window, b)
    assert window.projection_panel.compute_button.text() == "Compute"
    assert not window.projection_panel.status_text().startswith("Computing")
    assert "Computing" not in window.view._message_item.textItem.toPlainText()
    release.set()
    _wait_idle(qtbot, window)
    assert window.shown_codes.z.shape[1] == 2  # B stays on screen


def _dark_pixels(image, rect: QRectF) -> int:
    """Pixels darker than mid-grey inside ``rect`` (widget coordinates) of a grabbed image."""
    dpr = image.devicePixelRatio()
    n = 0
    x0, x1 = int(rect.left() * dpr), int(rect.right() * dpr)
    y0, y1 = int(rect.top() * dpr), int(rect.bottom() * dpr)
    for y in range(max(0, y0), min(image.height(), y1), 2):
        for x in range(max(0, x0), min(image.width(), x1), 2):
            if QColor(image.pixel(x, y)).lightness() < 110:
                n += 1
    return n


def _item_rect(window, item) -> QRectF:
    """An item's rectangle in the view widget's coordinates."""
    scene_rect = item.mapRectToScene(item.boundingRect())
    gv = window.view.plot_widget
    top_left = gv.mapTo(window.view, gv.mapFromScene(scene_rect.topLeft()))
    bottom_right = gv.mapTo(window.view, gv.mapFromScene(scene_rect.bottomRight()))
    return QRectF(top_left.toPointF(), bottom_right.toPointF())


def _settle(qtbot, window):
    qtbot.wait(50)
    window.view.flush()
    qtbot.wait(50)


@pytest.mark.parametrize("sequence", [("dimension", "label"), ("cluster", "dimension", "label"),
                                      ("label", "dimension", "cluster", "dimension")])
def test_legend_and_colour_bar_are_whole_after_each_colouring_switch(two_models, qtbot, sequence):
    window, _a, _b = two_models
    window.run_kmeans("latent", 3, 0)
    _wait_idle(qtbot, window)
    for mode in sequence:
        window.set_colouring(mode, 1)
        _settle(qtbot, window)
        image = window.view.grab().toImage()
        view_width = window.view.width()
        if mode in ("label", "cluster"):
            legend = window.view._legend
            assert legend.isVisible() and window.view._colorbar is None
            names = [label.text for _sample, label in legend.items]
            assert names == (["bar top", "bar middle", "bar bottom"] if mode == "label"
                             else ["cluster 0", "cluster 1", "cluster 2"])
            for _sample, label in legend.items:  # each name is drawn whole, inside the view
                rect = _item_rect(window, label)
                assert rect.width() > 20 and rect.right() <= view_width + 1, (mode, label.text, rect)
                assert _dark_pixels(image, rect) > 4, (mode, label.text)
            assert legend.width() >= max(label.width() for _s, label in legend.items)
        else:
            bar = window.view._colorbar
            assert bar is not None and not window.view._legend.isVisible()
            axis = bar.axis
            rect = _item_rect(window, axis)
            assert rect.width() > 30 and rect.right() <= view_width + 1, rect
            assert axis.labelText.startswith("z[1]")
            assert axis.label.isVisible() and _dark_pixels(image, _item_rect(window, axis.label)) > 10
            assert _dark_pixels(image, rect) > 40  # tick values and the title are drawn


def test_view_menu_lists_every_panel_once(make_window):
    window = make_window()
    texts = []

    def walk(menu):
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu())
            elif action.text():
                texts.append(action.text().replace("&", ""))

    walk(next(a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == "View"))
    assert len(texts) == len(set(texts)), texts
    assert "Selection" in texts and "Latent sliders" in texts


# ---------------------------------------------------------------------------- session files from the window


def test_save_and_open_session_restore_the_view(two_models, qtbot, make_window, tmp_path, monkeypatch):
    import explorer.core.projection as projection

    window, a, b = two_models
    _activate(qtbot, window, b)
    window.run_kmeans("latent", 3, 1)
    _wait_idle(qtbot, window)
    window.set_colouring("cluster")
    window.session.select_points(window.session.active_key, [3, 4, 5])
    saved = window.save_session(tmp_path / "work.lxs")
    assert saved.is_file() and not window.session.dirty
    assert window.windowTitle().startswith("model_b.pt [work.lxs]")
    embedding = window.shown_embedding.embedding.copy()

    monkeypatch.setattr(projection, "compute_projection", lambda *a, **k: pytest.fail("projected again"))
    again = make_window(settings_name="again.ini")
    assert again.open_session(saved)
    qtbot.waitUntil(lambda: again.shown_embedding is not None and again.clustering_result() is not None
                    and not again.runner.running_kinds(), timeout=20_000)
    assert again.active_entry.path == b and [m.path for m in again.session.models] == [a, b]
    np.testing.assert_array_equal(again.shown_embedding.embedding, embedding)
    assert again.session.effective_colour().mode == "cluster" and again.view._legend.isVisible()
    np.testing.assert_array_equal(again.view.selection, [3, 4, 5])
    assert again.image_grid.count() == 3
    assert "d = 2" in again.clustering_panel.result_line()
    assert not again.session.dirty


def test_broken_session_file_gets_one_sentence_and_nothing_changes(two_models, tmp_path, no_dialogs):
    window, a, _b = two_models
    broken = tmp_path / "broken.lxs"
    broken.write_text('{"format": "latent-explorer-session", "version": 1, "models": [')
    assert not window.open_session(broken)
    assert len(no_dialogs) == 1 and "broken.lxs" in no_dialogs[0] and "\n" not in no_dialogs[0]
    assert len(window.session.models) == 2 and window.active_entry.path == a


def test_export_view_equals_render_embedding_of_the_saved_session(two_models, qtbot, tmp_path):
    from explorer.cli import main

    window, _a, b = two_models
    _activate(qtbot, window, b)
    window.set_colouring("dimension", 1)
    window.session.select([1, 2, 3])
    saved = window.save_session(tmp_path / "fig.lxs")
    for ext in ("png", "svg"):
        exported = window.export_view(tmp_path / f"window.{ext}")
        assert main(["render", "embedding", str(saved), "--out", str(tmp_path / f"cli.{ext}")]) == 0
        assert (tmp_path / f"cli.{ext}").read_bytes() == Path(exported).read_bytes(), ext


def test_legend_entries_are_laid_out_at_once(qtbot):
    """A legend drawn at once (a figure export, or before the event loop has run): each name has its own
    row and the legend is as wide as its longest name — before, the names were stacked in one place with
    a stale width until the window was resized."""
    from PySide6.QtCore import Qt

    from explorer.gui.colors import continuous_colors, label_colors
    from explorer.gui.embedding_view import EmbeddingView

    view = EmbeddingView(threaded=False)
    qtbot.addWidget(view)
    view.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    view.resize(900, 680)
    view.show()
    rng = np.random.default_rng(0)
    xy = rng.normal(size=(300, 2))
    colors, (cmap, lo, hi) = continuous_colors(rng.normal(size=300), "viridis", None, None)
    view.set_points(xy, colors, colorbar=(cmap, lo, hi, "z[1]"))
    qtbot.wait(20)
    names = ["T-shirt/top", "Trouser", "Pullover", "Ankle boot"]
    colors, legend = label_colors(rng.integers(0, 4, 300), names)
    view.set_points(xy, colors, legend=legend)
    qtbot.wait(20)
    view.set_points(xy, colors, legend=legend)  # the same legend again; no event processing from here on
    labels = [label for _sample, label in view._legend.items]
    tops = [label.mapRectToScene(label.boundingRect()).top() for label in labels]
    assert [lab.text for lab in labels] == names
    assert all(b - a > 5 for a, b in zip(tops, tops[1:], strict=False)), tops  # one row each, in order
    widest = max(label.mapRectToScene(label.boundingRect()).width() for label in labels)
    assert view._legend.width() >= widest > 30
    view.close()


def test_a_reopened_session_marks_changes_and_keeps_its_zoom(two_models, qtbot, make_window, tmp_path):
    window, a, _b = two_models
    window.presenter.view.view_box.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
    window.session.set_view_range(window.session.active_key, ((0.0, 1.0), (0.0, 1.0)))
    saved = window.save_session(tmp_path / "zoom.lxs")
    again = make_window(settings_name="again.ini")  # same caches: the embedding comes from the cache look-up
    assert again.open_session(saved)
    qtbot.waitUntil(lambda: again.active_entry is not None and not again.runner.running_kinds()
                    and not again.session.restoring, timeout=20_000)
    (x0, x1), (y0, y1) = again.view.view_box.viewRange()  # the saved range, widened for the aspect ratio
    assert x0 <= 1e-6 and x1 >= 1 - 1e-6 and y0 <= 1e-6 and y1 >= 1 - 1e-6
    assert (x0 + x1) / 2 == pytest.approx(0.5, abs=1e-6) and (y0 + y1) / 2 == pytest.approx(0.5, abs=1e-6)
    assert min(x1 - x0, y1 - y0) == pytest.approx(1.0, abs=1e-6)
    assert not again.session.dirty
    again.session.select([5])  # a change after the reopen
    assert again.session.dirty and again.windowTitle().startswith("model_a.pt [zoom.lxs*]")


def test_opening_a_session_over_another_dataset_uses_its_results(make_window, qtbot, tmp_path, data_file,
                                                                   monkeypatch):
    import explorer.core.workspace as workspace

    a = save_vae(tmp_path / "a.pt", latent_dim=4, seed=3)
    first = make_window()
    open_and_wait(qtbot, first, data_file, [a])
    first.run_kmeans("latent", 3, 0)
    _wait_idle(qtbot, first)
    saved = first.save_session(tmp_path / "r.lxs", with_results=True)
    labels = first.clustering_result().labels.copy()
    other = tmp_path / "other.npz"
    np.savez(other, images=np.zeros((30, 28, 28), np.uint8))
    window = make_window(settings_name="w.ini")
    window.open_dataset(str(other))  # the window shows another dataset first
    qtbot.waitUntil(lambda: window.dataset is not None, timeout=10_000)
    monkeypatch.setattr(workspace, "compute_codes", lambda *a, **k: pytest.fail("encoded again"))
    assert window.open_session(saved)
    qtbot.waitUntil(lambda: window.clustering_result() is not None and not window.runner.running_kinds(),
                    timeout=20_000)
    assert len(window.dataset) == N_IMAGES
    np.testing.assert_array_equal(window.clustering_result().labels, labels)
    window.save_session()  # Save keeps the results file
    assert '"results": "r.results.npz"' in saved.read_text()


def test_a_fresh_app_window_has_nothing_to_save(qtbot, tmp_path, data_file, monkeypatch):
    from PySide6.QtCore import QSettings

    from explorer.gui.app import make_window as make_app_window

    a = save_vae(tmp_path / "a.pt", latent_dim=4, seed=3)
    window = make_app_window([a], data=str(data_file), split=None, warm_up_umap=False, ask_to_save=True,
                             settings=QSettings(str(tmp_path / "app.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.Discard)
    qtbot.waitUntil(lambda: window.shown_embedding is not None and not window.runner.running_kinds()
                    and not window.session.restoring, timeout=20_000)
    assert not window.session.dirty
    window.close()
    assert asked == []


def test_panel_settings_come_back_with_the_session(two_models, qtbot, make_window, tmp_path):
    window, _a, _b = two_models
    rec = window.reconstruction_panel
    rec.precision_combo.setCurrentIndex(rec.precision_combo.findData("8bit"))
    rec.steps_spin.setValue(37)
    window.traversal_view.cols_spin.setValue(9)
    window.interpolation_panel.frames_spin.setValue(33)
    saved = window.save_session(tmp_path / "panels.lxs")
    again = make_window(settings_name="again.ini")
    assert again.open_session(saved)
    qtbot.waitUntil(lambda: again.active_entry is not None and not again.runner.running_kinds(), timeout=20_000)
    assert again.reconstruction_panel.precision_combo.currentData() == "8bit"
    assert again.reconstruction_panel.steps_spin.value() == 37
    assert again.session.inversion_settings().steps == 37
    assert again.traversal_view.cols_spin.value() == 9
    assert again.interpolation_panel.frames_spin.value() == 33
