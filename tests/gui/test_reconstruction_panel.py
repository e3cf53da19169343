"""Reconstructions panel and rate–distortion view: they show the numbers of the core reports."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import QSettings
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from explorer.core.reconstruction.jobs import measure_rate_distortion
from explorer.core.reconstruction.reconstruct import mean_ci
from explorer.data import Dataset, subsample_indices
from explorer.gui.rate_distortion_view import RateDistortionView, nice_ticks, reach_note
from explorer.gui.reconstruction_panel import ReconstructionPanel, format_db, format_ssim
from models.dcgan import DCGAN
from models.vae import VAE

REF_SSIM = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:28, 0:28] / 27.0
    imgs = np.stack([np.clip(0.5 + 0.4 * np.sin(3 * xx + i) * np.cos(2 * yy - 0.3 * i)
                             + rng.normal(scale=0.05, size=xx.shape), 0, 1) for i in range(40)])
    return Dataset(images=imgs[:, None].astype(np.float32), labels=np.arange(40) % 4, name="waves")


@pytest.fixture(scope="module")
def vae():
    torch.manual_seed(0)
    return VAE(6, (1, 28, 28), hidden=32).eval()


@pytest.fixture(scope="module")
def gan():
    torch.manual_seed(0)
    return DCGAN(4, (1, 28, 28), g_width=8, d_width=8).eval()


def _cell(panel, r, c):
    return panel.table.item(r, c).text()


def test_panel_shows_the_numbers_of_the_core_report(qtbot, vae, data):
    panel = ReconstructionPanel()
    qtbot.addWidget(panel)
    panel.set_context(vae, data, "tiny.pt")
    panel.n_spin.setValue(5)
    panel.set_precision("8bit")
    panel.show_images()
    res = panel.result
    rep = res.report
    assert np.array_equal(res.indices, subsample_indices(len(data), 5, 0))
    assert panel.table.rowCount() == 5 and rep.precision == "8bit"
    x = data.images[res.indices]
    for r in range(5):
        assert _cell(panel, r, 0) == str(res.indices[r])
        # the table shows the report, and the report equals scikit-image on the same images
        assert _cell(panel, r, 4) == format_db(rep.psnr[r])
        assert _cell(panel, r, 5) == format_ssim(rep.ssim[r])
        assert rep.psnr[r] == pytest.approx(
            peak_signal_noise_ratio(x[r, 0].astype(np.float64), rep.reconstructions[r, 0].astype(np.float64),
                                    data_range=1.0), rel=1e-6)
        assert rep.ssim[r] == pytest.approx(structural_similarity(
            x[r, 0].astype(np.float64), rep.reconstructions[r, 0].astype(np.float64), **REF_SSIM), abs=1e-12)
        assert _cell(panel, r, 6) == format_db(rep.jpeg.psnr[r])
        assert not panel.table.item(r, 1).icon().isNull() and not panel.table.item(r, 2).icon().isNull()
    text = panel.summary.text()
    assert f"ratio {rep.compression_ratio:.3g}×" in text and "codes: encoder" in text
    assert f"PSNR {format_db(rep.psnr_db)} dB [{format_db(rep.psnr_ci[0])}, {format_db(rep.psnr_ci[1])}]" in text
    assert rep.compression_ratio == pytest.approx(28 * 28 * 8 / (6 * 8))
    assert "recon. (encoder)" in panel.table.horizontalHeaderItem(2).text()


def test_selection_worst_and_dataset_means(qtbot, vae, data):
    panel = ReconstructionPanel()
    qtbot.addWidget(panel)
    panel.set_context(vae, data, "tiny.pt")
    panel.set_source("selection")
    panel.show_images()
    assert panel.result is None and "No points are selected" in panel.summary.text()
    panel.set_selection([3, 7, 11])
    panel.show_images()
    assert list(panel.result.indices) == [3, 7, 11]
    panel.set_source("worst")
    panel.n_spin.setValue(3)
    panel.dataset_n_spin.setValue(40)
    panel.show_images()
    worst = panel.result.report.psnr
    panel.dataset_combo.setCurrentIndex(1)  # whole dataset
    panel.measure_dataset()
    full = panel.dataset_result.report
    assert full.n_images == 40
    assert np.allclose(np.sort(full.psnr)[:3], worst)  # the worst three of the whole set
    m, lo, hi = mean_ci(full.psnr)
    assert full.psnr_ci == pytest.approx((lo, hi))
    assert f"PSNR {format_db(m)} dB [{format_db(lo)}, {format_db(hi)}]" in panel.dataset_summary.text()
    assert "the whole dataset (40 images)" in panel.dataset_summary.text()


def test_gan_codes_are_labelled_inverted(qtbot, gan, data):
    panel = ReconstructionPanel()
    qtbot.addWidget(panel)
    panel.set_context(gan, data, "gan.pt")
    assert "GAN inversion" in panel.summary.text() and panel.dataset_n_spin.value() == 100
    panel.n_spin.setValue(2)
    panel.steps_spin.setValue(3)
    panel.restarts_spin.setValue(1)
    panel.show_images()
    rep = panel.result.report
    assert rep.codes_source.value == "inverted" and rep.inversion_settings.steps == 3
    assert "inverted" in panel.table.horizontalHeaderItem(2).text()
    assert "codes: inverted (GAN inversion, 3 Adam steps × 1 restart, λ = 0.001)" in panel.summary.text()
    panel.set_source("selection")  # points of a GAN are prior samples, not dataset images
    panel.show_images()
    assert "No dataset images are selected" in panel.summary.text() and "inverted z" in panel.summary.text()


def test_gan_images_are_inverted_once_across_panel_jobs(qtbot, gan, data, inversions):
    asked = inversions
    panel = ReconstructionPanel()
    qtbot.addWidget(panel)
    panel.set_context(gan, data, "gan.pt")
    panel.n_spin.setValue(4)
    panel.steps_spin.setValue(3)
    panel.restarts_spin.setValue(1)
    panel.show_images()
    first = panel.result.report
    panel.set_precision("8bit")  # another precision of the same images: nothing is inverted again
    panel.show_images()
    assert asked == [4]
    np.testing.assert_allclose(panel.result.report.psnr,
                               [peak_signal_noise_ratio(x, r, data_range=1.0) for x, r in
                                zip(data.images[panel.result.indices], panel.result.report.reconstructions,
                                    strict=True)])
    panel.dataset_n_spin.setValue(10)  # a sample of 10 that contains some of the 4: only the rest is inverted
    panel.measure_dataset()
    idx10 = subsample_indices(40, 10, 0)
    assert asked == [4, len(np.setdiff1d(idx10, panel.result.indices))]
    # another setting: other codes (steps, not restarts: with "bank-halving" a second restart starts from the
    # second-best bank code and may lose, leaving the same code — the store is keyed apart all the same)
    panel.steps_spin.setValue(6)
    panel.set_precision("float32")
    panel.show_images()
    assert asked[-1] == 4
    assert not np.array_equal(panel.result.report.codes, first.codes)


def test_rate_distortion_view_plots_core_rows(qtbot, vae, data):
    rows = measure_rate_distortion(vae, data, 12, ("float32", "8bit", "2bit"))
    view = RateDistortionView()
    qtbot.addWidget(view)
    view.set_rows(rows, "tiny")
    latent = [r for r in rows if r["method"].startswith("latent")]
    assert [r["ratio"] for r in latent] == pytest.approx([28 * 28 * 8 / (6 * b) for b in (32, 8, 2)])
    curves = view.psnr_plot.getPlotItem().listDataItems()
    assert len(curves) == len({r["method"] for r in rows})
    lat = [c for c in curves if c.name() and c.name().startswith("latent")][0]
    xs, ys = lat.getData()
    assert np.allclose(10 ** np.asarray(xs), sorted(r["ratio"] for r in latent))  # log x axis
    assert "nothing is extrapolated" in view.note.text()
    assert reach_note(rows) in view.note.text()
    view.set_x_key("bpp")
    assert "bits per pixel" in view.psnr_plot.getPlotItem().getAxis("bottom").labelText
    assert [t[1] for t in nice_ticks(1.0, 100.0)][:4] == ["1", "2", "5", "10"]


def test_window_has_the_dock_and_runs_jobs(qtbot, tmp_path, vae, data, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from explorer.core.embedding import CodesCache
    from explorer.core.projection import ProjectionCache
    from explorer.gui.main_window import MainWindow

    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.StandardButton.Ok)
    window = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
                        warm_up_umap=False, projection_cache=ProjectionCache(tmp_path / "p"),
                        codes_cache=CodesCache(tmp_path / "c"))
    qtbot.addWidget(window)
    window.show()
    assert window.reconstruction_dock.windowTitle() == "Reconstructions"
    panel = window.reconstruction_panel
    assert panel.runner is window.runner
    panel.set_context(vae, data, "tiny.pt")
    panel.n_spin.setValue(4)
    panel.show_images()  # a job on the window's runner
    qtbot.waitUntil(lambda: panel.result is not None, timeout=20_000)
    assert panel.table.rowCount() == 4
    window.close()


def test_encoder_against_inversion_comparison(qtbot, vae, data):
    panel = ReconstructionPanel()
    qtbot.addWidget(panel)
    panel.set_context(vae, data, "tiny.pt")
    panel.n_spin.setValue(3)
    panel.steps_spin.setValue(2)
    panel.restarts_spin.setValue(1)
    panel.compare_inversion()
    d = panel.comparison.to_dict()
    assert d["n_images"] == 3 and d["inversion"]["steps"] == 2
    text = panel.dataset_summary.text()
    assert f"encoder codes PSNR {format_db(d['encoder']['psnr_db'])} dB" in text
    assert f"inverted codes (2 steps, 1 restarts) PSNR {format_db(d['inverted']['psnr_db'])} dB" in text


def test_encoder_against_inversion_is_offered_only_for_a_decode_with_gradients(qtbot, vae, data, tmp_path):
    from explorer.core.reconstruction.inversion import decode_gives_gradient
    from models.adapter import load_adapter

    adapter = tmp_path / "numpy_decode.py"
    adapter.write_text(
        "import numpy as np, torch\n"
        "class M:\n"
        "    kind = 'vae'\n"
        "    latent_dim = 2\n"
        "    image_shape = (1, 28, 28)\n"
        "    def encode(self, x):\n"
        "        return torch.zeros(len(x), 2)\n"
        "    def decode(self, z):\n"
        "        z = z.detach().numpy()  # through numpy: no gradient reaches z\n"
        "        return torch.from_numpy(np.full((len(z), 1, 28, 28), 0.5, np.float32))\n"
        "def load_model():\n"
        "    return M()\n")
    no_grad = load_adapter(adapter)
    flags = [p.requires_grad for p in vae.parameters()]
    assert decode_gives_gradient(vae) and not decode_gives_gradient(no_grad)
    assert [p.requires_grad for p in vae.parameters()] == flags  # the check leaves the weights as they were
    assert all(p.grad is None for p in vae.parameters())
    panel = ReconstructionPanel()
    qtbot.addWidget(panel)
    panel.set_context(vae, data, "tiny.pt")
    assert panel.compare_button.isEnabled()
    panel.set_context(no_grad, data, "numpy_decode.py")
    assert not panel.compare_button.isEnabled() and "gives no gradient" in panel.compare_button.toolTip()
