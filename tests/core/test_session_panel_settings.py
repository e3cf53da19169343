"""The judging panels' settings live in the Session: saved in the .lxs, restored, checked when read."""

from __future__ import annotations

import json

import pytest

from explorer.core.session.files import SessionFileError, read_session, restore_session, save_session
from explorer.core.session.panel_settings import PANEL_GROUPS
from tests.core.test_session import files, new_session, open_all  # noqa: F401 - the fixture

CHOSEN = {
    "likelihood": {"estimator": "ais", "iwae_k": [1, 50, 5000], "ais_steps": 300, "ais_chains": 2, "sigma": 0.05,
                   "n_images": 16, "seed": 7, "binarize": False},
    "sample_quality": {"extractor": "classifier", "n_samples": 2000, "real_split": "train", "seed": 3, "trials": 40},
    "disentanglement": {"settings": "reference", "n_train": 5000, "seed": 11},
}


def test_panel_settings_are_saved_and_restored_exactly(tmp_path, files):  # noqa: F811 - the fixture
    data, a, _b = files
    s = new_session(tmp_path)
    open_all(s, data, [a])
    seen = []
    s.settings_changed.connect(seen.append)
    for group, values in CHOSEN.items():
        s.update_settings(group, **values)
    assert seen == list(CHOSEN) and s.dirty
    path = save_session(s, tmp_path / "p.lxs")
    doc = json.loads(path.read_text())
    assert {g: doc[g] for g in PANEL_GROUPS} == {g: dict(sorted(v.items())) for g, v in CHOSEN.items()}
    s2 = new_session(tmp_path)
    restored = []
    s2.settings_changed.connect(restored.append)
    s2.run_all(restore_session(s2, read_session(path)))
    assert {g: s2.settings[g] for g in PANEL_GROUPS} == CHOSEN
    assert set(PANEL_GROUPS) <= set(restored)  # the panels hear of it and show the values


def test_an_extractor_file_is_kept_relative_to_the_session_file(tmp_path, files):  # noqa: F811 - the fixture
    data, a, _b = files
    s = new_session(tmp_path)
    open_all(s, data, [a])
    extractor = tmp_path / "nets" / "features.pt"
    s.update_settings("sample_quality", extractor=str(extractor))
    path = save_session(s, tmp_path / "sessions" / "e.lxs")
    assert json.loads(path.read_text())["sample_quality"]["extractor"] == "../nets/features.pt"
    s2 = new_session(tmp_path)
    s2.run_all(restore_session(s2, read_session(path)))
    assert s2.settings["sample_quality"]["extractor"] == str(extractor)


def test_an_older_session_without_panel_settings_opens_with_none(tmp_path, files):  # noqa: F811 - the fixture
    data, a, _b = files
    s = new_session(tmp_path)
    open_all(s, data, [a])
    path = save_session(s, tmp_path / "old.lxs")
    doc = json.loads(path.read_text())
    for group in PANEL_GROUPS:
        doc.pop(group)
    path.write_text(json.dumps(doc))
    s2 = new_session(tmp_path)
    s2.run_all(restore_session(s2, read_session(path)))
    assert all(s2.settings[g] == {} for g in PANEL_GROUPS)


@pytest.mark.parametrize("group, entry, words", [
    ("likelihood", {"estimator": "exact"}, "likelihood setting estimator"),
    ("likelihood", {"iwae_k": []}, "likelihood setting iwae_k"),
    ("likelihood", {"iwae_k": [1, 0]}, "likelihood setting iwae_k"),
    ("likelihood", {"sigma": float("nan")}, "likelihood setting sigma"),
    ("likelihood", {"binarize": 1}, "likelihood setting binarize"),
    ("sample_quality", {"n_samples": 10**9}, "sample-quality setting n_samples"),
    ("sample_quality", {"extractor": 5}, "sample-quality setting extractor"),
    ("sample_quality", {"extractor": "x" * 5000}, "sample-quality setting extractor"),
    ("sample_quality", {"colour": "red"}, "sample-quality setting"),
    ("disentanglement", {"settings": "custom"}, "disentanglement setting settings"),
    ("disentanglement", [1, 2], "disentanglement\" entry"),
])
def test_a_bad_panel_setting_is_one_sentence(tmp_path, files, group, entry, words):  # noqa: F811 - the fixture
    data, a, _b = files
    s = new_session(tmp_path)
    open_all(s, data, [a])
    path = save_session(s, tmp_path / "bad.lxs")
    doc = json.loads(path.read_text())
    doc[group] = entry
    path.write_text(json.dumps(doc, allow_nan=True))
    with pytest.raises(SessionFileError, match=words) as info:
        read_session(path)
    assert "bad.lxs" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("group, values", [
    ("sample_quality", {"n_samples": 500_000}),
    ("likelihood", {"iwae_k": [5_000_000]}),
    ("likelihood", {"iwae_k": list(range(1, 40))}),
    ("disentanglement", {"settings": "custom"}),
    ("sample_quality", {"colour": "red"}),
])
def test_a_value_a_session_file_would_refuse_is_refused_when_set(group, values):
    """Otherwise the window could save a session it cannot open again (review finding)."""
    from explorer.core.session import Session

    s = Session(use_workers=False)
    before = dict(s.settings[group])
    with pytest.raises(ValueError):
        s.update_settings(group, **values)
    assert s.settings[group] == before and not s.dirty


def test_the_limits_are_the_sample_quality_cores():
    from explorer.core.sample_quality.jobs import MAX_SAMPLES
    from explorer.core.session.panel_settings import PANEL_SETTINGS

    assert PANEL_SETTINGS["sample_quality"]["n_samples"][2] == MAX_SAMPLES
