"""A whole session driven without Qt: open two models, switch, project, cluster, select, sliders, keypoints,
save, restore, compare."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import homogeneity_completeness_v_measure

from explorer.core import embedding as emb
from explorer.core.projection.cache import ProjectionCache
from explorer.core.projection.spec import ProjectionSpec
from explorer.core.session import Session
from explorer.core.session.files import (
    SessionFileError,
    describe_session,
    read_session,
    restore_session,
    results_path,
    save_session,
)
from models.checkpoint import save_checkpoint
from models.dcgan import DCGAN
from models.vae import VAE


@pytest.fixture
def files(tmp_path):
    """A labelled NPZ dataset (90 images, 3 classes) and two tiny VAEs (d = 3 and d = 5)."""
    rng = np.random.default_rng(0)
    labels = np.arange(90) % 3
    images = (0.2 * rng.random((90, 28, 28)) + 0.25 * labels[:, None, None]).astype(np.float32)
    data = tmp_path / "data" / "toy.npz"
    data.parent.mkdir()
    np.savez(data, images=images, labels=labels, class_names=np.array(["a", "b", "c"]))
    torch.manual_seed(0)
    a = save_checkpoint(tmp_path / "models" / "a.pt", VAE(3, (1, 28, 28), hidden=16).eval(), dataset="toy", seed=0)
    torch.manual_seed(1)
    b = save_checkpoint(tmp_path / "models" / "b.pt", VAE(5, (1, 28, 28), hidden=16).eval(), dataset="toy", seed=1)
    return data, a, b


def new_session(tmp_path, name="cache") -> Session:
    return Session(codes_cache=emb.CodesCache(tmp_path / name / "codes"),
                   projection_cache=ProjectionCache(tmp_path / name / "projections"))


def open_all(session: Session, data, paths) -> None:
    session.run(session.open_dataset(str(data)))
    tasks = [t for m in session.add_models(paths) for t in session.open_model_tasks(m)]
    session.run_all(tasks + session.follow_up())


class Recorder:
    """Every signal of a session, in order, as (name, args)."""

    def __init__(self, session: Session) -> None:
        self.events = []
        for name in ("dataset_changed", "models_changed", "active_changed", "codes_changed", "embedding_changed",
                     "clustering_changed", "busy_changed", "colouring_changed", "selection_changed",
                     "slider_code_changed", "keypoints_changed", "dirty_changed"):
            getattr(session, name).connect(lambda *args, n=name: self.events.append((n, args)))

    def names(self):
        return [n for n, _ in self.events]


def test_session_imports_neither_qt_nor_torch():
    code = ("import sys, explorer.core.session, explorer.core.session.files; "
            "print(sorted(m for m in ('PySide6', 'pyqtgraph', 'torch', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_two_models_in_command_line_order_with_their_own_codes_and_pca(tmp_path, files):
    data, a, b = files
    s = new_session(tmp_path)
    rec = Recorder(s)
    open_all(s, data, [a, b])
    assert [m.name for m in s.models] == ["a.pt", "b.pt"]  # the order given, not the order loaded
    assert s.active.name == "a.pt"
    for m, d in zip(s.models, (3, 5), strict=False):
        assert m.codes.z.shape == (90, d) and m.busy == {}
        assert m.shown == ProjectionSpec("pca")
        ref = PCA(n_components=2, random_state=0).fit_transform(m.codes.z).astype(np.float64)
        got = m.embedding.embedding.astype(np.float64)
        for j in range(2):  # a principal axis is defined up to its sign
            sign = np.sign(np.dot(ref[:, j], got[:, j]))
            np.testing.assert_allclose(got[:, j], sign * ref[:, j], atol=1e-3 * np.abs(ref).max())  # float32 SVD
    assert rec.names().count("dataset_changed") == 1
    busy = [args for n, args in rec.events if n == "busy_changed"]
    assert (s.models[0].key, "encode", True) in busy and (s.models[0].key, "encode", False) in busy


def test_a_job_of_model_a_lands_on_a_even_after_switching_to_b(tmp_path, files):
    data, a, b = files
    s = new_session(tmp_path)
    open_all(s, data, [a, b])
    ma, mb = s.models
    task = s.kmeans(ma.key, "latent", 3, 0)  # made while A is active ...
    s.task_started(task)
    s.set_active(mb.key)  # ... the user switches to B while it runs
    assert ma.busy == {"kmeans": task} and mb.busy == {}
    result = task.fn(None or __import__("explorer.core.jobs", fromlist=["JobContext"]).JobContext.none())
    task.apply(result)
    s.task_ended(task)
    assert ma.clustering is result and mb.clustering is None and ma.busy == {}
    ref = KMeans(n_clusters=3, random_state=0, n_init=result_n_init()).fit_predict(ma.codes.z)
    h, c, v = homogeneity_completeness_v_measure(ma.codes.labels, ref)
    assert result.scores["v_measure"] == pytest.approx(v, abs=1e-12)
    assert result.scores["homogeneity"] == pytest.approx(h, abs=1e-12)
    # the colouring of each model is its own: A can be coloured by cluster, B cannot
    s.set_colour("cluster")
    assert s.effective_colour(ma.key).mode == "cluster" and s.effective_colour(mb.key).mode == "label"


def result_n_init() -> int:
    from explorer.core.clustering import DEFAULT_N_INIT

    return DEFAULT_N_INIT


def test_selection_is_dataset_indices_shared_by_every_model(tmp_path, files):
    data, a, b = files
    s = new_session(tmp_path)
    open_all(s, data, [a, b])
    ma, mb = s.models
    s.select_points(ma.key, [7, 3, 3, 88])
    np.testing.assert_array_equal(s.selection, [3, 7, 88])
    np.testing.assert_array_equal(s.selected_points(mb.key), [3, 7, 88])
    s.select([-1, 5, 1000])  # out of range indices are dropped
    np.testing.assert_array_equal(s.selection, [5])


def test_sliders_keypoints_and_checks(tmp_path, files):
    data, a, b = files
    s = new_session(tmp_path)
    open_all(s, data, [a, b])
    ma = s.models[0]
    s.set_slider_code(ma.key, [0.5, -1.0, 2.0])
    np.testing.assert_array_equal(s.models[0].slider_code, np.float32([0.5, -1.0, 2.0]))
    with pytest.raises(ValueError, match="3 finite numbers"):
        s.set_slider_code(ma.key, [1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        s.set_slider_code(ma.key, [np.nan, 0, 0])
    s.add_keypoint(ma.key, ma.codes.z[4], "image #4", 4)
    s.add_keypoint(ma.key, ma.codes.z[9], "image #9", 9)
    assert [k.dataset_index for k in ma.keypoints] == [4, 9]
    with pytest.raises(ValueError, match="colour mode"):
        s.set_colour("rainbow")


def test_save_open_save_is_identical_and_restores_everything(tmp_path, files, monkeypatch):
    data, a, b = files
    s = new_session(tmp_path)
    open_all(s, data, [a, b])
    ma, mb = s.models
    s.run(s.kmeans(mb.key, "latent", 4, 2))
    s.set_active(mb.key)
    s.set_colour("dimension", 2)
    s.set_marker(7.0, 0.5)
    s.select([1, 2, 60])
    s.set_slider_code(mb.key, np.arange(5, dtype=np.float32) / 7)
    s.add_keypoint(ma.key, ma.codes.z[1], "image #1", 1)
    s.update_settings("interpolation", method="slerp", frames=30)
    first = save_session(s, tmp_path / "sessions" / "one.lxs")
    assert not s.dirty
    doc = json.loads(first.read_text())
    assert doc["format"] == "latent-explorer-session" and doc["version"] == 1
    assert doc["models"][0]["path"] == "../models/a.pt"  # relative to the session file
    assert doc["dataset"] == {**doc["dataset"], "kind": "path", "spec": "../data/toy.npz"}

    # restore: the saved embedding comes from the cache, nothing is projected again
    import explorer.core.projection as projection

    monkeypatch.setattr(projection, "compute_projection", lambda *a, **k: pytest.fail("projected again"))
    s2 = new_session(tmp_path)
    s2.run_all(restore_session(s2, read_session(first)))
    assert s2.notes == []
    assert [m.name for m in s2.models] == ["a.pt", "b.pt"] and s2.active.name == "b.pt"
    m2 = s2.models[1]
    assert m2.embedding.from_cache and m2.clustering is not None and m2.clustering.k == 4
    np.testing.assert_array_equal(m2.clustering.labels, mb.clustering.labels)
    np.testing.assert_array_equal(m2.embedding.embedding, mb.embedding.embedding)
    np.testing.assert_array_equal(s2.selection, [1, 2, 60])
    assert s2.colour.mode == "dimension" and s2.colour.dim == 2 and s2.marker == (7.0, 0.5)
    assert s2.models[0].keypoints[0].label == "image #1"
    np.testing.assert_array_equal(s2.models[1].slider_code, np.arange(5, dtype=np.float32) / 7)
    second = save_session(s2, tmp_path / "sessions" / "two.lxs")  # another file: the bytes are compared
    assert second.read_bytes() == first.read_bytes()


def test_with_results_opens_without_encoding_or_projecting(tmp_path, files, monkeypatch):
    data, a, b = files
    s = new_session(tmp_path)
    open_all(s, data, [a])
    s.run(s.kmeans(s.models[0].key, "latent", 3, 0))
    path = save_session(s, tmp_path / "r.lxs", with_results=True)
    assert results_path(path).is_file()
    import explorer.core.projection as projection
    import explorer.core.workspace as workspace

    monkeypatch.setattr(projection, "compute_projection", lambda *a, **k: pytest.fail("projected again"))
    monkeypatch.setattr(workspace, "compute_codes", lambda *a, **k: pytest.fail("encoded again"))
    s2 = new_session(tmp_path, "empty-cache")  # another machine: nothing in its caches
    s2.run_all(restore_session(s2, read_session(path)))
    m = s2.models[0]
    np.testing.assert_array_equal(m.codes.z, s.models[0].codes.z)
    np.testing.assert_array_equal(m.embedding.embedding, s.models[0].embedding.embedding)
    np.testing.assert_array_equal(m.clustering.labels, s.models[0].clustering.labels)
    assert m.entry is not None and not m.preview  # the model loaded too, and kept the saved codes


def test_moved_or_changed_model_is_named_and_the_rest_opens(tmp_path, files):
    data, a, b = files
    s = new_session(tmp_path)
    open_all(s, data, [a, b])
    path = save_session(s, tmp_path / "s.lxs")
    a.rename(a.with_name("moved.pt"))
    torch.manual_seed(5)
    save_checkpoint(b, VAE(5, (1, 28, 28), hidden=16).eval(), dataset="toy", seed=5)  # b retrained in place
    s2 = new_session(tmp_path)
    s2.run_all(restore_session(s2, read_session(path)))
    assert len(s2.notes) == 2
    assert "'../models/a.pt'" not in s2.notes[0] and "models/a.pt" in s2.notes[0] and "missing" in s2.notes[0]
    assert "b.pt" in s2.notes[1] and "changed" in s2.notes[1]
    assert [m.name for m in s2.models] == ["b.pt"] and s2.models[0].codes is not None
    info = describe_session(read_session(path))
    assert [m["file"] for m in info["models"]] == ["missing", "changed"]
    again = save_session(s2, tmp_path / "elsewhere" / "again.lxs")  # the missing model's entry is kept
    assert [m["path"] for m in read_session(again).doc["models"]] == ["../models/b.pt", "../models/a.pt"]


@pytest.mark.parametrize("text, message", [
    ('{"format": "latent-explorer-session", "version": 1, "models": [', "not valid JSON"),
    ('{"format": "something-else", "version": 1}', "not a Latent Explorer session"),
    ('{"format": "latent-explorer-session", "version": 2, "models": []}', "newer Latent Explorer"),
    ('{"format": "latent-explorer-session", "version": 1, "models": [{"path": 3}]}', "bad path for model #1"),
    ('{"format": "latent-explorer-session", "version": 1, "models": [], "selection": [-4]}', "bad selection"),
    ('{"format": "latent-explorer-session", "version": 1, "models": [], "projection": {"method": "mds"}}',
     "bad projection"),
    ('[1, 2]', "not a Latent Explorer session"),
])
def test_broken_session_files_get_one_sentence(tmp_path, text, message):
    _assert_one_sentence(tmp_path, text, message)


_HEAD = '{"format": "latent-explorer-session", "version": 1, '
_MODEL = '{"path": "m.pt", "sha256": null, '


@pytest.mark.parametrize("body, message", [
    ('"models": [], "clustering": {"k": "x"}}', "bad k"),
    ('"models": [], "clustering": {"k": 1e400}}', "bad k"),
    ('"models": [], "clustering": {"k": -3}}', "bad k"),
    ('"models": [], "clustering": {"sweep": []}}', "bad k sweep"),
    ('"models": [], "clustering": [1, 2]}', "bad clustering settings"),
    ('"models": [], "marker": [1]}', "bad marker"),
    ('"models": [], "marker": {"size": "big"}}', "bad marker size"),
    ('"models": [], "marker": {"size": -4}}', "bad marker size"),
    ('"models": [], "marker": {"size": NaN}}', "bad marker size"),
    ('"models": [], "colouring": {"mode": "dimension", "dim": "x"}}', "bad colouring dimension"),
    ('"models": [], "colouring": {"mode": "dimension", "dim": -5}}', "bad colouring dimension"),
    ('"models": [], "selection": [1180591620717411303424]}', "bad selection"),
    ('"models": [], "results": ".."}', "bad \"results\" file name"),
    ('"models": [], "reconstruction": {"inversion": {"steps": -1}}}', "bad GAN-inversion steps"),
    ('"models": [], "interpolation": {"frames": 1}}', "bad interpolation frames"),
    ('"models": [' + _MODEL + '"gan_points": [1]}]}', "bad gan_points for model #1"),
    ('"models": [' + _MODEL + '"gan_points": {"source": "moon"}}]}', "bad gan_points source"),
    ('"models": [' + _MODEL + '"gan_points": {"n": "x"}}]}', "bad gan_points n"),
    ('"models": [' + _MODEL + '"keypoints": [{"z": ["a"]}]}]}', "bad keypoint z"),
    ('"models": [' + _MODEL + '"keypoints": [{"z": [[1]]}]}]}', "bad keypoint z"),
    ('"models": [' + _MODEL + '"slider_code": [1, 2], "keypoints": [{"z": [1, 2, 3]}]}]}', "different lengths"),
    ('"models": [' + _MODEL + '"view_range": [["a", 1], [0, 1]]}]}', "bad view_range"),
    ('"models": [' + _MODEL + '"clustering": {"space": "latent", "k": 0}}]}', "bad k for model #1"),
    ('"models": [' + _MODEL + '"projection": {"method": "tsne", "params": {"metric": 3}}}]}',
     "bad projection for model #1"),
    ('"models": [{"path": "m.pt", "sha256": "not-a-hash"}]}', "bad sha256"),
    ('"models": [], "active": true}', "bad \"active\""),
])
def test_every_field_is_checked_before_anything_opens(tmp_path, body, message):
    _assert_one_sentence(tmp_path, _HEAD + body, message)


def test_deeply_nested_or_non_file_sessions_get_one_sentence(tmp_path):
    _assert_one_sentence(tmp_path, "[" * 200_000 + "]" * 200_000, "nested too deeply")
    folder = tmp_path / "folder.lxs"
    folder.mkdir()
    with pytest.raises(SessionFileError, match="is not a file"):
        read_session(folder)


def _assert_one_sentence(tmp_path, text, message):
    p = tmp_path / "broken.lxs"
    p.write_text(text)
    with pytest.raises(SessionFileError, match=message) as err:
        read_session(p)
    assert str(p) in str(err.value) and "\n" not in str(err.value)


def test_gan_without_encoder_restores_its_inverted_points(tmp_path, files, one_torch_thread):
    data, a, _b = files
    torch.manual_seed(0)
    gan = save_checkpoint(tmp_path / "models" / "gan.pt", DCGAN(4, (1, 28, 28), g_width=8, d_width=8).eval(),
                          dataset="toy", seed=0)
    s = new_session(tmp_path)
    s.update_settings("reconstruction", inversion={"steps": 3, "restarts": 1})
    open_all(s, data, [gan])
    m = s.models[0]
    assert m.codes.source == "prior" and m.codes.labels is None
    s.run_all([s.set_gan_points(m.key, "inverted", 12)])
    assert m.codes.source == "inverted" and len(m.codes.z) == 12 and m.codes.labels is not None
    path = save_session(s, tmp_path / "g.lxs")
    s2 = new_session(tmp_path)
    s2.update_settings("reconstruction", inversion={"steps": 3, "restarts": 1})
    s2.run_all(restore_session(s2, read_session(path)))
    m2 = s2.models[0]
    assert m2.codes.source == "inverted"
    np.testing.assert_array_equal(m2.codes.indices, m.codes.indices)
    np.testing.assert_allclose(m2.codes.z, m.codes.z, atol=1e-5)


def test_a_failed_projection_is_not_tried_again_by_itself(tmp_path, files, monkeypatch):
    """A model whose codes cannot be projected fails once, with its error; a diverged checkpoint (NaN
    weights) is refused when it is opened (once, one sentence) and leaves the model list."""
    data, a, _b = files
    torch.manual_seed(0)
    vae = VAE(3, (1, 28, 28), hidden=16).eval()
    with torch.no_grad():
        for p in vae.parameters():
            p.fill_(float("nan"))
    nan = save_checkpoint(tmp_path / "models" / "nan.pt", vae, dataset="toy", seed=0)
    torch.manual_seed(2)
    odd = save_checkpoint(tmp_path / "models" / "odd.pt", VAE(4, (1, 28, 28), hidden=16).eval(), dataset="toy", seed=2)
    real = emb.project_cached

    def project(z, *args, **kwargs):  # the d = 4 model's codes cannot be projected
        if z.shape[1] == 4:
            raise ValueError("these codes cannot be projected (NaN in the embedding)")
        return real(z, *args, **kwargs)

    monkeypatch.setattr(emb, "project_cached", project)
    s = new_session(tmp_path)
    s.run(s.open_dataset(str(data)))
    tasks = [t for m in s.add_models([nan, odd, a]) for t in s.open_model_tasks(m)]
    failures, queue = [], []

    def push(more):  # as a runner: a submitted task is busy until it ends
        for t in more:
            s.task_started(t)
            queue.append(t)

    push(tasks + s.follow_up())
    for _ in range(50):  # run, then follow up; a retry loop would never empty the queue
        if not queue:
            break
        task = queue.pop(0)
        try:
            s.run(task)
        except ValueError as exc:
            failures.append(str(exc))
        push(s.follow_up())
    assert not queue and len(failures) == 2 and all("NaN" in f for f in failures)
    assert "nan.pt" in failures[0] and "weights" in failures[0]
    bad, good = s.models
    assert bad.embedding is None and bad.projection_failed and good.embedding is not None
    assert not s.follow_up()


def _forge(npz_path, name, array_bytes_header):
    """Rewrite member ``name`` of an .npz with a hand-made .npy header (and no data)."""
    import zipfile

    members = {}
    with zipfile.ZipFile(npz_path) as zf:
        for info in zf.infolist():
            members[info.filename] = zf.read(info.filename)
    members[name + ".npy"] = array_bytes_header
    with zipfile.ZipFile(npz_path, "w") as zf:
        for k, v in members.items():
            zf.writestr(k, v)


@pytest.mark.parametrize("damage", ["truncated", "wrong_shape", "huge_claim", "nan_codes"])
def test_a_damaged_results_file_is_said_once_and_results_are_computed_again(tmp_path, files, damage):
    data, a, _b = files
    s = new_session(tmp_path)
    open_all(s, data, [a])
    good = s.models[0].codes.z.copy()
    path = save_session(s, tmp_path / "r.lxs", with_results=True)
    npz = results_path(path)
    if damage == "truncated":
        npz.write_bytes(npz.read_bytes()[:100])
    elif damage == "wrong_shape":
        _forge(npz, "m0_e0", _npy(np.zeros((10, 2), np.float32)))
    elif damage == "huge_claim":  # a header claiming 10^11 floats, and no data: refused before any allocation
        header = np.lib.format.header_data_from_array_1_0(np.zeros((2, 2), np.float32))
        header["shape"] = (10**11, 2)
        import io

        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, header)
        _forge(npz, "m0_z", np.lib.format.magic(1, 0) + buf.getvalue())
    else:
        _forge(npz, "m0_z", _npy(np.full_like(good, np.nan)))
    s2 = new_session(tmp_path, "other-cache")
    said = []
    s2.error_reported.connect(said.append)
    s2.run_all(restore_session(s2, read_session(path)))
    m = s2.models[0]
    assert m.codes is not None and m.embedding is not None  # computed again
    np.testing.assert_allclose(m.codes.z, good, atol=1e-6)
    assert len(said) + len(s2.notes) == 1 and "r.results.npz" in (said + s2.notes)[0]


def _npy(array) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def test_a_changed_dataset_is_said_and_computed_again(tmp_path, files):
    data, a, _b = files
    s = new_session(tmp_path)
    open_all(s, data, [a])
    s.update_settings("traversal", rows=4, dims="2,0", columns=7, scale=3.0, upscale="smooth")
    path = save_session(s, tmp_path / "d.lxs", with_results=True)
    with np.load(data) as z:
        images, labels = z["images"].copy(), z["labels"]
    images[0] = 1 - images[0]  # the dataset changed since
    np.savez(data, images=images, labels=labels, class_names=np.array(["a", "b", "c"]))
    s2 = new_session(tmp_path)
    said = []
    s2.error_reported.connect(said.append)
    s2.run_all(restore_session(s2, read_session(path)))
    assert len(said) == 1 and "toy.npz" in said[0] and "not the one this session was saved with" in said[0]
    m = s2.models[0]
    np.testing.assert_array_equal(m.codes.images[0], images[0][None])  # encoded again on the new images
    assert s2.settings["traversal"] == {"rows": 4, "dims": "2,0", "columns": 7, "scale": 3.0, "upscale": "smooth"}


def test_only_the_latest_projection_request_of_a_model_is_shown(tmp_path, files):
    from explorer.core.jobs import JobContext

    data, a, _b = files
    s = new_session(tmp_path)
    open_all(s, data, [a])
    m = s.models[0]
    older = s.project(m.key, ProjectionSpec("pca", seed=7))  # not cached: both are tasks
    s.task_started(older)
    newer = s.project(m.key, ProjectionSpec("pca", seed=8))
    s.task_started(newer)  # supersedes the older (a runner cancels it)
    result_new, result_old = newer.fn(JobContext.none()), older.fn(JobContext.none())
    newer.apply(result_new)
    older.apply(result_old)  # arrives last
    assert m.shown == ProjectionSpec("pca", seed=8)


def test_a_dataset_that_cannot_be_read_stays_in_the_saved_file(tmp_path, files):
    data, a, _b = files
    s = new_session(tmp_path)
    open_all(s, data, [a])
    s.select([1, 2])
    path = save_session(s, tmp_path / "s.lxs")
    data.rename(data.with_name("gone.npz"))
    s2 = new_session(tmp_path)
    with pytest.raises(Exception, match="toy.npz"):
        s2.run_all(restore_session(s2, read_session(path)))
    again = save_session(s2, tmp_path / "again.lxs")
    doc = json.loads(again.read_text())
    assert doc["dataset"]["spec"] == "data/toy.npz" and doc["selection"] == [1, 2]


def test_a_cancelled_opening_closes_the_model_unless_a_newer_one_replaced_it(tmp_path, files):
    """Cancelling "Opening a.pt" must not leave a row saying "loading…" for ever."""
    data, a, b = files
    s = new_session(tmp_path)
    s.run(s.open_dataset(str(data)))
    ma, mb = s.add_models([a, b])
    (open_a,) = s.open_model_tasks(ma, peek=False)
    (open_b,) = s.open_model_tasks(mb, peek=False)
    s.task_started(open_a)
    s.task_started(open_b)
    newer = s.open_model_tasks(mb, peek=False)[0]
    s.task_started(newer)  # the runner starts the newer one first: the old one ends inside submit()
    s.task_ended(open_b, "cancelled")
    assert [m.key for m in s.models] == [ma.key, mb.key] and mb.busy == {"open": newer}
    s.task_ended(open_a, "cancelled")
    assert [m.key for m in s.models] == [mb.key] and s.active_key == mb.key
    s.run(newer)  # what remains opens as before
    assert mb.entry is not None and mb.entry.model.latent_dim == 5
    s.close()
