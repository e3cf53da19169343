"""Device handling on a machine without a GPU (issue 15): every path takes a device, no hidden ``.cuda()``.

No test here can run on a GPU. Instead: (1) the sources are searched for hard-wired CUDA calls;
(2) each computing path runs with torch's *default* device set to ``meta`` while the model is on
the CPU — a tensor made without naming its device lands on ``meta`` and the path fails, so a
pass means every tensor is made on the model's device or explicitly on the CPU; (3) ``--device
cpu`` and ``--device auto`` give the same numbers, and a missing device is one sentence.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

import resources
from explorer.core.device import model_device, place_model
from models.loading import load_any

ROOT = Path(__file__).resolve().parents[2]
HAS_ACCEL = torch.cuda.is_available() or (
    getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available())


def test_no_hidden_cuda_calls_in_the_sources():
    """Only `explorer.core.device` names CUDA; nothing calls ``.cuda()`` or moves to a device named in code."""
    pattern = re.compile(r"\.cuda\(|\.mps\(|device\s*=\s*['\"](cuda|mps)|\.to\(\s*['\"](cuda|mps)|"
                         r"torch\.device\(\s*['\"](cuda|mps)|set_default_device")
    offenders = []
    for folder in ("explorer", "models", "resources"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.relative_to(ROOT).as_posix() == "explorer/core/device.py":
                continue
            for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{no}: {line.strip()}")
    assert offenders == []
    # the pattern finds what it is meant to find
    assert pattern.search("x = x.cuda()") and pattern.search('t.to("cuda")') and pattern.search("device='mps'")


@pytest.fixture(scope="module")
def vae():
    model, _ = load_any(resources.path("checkpoints", "vae_fashion.pt"))
    return model


@pytest.fixture(scope="module")
def gan():
    model, _ = load_any(resources.path("checkpoints", "dcgan_fashion.pt"))
    return model


def _images(n: int, shape, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, *shape), dtype=np.float32)


def _on_meta_default(fn):
    """Run ``fn`` with torch's default device ``meta`` (the model stays on the CPU) and return its result."""
    with torch.device("meta"):
        return fn()


def test_encode_decode_and_posterior_samples_make_no_tensor_off_the_model_device(vae):
    from explorer.core.codes import decode_codes, encode_images, prior_codes
    from explorer.core.reconstruction.reconstruct import latent_codes

    x = _images(6, vae.image_shape)
    z = encode_images(vae, x)
    assert np.array_equal(_on_meta_default(lambda: encode_images(vae, x)), z)
    assert np.array_equal(_on_meta_default(lambda: decode_codes(vae, z)), decode_codes(vae, z))
    assert np.array_equal(_on_meta_default(lambda: prior_codes(vae, 4, seed=3)), prior_codes(vae, 4, seed=3))
    post = latent_codes(vae, x, "encoder", "posterior", 5)[0]
    assert np.array_equal(_on_meta_default(lambda: latent_codes(vae, x, "encoder", "posterior", 5)[0]), post)


def test_traversal_and_interpolation_paths(vae):
    from explorer.core.latent import sliders

    x = _images(8, vae.image_shape)
    scores = sliders.dimension_scores(vae, images=x)
    meta_scores = _on_meta_default(lambda: sliders.dimension_scores(vae, images=x))
    np.testing.assert_array_equal(meta_scores.values, scores.values)
    z = np.zeros(vae.latent_dim, np.float32)
    ranges = sliders.slider_ranges("prior", vae.latent_dim)
    grid = sliders.traversal_figure(vae, z, [0, 1], ranges, n_cols=3)
    meta_grid = _on_meta_default(lambda: sliders.traversal_figure(vae, z, [0, 1], ranges, n_cols=3))
    np.testing.assert_array_equal(np.asarray(meta_grid[0]), np.asarray(grid[0]))
    keys = np.stack([z, z + 1.0])
    frames = sliders.interpolation_movie(vae, keys, 4)[1]
    np.testing.assert_array_equal(_on_meta_default(lambda: sliders.interpolation_movie(vae, keys, 4)[1]), frames)


def test_likelihood_estimators(vae, gan):
    from explorer.core.likelihood import LikelihoodSettings, estimate_likelihood
    from explorer.data import Dataset

    ds = Dataset(name="t", images=_images(3, vae.image_shape), labels=None)
    for settings, model in ((LikelihoodSettings(n_images=3, iwae_k=(1, 8), seed=0), vae),
                            (LikelihoodSettings(estimator="ais", n_images=1, ais_steps=4, ais_chains=2, sigma=0.1,
                                                bdmc_images=1, seed=0), gan),
                            (LikelihoodSettings(estimator="kde", n_images=2, kde_samples=64, sigma=0.2, seed=0),
                             vae)):
        gds = ds if model is vae else Dataset(name="t", images=_images(1, model.image_shape), labels=None)
        ref = estimate_likelihood(model, gds, settings)
        got = _on_meta_default(lambda m=model, d=gds, s=settings: estimate_likelihood(m, d, s))
        np.testing.assert_array_equal(got.nll_nats, ref.nll_nats)


