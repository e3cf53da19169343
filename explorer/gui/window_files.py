"""The window's File menu: models, datasets, sessions (save, open, recent), figure export, drag and drop."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox

from explorer.core import captions
from explorer.gui.dialogs import ask_save_path
from explorer.logs import log

__all__ = ["WindowFiles", "SESSION_FILTER", "MODEL_FILTER", "DATASET_SUFFIXES", "is_dataset_path"]

#: File-dialog filter of session files.
SESSION_FILTER = "Latent Explorer sessions (*.lxs);;All files (*)"
#: File-dialog filter of model files.
MODEL_FILTER = "Models (*.pt *.pth *.ckpt *.py *.ts *.jit);;All files (*)"
#: Dropped or chosen files with these endings are datasets, not models.
DATASET_SUFFIXES = (".npz", ".npy", ".gz", ".idx", "-ubyte")


def is_dataset_path(path: Path) -> bool:
    """True for a dropped or chosen file that is a dataset (a folder, .npz/.npy, IDX), not a model or session."""
    name = path.name.lower()
    return path.is_dir() or name.endswith(DATASET_SUFFIXES) or "ubyte" in name


class WindowFiles:
    """File dialogs, recent files and session files of a :class:`~explorer.gui.main_window.MainWindow`.

    Parameters
    ----------
    window : MainWindow
        Its ``session``, ``settings``, ``statusBar()`` and error dialog are used.
    """

    def __init__(self, window) -> None:
        self.window = window

    @property
    def session(self):
        return self.window.session

    # ------------------------------------------------------------------ menu

    def build_file_menu(self, menu) -> None:
        """Fill the File menu."""
        w = self.window
        self.open_model_action = QAction("&Open model…", w, shortcut=QKeySequence.StandardKey.Open)
        self.open_model_action.setStatusTip("Open checkpoints (.pt), Python adapters (.py) or TorchScript files")
        self.open_model_action.triggered.connect(self.open_model_dialog)
        menu.addAction(self.open_model_action)
        self.recent_menu = menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(lambda: self._fill_recent(self.recent_menu, "recent/models",
                                                                         "No recent models", self._open_model_path))
        open_dataset = QAction("Open &dataset file…", w)
        open_dataset.setStatusTip("Open a .npz / .npy file or an IDX file as the dataset")
        open_dataset.triggered.connect(self.open_dataset_dialog)
        menu.addAction(open_dataset)
        open_folder = QAction("Open dataset &folder…", w)
        open_folder.setStatusTip("Open a folder of IDX files or of class subfolders of images")
        open_folder.triggered.connect(self.open_dataset_folder_dialog)
        menu.addAction(open_folder)
        named = menu.addMenu("Open &named dataset")
        for text, args in (("Fashion-MNIST (test split)", ("fashion-mnist", "test")),
                           ("Fashion-MNIST (train split)", ("fashion-mnist", "train")),
                           ("Digits (scikit-learn, 8×8)", ("digits", None)),
                           ("dSprites (10,000 generated)", ("dsprites", None))):
            action = named.addAction(text)
            action.triggered.connect(lambda _checked=False, a=args: w.open_dataset(a[0], a[1]))
        self.resize_menu = menu.addMenu("Dataset resi&ze filter")
        self.resize_menu.setToolTip("How images are resized to a model's input size when they differ")
        self.resize_actions = {}
        for name, text in (("bilinear", "Bilinear, antialiased (as torchvision; default)"),
                           ("bicubic", "Bicubic, antialiased"), ("lanczos", "Lanczos, antialiased"),
                           ("nearest", "Nearest neighbour")):
            action = self.resize_menu.addAction(text)
            action.setCheckable(True)
            action.triggered.connect(lambda _checked=False, n=name: self.set_resize(n))
            self.resize_actions[name] = action
        self.resize_menu.aboutToShow.connect(self._check_resize)
        self.session.dataset_changed.connect(self._check_resize)
        self._check_resize()
        menu.addSeparator()
        self.open_session_action = QAction("Open &session…", w)
        self.open_session_action.setStatusTip("Open a saved session (.lxs): models, dataset, embedding, colouring")
        self.open_session_action.triggered.connect(self.open_session_dialog)
        menu.addAction(self.open_session_action)
        self.recent_sessions_menu = menu.addMenu("Recent sessio&ns")
        self.recent_sessions_menu.aboutToShow.connect(
            lambda: self._fill_recent(self.recent_sessions_menu, "recent/sessions", "No recent sessions",
                                      self.open_session))
        self.save_session_action = QAction("Sa&ve session", w, shortcut=QKeySequence.StandardKey.Save)
        self.save_session_action.triggered.connect(lambda: self.save_session())
        menu.addAction(self.save_session_action)
        self.save_session_as_action = QAction("Save session &as…", w, shortcut=QKeySequence.StandardKey.SaveAs)
        self.save_session_as_action.triggered.connect(lambda: self.save_session_dialog())
        menu.addAction(self.save_session_as_action)
        menu.addSeparator()
        self.close_model_action = QAction("&Close model", w, shortcut=QKeySequence.StandardKey.Close)
        self.close_model_action.triggered.connect(
            lambda: w.close_model(next((i for i, m in enumerate(self.session.models)
                                        if m.key == self.session.active_key), -1)))
        menu.addAction(self.close_model_action)
        menu.addSeparator()
        self.export_action = QAction("&Export view…", w, shortcut=QKeySequence("Ctrl+E"))
        self.export_action.setStatusTip("Save the embedding with its legend as PNG, SVG or PDF")
        self.export_action.triggered.connect(self.export_dialog)
        menu.addAction(self.export_action)
        menu.addSeparator()
        quit_action = QAction("&Quit", w, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(w.close)
        menu.addAction(quit_action)
        w.view.export_requested_handler = self.export_dialog

    def _check_resize(self, *_args) -> None:
        spec = self.session.dataset_spec
        current = spec.resize if spec is not None else "bilinear"
        for name, action in self.resize_actions.items():
            action.setChecked(name == current)

    def set_resize(self, name: str) -> int | None:
        """Dataset ▸ resize filter: open the dataset again with filter ``name`` (every model is encoded again).

        Returns the request id, or None when no dataset is open or it already uses that filter.
        """
        spec = self.session.dataset_spec
        self._check_resize()
        if spec is None or spec.resize == name:
            return None
        return self.window.open_dataset(spec.spec, spec.split, spec.limit, spec.seed, resize=name)

    # ------------------------------------------------------------------ recent files

    def recent(self, key: str = "recent/models") -> list[str]:
        """Recently opened files of one kind, newest first."""
        raw = self.window.settings.value(key, "[]")
        try:
            value = json.loads(raw) if isinstance(raw, str) else list(raw or [])
        except ValueError:
            value = []
        return [str(v) for v in value if isinstance(v, str)]

    def add_recent(self, path: Path, key: str = "recent/models") -> None:
        """Put ``path`` first in a recent list."""
        self.window.settings.setValue(key, json.dumps(captions.push_recent(self.recent(key), path)))

    def _fill_recent(self, menu, key: str, empty: str, opener) -> None:
        menu.clear()
        recent = self.recent(key)
        for path in recent:
            action = menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.setStatusTip(path)
            action.setEnabled(Path(path).exists())
            action.triggered.connect(lambda _checked=False, p=path: opener(p))
        if not recent:
            menu.addAction(empty).setEnabled(False)
        menu.addSeparator()
        clear = menu.addAction("Clear list")
        clear.setEnabled(bool(recent))
        clear.triggered.connect(lambda: self.window.settings.setValue(key, "[]"))

    def _open_model_path(self, path: str) -> None:
        self.window.open_models([path])

    # ------------------------------------------------------------------ dialogs

    def _start(self, key: str, name: str = "") -> str:
        folder = Path(str(self.window.settings.value(key, str(Path.home()))))
        return str(folder / name) if name else str(folder)

    def open_model_dialog(self) -> None:
        """File ▸ Open model…"""
        paths, _ = QFileDialog.getOpenFileNames(self.window, "Open model", self._start("paths/last_model_dir"),
                                                MODEL_FILTER)
        if paths:
            self.window.settings.setValue("paths/last_model_dir", str(Path(paths[0]).parent))
            self.window.open_models(paths)

    def open_dataset_dialog(self) -> None:
        """File ▸ Open dataset file…"""
        path, _ = QFileDialog.getOpenFileName(self.window, "Open dataset", self._start("paths/last_data_dir"),
                                              "Datasets (*.npz *.npy *.gz *-ubyte);;All files (*)")
        if path:
            self.window.settings.setValue("paths/last_data_dir", str(Path(path).parent))
            self.window.open_dataset(path)

    def open_dataset_folder_dialog(self) -> None:
        """File ▸ Open dataset folder…"""
        path = QFileDialog.getExistingDirectory(self.window, "Open dataset folder", self._start("paths/last_data_dir"))
        if path:
            self.window.settings.setValue("paths/last_data_dir", path)
            self.window.open_dataset(path)

    def export_dialog(self) -> None:
        """File ▸ Export view…"""
        w = self.window
        if w.shown_embedding is None:
            w._show_error("There is no embedding to export yet; open a model first.")
            return
        path = ask_save_path(w, "Export view", "embedding.png",
                             "PNG image (*.png);;SVG vector (*.svg);;PDF document (*.pdf)")
        if path:
            w.settings.setValue("paths/last_export_dir", str(Path(path).parent))
            size = {}
            if Path(path).suffix.lower() == ".png":
                size = png_size_dialog(w, w.settings)
                if size is None:
                    return
            try:
                w.export_view(path, **size)
                w.statusBar().showMessage(f"Wrote {path}", 5000)
            except (OSError, ValueError) as exc:
                log.exception("export to %s failed", path)
                w._show_error(f"Could not export the view to '{path}': {exc}")

    def open_dropped(self, paths: list[Path]) -> None:
        """Drag and drop: a session opens; datasets and models open as with the File menu."""
        sessions = [p for p in paths if p.suffix.lower() == ".lxs"]
        if sessions:
            self.open_session(sessions[-1])
            return
        datasets = [p for p in paths if is_dataset_path(p)]
        models = [p for p in paths if not is_dataset_path(p)]
        if datasets:
            self.window.open_dataset(str(datasets[-1]))
        if models:
            self.window.open_models(models)

    def show_log_location(self) -> None:
        """Help ▸ Where is the log file?"""
        from explorer.paths import log_path

        QMessageBox.information(self.window, "Log file", f"Details of every error are written to\n{log_path()}")

    def show_about(self) -> None:
        """Help ▸ About."""
        QMessageBox.about(self.window, "About Latent Explorer",
                          "Latent Explorer — explore the latent spaces of VAEs, GANs and ALI/BiGANs: "
                          "embeddings (PCA, UMAP, t-SNE), k-means with homogeneity, completeness and "
                          "V-measure, sliders, traversals, interpolations and reconstructions.")

    # ------------------------------------------------------------------ sessions

    def save_session_dialog(self, with_results: bool | None = None) -> Path | None:
        """File ▸ Save session as…; asks whether to store the results too."""
        w = self.window
        start = str(self.session.path) if self.session.path else self._start("paths/last_session_dir", "session.lxs")
        path, _ = QFileDialog.getSaveFileName(w, "Save session", start, SESSION_FILTER)
        if not path:
            return None
        if with_results is None:
            answer = QMessageBox.question(
                w, "Save session", "Also store the codes, embeddings and clusterings beside the session "
                "(a .results.npz), so it opens without recomputing on another machine?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
            with_results = answer == QMessageBox.StandardButton.Yes
        w.settings.setValue("paths/last_session_dir", str(Path(path).parent))
        return self.save_session(path, with_results)

    def save_session(self, path=None, with_results: bool | None = None) -> Path | None:
        """Save to ``path`` (default: the session's own file, or ask); ``with_results`` default: as it was opened
        or last saved. Returns the file, None if not saved."""
        from explorer.core.session.files import save_session

        w = self.window
        if path is None and self.session.path is None:
            return self.save_session_dialog()
        target = Path(path) if path is not None else self.session.path
        if with_results is None:
            with_results = self.session.with_results
        try:
            out = save_session(self.session, target, with_results=with_results)
        except OSError as exc:
            log.exception("saving the session to %s failed", target)
            w._show_error(f"Could not save the session to '{target}': {exc.strerror or exc}.")
            return None
        self.add_recent(out, "recent/sessions")
        w.statusBar().showMessage(f"Saved the session to {out}", 5000)
        w._update_title()
        return out

    def open_session_dialog(self) -> None:
        """File ▸ Open session…"""
        path, _ = QFileDialog.getOpenFileName(self.window, "Open session", self._start("paths/last_session_dir"),
                                              SESSION_FILTER)
        if path:
            self.window.settings.setValue("paths/last_session_dir", str(Path(path).parent))
            self.open_session(path)

    def open_session(self, path) -> bool:
        """Replace what the window shows by a session file; False (and one sentence) when it cannot be read."""
        from explorer.core.session.files import SessionFileError, read_session, restore_session

        w = self.window
        try:
            doc = read_session(path)
        except SessionFileError as exc:
            w._show_error(str(exc))
            return False
        if not self.confirm_discard():
            return False
        s = self.session
        while s.models:  # their jobs are cancelled
            w.close_model(0)
        s.reset()  # nothing of the old dataset stays (its results would be applied to it)
        tasks = restore_session(s, doc)  # the panels hear the restored settings from the session
        w.session_runner.submit_all(tasks)
        self.add_recent(Path(path), "recent/sessions")
        for note in s.notes:
            w._show_error(note)
        w._update_title()
        return True

    def confirm_discard(self) -> bool:
        """Ask before losing unsaved changes: True to go on (saved or discarded), False to stay.

        Only a window with ``ask_to_save`` asks (the app's; not a test's or a figure's).
        """
        w, s = self.window, self.session
        if not s.dirty or w._closing or not w.ask_to_save:
            return True
        name = f"The session '{s.path.name}'" if s.path is not None else "This session"
        answer = QMessageBox.question(
            w, "Latent Explorer", f"{name} has unsaved changes (selection, clustering, projection…). Save them?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Cancel:
            return False
        if answer == QMessageBox.StandardButton.Save:
            return self.save_session() is not None
        return True


def png_size_dialog(parent, settings) -> dict | None:
    """Ask the PNG's printed size: width in mm (0: the figure's own 900 px) and dpi; remembered.

    Returns
    -------
    dict or None
        ``{"width_mm": float | None, "dpi": float}`` for `MainWindow.export_view`, or None when
        the user cancels.
    """
    from PySide6.QtWidgets import QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLabel, QSpinBox

    dlg = QDialog(parent)
    dlg.setWindowTitle("PNG size")
    form = QFormLayout(dlg)
    width = QDoubleSpinBox(dlg)
    width.setRange(0, 2000)
    width.setDecimals(1)
    width.setSuffix(" mm")
    width.setSpecialValueText("figure size (900 × 680 px at the dpi's scale)")
    width.setValue(float(settings.value("export/png_width_mm", 0.0)))
    dpi = QSpinBox(dlg)
    dpi.setRange(72, 1200)
    dpi.setSuffix(" dpi")
    dpi.setValue(int(settings.value("export/png_dpi", 300)))
    form.addRow("Printed width", width)
    form.addRow("Resolution", dpi)
    form.addRow(QLabel("A one-column figure is about 85 mm wide, a two-column one about 170 mm.", dlg))
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, dlg)
    buttons.accepted.connect(dlg.accept)
    buttons.rejected.connect(dlg.reject)
    form.addRow(buttons)
    if dlg.exec() != QDialog.DialogCode.Accepted:
        return None
    settings.setValue("export/png_width_mm", width.value())
    settings.setValue("export/png_dpi", dpi.value())
    return {"width_mm": width.value() or None, "dpi": float(dpi.value())}
