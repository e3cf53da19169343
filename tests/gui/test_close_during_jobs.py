"""Closing the window at a random moment of every kind of job leaves no thread, process, partial or corrupt file."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import multiprocessing  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import zipfile  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from explorer.core.projection.spec import ProjectionSpec  # noqa: E402
from models.checkpoint import save_checkpoint  # noqa: E402
from models.dcgan import DCGAN  # noqa: E402
from tests.gui.windows import open_and_wait  # noqa: E402

KINDS = ["encode", "umap", "tsne", "k-sweep", "inversion", "reconstruction", "movie-export", "aligned-umap"]


def _job_threads():
    return [t for t in threading.enumerate() if t.name.startswith("job-") and t.is_alive()]


def _start(kind, window, qtbot, tmp_path, data_file, vae_file, monkeypatch):
    """Start one job of ``kind``; returns the files it may write (besides the caches)."""
    if kind == "encode":
        window.open_dataset(str(data_file))
        window.open_models([vae_file])
        return []
    if kind == "inversion":
        torch.manual_seed(0)
        gan = save_checkpoint(tmp_path / "gan.pt", DCGAN(4, (1, 28, 28), g_width=8, d_width=8).eval(),
                              dataset="bars", seed=0)
        open_and_wait(qtbot, window, data_file, [gan])
        window.session.update_settings("reconstruction", inversion={"steps": 400, "restarts": 2})
        window.request_gan_points("inverted", 200)
        return []
    if kind == "aligned-umap":
        from tests.gui.windows import save_vae

        other = save_vae(tmp_path / "other.pt", latent_dim=3, seed=5)
        open_and_wait(qtbot, window, data_file, [vae_file, other])
        qtbot.waitUntil(lambda: all(m.embedding is not None for m in window.session.models)
                        and not window.runner.running_kinds(), timeout=20_000)
        window.session.set_compare_mode(True)
        window.compare_presenter._on_align("aligned-umap")  # what choosing it in the Align menu does
        return []
    open_and_wait(qtbot, window, data_file, [vae_file])
    if kind == "umap":
        window.request_projection(ProjectionSpec("umap", {"n_neighbors": 10}))
    elif kind == "tsne":
        window.request_projection(ProjectionSpec("tsne", {"perplexity": 10.0, "n_iter": 5000}))
    elif kind == "k-sweep":
        window.run_k_sweep("latent", list(range(2, 60)), 0)
    elif kind == "reconstruction":
        window.reconstruction_panel.measure_dataset()
    elif kind == "movie-export":
        from explorer.gui import traversal_view as tv_module

        out = tmp_path / "exports" / "traversal.mp4"
        out.parent.mkdir()
        monkeypatch.setattr(tv_module, "ask_save_path", lambda *a: str(out))
        window.slider_panel.set_code(window.shown_codes.z[0])
        window.slider_panel.traversal_button.click()
        window.traversal_view._on_export_clicked()
        return [out]
    return []


@pytest.mark.parametrize("kind", KINDS)
def test_close_at_a_random_moment_of_each_job(kind, make_window, qtbot, tmp_path, data_file, vae_file, monkeypatch):
    rng = np.random.default_rng(KINDS.index(kind))
    baseline = set(threading.enumerate())
    window = make_window()
    outputs = _start(kind, window, qtbot, tmp_path, data_file, vae_file, monkeypatch)
    # close at a seeded random moment of the job (its first 0.4 s), as a user might
    deadline = time.monotonic() + float(rng.uniform(0.0, 0.4))
    while time.monotonic() < deadline:
        qtbot.wait(10)
    workers = list(window.projection_workers().values())
    running = set(window.runner.running_kinds())
    if kind in ("umap", "tsne", "k-sweep", "inversion", "aligned-umap"):  # seconds long: the close comes during them
        assert running, f"the {kind} job was not running when the window closed"
    window.close()
    qtbot.waitUntil(lambda: not _job_threads(), timeout=15_000)
    assert not [w for w in workers if w.is_alive()]
    assert not [p for p in multiprocessing.active_children() if p.is_alive()]
    extra = [t for t in set(threading.enumerate()) - baseline if t.is_alive() and t.name.startswith("job-")]
    assert not extra, extra
    # no partial files anywhere (atomic writes go through hidden temporary names beside the target)
    hidden = [p for p in tmp_path.rglob(".*") if p.is_file()]
    assert not hidden, hidden
    # every cache entry left is whole: it opens
    for entry in [*tmp_path.rglob("*.npz")]:
        if "cache" in str(entry) or "codes" in str(entry) or "projections" in str(entry):
            with np.load(entry, allow_pickle=False) as z:
                for name in z.files:
                    z[name]
            assert zipfile.is_zipfile(entry)
    for out in outputs:  # an export either finished or is not there
        assert not out.exists() or out.stat().st_size > 0
