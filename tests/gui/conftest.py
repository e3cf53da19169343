"""Qt test set-up: headless platform and small helpers for the GUI tests."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

import pytest  # noqa: E402
from PySide6 import QtCore  # noqa: E402


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
