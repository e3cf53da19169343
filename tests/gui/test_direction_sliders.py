"""Direction sliders of the Latent sliders dock: GANSpace, SeFa, attribute vectors move z by t·u; traversal, .lxs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.core.latent.direction_traversal import direction_traversal_figure
from explorer.core.latent.directions import ganspace_directions, sefa_directions
from explorer.core.latent.sliders import save_traversal
from explorer.core.session.directions import directions_of
from models.checkpoint import save_checkpoint
from models.vae import VAE
from tests.gui.windows import open_and_wait


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.arange(90) % 3
    images = (0.2 * rng.random((90, 28, 28)) + 0.25 * labels[:, None, None]).astype(np.float32)
    data = tmp_path / "toy.npz"
    np.savez(data, images=images, labels=labels, class_names=np.array(["a", "b", "c"]),
             factors=np.stack([labels, rng.integers(0, 2, 90)], 1).astype(np.float64))
    torch.manual_seed(0)
    model = save_checkpoint(tmp_path / "a.pt", VAE(4, (1, 28, 28), hidden=16).eval(), dataset="toy", seed=0)
    return data, model


def test_ganspace_sliders_move_the_code_by_t_u_and_drive_the_traversal(make_window, qtbot, files, tmp_path):
    data, model = files
    w = make_window()
    open_and_wait(qtbot, w, data, [model])
    panel, box = w.slider_panel, w.slider_panel.directions
    assert box.kind() == "axis" and box.sliders == [] and not box.compute_button.isVisible()
    z0 = np.array([0.2, -0.4, 0.1, 0.3], np.float32)
    panel.set_code(z0)
    box.kind_combo.setCurrentIndex(box.kind_combo.findData("ganspace"))
    box.n_spin.setValue(3)
    box.compute_button.click()
    key = w.session.active_key
    choice = directions_of(w.session, key)
    ref = ganspace_directions(w.session.active.codes.z, 3)
    assert choice.kind == "ganspace" and len(box.sliders) == 3
    for d, r in zip(choice.directions, ref, strict=True):
        np.testing.assert_allclose(d.vector, r.vector, atol=1e-6)
    np.testing.assert_array_equal(choice.base, z0)
    t = 0.5 * 3 * choice.directions[1].scale  # half-way up its slider (±3 × scale)
    box.set_value(1, t)
    u = choice.directions[1].vector.astype(np.float64)
    np.testing.assert_allclose(w.session.active.slider_code - z0, t * u, atol=1e-6)
    np.testing.assert_array_equal(panel.code(), w.session.active.slider_code)  # the axis sliders follow
    assert box._values[1].text() == f"{t:+.2f}"
    step = box.sliders[0].maximum() // 4  # dragging slider 0 to a quarter of its range: −1.5 × scale
    box.sliders[0].setValue(step)
    t0 = directions_of(w.session, key).offsets[0]
    np.testing.assert_allclose(t0, -1.5 * choice.directions[0].scale, rtol=1e-3)
    np.testing.assert_allclose(w.session.active.slider_code - z0, t * u + t0 * choice.directions[0].vector, atol=1e-6)
    # the traversal grid moves along the directions
    panel.traversal_button.click()
    images, rows, _ = direction_traversal_figure(w.session.active.model, panel.code(), choice.directions,
                                                 w.traversal_view.cols_spin.value())
    np.testing.assert_allclose(w.traversal_view.images, images, atol=1e-6)
    assert "directions" in w.traversal_view.status.text() and rows[0].startswith("PC 1 (±")
    out = w.traversal_view.export(tmp_path / "t.png")
    ref_png = save_traversal(tmp_path / "r.png", w.session.active.model, panel.code(), [], None,
                             **w.traversal_view.options(), directions=choice.directions)
    assert out.read_bytes() == ref_png.read_bytes()
    # an axis slider moved by hand restarts the offsets at the new code
    panel.set_value(0, 0.9)
    assert np.all(directions_of(w.session, key).offsets == 0) and box._values[1].text() == "+0.00"
    np.testing.assert_array_equal(directions_of(w.session, key).base, panel.code())
    # saved and restored with the session
    path = w.save_session(tmp_path / "s.lxs")
    w2 = make_window("s2.ini")
    assert w2.open_session(path)
    qtbot.waitUntil(lambda: w2.shown_embedding is not None and not w2.runner.running_kinds(), timeout=20_000)
    box2 = w2.slider_panel.directions
    assert box2.kind() == "ganspace" and len(box2.sliders) == 3
    np.testing.assert_array_equal(w2.slider_panel.code(), panel.code())
    box.kind_combo.setCurrentIndex(box.kind_combo.findData("axis"))  # back to the axes of z
    assert directions_of(w.session, key) is None and box.sliders == []


def test_sefa_and_attribute_vectors_from_the_chooser(make_window, qtbot, files):
    data, model = files
    w = make_window()
    open_and_wait(qtbot, w, data, [model])
    box = w.slider_panel.directions
    box.kind_combo.setCurrentIndex(box.kind_combo.findData("sefa"))
    box.n_spin.setValue(2)
    box.compute_button.click()
    choice = directions_of(w.session, None)
    for d, r in zip(choice.directions, sefa_directions(w.session.active.model, 2), strict=True):
        np.testing.assert_array_equal(d.vector, r.vector)
    assert "decoder.0" in box.status.text()
    box.kind_combo.setCurrentIndex(box.kind_combo.findData("attribute"))
    assert [box.target_combo.itemText(i) for i in range(3)] == ["a", "b", "c"]
    box.target_combo.setCurrentIndex(2)
    box.reference_combo.setCurrentIndex(0)
    box.compute_button.click()
    (att,) = directions_of(w.session, None).directions
    z, labels = w.session.active.codes.z.astype(np.float64), w.session.dataset.labels
    diff = z[labels == 2].mean(0) - z[labels == 0].mean(0)
    np.testing.assert_allclose(att.vector, diff / np.linalg.norm(diff), atol=1e-6)
    assert att.name == "c − a" and len(box.sliders) == 1
    box.by_combo.setCurrentIndex(box.by_combo.findData("selection"))
    box.compute_button.click()  # nothing selected: one sentence, the old directions stay
    assert "non-empty" in box.status.text() and directions_of(w.session, None).directions[0] is att
