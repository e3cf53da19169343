"""The sample-quality orchestration on tiny data: extractors, memorisation, the floor, the human test, bad input."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from explorer.core.jobs import Cancelled, JobContext
from explorer.core.sample_quality import (
    HumanTest,
    SampleQualityError,
    SampleQualitySettings,
    frechet_distance,
    load_extractor,
    memorisation_report,
    prepare_reference,
    sample_quality,
)
from explorer.core.sample_quality.extractors import InceptionExtractor
from explorer.data import Dataset, load_dataset
from models.checkpoint import save_checkpoint
from models.train_classifier import make_classifier_trainer

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def digits():
    """sklearn's 8×8 digits cut into train (1000), test (400) and a pool of unseen images (397)."""
    ds = load_dataset("digits")
    perm = np.random.default_rng(0).permutation(len(ds))
    part = lambda idx, split: Dataset(ds.images[idx], ds.labels[idx], ds.class_names, name="digits",  # noqa: E731
                                      split=split)
    return SimpleNamespace(train=part(perm[:1000], "train"), test=part(perm[1000:1400], "test"),
                           pool=part(perm[1400:], "test"))


@pytest.fixture(scope="module")
def classifier_file(digits, tmp_path_factory):
    torch.set_num_threads(1)
    trainer = make_classifier_trainer(digits.train.images, digits.train.labels, 10, num_features=16, seed=0)
    for _ in trainer.run(3):
        pass
    path = tmp_path_factory.mktemp("sq") / "digits_classifier.pt"
    save_checkpoint(path, trainer.model, dataset="digits", seed=0, extra={"test_accuracy": 0.5})
    return path


