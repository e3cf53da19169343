"""The main window: open models and a dataset, show their embedding, hover, select, cluster."""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QToolBar,
    QWidget,
)

from explorer.core import embedding as emb
from explorer.core.clustering import cluster, k_sweep
from explorer.core.inverted import InvertedCodesStores, inversion_summary, inverted_dataset_codes
from explorer.core.workspace import ModelEntry, Workspace, dataset_line, open_model
from explorer.gui.clustering_panel import ClusteringPanel
from explorer.gui.colors import categorical_palette, continuous_colors, label_colors, plain_ticks
from explorer.gui.embedding_view import EmbeddingView, export_view
from explorer.gui.hover_preview import HoverPreview
from explorer.gui.image_grid import ImageGridPanel
from explorer.gui.job_status import JobStatusWidget
from explorer.gui.jobs import JobRunner
from explorer.gui.model_panel import ModelPanel
from explorer.gui.projection_panel import ProjectionPanel
from explorer.logs import log

if TYPE_CHECKING:  # imported where used: explorer.core.projection loads scikit-learn (~1 s)
    from explorer.core.projection import ProjectionCache, ProjectionSpec, ProjectionWorker

__all__ = ["MainWindow", "settings_path", "open_settings", "DEMO_CHECKPOINT", "demo_checkpoint",
           "MODEL_FILTER", "DATASET_SUFFIXES"]

#: File-dialog filter of model files.
MODEL_FILTER = "Models (*.pt *.pth *.ckpt *.py *.ts *.jit);;All files (*)"
#: Dropped or chosen files with these endings are datasets, not models.
DATASET_SUFFIXES = (".npz", ".npy", ".gz", ".idx", "-ubyte")
#: The bundled demo checkpoint (relative to ``resources/``).
DEMO_CHECKPOINT = ("checkpoints", "vae_fashion.pt")

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


def _is_dataset_path(path: Path) -> bool:
    name = path.name.lower()
    return path.is_dir() or name.endswith(DATASET_SUFFIXES) or "ubyte" in name


def _model_key(entry: ModelEntry) -> str:
    return str(entry.path.resolve())


class _Target(NamedTuple):
    """What the embedding is about: a loaded model with codes, or a preview read from the caches."""

    key: str  # resolved path of the model file
    name: str
    file_hash: str
    codes: object  # LatentCodes


