"""Tests of the main window: opening models and data, embedding, hover, clustering, jobs, errors, closing."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import multiprocessing  # noqa: E402
import re  # noqa: E402
import threading  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PySide6.QtCore import QPointF, QSettings  # noqa: E402

import resources  # noqa: E402
from explorer.core import projection as projection_module  # noqa: E402
from explorer.core.projection import ProjectionSpec  # noqa: E402
from models.checkpoint import save_checkpoint  # noqa: E402
from models.dcgan import DCGAN  # noqa: E402
from tests.gui.windows import CLASSES, N_IMAGES, bar_images, open_and_wait, save_vae  # noqa: E402

DEMO = resources.path("checkpoints", "vae_fashion.pt")


# ---------------------------------------------------------------------------- fixtures


def _job_threads():
    return [t for t in threading.enumerate() if t.name.startswith("job-")]


# ---------------------------------------------------------------------------- opening


def test_window_opens_on_demo_with_one_point_per_test_image(qtbot, tmp_path, no_dialogs):
    from explorer.gui.app import make_window

    settings = QSettings(str(tmp_path / "demo.ini"), QSettings.Format.IniFormat)
    window = make_window(warm_up_umap=False, settings=settings)
    qtbot.addWidget(window)
    try:
        qtbot.waitUntil(lambda: window.shown_embedding is not None, timeout=40_000)
        assert window.active_entry.path == DEMO
        assert window.dataset.name == "fashion-mnist" and window.dataset.split == "test"
        assert window.view.point_count == len(window.dataset) == 10_000
        assert "N = 10,000" in window.model_panel.dataset_text()
        assert not no_dialogs
    finally:
        window.close()


def test_window_without_model_says_so(make_window, qtbot, data_file):
    from explorer.gui.app import DEMO_MISSING_TEXT

    window = make_window()
    window.set_empty_note(DEMO_MISSING_TEXT)
    window.open_dataset(str(data_file))
    qtbot.waitUntil(lambda: window.dataset is not None, timeout=10_000)
    assert "demo checkpoint" in window.view._message_item.textItem.toPlainText()
    assert window.view.point_count == 0
    assert "bars" in window.model_panel.dataset_text() and f"N = {N_IMAGES}" in window.model_panel.dataset_text()


def test_bad_checkpoint_gives_one_sentence_naming_the_file_and_app_stays_up(make_window, qtbot, tmp_path,
                                                                              data_file, vae_file, no_dialogs):
    bad = tmp_path / "garbage.pt"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    window = make_window()
    window.open_dataset(str(data_file))
    window.open_models([bad])
    qtbot.waitUntil(lambda: bool(no_dialogs), timeout=10_000)
    text = no_dialogs[0]
    assert "garbage.pt" in text
    assert "\n" not in text and "Traceback" not in text
    assert len(re.findall(r"[.!?](?:\s|$)", text)) == 1, text  # one sentence
    assert window.isVisible() and not window.session.models
    note = window.clustering_panel.note_text()  # the labelled dataset is not said to have no labels
    assert "this dataset has none" not in note and "open a model" in note
    # the app is still usable
    window.open_models([vae_file])
    qtbot.waitUntil(lambda: window.shown_embedding is not None, timeout=15_000)
    assert window.view.point_count == N_IMAGES
    assert len(no_dialogs) == 1


def test_open_two_models_and_switch_the_active_one(make_window, qtbot, tmp_path, data_file):
    a = save_vae(tmp_path / "model_a.pt", latent_dim=4, seed=1)
    b = save_vae(tmp_path / "model_b.pt", latent_dim=2, seed=2)
    window = make_window()
    open_and_wait(qtbot, window, data_file, [a])
    window.open_models([b])
    qtbot.waitUntil(lambda: len(window.session.models) == 2 and window.active_entry is not None
                    and window.active_entry.path == b
                    and window.shown_embedding is not None and window.shown_codes is window.active_entry.codes,
                    timeout=15_000)
    assert window.model_panel.model_list.count() == 2
    assert window.shown_codes.z.shape == (N_IMAGES, 2)
    assert window.shown_embedding.spec.method == "identity"  # d = 2 is shown as is
    assert np.array_equal(window.shown_embedding.embedding, window.shown_codes.z)

    window.model_panel.model_list.setCurrentRow(0)  # the user clicks the first model
    qtbot.waitUntil(lambda: window.active_entry is not None and window.active_entry.path == a
                    and window.shown_codes is window.active_entry.codes,
                    timeout=15_000)
    assert window.shown_codes.z.shape == (N_IMAGES, 4)
    assert window.shown_embedding.spec.method == "pca"
    assert "model_a.pt" in window.view.plot_item.titleLabel.text
    assert window.windowTitle().startswith("model_a.pt")


def test_gan_without_encoder_embeds_prior_samples_and_says_so(make_window, qtbot, tmp_path, data_file):
    torch.manual_seed(0)
    path = tmp_path / "tiny_gan.pt"
    save_checkpoint(path, DCGAN(4, (1, 28, 28), g_width=8, d_width=8).eval(), dataset="bars", seed=0)
    window = make_window()
    open_and_wait(qtbot, window, data_file, [path])
    codes = window.shown_codes
    assert codes.source == "prior" and codes.labels is None
    assert window.view.point_count == N_IMAGES
    message = window.view._message_item.textItem.toPlainText()
    assert "no encoder" in message and "prior" in message


def test_gan_embeds_real_images_by_inversion_with_labels_clusters_and_selection(gan_window, qtbot, data_file,
                                                                                inversions):
    """A GAN without encoder: "Dataset images, inverted z" puts N real images on the embedding at their
    inverted codes — labelled, clusterable (scores equal scikit-learn's), selectable into the
    Reconstructions panel, which reuses the codes instead of inverting again."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import homogeneity_completeness_v_measure

    from explorer.core.codes import decode_codes
    from explorer.core.evaluate import reconstruction_subset

    asked, window = inversions, gan_window  # 5 Adam steps × 1 restart
    box = window.projection_panel.gan_box
    assert box.isVisible() and box.source() == "prior" and box.n_images() == N_IMAGES  # min(1000, N)
    assert "Dataset images, inverted z" in window.view._message_item.textItem.toPlainText()
    box.source_combo.setCurrentIndex(1)
    assert "5 Adam steps × 1 restart" in box.info_label.text()
    label_item = window.projection_panel.colour_combo.model().item(0)
    assert not label_item.isEnabled()  # prior samples have no labels
    window.request_gan_points("inverted", 60)
    qtbot.waitUntil(lambda: window.shown_codes.source == "inverted" and not window.runner.running_kinds(),
                    timeout=30_000)
    codes = window.shown_codes
    idx = reconstruction_subset(N_IMAGES, 60, window.seed)
    assert asked == [60] and window.view.point_count == 60
    np.testing.assert_array_equal(codes.indices, idx)
    labels = np.load(data_file)["labels"]
    np.testing.assert_array_equal(codes.labels, labels[idx])
    assert box.source() == "inverted"
    assert "inverted codes of 60" in window.view.plot_item.titleLabel.text
    assert label_item.isEnabled() and window.session.effective_colour().mode == "label"  # coloured by class
    # clustering the inverted codes: scikit-learn's scores
    panel = window.clustering_panel
    panel.set_space("latent")
    panel.set_k(3)
    panel.set_seed(0)
    panel._run_button.click()
    qtbot.waitUntil(lambda: panel.result() is not None and not window.runner.running_kinds(), timeout=15_000)
    pred = KMeans(n_clusters=3, random_state=0, n_init=3).fit_predict(codes.z)
    h, c, v = homogeneity_completeness_v_measure(labels[idx], pred)
    assert panel.result().scores["v_measure"] == pytest.approx(v, abs=1e-12)
    # colour by how badly G reproduces each image from its code
    inv_item = window.projection_panel.colour_combo.model().item(4)
    assert inv_item.isEnabled()
    window.set_colouring("inversion_error")
    assert window.session.effective_colour().mode == "inversion_error" and window.view._colorbar is not None
    assert "inverted" in window.view._colorbar.axis.labelText
    np.testing.assert_allclose(codes.fit_error, ((codes.generated - codes.images) ** 2).mean(axis=(1, 2, 3)),
                               rtol=1e-4, atol=1e-9)
    window.set_colouring("label")
    # hovering shows the dataset image (by its dataset index) beside G(z) of its inverted code
    window.presenter._on_hovered(5)
    assert window.hover_preview.index() == idx[5] and f"index {idx[5]}" in window.hover_preview.caption()
    assert "G(z), z inverted" in window.hover_preview.caption()
    np.testing.assert_allclose(codes.generated[5], decode_codes(window.active_entry.model, codes.z[5:6])[0],
                               atol=1e-6)
    # a selection of points is a selection of dataset images; their reconstructions reuse the codes
    window.view.set_selection([0, 5, 7])
    np.testing.assert_array_equal(window.image_grid.model.indices(), idx[[0, 5, 7]])
    rec = window.reconstruction_panel
    rec.set_source("selection")
    rec.runner = None  # run the job in this thread
    rec.show_images()
    np.testing.assert_array_equal(rec.result.indices, idx[[0, 5, 7]])
    np.testing.assert_array_equal(rec.result.report.codes, codes.z[[0, 5, 7]])
    assert asked == [60]
    # back to the prior and again to the inverted images: nothing is inverted twice
    window.request_gan_points("prior")
    qtbot.waitUntil(lambda: window.shown_codes.source == "prior" and not window.runner.running_kinds(),
                    timeout=15_000)
    assert window.view.point_count == N_IMAGES and window.shown_codes.labels is None
    assert not inv_item.isEnabled()  # prior samples have no inversion error
    window.request_gan_points("inverted", 60)
    qtbot.waitUntil(lambda: window.shown_codes.source == "inverted" and not window.runner.running_kinds(),
                    timeout=15_000)
    assert asked == [60]
    np.testing.assert_array_equal(window.shown_codes.z, codes.z)


@pytest.fixture
def gan_window(make_window, qtbot, tmp_path, data_file):
    """A window with a tiny GAN on the bars data, its own inverted-codes folder, 5 Adam steps × 1 restart."""
    from explorer.core.reconstruction.inverted import InvertedCodesStores

    torch.manual_seed(0)
    path = tmp_path / "tiny_gan.pt"
    save_checkpoint(path, DCGAN(4, (1, 28, 28), g_width=8, d_width=8).eval(), dataset="bars", seed=0)
    window = make_window()
    window.inverted_stores = InvertedCodesStores(tmp_path / "inverted")
    open_and_wait(qtbot, window, data_file, [path])
    window.reconstruction_panel.steps_spin.setValue(5)
    window.reconstruction_panel.restarts_spin.setValue(1)
    return window


def test_gan_points_choice_survives_refreshes_and_restart_stays_busy(gan_window, qtbot):
    window, box = gan_window, gan_window.projection_panel.gan_box
    box.source_combo.setCurrentIndex(1)  # picked, not shown yet: the user now sets the steps
    window.reconstruction_panel.steps_spin.setValue(6)
    assert box.source() == "inverted" and "6 Adam steps" in box.info_label.text()
    first = window.request_gan_points("inverted", 200)
    second = window.request_gan_points("inverted", 200)  # Restart: the first is cancelled inside
    assert second != first and window.runner.is_running(next(k for k in window.runner.running_kinds()
                                                              if k.startswith("invert-points:")))
    assert box.show_button.text() == "Restart" and "Finding codes" in window.view._message_item.textItem.toPlainText()
    qtbot.waitUntil(lambda: window.shown_codes.source == "inverted" and not window.runner.running_kinds(),
                    timeout=30_000)
    assert box.show_button.text() == "Show" and "Finding codes" not in window.view._message_item.textItem.toPlainText()
    assert box.source() == "inverted"


def test_late_prior_samples_do_not_replace_inverted_points(gan_window, qtbot):
    """The prior samples of a GAN arrive after its inverted points are shown (a slow sampling job, codes
    from the cache): they are kept for the Prior choice, and the view keeps showing the inverted points."""
    window = gan_window
    entry = window.active_entry
    prior = entry.codes
    window.request_gan_points("inverted", 30)
    qtbot.waitUntil(lambda: window.shown_codes.source == "inverted" and not window.runner.running_kinds(),
                    timeout=30_000)
    inverted = window.shown_codes
    m = window.session.active
    late = window.session._encode_task(m)  # an encode job made before the switch ...
    late.apply(prior)  # ... delivers its prior samples late
    assert window.shown_codes is inverted and window.view.point_count == 30
    assert m.prior_codes is prior  # kept for the Prior choice
    window.request_gan_points("prior")
    qtbot.waitUntil(lambda: window.shown_codes is prior and not window.runner.running_kinds(), timeout=15_000)
    assert window.view.point_count == N_IMAGES
    assert len(window.shown_embedding.embedding) == N_IMAGES  # never an embedding of the inverted points


# ---------------------------------------------------------------------------- embedding


def test_hover_returns_the_right_index_at_known_positions(make_window, qtbot, data_file, vae_file):
    window = make_window()
    open_and_wait(qtbot, window, data_file, [vae_file])
    xy = window.shown_embedding.embedding
    vb = window.view.view_box
    # points at the edges of the cloud have no neighbour under the cursor
    for i in (int(np.argmin(xy[:, 0])), int(np.argmax(xy[:, 0])), int(np.argmax(xy[:, 1]))):
        scene = vb.mapViewToScene(QPointF(float(xy[i, 0]), float(xy[i, 1])))
        assert window.view.hover_at(scene) == i
        assert window.hover_preview.index() == i
        label = CLASSES[int(window.shown_codes.labels[i])]
        assert f"index {i}" in window.hover_preview.caption() and label in window.hover_preview.caption()
    far = vb.mapViewToScene(QPointF(float(xy[:, 0].max() + 10 * np.ptp(xy[:, 0])), float(xy[:, 1].mean())))
    assert window.view.hover_at(far) == -1


def test_rectangle_selection_fills_the_image_grid(make_window, qtbot, data_file, vae_file):
    window = make_window()
    open_and_wait(qtbot, window, data_file, [vae_file])
    xy = window.shown_embedding.embedding
    x0, x1 = np.percentile(xy[:, 0], [20, 60])
    y0, y1 = xy[:, 1].min() - 1, xy[:, 1].max() + 1
    selected = window.view.select_rect(x0, y0, x1, y1)
    expected = np.flatnonzero((xy[:, 0] >= x0) & (xy[:, 0] <= x1))
    assert np.array_equal(np.sort(selected), expected)
    assert window.image_grid.count() == len(expected)
    assert np.array_equal(window.image_grid.model.indices(), expected)
    assert window.image_grid.model.captions()[0] == CLASSES[int(window.shown_codes.labels[expected[0]])]


def test_colour_by_latent_dimension_and_marker_controls(make_window, qtbot, data_file, vae_file):
    window = make_window()
    open_and_wait(qtbot, window, data_file, [vae_file])
    window.set_colouring("dimension", 2)
    assert window.view._colorbar is not None
    assert "z[2]" in window.view._colorbar.axis.labelText
    window.set_colouring("label")
    assert window.view._colorbar is None and window.view._legend.isVisible()
    window.projection_panel.size_slider.setValue(9)
    assert window.view._point_px == 9.0


def test_cached_projection_reopens_without_recomputing(make_window, qtbot, tmp_path, data_file, vae_file,
                                                       monkeypatch):
    calls = []
    real = projection_module.compute_projection

    def counting(codes, spec, ctx=None):
        calls.append(spec.method)
        return real(codes, spec, ctx=ctx)

    monkeypatch.setattr(projection_module, "compute_projection", counting)
    first = make_window()
    open_and_wait(qtbot, first, data_file, [vae_file])
    assert calls == ["pca"] and not first.shown_embedding.from_cache
    embedding = first.shown_embedding.embedding.copy()
    first.close()

    second = make_window(settings_name="second.ini")
    models_loaded_when_shown = []
    second.embedding_shown.connect(lambda result: models_loaded_when_shown.append(second.active_entry is not None))
    open_and_wait(qtbot, second, data_file, [vae_file])
    assert calls == ["pca"]  # not computed again
    # painted from the caches before the model itself had loaded, and not again after
    assert models_loaded_when_shown == [False]
    assert second.active_entry.codes is second.shown_codes
    assert second.shown_embedding.from_cache
    assert np.array_equal(second.shown_embedding.embedding, embedding)
    assert "cache" in second.projection_panel.status_text()


def test_tsne_job_shows_its_embedding_and_caches_it(make_window, qtbot, data_file, vae_file):
    window = make_window()
    open_and_wait(qtbot, window, data_file, [vae_file])
    spec = ProjectionSpec("tsne", {"perplexity": 10.0}, seed=0)
    window.projection_panel.set_spec(spec)
    window.request_projection(spec)
    qtbot.waitUntil(lambda: window.shown_embedding.spec == spec, timeout=40_000)
    assert window.shown_embedding.embedding.shape == (N_IMAGES, 2)
    assert window.view.plot_item.getAxis("bottom").labelText == "t-SNE 1"
    computed = window.shown_embedding
    assert "Computing" not in window.view._message_item.textItem.toPlainText()  # the busy line went with the job
    # choosing PCA and then the same t-SNE again reads it from the cache at once
    window.projection_panel.method_combo.setCurrentIndex(window.projection_panel.method_combo.findData("pca"))
    qtbot.waitUntil(lambda: window.shown_embedding.spec.method == "pca", timeout=10_000)
    window.projection_panel.set_spec(spec, emit=True)
    assert window.shown_embedding is computed and not window.runner.running_kinds()  # kept, not recomputed


# ---------------------------------------------------------------------------- jobs


def test_umap_job_is_cancelled_cleanly(make_window, qtbot, data_file, vae_file):
    window = make_window()
    open_and_wait(qtbot, window, data_file, [vae_file])
    baseline = set(threading.enumerate())
    shown = window.shown_embedding
    rid = window.request_projection(ProjectionSpec("umap", {"n_neighbors": 10}))
    assert rid is not None
    worker = window.projection_worker("umap")
    row = lambda: window.job_status.row(rid)  # noqa: E731
    qtbot.waitUntil(lambda: worker.is_alive() and row() is not None, timeout=20_000)
    row().cancel_button.click()  # what the user does: the status bar's cancel button
    # the job thread ends; the worker either stopped the fit by itself (and stays, idle,
    # for the next request) or was terminated within its 1 s grace
    qtbot.waitUntil(lambda: not _job_threads(), timeout=15_000)
    assert not window.runner.running_kinds()
    assert window.job_status.row(rid) is None
    assert window.shown_embedding is shown  # PCA stays on screen
    assert set(threading.enumerate()) <= baseline
    window.close()
    assert not worker.is_alive()
    assert not [p for p in multiprocessing.active_children() if p.is_alive()]


def test_closing_during_a_running_job_leaves_no_thread_or_process(make_window, qtbot, data_file, vae_file):
    baseline = set(threading.enumerate())
    window = make_window()
    open_and_wait(qtbot, window, data_file, [vae_file])
    window.request_projection(ProjectionSpec("tsne", {"perplexity": 10.0, "n_iter": 5000}))
    window.run_k_sweep("latent", list(range(2, 40)), 0)
    worker = window.projection_worker("tsne")
    qtbot.waitUntil(lambda: worker.is_alive() and len(_job_threads()) == 2, timeout=20_000)
    window.close()
    assert not _job_threads()
    assert not worker.is_alive()
    assert not [p for p in multiprocessing.active_children() if p.is_alive()]
    extra = [t for t in set(threading.enumerate()) - baseline if t.is_alive()]
    assert not extra, extra


# ---------------------------------------------------------------------------- clustering


@pytest.mark.parametrize("space", ["latent", "embedding"])
def test_clustering_scores_equal_scikit_learn(make_window, qtbot, data_file, vae_file, space):
    from sklearn.cluster import KMeans
    from sklearn.metrics import homogeneity_completeness_v_measure

    window = make_window()
    open_and_wait(qtbot, window, data_file, [vae_file])
    panel = window.clustering_panel
    panel.set_space(space)
    panel.set_k(3)
    panel.set_seed(7)
    panel._run_button.click()
    qtbot.waitUntil(lambda: panel.result() is not None and not window.runner.running_kinds(), timeout=15_000)
    x = window.shown_codes.z if space == "latent" else window.shown_embedding.embedding
    labels_true = window.shown_codes.labels
    pred = KMeans(n_clusters=3, random_state=7, n_init=3).fit_predict(x)
    h, c, v = homogeneity_completeness_v_measure(labels_true, pred)
    result = panel.result()
    assert result.space == space
    assert result.scores["homogeneity"] == pytest.approx(h, abs=1e-12)
    assert result.scores["completeness"] == pytest.approx(c, abs=1e-12)
    assert result.scores["v_measure"] == pytest.approx(v, abs=1e-12)
    shown = panel.displayed_scores()
    assert shown["homogeneity"] == f"{h:.3f}" and shown["v_measure"] == f"{v:.3f}"
    assert ("latent" in panel.result_line().lower()) == (space == "latent")
    # the clusters colour the embedding
    panel.set_colour_by_cluster(True)
    assert window.projection_panel.colour_mode() == "cluster"
    assert [label.text for _, label in window.view._legend.items] == ["cluster 0", "cluster 1", "cluster 2"]
    assert window.clustering_result() is result


def test_clustering_without_labels_still_clusters_and_shows_the_silhouette(make_window, qtbot, tmp_path, vae_file):
    images, _ = bar_images()
    path = tmp_path / "unlabelled.npy"
    np.save(path, images)
    window = make_window()
    open_and_wait(qtbot, window, path, [vae_file])
    panel = window.clustering_panel
    panel.set_k(3)
    panel._run_button.click()
    qtbot.waitUntil(lambda: panel.result() is not None and not window.runner.running_kinds(), timeout=15_000)
    result = panel.result()
    assert result.scores is None and result.silhouette is not None
    assert "label" in panel.note_text().lower()
    assert window.projection_panel.colour_mode() in ("label", "none")


# ---------------------------------------------------------------------------- settings


def test_layout_and_choices_persist_in_the_ini_file(make_window, qtbot, tmp_path, data_file, vae_file):
    window = make_window()
    window.projection_panel.set_spec(ProjectionSpec("umap", {"n_neighbors": 23, "min_dist": 0.3}, seed=5))
    window.projection_panel.opacity_slider.setValue(55)
    window.set_selection_mode("lasso")
    window.clustering_panel.set_k(7)
    window.files.add_recent(vae_file)
    window.close()
    assert (tmp_path / "settings.ini").is_file()

    again = make_window()
    spec = again.projection_panel.spec()
    assert spec.method == "umap" and spec.params["n_neighbors"] == 23 and spec.seed == 5
    assert again.projection_panel.marker()[1] == pytest.approx(0.55)
    assert again.view.selection_mode == "lasso"
    assert again.clustering_panel.k() == 7
    assert again.files.recent() == [str(vae_file.resolve())]


def test_drag_and_drop_opens_the_model_and_the_dataset(make_window, qtbot, data_file, vae_file):
    from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    window = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(vae_file)), QUrl.fromLocalFile(str(data_file))])
    enter = QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    window.dropEvent(QDropEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier))
    qtbot.waitUntil(lambda: window.shown_embedding is not None and window.active_entry is not None, timeout=15_000)
    assert window.dataset.name == "bars" and window.view.point_count == N_IMAGES
    assert window.active_entry.path == vae_file
    # and it is in the recent-files menu
    window.files.recent_menu.aboutToShow.emit()
    assert [a.text() for a in window.files.recent_menu.actions()][0] == vae_file.name


