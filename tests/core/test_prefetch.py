"""The cold start's second process (explorer.core.prefetch): it fills the codes cache exactly as the window
would, says what it did, and the session's cache look-up waits for it and projects the cached codes first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from explorer.core import embedding as emb
from explorer.core.prefetch import PREFETCH_ENV, PrefetchProcess, PrefetchRequest, prefetch_codes, start_prefetch
from explorer.core.projection.cache import ProjectionCache
from explorer.core.session import Session
from explorer.core.workspace import compute_codes, dataset_identity, open_model
from explorer.data import load_dataset
from models.checkpoint import save_checkpoint
from models.dcgan import DCGAN
from models.vae import VAE


@pytest.fixture
def files(tmp_path):
    """A labelled NPZ dataset (60 images of 28 × 28) and a tiny VAE (d = 3) and DCGAN checkpoint."""
    rng = np.random.default_rng(0)
    labels = np.arange(60) % 3
    images = (0.2 * rng.random((60, 28, 28)) + 0.25 * labels[:, None, None]).astype(np.float32)
    data = tmp_path / "toy.npz"
    np.savez(data, images=images, labels=labels, class_names=np.array(["a", "b", "c"]))
    torch.manual_seed(0)
    vae = save_checkpoint(tmp_path / "vae.pt", VAE(3, (1, 28, 28), hidden=16).eval(), dataset="toy", seed=0)
    torch.manual_seed(1)
    gan = save_checkpoint(tmp_path / "gan.pt", DCGAN(4, (1, 28, 28)).eval(), dataset="toy", seed=1)
    return data, Path(vae), Path(gan)


def _request(model, data, **kw) -> PrefetchRequest:
    return PrefetchRequest(Path(model), str(data), None, None, 0, **kw)


def test_the_child_writes_the_codes_the_window_would_compute(files, tmp_path, one_torch_thread):
    data, vae, _gan = files
    cache = emb.CodesCache(tmp_path / "codes")
    seen = []
    assert prefetch_codes(_request(vae, data), cache, on_encoding=lambda: seen.append(1)) == "encoded"
    assert seen == [1]
    dataset = load_dataset(str(data))
    entry = open_model(vae)
    hit = cache.get(emb.codes_cache_key(entry.file_hash, dataset_identity(dataset), "encoder", 0), n=60)
    assert hit is not None
    expected = compute_codes(entry.model, dataset).z  # what the window's own encode computes
    assert hit[0].shape == (60, 3) and hit[0].dtype == np.float32
    np.testing.assert_allclose(hit[0], expected, rtol=0, atol=1e-5)
    assert prefetch_codes(_request(vae, data), cache, on_encoding=lambda: seen.append(2)) == "cached"
    assert seen == [1]  # nothing encoded the second time


def test_the_child_skips_what_it_cannot_vouch_for(files, tmp_path):
    data, vae, gan = files
    cache = emb.CodesCache(tmp_path / "codes")
    assert prefetch_codes(_request(gan, data), cache) == "skip"  # no encoder: nothing to cache
    assert prefetch_codes(_request(vae, tmp_path / "missing.npz"), cache) == "skip"
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    assert prefetch_codes(_request(broken, data), cache) == "skip"
    adapter = tmp_path / "adapter.py"
    adapter.write_text("raise SystemExit('never run')\n")
    assert prefetch_codes(_request(adapter, data), cache) == "skip"
    if not torch.cuda.is_available():  # a device that is not there: the window says so in one sentence
        assert prefetch_codes(_request(vae, data, device="cuda"), cache) == "skip"
        assert not list((tmp_path / "codes").rglob("*.npy"))  # nothing was written by any of these
    # not started at all for files that would have to run, nor when switched off
    assert start_prefetch(_request(adapter, data)) is None
    assert start_prefetch(_request(tmp_path / "session.lxs", data)) is None
    assert start_prefetch(_request(tmp_path / "missing.pt", data)) is None


def test_switched_off_by_the_environment(files, monkeypatch):
    data, vae, _gan = files
    monkeypatch.setenv(PREFETCH_ENV, "0")
    assert start_prefetch(_request(vae, data)) is None


def _fake(code: str) -> PrefetchProcess:
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               stdin=subprocess.PIPE, text=True)
    return PrefetchProcess(_request("x.pt", "d"), process)


def test_the_answer_is_read_from_the_pipe_and_anything_else_is_failed():
    p = _fake("import time; print('encoding', flush=True); time.sleep(0.2); print('encoded')")
    told = []
    assert p.wait(timeout_s=60, on_encoding=lambda: told.append(1)) == "encoded" and p.answer == "encoded"
    assert p.encoding and told == [1]  # said while waiting: called once
    quiet = _fake("print('cached')")
    assert quiet.wait(timeout_s=60) == "cached" and not quiet.encoding
    assert _fake("print('something else')").wait(timeout_s=60) == "failed"  # ended without an answer
    assert _fake("import os; os._exit(3)").wait(timeout_s=60) == "failed"


def test_waiting_can_be_cancelled_and_stops_the_child():
    p = _fake("import time; time.sleep(60)")

    class Cancelled(Exception):
        pass

    n = []

    def check():
        n.append(1)
        if len(n) > 3:
            raise Cancelled

    with pytest.raises(Cancelled):
        p.wait(check, timeout_s=60)
    assert p.process.poll() is not None  # stopped
    slow = _fake("import time; time.sleep(60)")
    assert slow.wait(timeout_s=0.3) == "failed" and slow.process.poll() is not None


def test_the_session_waits_for_the_child_then_projects_the_cached_codes_before_loading_the_model(
        files, tmp_path, monkeypatch):
    """The real child process, then the session's cache look-up: codes from the cache, PCA, then the model."""
    data, vae, _gan = files
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path / "user-cache"))
    child = start_prefetch(_request(vae, data))
    assert child is not None
    s = Session(codes_cache=emb.CodesCache(tmp_path / "user-cache" / "codes"),
                projection_cache=ProjectionCache(tmp_path / "projections"))
    try:
        s.expect_prefetch(child)
        s.run(s.open_dataset(str(data)))
        (m,) = s.add_models([vae])
        (peek,) = s.open_model_tasks(m)
        assert peek.family == "peek"
        s.run(peek)  # waits for the child's answer
        assert child.answer == "encoded"
        assert m.preview and m.codes is not None and m.entry is None and m.open_after_show
        tasks = s.follow_up()
        assert [t.family for t in tasks] == ["projection"]  # the model loads only after the first embedding
        s.run(tasks[0])
        expected = PCA(2).fit_transform(m.codes.z)
        got = m.embeddings[m.shown].embedding
        np.testing.assert_allclose(np.abs(got), np.abs(expected), rtol=1e-4, atol=1e-5)
        assert m.shown.method == "pca"
        (open_task,) = s.follow_up()
        assert open_task.family == "open"
        codes = m.codes
        s.run_all([open_task])
        assert m.entry is not None and not m.preview and m.codes is codes  # the preview's codes are kept
        entry_codes = compute_codes(m.entry.model, s.dataset).z
        np.testing.assert_allclose(m.codes.z, entry_codes, rtol=0, atol=1e-5)
    finally:
        s.close()


