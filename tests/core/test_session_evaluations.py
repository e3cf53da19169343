"""The session's evaluations store: tasks, signals, colouring by per-image −log p(x) or a factor, the .lxs entry."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from explorer.core.captions import colouring
from explorer.core.session.evaluations import Evaluation, json_ready
from explorer.core.session.files import SessionFileError, read_session, restore_session, save_session
from models.checkpoint import save_checkpoint
from models.vae import VAE
from tests.core.test_session import files, new_session, open_all  # noqa: F401 - the fixture

__all__ = ["files"]


def _likelihood(indices, bits) -> Evaluation:
    return Evaluation("likelihood", {"estimator": "iwae", "k": 10, "n_images": len(indices), "nll_nats": 1.5,
                                     "bits_per_dim": float(np.mean(bits))},
                      indices=indices, values={"bits_per_dim": bits, "nll_nats": np.asarray(bits) * 784 * np.log(2)},
                      matrices={"curve": [[1, 2.5], [10, 2.25]]})


def test_a_task_keeps_its_evaluation_and_the_points_are_coloured_by_it(tmp_path, files):
    data, a, b = files
    s = new_session(tmp_path)
    open_all(s, data, [a, b])
    key = s.models[0].key
    seen = []
    s.evaluation_changed.connect(lambda k, f: seen.append((k, f)))
    idx = np.array([4, 0, 17], np.int64)
    bits = np.array([2.0, 3.0, 5.0])
    s.run(s.evaluation_task(key, "likelihood", lambda ctx: _likelihood(idx, bits), "likelihood"))
    assert seen == [(key, "likelihood")] and s.dirty
    ev = s.evaluation(key, "likelihood")
    assert ev.dataset_id == s.dataset_id and s.evaluation(s.models[1].key, "likelihood") is None
    assert s.effective_colour(s.models[1].key).mode == "label"  # b has no likelihood: the label stands in
    s.set_colour("nll")
    col = s.colouring(key)
    assert col.mode == "nll" and "bits/dim" in col.title and "IWAE k = 10" in col.title and "N = 3" in col.title
    expected = np.full(90, np.nan)
    expected[idx] = bits
    np.testing.assert_array_equal(col.values, expected)
    assert s.colouring(s.models[1].key).mode == "label"


def test_a_result_for_another_dataset_or_family_is_not_kept(tmp_path, files):
    data, a, _b = files
    s = new_session(tmp_path)
    open_all(s, data, [a])
    key = s.models[0].key
    task = s.evaluation_task(key, "likelihood", lambda ctx: _likelihood([0], [1.0]), "likelihood")
    original, s.dataset_id = s.dataset_id, "something else"  # the dataset changed while it ran
    s.run(task)
    assert s.evaluation(key, "likelihood") is None
    s.dataset_id = original
    with pytest.raises(TypeError, match="not its Evaluation"):
        s.evaluation_task(key, "human", lambda ctx: _likelihood([0], [1.0]), "x").fn(None)
    with pytest.raises(ValueError, match="lower-case"):
        s.evaluation_task(key, "Bad Family", lambda ctx: None, "x")


def test_evaluations_are_saved_and_restored_exactly_with_nan_as_null(tmp_path, files):
    data, a, b = files
    s = new_session(tmp_path)
    open_all(s, data, [a, b])
    bits = np.array([2.0, np.nan, 1.0 / 3.0])
    s.set_evaluation(s.models[1].key, _likelihood(np.array([1, 2, 3]), bits))
    s.set_evaluation(s.models[1].key, Evaluation("disentanglement", {"mig": np.float32(0.25), "sap": float("nan")},
                                                 matrices={"mi": np.arange(6.0).reshape(2, 3) / 7}))
    path = save_session(s, tmp_path / "e.lxs")
    doc = json.loads(path.read_text())
    entries = doc["evaluations"]
    assert [(e["model"], e["family"]) for e in entries] == [(1, "likelihood"), (1, "disentanglement")]
    assert entries[0]["values"]["bits_per_dim"][1] is None and entries[1]["record"]["sap"] is None
    s2 = new_session(tmp_path)
    s2.run_all(restore_session(s2, read_session(path)))
    assert s2.notes == [] and not s2.dirty
    ev = s2.evaluation(s2.models[1].key, "likelihood")
    np.testing.assert_array_equal(ev.values["bits_per_dim"], bits)  # NaN back as NaN, 1/3 bit-exact
    np.testing.assert_array_equal(ev.indices, [1, 2, 3])
    d = s2.evaluation(s2.models[1].key, "disentanglement")
    np.testing.assert_array_equal(d.matrices["mi"], np.arange(6.0).reshape(2, 3) / 7)
    assert d.record == {"mig": 0.25, "sap": None}
    assert save_session(s2, tmp_path / "f.lxs").read_text() == path.read_text()


def test_an_evaluation_of_a_changed_model_file_is_left_out_with_a_note(tmp_path, files):
    data, a, _b = files
    s = new_session(tmp_path)
    open_all(s, data, [a])
    s.set_evaluation(s.models[0].key, _likelihood(np.array([0]), np.array([1.0])))
    path = save_session(s, tmp_path / "c.lxs")
    torch.manual_seed(7)  # other weights in the same file
    save_checkpoint(a, VAE(3, (1, 28, 28), hidden=16).eval(), dataset="toy", seed=7)
    s2 = new_session(tmp_path)
    s2.run_all(restore_session(s2, read_session(path)))
    assert len(s2.models) == 1 and s2.evaluation(s2.models[0].key, "likelihood") is None
    assert any("likelihood evaluation" in n and "changed" in n for n in s2.notes)


@pytest.mark.parametrize("entry, words", [
    ({"model": 5, "family": "likelihood", "record": {}}, "model position"),
    ({"model": 0, "family": "Likelihood!", "record": {}}, "family"),
    ({"model": 0, "family": "likelihood", "record": [1]}, "record"),
    ({"model": 0, "family": "likelihood", "record": {}, "indices": [0, 1], "values": {"v": [1.0]}},
     "per-image series"),
    ({"model": 0, "family": "likelihood", "record": {}, "indices": [0], "values": {"v": ["x"]}}, "per-image series"),
    ({"model": 0, "family": "likelihood", "record": {}, "matrices": {"m": [[1, 2], [3]]}}, "matrix"),
    ({"model": 0, "family": "likelihood", "record": {}, "indices": [-1]}, "dataset indices"),
])
def test_a_bad_evaluation_entry_is_one_sentence(tmp_path, files, entry, words):
    data, a, _b = files
    s = new_session(tmp_path)
    open_all(s, data, [a])
    path = save_session(s, tmp_path / "bad.lxs")
    doc = json.loads(path.read_text())
    doc["evaluations"] = [entry]
    path.write_text(json.dumps(doc))
    with pytest.raises(SessionFileError, match=words) as info:
        read_session(path)
    assert "bad.lxs" in str(info.value) and "\n" not in str(info.value)


def test_factor_colouring_is_categorical_for_few_values_and_continuous_for_many():
    factors = np.c_[np.arange(50) % 3, np.linspace(0, 2 * np.pi, 50)]
    shape = colouring("factor", 50, factors=factors, dim=0, factor_names=("shape", "orientation"))
    assert shape.title == "shape" and shape.names == ("shape = 0", "shape = 1", "shape = 2")
    np.testing.assert_array_equal(shape.categories, np.arange(50) % 3)
    orient = colouring("factor", 50, factors=factors, dim=1, factor_names=("shape", "orientation"))
    assert orient.categories is None and orient.title == "orientation"
    np.testing.assert_array_equal(orient.values, factors[:, 1])
    with pytest.raises(ValueError, match="factor 2 is outside"):
        colouring("factor", 50, factors=factors, dim=2)


def test_json_ready_makes_numpy_plain_and_non_finite_null():
    out = json_ready({"a": np.float32(0.5), "b": np.arange(3), "c": [np.inf, np.int64(4)], "d": (np.bool_(True),)})
    assert out == {"a": 0.5, "b": [0, 1, 2], "c": [None, 4], "d": [True]}
    json.dumps(out, allow_nan=False)


def test_compared_views_colour_by_each_models_own_likelihood_on_one_range(tmp_path, files):
    data, a, b = files
    s = new_session(tmp_path)
    open_all(s, data, [a, b])
    ka, kb = (m.key for m in s.models)
    s.set_evaluation(ka, Evaluation("likelihood", {"estimator": "ais"}, s.dataset_id, np.arange(90),
                                    {"bits_per_dim": np.linspace(1, 2, 90)}))
    s.set_evaluation(kb, Evaluation("likelihood", {"estimator": "ais"}, s.dataset_id, np.arange(45),
                                    {"bits_per_dim": np.linspace(3, 4, 45)}))
    s.set_compare_mode(True)
    s.set_colour("nll")
    pa, pb = s.compare_panels()
    ca, cb = s.compare_colouring(pa), s.compare_colouring(pb)
    np.testing.assert_allclose(ca.values[pa.dataset_indices.argsort()], np.linspace(1, 2, 90))
    assert np.isnan(cb.values[pb.dataset_indices >= 45]).all()
    lo, hi = np.percentile(np.r_[np.linspace(1, 2, 90), np.linspace(3, 4, 45)], [1, 99])
    assert (ca.vmin, ca.vmax) == (cb.vmin, cb.vmax) == pytest.approx((lo, hi))
    assert "of each model" in ca.title and "AIS" in ca.title


def test_compared_views_never_mix_bits_per_dim_and_nats_and_number_factor_values_alike(tmp_path, files):
    data, a, b = files
    s = new_session(tmp_path)
    open_all(s, data, [a, b])
    ka, kb = (m.key for m in s.models)
    nats = np.linspace(100, 200, 90)
    s.set_evaluation(ka, Evaluation("likelihood", {"estimator": "iwae", "k": 5}, s.dataset_id, np.arange(90),
                                    {"nll_nats": nats, "bits_per_dim": nats / 784 / np.log(2)}))
    s.set_evaluation(kb, Evaluation("likelihood", {"estimator": "ais"}, s.dataset_id, np.arange(90),
                                    {"nll_nats": nats + 50}))  # no bits/dim: e.g. a Bernoulli decoder on grey levels
    s.set_compare_mode(True)
    s.set_colour("nll")
    pa, pb = s.compare_panels()
    ca, cb = s.compare_colouring(pa), s.compare_colouring(pb)
    assert "[nats]" in ca.title and "[nats]" in cb.title  # both in nats, on one range
    np.testing.assert_allclose(ca.values[np.argsort(pa.dataset_indices)], nats)
    assert (ca.vmin, ca.vmax) == (cb.vmin, cb.vmax)
    # factor values get one number over the whole dataset, whatever subset a view shows
    got = colouring("factor", 3, factors=np.array([[2.0], [3.0], [2.0]]), dim=0, factor_names=("shape",),
                    factor_levels=[1.0, 2.0, 3.0])
    np.testing.assert_array_equal(got.categories, [1, 2, 1])
    assert got.names == ("shape = 1", "shape = 2", "shape = 3")
    with pytest.raises(ValueError, match="every value"):
        colouring("factor", 1, factors=np.array([[5.0]]), dim=0, factor_levels=[1.0, 2.0])


@pytest.mark.parametrize("where, value", [("evaluation", 10 ** 400), ("direction vector", 10 ** 400),
                                          ("direction info", 5), ("direction scale", -1.0),
                                          ("direction base", 1e300), ("nothing", None)])
def test_absurd_numbers_in_a_session_file_are_one_sentence(tmp_path, files, where, value):
    from explorer.core.latent.directions import Direction

    data, a, _b = files
    s = new_session(tmp_path)
    open_all(s, data, [a])
    path = save_session(s, tmp_path / "n.lxs")
    doc = json.loads(path.read_text())
    if where == "evaluation":
        doc["evaluations"] = [{"model": 0, "family": "likelihood", "record": {}, "indices": [0],
                               "values": {"v": [value]}}]
    else:
        d = Direction("pc1", np.array([1.0, 0.0, 0.0], np.float32), "ganspace", 1.0).to_dict()
        choice = {"kind": "ganspace", "directions": [d], "base": [0.0, 0.0, 0.0], "offsets": [0.0]}
        if where == "direction vector":
            d["vector"] = [value, 0, 0]
        elif where == "direction info":
            d["info"] = value
        elif where == "direction scale":
            d["scale"] = value
        elif where == "direction base":
            choice["base"] = [value, 0.0, 0.0]
        doc["models"][0]["directions"] = choice
    path.write_text(json.dumps(doc))
    if where == "nothing":  # the same entry unchanged reads: the sentences above are about the absurd numbers
        assert read_session(path).plan.models[0].directions.directions[0].name == "pc1"
        return
    with pytest.raises(SessionFileError) as info:
        read_session(path)
    assert "n.lxs" in str(info.value) and "\n" not in str(info.value)