class MainWindow(QMainWindow):
    """Latent Explorer's main window: a thin view over a :class:`~explorer.core.workspace.Workspace`.

    Layout: the model list and dataset line on the left, the embedding in the centre,
    the hover preview, projection/colour controls and clustering on the right and the
    selected images below. Every long computation (loading, encoding, projections,
    k-means) is a core function run by a :class:`~explorer.gui.jobs.JobRunner`;
    UMAP and t-SNE run in :class:`~explorer.core.projection.ProjectionWorker`
    processes so they can be cancelled. Embeddings and encoder codes are cached on disk.

    Parameters
    ----------
    settings : QSettings, optional
        Where layout and choices persist; default :func:`open_settings`.
    warm_up_umap : bool
        Compile UMAP's numba code in the background shortly after the first embedding
        is shown (default True; tests turn it off).
    projection_cache : ProjectionCache, optional
        Default: the user's cache folder.
    codes_cache : explorer.core.embedding.CodesCache, optional
        Default: the user's cache folder.
    seed : int
        Seed of the prior samples of GANs without encoder.
    parent : QWidget, optional

    Signals
    -------
    embedding_shown(object)
        An :class:`~explorer.core.embedding.EmbeddingResult` was just put on the view.
    models_changed()
        A model was opened or closed, or the active model changed.
    error_shown(str)
        A one-sentence error was shown to the user in a dialog.
    """

    embedding_shown = Signal(object)
    models_changed = Signal()
    error_shown = Signal(str)

    def __init__(self, settings: QSettings | None = None, *, warm_up_umap: bool = True,
                 projection_cache: ProjectionCache | None = None, codes_cache: emb.CodesCache | None = None,
                 seed: int = 0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Latent Explorer")
        self.setObjectName("MainWindow")
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowNestedDocks
                            | QMainWindow.DockOption.AllowTabbedDocks)
        self.settings = settings if settings is not None else open_settings()
        self.workspace = Workspace()
        self._projection_cache = projection_cache
        self.codes_cache = codes_cache if codes_cache is not None else emb.CodesCache()
        self.seed = int(seed)
        self._warm_up_umap = bool(warm_up_umap)
        self._warm_up_started = False
        self._dataset_id: str | None = None
        self._workers: dict[str, ProjectionWorker] = {}
        self._embeddings: dict[str, emb.EmbeddingResult] = {}  # model key -> last embedding shown
        self._clusterings: dict[str, object] = {}  # model key -> ClusteringResult shown
        self._shown: emb.EmbeddingResult | None = None
        self._shown_codes = None
        self._shown_key: str | None = None
        self._shown_name = ""
        self._colour_mode = "label"
        self._previous_colour_mode = "label"
        self._colour_dim = 0
        self._view_status = ""
        self._empty_note = ""
        self._closing = False
        self._shut_down = False
        self._layout_restored = False
        self._laid_out = False
        self._pending: dict[str, Path] = {}  # key -> model file being opened
        self._awaiting_data: list[str] = []  # keys whose opening waits for the dataset (cache look-up first)
        self._projection_preloaded = False
        self._previews: dict[str, emb.Preview] = {}  # key -> cached codes / embedding shown before the model loaded
        self.inverted_stores = InvertedCodesStores()  # GAN-inverted codes, shared by the embedding and panels
        self._prior_codes: dict[str, object] = {}  # key -> a GAN's prior samples while inverted codes are shown

        # ---- jobs
        self.runner = JobRunner(self)
        self.job_status = JobStatusWidget(self.runner, self.statusBar(), self)
        self.statusBar().addPermanentWidget(self.job_status)
        self.job_status.error_reported.connect(self._on_job_error)
        self.runner.job_finished.connect(self._on_job_ended)
        self.runner.job_failed.connect(self._on_job_failed)
        self.runner.job_cancelled.connect(self._on_job_ended)

        # ---- central view and docks
        self.view = EmbeddingView(self)
        self.view.setMinimumSize(360, 300)
        self.setCentralWidget(self.view)
        self.model_panel = ModelPanel(self)
        self.hover_preview = HoverPreview(parent=self)
        self.projection_panel = ProjectionPanel(self)
        self.clustering_panel = ClusteringPanel(self)
        self.image_grid = ImageGridPanel(parent=self)
        self.model_dock = self._dock("Models and dataset", "ModelDock", self.model_panel,
                                     Qt.DockWidgetArea.LeftDockWidgetArea)
        self.hover_dock = self._dock("Image under cursor", "HoverDock", self.hover_preview,
                                     Qt.DockWidgetArea.RightDockWidgetArea)
        self.projection_dock = self._dock("Projection and colours", "ProjectionDock", self.projection_panel,
                                          Qt.DockWidgetArea.RightDockWidgetArea)
        self.clustering_dock = self._dock("Clustering", "ClusteringDock", self.clustering_panel,
                                          Qt.DockWidgetArea.RightDockWidgetArea)
        self.selection_dock = self._dock("Selection", "SelectionDock", self.image_grid,
                                         Qt.DockWidgetArea.BottomDockWidgetArea)
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self._default_dock_sizes()
        for axis in ("bottom", "left"):  # unitless coordinates: plain tick values, no "(x0.001)"
            plain_ticks(self.view.plot_item.getAxis(axis))
        self._build_latent_docks()

        self._build_actions()
        self._connect()
        self._build_reconstruction_dock()
        self._restore_settings()
        self._refresh_models()
        self._update_view_message()
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
        from explorer.gui.interpolation_panel import InterpolationPanel, LatentController
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
        self.latent_controller = LatentController(self, self.slider_panel, self.traversal_view,
                                                  self.interpolation_panel)

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
        menu_bar = self.menuBar()
        file_menu = menu_bar.addMenu("&File")
        self.open_model_action = QAction("&Open model…", self, shortcut=QKeySequence.StandardKey.Open)
        self.open_model_action.setStatusTip("Open checkpoints (.pt), Python adapters (.py) or TorchScript files")
        self.open_model_action.triggered.connect(self._on_open_model_triggered)
        file_menu.addAction(self.open_model_action)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._on_recent_menu_about_to_show)
        self.open_dataset_action = QAction("Open &dataset file…", self)
        self.open_dataset_action.setStatusTip("Open a .npz / .npy file or an IDX file as the dataset")
        self.open_dataset_action.triggered.connect(self._on_open_dataset_triggered)
        file_menu.addAction(self.open_dataset_action)
        self.open_dataset_folder_action = QAction("Open dataset &folder…", self)
        self.open_dataset_folder_action.setStatusTip("Open a folder of IDX files or of class subfolders of images")
        self.open_dataset_folder_action.triggered.connect(self._on_open_dataset_folder_triggered)
        file_menu.addAction(self.open_dataset_folder_action)
        named = file_menu.addMenu("Open &named dataset")
        for text, args in (("Fashion-MNIST (test split)", ("fashion-mnist", "test")),
                           ("Fashion-MNIST (train split)", ("fashion-mnist", "train")),
                           ("Digits (scikit-learn, 8×8)", ("digits", None)),
                           ("dSprites (10,000 generated)", ("dsprites", None))):
            action = named.addAction(text)
            action.triggered.connect(lambda _checked=False, a=args: self.open_dataset(a[0], a[1]))
        file_menu.addSeparator()
        self.close_model_action = QAction("&Close model", self, shortcut=QKeySequence.StandardKey.Close)
        self.close_model_action.triggered.connect(lambda: self.close_model(self.workspace.active))
        file_menu.addAction(self.close_model_action)
        file_menu.addSeparator()
        self.export_action = QAction("&Export view…", self, shortcut=QKeySequence("Ctrl+E"))
        self.export_action.setStatusTip("Save the embedding with its legend as PNG, SVG or PDF")
        self.export_action.triggered.connect(self._on_export_triggered)
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        view_menu = menu_bar.addMenu("&View")
        self.selection_actions = QActionGroup(self)
        self.selection_actions.setExclusive(True)
        toolbar = QToolBar("Selection", self)
        toolbar.setObjectName("SelectionToolBar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        toolbar.addWidget(QLabel(" Left drag: ", toolbar))
        for mode, text, tip in (("click", "Pan", "Left drag pans; click selects the nearest point"),
                                ("rect", "Rectangle select", "Left drag selects a rectangle of points (Shift adds)"),
                                ("lasso", "Lasso select", "Left drag draws a lasso around points (Shift adds)")):
            action = QAction(text, self, checkable=True)
            action.setData(mode)
            action.setToolTip(tip)
            action.setStatusTip(tip)
            action.triggered.connect(lambda _checked=False, m=mode: self.set_selection_mode(m))
            self.selection_actions.addAction(action)
            toolbar.addAction(action)
            view_menu.addAction(action)
        self.selection_actions.actions()[0].setChecked(True)
        toolbar.addSeparator()
        clear_action = toolbar.addAction("Clear selection")
        clear_action.setToolTip("Select nothing (Esc in the plot)")
        clear_action.triggered.connect(self.view.clear_selection)
        fit_action = toolbar.addAction("Fit view")
        fit_action.setToolTip("Show all points")
        fit_action.triggered.connect(lambda: self.view.view_box.autoRange(padding=0.04))
        toolbar.addSeparator()
        toolbar.addAction(self.export_action)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
        self.toolbar = toolbar
        view_menu.addSeparator()
        for dock in (self.model_dock, self.hover_dock, self.projection_dock, self.clustering_dock,
                     self.selection_dock):
            view_menu.addAction(dock.toggleViewAction())
        view_menu.addAction(toolbar.toggleViewAction())

        help_menu = menu_bar.addMenu("&Help")
        log_action = help_menu.addAction("Where is the log file?")
        log_action.triggered.connect(self._on_show_log_triggered)
        about_action = help_menu.addAction("&About Latent Explorer")
        about_action.triggered.connect(self._on_about_triggered)

    def _connect(self) -> None:
        self.model_panel.active_model_changed.connect(self.set_active)
        self.model_panel.open_model_requested.connect(self._on_open_model_triggered)
        self.model_panel.close_model_requested.connect(self.close_model)
        self.model_panel.open_dataset_requested.connect(self._on_open_dataset_triggered)
        self.projection_panel.spec_changed.connect(self._on_spec_changed)
        self.projection_panel.projection_requested.connect(self.request_projection)
        self.projection_panel.colouring_changed.connect(self._on_colouring_changed)
        self.projection_panel.marker_changed.connect(self._on_marker_changed)
        self.projection_panel.gan_box.points_requested.connect(self.request_gan_points)
        self.clustering_panel.run_requested.connect(self.run_kmeans)
        self.clustering_panel.sweep_requested.connect(self.run_k_sweep)
        self.clustering_panel.colour_by_cluster_changed.connect(self._on_colour_by_cluster_changed)
        self.view.hovered.connect(self._on_hovered)
        self.view.selection_changed.connect(self._on_selection_changed)
        self.image_grid.item_activated.connect(self._on_grid_item_activated)

    # ================================================================== public API

    @property
    def dataset(self):
        """The open :class:`~explorer.data.Dataset`, or None."""
        return self.workspace.dataset

    @property
    def active_entry(self) -> ModelEntry | None:
        """The active model, or None."""
        return self.workspace.active_entry

    @property
    def shown_embedding(self) -> emb.EmbeddingResult | None:
        """The embedding on the view, or None."""
        return self._shown

    @property
    def shown_codes(self):
        """The :class:`~explorer.core.workspace.LatentCodes` behind the points on the view, or None."""
        return self._shown_codes

    def _submit(self, kind: str, fn, *, label: str, on_done=None) -> int | None:
        """``JobRunner.submit``, or nothing once the window is closing (a result may arrive after close)."""
        if self._closing:
            return None
        return self.runner.submit(kind, fn, label=label, on_done=on_done)

    @property
    def projection_cache(self) -> ProjectionCache:
        """Where embeddings are cached on disk."""
        if self._projection_cache is None:
            from explorer.core.projection_cache import ProjectionCache

            self._projection_cache = ProjectionCache()
        return self._projection_cache

    def projection_worker(self, method: str) -> ProjectionWorker:
        """The worker process running ``method`` ("umap" or "tsne"; each has its own, started lazily)."""
        from explorer.core.projection import ProjectionWorker

        worker = self._workers.get(method)
        if worker is None:
            worker = self._workers[method] = ProjectionWorker(cancel_grace=1.0)
        return worker

    def projection_workers(self) -> dict[str, ProjectionWorker]:
        """The projection workers created so far, by method."""
        return dict(self._workers)

    def set_empty_note(self, text: str) -> None:
        """Sentence shown in the plot and model list while no model is open (e.g. the demo is missing)."""
        self._empty_note = text
        self.model_panel.set_empty_text(text)
        self._update_view_message()

    def open_dataset(self, spec, split: str | None = None, limit: int | None = None, seed: int = 0) -> int:
        """Load a dataset (name or path) as a job; every open model is encoded again on it.

        Returns
        -------
        int
            The job's request id.
        """
        from explorer.data import load_dataset

        name = Path(str(spec)).name or str(spec)

        def load(ctx):
            from explorer.core.workspace import dataset_identity

            ctx.progress(0.0, f"reading {name}")
            dataset = load_dataset(spec, split=split, limit=limit, seed=seed)
            ctx.check()
            return dataset, dataset_identity(dataset)

        if self.dataset is None:
            self.model_panel.set_dataset(f"Loading {name}…")
        return self._submit("dataset", load, label=f"Loading dataset {name}", on_done=self._on_dataset_loaded)

    def open_models(self, paths: Iterable[str | Path]) -> None:
        """Open model files as jobs; each becomes active when loaded, errors go to a dialog.

        When the dataset is open, the caches are looked up first (no torch needed): a model
        shown before on this dataset is painted from its cached codes and embedding at
        once, while the model itself loads.
        """
        for path in paths:
            path = Path(path).expanduser()
            key = str(path.resolve())
            self._pending[key] = path
            if self.dataset is None:
                if key not in self._awaiting_data:
                    self._awaiting_data.append(key)
            else:
                self._start_peek(key)
        self._refresh_models()
        self._update_view_message()

    def _start_peek(self, key: str) -> None:
        path, dataset, dataset_id = self._pending[key], self.dataset, self._dataset_id
        spec, codes_cache, projection_cache = self.projection_panel.spec(), self.codes_cache, self.projection_cache

        def peek(ctx):
            return emb.peek_cached(path, dataset, dataset_id, spec, codes_cache, projection_cache, ctx=ctx)

        self._submit(f"peek:{key}", peek, label=f"Opening {path.name}",
                     on_done=lambda preview, k=key: self._on_peeked(k, preview))

    def _on_peeked(self, key: str, preview) -> None:
        if key not in self._pending:
            return
        if preview is not None and preview.dataset_id == self._dataset_id:
            self._previews[key] = preview
            target = _Target(key, preview.path.name, preview.file_hash, preview.codes)
            self._show_embedding(target, preview.result)
            self._refresh_models()
        self._start_open(key)

    def _start_open(self, key: str) -> None:
        path = self._pending.get(key)
        if path is None:
            return
        self._submit(f"open:{key}", lambda ctx, p=path: open_model(p), label=f"Opening {path.name}",
                     on_done=self._on_model_opened)
        self._preload_projection()

    def _preload_projection(self) -> None:
        """Import scikit-learn (for PCA, ~0.7 s) in a job thread while torch loads in another."""
        if not self._projection_preloaded:
            self._projection_preloaded = True
            self._submit("preload", lambda ctx: importlib.import_module("explorer.core.projection"),
                         label="Loading scikit-learn")

    def set_active(self, index: int) -> None:
        """Make the model at ``index`` of the model list active and show its embedding."""
        if not 0 <= index < len(self.workspace.models):
            return
        key = _model_key(self.workspace.models[index])
        if index == self.workspace.active and self._shown_key == key and key not in self._previews:
            return
        self.workspace.active = index
        self._show_active(user_choice=True)
        self._refresh_models()
        self.models_changed.emit()

    def close_model(self, index: int) -> None:
        """Close the model at ``index`` (its running jobs are cancelled)."""
        if not 0 <= index < len(self.workspace.models):
            return
        entry = self.workspace.models[index]
        key = _model_key(entry)
        self.runner.cancel(f"encode:{key}")
        self.runner.cancel(f"invert-points:{key}")
        self._prior_codes.pop(key, None)
        self.inverted_stores.forget(entry.file_hash)
        if self._shown_key == key:
            self.runner.cancel("projection")
            self.runner.cancel("kmeans")
            self.runner.cancel("kmeans-sweep")
        self.workspace.remove(index)
        self._embeddings.pop(key, None)
        self._clusterings.pop(key, None)
        self._refresh_models()
        self._show_active()
        self.models_changed.emit()

    # ================================================================== points of a GAN without encoder

    def request_gan_points(self, source: str, n: int = 0) -> int | None:
        """Show a GAN's prior samples, or ``n`` dataset images at codes found by GAN inversion.

        Parameters
        ----------
        source : {"prior", "inverted"}
        n : int
            Dataset images to invert (a seeded sample, seed ``self.seed``; all when
            ``n >= len(dataset)``), with the Reconstructions panel's inversion settings.

        Returns
        -------
        int or None
            The request id of the inversion job (None when nothing needs to run).
        """
        entry = self.active_entry
        if entry is None or entry.model.has_encoder or self.dataset is None:
            return None
        key = _model_key(entry)
        kind = f"invert-points:{key}"
        if source == "prior":
            self.runner.cancel(kind)
            prior = self._prior_codes.pop(key, None)
            if entry.codes is not None and entry.codes.source != "prior":
                self._set_codes(entry, prior)  # None: sampled again by the encode job
            return None
        if source != "inverted":
            raise ValueError(f"source must be 'prior' or 'inverted', got {source!r}")
        dataset, dataset_id, seed, stores = self.dataset, self._dataset_id, self.seed, self.inverted_stores
        settings = self.reconstruction_panel.inversion_settings()
        n = min(int(n), len(dataset)) if n else len(dataset)
        model, file_hash = entry.model, entry.file_hash

        def invert_points(ctx):
            store = stores.get(model, file_hash, dataset_id, len(dataset), settings)
            return inverted_dataset_codes(store, dataset, n if n < len(dataset) else None, seed, ctx)

        # submitted first: a running request is cancelled inside, and its end must not clear the new state
        request = self._submit(kind, invert_points, label=f"GAN inversion of {n:,} images ({entry.name})",
                               on_done=lambda codes, e=entry, d=dataset_id: self._on_inverted_points(e, d, codes))
        if request is not None:
            shown = "the prior samples" if entry.codes is None or entry.codes.source == "prior" else "the points shown"
            self._view_status = (f"Finding codes for {n:,} dataset images by GAN inversion "
                                 f"({inversion_summary(settings)}); {shown} stay until then.")
            self._update_view_message()
            self.projection_panel.gan_box.set_busy(True)
        return request

    def _on_inverted_points(self, entry: ModelEntry, dataset_id: str, codes) -> None:
        if dataset_id != self._dataset_id or entry not in self.workspace.models:
            return  # the dataset changed or the model was closed meanwhile
        if entry.codes is not None and entry.codes.source == "prior":
            self._prior_codes[_model_key(entry)] = entry.codes
        self._set_codes(entry, codes)

    def _set_codes(self, entry: ModelEntry, codes) -> None:
        """Replace a model's points (None: compute them again); its embedding and clustering go with them."""
        key = _model_key(entry)
        entry.codes = codes
        self._embeddings.pop(key, None)
        self._clusterings.pop(key, None)
        if entry is self.active_entry:
            self._show_active()
            self.models_changed.emit()

    def _update_gan_box(self) -> None:
        """Show the GAN points box for a GAN without encoder, in line with what is shown."""
        entry, box = self.active_entry, self.projection_panel.gan_box
        visible = entry is not None and not entry.model.has_encoder and self.dataset is not None
        if visible == box.isHidden():
            box.setVisible(visible)
            if visible:  # the dock area does not make room for a box that appears by itself
                QTimer.singleShot(0, self._fit_projection_dock)
        if visible:
            box.set_context(len(self.dataset), entry.codes.source if entry.codes is not None else None,
                            inversion_summary(self.reconstruction_panel.inversion_settings()))
            box.set_busy(self.runner.is_running(f"invert-points:{_model_key(entry)}"))

    def _fit_projection_dock(self) -> None:
        dock = self.projection_dock
        want = self.projection_panel.minimumSizeHint().height() + dock.height() - self.projection_panel.height()
        if not dock.isFloating() and dock.height() < want:
            self.resizeDocks([dock], [want], Qt.Orientation.Vertical)

    def request_projection(self, spec: ProjectionSpec) -> int | None:
        """Show ``spec``'s embedding of the active model: from the cache at once, else as a job.

        PCA and the identity run in a job thread of this process; UMAP and t-SNE run in
        a :class:`ProjectionWorker` process (cancellable; the embedding shown until then
        stays). A newer request cancels an older one.

        Returns
        -------
        int or None
            The job's request id, or None when the embedding came from the cache (or
            nothing is open).
        """
        target = self._target()
        if target is None or self._dataset_id is None:
            return None
        codes = target.codes
        key = self._projection_key(target, spec)
        hit = emb.cached_embedding(key, spec, len(codes.z), self.projection_cache)
        if hit is not None:
            self.runner.cancel("projection")
            self._show_embedding(target, hit)
            return None
        if spec.method == "identity" and codes.z.shape[1] != 2:
            self._show_error(f"The latent space of {target.name} has d = {codes.z.shape[1]}, so it cannot be "
                             "shown as is; choose PCA, UMAP or t-SNE.")
            return None
        compute = self.projection_worker(spec.method).run if spec.method in ("umap", "tsne") else None
        cache = self.projection_cache

        def project(ctx):
            return emb.project_cached(codes.z, spec, key, cache, compute=compute, ctx=ctx)

        if spec.method in ("umap", "tsne"):
            shown = self._shown.spec.label() if self._shown is not None and self._shown_key == target.key else ""
            self._view_status = f"Computing {spec.label()}…" + (f" {shown} shown meanwhile." if shown else "")
            self._update_view_message()
            self.projection_panel.set_busy(True)
        self.projection_panel.set_status(f"Computing {spec.label()}…")
        return self._submit(
            "projection", project, label=f"{spec.label().split(' (')[0]} of {len(codes.z):,} codes",
            on_done=lambda result, t=target: self._on_projection_done(t, result))

    def run_kmeans(self, space: str, k: int, seed: int) -> int | None:
        """k-means on the active model's latent codes or on the shown embedding, as a job."""
        x = self._clustering_points(space)
        if x is None:
            return None
        codes, key = self._shown_codes, self._shown_key
        labels = codes.labels

        def run(ctx):
            ctx.progress(0.0, f"k-means on the {space} space, k = {k}")
            return cluster(x, k, seed=seed, space=space, labels_true=labels, with_silhouette=True)

        self.clustering_panel.set_busy(True)
        return self._submit("kmeans", run, label=f"k-means (k = {k})",
                            on_done=lambda r, mk=key, c=codes: self._on_kmeans_done(mk, c, r))

    def run_k_sweep(self, space: str, ks: Sequence[int], seed: int) -> int | None:
        """k-means for each k in ``ks`` on the chosen space, as a job (curves in the clustering panel)."""
        x = self._clustering_points(space)
        if x is None:
            return None
        codes, key = self._shown_codes, self._shown_key
        labels, ks = codes.labels, [int(k) for k in ks]

        def run(ctx):
            return k_sweep(x, ks, labels_true=labels, seed=seed, ctx=ctx, space=space)

        self.clustering_panel.set_busy(True)
        return self._submit("kmeans-sweep", run, label=f"k-means sweep (k = {ks[0]}…{ks[-1]})",
                            on_done=lambda r, mk=key, c=codes: self._on_sweep_done(mk, c, r))

    def set_selection_mode(self, mode: str) -> None:
        """What a left drag does on the plot: "click" (pan), "rect" or "lasso"."""
        self.view.set_selection_mode(mode)
        for action in self.selection_actions.actions():
            action.setChecked(action.data() == mode)

    def set_colouring(self, mode: str, dim: int | None = None) -> None:
        """Colour points by "label", "cluster", "dimension" (latent dimension ``dim``), "none" or
        "inversion_error" (inverted codes of a GAN)."""
        self.projection_panel.set_colour_mode(mode, dim, emit=True)

    def export_view(self, path: str | Path, scale: float = 1.0) -> str:
        """Write the embedding with its title, axes and legend / colour bar to a PNG, SVG or PDF file.

        The hover ring is taken off first (it is not part of a figure). ``scale`` sets the
        PNG's pixel size relative to the screen.
        """
        from PySide6.QtCore import QPointF

        self.view.hover_at(QPointF(-1e9, -1e9))  # outside the plot: no point hovered
        return export_view(self.view, path, scale=scale)

    def clustering_result(self):
        """The clustering that colours the active model's points, or None."""
        return self._clusterings.get(self._shown_key or "")

    # ================================================================== model and data flow

    def _target(self) -> _Target | None:
        """The model whose embedding is (to be) shown: a preview on screen, else the active model with codes."""
        if self._shown_key in self._previews:
            preview = self._previews[self._shown_key]
            return _Target(self._shown_key, preview.path.name, preview.file_hash, preview.codes)
        entry = self.active_entry
        if entry is None or entry.codes is None:
            return None
        return _Target(_model_key(entry), entry.name, entry.file_hash, entry.codes)

    def _codes_of(self, key: str):
        """The current codes of model ``key`` (loaded or previewed), or None."""
        for entry in self.workspace.models:
            if _model_key(entry) == key:
                return entry.codes
        preview = self._previews.get(key)
        return preview.codes if preview is not None else None

    def _projection_key(self, target: _Target, spec: ProjectionSpec) -> str:
        points = emb.codes_identity(self._dataset_id or "", target.codes)
        return emb.projection_key(target.file_hash, points, spec, len(target.codes.z))

    def _refresh_models(self) -> None:
        rows = []
        for e in self.workspace.models:
            info = e.info or {}
            trained = f"trained on {info['dataset']}" if info.get("dataset") else ""
            epochs = f"{info['epochs']} epochs" if info.get("epochs") else ""
            tip = "\n".join(s for s in (str(e.path), e.summary, ", ".join(x for x in (trained, epochs) if x),
                                        f"SHA-256 {e.file_hash[:16]}…") if s)
            rows.append((e.name, e.summary, tip))
        loaded = {_model_key(e) for e in self.workspace.models}
        pending = [k for k in self._pending if k not in loaded]
        for key in pending:
            rows.append((self._pending[key].name, "loading…", key))
        active = self.workspace.active
        if self._shown_key in pending:
            active = len(self.workspace.models) + pending.index(self._shown_key)
        self.model_panel.set_models(rows, active)
        entry = self.active_entry
        if self._shown_key in pending:
            self.model_panel.set_details(f"{self._pending[self._shown_key].name}: loading the model…")
        else:
            self.model_panel.set_details(emb.model_details(entry.info) if entry is not None else "")
        self.close_model_action.setEnabled(bool(self.workspace.models))
        name = self._target().name if self._target() is not None else (
            self.active_entry.name if self.active_entry is not None else "")
        self.setWindowTitle(f"{name} — Latent Explorer" if name else "Latent Explorer")

    def _refresh_dataset_line(self) -> None:
        ds = self.dataset
        if ds is None:
            return
        notes = list(ds.notes)
        target = self._target()
        if target is not None and target.codes.source != "prior":
            notes += [n for n in target.codes.notes if n not in notes]
        self.model_panel.set_dataset(dataset_line(ds), notes)

    def _on_dataset_loaded(self, result) -> None:
        dataset, dataset_id = result
        self.workspace.dataset = dataset
        self._dataset_id = dataset_id
        for entry in self.workspace.models:
            self.runner.cancel(f"encode:{_model_key(entry)}")
            self.runner.cancel(f"invert-points:{_model_key(entry)}")
            entry.codes = None
        self._prior_codes.clear()
        self.inverted_stores.forget()
        self._embeddings.clear()
        self._clusterings.clear()
        self._previews.clear()
        self._clear_view()  # the points of the old dataset go; each model is encoded on the new one
        self._refresh_dataset_line()
        waiting, self._awaiting_data = self._awaiting_data, []
        for key in waiting:
            if key in self._pending:
                self._start_peek(key)
        self._show_active()

    def _on_model_opened(self, entry: ModelEntry) -> None:
        key = _model_key(entry)
        self._pending.pop(key, None)
        preview = self._previews.pop(key, None)
        if (preview is not None and preview.file_hash == entry.file_hash and preview.dataset_id == self._dataset_id
                and entry.model.has_encoder and entry.model.latent_dim == preview.codes.z.shape[1]):
            entry.codes = preview.codes  # the previewed points stay on screen as they are
        else:
            self._embeddings.pop(key, None)
            self._clusterings.pop(key, None)
        self.workspace.add(entry)
        self._add_recent(entry.path)
        self._refresh_models()
        self.statusBar().showMessage(f"Opened {entry.name}: {entry.summary}", 5000)
        self._show_active()
        self.models_changed.emit()

    def _show_active(self, user_choice: bool = False) -> None:
        """Bring the view in line with the active model: encode, then project, then show.

        A model that is still loading keeps its cached embedding on screen unless the
        user picked another model (``user_choice``).
        """
        entry = self.active_entry
        self.projection_panel.set_latent_dim(entry.model.latent_dim if entry is not None else 0)
        self._update_gan_box()
        self._refresh_dataset_line()
        if self._shown_key in self._previews and not user_choice:
            return  # a model loading: its cached embedding is on screen until it is ready
        if entry is None or self.dataset is None:
            self._clear_view()
            return
        key = _model_key(entry)
        if entry.codes is None:
            if self._shown_key != key:
                self._clear_view()
            self._start_encode(entry)
            return
        if self._shown_key == key and self._shown is not None and self._shown_codes is entry.codes:
            self._refresh_dataset_line()
            return
        last = self._embeddings.get(key)
        target = _Target(key, entry.name, entry.file_hash, entry.codes)
        if last is not None and (len(last.embedding) != len(entry.codes.z)
                                 or last.key != self._projection_key(target, last.spec)):
            last = None  # made from other points of this model (e.g. prior samples, not inverted codes)
            self._embeddings.pop(key, None)
            self._clusterings.pop(key, None)
        if last is not None:
            self._show_embedding(target, last)
            return
        self._show_initial_projection(target)

    def _start_encode(self, entry: ModelEntry) -> None:
        key = _model_key(entry)
        if self.runner.is_running(f"encode:{key}"):
            return
        dataset, dataset_id, cache, seed = self.dataset, self._dataset_id, self.codes_cache, self.seed
        verb = "Encoding" if entry.model.has_encoder else "Sampling the prior of"
        self._view_status = (f"Encoding {len(dataset):,} images with {entry.name}…" if entry.model.has_encoder
                             else f"Sampling p(z) and generating images with {entry.name} (no encoder)…")
        self._update_view_message()

        def encode(ctx):
            return emb.encode_cached(entry, dataset, dataset_id, seed=seed, cache=cache, ctx=ctx)

        self._submit(f"encode:{key}", encode, label=f"{verb} {entry.name}",
                     on_done=lambda codes, e=entry, d=dataset_id: self._on_codes_ready(e, d, codes))

    def _on_codes_ready(self, entry: ModelEntry, dataset_id: str, codes) -> None:
        if dataset_id != self._dataset_id or entry not in self.workspace.models:
            return  # the dataset changed or the model was closed meanwhile
        if entry.codes is not None and entry.codes.source == "inverted" and codes.source == "prior":
            self._prior_codes[_model_key(entry)] = codes  # the user switched to inverted points meanwhile
            return
        entry.codes = codes
        if entry is self.active_entry:
            self._view_status = ""
            self._refresh_dataset_line()
            self._show_active()

    def _show_initial_projection(self, target: _Target) -> None:
        """First embedding of a model: the panel's choice when cached, else PCA (or the codes when d = 2)."""
        d = target.codes.z.shape[1]
        spec = self.projection_panel.spec()
        if spec.method in ("pca", "identity"):  # a 2-D latent space is shown as is, others by PCA
            spec = emb.default_spec(d)
        hit = emb.cached_embedding(self._projection_key(target, spec), spec, len(target.codes.z),
                                   self.projection_cache)
        if hit is not None:
            self._show_embedding(target, hit)
            return
        if spec.method in ("umap", "tsne"):
            wanted = spec
            spec = emb.default_spec(d)
            self._view_status = (f"{wanted.label()} is not computed for this model yet — press Compute in "
                                 f"“Projection and colours”; {spec.label()} shown meanwhile.")
        self.request_projection(spec)

    def _on_projection_done(self, target: _Target, result: emb.EmbeddingResult) -> None:
        self.projection_panel.set_busy(False)
        if self._codes_of(target.key) is not target.codes:
            return  # closed, or encoded again on another dataset meanwhile
        self._embeddings[target.key] = result
        current = self._target()
        if current is not None and current.key == target.key:
            self._show_embedding(target, result)

    def _show_embedding(self, target: _Target, result: emb.EmbeddingResult) -> None:
        key, codes = target.key, target.codes
        new_points = not (self._shown_key == key and self._shown_codes is codes)
        self._embeddings[key] = result
        self._shown, self._shown_codes, self._shown_key, self._shown_name = result, codes, key, target.name
        if new_points:
            self.projection_panel.set_latent_dim(codes.z.shape[1])
        running = self.runner.is_running("projection")
        self.projection_panel.set_busy(running)
        if not running and (result.spec == self.projection_panel.spec()
                            or not self._view_status.endswith("shown meanwhile.")):
            self._view_status = ""
        if new_points:
            self.clustering_panel.clear()
            self.image_grid.clear()
            self.hover_preview.clear()
            self.view.set_marker_point(None)
            clustering = self._clusterings.get(key)
            if clustering is not None:
                self.clustering_panel.show_result(clustering)
            self._refresh_dataset_line()
        if result.spec.method in ("pca", "identity") and self.projection_panel.method() in ("pca", "identity"):
            self.projection_panel.set_spec(result.spec)
        d = codes.z.shape[1]
        self.clustering_panel.set_spaces(("Inverted latent codes" if codes.source == "inverted" else "Latent codes")
                                         + f" z (d = {d})", f"2-D embedding ({result.spec.label()})")
        self.clustering_panel.set_has_labels(
            codes.labels is not None,
            "Homogeneity, completeness and V-measure need labels; samples from the prior p(z) have none."
            if codes.source == "prior" else None)
        self._update_colour_availability()
        self._redraw(keep_range=False, keep_selection=not new_points)
        source = "read from the cache" if result.from_cache else \
            f"computed in {result.meta.get('elapsed_s', 0.0):.1f} s (now cached)"
        self.projection_panel.set_status(f"Shown: {result.spec.label()}, {source}.")
        self.embedding_shown.emit(result)
        if self._warm_up_umap and not self._warm_up_started:
            QTimer.singleShot(WARM_UP_DELAY_MS, self._start_umap_warm_up)

    def _clear_view(self) -> None:
        self._shown = self._shown_codes = self._shown_key = None
        self._shown_name = ""
        self.view.set_points(np.empty((0, 2)), np.empty((0, 4), np.uint8))
        self.view.set_axis_labels("", "")
        self._set_title(None)
        self.clustering_panel.clear()
        self.image_grid.clear()
        self.hover_preview.clear()
        self.projection_panel.set_status("")
        self._update_view_message()

    def _update_view_message(self) -> None:
        lines = []
        if self._shown_key in self._previews:
            lines.append(f"Loading {self._shown_name}: its cached embedding is shown meanwhile.")
        elif not self.workspace.models:
            if self._pending:
                lines.append("Opening the model…")
            elif self._empty_note:
                lines.append(self._empty_note)
            else:
                lines.append("No model open: File ▸ Open model… or drop a checkpoint on this window.")
        elif self.dataset is None:
            lines.append("Loading the dataset…")
        if self._shown_codes is not None and self._shown_codes.source == "prior":
            lines.extend(self._shown_codes.notes)
            lines.append("To see real images, choose “Dataset images, inverted z” under Points of a GAN "
                         "(Projection and colours).")
        if self._view_status:
            lines.append(self._view_status)
        self.view.set_message(_wrap("\n".join(lines), 90))

    # ================================================================== drawing

    def _update_colour_availability(self) -> None:
        codes = self._shown_codes
        has_labels = codes is not None and codes.labels is not None
        why = ("prior samples of a GAN have no labels" if codes is not None and codes.source == "prior"
               else "the dataset has no labels")
        self.projection_panel.set_colour_available("label", has_labels, why)
        self.projection_panel.set_colour_available("cluster", self.clustering_result() is not None,
                                                   "run k-means in the Clustering panel first")
        self.projection_panel.set_colour_available(
            "inversion_error", codes is not None and codes.fit_error is not None,
            "only dataset images at GAN-inverted codes have an inversion error")

    def _effective_colour_mode(self) -> str:
        """The preferred colour mode, or what stands in for it when it is not available."""
        codes, mode = self._shown_codes, self._colour_mode
        if mode == "cluster" and self.clustering_result() is None:
            mode = "label"
        if mode == "inversion_error" and (codes is None or codes.fit_error is None):
            mode = "label"
        if mode == "label" and (codes is None or codes.labels is None):
            mode = "none"
        return mode

    def _effective_colouring(self):
        codes = self._shown_codes
        mode, n = self._effective_colour_mode(), len(codes.z)
        ds = self.dataset
        class_names = ds.class_names if ds is not None and codes.of_dataset else None
        clustering = self.clustering_result()
        if mode == "cluster":
            space = "latent space z" if clustering.space == "latent" else "2-D embedding"
            return emb.colouring("cluster", n, clusters=clustering.labels,
                                 cluster_title=f"k-means, k = {clustering.k}, on the {space}")
        if mode == "dimension":
            dim = min(self._colour_dim, codes.z.shape[1] - 1)
            return emb.colouring("dimension", n, z=codes.z, dim=dim)
        if mode == "label":
            return emb.colouring("label", n, labels=codes.labels, class_names=class_names)
        if mode == "inversion_error":
            return emb.colouring("inversion_error", n, errors=codes.fit_error)
        return emb.colouring("none", n)

    def _redraw(self, keep_range: bool = True, keep_selection: bool = True) -> None:
        """Put the shown embedding on the view with the current colouring.

        ``set_points`` fits the view and clears the selection; with ``keep_range`` /
        ``keep_selection`` the zoom and the selection (same points) are put back.
        """
        result, codes = self._shown, self._shown_codes
        if result is None or codes is None:
            return
        vb = self.view.view_box
        old_range = vb.viewRange() if keep_range else None
        old_selection = self.view.selection if keep_selection else None
        col = self._effective_colouring()
        if self.projection_panel.colour_mode() != col.mode:  # show what stands in (the preference stays)
            self.projection_panel.set_colour_mode(col.mode, emit=False)
        legend = colorbar = None
        if col.mode in ("label", "cluster"):
            colors, legend = label_colors(col.categories, col.names)
        elif col.mode in ("dimension", "inversion_error"):
            colors, (cmap, vmin, vmax) = continuous_colors(col.values, "viridis", col.vmin, col.vmax)
            colorbar = (cmap, vmin, vmax, f"{col.title} (clipped to 1st–99th percentile)")
        else:
            colors = np.tile(categorical_palette(1)[0], (len(codes.z), 1))
        hover_labels = None
        if codes.labels is not None:
            ds = self.dataset
            names = emb.label_names(codes.labels, ds.class_names if ds is not None else None)
            hover_labels = np.asarray(names, dtype=object)[codes.labels]
        ds = self.dataset
        ds_name = f"{ds.name}" + (f" ({ds.split})" if ds.split else "") if ds is not None else ""
        title = emb.caption(self._shown_name, codes, result.spec, ds_name)
        if col.mode == "cluster":
            title += f" · colour: {col.title}"
        self._set_title(title)
        self.view.set_axis_labels(*emb.axis_labels(result.spec, result.meta))
        self.view.set_points(result.embedding, colors, labels=hover_labels, legend=legend, colorbar=colorbar)
        self.view.set_marker(*self.projection_panel.marker())
        if old_range is not None:
            vb.setRange(xRange=old_range[0], yRange=old_range[1], padding=0)
        if old_selection is not None and len(old_selection) and old_selection[-1] < len(result.embedding):
            self.view.set_selection(old_selection)
        self._update_view_message()

    def _set_title(self, text: str | None) -> None:
        """Plot title (in every export); a long one wraps after the points' description."""
        plot = self.view.plot_item
        if not text:
            plot.setTitle(None)
            return
        import html

        parts = text.split(" · ", 2)  # model · points · projection (· colour)
        lines = 2 if len(text) > 80 and len(parts) == 3 else 1
        shown = (html.escape(" · ".join(parts[:2])) + "<br>" + html.escape(parts[2])) if lines == 2 \
            else html.escape(text)
        plot.setTitle(shown, size="9pt", color="#333333")
        height = 18 * lines + 10
        plot.titleLabel.setMaximumHeight(height)
        plot.layout.setRowFixedHeight(0, height)
        plot.titleLabel.setMinimumWidth(0)  # a long title must not push the legend out of the plot

    # ================================================================== slots: panels and view

    @Slot(object)
    def _on_spec_changed(self, spec: ProjectionSpec) -> None:
        """A cached embedding of the new spec is shown at once; otherwise nothing happens until Compute."""
        target = self._target()
        if target is None or spec.method in ("pca", "identity"):
            return  # PCA / identity are requested right away by the panel
        hit = emb.cached_embedding(self._projection_key(target, spec), spec, len(target.codes.z),
                                   self.projection_cache)
        if hit is not None:
            self.runner.cancel("projection")
            self._show_embedding(target, hit)
        else:
            self.projection_panel.set_status(f"{spec.label()} is not computed yet: press Compute.")

    @Slot(str, int)
    def _on_colouring_changed(self, mode: str, dim: int) -> None:
        self._colour_mode, self._colour_dim = mode, int(dim)
        want = mode == "cluster"
        if self.clustering_panel.colour_by_cluster() != want and (not want or self.clustering_result() is not None):
            self.clustering_panel.set_colour_by_cluster(want)
        self._redraw()

    @Slot(bool)
    def _on_colour_by_cluster_changed(self, on: bool) -> None:
        if on and self._colour_mode != "cluster":
            self._previous_colour_mode = self._colour_mode
            self.projection_panel.set_colour_mode("cluster", emit=True)
        elif not on and self._colour_mode == "cluster":
            self.projection_panel.set_colour_mode(self._previous_colour_mode, emit=True)

    @Slot(float, float)
    def _on_marker_changed(self, size_px: float, opacity: float) -> None:
        self.view.set_marker(size_px, opacity)

    @Slot(int)
    def _on_hovered(self, index: int) -> None:
        codes = self._shown_codes
        if index < 0 or codes is None or index >= len(codes.z):
            return  # keep the last image: moving between points does not flicker
        ds = self.dataset
        class_names = ds.class_names if ds is not None and codes.of_dataset else None
        clustering = self.clustering_result()
        cluster_id = int(clustering.labels[index]) if clustering is not None else None
        caption = emb.hover_caption(index, codes.labels, class_names) or None
        image = codes.images[index]
        note = None
        if codes.source == "inverted":
            mse = f" · MSE {float(codes.fit_error[index]):.4f}" if codes.fit_error is not None else ""
            note = "z inverted" + mse
            generated = codes.generated[index] if codes.generated is not None else None
            if generated is not None and generated.shape[0] == image.shape[0] and generated.shape != image.shape:
                from explorer.data import resize_images  # the dataset is shown at its own resolution

                generated = resize_images(generated[None], *image.shape[1:])[0]
            if generated is not None and generated.shape == image.shape:
                # the dataset image beside G(z) of its code, split by a white line
                gap = np.ones((image.shape[0], image.shape[1], max(1, image.shape[2] // 14)), np.float32)
                image = np.concatenate([image, gap, generated], axis=2)
                note = "left: the image · right: G(z), z inverted" + mse
        self.hover_preview.show_point(image, int(codes.dataset_indices([index])[0]) if codes.of_dataset else index,
                                      caption, cluster_id, note)

    @Slot(object)
    def _on_selection_changed(self, indices) -> None:
        codes = self._shown_codes
        indices = np.asarray(indices, dtype=np.int64)
        if codes is None or len(indices) == 0:
            self.image_grid.clear()
            return
        ds = self.dataset
        class_names = ds.class_names if ds is not None and codes.of_dataset else None
        clustering = self.clustering_result() if self._effective_colour_mode() == "cluster" else None
        captions = emb.selection_captions(indices, codes.labels, class_names,
                                          clustering.labels if clustering is not None else None)
        images = codes.images
        if codes.indices is None:
            self.image_grid.set_items(lambda i: images[i], indices, captions)
        else:  # the grid numbers images by dataset index
            self.image_grid.set_items(lambda i: images[codes.points_of([i])[0]], codes.dataset_indices(indices),
                                      captions)
        if len(indices) == 1:
            self._on_hovered(int(indices[0]))
        if not self.selection_dock.isVisible():
            self.selection_dock.show()

    @Slot(int)
    def _on_grid_item_activated(self, index: int) -> None:
        codes = self._shown_codes
        label = f"#{index}"  # the grid gives a dataset index
        if codes is not None and codes.indices is not None:
            index = int(codes.points_of([index])[0])
        if self._shown is None or not 0 <= index < len(self._shown.embedding):
            return
        self.view.set_marker_point(self._shown.embedding[index], label)
        self._on_hovered(index)

    def _clustering_points(self, space: str):
        codes = self._shown_codes
        if codes is None or self._shown is None:
            self._show_error("Open a model and wait for its embedding before running k-means.")
            return None
        return codes.z if space == "latent" else self._shown.embedding

    def _on_kmeans_done(self, key: str, codes, result) -> None:
        self.clustering_panel.set_busy(False)
        if key != self._shown_key or codes is not self._shown_codes:
            return
        self._clusterings[key] = result
        self.clustering_panel.show_result(result)
        self._update_colour_availability()
        if self._colour_mode == "cluster" or self.clustering_panel.colour_by_cluster():
            self._redraw()

    def _on_sweep_done(self, key: str, codes, results) -> None:
        self.clustering_panel.set_busy(False)
        if key != self._shown_key or codes is not self._shown_codes:
            return
        self.clustering_panel.show_sweep(results)

    # ================================================================== jobs

    @Slot()
    def _on_job_ended(self, kind: str, request_id: int, *_rest) -> None:
        if kind == "projection" and not self.runner.is_running("projection"):
            self.projection_panel.set_busy(False)
            if self._view_status.startswith("Computing"):
                self._view_status = ""
                self._update_view_message()
            if self._shown is not None and self.projection_panel.status_text().startswith("Computing"):
                self.projection_panel.set_status(f"Shown: {self._shown.spec.label()}.")
        elif kind in ("kmeans", "kmeans-sweep") and not (self.runner.is_running("kmeans")
                                                          or self.runner.is_running("kmeans-sweep")):
            self.clustering_panel.set_busy(False)
        elif kind.startswith("open:"):
            self._update_view_message()
        elif kind.startswith("invert-points:") and not self.runner.is_running(kind):
            if self._view_status.startswith("Finding codes"):
                self._view_status = ""
                self._update_view_message()
            self._update_gan_box()
        elif kind.startswith("encode:") and self._view_status.startswith(("Encoding", "Sampling")):
            if not any(k.startswith("encode:") for k in self.runner.running_kinds()):
                self._view_status = ""
                self._update_view_message()

    @Slot(str, int, str)
    def _on_job_failed(self, kind: str, request_id: int, message: str) -> None:
        if kind == "dataset" and self.dataset is None:
            waiting, self._awaiting_data = self._awaiting_data, []
            for key in waiting:  # open the models anyway; they are encoded once a dataset is open
                self._start_open(key)
        elif kind.startswith("peek:") and kind[5:] in self._pending:
            self._start_open(kind[5:])  # the cache look-up failed: open the model anyway
        elif kind.startswith("open:"):
            key = kind[5:]
            self._pending.pop(key, None)
            if self._previews.pop(key, None) is not None and self._shown_key == key:
                self._clear_view()
                self._show_active()
            self._refresh_models()
        self._on_job_ended(kind, request_id)

    @Slot(str, str)
    def _on_job_error(self, label: str, message: str) -> None:
        self._show_error(message)

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

    # ================================================================== files, recent, drag and drop

    def _on_open_model_triggered(self) -> None:
        start = self.settings.value("paths/last_model_dir", str(Path.home()))
        paths, _ = QFileDialog.getOpenFileNames(self, "Open model", str(start), MODEL_FILTER)
        if paths:
            self.settings.setValue("paths/last_model_dir", str(Path(paths[0]).parent))
            self.open_models(paths)

    def _on_open_dataset_triggered(self) -> None:
        start = self.settings.value("paths/last_data_dir", str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, "Open dataset", str(start),
                                              "Datasets (*.npz *.npy *.gz *-ubyte);;All files (*)")
        if path:
            self.settings.setValue("paths/last_data_dir", str(Path(path).parent))
            self.open_dataset(path)

    def _on_open_dataset_folder_triggered(self) -> None:
        start = self.settings.value("paths/last_data_dir", str(Path.home()))
        path = QFileDialog.getExistingDirectory(self, "Open dataset folder", str(start))
        if path:
            self.settings.setValue("paths/last_data_dir", path)
            self.open_dataset(path)

    def _on_export_triggered(self) -> None:
        if self._shown is None:
            self._show_error("There is no embedding to export yet; open a model first.")
            return
        start = Path(str(self.settings.value("paths/last_export_dir", str(Path.home())))) / "embedding.png"
        path, _ = QFileDialog.getSaveFileName(self, "Export view", str(start),
                                              "PNG image (*.png);;SVG vector (*.svg);;PDF document (*.pdf)")
        if path:
            self.settings.setValue("paths/last_export_dir", str(Path(path).parent))
            try:
                self.export_view(path)
                self.statusBar().showMessage(f"Wrote {path}", 5000)
            except (OSError, ValueError) as exc:
                log.exception("export to %s failed", path)
                self._show_error(f"Could not export the view to '{path}': {exc}")

    def recent_files(self) -> list[str]:
        """Recently opened model files, newest first."""
        raw = self.settings.value("recent/models", "[]")
        try:
            value = json.loads(raw) if isinstance(raw, str) else list(raw or [])
        except ValueError:
            value = []
        return [str(v) for v in value if isinstance(v, str)]

    def _add_recent(self, path: Path) -> None:
        self.settings.setValue("recent/models", json.dumps(emb.push_recent(self.recent_files(), path)))

    def _on_recent_menu_about_to_show(self) -> None:
        menu = self.recent_menu
        menu.clear()
        recent = self.recent_files()
        for path in recent:
            action = menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.setStatusTip(path)
            action.setEnabled(Path(path).exists())
            action.triggered.connect(lambda _checked=False, p=path: self.open_models([p]))
        if not recent:
            menu.addAction("No recent models").setEnabled(False)
        menu.addSeparator()
        clear = menu.addAction("Clear list")
        clear.setEnabled(bool(recent))
        clear.triggered.connect(lambda: self.settings.setValue("recent/models", "[]"))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        datasets = [p for p in paths if _is_dataset_path(p)]
        models = [p for p in paths if not _is_dataset_path(p)]
        if datasets:
            self.open_dataset(str(datasets[-1]))
        if models:
            self.open_models(models)
        event.acceptProposedAction()

    def _on_show_log_triggered(self) -> None:
        from explorer.paths import log_path

        QMessageBox.information(self, "Log file", f"Details of every error are written to\n{log_path()}")

    def _on_about_triggered(self) -> None:
        QMessageBox.about(self, "About Latent Explorer",
                          "Latent Explorer — explore the latent spaces of VAEs, GANs and ALI/BiGANs: "
                          "embeddings (PCA, UMAP, t-SNE), k-means with homogeneity, completeness and "
                          "V-measure, hover previews and selections.")

    # ================================================================== settings and closing

    def _restore_settings(self) -> None:
        s = self.settings
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
        self._colour_mode = self.projection_panel.colour_mode()
        if self._colour_mode == "cluster":  # clusters are not kept between sessions
            self._colour_mode = "label"
            self.projection_panel.set_colour_mode("label", emit=False)
        self._colour_dim = self.projection_panel.colour_dim()
        self.view.set_marker(*self.projection_panel.marker())
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
        s.sync()

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
        # Tabified once the window runs: tabifying in the constructor leaves a stray tab bar (Qt).
        QTimer.singleShot(0, self._tabify_reconstruction_dock)
        self.models_changed.connect(self._update_reconstruction_context)
        self.embedding_shown.connect(lambda _r: self._update_reconstruction_context())
        self.view.selection_changed.connect(self._on_reconstruction_selection)
        for spin in (self.reconstruction_panel.steps_spin, self.reconstruction_panel.restarts_spin):
            spin.valueChanged.connect(lambda _v: self._update_gan_box())

    def _tabify_reconstruction_dock(self) -> None:
        if not self._layout_restored and self.dockWidgetArea(self.reconstruction_dock) == \
                self.dockWidgetArea(self.selection_dock):
            self.tabifyDockWidget(self.selection_dock, self.reconstruction_dock)
            self.selection_dock.raise_()

    def _update_reconstruction_context(self) -> None:
        entry = self.active_entry
        self.reconstruction_panel.set_context(entry.model if entry is not None else None, self.dataset,
                                              entry.name if entry is not None else "",
                                              model_hash=entry.file_hash if entry is not None else None,
                                              dataset_id=self._dataset_id, stores=self.inverted_stores)

    def _on_reconstruction_selection(self, indices) -> None:
        codes = self._shown_codes  # points → dataset images (none for prior samples)
        self.reconstruction_panel.set_selection(codes.dataset_indices(indices) if codes is not None else [])

    def shutdown(self, timeout_s: float = 5.0) -> bool:
        """Cancel every job, stop the projection workers and join every thread.

        Returns
        -------
        bool
            True when every job thread ended within ``timeout_s`` seconds.
        """
        self._closing = True
        if self._shut_down:
            return True
        self._shut_down = True
        self.runner.cancel_all()
        for worker in self._workers.values():
            worker.close()
        ok = self.runner.shutdown(timeout_s=timeout_s)
        self.view.close()  # stops its raster thread
        return ok

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if not self._closing:
            t0 = time.perf_counter()
            try:
                self.save_settings()
            except Exception:  # noqa: BLE001 - never block closing on settings
                log.exception("saving the settings failed")
            self.shutdown()
            log.info("main window closed in %.2f s", time.perf_counter() - t0)
        super().closeEvent(event)


def _wrap(text: str, width: int) -> str:
    """Wrap each line of ``text`` at word boundaries to at most ``width`` characters."""
    import textwrap

    return "\n".join("\n".join(textwrap.wrap(line, width)) or "" for line in text.split("\n"))
