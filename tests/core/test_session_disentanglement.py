"""The disentanglement task of the session and the sliders' directions: evaluation store, .lxs round trip, z + t·u."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from explorer.core.disentanglement import evaluate_disentanglement
from explorer.core.latent.directions import Direction, sefa_directions
from explorer.core.session.directions import (
    DirectionChoice,
    clear_directions,
    compute_directions,
    directions_of,
    follow_slider_code,
    set_direction_offset,
    set_directions,
)
from explorer.core.session.disentanglement import (
    carrier_traversal_codes,
    disentanglement_settings,
    disentanglement_task,
    factor_names_of,
)
from explorer.core.session.files import SessionFileError, read_session, restore_session, save_session
from models.checkpoint import save_checkpoint
from models.vae import VAE
from tests.core.test_session import new_session, open_all


@pytest.fixture
def factor_files(tmp_path):
    """An NPZ of 90 images with 3 classes and two integer factors (the class and a 4-valued one), a tiny VAE."""
    rng = np.random.default_rng(0)
    labels = np.arange(90) % 3
    other = rng.integers(0, 4, 90)
    images = (0.2 * rng.random((90, 28, 28)) + 0.25 * labels[:, None, None]
              + 0.05 * other[:, None, None]).astype(np.float32)
    data = tmp_path / "data" / "fac.npz"
    data.parent.mkdir()
    np.savez(data, images=images, labels=labels, class_names=np.array(["a", "b", "c"]),
             factors=np.stack([labels, other], 1).astype(np.float64), factor_names=np.array(["kind", "level"]))
    torch.manual_seed(0)
    a = save_checkpoint(tmp_path / "models" / "a.pt", VAE(4, (1, 28, 28), hidden=16).eval(), dataset="fac", seed=0)
    return data, a


def test_the_evaluation_equals_the_orchestration_at_the_same_seed(tmp_path, factor_files):
    data, a = factor_files
    s = new_session(tmp_path)
    open_all(s, data, [a])
    key = s.models[0].key
    seen = []
    s.evaluation_changed.connect(lambda k, f: seen.append((k, f)))
    fast = disentanglement_settings("fast", n=40)
    assert (fast.name, fast.n_train, fast.n_test, fast.dci_train, fast.dci_test, fast.dci_classifier) == \
        ("custom", 40, 20, 40, 20, "gbt_binned")
    settings = disentanglement_settings("reference", n=40)  # scikit-learn's GBT: quick on 40 points
    assert (settings.n_train, settings.dci_train, settings.dci_test, settings.dci_classifier) == (40, 40, 20, "gbt")
    s.run(disentanglement_task(s, key, settings, seed=3))
    assert seen == [(key, "disentanglement")]
    ev = s.evaluation(key, "disentanglement")
    ref = evaluate_disentanglement(s.models[0].model, s.dataset, settings, 3)
    for name in ("mig", "sap", "modularity", "explicitness", "n_train", "n_test", "sklearn_version"):
        assert ev.record[name] == ref.record[name], name
    assert ev.record["dci"] == pytest.approx(ref.record["dci"], abs=1e-12)
    assert ev.record["beta_vae"] is None and ev.record["factor_vae"] is None  # no complete factor grid
    np.testing.assert_allclose(ev.matrices["mi"], ref.mutual_information, atol=1e-12)
    np.testing.assert_allclose(ev.matrices["dci_importance"], ref.dci_importance, atol=1e-12)
    assert ev.matrices["mi"].shape == (2, 4) and ev.matrices["dci_importance"].shape == (4, 2)
    assert factor_names_of(ev) == ["kind", "level"]
    assert ev.record["carriers"] == {"kind": int(np.argmax(ref.mutual_information[0])),
                                     "level": int(np.argmax(ref.mutual_information[1]))}
    assert ev.dataset_id == s.dataset_id
    # saved and restored with the session
    path = save_session(s, tmp_path / "d.lxs")
    s2 = new_session(tmp_path, "cache2")
    s2.run_all(restore_session(s2, read_session(path)))
    ev2 = s2.evaluation(s2.models[0].key, "disentanglement")
    assert ev2.record["carriers"] == ev.record["carriers"]
    np.testing.assert_array_equal(ev2.matrices["mi"], ev.matrices["mi"])


def test_a_dataset_without_factors_gets_one_sentence(tmp_path):
    data, a, _ = _toy(tmp_path)
    s = new_session(tmp_path)
    open_all(s, data, [a])
    with pytest.raises(ValueError, match="has no ground-truth factors"):
        disentanglement_task(s, s.models[0].key)
    with pytest.raises(ValueError, match="at least 20"):
        disentanglement_settings("fast", n=5)


def _toy(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "data" / "toy.npz"
    data.parent.mkdir()
    np.savez(data, images=rng.random((30, 28, 28)).astype(np.float32))
    torch.manual_seed(0)
    a = save_checkpoint(tmp_path / "models" / "a.pt", VAE(3, (1, 28, 28), hidden=16).eval(), dataset="toy", seed=0)
    return data, a, None


def test_carrier_traversal_rows_vary_only_the_carrier():
    z = np.arange(5, dtype=np.float32) / 10
    grid = carrier_traversal_codes(z, [3, 0], n_cols=5, span=2.0)
    assert grid.shape == (2, 5, 5) and grid.dtype == np.float32
    np.testing.assert_array_equal(grid[0, :, 3], np.linspace(-2, 2, 5).astype(np.float32))
    np.testing.assert_array_equal(np.delete(grid[0], 3, axis=1), np.tile(np.delete(z, 3), (5, 1)))
    np.testing.assert_array_equal(grid[1, :, 0], np.linspace(-2, 2, 5).astype(np.float32))


def test_moving_a_slider_along_a_direction_moves_z_by_exactly_t_u(tmp_path, factor_files):
    data, a = factor_files
    s = new_session(tmp_path)
    open_all(s, data, [a])
    key = s.models[0].key
    z0 = np.array([0.5, -1.0, 0.25, 2.0], np.float32)
    s.set_slider_code(key, z0)
    dirs = compute_directions(s, key, "ganspace", n=3)
    assert [d.name for d in dirs] == ["PC 1", "PC 2", "PC 3"] and dirs[0].info["codes"] == "encoded codes"
    events = []
    s.directions_changed.connect(events.append)
    set_directions(s, key, "ganspace", dirs)
    assert events == [key] and directions_of(s, key).kind == "ganspace"
    z1 = set_direction_offset(s, key, 1, 1.5)
    u = dirs[1].vector.astype(np.float64)
    np.testing.assert_allclose(s.models[0].slider_code.astype(np.float64) - z0, 1.5 * u, atol=1e-6)
    np.testing.assert_array_equal(z1, s.models[0].slider_code)
    z2 = set_direction_offset(s, key, 0, -0.75)  # a second slider adds its own t·u
    np.testing.assert_allclose(z2.astype(np.float64) - z1, -0.75 * dirs[0].vector.astype(np.float64), atol=1e-6)
    set_direction_offset(s, key, 1, 0.0)
    np.testing.assert_allclose(s.models[0].slider_code - z0, -0.75 * dirs[0].vector, atol=1e-6)
    # a code set by other means restarts the offsets there
    s.set_slider_code(key, np.zeros(4, np.float32))
    assert follow_slider_code(s, key)
    np.testing.assert_array_equal(directions_of(s, key).offsets, np.zeros(3))
    with pytest.raises(ValueError, match="not one of"):
        set_direction_offset(s, key, 7, 1.0)
    clear_directions(s, key)
    assert directions_of(s, key) is None


def test_sefa_axes_and_attribute_directions_of_the_session(tmp_path, factor_files):
    data, a = factor_files
    s = new_session(tmp_path)
    open_all(s, data, [a])
    key = s.models[0].key
    model = s.models[0].model
    sefa = compute_directions(s, key, "sefa", n=2)
    ref = sefa_directions(model, 2)
    assert sefa[0].info["layer"] == "decoder.0"
    for d, r in zip(sefa, ref, strict=True):
        np.testing.assert_array_equal(d.vector, r.vector)
    axes = compute_directions(s, key, "axis")
    np.testing.assert_array_equal(np.stack([d.vector for d in axes]), np.eye(4, dtype=np.float32))
    z = s.models[0].codes.z.astype(np.float64)
    labels = s.dataset.labels
    (att,) = compute_directions(s, key, "attribute", by="class", target=2, reference=0)
    diff = z[labels == 2].mean(0) - z[labels == 0].mean(0)
    assert att.name == "c − a"
    np.testing.assert_allclose(att.vector, diff / np.linalg.norm(diff), atol=1e-6)
    np.testing.assert_allclose(z[labels == 0].mean(0) + att.scale * att.vector, z[labels == 2].mean(0), atol=1e-5)
    (fac,) = compute_directions(s, key, "attribute", by="factor", target=(1, 3), reference=(1, 0))
    level = s.dataset.factors[:, 1]
    diff = z[level == 3].mean(0) - z[level == 0].mean(0)
    np.testing.assert_allclose(fac.vector, diff / np.linalg.norm(diff), atol=1e-6)
    assert fac.name == "level 3 − level 0"  # factor values by name (explorer.data.factor_values)
    s.select(np.array([1, 4, 7]))
    (sel,) = compute_directions(s, key, "attribute", by="selection")
    mask = np.isin(np.arange(90), [1, 4, 7])
    diff = z[mask].mean(0) - z[~mask].mean(0)
    np.testing.assert_allclose(sel.vector, diff / np.linalg.norm(diff), atol=1e-6)
    s.select(np.array([], np.int64))
    with pytest.raises(ValueError, match="non-empty"):
        compute_directions(s, key, "attribute", by="selection")
    with pytest.raises(ValueError, match="direction kind"):
        compute_directions(s, key, "wiggle")


def test_directions_round_trip_through_the_session_file(tmp_path, factor_files):
    data, a = factor_files
    s = new_session(tmp_path)
    open_all(s, data, [a])
    key = s.models[0].key
    s.set_slider_code(key, np.array([0.1, 0.2, 0.3, 0.4], np.float32))
    set_directions(s, key, "sefa", compute_directions(s, key, "sefa", n=2))
    set_direction_offset(s, key, 0, 1.25)
    path = save_session(s, tmp_path / "dir.lxs")
    entry = json.loads(path.read_text())["models"][0]["directions"]
    assert entry["kind"] == "sefa" and entry["offsets"] == [1.25, 0.0]
    assert entry["directions"][0]["info"]["layer"] == "decoder.0"
    s2 = new_session(tmp_path, "cache2")
    s2.run_all(restore_session(s2, read_session(path)))
    c1, c2 = directions_of(s, key), directions_of(s2, s2.models[0].key)
    assert c2.kind == "sefa" and [d.name for d in c2.directions] == [d.name for d in c1.directions]
    for d1, d2 in zip(c1.directions, c2.directions, strict=True):
        np.testing.assert_array_equal(d1.vector, d2.vector)
        assert d1.info == d2.info and d1.scale == d2.scale
    np.testing.assert_array_equal(c2.base, c1.base)
    np.testing.assert_array_equal(c2.offsets, c1.offsets)
    np.testing.assert_array_equal(s2.models[0].slider_code, c2.code())
    assert not follow_slider_code(s2, s2.models[0].key)  # the restored code is the directions' code
    # a broken entry is one sentence naming the file
    doc = json.loads(path.read_text())
    doc["models"][0]["directions"]["directions"][0]["vector"] = [1.0, 1.0, 0.0, 0.0]  # not unit length
    bad = tmp_path / "bad.lxs"
    bad.write_text(json.dumps(doc))
    with pytest.raises(SessionFileError, match="bad.lxs.*slider directions.*unit vector"):
        read_session(bad)
    doc["models"][0]["directions"] = {"kind": "axis", "directions": [Direction("z0", np.eye(3, dtype=np.float32)[0],
                                                                              "axis").to_dict()],
                                      "base": [0.0, 0.0, 0.0], "offsets": [0.0]}
    bad.write_text(json.dumps(doc))
    with pytest.raises(SessionFileError, match="different lengths"):
        read_session(bad)


def test_a_direction_choice_checks_its_parts():
    u = Direction("z0", np.array([1.0, 0.0], np.float32), "axis")
    with pytest.raises(ValueError, match="dimensions"):
        DirectionChoice("axis", [u], np.zeros(3))
    with pytest.raises(ValueError, match="1 to 64"):
        DirectionChoice("axis", [], np.zeros(2))
    with pytest.raises(ValueError, match="kind"):
        DirectionChoice("pca", [u], np.zeros(2))
    c = DirectionChoice("axis", [u], np.array([0.5, 0.5]), [2.0])
    np.testing.assert_array_equal(c.code(), np.array([2.5, 0.5], np.float32))
    assert DirectionChoice.from_dict(c.to_dict()).to_dict() == c.to_dict()


def test_ganspace_of_prior_samples_is_refused_with_one_sentence(tmp_path):
    from types import SimpleNamespace

    from explorer.core.session.directions import compute_directions

    class S:
        active_key = "k"

        def state(self, key):
            return SimpleNamespace(name="gan.pt", model=SimpleNamespace(latent_dim=4),
                                   codes=SimpleNamespace(source="prior", z=np.zeros((10, 4))), key="k")

    for codes in ("prior", "encoded"):  # asked for, or the GAN shows prior samples
        with pytest.raises(ValueError, match="identity as covariance") as info:
            compute_directions(S(), None, "ganspace", codes=codes)
        assert "\n" not in str(info.value)
