"""Tests of the image helpers, the hover preview, the image grid and the clustering panel."""

import csv

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage
from sklearn.datasets import make_blobs
from sklearn.metrics import (
    adjusted_rand_score,
    homogeneity_completeness_v_measure,
    normalized_mutual_info_score,
    silhouette_score,
)

from explorer.core.clustering import ClusteringResult, cluster, k_sweep, sweep_table
from explorer.gui.clustering_panel import NO_LABELS_TEXT, ClusteringPanel
from explorer.gui.hover_preview import HoverPreview
from explorer.gui.image_grid import DATASET_INDEX_ROLE, ImageGridPanel
from explorer.gui.images import grid_image, pixmap_scale, save_png, to_pixmap, to_qimage


def qimage_array(qimage):
    """(H, W, 4) uint8 RGBA copy of a QImage."""
    qimage = qimage.convertToFormat(QImage.Format.Format_RGBA8888)
    h, w = qimage.height(), qimage.width()
    arr = np.frombuffer(qimage.constBits(), np.uint8, count=qimage.bytesPerLine() * h)
    return arr.reshape(h, qimage.bytesPerLine())[:, : 4 * w].reshape(h, w, 4).copy()


# ----------------------------------------------------------------------------- images


def test_to_qimage_grey_pixel_values(qapp):
    image = np.array([[[0.0, 0.5, 1.0], [0.25, 2.0, -1.0]]], np.float32)  # (1, 2, 3)
    qimage = to_qimage(image)
    del image  # the QImage owns its pixels
    assert qimage.format() == QImage.Format.Format_Grayscale8
    assert (qimage.width(), qimage.height()) == (3, 2)
    values = [[qimage.pixelColor(x, y).red() for x in range(3)] for y in range(2)]
    assert values == [[0, 128, 255], [64, 255, 0]]  # round(255 * v), clipped to [0, 1]


def test_to_qimage_rgb_pixel_values(qapp):
    rng = np.random.default_rng(0)
    image = rng.random((3, 4, 5)).astype(np.float32)
    qimage = to_qimage(image)
    assert qimage.format() == QImage.Format.Format_RGB888
    expected = np.round(image * 255).astype(np.uint8).transpose(1, 2, 0)
    np.testing.assert_array_equal(qimage_array(qimage)[..., :3], expected)


def test_to_pixmap_nearest_upscaling_keeps_pixels_crisp(qapp):
    rng = np.random.default_rng(1)
    image = rng.random((1, 28, 28)).astype(np.float32)
    pixmap = to_pixmap(image, 168)
    assert (pixmap.width(), pixmap.height()) == (168, 168)  # 6x
    got = qimage_array(pixmap.toImage())[..., 0]
    grey = np.round(image[0] * 255).astype(np.uint8)
    np.testing.assert_array_equal(got, np.repeat(np.repeat(grey, 6, 0), 6, 1))
    # whole factors only: 28 px in a 100 px box is shown at 3x; larger images are fitted
    assert pixmap_scale((28, 28), 100) == (84, 84)
    assert pixmap_scale((64, 32), 32) == (16, 32)
    assert to_pixmap(rng.random((3, 64, 64)).astype(np.float32), 48).size().toTuple() == (48, 48)


def test_grid_image_layout_and_atomic_png(qapp, tmp_path):
    images = np.stack([np.full((1, 2, 3), v, np.float32) for v in (0.0, 0.2, 0.4, 0.6, 0.8)])
    grid = grid_image(images, ncols=3, pad=1, bg=1.0)
    assert grid.shape == (2 * 3 + 1, 3 * 4 + 1, 1)
    assert grid[1, 1, 0] == 0.0 and grid[4, 5, 0] == np.float32(0.8)  # row 1, column 1 is image 4
    assert grid[0, 0, 0] == 1.0 and grid[4, 9, 0] == 1.0  # padding, the missing 6th image
    target = tmp_path / "grid.png"
    save_png(target, grid)
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]  # no temp file left behind
    back = qimage_array(QImage(str(target)))[..., 0]
    np.testing.assert_array_equal(back, np.round(grid[..., 0] * 255).astype(np.uint8))


# ----------------------------------------------------------------------- hover preview


