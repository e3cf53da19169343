"""The main window: chrome (docks, menus, dialogs, settings) around a Qt-free Session that every view observes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMessageBox, QStackedWidget, QWidget

from explorer.core.session import Session
from explorer.gui.bindings import ClusteringBinding, ModelListBinding, ProjectionBinding, ReconstructionBinding
from explorer.gui.clustering_panel import ClusteringPanel
from explorer.gui.compare_view import CompareMode, CompareView
from explorer.gui.dialogs import export_folder, set_export_folder
from explorer.gui.embedding_presenter import EmbeddingPresenter
from explorer.gui.embedding_view import EmbeddingView
from explorer.gui.hover_preview import HoverPreview
from explorer.gui.image_grid import ImageGridPanel
from explorer.gui.job_status import JobStatusWidget
from explorer.gui.jobs import JobRunner
from explorer.gui.model_panel import ModelPanel
from explorer.gui.projection_panel import ProjectionPanel
from explorer.gui.session_runner import SessionRunner
from explorer.gui.window_files import DATASET_SUFFIXES, MODEL_FILTER, WindowFiles
from explorer.logs import log
from explorer.paths import DEMO_CHECKPOINT  # re-exported: the bundled demo (relative to resources/)

__all__ = ["MainWindow", "settings_path", "open_settings", "DEMO_CHECKPOINT", "demo_checkpoint",
           "MODEL_FILTER", "DATASET_SUFFIXES"]


#: Milliseconds after the first embedding before the UMAP worker starts compiling numba.
WARM_UP_DELAY_MS = 1500


def demo_checkpoint() -> Path:
    """Path of the bundled demo VAE (it may not exist)."""
    import resources

    return resources.path(*DEMO_CHECKPOINT)


def settings_path() -> Path:
    """The ini file holding the window's layout and choices: ``explorer.paths.config_dir() / "latent-explorer.ini"``."""
    from explorer.paths import config_dir

    return config_dir() / "latent-explorer.ini"


def open_settings() -> QSettings:
    """A QSettings on :func:`settings_path` (ini format; never the platform registry)."""
    return QSettings(str(settings_path()), QSettings.Format.IniFormat)


