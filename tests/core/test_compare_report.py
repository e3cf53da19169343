"""The report's figure data from a comparison: aligned embeddings, reconstructions grid, rate–distortion."""

from __future__ import annotations

import numpy as np
import pytest

import resources
from explorer.core.compare import report
from explorer.core.compare.run import compare_models
from explorer.core.reconstruction.codecs import codec_curve
from explorer.core.reconstruction.inversion import InversionSettings
from explorer.core.reconstruction.metrics import psnr
from explorer.data import load_dataset

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MODELS = [str(resources.path("checkpoints", f)) for f in ("vae_fashion.pt", "dcgan_fashion.pt")]


@pytest.fixture(scope="module")
def comparison():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ds = load_dataset("fashion-mnist", split="test", limit=30, seed=0)
        return compare_models(MODELS, ds, precisions=("float32", "8bit"), n_images=30,
                              inversion=InversionSettings(steps=3, restarts=1), cache=False)
    finally:
        torch.set_num_threads(threads)


def test_rate_distortion_uses_the_scorecards_measurements_and_one_ratio(comparison):
    rows = report.rate_distortion_curves(comparison, 20, ("float32", "8bit", "4bit"))
    latent = [r for r in rows if r["method"] == "latent"]
    assert [(r["model"], r["setting"]) for r in latent] == [
        ("vae_fashion.pt", "float32"), ("vae_fashion.pt", "8bit"), ("vae_fashion.pt", "4bit"),
        ("dcgan_fashion.pt (inverted)", "float32"), ("dcgan_fashion.pt (inverted)", "8bit"),
        ("dcgan_fashion.pt (inverted)", "4bit")]
    # compression ratio: bits of the original 28×28×1 image over the bits of the code (d·b)
    assert [r["ratio"] for r in latent] == pytest.approx([6272 / (16 * 32), 6272 / (16 * 8), 6272 / (16 * 4),
                                                          6272 / (32 * 32), 6272 / (32 * 8), 6272 / (32 * 4)])
    # the scorecard's precisions are its own per-image numbers on the first 20 images
    rep = comparison.runs[0].reports[1]
    assert latent[1]["psnr"] == pytest.approx(float(np.mean(rep.psnr[:20])), rel=1e-12)
    # a precision the scorecard did not measure: decoded from the same codes with a quantiser fitted on all N
    from explorer.core.codes import decode_codes
    from explorer.core.reconstruction.quantize import round_trip

    run = comparison.runs[0]
    recon = decode_codes(run.entry.model, round_trip(run.codes, "4bit")[:20])
    assert latent[2]["psnr"] == pytest.approx(float(np.mean(psnr(run.images[:20], recon))), rel=1e-9)
    # JPEG once, on the original images, for all models
    jpeg = [r for r in rows if r["method"] == "jpeg"]
    ref = codec_curve(comparison.dataset.images[comparison.indices[:20]], "jpeg")
    assert [r["ratio"] for r in jpeg] == pytest.approx([p.compression_ratio for p in ref])
    assert all(r["model"] is None and r["n_images"] == 20 for r in jpeg)


def test_embeddings_are_projected_aligned_and_titled(comparison):
    from explorer.core.projection import ProjectionSpec, compute_projection

    panels = report.aligned_embeddings(comparison, "pca", "procrustes")
    assert len(panels) == 2
    first = compute_projection(comparison.runs[0].codes, ProjectionSpec("pca", {}, 0)).embedding
    np.testing.assert_allclose(panels[0].xy, first, rtol=1e-6, atol=1e-6)  # the reference is not moved
    second = compute_projection(comparison.runs[1].codes, ProjectionSpec("pca", {}, 0)).embedding
    # Procrustes: distances within the moved embedding are unchanged (no scaling)
    d = lambda e: np.linalg.norm(e[:, None] - e[None], axis=-1)  # noqa: E731
    np.testing.assert_allclose(d(panels[1].xy), d(np.asarray(second, float)), atol=1e-5)
    assert "d = 16" in panels[0].title and "PCA" in panels[0].title
    assert "(inverted)" in panels[1].title and "Procrustes onto vae_fashion.pt" in panels[1].title
    assert "rotated onto vae_fashion.pt" in panels[1].axis_labels[0]
    with pytest.raises(ValueError, match="align"):
        report.aligned_embeddings(comparison, "pca", "spin")


def test_reconstruction_grid_is_the_originals_and_each_models_row(comparison):
    rows = report.reconstruction_grid(comparison, 5)
    assert [r["label"].split(" ")[0] for r in rows] == ["original", "vae_fashion.pt", "dcgan_fashion.pt"]
    np.testing.assert_array_equal(rows[0]["images"], comparison.dataset.images[comparison.indices[:5]])
    rep = comparison.runs[1].reports[0]
    np.testing.assert_array_equal(rows[2]["images"], rep.reconstructions[:5])
    np.testing.assert_array_equal(rows[2]["psnr"], rep.psnr[:5])
    assert "inverted codes" in rows[2]["label"] and "float32" in rows[2]["label"]
