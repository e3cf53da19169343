"""`latent-explorer evaluate --metrics reconstruction` and `render reconstructions` against skimage."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

import resources
from explorer.cli import main
from explorer.core.codes import decode_codes, encode_images
from explorer.core.reconstruction.codecs import jpeg_round_trip
from explorer.core.reconstruction.quantize import round_trip
from explorer.data import fit_to_model, load_dataset, subsample_indices
from models.loading import load_any

VAE = str(resources.path("checkpoints", "vae_fashion.pt"))
DCGAN = str(resources.path("checkpoints", "dcgan_fashion.pt"))
REF_SSIM = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)
KEYS = {"precision", "compression_ratio", "psnr_db", "ssim", "n_images", "codes", "jpeg"}
JPEG_KEYS = {"quality", "compression_ratio", "psnr_db", "ssim"}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _skimage_means(x, y):
    pairs = list(zip(x, y, strict=True))
    p = [peak_signal_noise_ratio(a.astype(np.float64), b.astype(np.float64), data_range=1.0) for a, b in pairs]
    s = [structural_similarity(a[0].astype(np.float64), b[0].astype(np.float64), **REF_SSIM) for a, b in pairs]
    return float(np.mean(p)), float(np.mean(s))


def test_evaluate_reconstruction_keys_and_values_match_skimage(tmp_path):
    out = tmp_path / "eval.json"
    assert main(["evaluate", VAE, "--data", "fashion-mnist", "--limit", "40", "--metrics", "reconstruction",
                 "--precision", "float32", "float16", "8bit", "--json", str(out)]) == 0
    rec = json.loads(out.read_text())["models"][0]
    r = rec["reconstruction"]
    assert KEYS <= set(r) and JPEG_KEYS <= set(r["jpeg"])
    assert r["precision"] == "float32" and r["codes"] == "encoder" and r["n_images"] == 40
    assert r["compression_ratio"] == pytest.approx(28 * 28 * 8 / (16 * 32))
    by = rec["reconstruction_by_precision"]
    assert [b["precision"] for b in by] == ["float32", "float16", "8bit"]
    assert [b["compression_ratio"] for b in by] == pytest.approx([12.25, 24.5, 49.0])
    assert by[0] == r
    # the same reconstructions, scored by scikit-image directly
    model, _ = load_any(VAE)
    ds = load_dataset("fashion-mnist", split="test", limit=40, seed=0)
    x = fit_to_model(ds, model.image_shape).images
    z = encode_images(model, x)
    for b in by:
        recon = decode_codes(model, round_trip(z, b["precision"]))
        p, s = _skimage_means(x, recon)
        assert b["psnr_db"] == pytest.approx(p, rel=1e-5)
        assert b["ssim"] == pytest.approx(s, rel=1e-6)
    # JPEG at the quality it reports: the bytes written and the scores
    j = r["jpeg"]
    dec, nbytes = jpeg_round_trip(x, j["quality"])
    assert j["compression_ratio"] == pytest.approx(28 * 28 * 8 / (8 * nbytes.mean()))
    p, s = _skimage_means(x, dec)
    assert j["psnr_db"] == pytest.approx(p, rel=1e-5) and j["ssim"] == pytest.approx(s, rel=1e-6)
    # 28×28 JPEG cannot reach 12×: said, not extrapolated
    assert j["reachable"] is False and "cannot reach" in j["message"]
    assert j["compression_ratio"] < r["compression_ratio"]


def test_evaluate_reconstruction_on_resized_digits_uses_original_bits_and_null_ssim(tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert main(["evaluate", VAE, "--data", "digits", "--limit", "30", "--metrics", "reconstruction",
                 "--json", str(out)]) == 0
    r = json.loads(out.read_text())["models"][0]["reconstruction"]
    # bits of the original 8×8 digit over 16 × 32 bits of the code
    assert r["compression_ratio"] == pytest.approx(8 * 8 * 8 / (16 * 32))
    assert r["ssim"] is not None  # the model's 28×28 output vs the resized input
    assert r["jpeg"]["ssim"] is None  # JPEG of the 8×8 originals
    assert any("SSIM needs images of at least 11×11 pixels" in n for n in r["notes"])
    assert any("original 8×8×1" in n for n in r["notes"])


def test_evaluate_gan_codes_are_labelled_inverted(tmp_path):
    out = tmp_path / "eval.json"
    assert main(["evaluate", DCGAN, "--data", "fashion-mnist", "--limit", "50", "--metrics", "reconstruction",
                 "--n-images", "3", "--inversion-steps", "5", "--inversion-restarts", "1", "--json", str(out)]) == 0
    r = json.loads(out.read_text())["models"][0]["reconstruction"]
    assert r["codes"] == "inverted" and r["n_images"] == 3
    assert r["compression_ratio"] == pytest.approx(28 * 28 * 8 / (32 * 32))
    assert any("GAN inversion" in n for n in r["notes"])


def test_evaluate_gan_clusters_inverted_codes_of_real_images(tmp_path, monkeypatch, capsys, inversions):
    """--gan-codes inverted: k-means on the inverted codes of the N images whose reconstructions are measured;
    the scores equal scikit-learn's on those codes, and a second run reads the codes from the cache."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import homogeneity_completeness_v_measure

    from explorer.core.projection import file_sha256
    from explorer.core.reconstruction.inversion import InversionSettings
    from explorer.core.reconstruction.inverted import InvertedCodesStore
    from explorer.core.workspace import dataset_identity

    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path / "cache"))
    asked = inversions
    out = tmp_path / "eval.json"
    args = ["evaluate", DCGAN, "--data", "fashion-mnist", "--limit", "60", "--metrics", "clustering",
            "reconstruction", "--gan-codes", "inverted", "--n-images", "30", "--k", "3",
            "--inversion-steps", "4", "--inversion-restarts", "1", "--json", str(out)]
    assert main(args) == 0
    assert asked == [30]  # clustering and reconstructions share the same 30 inverted images
    rec = json.loads(out.read_text())["models"][0]
    assert rec["codes"] == "inverted" and rec["reconstruction"]["codes"] == "inverted"
    assert rec["inversion"]["steps"] == 4 and rec["clustering"]["n_images"] == 30
    assert "inverted codes" in capsys.readouterr().out
    ds = load_dataset("fashion-mnist", split="test", limit=60, seed=0)
    store = InvertedCodesStore(load_any(DCGAN)[0], file_sha256(DCGAN), dataset_identity(ds), 60,
                               InversionSettings(steps=4, restarts=1))
    idx = subsample_indices(60, 30, 0)
    assert store.done[idx].all() and store.n_done == 30
    z = store.get(idx, np.zeros((30, 1, 28, 28), np.float32)).codes
    km = KMeans(n_clusters=3, n_init=3, random_state=0).fit(z)  # clustering.DEFAULT_N_INIT
    h, c, v = homogeneity_completeness_v_measure(ds.labels[idx], km.labels_)
    assert rec["clustering"]["v_measure"] == pytest.approx(v, abs=1e-9)
    assert rec["clustering"]["homogeneity"] == pytest.approx(h, abs=1e-9)
    assert main(args) == 0 and asked == [30]  # the second run inverts nothing


