"""One compression ratio everywhere: the original image's bits over the code's, whatever the model's input size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.core.reconstruction.codecs import codec_curve
from explorer.core.reconstruction.jobs import measure_rate_distortion, reconstruction_records
from explorer.data import Dataset

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_rate_distortion_uses_the_original_images_bits_like_evaluate():
    from models.vae import VAE

    rng = np.random.default_rng(0)
    originals = rng.random((12, 1, 8, 8), dtype=np.float32)  # the dataset: 8×8
    ds = Dataset(images=originals, name="small")
    torch.manual_seed(0)
    model = VAE(2, (1, 16, 16), hidden=8, channels=[4, 4]).eval()  # the model: 16×16
    rows = measure_rate_distortion(model, ds, 12, ["float32", "8bit"], seed=0)
    latent = {r["setting"]: r for r in rows if r["method"].startswith("latent")}
    # DESIGN.md §3: H·W·C·8 of the original 8×8 image over d · bits per component
    assert latent["float32"]["ratio"] == pytest.approx(8 * 8 * 8 / (2 * 32))
    assert latent["8bit"]["ratio"] == pytest.approx(8 * 8 * 8 / (2 * 8))
    assert latent["float32"]["bpp"] == pytest.approx(2 * 32 / (8 * 8))
    first, every = reconstruction_records(model, ds, ["float32", "8bit"], n_images=12, seed=0)
    assert [r["compression_ratio"] for r in every] == pytest.approx([latent["float32"]["ratio"],
                                                                     latent["8bit"]["ratio"]])
    # JPEG compresses the originals (not the resized 16×16 images) and is scored against them
    jpeg = [r for r in rows if r["method"] == "jpeg"]
    direct = codec_curve(originals, "jpeg", [r_q for r_q in (int(r["setting"].split()[1]) for r in jpeg)])
    assert [r["ratio"] for r in jpeg] == pytest.approx([p.compression_ratio for p in direct])
    assert [r["psnr"] for r in jpeg] == pytest.approx([p.psnr_db for p in direct])