def test_a_start_after_the_first_finds_everything_cached(files, tmp_path, monkeypatch):
    data, vae, _gan = files
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path / "user-cache"))
    first = start_prefetch(_request(vae, data))
    assert first.wait(timeout_s=120) == "encoded"
    again = start_prefetch(_request(vae, data))
    assert again.wait(timeout_s=120) == "cached"


def test_the_child_s_command_line_round_trips(files, tmp_path):
    from explorer.core.prefetch import parser, request_from_args

    data, vae, _gan = files
    odd = tmp_path / "-v.pt"  # a file name that looks like an option
    for r in (PrefetchRequest(vae, str(data), "test", 25, 3, "nearest", "auto"),
              PrefetchRequest(odd, "digits", None, None, 0, None, "cuda:1")):
        argv = r.argv()
        assert argv[:4] == [sys.executable, "-P", "-m", "explorer.core.prefetch"]
        assert request_from_args(parser().parse_args(argv[4:])) == r


def test_the_child_imports_the_window_s_code_not_the_current_folder_s(files, tmp_path, monkeypatch):
    """A researcher's own models/ package in the current folder is neither run nor imported by the child."""
    data, vae, _gan = files
    work = tmp_path / "work"
    (work / "models").mkdir(parents=True)
    marker = tmp_path / "ran.txt"
    (work / "models" / "__init__.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    monkeypatch.chdir(work)
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path / "user-cache"))
    child = start_prefetch(_request(vae, data))
    assert child.wait(timeout_s=120) == "encoded"
    assert not marker.exists()


