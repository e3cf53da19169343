"""The window's dataset resize filter: chosen in the File menu, the dataset is fitted with it and it is saved."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from explorer.core.codes import encode_images  # noqa: E402
from explorer.data import fit_to_model  # noqa: E402
from models.checkpoint import save_checkpoint  # noqa: E402
from models.vae import VAE  # noqa: E402


def test_resize_filter_menu_reopens_the_dataset_with_that_filter(make_window, qtbot, tmp_path, data_file):
    torch.manual_seed(0)
    model = VAE(2, (1, 32, 32), hidden=8, channels=[4, 4, 4]).eval()  # the data are 28×28: resized
    ckpt = save_checkpoint(tmp_path / "big.pt", model, dataset="bars", seed=0)
    window = make_window()
    window.open_dataset(str(data_file))
    window.open_models([ckpt])
    qtbot.waitUntil(lambda: window.shown_embedding is not None and not window.runner.running_kinds(), timeout=30_000)
    assert window.session.dataset.resize == "bilinear" and window.files.resize_actions["bilinear"].isChecked()
    # the sliders' KL per dimension is of the images as the model sees them (resized), not refused for their size
    qtbot.waitUntil(lambda: window.slider_panel.scores is not None and window.slider_panel.scores.kind == "kl",
                    timeout=30_000)
    window.files.resize_actions["nearest"].trigger()
    qtbot.waitUntil(lambda: window.session.dataset is not None and window.session.dataset.resize == "nearest"
                    and window.shown_embedding is not None and not window.runner.running_kinds(), timeout=30_000)
    assert window.files.resize_actions["nearest"].isChecked()
    expected = encode_images(model, fit_to_model(window.session.dataset, (1, 32, 32), resize="nearest").images)
    np.testing.assert_allclose(window.session.models[0].codes.z, expected, atol=1e-6)
    saved = window.save_session(tmp_path / "s.lxs")
    assert '"resize": "nearest"' in saved.read_text()
