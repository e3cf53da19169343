"""Qt test set-up: headless platform and small helpers for the GUI tests."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6 import QtCore  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from tests.gui.windows import CLASSES, bar_images, save_vae  # noqa: E402


class PaintCounter(QtCore.QObject):
    """Event filter counting the paint events of the widgets it watches."""

    count = 0

    def eventFilter(self, obj, event):  # noqa: N802 - Qt override
        if event.type() == QtCore.QEvent.Type.Paint:
            self.count += 1
        return False


def show_embedding_view(qtbot, size=(800, 600), **kwargs):
    """Create and show an EmbeddingView; returns once its viewport can paint."""
    from explorer.gui.embedding_view import EmbeddingView

    view = EmbeddingView(**kwargs)
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    qtbot.waitExposed(view)
    # The child viewport starts painting a little after the window is exposed;
    # until then repaint() paints nothing. Wait for its first paint event.
    viewport = view.plot_widget.viewport()
    seen = PaintCounter()
    viewport.installEventFilter(seen)
    viewport.update()
    qtbot.waitUntil(lambda: seen.count > 0, timeout=5000)
    viewport.removeEventFilter(seen)
    return view


@pytest.fixture
def embedding_view(qtbot):
    """An EmbeddingView, 800 x 600, shown (offscreen), raster rebuilt synchronously."""
    view = show_embedding_view(qtbot, threaded=False)
    yield view
    view.close()


@pytest.fixture(scope="session", autouse=True)
def _garbage_collection_on_gui_thread(qapp):
    """As in the app: no cyclic GC in job threads (it can destroy Qt objects there and deadlock)."""
    from explorer.gui.app import collect_garbage_on_gui_thread

    collect_garbage_on_gui_thread()
    yield


# ---------------------------------------------------------------------------- window fixtures


@pytest.fixture
def data_file(tmp_path):
    images, labels = bar_images()
    path = tmp_path / "bars.npz"
    np.savez(path, images=images, labels=labels, class_names=np.array(CLASSES))
    return path


@pytest.fixture
def vae_file(tmp_path):
    return save_vae(tmp_path / "tiny_vae.pt")


@pytest.fixture
def no_dialogs(monkeypatch):
    """Record QMessageBox.warning calls instead of blocking on a dialog."""
    shown = []

    def fake(parent, title, text, *args, **kwargs):
        shown.append(text)
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "warning", fake)
    return shown


@pytest.fixture
def make_window(qtbot, tmp_path, no_dialogs):
    """Build main windows with their own settings file and caches; closes them after the test."""
    windows = []

    def make(settings_name="settings.ini", **kwargs):
        from explorer.core.embedding import CodesCache
        from explorer.core.projection.cache import ProjectionCache
        from explorer.gui.main_window import MainWindow

        settings = QSettings(str(tmp_path / settings_name), QSettings.Format.IniFormat)
        kwargs.setdefault("projection_cache", ProjectionCache(tmp_path / "projections"))
        kwargs.setdefault("codes_cache", CodesCache(tmp_path / "codes"))
        window = MainWindow(settings=settings, warm_up_umap=False, **kwargs)
        qtbot.addWidget(window)
        window.resize(1200, 800)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()
