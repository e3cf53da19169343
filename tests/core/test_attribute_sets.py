"""The attribute vector "selection A − selection B": stored selections in the session, their vector, the .lxs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from explorer.core.session.directions import (
    attribute_sets_of,
    clear_attribute_sets,
    compute_directions,
    store_attribute_set,
)
from explorer.core.session.files import SessionFileError, read_session, restore_session, save_session
from tests.core.test_session import new_session, open_all
from tests.core.test_session_disentanglement import factor_files  # noqa: F401  (a fixture)


def _unit(v):
    return v / np.linalg.norm(v)


def test_a_minus_b_is_the_difference_of_the_stored_selections_mean_codes(tmp_path, factor_files):  # noqa: F811
    data, a = factor_files
    s = new_session(tmp_path)
    open_all(s, data, [a])
    key = s.models[0].key
    events = []
    s.directions_changed.connect(events.append)
    with pytest.raises(ValueError, match="store a selection as A first"):
        compute_directions(s, key, "attribute", by="sets")
    s.select(np.array([1, 4, 7, 10]))
    store_attribute_set(s, key, "A")
    s.select(np.array([2, 5, 8]))  # the selection moves on; A stays
    store_attribute_set(s, key, "B")
    s.select(np.array([], np.int64))
    assert events == [key, key]
    sets = attribute_sets_of(s, key)
    np.testing.assert_array_equal(sets.a, [1, 4, 7, 10])
    np.testing.assert_array_equal(sets.b, [2, 5, 8])
    z = s.models[0].codes.z.astype(np.float64)
    (d,) = compute_directions(s, key, "attribute", by="sets")
    diff = z[[1, 4, 7, 10]].mean(0) - z[[2, 5, 8]].mean(0)  # a direct loop would give the same means
    assert d.name == "A − B" and d.info["n_target"] == 4 and d.info["n_reference"] == 3
    np.testing.assert_allclose(d.vector, _unit(diff), atol=1e-6)
    # the vector carries mean code(B) onto mean code(A)
    np.testing.assert_allclose(z[[2, 5, 8]].mean(0) + d.scale * d.vector, z[[1, 4, 7, 10]].mean(0), atol=1e-5)
    store_attribute_set(s, key, "rest")
    (rest,) = compute_directions(s, key, "attribute", by="sets")
    others = np.setdiff1d(np.arange(90), [1, 4, 7, 10])
    np.testing.assert_allclose(rest.vector, _unit(z[[1, 4, 7, 10]].mean(0) - z[others].mean(0)), atol=1e-6)
    assert rest.name == "A − rest" and rest.info["n_reference"] == 86
    with pytest.raises(ValueError, match="select some images first"):
        store_attribute_set(s, key, "B")  # nothing selected
    with pytest.raises(ValueError, match="'A', 'B' or 'rest'"):
        store_attribute_set(s, key, "C")
    sets = attribute_sets_of(s, key)
    sets.dataset_id = "another"  # as if stored on another dataset
    with pytest.raises(ValueError, match="another dataset"):
        compute_directions(s, key, "attribute", by="sets")
    clear_attribute_sets(s, key)
    assert attribute_sets_of(s, key) is None


def test_stored_selections_round_trip_and_are_checked(tmp_path, factor_files):  # noqa: F811
    data, a = factor_files
    s = new_session(tmp_path)
    open_all(s, data, [a])
    key = s.models[0].key
    store_attribute_set(s, key, "A", [3, 0, 3, 6])
    store_attribute_set(s, key, "B", [9, 12])
    path = save_session(s, tmp_path / "sets.lxs")
    entry = json.loads(path.read_text())["models"][0]["attribute_sets"]
    assert entry == {"A": [0, 3, 6], "B": [9, 12], "dataset": s.dataset_id}
    s2 = new_session(tmp_path, "cache2")
    s2.run_all(restore_session(s2, read_session(path)))
    (d1,) = compute_directions(s, key, "attribute", by="sets")
    (d2,) = compute_directions(s2, s2.models[0].key, "attribute", by="sets")
    np.testing.assert_array_equal(d1.vector, d2.vector)
    doc = json.loads(path.read_text())
    bad = tmp_path / "bad.lxs"
    for broken in ({"A": [1, -2], "B": None, "dataset": ""}, {"A": "all"}, {"A": [1], "C": [2]}, [1, 2],
                   {"A": [1.5]}, {"A": [True]}):
        doc["models"][0]["attribute_sets"] = broken
        bad.write_text(json.dumps(doc))
        with pytest.raises(SessionFileError, match="bad.lxs.*stored selections") as info:
            read_session(bad)
        assert "\n" not in str(info.value)