class PoolGenerator:
    """A 'GAN' whose decode returns images of a pool: z's first component picks the image (a stand-in generator)."""

    kind, latent_dim, has_encoder = "gan", 1, False

    def __init__(self, pool: np.ndarray, noise: float = 0.0):
        self.pool, self.noise = pool, noise
        self.image_shape = tuple(pool.shape[1:])

    def sample_prior(self, n, generator=None):
        return torch.rand(n, 1, generator=generator)

    def decode(self, z):
        idx = (z[:, 0].numpy() * len(self.pool)).astype(int) % len(self.pool)
        x = torch.from_numpy(self.pool[idx]).float()
        if self.noise:
            x = (x + self.noise * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
        return x


def _settings(path, **kw):
    base = dict(extractor=str(path), n_samples=300, kid_subset_size=100, kid_subsets=20,
                memorisation_samples=200, memorisation_held_out=200)
    return SampleQualitySettings(**{**base, **kw})


def test_copying_generator_is_flagged_and_an_honest_one_is_not(digits, classifier_file):
    copier = PoolGenerator(digits.train.images, noise=0.01)  # training images, barely disturbed
    honest = PoolGenerator(digits.pool.images)  # images of the distribution it never saw in training
    kw = dict(real=digits.test, train=digits.train, test=digits.test)
    ref = prepare_reference(_settings(classifier_file), copier.image_shape, **kw)
    copied = sample_quality(copier, _settings(classifier_file), reference=ref)
    fair = sample_quality(honest, _settings(classifier_file), reference=ref)
    mc, mf = copied.record["memorisation"], fair.record["memorisation"]
    assert mc["flagged"] and mc["pixel"]["fraction"] > 0.9
    assert not mf["flagged"] and mf["pixel"]["fraction"] < 0.15
    # the grid: each examined sample's nearest training image is the one it copies
    rep = copied.memorisation
    nearest = digits.train.images[rep.pixel.indices[:, 0]]
    assert np.abs(nearest - copied.samples[rep.sample_indices]).max() < 0.05
    assert rep.pixel.distances.shape == (200, 3) and np.all(np.diff(rep.pixel.distances, axis=1) >= 0)


def test_memorisation_neighbours_are_the_brute_force_ones():
    rng = np.random.default_rng(0)
    train, held, samples = rng.random((300, 1, 4, 4)), rng.random((50, 1, 4, 4)), rng.random((20, 1, 4, 4))
    ft, fh, fs = train.reshape(300, -1)[:, :3], held.reshape(50, -1)[:, :3], samples.reshape(20, -1)[:, :3]
    rep = memorisation_report(samples, fs, held, fh, train, ft, k=3, quantile=0.1)
    d = np.linalg.norm(samples.reshape(20, 1, -1) - train.reshape(1, 300, -1), axis=2)
    order = np.argsort(d, axis=1)[:, :3]
    np.testing.assert_array_equal(rep.pixel.indices, order)
    np.testing.assert_allclose(rep.pixel.distances, np.take_along_axis(d, order, 1), rtol=1e-5)
    h = np.linalg.norm(held.reshape(50, 1, -1) - train.reshape(1, 300, -1), axis=2).min(1)
    assert rep.pixel.threshold == pytest.approx(np.quantile(h, 0.1), rel=1e-5)
    assert rep.pixel.fraction == pytest.approx(np.mean(d.min(1) < np.quantile(h, 0.1)))


def test_record_has_the_issue_keys_and_names_extractor_n_and_real_set(digits, classifier_file):
    gen = PoolGenerator(digits.pool.images)
    s = _settings(classifier_file)
    ref = prepare_reference(s, gen.image_shape, real=digits.test, train=digits.train, test=digits.test)
    res = sample_quality(gen, s, reference=ref)
    assert set(res.record) == {"extractor", "n_samples", "real_set", "fid", "kid", "kid_std", "is", "is_std",
                               "precision", "recall", "density", "coverage", "floor", "memorisation"}
    assert "digits_classifier.pt" in res.record["extractor"] and res.record["n_samples"] == 300
    assert res.record["real_set"] == "digits test split (400 images)"
    floor = res.record["floor"]
    assert floor["n_samples"] == 300 and "train split" in floor["compared_set"]
    assert floor["extractor"] == res.record["extractor"] and floor["real_set"] == res.record["real_set"]
    assert floor["fid"] >= 0 and floor["precision"] > 0.5
    assert res.samples.shape == (300, 1, 8, 8) and res.sample_features.shape == (300, 16)
    assert res.precision_recall["model"] == (res.record["precision"], res.record["recall"])
    assert res.record["fid"] == pytest.approx(frechet_distance(ref.real_features, res.sample_features), rel=1e-12)
    json.dumps(res.record)  # plain JSON
    # same seed → same numbers
    again = sample_quality(gen, s, reference=ref)
    assert again.record == res.record


def test_reconstructions_are_compared_with_their_originals(digits, classifier_file):
    class Identity(PoolGenerator):
        kind, has_encoder, latent_dim = "vae", True, 64

        def encode(self, x):
            return x.reshape(len(x), -1)

        def decode(self, z):
            return z.reshape(len(z), *self.image_shape) if z.shape[1] == 64 else super().decode(z)

        def sample_prior(self, n, generator=None):
            idx = torch.randint(0, len(self.pool), (n,), generator=generator)
            return torch.from_numpy(self.pool[idx.numpy()]).reshape(n, -1)

    model = Identity(digits.pool.images)
    s = _settings(classifier_file, memorisation=False, floor=False)
    ref = prepare_reference(s, model.image_shape, real=digits.test)
    res = sample_quality(model, s, reference=ref)
    rec = res.reconstructions
    assert rec["n_samples"] == 300 and "decode(encode(x))" in rec["compared"]
    assert abs(rec["fid"]) < 1e-6 and rec["precision"] == 1.0 and rec["recall"] == 1.0  # perfect reconstructions
    assert res.record["floor"] is None and res.record["memorisation"] is None


def test_progress_is_reported_and_cancel_stops(digits, classifier_file):
    seen = []
    ctx = JobContext(lambda f, m: seen.append(f))
    s = _settings(classifier_file)
    ref = prepare_reference(s, (1, 8, 8), real=digits.test, train=digits.train, test=digits.test)
    sample_quality(PoolGenerator(digits.pool.images), s, ctx, reference=ref)
    assert seen[-1] == 1.0 and all(0 <= f <= 1 for f in seen) and len(seen) > 5
    ctx = JobContext()
    ctx.cancel()
    with pytest.raises(Cancelled):
        sample_quality(PoolGenerator(digits.pool.images), s, ctx, reference=ref)


def test_bad_extractor_file_wrong_image_size_and_too_few_samples_are_one_sentence(tmp_path, digits,
                                                                                  classifier_file):
    from models.base import ModelFileError

    bad = tmp_path / "x.pt"
    bad.write_bytes(b"not a network")
    with pytest.raises(ModelFileError) as e:
        load_extractor(bad)
    assert "x.pt" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(SampleQualityError, match="does not exist"):
        load_extractor(tmp_path / "missing.pt")
    from models.vae import VAE

    vae = tmp_path / "vae.pt"
    save_checkpoint(vae, VAE(2, (1, 8, 8)), dataset="digits", seed=0)
    with pytest.raises(SampleQualityError, match="is a vae model, not a feature extractor"):
        load_extractor(vae)
    gen28 = PoolGenerator(np.zeros((5, 1, 28, 28), np.float32))
    with pytest.raises(SampleQualityError) as e:
        prepare_reference(_settings(classifier_file), gen28.image_shape, real=digits.test)
    msg = str(e.value)
    assert "takes 1×8×8 images but the model's images are 1×28×28" in msg and "\n" not in msg
    with pytest.raises(SampleQualityError, match="--n-samples 5 is too small: .* at least 10 samples"):
        _settings(classifier_file, n_samples=5)


def test_feature_adapter_is_checked_and_used(tmp_path, digits):
    good = tmp_path / "feat.py"
    good.write_text(
        "import torch\n"
        "class Net:\n"
        "    image_shape = (1, 8, 8)\n"
        "    def features(self, x):\n"
        "        return x.flatten(1)[:, :12]\n"
        "    def logits(self, x):\n"
        "        return x.flatten(1)[:, :4] * 10\n"
        "def load_model():\n"
        "    return Net()\n")
    ex = load_extractor(good)
    assert ex.num_features == 12 and ex.has_logits and "feat.py" in ex.name
    f, lg = ex.run(digits.test.images[:50])
    np.testing.assert_allclose(f, digits.test.images[:50].reshape(50, -1)[:, :12], rtol=1e-6)
    assert lg.shape == (50, 4)
    broken = tmp_path / "broken.py"
    broken.write_text(good.read_text().replace("[:, :12]", "[:1, :12]"))
    with pytest.raises(Exception) as e:
        load_extractor(broken)
    assert "broken.py" in str(e.value) and "features returned shape (1, 12), expected (2, width)" in str(e.value)
    nofeat = tmp_path / "nofeat.py"
    nofeat.write_text("class Net:\n    image_shape = (1, 8, 8)\ndef load_model():\n    return Net()\n")
    with pytest.raises(Exception, match="no features"):
        load_extractor(nofeat)


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")  # exporting is the user's business
def test_inception_torchscript_gets_quantised_rgb_299_bicubic_images(tmp_path):
    from PIL import Image

    class StandIn(torch.nn.Module):
        """Average-pools a uint8 (N, 3, 299, 299) batch in 100×100 blocks (2×2 per channel); refuses anything else."""

        def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
            if x.dtype != torch.uint8 or x.shape[1] != 3 or x.shape[2] != 299 or x.shape[3] != 299:
                raise ValueError("expects uint8 (N, 3, 299, 299)")
            return torch.nn.functional.avg_pool2d(x.float(), 100).flatten(1)

    path = tmp_path / "inception-standin.pt"
    torch.jit.save(torch.jit.script(StandIn()), str(path))
    ex = load_extractor(path)
    assert isinstance(ex, InceptionExtractor) and ex.num_features == 12 and not ex.has_logits
    assert "bicubic" in ex.name and "299×299" in ex.name
    x = np.random.default_rng(0).random((3, 1, 28, 28)).astype(np.float32)
    f, lg = ex.run(x)
    assert lg is None
    for i in range(3):  # the same preprocessing, written out here
        q = np.clip(np.rint(x[i, 0] * 255), 0, 255).astype(np.uint8)
        big = np.asarray(Image.fromarray(q).convert("RGB").resize((299, 299), Image.Resampling.BICUBIC), np.float64)
        want = [big[r * 100:(r + 1) * 100, c * 100:(c + 1) * 100, ch].mean()
                for ch in range(3) for r in range(2) for c in range(2)]
        np.testing.assert_allclose(f[i], want, rtol=1e-5)
    junk = tmp_path / "junk.pt"
    torch.jit.save(torch.jit.script(torch.nn.Identity()), str(junk))  # images out, not features
    with pytest.raises(SampleQualityError, match="junk.pt") as e:
        load_extractor(junk)
    assert "\n" not in str(e.value)


def test_human_test_is_seeded_balanced_and_scored():
    a, b = HumanTest.new(50, 80, n_trials=20, seed=3, model="vae"), HumanTest.new(50, 80, n_trials=20, seed=3)
    assert a.is_real == b.is_real and a.index == b.index and sum(a.is_real) == 10
    assert HumanTest.new(50, 80, n_trials=20, seed=4).is_real != a.is_real
    assert a.result()["error_rate"] is None and a.next_trial == 0
    for t in range(20):  # the user says "real" every time: every fake is an error
        a.answer(t, True)
    r = a.result()
    assert (r["n_errors"], r["fake_called_real"], r["real_called_fake"], r["error_rate"]) == (10, 10, 0, 0.5)
    low, high = r["ci95"]
    assert low < 0.5 < high and a.next_trial is None
    again = HumanTest.from_dict(json.loads(json.dumps(a.to_dict())))
    assert again.result() == r
    with pytest.raises(SampleQualityError, match="even number"):
        HumanTest.new(10, 10, n_trials=7)
    with pytest.raises(SampleQualityError, match="need 10 real"):
        HumanTest.new(5, 50, n_trials=20)


def test_real_features_come_back_from_the_cache_and_a_damaged_file_is_ignored(digits, classifier_file, tmp_path):
    from explorer.core.sample_quality.cache import cached_features

    ex = load_extractor(classifier_file)
    first = cached_features(ex, digits.test, 100, None, "test", tmp_path)
    files = list(tmp_path.glob("features-*.npz"))
    assert len(files) == 1
    calls = []
    ex.run = lambda *a, **k: calls.append(1) or first  # the network must not run again
    again = cached_features(ex, digits.test, 100, None, "test", tmp_path)
    np.testing.assert_array_equal(again[0], first[0])
    np.testing.assert_array_equal(again[1], first[1])
    assert not calls
    files[0].write_bytes(b"damaged")
    cached_features(ex, digits.test, 100, None, "test", tmp_path)
    assert calls == [1]
    other = Dataset(digits.test.images[::-1].copy(), name="digits", split="test")  # other images: another key
    cached_features(ex, other, 100, None, "test", tmp_path)
    assert calls == [1, 1] and len(list(tmp_path.glob("features-*.npz"))) == 2


def test_progress_messages_estimate_the_time_left():
    from explorer.core.sample_quality.extractors import eta_text

    assert eta_text(10.0, 2, 10) == ", about 40 s left"  # 5 s per item, 8 items to go
    assert eta_text(60.0, 1, 11) == ", about 10 min left"
    assert eta_text(5.0, 0, 10) == "" and eta_text(5.0, 10, 10) == ""


def test_settings_round_trip_through_json_and_refuse_unknown_keys():
    s = SampleQualitySettings(n_samples=500, extractor="x.py", real_split="train", seed=3)
    assert SampleQualitySettings.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    with pytest.raises(SampleQualityError, match="unknown sample-quality settings bogus"):
        SampleQualitySettings.from_dict({**s.to_dict(), "bogus": 1})
    with pytest.raises(SampleQualityError, match="--real-split must be 'test' or 'train'"):
        SampleQualitySettings(real_split="all")


def test_radii_floor_and_held_out_distances_are_computed_once_per_real_set(digits, classifier_file, tmp_path,
                                                                           monkeypatch):
    """A second measurement against the same real sets reads what depends on them alone from the cache."""
    from explorer.core.sample_quality import jobs
    from explorer.core.sample_quality import memorisation as mem
    from explorer.core.sample_quality import metrics as qm

    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path))
    gen = PoolGenerator(digits.pool.images)
    s = _settings(classifier_file)
    first = sample_quality(gen, s, reference=prepare_reference(s, gen.image_shape, real=digits.test,
                                                               train=digits.train, test=digits.test))
    folder = tmp_path / "sample_quality"
    assert len(list(folder.glob("floor-*.json"))) == 1 and len(list(folder.glob("radii-*.npz"))) == 1
    assert len(list(folder.glob("heldout-*.npz"))) == 2  # pixel and feature space
    calls = {"kid": 0, "radii": [], "nearest": []}
    kid, radii, nearest = qm.kernel_inception_distance, qm.knn_radii_many, mem.nearest_training

    def counting_kid(*a, **k):
        calls["kid"] += 1
        return kid(*a, **k)

    monkeypatch.setattr(jobs.qm, "kernel_inception_distance", counting_kid)
    monkeypatch.setattr(qm, "knn_radii_many", lambda x, ks, *a: calls["radii"].append(len(x)) or radii(x, ks, *a))
    monkeypatch.setattr(mem, "nearest_training", lambda q, t, k=3: calls["nearest"].append(len(q)) or nearest(q, t, k))
    ref = prepare_reference(s, gen.image_shape, real=digits.test, train=digits.train, test=digits.test)
    again = sample_quality(gen, s, reference=ref)
    assert again.record == first.record
    np.testing.assert_array_equal(ref.real_radii[3], first.reference.real_radii[3])
    assert calls["kid"] == 1  # the model's samples only: the floor came from the cache
    assert calls["radii"] == [300]  # the samples' own radii; the real set's were read back
    assert calls["nearest"] == [200, 200]  # the samples in pixel and feature space; not the held-out images
    other = Dataset(digits.test.images[::-1].copy(), name="digits", split="test")  # other real images: a miss
    sample_quality(gen, s, reference=prepare_reference(s, gen.image_shape, real=other, train=digits.train,
                                                       test=other))
    assert len(list(folder.glob("floor-*.json"))) == 2 and calls["kid"] == 3