def test_gan_inversion_both_methods(gan):
    from explorer.core.reconstruction.inversion import InversionSettings, invert

    x = _images(2, gan.image_shape)
    for method in ("bank-halving", "adam"):
        s = InversionSettings(steps=4, restarts=2, bank_size=16, method=method, seed=1)
        ref = invert(gan, x, s)
        got = _on_meta_default(lambda s=s: invert(gan, x, s))
        np.testing.assert_array_equal(got.codes, ref.codes)
        np.testing.assert_array_equal(got.losses, ref.losses)


def test_sample_quality_images_and_features(vae):
    from explorer.core.sample_quality.extractors import load_extractor
    from explorer.core.sample_quality.jobs import generate_samples

    ref = generate_samples(vae, 5, seed=2)
    np.testing.assert_array_equal(_on_meta_default(lambda: generate_samples(vae, 5, seed=2)), ref)
    ext = load_extractor("classifier")
    assert ext.place(torch.device("cpu")) == torch.device("cpu") == model_device(ext.model)
    f_ref = ext._batch(torch.from_numpy(ref))
    f_got = _on_meta_default(lambda: ext._batch(torch.from_numpy(ref)))
    np.testing.assert_array_equal(f_got[0], f_ref[0])


def test_training_moves_model_and_batches_to_the_device_and_saves_cpu_tensors(tmp_path):
    from models.checkpoint import load_checkpoint, save_checkpoint
    from models.train import make_trainer
    from models.train_classifier import make_classifier_trainer

    x = _images(16, (1, 8, 8))
    for kind in ("vae", "gan", "ali"):
        a = make_trainer(kind, x, 2, batch_size=8, seed=3, device="cpu")
        b = make_trainer(kind, x, 2, batch_size=8, seed=3)  # default: the CPU
        assert a.device == torch.device("cpu") and model_device(a.model) == torch.device("cpu")
        for _ in zip(a.run(1), b.run(1), strict=True):
            pass
        for (k, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values(), strict=True):
            assert torch.equal(va, vb), k
        save_checkpoint(tmp_path / f"{kind}.pt", a.model, dataset="t", seed=3)
        assert load_checkpoint(tmp_path / f"{kind}.pt").model is not None
    c = make_classifier_trainer(x, np.arange(16) % 3, device="cpu")
    for _ in c.run(1):
        pass
    assert c.device == torch.device("cpu")


def test_place_model_moves_our_models_and_leaves_adapters(vae):
    from models.adapter import WrappedModel

    assert place_model(vae, "cpu") == torch.device("cpu")
    assert place_model(vae, None) == torch.device("cpu")

    class Inner:
        kind, latent_dim, image_shape = "gan", 2, (1, 4, 4)

        def decode(self, z):
            return torch.zeros(len(z), 1, 4, 4)

    wrapped = WrappedModel(Inner(), "adapter 'x.py'")
    assert place_model(wrapped, "meta") == torch.device("cpu")  # an adapter stays on the CPU


@pytest.mark.skipif(HAS_ACCEL, reason="auto picks an accelerator on this machine")
def test_session_device_choice(tmp_path):
    from explorer.core.device import DeviceError
    from explorer.core.session import Session

    s = Session(use_workers=False)
    assert s.device is None
    assert s.set_device("auto") == "cpu" and s.device == "auto"
    assert s.set_device(None) == "cpu" and s.device == "cpu"
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        s.set_device("cuda")
    assert s.device == "cpu"  # the choice is left as it was
    s.set_device("auto")
    vae = resources.path("checkpoints", "vae_fashion.pt")
    (m,) = s.add_models([vae])
    s.run_all(s.open_model_tasks(m, peek=False))
    assert m.entry is not None and m.entry.device == "cpu"
    assert s.set_device("cuda", check=False) == "cuda" and s.device == "cuda"  # kept, resolved at the next open
    task = s.open_model_tasks(s.add_models([resources.path("checkpoints", "dcgan_fashion.pt")])[0], peek=False)[-1]
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        task.fn(None)
    s.close()


def test_bench_hands_its_device_to_the_sections_that_take_one(tmp_path, monkeypatch):
    import json

    from explorer.bench import run_bench
    from explorer.bench.registry import SECTIONS, section

    seen = []

    @section("_t_device", takes_device=True)
    def with_device(device=None):
        seen.append(device)
        return {"_t": {"name": str(device)}}

    @section("_t_plain")
    def plain():
        return {"_p": 1}

    try:
        out = tmp_path / "b.json"
        assert run_bench(only=["_t_device", "_t_plain"], out=out, device=torch.device("cpu")) == {
            "_t": {"name": "cpu"}, "_p": 1}
        assert seen == [torch.device("cpu")] and json.loads(out.read_text())["_t"] == {"name": "cpu"}
    finally:
        SECTIONS.pop("_t_device", None)
        SECTIONS.pop("_t_plain", None)
    from explorer.bench.device import bench_device

    assert SECTIONS["device"] is bench_device and bench_device.takes_device
