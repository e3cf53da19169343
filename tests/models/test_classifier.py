"""The LeNet-style domain classifier: deterministic training, the checkpoint format, the bundled one's accuracy."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import resources
from models.base import ModelFileError
from models.checkpoint import load_checkpoint, save_checkpoint
from models.classifier import LeNetClassifier, accuracy
from models.loading import describe, load_any
from models.train_classifier import make_classifier_trainer

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _blobs(n=240, seed=0):
    """Images of three classes: a bright square in one of three places."""
    g = np.random.default_rng(seed)
    y = g.integers(0, 3, n)
    x = 0.1 * g.random((n, 1, 12, 12)).astype(np.float32)
    for i, c in enumerate(y):
        x[i, 0, 1 + 3 * c:5 + 3 * c, 2:6] = 0.9
    return x, y


def _train(seed, epochs=2):
    x, y = _blobs()
    t = make_classifier_trainer(x, y, 3, num_features=8, widths=(4, 8), batch_size=32, seed=seed)
    for _ in t.run(epochs):
        pass
    return t


def test_training_is_deterministic_for_a_seed_and_learns():
    a, b, c = _train(0), _train(0), _train(1)
    for (k, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k
    assert any(not torch.equal(va, vc) for va, vc in zip(a.model.state_dict().values(),
                                                         c.model.state_dict().values(), strict=True))
    x, y = _blobs(seed=1)  # held-out images
    more = _train(0, epochs=15)
    acc = accuracy(more.model, x, y)
    more.model.eval()
    with torch.no_grad():
        assert acc == float((more.model(torch.from_numpy(x)).argmax(1).numpy() == y).mean()) and acc > 0.9


def test_features_and_logits_are_the_penultimate_layer_and_the_head():
    m = LeNetClassifier((1, 12, 12), 3, num_features=8, widths=(4, 8)).eval()
    x = torch.rand(5, 1, 12, 12)
    f, lg = m.features_and_logits(x)
    assert f.shape == (5, 8) and lg.shape == (5, 3) and bool((f >= 0).all())
    assert torch.allclose(lg, m.head(f)) and torch.allclose(m.features(x), f) and torch.allclose(m.logits(x), lg)
    with pytest.raises(ValueError, match=r"\(N, 1, 12, 12\)"):
        m.features(torch.rand(2, 1, 28, 28))


def test_checkpoint_round_trip_info_and_refused_as_a_generative_model(tmp_path):
    t = _train(0)
    path = tmp_path / "clf.pt"
    save_checkpoint(path, t.model, dataset="blobs", seed=0, history=t.history, extra={"test_accuracy": 0.97})
    ckpt = load_checkpoint(path)
    assert ckpt.kind == "classifier" and ckpt.config["n_classes"] == 3 and ckpt.extra["test_accuracy"] == 0.97
    x = torch.rand(4, 1, 12, 12)
    assert torch.equal(ckpt.model.logits(x), t.model.logits(x))
    info = describe(path)
    assert info["kind"] == "classifier" and info["image_shape"] == [1, 12, 12] and info["latent_dim"] is None
    assert info["parameters"] == sum(p.numel() for p in t.model.parameters())
    with pytest.raises(ModelFileError, match="is a classifier .* not a generative model") as e:
        load_any(path)
    assert "\n" not in str(e.value)


def test_bad_labels_are_refused():
    x, y = _blobs(20)
    with pytest.raises(ValueError, match="one label per training image"):
        make_classifier_trainer(x, y[:5], 3)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        make_classifier_trainer(x, y + 5, 3)


BUNDLED = resources.path("checkpoints", "lenet_fashion.pt")


def test_bundled_classifier_accuracy_is_what_its_provenance_says():
    """On the whole bundled Fashion-MNIST test split (10,000 images): the figure in the provenance, ≥ 90 %."""
    from explorer.data import load_dataset

    prov = json.loads(resources.path("checkpoints", "lenet_fashion.provenance.json").read_text())
    ckpt = load_checkpoint(BUNDLED)
    test = load_dataset("fashion-mnist", split="test", path=resources.path("data", "fashion-mnist"))
    acc = accuracy(ckpt.model, test.images, test.labels)
    assert prov["n_test"] == len(test) == 10_000
    assert acc == pytest.approx(prov["test_accuracy"], abs=1e-4)  # one image in 10,000: other CPU kernels
    assert ckpt.extra["test_accuracy"] == prov["test_accuracy"] and acc >= 0.90
    assert prov["train_data"] == "fashion-mnist train split" and prov["n_train"] == 60_000
