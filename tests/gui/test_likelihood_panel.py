"""The Likelihood dock in a window: the core's numbers, a second dataset overlaid, colouring, selecting, exports."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from PySide6.QtCore import QItemSelectionModel

from explorer.core.likelihood import LikelihoodSettings, estimate_likelihood
from explorer.core.session.likelihood import least_likely
from explorer.gui import dialogs
from explorer.gui.likelihood_plots import histogram_counts
from models.checkpoint import save_checkpoint
from models.dcgan import DCGAN
from tests.gui.windows import open_and_wait


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _open_panel(make_window, qtbot, data_file, models):
    w = make_window()
    open_and_wait(qtbot, w, data_file, models)
    action = next(a for a in next(a.menu() for a in w.menuBar().actions() if a.text() == "&Evaluate").actions()
                  if a.text() == "Likelihood")
    assert action.shortcut().toString() == "Ctrl+Shift+L"
    action.trigger()
    dock = w.judging.docks["LikelihoodDock"]
    qtbot.waitUntil(lambda: dock.isVisible())
    return w, w.judging.panel("LikelihoodDock")


def test_the_panel_runs_the_core_and_shows_its_numbers(make_window, qtbot, data_file, vae_file, tmp_path,
                                                       monkeypatch):
    w, panel = _open_panel(make_window, qtbot, data_file, [vae_file])
    s = w.session
    assert panel.binarize.isEnabled() and panel.binarize.isChecked()  # the tiny VAE has a Bernoulli decoder
    assert all(panel.estimator.model().item(i).isEnabled() for i in range(3))
    panel.k_edit.setText("1, 4, 16")
    panel.n_images.setValue(20)
    panel.estimate()
    assert panel.kind is not None and panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: panel.kind is None and s.evaluation(s.active_key, "likelihood") is not None,
                    timeout=60_000)
    ev = s.evaluation(s.active_key, "likelihood")
    direct = estimate_likelihood(s.active.entry.model, s.dataset,
                                 LikelihoodSettings(iwae_k=(1, 4, 16), n_images=20, binarize=True))
    np.testing.assert_array_equal(ev.values["bits_per_dim"], direct.bits_per_dim)
    text = panel.result.text()
    assert f"{direct.record['nll_nats']:.2f} nats per image" in text and f"{direct.record['bits_per_dim']:.4f}" in text
    assert "N = 20 images" in text and "−ELBO" in text and "binaris" in text
    np.testing.assert_allclose(panel.curve.points[:, 1], direct.curve_nll_nats.mean(axis=1), rtol=1e-12)
    # the histogram is of the per-image bits/dim; the grid holds the 16 least likely, highest first
    assert len(panel.histogram.series) == 1
    np.testing.assert_array_equal(panel.histogram.series[0][1], direct.bits_per_dim)
    order = np.argsort(-direct.bits_per_dim, kind="stable")[:16]
    np.testing.assert_array_equal(panel.grid.indices, direct.indices[order])
    np.testing.assert_allclose(panel.grid.values, direct.bits_per_dim[order])
    # clicking an image selects it in the session
    panel.grid.view.selectionModel().select(panel.grid.model.index(2), QItemSelectionModel.SelectionFlag.Select)
    np.testing.assert_array_equal(s.selection, [direct.indices[order][2]])
    panel.colour_button.click()
    assert s.colour.mode == "nll" and s.colouring(s.active_key).mode == "nll"
    # exports: CSV per image, JSON record, figures and the grid
    for name in ("a.csv", "a.json", "c.svg", "h.png", "g.pdf"):
        monkeypatch.setattr(dialogs.QFileDialog, "getSaveFileName",
                            staticmethod(lambda *a, name=name: (str(tmp_path / name), "")))
        {"a.csv": panel._export_csv, "a.json": panel._export_json, "c.svg": lambda: panel._export_figure(
            panel.curve, "c"), "h.png": lambda: panel._export_figure(panel.histogram, "h"),
         "g.pdf": panel._export_grid}[name]()
    rows = list(csv.DictReader((tmp_path / "a.csv").read_text().splitlines()))
    assert [int(r["index"]) for r in rows] == list(direct.indices)
    np.testing.assert_allclose([float(r["bits_per_dim"]) for r in rows], direct.bits_per_dim, rtol=1e-15)
    assert json.loads((tmp_path / "a.json").read_text())["likelihood"]["nll_nats"] == pytest.approx(
        direct.record["nll_nats"], rel=1e-12)
    assert (tmp_path / "c.svg").read_text().startswith("<?xml")
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "g.pdf").read_bytes()[:4] == b"%PDF"


def test_a_second_dataset_overlays_the_histogram(make_window, qtbot, data_file, vae_file, tmp_path):
    w, panel = _open_panel(make_window, qtbot, data_file, [vae_file])
    s = w.session
    rng = np.random.default_rng(1)
    other = tmp_path / "noise.npz"
    np.savez(other, images=rng.random((40, 14, 14)).astype(np.float32))
    panel.k_edit.setText("1, 4")
    panel.n_images.setValue(15)
    panel.estimate()
    qtbot.waitUntil(lambda: panel.kind is None and s.evaluation(s.active_key, "likelihood") is not None,
                    timeout=60_000)
    panel.estimate_second(str(other))
    qtbot.waitUntil(lambda: panel.kind is None and len(panel.histogram.series) == 2, timeout=60_000)
    names = [n for n, _ in panel.histogram.series]
    assert names[1] == "noise" and "Second dataset noise" in panel.result.text()
    second = s.evaluation(s.active_key, "likelihood:noise")
    np.testing.assert_array_equal(panel.histogram.series[1][1], second.values["bits_per_dim"])
    edges, fractions = histogram_counts([v for _, v in panel.histogram.series])
    assert all(f.sum() == pytest.approx(1.0) for f in fractions)
    both = np.concatenate([v for _, v in panel.histogram.series])
    assert edges[0] == both.min() and edges[-1] == both.max()


def test_a_gan_has_only_the_estimators_it_supports(make_window, qtbot, data_file, tmp_path, no_dialogs):
    torch.manual_seed(0)
    gan = save_checkpoint(tmp_path / "gan.pt", DCGAN(4, (1, 28, 28), g_width=8, d_width=8).eval(), dataset="bars",
                          seed=0)
    w, panel = _open_panel(make_window, qtbot, data_file, [gan])
    items = panel.estimator.model()
    iwae = items.item(panel.estimator.findData("iwae"))
    assert not iwae.isEnabled() and "use AIS" in iwae.toolTip()
    assert panel.estimator.currentData() == "ais" and not panel.binarize.isEnabled()
    assert panel.steps.isEnabled() and not panel.k_edit.isEnabled()
    assert "no estimate yet" in panel.curve.getPlotItem().titleLabel.text


def test_least_likely_orders_by_value_then_index():
    from explorer.core.session.evaluations import Evaluation

    ev = Evaluation("likelihood", {}, indices=[5, 9, 2, 7], values={"nll_nats": [3.0, np.nan, 3.0, 4.0]})
    idx, vals, unit = least_likely(ev, 3)
    assert list(idx) == [7, 2, 5] and list(vals) == [4.0, 3.0, 3.0] and unit == "nats"


def test_an_estimate_can_be_cancelled_and_keeps_nothing(make_window, qtbot, data_file, vae_file):
    w, panel = _open_panel(make_window, qtbot, data_file, [vae_file])
    s = w.session
    panel.estimator.setCurrentIndex(panel.estimator.findData("ais"))
    panel.steps.setValue(100_000)
    panel.sigma.setValue(0.2)
    panel.n_images.setValue(8)
    panel.estimate()
    cancelled = []
    w.runner.job_cancelled.connect(lambda kind, _r: cancelled.append(kind))
    qtbot.wait(300)  # the job is under way (T = 100,000 steps would take minutes)
    assert panel.kind is not None and w.runner.is_running(panel.kind)
    kind = panel.kind
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: panel.kind is None, timeout=10_000)
    assert cancelled == [kind]
    assert s.evaluation(s.active_key, "likelihood") is None and panel.estimate_button.isEnabled()


def test_switching_the_active_model_shows_that_models_result(make_window, qtbot, data_file, vae_file, tmp_path):
    from tests.gui.windows import save_vae

    other = save_vae(tmp_path / "other_vae.pt", latent_dim=3, seed=1)
    w, panel = _open_panel(make_window, qtbot, data_file, [vae_file, other])
    s = w.session
    first, second = s.models[0].key, s.models[1].key
    s.set_active(first)
    panel.k_edit.setText("1, 2")
    panel.n_images.setValue(10)
    panel.estimate()
    qtbot.waitUntil(lambda: panel.kind is None and s.evaluation(first, "likelihood") is not None, timeout=60_000)
    shown = panel.result.text()
    assert f"{s.evaluation(first, 'likelihood').record['nll_nats']:.2f} nats" in shown
    s.set_active(second)
    assert "No estimate yet" in panel.result.text() and panel.grid.indices.size == 0
    assert not panel.colour_button.isEnabled()
    s.set_active(first)
    assert panel.result.text() == shown and panel.grid.indices.size == 10


def test_the_panel_fits_under_the_embedding_of_a_1600_px_window(make_window):
    """Side by side, its figures needed 1,000+ px and the dock scrolled sideways; as tabs it fits in the ~900 px."""
    w = make_window()
    panel = w.judging.show("LikelihoodDock")
    assert [panel.figures.tabText(i) for i in range(panel.figures.count())] == \
        ["IWAE curve", "Histogram", "Least likely"]
    assert panel.minimumSizeHint().width() <= 860