def test_hover_preview_caption_with_and_without_label_and_cluster(qtbot):
    preview = HoverPreview()
    qtbot.addWidget(preview)
    image = np.zeros((1, 28, 28), np.float32)
    preview.show_point(image, 123, "Trouser", 4)
    assert preview.caption() == "index 123 · label: Trouser · cluster 4"
    assert preview.pixmap_size() == (168, 168)
    preview.show_point(image, 7, label_text="Bag")
    assert preview.caption() == "index 7 · label: Bag"
    preview.show_point(np.ones((3, 28, 28), np.float32), 9, cluster=0)
    assert preview.caption() == "index 9 · cluster 0"
    preview.show_point(image, 5)
    assert preview.caption() == "index 5"
    assert preview.index() == 5
    preview.clear()
    assert preview.caption() == "" and preview.index() is None and preview.pixmap_size() == (0, 0)


def test_hover_preview_shows_a_pair_twice_as_wide_with_a_note(qtbot):
    preview = HoverPreview()
    qtbot.addWidget(preview)
    pair = np.zeros((1, 28, 58), np.float32)  # image | gap | G(z)
    preview.show_point(pair, 3, "Bag", note="left: the image · right: G(z), z inverted")
    assert preview.caption() == "index 3 · label: Bag\nleft: the image · right: G(z), z inverted"
    assert preview.pixmap_size() == (58 * 5, 28 * 5)  # the largest whole factor in 336 × 168
    preview.show_point(np.zeros((1, 28, 28), np.float32), 4)
    assert preview.pixmap_size() == (168, 168)


# ------------------------------------------------------------------------- image grid


def show_grid(qtbot, size=(640, 480)):
    panel = ImageGridPanel()
    qtbot.addWidget(panel)
    panel.resize(*size)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def test_grid_model_rows_and_lazy_pixmaps(qtbot):
    panel = ImageGridPanel()
    qtbot.addWidget(panel)
    images = np.random.default_rng(0).random((10, 1, 28, 28)).astype(np.float32)
    indices = np.arange(100, 110)
    panel.set_items(images, indices, [f"class {i % 3}" for i in range(10)])
    model = panel.model
    assert model.rowCount() == 10 and panel.count() == 10
    assert panel.header_text() == "10 selected"
    assert model.render_count == 0  # nothing painted yet (the panel is hidden)
    index = model.index(3)
    assert model.data(index) == "#103\nclass 0"
    assert model.data(index, Qt.ItemDataRole.ToolTipRole) == "index 103 · label: class 0"
    assert model.data(index, DATASET_INDEX_ROLE) == 103
    pixmap = model.data(index, Qt.ItemDataRole.DecorationRole)
    assert pixmap.size().toTuple() == (84, 84)
    model.data(index, Qt.ItemDataRole.DecorationRole)  # cached
    assert model.render_count == 1 and model.cached_rows() == [3]
    with pytest.raises(ValueError):
        panel.set_items(images, indices[:5])
    panel.clear()
    assert panel.count() == 0 and "No images selected" in panel.header_text()


def test_grid_renders_only_visible_items_of_50000(qtbot):
    panel = show_grid(qtbot)
    n = 50_000
    calls = []
    image = np.random.default_rng(0).random((1, 28, 28)).astype(np.float32)

    def image_of(dataset_index):
        calls.append(dataset_index)
        return image

    indices = np.arange(n) * 2
    captions = ["Sneaker"] * n
    panel.set_items(image_of, indices, captions)
    qtbot.wait(50)  # layout and paint
    assert panel.header_text() == "50,000 selected"
    rendered = panel.model.render_count
    assert 0 < rendered < 200  # the cells on screen, not 50,000
    assert len(calls) == rendered + 1  # + one call for the image size
    bar = panel.view.verticalScrollBar()
    bar.setValue(bar.maximum())
    qtbot.wait(50)
    assert panel.model.render_count < 2 * rendered + 20
    assert n - 1 in panel.model.cached_rows()  # the last item was painted


def test_grid_item_activated_carries_dataset_index(qtbot):
    panel = show_grid(qtbot)
    panel.set_items(np.zeros((5, 1, 8, 8), np.float32), [40, 41, 42, 43, 44])
    with qtbot.waitSignal(panel.item_activated, timeout=1000) as blocker:
        panel.view.activated.emit(panel.model.index(2))
    assert blocker.args == [42]


def test_grid_export_writes_the_images(qtbot, tmp_path):
    panel = ImageGridPanel()
    qtbot.addWidget(panel)
    images = np.random.default_rng(2).random((7, 3, 6, 5)).astype(np.float32)
    source = {10 + i: images[i] for i in range(7)}
    panel.set_items(source.__getitem__, list(source))
    target = tmp_path / "selection.png"
    assert panel.export_grid(target, ncols=4) == 7
    expected = np.round(grid_image(images, ncols=4, pad=2, bg=1.0) * 255).astype(np.uint8)
    np.testing.assert_array_equal(qimage_array(QImage(str(target)))[..., :3], expected)
    assert [p.name for p in tmp_path.iterdir()] == ["selection.png"]


