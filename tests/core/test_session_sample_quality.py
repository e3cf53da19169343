"""Sample quality and the human test as session evaluations: the record, the grids' images, the .lxs round trip."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
import torch

import resources
from explorer.core.sample_quality import SampleQualityError, sample_quality
from explorer.core.session import sample_quality as ssq
from explorer.core.session.evaluations import json_ready
from explorer.core.session.files import read_session, restore_session, save_session
from explorer.data import load_dataset
from models.checkpoint import save_checkpoint
from models.vae import VAE
from tests.core.test_session import new_session, open_all

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _write_idx(path, array: np.ndarray) -> None:
    magic = (0x0800 | array.ndim).to_bytes(4, "big")
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(magic + dims + array.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def tiny_fashion(tmp_path_factory):
    """A Fashion-MNIST-shaped IDX folder (300 train, 150 test images of the bundled test split) and a tiny VAE."""
    full = load_dataset("fashion-mnist", split="test", path=resources.path("data", "fashion-mnist"))
    folder = tmp_path_factory.mktemp("tiny-fashion")
    x = np.rint(full.images[:450, 0] * 255)
    for name, sl in (("train", slice(0, 300)), ("t10k", slice(300, 450))):
        _write_idx(folder / f"{name}-images-idx3-ubyte.gz", x[sl])
        _write_idx(folder / f"{name}-labels-idx1-ubyte.gz", full.labels[sl])
    torch.manual_seed(0)
    vae = save_checkpoint(folder.parent / "vae.pt", VAE(3, (1, 28, 28), hidden=16).eval(), dataset="toy", seed=0)
    return folder, vae


def _settings(session, **kw):
    return ssq.settings_for(session, **{"n_samples": 60, "kid_subset_size": 30, "kid_subsets": 10,
                                        "memorisation_samples": 40, "memorisation_held_out": 50, "batch_size": 25,
                                        "cache": False, **kw})


@pytest.fixture
def opened(tmp_path, tiny_fashion):
    folder, vae = tiny_fashion
    s = new_session(tmp_path)
    open_all(s, folder, [vae])
    return s, s.models[0].key


def test_the_evaluation_is_the_orchestrations_record_at_the_same_seed(opened):
    s, key = opened
    settings = _settings(s, seed=3)
    seen = []
    s.evaluation_changed.connect(lambda k, f: seen.append((k, f)))
    s.run(ssq.sample_quality_task(s, key, settings))
    ev = s.evaluation(key, "sample_quality")
    assert seen == [(key, "sample_quality")] and ev.dataset_id == s.dataset_id
    direct = sample_quality(s.state(key).model, settings)  # its own reference: computed afresh
    assert {k: ev.record[k] for k in direct.record} == json_ready(direct.record)
    assert ev.record["reconstructions"] == json_ready(direct.reconstructions)
    assert ev.record["settings"]["seed"] == 3 and ev.record["n_samples"] == 60
    assert "test split (150 images)" in ev.record["real_set"] and "lenet_fashion.pt" in ev.record["extractor"]
    pr = ev.matrices["precision_recall"]
    np.testing.assert_array_equal(pr[0], [direct.record[c] for c in ssq.PR_COLUMNS])
    np.testing.assert_array_equal(pr[1], [direct.record["floor"][c] for c in ssq.PR_COLUMNS])
    np.testing.assert_array_equal(pr[2], [direct.reconstructions[c] for c in ssq.PR_COLUMNS])


def test_the_grids_images_come_back_the_same_after_a_restore(opened, tmp_path):
    s, key = opened
    s.run(ssq.sample_quality_task(s, key, _settings(s)))
    ev = s.evaluation(key, "sample_quality")
    shown = ssq.cached_images(s, key)
    assert shown is not None and shown.evaluation is ev and shown.samples.shape == (ssq.GRID_SAMPLES, 1, 28, 28)
    train = load_dataset(str(opened[0].dataset_spec.spec), split="train").images
    for space in ("pixel", "feature"):
        rows = shown.memorisation[space]
        assert rows.samples.shape == (ssq.MEMORISATION_ROWS, 1, 28, 28)
        assert rows.neighbours.shape == (ssq.MEMORISATION_ROWS, 3, 1, 28, 28)
        np.testing.assert_array_equal(rows.neighbours, train[rows.train_indices])
        assert np.all(np.diff(rows.distances, axis=1) >= 0) and np.all(np.diff(rows.distances[:, 0]) >= 0)
    pix = shown.memorisation["pixel"]
    direct = np.linalg.norm((pix.samples[:, None] - pix.neighbours).reshape(len(pix.samples), 3, -1), axis=2)
    np.testing.assert_allclose(pix.distances, direct, rtol=1e-5)
    # nothing nearer to the training set among the examined samples than the rows shown
    from scipy.spatial.distance import cdist

    nearest = cdist(shown_samples(s, key, ev), train.reshape(len(train), -1).astype(np.float64)).min(1)
    np.testing.assert_allclose(pix.distances[:, 0], np.sort(nearest)[:ssq.MEMORISATION_ROWS], rtol=1e-5)

    path = save_session(s, tmp_path / "sq.lxs")
    s2 = new_session(tmp_path, "cache2")
    s2.run_all(restore_session(s2, read_session(path)))
    key2 = s2.models[0].key
    ev2 = s2.evaluation(key2, "sample_quality")
    assert ev2.record == ev.record and ssq.cached_images(s2, key2) is None
    for name, m in ev.matrices.items():
        np.testing.assert_array_equal(ev2.matrices[name], m)
    back = ssq.sample_quality_images(s2.state(key2).model, ev2)
    np.testing.assert_array_equal(back.samples, shown.samples)
    for space in ("pixel", "feature"):
        np.testing.assert_array_equal(back.memorisation[space].samples, shown.memorisation[space].samples)
        np.testing.assert_array_equal(back.memorisation[space].neighbours, shown.memorisation[space].neighbours)


def shown_samples(s, key, ev):
    """The memorisation-examined samples, drawn again as the orchestration drew them, flattened."""
    from explorer.core.sample_quality import SampleQualitySettings, generate_samples
    from explorer.data import subsample_indices

    st = SampleQualitySettings.from_dict(ev.record["settings"])
    x = generate_samples(s.state(key).model, st.n_samples, st.seed, st.batch_size)
    idx = np.sort(subsample_indices(len(x), st.memorisation_samples, st.seed + 3))
    return x[idx].reshape(len(idx), -1)


def test_a_second_model_reuses_the_real_side(opened, tiny_fashion, tmp_path):
    s, key = opened
    torch.manual_seed(5)
    other = save_checkpoint(tmp_path / "other.pt", VAE(2, (1, 28, 28), hidden=16).eval(), dataset="toy", seed=5)
    tasks = [t for m in s.add_models([other]) for t in s.open_model_tasks(m)]
    s.run_all(tasks + s.follow_up())
    settings = _settings(s)
    s.run(ssq.sample_quality_task(s, key, settings))
    ref = ssq._cache(s)["reference"]
    s.run(ssq.sample_quality_task(s, s.models[1].key, settings))
    assert ssq._cache(s)["reference"] is ref  # the same real features served the second model
    a, b = (s.evaluation(m.key, "sample_quality").record for m in s.models)
    assert a["floor"] == b["floor"] and a["fid"] != b["fid"]


def test_settings_need_a_dataset_and_sound_values(tmp_path):
    s = new_session(tmp_path)
    with pytest.raises(ValueError, match="open a dataset first"):
        ssq.settings_for(s)


def _wilson(k, n, z=1.959963984540054):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_a_human_test_is_seeded_and_its_result_round_trips_through_the_session_file(opened, tmp_path):
    s, key = opened
    trials = ssq.human_test_session(s, key, n=20, seed=4)
    again = ssq.human_test_session(s, key, n=20, seed=4)
    assert trials.test.is_real == again.test.is_real and trials.test.index == again.test.index
    assert trials.dataset.endswith(f"all split ({len(s.dataset):,} images)")
    assert sum(trials.test.is_real) == 10 and len(trials) == 20
    np.testing.assert_array_equal(trials.image(0), again.image(0))
    first = trials.test.is_real.index(True)
    np.testing.assert_array_equal(trials.image(first), s.dataset.images[trials.test.index[first]])
    with pytest.raises(SampleQualityError, match="no answers"):
        ssq.record_human_result(s, key, trials)
    answers = [t % 3 == 0 for t in range(15)]  # stopped early after 15
    for a in answers:
        trials.answer(a)
    assert trials.current == 15
    ev = ssq.record_human_result(s, key, trials)
    truth = trials.test.is_real[:15]
    errors = sum(a != r for a, r in zip(answers, truth, strict=True))
    assert ev.record["n"] == 15 and ev.record["n_errors"] == errors
    assert ev.record["error_rate"] == pytest.approx(errors / 15)
    np.testing.assert_allclose(ev.record["ci95"], _wilson(errors, 15), rtol=1e-9)
    c = ev.record["counts"]
    assert c["real_called_real"] == sum(a and r for a, r in zip(answers, truth, strict=True))
    assert c["fake_called_fake"] == sum(not a and not r for a, r in zip(answers, truth, strict=True))
    assert sum(c.values()) == 15 and c["real_called_fake"] + c["fake_called_real"] == errors
    path = save_session(s, tmp_path / "human.lxs")
    assert json.loads(path.read_text())["evaluations"][0]["family"] == "human"
    s2 = new_session(tmp_path, "cache2")
    s2.run_all(restore_session(s2, read_session(path)))
    ev2 = s2.evaluation(s2.models[0].key, "human")
    assert ev2.record == ev.record
    assert ssq.human_test_of(ev2).answers == trials.test.answers


def test_a_human_test_needs_an_even_n_and_enough_images(opened):
    s, key = opened
    with pytest.raises(SampleQualityError, match="even number"):
        ssq.human_test_session(s, key, n=7)
    with pytest.raises(SampleQualityError, match="need 500 real"):
        ssq.human_test_session(s, key, n=1000)


def _record():
    scores = {"fid": 12.5, "kid": 0.002, "kid_std": 0.0005, "is": None, "is_std": None, "precision": 0.8,
              "recall": 0.3, "density": 1.1, "coverage": 0.5}
    floor = {**scores, "fid": 0.5, "kid": -1e-5, "kid_std": 2e-4, "recall": 0.85}
    return {"extractor": "f.pt (feature adapter, 4-d features, no logits)", "n_samples": 100,
            "real_set": "toy test split (200 images)", **scores, "floor": floor, "reconstructions": None,
            "memorisation": None}


def test_the_table_puts_each_metric_beside_its_floor_and_its_exports_read_back(tmp_path):
    import csv

    rec = _record()
    human = {"error_rate": 0.4, "ci95": [0.3, 0.5], "n": 50, "real_set": "toy"}
    rows = {r["metric"]: r for r in ssq.table_rows(rec, human)}
    assert list(rows) == ["FID", "KID × 10³", "IS", "precision", "recall", "density", "coverage", "human error rate"]
    assert rows["KID × 10³"]["value"] == pytest.approx(2.0) and rows["KID × 10³"]["spread"] == pytest.approx(0.5)
    kid = rows["KID × 10³"]
    assert kid["floor"] == pytest.approx(-0.01) and kid["floor_spread"] == pytest.approx(0.2)
    assert rows["IS"]["value"] is None and rows["FID"]["floor"] == 0.5 and rows["recall"]["floor"] == 0.85
    assert all(r["n_samples"] == 100 and r["extractor"] == rec["extractor"] for r in list(rows.values())[:-1])
    assert rows["human error rate"]["spread"] == [0.3, 0.5] and rows["human error rate"]["floor"] == 0.5
    ssq.export_table(tmp_path / "t.csv", rec, human)
    lines = (tmp_path / "t.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == f"# {ssq.COMPARE_NOTE}"
    back = list(csv.DictReader(lines[1:]))
    assert [r["metric"] for r in back] == list(rows) and float(back[1]["value"]) == pytest.approx(2.0)
    assert back[2]["value"] == "" and back[-1]["spread"] == "0.3 – 0.5"
    ssq.export_table(tmp_path / "t.json", rec)
    doc = json.loads((tmp_path / "t.json").read_text())
    assert doc["sample_quality"] == rec and doc["human"] is None and len(doc["table"]) == 7
    with pytest.raises(ValueError, match=r"use \.csv or \.json"):
        ssq.export_table(tmp_path / "t.xlsx", rec)
    assert not (tmp_path / "t.xlsx").exists()


def test_the_grids_are_saved_as_figures(tmp_path):
    from PIL import Image

    from explorer.core.session.evaluations import Evaluation

    rng = np.random.default_rng(0)
    ev = Evaluation("sample_quality", {**_record(), "settings": {"seed": 1}})
    images = ssq.SampleQualityImages(rng.random((20, 1, 8, 8)).astype(np.float32), {}, ev)
    ssq.samples_figure(tmp_path / "s.png", images, ncols=8)
    with Image.open(tmp_path / "s.png") as im:
        assert im.width >= 8 * 16 and im.height >= 3 * 16  # 3 rows of 8, each image ×2
    with pytest.raises(ValueError, match="no pixel-space memorisation grid"):
        ssq.memorisation_figure(tmp_path / "m.png", images)
    rows = ssq.MemorisationRows("pixel", np.array([3, 7]), np.array([[0, 1, 2], [3, 4, 5]]),
                                np.array([[0.5, 0.6, 0.7], [0.8, 0.9, 1.0]]), rng.random((2, 1, 8, 8)),
                                rng.random((2, 3, 1, 8, 8)))
    images.memorisation["pixel"] = rows
    ssq.memorisation_figure(tmp_path / "m.svg", images)
    svg = (tmp_path / "m.svg").read_text()
    assert "sample 3: d = 0.5, 0.6, 0.7" in svg and "1st" in svg and "pixel space" in svg
    back = ssq.MemorisationRows.from_matrix("pixel", rows.matrix())
    np.testing.assert_array_equal(back.train_indices, rows.train_indices)
    np.testing.assert_array_equal(back.distances, rows.distances)


def test_a_gan_without_encoder_has_no_reconstructions_row(tiny_fashion, tmp_path):
    from models.dcgan import DCGAN

    folder, _vae = tiny_fashion
    torch.manual_seed(0)
    gan = save_checkpoint(tmp_path / "gan.pt", DCGAN(4, (1, 28, 28), g_width=8, d_width=8).eval(), dataset="toy",
                          seed=0)
    s = new_session(tmp_path)
    open_all(s, folder, [gan])
    key = s.models[0].key
    s.run(ssq.sample_quality_task(s, key, _settings(s)))
    ev = s.evaluation(key, "sample_quality")
    assert ev.record["reconstructions"] is None and np.isnan(ev.matrices["precision_recall"][2]).all()
    assert np.isfinite(ev.matrices["precision_recall"][:2]).all()
    rows = ssq.table_rows(ev.record)
    assert all(r["reconstructions"] is None for r in rows) and rows[0]["value"] == ev.record["fid"]


def test_the_human_tests_real_set_says_when_it_is_the_subsample_open_in_the_explorer(opened):
    s, key = opened
    s.run(s.open_dataset(s.dataset_spec.spec, "test", limit=40, seed=1))
    s.run_all(s.follow_up())
    trials = ssq.human_test_session(s, key, n=10, seed=0)
    assert trials.dataset.endswith("test split, the seeded subsample of 40 images open in the explorer")


def test_a_limit_above_the_splits_size_is_the_whole_split(opened):
    s, key = opened
    s.run(s.open_dataset(s.dataset_spec.spec, "test", limit=100_000, seed=1))
    s.run_all(s.follow_up())
    trials = ssq.human_test_session(s, key, n=10, seed=0)
    assert trials.dataset.endswith(f"({len(s.dataset):,} images)") and "subsample" not in trials.dataset
