"""The sliders panel's attribute vector "selection A − selection B" on a real window: store, compute, save."""

from __future__ import annotations

import numpy as np

from explorer.core.session.directions import attribute_sets_of, directions_of
from tests.gui.test_direction_sliders import files  # noqa: F401  (a fixture)
from tests.gui.windows import open_and_wait


def _unit(v):
    return v / np.linalg.norm(v)


def test_store_a_and_b_then_compute_a_minus_b(make_window, qtbot, files, tmp_path):  # noqa: F811
    data, model = files
    w = make_window()
    open_and_wait(qtbot, w, data, [model])
    box = w.slider_panel.directions
    box.kind_combo.setCurrentIndex(box.kind_combo.findData("attribute"))
    box.by_combo.setCurrentIndex(box.by_combo.findData("sets"))
    assert box.store_a_button.isVisible() and box.sets_label.isVisible() and not box.target_combo.isVisible()
    assert not box.store_a_button.isEnabled() and box.sets_label.text() == "A: not stored · B: the rest"
    box.compute_button.click()  # nothing stored yet: one sentence
    assert "store a selection as A first" in box.status.text() and directions_of(w.session, None) is None
    w.session.select(np.array([0, 3, 6, 9, 12]))
    assert box.store_a_button.isEnabled() and box.store_a_button.text() == "Selection (5) → A"
    box.store_a_button.click()
    assert "Stored 5 selected images as A" in box.status.text()
    w.session.select(np.array([1, 4, 7]))
    box.store_b_button.click()
    assert box.sets_label.text() == "A: 5 images · B: 3 images"
    box.compute_button.click()
    (d,) = directions_of(w.session, None).directions
    z = w.session.active.codes.z.astype(np.float64)
    np.testing.assert_allclose(d.vector, _unit(z[[0, 3, 6, 9, 12]].mean(0) - z[[1, 4, 7]].mean(0)), atol=1e-6)
    assert d.name == "A − B" and len(box.sliders) == 1 and "A − B: 5 − 3 codes" in box.status.text()
    box.rest_button.click()
    assert box.sets_label.text() == "A: 5 images · B: the rest"
    box.compute_button.click()
    (rest,) = directions_of(w.session, None).directions
    others = np.setdiff1d(np.arange(90), [0, 3, 6, 9, 12])
    np.testing.assert_allclose(rest.vector, _unit(z[[0, 3, 6, 9, 12]].mean(0) - z[others].mean(0)), atol=1e-6)
    # saved with the session; a new window shows the stored groups again
    w.session.select(np.array([2, 5]))
    box.store_b_button.click()
    path = w.save_session(tmp_path / "sets.lxs")
    w2 = make_window("s2.ini")
    assert w2.open_session(path)
    qtbot.waitUntil(lambda: w2.shown_embedding is not None and not w2.runner.running_kinds(), timeout=20_000)
    sets = attribute_sets_of(w2.session, None)
    np.testing.assert_array_equal(sets.a, [0, 3, 6, 9, 12])
    np.testing.assert_array_equal(sets.b, [2, 5])
    assert w2.slider_panel.directions.sets_label.text() == "A: 5 images · B: 2 images"


def test_factor_value_choices_are_named_on_dsprites(make_window, qtbot):
    import resources

    w = make_window()
    w.open_dataset("dsprites", None, 200, 0)
    w.open_models([resources.path("checkpoints", "betavae_dsprites.pt")])
    qtbot.waitUntil(lambda: w.shown_embedding is not None and not w.runner.running_kinds(), timeout=20_000)
    box = w.slider_panel.directions
    box.kind_combo.setCurrentIndex(box.kind_combo.findData("attribute"))
    box.by_combo.setCurrentIndex(box.by_combo.findData("factor"))
    box.factor_combo.setCurrentIndex(0)
    assert [box.target_combo.itemText(i) for i in range(box.target_combo.count())] == ["square", "ellipse", "heart"]
    box.factor_combo.setCurrentIndex(1)
    assert box.target_combo.itemText(0) == "0.5" and box.target_combo.itemText(5) == "1"  # beside "scale"
    box.factor_combo.setCurrentIndex(2)
    assert box.target_combo.itemText(1) == "0.16 rad"
    box.factor_combo.setCurrentIndex(0)
    box.target_combo.setCurrentIndex(2)
    box.reference_combo.setCurrentIndex(0)
    box.compute_button.click()
    (d,) = directions_of(w.session, None).directions
    assert d.name == "heart − square" and "heart − square" in box.status.text()
