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
    calls = []
    p = _fake("import time; print('encoding', flush=True); time.sleep(0.2); print('encoded')")
    p.when_encoding(lambda: calls.append("encoding"))
    assert p.wait(timeout_s=60) == "encoded" and p.answer == "encoded"
    assert calls == ["encoding"]
    late = []
    p.when_encoding(lambda: late.append(1))  # said already: called at once
    assert late == [1]
    assert _fake("print('cached')").wait(timeout_s=60) == "cached"
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


def test_the_child_s_command_line_round_trips(files):
    data, vae, _gan = files
    r = PrefetchRequest(vae, str(data), "test", 25, 3, "nearest", "auto")
    argv = r.argv()
    assert argv[:3] == [sys.executable, "-m", "explorer.core.prefetch"]
    out = subprocess.run([*argv[:3], "--help"], capture_output=True, text=True, env=dict(os.environ))
    assert out.returncode == 0
    for option in ("--data", "--split", "--limit", "--seed", "--resize", "--device"):
        assert option in out.stdout and option in argv


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


_ECHO_IDLE = ("import sys; print('encoding', flush=True); line = sys.stdin.readline(); "
              "print('encoded' if line.strip() == 'idle' else 'failed', flush=True)")


def test_the_child_hears_idle_only_once_the_window_waits_and_has_nothing_left_to_do():
    p = _fake(_ECHO_IDLE)
    p.window_busy("scikit-learn")
    p.window_busy("other")
    p.window_done("other")  # not waiting yet, and scikit-learn still loads: nothing said
    assert not p._told_idle
    p.window_done("scikit-learn")
    assert not p._told_idle  # still not waiting
    assert p.wait(timeout_s=60) == "encoded"  # waiting with nothing left: "idle" written, the child answered
    busy = _fake(_ECHO_IDLE)
    busy.window_busy("scikit-learn")
    assert busy.wait(timeout_s=1.0) == "failed"  # never told: it still waits on its stdin when the time is up
    late = _fake(_ECHO_IDLE)
    late.window_busy("scikit-learn")
    import threading

    threading.Timer(0.3, late.window_done, ("scikit-learn",)).start()  # done while the window already waits
    assert late.wait(timeout_s=60) == "encoded"


def test_an_idle_window_gives_the_encoding_every_core(files, tmp_path, one_torch_thread):
    import threading

    data, vae, _gan = files
    idle = threading.Event()
    idle.set()
    before = torch.get_num_threads()
    try:
        assert prefetch_codes(_request(vae, data), emb.CodesCache(tmp_path / "codes"), window_idle=idle) == "encoded"
        assert torch.get_num_threads() == (os.cpu_count() or 2)
        torch.set_num_threads(1)
        assert prefetch_codes(_request(vae, data), emb.CodesCache(tmp_path / "codes2")) == "encoded"
        assert torch.get_num_threads() == max(1, (os.cpu_count() or 2) - 1)  # never told: one core left free
    finally:
        torch.set_num_threads(before)
