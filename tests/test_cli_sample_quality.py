"""`latent-explorer train classifier` and `evaluate --metrics sample-quality` end to end on tiny data."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

import resources
from explorer.cli import main
from explorer.data import load_dataset

pytestmark = pytest.mark.usefixtures("one_torch_thread")
VAE = resources.path("checkpoints", "vae_fashion.pt")


def _write_idx(path, array: np.ndarray) -> None:
    magic = (0x0800 | array.ndim).to_bytes(4, "big")
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(magic + dims + array.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def tiny_fashion(tmp_path_factory):
    """A Fashion-MNIST-shaped IDX folder: 400 train and 200 test images cut from the bundled test split."""
    full = load_dataset("fashion-mnist", split="test", path=resources.path("data", "fashion-mnist"))
    folder = tmp_path_factory.mktemp("tiny-fashion")
    x = np.rint(full.images[:600, 0] * 255)
    for name, sl in (("train", slice(0, 400)), ("t10k", slice(400, 600))):
        _write_idx(folder / f"{name}-images-idx3-ubyte.gz", x[sl])
        _write_idx(folder / f"{name}-labels-idx1-ubyte.gz", full.labels[sl])
    return folder


@pytest.fixture(scope="module")
def classifier(tiny_fashion):
    out = tiny_fashion.parent / "clf.pt"
    assert main(["train", "classifier", "--data", str(tiny_fashion), "--epochs", "1", "--seed", "2",
                 "--threads", "1", "--out", str(out)]) == 0
    return out


def test_train_classifier_writes_checkpoint_and_provenance(classifier, capsys):
    prov = json.loads(classifier.with_name("clf.provenance.json").read_text())
    assert prov["n_train"] == 400 and prov["n_test"] == 200 and prov["seed"] == 2
    assert "train classifier" in prov["command"] and 0 <= prov["test_accuracy"] <= 1
    assert main(["info", str(classifier), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "classifier" and info["extra"]["test_accuracy"] == prov["test_accuracy"]


def test_evaluate_sample_quality_adds_the_record(classifier, tiny_fashion, tmp_path, capsys):
    out = tmp_path / "sq.json"
    assert main(["evaluate", str(VAE), "--data", str(tiny_fashion), "--metrics", "sample-quality",
                 "--extractor", str(classifier), "--n-samples", "150", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "KID printed × 10³" in text and "floor :" in text and "memorisation:" in text
    rec = json.loads(out.read_text())["models"][0]
    sq = rec["sample_quality"]
    assert set(sq) == {"extractor", "n_samples", "real_set", "fid", "kid", "kid_std", "is", "is_std", "precision",
                       "recall", "density", "coverage", "floor", "memorisation"}
    assert sq["n_samples"] == 150 and "test split (200 images)" in sq["real_set"] and "clf.pt" in sq["extractor"]
    assert sq["floor"]["n_samples"] == 150 and sq["memorisation"]["n_train"] == 400
    assert sq["fid"] > sq["floor"]["fid"]  # a VAE's samples are farther from the test images than train images
    assert rec["sample_quality_reconstructions"]["n_samples"] == 150


@pytest.mark.parametrize("extra, words", [
    (["--n-samples", "5"], "--n-samples 5 is too small"),
    (["--extractor", "{missing}"], "does not exist"),
    (["--extractor", "{vae}"], "not a feature extractor"),
])
def test_bad_sample_quality_input_is_one_sentence(extra, words, tiny_fashion, tmp_path, capsys):
    extra = [e.format(missing=tmp_path / "nope.pt", vae=VAE) for e in extra]
    status = main(["evaluate", str(VAE), "--data", str(tiny_fashion), "--metrics", "sample-quality", *extra])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert status == 2 and words in err and err.startswith("latent-explorer: error: ")


def test_classifier_for_the_wrong_image_size_is_one_sentence(tmp_path, capsys):
    small = tmp_path / "digits.pt"
    assert main(["train", "classifier", "--data", "digits", "--limit", "200", "--epochs", "1",
                 "--out", str(small)]) == 0
    capsys.readouterr()
    status = main(["evaluate", str(VAE), "--metrics", "sample-quality", "--extractor", str(small),
                   "--n-samples", "20"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert status == 2 and "takes 1×8×8 images but the model's images are 1×28×28" in err