def test_a_subsample_is_the_one_the_window_opens(files, tmp_path, one_torch_thread):
    """--limit and --seed reach the child: the window's look-up finds its codes of the same 20 images."""
    data, vae, _gan = files
    cache = emb.CodesCache(tmp_path / "codes")
    assert prefetch_codes(PrefetchRequest(vae, str(data), None, 20, 3), cache) == "encoded"
    s = Session(codes_cache=cache, projection_cache=ProjectionCache(tmp_path / "projections"))
    s.run(s.open_dataset(str(data), limit=20, seed=3))
    (m,) = s.add_models([vae])
    (peek,) = s.open_model_tasks(m)
    s.run(peek)
    assert m.preview and m.codes is not None and m.codes.z.shape == (20, 3)
    other = Session(codes_cache=cache, projection_cache=ProjectionCache(tmp_path / "projections"))
    other.run(other.open_dataset(str(data), limit=20, seed=4))  # another subsample: not these codes
    (m2,) = other.add_models([vae])
    other.run(other.open_model_tasks(m2)[0])
    assert m2.codes is None and not m2.preview


def test_progress_is_passed_on_and_silence_is_a_timeout():
    seen = []
    p = _fake("import time\nfor f in (0.25, 0.5, 1.0):\n    print(f'progress {f}', flush=True); time.sleep(0.1)\n"
              "print('encoded', flush=True)")
    assert p.wait(timeout_s=60, progress=seen.append) == "encoded"
    assert seen and seen == sorted(seen) and all(0 < f <= 1 for f in seen)
    talking = _fake("import time\nfor i in range(8):\n    print('progress 0.1', flush=True); time.sleep(0.2)\n"
                    "print('encoded', flush=True)")
    assert talking.wait(timeout_s=1.0) == "encoded"  # 1.6 s in all, but never 1 s silent
    silent = _fake("import time; time.sleep(60)")
    assert silent.wait(timeout_s=0.5) == "failed" and silent.process.poll() is not None


def test_the_child_ends_when_the_window_does(files, tmp_path):
    """Its stdin is the window's pipe: closed (the window ended, even killed), the child exits at once."""
    data, vae, _gan = files
    slow = subprocess.Popen(PrefetchRequest(vae, str(data), None, None, 0).argv(), stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, LATENT_EXPLORER_CACHE=str(tmp_path / "c"),
                                     PYTHONPATH=os.pathsep.join(p for p in sys.path if p)))
    slow.stdin.close()
    from explorer.core.prefetch import WINDOW_ENDED

    assert slow.wait(timeout=60) == WINDOW_ENDED


def _session(tmp_path, data, child=None) -> tuple[Session, object]:
    s = Session(codes_cache=emb.CodesCache(tmp_path / "codes"), projection_cache=ProjectionCache(tmp_path / "proj"))
    if child is not None:
        s.expect_prefetch(child)
    s.run(s.open_dataset(str(data)))
    return s


def _fake_for(model, data, code: str, **kw) -> PrefetchProcess:
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               stdin=subprocess.PIPE, text=True)
    return PrefetchProcess(_request(model, data, **kw), process)


def test_a_cancelled_look_up_still_opens_the_model(files, tmp_path):
    from explorer.core.jobs import Cancelled, JobContext

    data, vae, _gan = files
    child = _fake_for(vae, data, "import time; time.sleep(60)")
    s = _session(tmp_path, data, child)
    (m,) = s.add_models([vae])
    (peek,) = s.open_model_tasks(m)
    assert "second process" in peek.label
    ctx = JobContext()
    s.task_started(peek)
    ctx.cancel()
    with pytest.raises(Cancelled):
        peek.fn(ctx)
    assert child.process.poll() is not None  # the child was stopped
    s.task_ended(peek, "cancelled")
    assert [t.family for t in s.follow_up()] == ["open"]


def test_a_failed_child_leaves_the_encoding_to_the_window(files, tmp_path, one_torch_thread):
    data, vae, _gan = files
    s = _session(tmp_path, data, _fake_for(vae, data, "print('failed')"))
    (m,) = s.add_models([vae])
    s.run_all(s.open_model_tasks(m))
    assert m.entry is not None and m.codes is not None and m.shown is not None and not m.preview
    np.testing.assert_allclose(m.codes.z, compute_codes(m.entry.model, s.dataset).z, rtol=0, atol=1e-5)