class MainWindow(QMainWindow):
    """Latent Explorer's main window: docks and menus around one :class:`~explorer.core.session.Session`.

    The session owns everything shown (dataset, models, codes, projections, clusterings,
    colouring, selection, slider codes, keypoints, panel settings). Panels and the
    embedding view subscribe to its events; user actions call its methods; its long work
    (:class:`~explorer.core.session.Task`) runs on a :class:`SessionRunner`. UMAP and t-SNE
    run in projection worker processes so they can be cancelled.

    Parameters
    ----------
    settings : QSettings, optional
        Where layout and choices persist; default :func:`open_settings`.
    warm_up_umap : bool
        Compile UMAP's numba code in the background after the first embedding (tests: off).
    projection_cache : ProjectionCache, optional
    codes_cache : explorer.core.embedding.CodesCache, optional
        Default: the user's cache folder.
    seed : int
        Seed of the prior samples of GANs without encoder (and of subsamples).
    session : Session, optional
        Show this session (default: a new, empty one).
    ask_to_save : bool
        Ask before closing (or opening another session over) unsaved changes (the app: True).
    parent : QWidget, optional

    Signals
    -------
    embedding_shown(object)
        An ``EmbeddingResult`` was just put on the view.
    models_changed()
        A model was opened or closed, the active model changed, or its codes changed.
    error_shown(str)
        A one-sentence error was shown to the user in a dialog.
    """

    embedding_shown = Signal(object)
    models_changed = Signal()
    error_shown = Signal(str)

    def __init__(self, settings: QSettings | None = None, *, warm_up_umap: bool = True, projection_cache=None,
                 codes_cache=None, seed: int = 0, session: Session | None = None, ask_to_save: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Latent Explorer")
        self.setObjectName("MainWindow")
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowNestedDocks
                            | QMainWindow.DockOption.AllowTabbedDocks)
        self.settings = settings if settings is not None else open_settings()
        self.session = session if session is not None else Session(
            codes_cache=codes_cache, projection_cache=projection_cache, use_workers=True)
        self.seed = int(seed)
        self.ask_to_save = bool(ask_to_save)
        self._warm_up_umap = bool(warm_up_umap)
        self._warm_up_started = False
        self._closing = False
        self._shut_down = False
        self._layout_restored = False
        self._laid_out = False
        self._projection_preloaded = False
        self._reading: set[str] = set()  # model files submitted but not yet in the session

        # ---- jobs
        self.runner = JobRunner(self)
        self.session_runner = SessionRunner(self.session, self.runner, self)
        self.job_status = JobStatusWidget(self.runner, self.statusBar(), self)
        self.statusBar().addPermanentWidget(self.job_status)
        self.job_status.error_reported.connect(lambda _label, message: self._show_error(message))

        # ---- central view and docks
        self.view = EmbeddingView(self)
        self.view.setMinimumSize(360, 300)
        self.compare_view = CompareView(self)
        self.central = QStackedWidget(self)
        self.central.addWidget(self.view)
        self.central.addWidget(self.compare_view)
        self.setCentralWidget(self.central)
        self.model_panel = ModelPanel(self)
        self.hover_preview = HoverPreview(parent=self)
        self.projection_panel = ProjectionPanel(self)
        self.clustering_panel = ClusteringPanel(self)
        self.image_grid = ImageGridPanel(parent=self)
        left, right, bottom = (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea,
                               Qt.DockWidgetArea.BottomDockWidgetArea)
        self.model_dock = self._dock("Models and dataset", "ModelDock", self.model_panel, left)
        self.hover_dock = self._dock("Image under cursor", "HoverDock", self.hover_preview, right)
        self.projection_dock = self._dock("Projection and colours", "ProjectionDock", self.projection_panel, right)
        self.clustering_dock = self._dock("Clustering", "ClusteringDock", self.clustering_panel, right)
        self.selection_dock = self._dock("Selection", "SelectionDock", self.image_grid, bottom)
        self.setCorner(Qt.Corner.BottomLeftCorner, left)
        self.setCorner(Qt.Corner.BottomRightCorner, right)
        self._default_dock_sizes()

        # ---- views observe the session
        s = self.session
        self.presenter = EmbeddingPresenter(s, self.view, self.hover_preview, self.image_grid, parent=self)
        self.presenter.embedding_shown.connect(self._on_embedding_shown)
        self.compare_mode = CompareMode(s, self.central, self.view, self.compare_view, self.session_runner,
                                        self.hover_preview, self)
        self.compare_action, self.compare_presenter = self.compare_mode.action, self.compare_mode.presenter
        self.model_list = ModelListBinding(s, self.model_panel)
        self.projection_binding = ProjectionBinding(s, self.projection_panel, self.session_runner, self._show_error,
                                                    self._inversion_text)
        self.clustering_binding = ClusteringBinding(s, self.clustering_panel, self.session_runner, self._show_error)
        for signal in (s.models_changed, s.codes_changed, s.active_changed):
            signal.connect(lambda *_a: self.models_changed.emit())
        s.models_changed.connect(self._update_title)
        s.active_changed.connect(lambda _k: self._update_title())
        s.dirty_changed.connect(lambda _d: self._update_title())
        s.busy_changed.connect(self._on_busy_changed)
        s.error_reported.connect(self._show_error)
        self.model_panel.open_model_requested.connect(lambda: self.files.open_model_dialog())
        self.model_panel.close_model_requested.connect(self.close_model)
        self.model_panel.open_dataset_requested.connect(lambda: self.files.open_dataset_dialog())
        self.image_grid.item_activated.connect(self.presenter.mark_grid_item)
        self.image_grid.grid_exported.connect(lambda p: self.statusBar().showMessage(f"Wrote {p}", 8000))
        self.view.selection_changed.connect(lambda _i: self._raise_selection_dock())
        self.files = WindowFiles(self)
        self._build_latent_docks()
        self._build_actions()
        self._build_reconstruction_dock()
        from explorer.gui import device_menu  # Settings ▸ Compute device

        self.device_choice = device_menu.DeviceChoice(self.session, self.settings, device_menu.settings_menu(
            self.menuBar()), self.statusBar(), self._show_error, self)
        self._restore_settings()
        self.model_list.refresh()
        self.presenter.update_message()
        self._update_title()
        self.statusBar().showMessage("Ready", 3000)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(1500, 940)

    # ================================================================== construction

    def _default_dock_sizes(self) -> None:
        """Dock sizes for the window's size: a wide embedding, controls that do not clip."""
        w, h = max(self.width(), 800), max(self.height(), 600)
        left = int(min(max(0.16 * w, 220), 280))
        right = int(min(max(0.27 * w, 380), 460))
        self.resizeDocks([self.model_dock, self.hover_dock], [left, right], Qt.Orientation.Horizontal)
        self.resizeDocks([self.hover_dock, self.projection_dock, self.clustering_dock],
                         [215, 250, max(h - 465, 200)], Qt.Orientation.Vertical)
        self.resizeDocks([self.selection_dock], [int(min(max(0.21 * h, 150), 240))], Qt.Orientation.Vertical)

    def _build_latent_docks(self) -> None:
        """Latent sliders, traversal grid and interpolation player, tabbed with the Selection dock."""
        from explorer.gui.interpolation_panel import InterpolationPanel
        from explorer.gui.latent_controller import LatentController
        from explorer.gui.slider_panel import SliderPanel
        from explorer.gui.traversal_view import TraversalView

        self.slider_panel = SliderPanel(self)
        self.traversal_view = TraversalView(self)
        self.interpolation_panel = InterpolationPanel(self)
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.slider_dock = self._dock("Latent sliders", "SliderDock", self.slider_panel, bottom)
        self.traversal_dock = self._dock("Traversal grid", "TraversalDock", self.traversal_view, bottom)
        self.interpolation_dock = self._dock("Interpolation", "InterpolationDock", self.interpolation_panel, bottom)
        for dock in (self.slider_dock, self.traversal_dock, self.interpolation_dock):
            self.tabifyDockWidget(self.selection_dock, dock)
        self.selection_dock.raise_()
        self.latent_controller = LatentController(self.session, self.session_runner, self.presenter,
                                                  self.slider_panel, self.traversal_view, self.interpolation_panel,
                                                  self, self.traversal_dock)

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def _build_actions(self) -> None:
        from explorer.gui.window_menus import build_menus

        build_menus(self)

    # ================================================================== public API

    @property
    def dataset(self):
        """The open :class:`~explorer.data.Dataset`, or None."""
        return self.session.dataset

    @property
    def active_entry(self):
        """The active model's :class:`~explorer.core.workspace.ModelEntry`, or None (none, or still loading)."""
        m = self.session.active
        return m.entry if m is not None else None

    @property
    def shown_embedding(self):
        """The embedding on the view, or None."""
        return self.presenter.shown_embedding

    @property
    def shown_codes(self):
        """The :class:`~explorer.core.workspace.LatentCodes` behind the points on the view, or None."""
        return self.presenter.shown_codes

    @property
    def inverted_stores(self):
        """GAN-inverted codes shared by the embedding and the Reconstructions panel."""
        return self.session.inverted_stores

    @inverted_stores.setter
    def inverted_stores(self, stores) -> None:
        self.session.inverted_stores = stores
        self.reconstruction_binding.update_context()

    @property
    def projection_cache(self):
        """Where embeddings are cached on disk."""
        return self.session.projection_cache

    @property
    def codes_cache(self):
        """Where encoder codes are cached on disk."""
        return self.session.codes_cache

    def projection_worker(self, method: str):
        """The worker process running ``method`` ("umap" or "tsne"; each has its own, started lazily)."""
        return self.session.projection_worker(method)

    def projection_workers(self) -> dict:
        """The projection workers created so far, by method."""
        return self.session.projection_workers()

    def set_empty_note(self, text: str) -> None:
        """Sentence shown in the plot and model list while no model is open (e.g. the demo is missing)."""
        self.presenter.empty_note = text
        self.model_panel.set_empty_text(text)
        self.presenter.update_message()

    def open_dataset(self, spec, split: str | None = None, limit: int | None = None, seed: int | None = None,
                     resize: str | None = None) -> int:
        """Load a dataset (name or path) as a job; every open model is encoded again on it. Returns the request id.

        ``resize`` is the filter fitting its images to each model's input (default: the open dataset's,
        else bilinear as torchvision).
        """
        if self.dataset is None:
            self.model_panel.set_dataset(f"Loading {Path(str(spec)).name or spec}…")
        if resize is None and self.session.dataset_spec is not None:
            resize = self.session.dataset_spec.resize  # the user's choice stays with the next dataset
        task = self.session.open_dataset(spec, split, limit, self.seed if seed is None else int(seed), resize)
        return self.session_runner.submit(task)

    def open_models(self, paths: Iterable[str | Path]) -> None:
        """Open model files (in the order given; the first becomes active) as jobs; errors go to a dialog.

        With the dataset open, the caches are looked up first (no torch needed): a model shown
        before on this dataset is painted from its cached codes and embedding while it loads.
        """
        added = self.session.add_models(paths)
        for m in added:
            self.session_runner.submit_all(self.session.open_model_tasks(m))
            self.files.add_recent(m.path)
        self.presenter.update_message()

    def open_session(self, path: str | Path) -> bool:
        """Open a session file (see ``docs/session-format.md``); False (and one sentence) when it cannot be read."""
        return self.files.open_session(path)

    def save_session(self, path: str | Path | None = None, with_results: bool | None = None) -> Path | None:
        """Save the session (to its own file when ``path`` is None; with its results file when it had one, unless
        ``with_results`` says); returns the file written, or None."""
        return self.files.save_session(path, with_results)

    def _preload_projection(self) -> None:
        """Import scikit-learn (for PCA, ~0.9 s) in a job thread while torch loads in another."""
        if not self._projection_preloaded:
            self._projection_preloaded = True
            from explorer.core.heavy import load_sklearn

            self.session_runner.submit_job("preload", lambda ctx: load_sklearn(), label="Loading scikit-learn")

    def set_active(self, index: int) -> None:
        """Make the model at ``index`` of the model list active."""
        if 0 <= index < len(self.session.models):
            self.session.set_active(self.session.models[index].key)
            self.session_runner.follow_up()

    def close_model(self, index: int) -> None:
        """Close the model at ``index`` (its running jobs are cancelled)."""
        if not 0 <= index < len(self.session.models):
            return
        m = self.session.models[index]
        for task in list(m.busy.values()):
            self.runner.cancel(task.kind)
        self.session.remove_model(m.key)
        self.session_runner.follow_up()

    def request_gan_points(self, source: str, n: int = 0) -> int | None:
        """Show the active GAN's prior samples, or ``n`` dataset images at their GAN-inverted codes.

        Returns the request id of the inversion job (None when nothing needs to run).
        """
        m = self.session.active
        if m is None:
            return None
        request = self.session_runner.submit(self.session.set_gan_points(m.key, source, n))
        self.session_runner.follow_up()
        return request

    def request_projection(self, spec) -> int | None:
        """Show ``spec``'s embedding of the active model: from the cache at once (None), else a job."""
        return self.projection_binding.request(spec)

    def run_kmeans(self, space: str, k: int, seed: int) -> int | None:
        """k-means on the active model's latent codes or on the shown embedding, as a job."""
        return self.clustering_binding.run_kmeans(space, k, seed)

    def run_k_sweep(self, space: str, ks: Sequence[int], seed: int) -> int | None:
        """k-means for each k in ``ks`` on the chosen space, as a job."""
        return self.clustering_binding.run_k_sweep(space, ks, seed)

    def set_selection_mode(self, mode: str) -> None:
        """What a left drag does on the plot: "click" (pan), "rect" or "lasso"."""
        self.view.set_selection_mode(mode)
        for action in self.selection_actions.actions():
            action.setChecked(action.data() == mode)

    def set_colouring(self, mode: str, dim: int | None = None) -> None:
        """Colour points by "label", "cluster", "dimension" (latent dimension ``dim``), "none" or
        "inversion_error" (inverted codes of a GAN)."""
        self.session.set_colour(mode, dim)

    def export_view(self, path: str | Path, scale: float = 1.0, width_mm: float | None = None,
                    dpi: float | None = None) -> str:
        """Write the session's embedding as a figure (PNG, SVG or PDF) — what ``render embedding`` writes."""
        from explorer.gui.figure import render_figure

        return str(render_figure(self.session, path, scale=scale, width_mm=width_mm, dpi=dpi))

    def clustering_result(self):
        """The clustering of the active model, or None."""
        m = self.session.active
        return m.clustering if m is not None else None

    # ================================================================== reacting to the session

    def _on_embedding_shown(self, result) -> None:
        self.embedding_shown.emit(result)
        if self._warm_up_umap and not self._warm_up_started:
            QTimer.singleShot(WARM_UP_DELAY_MS, self._start_umap_warm_up)

    def _on_busy_changed(self, key: str, family: str, busy: bool) -> None:
        if family == "open" and busy:  # after the cache look-up: it must not compete with the dataset and paint
            self._preload_projection()
        if family == "open" and not busy:
            m = self.session.state(key)
            if m is not None and m.entry is not None:
                self.statusBar().showMessage(f"Opened {m.name}: {m.entry.summary}, on {m.entry.device}", 5000)
        if key == self.session.active_key:
            self.presenter.update_message()

    def _update_title(self) -> None:
        m = self.session.active
        name = m.name if m is not None else ""
        file = f" [{self.session.path.name}{'*' if self.session.dirty else ''}]" if self.session.path else ""
        self.setWindowTitle(f"{name}{file} — Latent Explorer" if name or file else "Latent Explorer")
        self.files.close_model_action.setEnabled(bool(self.session.models))

    def _raise_selection_dock(self) -> None:
        if len(self.view.selection) and not self.selection_dock.isVisible():
            self.selection_dock.show()

    def _inversion_text(self) -> str:
        from explorer.core.reconstruction.inverted import inversion_summary

        return inversion_summary(self.session.inversion_settings())

    def _show_error(self, message: str) -> None:
        """One sentence in a dialog (the traceback is already in the log file)."""
        log.info("shown to the user: %s", message)
        self.error_shown.emit(message)
        if not self._closing:
            QMessageBox.warning(self, "Latent Explorer", message)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if not self._layout_restored and not self._laid_out:  # first run: fit the docks to the window
            self._laid_out = True
            QTimer.singleShot(0, self._default_dock_sizes)
        if self._warm_up_umap and not self._warm_up_started:  # also when no embedding ever comes
            QTimer.singleShot(10 * WARM_UP_DELAY_MS, self._start_umap_warm_up)

    def _start_umap_warm_up(self) -> None:
        if self._closing or not self._warm_up_umap or self._warm_up_started:
            return
        self._warm_up_started = True
        try:
            self.projection_worker("umap").warm_up(wait=False)
        except Exception:  # noqa: BLE001 - a failed warm-up only makes the first UMAP slower
            log.exception("starting the UMAP warm-up failed")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        self.files.open_dropped([Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()])
        event.acceptProposedAction()

    # ================================================================== reconstructions

    def _build_reconstruction_dock(self) -> None:
        """Reconstructions panel (originals / reconstructions / JPEG, rate–distortion), tabbed with Selection."""
        from PySide6.QtWidgets import QFrame, QScrollArea

        from explorer.gui.reconstruction_panel import ReconstructionPanel

        self.reconstruction_panel = ReconstructionPanel(self.runner, self)
        scroll = QScrollArea()  # the panel scrolls in a short dock instead of growing the window
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.reconstruction_panel)
        self.reconstruction_dock = self._dock("Reconstructions", "ReconstructionDock", scroll,
                                              Qt.DockWidgetArea.BottomDockWidgetArea)
        self._panels_menu.addAction(self.reconstruction_dock.toggleViewAction())
        # Tabified once the window runs: tabifying in the constructor leaves a stray tab bar (Qt).
        QTimer.singleShot(0, self._tabify_reconstruction_dock)
        self.reconstruction_binding = ReconstructionBinding(self.session, self.reconstruction_panel,
                                                            self.projection_binding.update_gan_box)

    def _tabify_reconstruction_dock(self) -> None:
        if not self._layout_restored and self.dockWidgetArea(self.reconstruction_dock) == \
                self.dockWidgetArea(self.selection_dock):
            self.tabifyDockWidget(self.selection_dock, self.reconstruction_dock)
            self.selection_dock.raise_()


    # ================================================================== settings and closing

    def _restore_settings(self) -> None:
        s = self.settings
        set_export_folder(s.value("paths/last_export_dir") or None)
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(self.sizeHint())
        state = s.value("window/state")
        self._layout_restored = bool(isinstance(state, QByteArray) and not state.isEmpty()
                                     and self.restoreState(state))
        try:
            panel_state = json.loads(str(s.value("projection/state", "{}")))
        except ValueError:
            panel_state = {}
        if isinstance(panel_state, dict):
            self.projection_panel.restore_state(panel_state)
        session = self.session
        session.set_projection(self.projection_panel.spec())
        mode = self.projection_panel.colour_mode()
        session.set_colour("label" if mode == "cluster" else mode, self.projection_panel.colour_dim())
        session.set_marker(*self.projection_panel.marker())
        mode = str(s.value("view/selection_mode", "click"))
        if mode in ("click", "rect", "lasso"):
            self.set_selection_mode(mode)
        try:
            self.clustering_panel.set_k(int(s.value("clustering/k", 10)))
            self.clustering_panel.set_seed(int(s.value("clustering/seed", 0)))
            self.clustering_panel.set_space(str(s.value("clustering/space", "latent")))
            lo, hi = json.loads(str(s.value("clustering/sweep", "[2, 20]")))
            self.clustering_panel.set_sweep_range(int(lo), int(hi))
        except (TypeError, ValueError):
            pass
        session.mark_dirty(False)  # the window's own preferences are not the user's unsaved work

    def save_settings(self) -> None:
        """Write layout and choices to :attr:`settings` (also done on close)."""
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("projection/state", json.dumps(self.projection_panel.state()))
        s.setValue("view/selection_mode", self.view.selection_mode)
        s.setValue("clustering/k", self.clustering_panel.k())
        s.setValue("clustering/seed", self.clustering_panel.seed())
        s.setValue("clustering/space", self.clustering_panel.space())
        rng = self.clustering_panel.sweep_range()
        s.setValue("clustering/sweep", json.dumps([rng[0], rng[-1]]))
        if export_folder():
            s.setValue("paths/last_export_dir", export_folder())
        s.sync()

    def shutdown(self, timeout_s: float = 5.0) -> bool:
        """Cancel every job, stop the projection workers and join every thread (True when all ended in time)."""
        self._closing = True
        self.session_runner.closing = True
        if self._shut_down:
            return True
        self._shut_down = True
        self.runner.cancel_all()
        self.session.close()
        ok = self.runner.shutdown(timeout_s=timeout_s)
        self.view.close()  # stops its raster thread
        return ok

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if not self._closing:
            if not self.files.confirm_discard():
                event.ignore()
                return
            t0 = time.perf_counter()
            try:
                self.save_settings()
            except Exception:  # noqa: BLE001 - never block closing on settings
                log.exception("saving the settings failed")
            self.shutdown()
            log.info("main window closed in %.2f s", time.perf_counter() - t0)
        super().closeEvent(event)

