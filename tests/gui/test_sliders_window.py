"""The latent docks inside the main window: model hand-over, KL order, marker and path on the embedding."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from explorer.core.embedding import CodesCache  # noqa: E402
from explorer.core.latent.traversal import kl_per_dimension  # noqa: E402
from explorer.core.projection import ProjectionCache  # noqa: E402
from explorer.gui.main_window import MainWindow  # noqa: E402
from models.checkpoint import save_checkpoint  # noqa: E402
from models.vae import VAE  # noqa: E402


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.StandardButton.Ok)
    rng = np.random.default_rng(0)
    images = (rng.random((120, 28, 28)) * 255).astype(np.uint8)
    np.savez(tmp_path / "noise.npz", images=images, labels=np.arange(120) % 3)
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "vae.pt", VAE(4, (1, 28, 28), hidden=32).eval(), dataset="noise", seed=0)
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    w = MainWindow(settings=settings, warm_up_umap=False, projection_cache=ProjectionCache(tmp_path / "p"),
                   codes_cache=CodesCache(tmp_path / "c"))
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    w.open_dataset(str(tmp_path / "noise.npz"))
    w.open_models([tmp_path / "vae.pt"])
    qtbot.waitUntil(lambda: w.shown_embedding is not None and not w.runner.running_kinds(), timeout=20_000)
    yield w
    w.close()


def _marker_xy(w):
    x, y = w.view._marker_item.getData()
    return np.array([x[0], y[0]]) if len(x) else np.full(2, np.nan)  # no marker (yet)


def test_sliders_follow_the_active_model_and_order_by_kl(window, qtbot):
    panel = window.slider_panel
    assert panel.model is window.active_entry.model
    qtbot.waitUntil(lambda: panel.scores is not None and panel.scores.kind == "kl", timeout=10_000)
    kl = kl_per_dimension(panel.model, window.shown_codes.images)
    np.testing.assert_allclose(panel.scores.values, kl)
    assert panel.order() == list(np.argsort(-kl, kind="stable"))


def test_marker_from_selected_point_lands_on_it_and_path_is_drawn(window, qtbot):
    panel = window.slider_panel
    emb = window.shown_embedding.embedding
    window.view.set_selection([7])
    assert panel.selected_button.isEnabled()
    panel.selected_button.click()
    np.testing.assert_array_equal(panel.code(), window.shown_codes.z[7])
    # PCA: the exact transform puts the code of point 7 on point 7
    qtbot.waitUntil(lambda: np.allclose(_marker_xy(window), emb[7], atol=1e-4), timeout=5000)
    # moving a slider moves the marker to the PCA transform of the new code
    dim = panel.order()[0]
    panel.set_value(dim, 2.5)
    z = panel.code()
    expected = window.shown_embedding.projection.transform(z[None])[0]
    qtbot.waitUntil(lambda: np.allclose(_marker_xy(window), expected, atol=1e-4), timeout=5000)

    window.view.set_selection([3, 11])
    window.interpolation_panel.add_selection_button.click()
    assert window.interpolation_panel.build()
    x, y = window.view._path_item.getData()
    assert len(x) == window.interpolation_panel.frames_spin.value()
    np.testing.assert_allclose([x[0], y[0]], emb[3], atol=1e-4)
    np.testing.assert_allclose([x[-1], y[-1]], emb[11], atol=1e-4)


def test_traversal_button_renders_grid_of_slider_code(window, qtbot):
    window.slider_panel.set_code(window.shown_codes.z[0])
    window.slider_panel.traversal_button.click()
    view = window.traversal_view
    assert view.images is not None and view.images.shape[:2] == (4, 10)
    np.testing.assert_array_equal(view._z, window.shown_codes.z[0])


def test_movie_and_grid_exports_run_as_jobs_and_say_where_they_wrote(window, qtbot, tmp_path, monkeypatch):
    import imageio.v3 as iio

    from explorer.gui import interpolation_panel as ip_module
    from explorer.gui import traversal_view as tv_module

    window.view.set_selection([3, 11])
    panel = window.interpolation_panel
    panel.add_selection_button.click()
    assert panel.build()
    movie = tmp_path / "path.gif"
    monkeypatch.setattr(ip_module, "ask_save_path", lambda *a: str(movie))
    panel._on_export_clicked()
    assert panel.status.text().startswith("Writing")  # the GUI thread does not wait for the file
    qtbot.waitUntil(lambda: panel.status.text() == f"Wrote {movie}.", timeout=20_000)
    assert iio.imread(movie, index=None).shape[0] > 1  # (Pillow merges identical frames of a GIF)

    window.slider_panel.set_code(window.shown_codes.z[0])
    window.slider_panel.traversal_button.click()
    view = window.traversal_view
    grid = tmp_path / "grid.mp4"
    monkeypatch.setattr(tv_module, "ask_save_path", lambda *a: str(grid))
    view._on_export_clicked()
    qtbot.waitUntil(lambda: view.status.text() == f"Wrote {grid}.", timeout=30_000)
    assert grid.stat().st_size > 0 and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_the_sliders_and_the_star_follow_a_slider_code_set_in_the_session(window, qtbot):
    s, panel = window.session, window.slider_panel
    z = window.shown_codes.z[11]
    s.set_slider_code(s.active_key, z)  # a core function, not the panel
    np.testing.assert_array_equal(panel.code(), z)
    emb = window.shown_embedding.embedding
    qtbot.waitUntil(lambda: np.allclose(_marker_xy(window), emb[11], atol=1e-4), timeout=10_000)
    np.testing.assert_array_equal(s.active.slider_code, z)  # and nothing came back changed