def test_a_child_for_another_dataset_is_not_waited_for(files, tmp_path):
    data, vae, _gan = files
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, stdin=subprocess.PIPE, text=True)
    other = PrefetchProcess(PrefetchRequest(vae, str(data), None, 10, 0), process)  # it encodes --limit 10
    s = _session(tmp_path, data, other)
    (m,) = s.add_models([vae])
    (peek,) = s.open_model_tasks(m)
    assert "second process" not in peek.label
    assert process.wait(timeout=10) is not None  # stopped at once, not waited for
    s.close()


def test_a_restored_umap_does_not_hold_back_the_model(files, tmp_path, one_torch_thread):
    """Cached codes without their embedding: a restored session's UMAP is computed while the model loads."""
    from explorer.core.projection.spec import ProjectionSpec

    data, vae, _gan = files
    assert prefetch_codes(_request(vae, data), emb.CodesCache(tmp_path / "codes")) == "encoded"
    s = _session(tmp_path, data)
    (m,) = s.add_models([vae])
    m.want_spec = ProjectionSpec("umap")
    (peek,) = s.open_model_tasks(m)
    s.run(peek)
    assert m.preview and not m.open_after_show
    families = sorted(t.family for t in s.follow_up())
    assert "open" in families and "projection" in families


def test_the_codes_cache_knows_when_it_holds_no_codes_of_a_model(files, tmp_path, one_torch_thread):
    from explorer.core.projection.cache import file_sha256

    data, vae, gan = files
    cache = emb.CodesCache(tmp_path / "codes")
    sha = file_sha256(vae)
    assert not cache.may_hold_model(sha)  # no folder yet
    assert prefetch_codes(_request(vae, data), cache, projection_cache=ProjectionCache(tmp_path / "p")) == "encoded"
    assert cache.may_hold_model(sha)
    assert not cache.may_hold_model(file_sha256(gan))
    (tmp_path / "codes" / "broken.json").write_bytes(b"\xff\xfe not text")
    assert cache.may_hold_model(file_sha256(gan))  # an unreadable note may be anyone's: a False must be certain


def test_a_first_start_says_it_encodes_before_it_reads_the_dataset(files, tmp_path):
    """No codes of the model at all: torch's import comes first (the dataset is read after it)."""
    data, vae, _gan = files
    missing = tmp_path / "missing.npz"
    seen = []
    cache = emb.CodesCache(tmp_path / "codes")
    assert prefetch_codes(_request(vae, missing), cache, on_encoding=lambda: seen.append(1)) == "skip"
    assert seen == [1]
    # with codes of this model in the cache (another dataset), the look-up comes first
    assert prefetch_codes(_request(vae, data), cache, on_encoding=lambda: seen.append(2),
                          projection_cache=ProjectionCache(tmp_path / "p")) == "encoded"
    assert prefetch_codes(_request(vae, missing), cache, on_encoding=lambda: seen.append(3)) == "skip"
    assert seen == [1, 2]


def test_cached_codes_without_an_embedding_get_their_first_pca_from_the_child(files, tmp_path, one_torch_thread):
    """The child computes the PCA the window would show first; the window's look-up then finds both."""
    data, vae, _gan = files
    codes_cache, projections = emb.CodesCache(tmp_path / "codes"), ProjectionCache(tmp_path / "proj")
    assert prefetch_codes(_request(vae, data), codes_cache, projection_cache=projections) == "encoded"
    assert not list((tmp_path / "proj").glob("*.npy"))  # not after encoding: the window computes it meanwhile
    assert prefetch_codes(_request(vae, data), codes_cache, projection_cache=projections) == "cached"
    dataset = load_dataset(str(data))
    preview = emb.peek_cached(vae, dataset, dataset_identity(dataset), emb.default_spec(3), codes_cache, projections)
    assert preview is not None and preview.result is not None and preview.result.spec.method == "pca"
    np.testing.assert_allclose(np.abs(preview.result.embedding), np.abs(PCA(2).fit_transform(preview.codes.z)),
                               rtol=1e-4, atol=1e-5)
    s = _session(tmp_path, data, _fake_for(vae, data, "print('cached')"))  # the same cache folders
    (m,) = s.add_models([vae])
    (peek,) = s.open_model_tasks(m)
    s.run(peek)
    assert m.shown is not None and m.shown.method == "pca" and not m.open_after_show  # shown as on a warm start
    # under the key the window's own projection of these codes would have written
    assert preview.result.key == s.projection_key(m, emb.default_spec(3))
    assert m.embeddings[m.shown].key == preview.result.key
    s.close()


