"""The Disentanglement dock on a real window: compute as a job, the table and figures from the evaluations store."""

from __future__ import annotations

import csv
import json
import time

import numpy as np
import pytest
import torch

from explorer.core.codes import decode_codes
from explorer.core.latent.traversal import prior_range, traversal_codes
from explorer.core.session.disentanglement import disentanglement_table
from models.checkpoint import save_checkpoint
from models.vae import VAE
from tests.gui.windows import open_and_wait


@pytest.fixture
def factor_data(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.arange(90) % 3
    other = rng.integers(0, 4, 90)
    images = (0.2 * rng.random((90, 28, 28)) + 0.25 * labels[:, None, None]
              + 0.05 * other[:, None, None]).astype(np.float32)
    data = tmp_path / "fac.npz"
    np.savez(data, images=images, labels=labels, factors=np.stack([labels, other], 1).astype(np.float64),
             factor_names=np.array(["kind", "level"]))
    torch.manual_seed(0)
    model = save_checkpoint(tmp_path / "a.pt", VAE(4, (1, 28, 28), hidden=16).eval(), dataset="fac", seed=0)
    return data, model


def _panel(window, qtbot):
    panel = window.judging.show("DisentanglementDock")
    assert window.judging.docks["DisentanglementDock"].windowTitle() == "Disentanglement"
    return panel


def test_compute_shows_the_stored_evaluation_and_exports_it(make_window, qtbot, factor_data, tmp_path):
    data, model = factor_data
    w = make_window()
    open_and_wait(qtbot, w, data, [model])
    menu = next(a.menu() for a in w.menuBar().actions() if a.text() == "&Evaluate")
    action = next(a for a in menu.actions() if a.text() == "Disentanglement")
    assert action.shortcut().toString() == "Ctrl+Shift+D"
    panel = _panel(w, qtbot)
    assert "press Compute" in panel.status.text() and not panel.export_table_button.isEnabled()
    panel.settings_combo.setCurrentIndex(panel.settings_combo.findData("reference"))  # GBT: quick on 40 points
    panel.n_spin.setValue(40)
    panel.seed_spin.setValue(2)
    panel.compute_button.click()
    key = w.session.active_key
    qtbot.waitUntil(lambda: w.session.evaluation(key, "disentanglement") is not None and panel._kind is None,
                    timeout=60_000)
    ev = w.session.evaluation(key, "disentanglement")
    assert ev.record["n_train"] == 40 and ev.record["settings"]["seed"] == 2
    assert "custom (reference at another N; fast and reference use 10,000 / 5,000 points) settings, N = 40 " \
        "training / 20 test points" in panel.status.text()
    rows = disentanglement_table(ev)
    assert panel.table.rowCount() == len(rows) == 9
    for i, r in enumerate(rows):
        assert panel.table.item(i, 0).text() == r["metric"]
        assert panel.table.item(i, 1).text() == ("—" if r["value"] is None else f"{r['value']:.3f}")
        assert panel.table.item(i, 4).text() == ev.record["sklearn_version"]
    assert panel.table.item(2, 1).text() == f"{ev.record['mig']:.3f}" and panel.table.item(2, 3).text() == "40 / 20"
    np.testing.assert_array_equal(panel.mi_plot.matrix, ev.matrices["mi"])
    r = ev.matrices["dci_importance"]
    np.testing.assert_allclose(panel.hinton.sides, 0.92 * np.sqrt(r / r.max()).ravel())
    # each factor's carrier traversed from the sliders' code
    carriers = [int(j) for j in np.argmax(ev.matrices["mi"], axis=1)]
    assert [ev.record["carriers"][n] for n in ("kind", "level")] == carriers
    z = w.session.active.slider_code
    z = w.session.active.codes.z[0] if z is None else z  # no slider code yet: the first point's code
    codes = traversal_codes(z, carriers, prior_range(4, 3.0), 9).reshape(-1, 4)
    expected = decode_codes(w.session.active.model, codes).reshape(2, 9, 1, 28, 28)
    np.testing.assert_allclose(panel.traversal_images, expected, atol=1e-6)
    assert panel.traversal_labels[0].startswith(f"kind (0, 1, 2) → z{carriers[0]}")  # the factor's values
    assert panel.traversal_labels[1].startswith(f"level (0, 1, 2, 3) → z{carriers[1]}")
    assert not panel.carrier_label.pixmap().isNull()
    w.session.set_slider_code(key, np.full(4, 0.5, np.float32))  # the rows follow the sliders' code
    codes = traversal_codes(np.full(4, 0.5, np.float32), carriers, prior_range(4, 3.0), 9).reshape(-1, 4)
    np.testing.assert_allclose(panel.traversal_images.reshape(-1, 1, 28, 28),
                               decode_codes(w.session.active.model, codes), atol=1e-6)
    # colour the embedding by a factor
    panel.colour_combo.setCurrentIndex(1)
    panel.colour_button.click()
    assert (w.session.colour.mode, w.session.colour.dim) == ("factor", 1)
    # exports
    for name in ("mi.png", "mi.svg", "mi.pdf"):
        assert (tmp_path / name).stat().st_size > 0 if panel.export_figure(tmp_path / name) else False
    panel.tabs.setCurrentWidget(panel.hinton)
    panel.export_figure(tmp_path / "hinton.svg")
    assert "<svg" in (tmp_path / "hinton.svg").read_text()
    panel.tabs.setCurrentWidget(panel.carriers)
    panel.export_figure(tmp_path / "carriers.png")
    assert (tmp_path / "carriers.png").read_bytes()[:4] == b"\x89PNG"
    panel.export_table(tmp_path / "d.csv")
    table = list(csv.DictReader((tmp_path / "d.csv").read_text().splitlines()))
    assert [t["metric"] for t in table] == [r["metric"] for r in rows]
    assert float(table[2]["value"]) == ev.record["mig"]
    panel.export_table(tmp_path / "d.json")
    doc = json.loads((tmp_path / "d.json").read_text())
    assert doc["mig"] == ev.record["mig"] and doc["factor_names"] == ["kind", "level"]
    np.testing.assert_allclose(doc["mutual_information_nats"], ev.matrices["mi"])
    with pytest.raises(ValueError, match="csv or .json"):
        panel.export_table(tmp_path / "d.txt")


def test_a_running_job_is_cancelled_and_a_dataset_without_factors_is_said(make_window, qtbot, factor_data,
                                                                            tmp_path, monkeypatch):
    import explorer.core.disentanglement as dis

    def forever(model, dataset, settings, seed, ctx):
        while True:
            ctx.progress(0.5, "waiting")
            ctx.check()
            time.sleep(0.01)

    monkeypatch.setattr(dis, "evaluate_disentanglement", forever)
    data, model = factor_data
    w = make_window()
    open_and_wait(qtbot, w, data, [model])
    panel = _panel(w, qtbot)
    panel.compute_button.click()
    assert panel.cancel_button.isEnabled() and not panel.compute_button.isEnabled()
    qtbot.waitUntil(lambda: panel.progress.value() == 500, timeout=10_000)
    assert "waiting" in panel.progress.format()
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: panel._kind is None, timeout=10_000)
    assert panel.compute_button.isEnabled() and w.session.evaluation(None, "disentanglement") is None
    np.savez(tmp_path / "plain.npz", images=np.random.default_rng(1).random((30, 28, 28)).astype(np.float32))
    w.open_dataset(str(tmp_path / "plain.npz"))
    qtbot.waitUntil(lambda: w.session.dataset is not None and w.session.dataset.factors is None
                    and not w.runner.running_kinds(), timeout=20_000)
    panel.compute_button.click()
    assert "has no ground-truth factors" in panel.status.text() and panel._kind is None