# ------------------------------------------------------------------- clustering panel


@pytest.fixture(scope="module")
def blobs():
    x, y = make_blobs(n_samples=300, centers=4, n_features=5, cluster_std=2.5, random_state=0)
    return x, y


@pytest.fixture
def panel(qtbot):
    widget = ClusteringPanel()
    qtbot.addWidget(widget)
    widget.set_spaces("Latent codes z (d = 16)", "2-D embedding (PCA)")
    return widget


def test_clustering_panel_shows_the_sklearn_numbers(panel, blobs):
    x, y = blobs
    result = cluster(x, 4, seed=0, space="latent", labels_true=y, with_silhouette=True)
    panel.show_result(result)
    h, c, v = homogeneity_completeness_v_measure(y, result.labels)
    expected = {
        "homogeneity": f"{h:.3f}",
        "completeness": f"{c:.3f}",
        "v_measure": f"{v:.3f}",
        "ari": f"{adjusted_rand_score(y, result.labels):.3f}",
        "nmi": f"{normalized_mutual_info_score(y, result.labels):.3f}",
        "silhouette": f"{silhouette_score(x, result.labels):.3f}",
    }
    assert panel.displayed_scores() == expected
    assert panel.result_line() == "k-means, k = 4, on the full latent codes z (d = 16), 300 points, seed 0"
    assert panel.note_text() == "Silhouette computed on all 300 points."
    copied = panel.table_text()
    assert copied.splitlines()[0] == "Score\tValue"
    assert f"V-measure\t{v:.3f}" in copied.splitlines()


def test_clustering_panel_names_the_embedding_space(panel, blobs):
    x, y = blobs
    panel.show_result(cluster(x[:, :2], 3, seed=5, space="embedding", labels_true=y))
    assert panel.result_line() == "k-means, k = 3, on the 2-D embedding (PCA), 300 points, seed 5"
    assert panel.displayed_scores()["silhouette"] == "—"  # not computed with labels by default


def test_clustering_panel_without_labels(panel, blobs):
    x, _ = blobs
    panel.set_has_labels(False)
    assert NO_LABELS_TEXT in panel.note_text()  # said before anything runs
    result = cluster(x, 4, seed=1, space="latent")
    panel.show_result(result)
    assert panel.displayed_scores() == {"silhouette": f"{silhouette_score(x, result.labels):.3f}"}
    assert panel.note_text() == f"{NO_LABELS_TEXT} Silhouette computed on all 300 points."
    sampled = ClusteringResult(space="latent", k=10, seed=3, labels=np.zeros(70_000, np.int64), scores=None,
                               silhouette=0.1234, n=70_000, silhouette_sample_size=10_000)
    panel.show_result(sampled)
    assert panel.displayed_scores() == {"silhouette": "0.123"}
    assert "seeded random sample of 10,000 of the 70,000 points (seed 3)" in panel.note_text()