def test_the_look_up_imports_the_projection_estimators_while_the_child_encodes(files, tmp_path, monkeypatch):
    import time

    import explorer.core.session.model as session_model

    data, vae, _gan = files
    calls = []
    monkeypatch.setattr(session_model, "load_estimators", lambda: calls.append(1))
    said_late = "import time; time.sleep(0.5); print('encoding', flush=True); time.sleep(0.3); print('failed')"
    for code, expected in ((said_late, [1]), ("print('encoding', flush=True); print('failed')", [1]),
                           ("print('cached')", [])):
        calls.clear()
        child = _fake_for(vae, data, code)
        s = _session(tmp_path, data, child)
        (m,) = s.add_models([vae])
        (peek,) = s.open_model_tasks(m)
        started = time.monotonic()
        peek.fn(None)  # said before or while it waits: the estimators load once
        assert calls == expected and time.monotonic() - started < 60
        s.close()


def test_what_went_wrong_in_the_child_reaches_the_window_s_log(files, tmp_path, caplog, monkeypatch):
    """The child has no stderr: its "note" lines are kept apart from the answer and logged by the look-up."""
    import logging

    from explorer.core import prefetch

    p = _fake("print('note the first embedding was not computed: ValueError: x', flush=True); print('cached')")
    assert p.wait(timeout_s=60) == "cached"
    assert p.notes == ["the first embedding was not computed: ValueError: x"]

    data, vae, _gan = files
    code = "print('note the encoding failed: RuntimeError: out of disk', flush=True); print('failed')"
    s = _session(tmp_path, data, _fake_for(vae, data, code))
    (m,) = s.add_models([vae])
    (peek,) = s.open_model_tasks(m)
    with caplog.at_level(logging.WARNING, logger="explorer.core.session.model"):
        peek.fn(None)
    assert [r.getMessage() for r in caplog.records if r.name == "explorer.core.session.model"] == [
        "the prefetch child of vae.pt: the encoding failed: RuntimeError: out of disk"]
    s.close()

    # first_embedding's own failure becomes one note, and the answer stays "cached"
    codes_cache, projections = emb.CodesCache(tmp_path / "codes2"), ProjectionCache(tmp_path / "proj2")
    assert prefetch_codes(_request(vae, data), codes_cache, projection_cache=projections) == "encoded"

    def broken(*_a, **_k):
        raise OSError("disk full\nsecond line")

    monkeypatch.setattr(emb, "project_cached", broken)
    notes = []
    assert prefetch_codes(_request(vae, data), codes_cache, projection_cache=projections,
                          on_note=notes.append) == "cached"
    assert notes == ["the first embedding of the cached codes was not computed: OSError: disk full second line"]
    assert prefetch.first_embedding(np.zeros((5, 3), np.float32), "sha", "id", projections) is False  # no hook


def test_a_cache_the_child_cannot_write_is_said_in_notes(files, tmp_path, monkeypatch):
    """The modules' warnings in the child (here: the codes could not be cached) become its notes."""
    data, vae, _gan = files
    (tmp_path / "cache").mkdir()
    blocked = tmp_path / "cache" / "codes"
    blocked.write_text("a file where the codes folder should be")  # nothing can be written below it, even as root
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path / "cache"))
    child = start_prefetch(_request(vae, data))
    assert child.wait(timeout_s=120) == "failed"
    # the look-ups' "ignoring unreadable codes cache file" lines, the write's failure, the answer's reason
    assert sum(n.startswith(f"could not cache codes of {vae}: ") for n in child.notes) == 1, child.notes
    assert child.notes[-1] == f"the codes were not found in the codes cache {blocked} after encoding"
    assert all(n.startswith(("ignoring unreadable codes cache file", "could not cache", "the codes were not"))
               for n in child.notes)