def test_bad_precision_is_one_sentence(capsys):
    assert main(["evaluate", VAE, "--data", "fashion-mnist", "--limit", "5", "--metrics", "reconstruction",
                 "--precision", "40bit"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("latent-explorer: error: ") and "40bit" in err and "Traceback" not in err


def test_reconstruction_subset_is_the_seeded_subset_of_the_readers():
    from explorer.core.evaluate import reconstruction_subset

    assert reconstruction_subset is subsample_indices  # one function, one sample per seed
    a = subsample_indices(100, 10, 3)
    assert np.array_equal(a, subsample_indices(100, 10, 3)) and len(np.unique(a)) == 10
    assert np.array_equal(subsample_indices(5, None, 0), np.arange(5))


@pytest.mark.parametrize("ext", [".png", ".pdf"])
def test_render_reconstructions_writes_a_valid_figure(tmp_path, capsys, ext):
    out = tmp_path / f"rec{ext}"
    assert main(["render", "reconstructions", VAE, "--data", "fashion-mnist", "--limit", "60", "--n", "5",
                 "--select", "worst", "--precision", "8bit", "--out", str(out)]) == 0
    data = out.read_bytes()
    if ext == ".png":
        with Image.open(out) as im:
            im.verify()
        with Image.open(out) as im:
            assert im.format == "PNG" and im.width > 5 * 28 and im.height > 3 * 28
    else:
        assert data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF")
    text = capsys.readouterr().out
    assert "8bit" in text and "49×" in text


def test_render_rejects_unknown_extension(tmp_path, capsys):
    assert main(["render", "reconstructions", VAE, "--limit", "5", "--out", str(tmp_path / "x.gif")]) == 2
    assert "x.gif" in capsys.readouterr().err


def test_render_gan_reconstructions_reuses_inverted_codes(tmp_path, monkeypatch, capsys, inversions):
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(tmp_path / "cache"))
    args = ["render", "reconstructions", DCGAN, "--data", "fashion-mnist", "--limit", "40", "--n", "3",
            "--inversion-steps", "3", "--inversion-restarts", "1"]
    assert main(args + ["--out", str(tmp_path / "a.png")]) == 0
    assert main(args + ["--out", str(tmp_path / "b.png"), "--precision", "8bit"]) == 0
    assert inversions == [3]  # the second figure reads the codes from the cache
    assert main(args + ["--out", str(tmp_path / "c.png"), "--no-cache"]) == 0
    assert inversions == [3, 3]
    out = capsys.readouterr().out
    assert out.count("inverted") >= 3
    with Image.open(tmp_path / "b.png") as im:
        assert im.format == "PNG"