@pytest.mark.parametrize("extra", [8, 0])  # 0: no float32 candidate to spare, every query searched again in float64
def test_nearest_training_rows_are_exact_in_wide_spaces(extra):
    from sklearn.neighbors import NearestNeighbors

    from explorer.core.sample_quality.memorisation import nearest_training

    rng = np.random.default_rng(9)
    train = rng.random((700, 40))
    train[5] = train[4]  # a duplicate: a tie, broken by the lower index
    queries = np.vstack([rng.random((30, 40)), train[4:5] + 1e-9, train[10:12]])
    d, i = nearest_training(queries, train, 3, extra=extra, chunk=128)
    direct = np.linalg.norm(queries[:, None, :] - train[None, :, :], axis=2)
    order = np.argsort(direct, axis=1, kind="stable")[:, :3]
    np.testing.assert_array_equal(i, order)
    np.testing.assert_allclose(d, np.take_along_axis(direct, order, 1), rtol=1e-12, atol=1e-12)
    assert list(i[30][:2]) == [4, 5] and i[31][0] == 10 and d[31][0] == 0.0
    want_d, want_i = NearestNeighbors(n_neighbors=3).fit(train).kneighbors(queries[:30])
    np.testing.assert_array_equal(i[:30], want_i)
    np.testing.assert_allclose(d[:30], want_d, rtol=1e-9)


@pytest.mark.parametrize("bad", [{"n_samples": 10 ** 12}, {"batch_size": 0}, {"seed": -1}, {"kid_subsets": 2.5},
                                 {"floor": "yes"}, {"memorisation_quantile": 1.5}, {"extractor": 3},
                                 {"n_samples": True}])
def test_settings_from_a_file_are_checked_before_anything_is_allocated(bad):
    from explorer.core.sample_quality import SampleQualitySettings
    from explorer.core.sample_quality.metrics import SampleQualityError

    good = SampleQualitySettings().to_dict()
    assert SampleQualitySettings.from_dict(good) == SampleQualitySettings()
    with pytest.raises(SampleQualityError) as info:
        SampleQualitySettings.from_dict({**good, **bad})
    assert str(next(iter(bad))) in str(info.value) and "\n" not in str(info.value)