def test_clustering_panel_request_signals(panel, qtbot):
    panel.set_space("embedding")
    panel.set_k(7)
    panel.set_seed(3)
    with qtbot.waitSignal(panel.run_requested, timeout=1000) as blocker:
        qtbot.mouseClick(panel._run_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["embedding", 7, 3]
    panel.set_space("latent")
    panel.set_sweep_range(3, 6)
    with qtbot.waitSignal(panel.sweep_requested, timeout=1000) as blocker:
        qtbot.mouseClick(panel._sweep_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["latent", [3, 4, 5, 6], 3]
    panel.set_busy(True)
    assert panel.is_busy() and not panel._run_button.isEnabled() and not panel._sweep_button.isEnabled()
    panel.set_busy(False)
    assert panel._run_button.isEnabled()


def test_colour_by_cluster_checkbox(panel, qtbot, blobs):
    x, y = blobs
    assert not panel._colour_check.isEnabled()  # nothing to colour by yet
    panel.show_result(cluster(x, 4, labels_true=y))
    with qtbot.waitSignal(panel.colour_by_cluster_changed, timeout=1000) as blocker:
        panel._colour_check.click()
    assert blocker.args == [True] and panel.colour_by_cluster()


def test_sweep_curves_and_csv_export(panel, blobs, tmp_path):
    x, y = blobs
    results = k_sweep(x, range(2, 7), labels_true=y, seed=0, space="latent")
    panel.set_k(4)
    panel.show_sweep(results)
    assert panel.sweep_line() == "k-means sweep, k = 2 … 6, on the full latent codes z (d = 16), 300 points, seed 0"
    curve_x, curve_y = panel._curves["v_measure"].getData()
    np.testing.assert_array_equal(curve_x, [2, 3, 4, 5, 6])
    np.testing.assert_allclose(curve_y, [r.scores["v_measure"] for r in results])
    assert not panel._curves["silhouette"].isVisible()
    assert panel._k_line.isVisible() and panel._k_line.value() == 4
    labels = panel._plot_widget.getPlotItem()
    assert labels.getAxis("bottom").labelText == "k (clusters)" and labels.getAxis("left").labelText == "score"

    target = tmp_path / "sweep.csv"
    panel.export_csv(target)
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.csv"]
    with open(target, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(results)
    for row, expected in zip(rows, sweep_table(results), strict=True):
        assert row["space"] == "latent" and int(row["k"]) == expected["k"] and int(row["n"]) == 300
        for key in ("homogeneity", "completeness", "v_measure", "ari", "nmi"):
            assert float(row[key]) == expected[key]  # full precision
        assert row["silhouette"] == ""  # not computed


def test_sweep_without_labels_plots_the_silhouette_alone(panel, blobs):
    x, _ = blobs
    panel.set_has_labels(False)
    results = k_sweep(x, [2, 3, 4], seed=0)
    panel.show_sweep(results)
    visible = [key for key, curve in panel._curves.items() if curve.isVisible()]
    assert visible == ["silhouette"]
    np.testing.assert_allclose(panel._curves["silhouette"].getData()[1], [r.silhouette for r in results])
    assert panel.table_text(sweep=True).splitlines()[0] == "k\tSilhouette"


def test_result_table_copies_with_ctrl_c(panel, qtbot, blobs):
    x, y = blobs
    result = cluster(x, 4, labels_true=y)
    panel.show_result(result)
    table = panel._result_table
    table.selectRow(2)  # V-measure
    qtbot.keyClick(table, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == f"Score\tValue\nV-measure\t{result.scores['v_measure']:.3f}\n"


def test_clicking_the_sweep_plot_picks_k(panel, qtbot, blobs):
    x, y = blobs
    panel.resize(420, 900)
    panel.show()
    qtbot.waitExposed(panel)
    panel.show_sweep(k_sweep(x, range(2, 9), labels_true=y, seed=0, n_init=1))
    qtbot.wait(20)
    plot = panel._plot_widget
    scene_pos = plot.getPlotItem().getViewBox().mapViewToScene(pg.Point(6.2, 0.5))
    qtbot.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton, pos=plot.mapFromScene(scene_pos))
    assert panel.k() == 6 and panel._k_line.value() == 6


def test_clear_forgets_results_without_signals(panel, qtbot, blobs):
    x, y = blobs
    panel.show_result(cluster(x, 4, labels_true=y))
    panel.show_sweep(k_sweep(x, [2, 3], labels_true=y, n_init=1))
    panel.set_colour_by_cluster(True)
    with qtbot.assertNotEmitted(panel.colour_by_cluster_changed):
        panel.clear()
    assert panel.result() is None and panel.sweep_results() == [] and panel.result_line() == ""
    assert set(panel.displayed_scores().values()) == {"—"}
    assert not panel._colour_check.isEnabled() and not panel._csv_button.isEnabled()
    with pytest.raises(ValueError):
        panel.export_csv("unused.csv")


# ---------------------------------------------------------------------------- GAN points box


def test_gan_points_box_emits_the_choice(qtbot):
    from explorer.gui.gan_codes_box import DEFAULT_INVERTED_POINTS, GanCodesBox

    box = GanCodesBox()
    qtbot.addWidget(box)
    box.set_context(10_000, "prior", "200 Adam steps × 4 restarts, λ = 0.001")
    assert box.n_images() == DEFAULT_INVERTED_POINTS and box.n_spin.maximum() == 10_000
    assert not box.n_spin.isEnabled() and "prior" in box.info_label.text()
    box.set_context(300, "prior")  # a smaller dataset caps N
    assert box.n_images() == 300 and box.n_spin.maximum() == 300
    seen = []
    box.points_requested.connect(lambda source, n: seen.append((source, n)))
    box.source_combo.setCurrentIndex(1)
    assert box.n_spin.isEnabled() and seen == []  # inverting waits for Show
    box.n_spin.setValue(120)
    box.show_button.click()
    assert seen == [("inverted", 120)]
    box.source_combo.setCurrentIndex(0)
    box.source_combo.activated.emit(0)  # picking the prior shows it at once
    assert seen[-1] == ("prior", 120)
    box.set_context(300, "inverted")
    assert box.source() == "inverted" and len(seen) == 2  # reflecting the view emits nothing
