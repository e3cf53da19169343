"""The Sample-quality dock on a real window: a job, table/plots/grids from the evaluation, exports, human test."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from explorer.core.session import sample_quality as ssq
from explorer.gui.human_test import HumanTestWindow
from explorer.gui.sample_quality_views import format_number
from tests.core.test_session_sample_quality import tiny_fashion  # noqa: F401 - the fixture
from tests.gui.windows import open_and_wait, save_vae

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def window_with_result(make_window, qtbot, tiny_fashion):  # noqa: F811 - the fixture
    folder, vae = tiny_fashion
    w = make_window()
    open_and_wait(qtbot, w, folder, [vae])
    panel = w.judging.show("SampleQualityDock")
    panel.n_spin.setValue(60)
    panel.seed_spin.setValue(2)
    task = panel.compute()
    assert task is not None and panel.progress_bar.isVisible()
    key = w.session.active_key
    qtbot.waitUntil(lambda: w.session.evaluation(key, "sample_quality") is not None
                    and panel.current_images() is not None and not w.runner.running_kinds(), timeout=60_000)
    return w, panel, key


def test_the_panel_shows_the_evaluation_table_plots_and_grids(window_with_result):
    w, panel, key = window_with_result
    rec = w.session.evaluation(key, "sample_quality").record
    assert not panel.progress_bar.isVisible()
    assert "compare models only at equal n and the same real set" in panel.header.text().lower()
    assert "N = 60 samples" in panel.header.text() and "lenet_fashion.pt" in panel.header.text()
    t = panel.table
    names = [t.cell_text(i, 0) for i in range(t.rowCount())]
    assert names == ["FID", "KID × 10³", "IS", "precision", "recall", "density", "coverage"]
    assert t.cell_text(0, 1) == format_number(rec["fid"]) and t.cell_text(0, 2) == format_number(rec["floor"]["fid"])
    assert t.cell_text(1, 1) == format_number(1e3 * rec["kid"], 1e3 * rec["kid_std"])
    assert t.cell_text(2, 1) == format_number(rec["is"], rec["is_std"])
    assert t.cell_text(0, 3) == format_number(rec["reconstructions"]["fid"])
    assert t.cell_text(0, 4) == "lenet_fashion.pt" and t.cell_text(0, 5) == "60"
    assert t.cell_text(0, 6) == rec["real_set"] and "test split (150 images)" in rec["real_set"]
    assert panel.pr_plot.points["model"] == pytest.approx((rec["recall"], rec["precision"]))
    assert panel.pr_plot.points["floor"] == pytest.approx((rec["floor"]["recall"], rec["floor"]["precision"]))
    assert panel.dc_plot.points["model"] == pytest.approx((rec["coverage"], rec["density"]))
    mem = rec["memorisation"]
    assert f"{100 * mem['pixel']['fraction']:.1f} % (pixel space)" in panel.memorisation_line.text()
    assert ("FLAGGED" in panel.memorisation_line.text()) == mem["flagged"]
    images = panel.current_images()
    np.testing.assert_array_equal(panel.samples_grid.images, images.samples)
    rows = images.memorisation["pixel"]
    assert panel.memorisation_grids["pixel"].distance_texts() == [f"d = {d:.3g}" for d in rows.distances.ravel()]
    feat = images.memorisation["feature"]
    assert panel.memorisation_grids["feature"].distance_texts() == [f"d = {d:.3g}" for d in feat.distances.ravel()]
    assert f"d = {mem['pixel']['threshold']:.3g}" in panel.memorisation_titles["pixel"].text()


def test_exports_write_the_table_plots_and_grids(window_with_result, tmp_path):
    w, panel, key = window_with_result
    rec = w.session.evaluation(key, "sample_quality").record
    panel.export("table", tmp_path / "t.json")
    doc = json.loads((tmp_path / "t.json").read_text())
    assert doc["sample_quality"]["fid"] == rec["fid"] and doc["table"][0]["floor"] == rec["floor"]["fid"]
    assert "equal N" in doc["note"]
    panel.export("table", tmp_path / "t.csv")
    lines = (tmp_path / "t.csv").read_text().splitlines()
    assert lines[0].startswith("# compare models only at equal N")
    table = list(csv.DictReader(lines[1:]))
    assert [r["metric"] for r in table][:2] == ["FID", "KID × 10³"]
    assert float(table[0]["value"]) == rec["fid"] and int(table[0]["n_samples"]) == 60
    for which in ("pr", "dc"):
        for ext in (".png", ".svg", ".pdf"):
            out = tmp_path / f"{which}{ext}"
            panel.export(which, out)
            assert out.stat().st_size > 500
    panel.export("samples", tmp_path / "s.png")
    panel.export("memorisation", tmp_path / "m.png")
    panel.export("memorisation_feature", tmp_path / "m.svg")
    with Image.open(tmp_path / "m.png") as im:
        assert im.height > 8 * 56  # eight rows of 2× images with labels
    assert "d = " in (tmp_path / "m.svg").read_text()
    with pytest.raises(ValueError, match=r"\.csv or \.json"):
        panel.export("table", tmp_path / "t.txt")


def test_switching_models_and_a_lost_image_cache_show_the_same_images_again(window_with_result, qtbot, tmp_path):
    w, panel, key = window_with_result
    before = panel.current_images()
    other = save_vae(tmp_path / "other.pt", latent_dim=2, seed=3)
    w.open_models([other])
    qtbot.waitUntil(lambda: len(w.session.models) == 2 and w.session.models[1].model is not None
                    and not w.runner.running_kinds(), timeout=20_000)
    w.session.set_active(w.session.models[1].key)
    assert panel.table.rowCount() == 0 and panel.samples_grid.images is None
    ssq._cache(w.session)["images"].clear()  # as after a restore: nothing but the evaluation is kept
    w.session.set_active(key)
    qtbot.waitUntil(lambda: panel.current_images() is not None, timeout=30_000)
    np.testing.assert_array_equal(panel.current_images().samples, before.samples)
    np.testing.assert_array_equal(panel.current_images().memorisation["pixel"].neighbours,
                                  before.memorisation["pixel"].neighbours)
    assert panel.table.cell_text(0, 0) == "FID"


def _press(qtbot, widget, keys):
    for k in keys:
        qtbot.keyClick(widget, k)


def test_the_human_test_window_counts_what_the_keys_answered(make_window, qtbot, tiny_fashion):  # noqa: F811
    folder, vae = tiny_fashion
    w = make_window()
    open_and_wait(qtbot, w, folder, [vae])
    key = w.session.active_key
    trials = ssq.human_test_session(w.session, key, n=12, seed=5)
    win = HumanTestWindow(trials)
    qtbot.addWidget(win)
    ended = []
    win.finished.connect(ended.append)
    win.start(full_screen=False)
    keys = [Qt.Key.Key_Left, Qt.Key.Key_F, Qt.Key.Key_R, Qt.Key.Key_Right] * 3
    said_real = [k in (Qt.Key.Key_Left, Qt.Key.Key_R) for k in keys]
    _press(qtbot, win, keys[:5])
    assert win.progress.text().startswith("Image 6 of 12")
    _press(qtbot, win, keys[5:])
    truth = trials.test.is_real
    errors = sum(a != r for a, r in zip(said_real, truth, strict=True))
    r = trials.test.result()
    assert ended == [trials] and win.done and r["n_answered"] == 12 and r["n_errors"] == errors
    assert r["error_rate"] == pytest.approx(errors / 12)
    assert r["fake_called_real"] == sum(a and not t for a, t in zip(said_real, truth, strict=True))
    assert f"Human error rate {100 * errors / 12:.1f} %" in win.caption.text()
    qtbot.keyClick(win, Qt.Key.Key_Escape)
    assert not win.isVisible()


def test_the_panels_human_test_stops_early_and_is_kept_in_the_session(make_window, qtbot, tiny_fashion):  # noqa: F811
    folder, vae = tiny_fashion
    w = make_window()
    open_and_wait(qtbot, w, folder, [vae])
    key = w.session.active_key
    assert w.judging.actions["Human real/fake test…"].shortcut().toString() == "Ctrl+Shift+H"  # from the start
    panel = w.judging.show("SampleQualityDock")
    panel.trials_spin.setValue(20)
    panel.seed_spin.setValue(1)
    win = panel.start_human_test(full_screen=False)
    truth = list(win.trials.test.is_real)
    keys = [Qt.Key.Key_R, Qt.Key.Key_R, Qt.Key.Key_F, Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Right, Qt.Key.Key_R]
    _press(qtbot, win, keys)
    qtbot.keyClick(win, Qt.Key.Key_Escape)  # stopped after 7 of 20
    ev = w.session.evaluation(key, "human")
    said_real = [k in (Qt.Key.Key_Left, Qt.Key.Key_R) for k in keys]
    errors = sum(a != t for a, t in zip(said_real, truth[:7], strict=True))
    assert ev is not None and ev.record["n"] == 7 and ev.record["n_trials"] == 20 and ev.record["n_errors"] == errors
    assert ev.record["test"]["answers"][:7] == said_real and ev.record["test"]["answers"][7:] == [None] * 13
    row = panel.table.rowCount() - 1
    assert panel.table.cell_text(row, 0) == "human error rate"
    assert panel.table.cell_text(row, 1) == format_number(errors / 7, ev.record["ci95"])
    assert w.session.dirty


def test_a_dataset_without_splits_fails_in_one_sentence(make_window, qtbot, data_file, vae_file, no_dialogs):
    w = make_window()
    open_and_wait(qtbot, w, data_file, [vae_file])
    panel = w.judging.show("SampleQualityDock")
    panel.n_spin.setValue(20)
    assert panel.compute() is not None
    qtbot.waitUntil(lambda: not w.runner.running_kinds() and not panel.progress_bar.isVisible(), timeout=30_000)
    assert "has no test split" in panel.header.text() and "\n" not in panel.header.text()
    assert any("has no test split" in m for m in no_dialogs)
    assert w.session.evaluation(w.session.active_key, "sample_quality") is None


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")  # making the stand-in file is the user's business
def test_choosing_a_torchscript_extractor_says_that_it_runs_its_code(make_window, tmp_path):
    import torch

    path = tmp_path / "inception-2015-12-05.pt"
    torch.jit.save(torch.jit.script(torch.nn.Identity()), str(path))
    w = make_window()
    panel = w.judging.show("SampleQualityDock")
    assert panel.extractor_spec() == "classifier" and not panel.extractor_note.isVisible()
    panel.set_extractor(str(path))
    assert panel.extractor_spec() == str(path) and panel.extractor_combo.currentData() == "torchscript"
    assert "runs the code inside it" in panel.extractor_note.text() and panel.extractor_note.isVisible()
    panel.set_extractor("classifier")
    assert panel.extractor_spec() == "classifier" and panel.extractor_note.isHidden()


def test_the_time_left_follows_the_rate_so_far():
    from explorer.gui.sample_quality_panel import eta_words

    assert eta_words(10.0, 0.25) == " · about 30 s left"  # 10 s for a quarter: 30 s for the rest
    assert eta_words(60.0, 0.2) == " · about 4 min left"
    assert eta_words(1.0, 0.01) == "" and eta_words(5.0, 1.0) == ""  # too early to tell; done


def test_cancel_stops_the_job_and_keeps_nothing(make_window, qtbot, tiny_fashion):  # noqa: F811 - the fixture
    folder, vae = tiny_fashion
    w = make_window()
    open_and_wait(qtbot, w, folder, [vae])
    panel = w.judging.show("SampleQualityDock")
    panel.n_spin.setValue(20_000)
    task = panel.compute()
    assert panel.cancel_button.isVisible()
    panel.cancel()
    qtbot.waitUntil(lambda: not w.runner.running_kinds(), timeout=30_000)
    assert not panel.progress_bar.isVisible() and w.session.evaluation(w.session.active_key, "sample_quality") is None
    assert task.kind not in w.runner.running_kinds() and panel.compute_button.isEnabled()


def test_a_result_of_another_dataset_draws_no_nearest_training_images_from_the_open_one(window_with_result, qtbot):
    w, panel, key = window_with_result
    ssq._cache(w.session)["images"].clear()
    w.session.evaluation(key, ssq.FAMILY).dataset_id = "another dataset"  # as after opening another dataset
    panel._images_for = None
    panel.refresh()
    assert "another dataset" in panel.samples_grid.text() and not w.runner.running_kinds()
    assert panel.table.cell_text(0, 0) == "FID"  # its numbers are still shown, with their real set named