def test_a_newer_projection_request_replaces_the_older_one(make_window, qtbot, data_file, vae_file):
    window = make_window()
    open_and_wait(qtbot, window, data_file, [vae_file])
    cancelled = []
    window.runner.job_cancelled.connect(lambda kind, rid: cancelled.append(rid))
    old = ProjectionSpec("tsne", {"perplexity": 10.0, "n_iter": 5000}, seed=0)
    new = ProjectionSpec("tsne", {"perplexity": 12.0}, seed=0)
    first = window.request_projection(old)
    second = window.request_projection(new)
    assert cancelled == [first]
    qtbot.waitUntil(lambda: window.shown_embedding.spec == new and not window.runner.running_kinds(),
                    timeout=40_000)
    assert second not in cancelled
    assert not _job_threads()


def test_window_module_loads_neither_torch_nor_scikit_learn():
    """The window paints a cached embedding before torch (~1 s) and scikit-learn (~0.7 s) are loaded:
    importing it must not import them (they load in job threads)."""
    import subprocess
    import sys

    code = ("import sys, explorer.gui.main_window, explorer.gui.interpolation_panel; "
            "print(sorted(m for m in ('torch', 'sklearn', 'scipy.spatial', 'umap') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_dataset_that_cannot_be_read_leaves_no_loading_message(make_window, qtbot, tmp_path, vae_file, no_dialogs):
    window = make_window()
    window.open_models([vae_file])
    window.open_dataset(str(tmp_path / "no_such_data"))
    assert "Loading" in window.model_panel.dataset_text()
    qtbot.waitUntil(lambda: bool(no_dialogs), timeout=10_000)
    assert "no_such_data" in no_dialogs[0]
    qtbot.waitUntil(lambda: not window.session.dataset_loading, timeout=10_000)
    message = window.view._message_item.textItem.toPlainText()
    assert "Loading the dataset" not in message and "No dataset open" in message
    assert window.model_panel.dataset_text().startswith("No dataset open")


def test_cancelling_an_opening_takes_the_model_off_the_list_and_stops_its_other_jobs(make_window, qtbot, data_file,
                                                                                     vae_file):
    import threading

    from explorer.core.session import Task

    window = make_window()
    window.open_dataset(str(data_file))
    qtbot.waitUntil(lambda: window.dataset is not None, timeout=10_000)
    (m,) = window.session.add_models([vae_file])
    stopped = {"open": threading.Event(), "kmeans": threading.Event()}

    def until_cancelled(family):
        def fn(ctx):
            try:
                while True:
                    ctx.check()
                    threading.Event().wait(0.005)
            finally:
                stopped[family].set()
        return fn

    opening = Task(f"open:{m.key}", "open", until_cancelled("open"), "Opening tiny_vae.pt", lambda _r: None, m.key)
    other = Task(f"kmeans:{m.key}", "kmeans", until_cancelled("kmeans"), "k-means", lambda _r: None, m.key)
    window.session_runner.submit(opening)
    window.session_runner.submit(other)
    qtbot.waitUntil(lambda: window.runner.is_running(opening.kind) and window.runner.is_running(other.kind),
                    timeout=5_000)
    assert "loading…" in window.model_panel.model_list.item(0).text()
    window.runner.cancel(opening.kind)  # what the job line's Cancel button does
    qtbot.waitUntil(lambda: stopped["open"].is_set() and stopped["kmeans"].is_set(), timeout=5_000)
    assert window.session.models == [] and window.model_panel.model_list.count() == 0
    assert not window.runner.is_running(other.kind)
