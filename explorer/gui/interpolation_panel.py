"""Interpolation movies: keypoints from the embedding, the sliders or the prior; player, filmstrip, export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from explorer.core import sliders as core
from explorer.core.codes import prior_codes
from explorer.gui.images import to_pixmap
from explorer.gui.slider_panel import DecodedImageView

MOVIE_FILTER = "Animated GIF (*.gif);;MP4 movie (*.mp4)"
THUMB_PX = 56  # 28-px frames at 2×



def _point_label(codes, i: int) -> str:
    """Keypoint name of point ``i``: its dataset image (saying when z is inverted), or the prior sample."""
    if codes is None or not codes.of_dataset:
        return f"point #{i}"
    d = int(codes.dataset_indices([i])[0])
    return f"image #{d}" + (" (inverted z)" if codes.source == "inverted" else "")

class InterpolationPanel(QWidget):
    """Build a lerp/slerp path through two or more latent codes and play it.

    Keypoints come from the points selected on the embedding, the slider code or prior
    samples. The path is decoded with :func:`explorer.core.sliders.interpolation_movie`
    and exported with :func:`explorer.core.sliders.save_interpolation` (the functions
    ``latent-explorer render interpolation`` calls).

    Signals
    -------
    path_changed(object)
        The latent path ``(T, d)`` float32, or None when cleared.
    frame_changed(int)
        The frame shown by the player.
    """

    path_changed = Signal(object)
    frame_changed = Signal(int)
    add_selection_requested = Signal()
    add_slider_code_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = None
        self.keypoints: list[np.ndarray] = []
        self.path: np.ndarray | None = None
        self.frames: np.ndarray | None = None
        self.frame = 0
        self._prior_seed = 1000

        self.key_list = QListWidget()
        self.key_list.setMaximumHeight(90)
        self.add_selection_button = QPushButton("Add selected points")
        self.add_slider_button = QPushButton("Add slider code")
        self.add_prior_button = QPushButton("Add prior sample")
        self.clear_button = QPushButton("Clear")
        self.method_combo = QComboBox()
        self.method_combo.addItems(["slerp", "lerp"])
        self.method_combo.setToolTip("slerp suits a Gaussian prior (White 2016)")
        self.frames_spin = QSpinBox()
        self.frames_spin.setRange(2, 2000)
        self.frames_spin.setValue(60)
        self.closed_check = QCheckBox("Back to start")
        self.build_button = QPushButton("Build path")

        self.player = DecodedImageView(self)
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.prev_button = QPushButton("◀")
        self.next_button = QPushButton("▶")
        self.loop_check = QCheckBox("Loop")
        self.loop_check.setChecked(True)
        self.fps_spin = QDoubleSpinBox()
        self.fps_spin.setRange(1, 60)
        self.fps_spin.setValue(12)
        self.fps_spin.setSuffix(" fps")
        self.position = QSlider(Qt.Orientation.Horizontal)
        self.position.setRange(0, 0)
        self.frame_label = QLabel("no path")
        self.filmstrip = QListWidget()
        self.filmstrip.setViewMode(QListWidget.ViewMode.ListMode)
        self.filmstrip.setFlow(QListWidget.Flow.LeftToRight)
        self.filmstrip.setWrapping(False)
        self.filmstrip.setIconSize(QSize(THUMB_PX, THUMB_PX))
        self.filmstrip.setUniformItemSizes(True)
        self.filmstrip.setFixedHeight(THUMB_PX + 26)

        self.scale_spin = QDoubleSpinBox()
        self.scale_spin.setRange(1, 32)
        self.scale_spin.setValue(4)
        self.scale_spin.setPrefix("× ")
        self.upscale_combo = QComboBox()
        self.upscale_combo.addItems(["nearest", "smooth"])
        self.caption_edit = QLineEdit()
        self.caption_edit.setPlaceholderText("caption (optional)")
        self.export_button = QPushButton("Export…")
        self.status = QLabel("Pick two or more keypoints.")
        self.status.setWordWrap(True)

        keys = QHBoxLayout()
        for b in (self.add_selection_button, self.add_slider_button, self.add_prior_button, self.clear_button):
            keys.addWidget(b)
        build = QHBoxLayout()
        build.addWidget(self.method_combo)
        build.addWidget(QLabel("Frames"))
        build.addWidget(self.frames_spin)
        build.addWidget(self.closed_check)
        build.addWidget(self.build_button)
        play = QHBoxLayout()
        for w in (self.prev_button, self.play_button, self.next_button, self.loop_check, self.fps_spin):
            play.addWidget(w)
        play.addWidget(self.position, 1)
        play.addWidget(self.frame_label)
        export = QHBoxLayout()
        export.addWidget(QLabel("Scale"))
        export.addWidget(self.scale_spin)
        export.addWidget(self.upscale_combo)
        export.addWidget(self.caption_edit, 1)
        export.addWidget(self.export_button)
        left = QVBoxLayout()
        left.addLayout(keys)
        left.addWidget(self.key_list)
        left.addLayout(build)
        left.addLayout(play)
        left.addWidget(self.filmstrip)
        left.addLayout(export)
        left.addWidget(self.status)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(left, 3)
        lay.addWidget(self.player, 2)

        self.timer = QTimer(self)
        self.timer.timeout.connect(self._on_tick)
        self.add_selection_button.clicked.connect(self.add_selection_requested)
        self.add_slider_button.clicked.connect(self.add_slider_code_requested)
        self.add_prior_button.clicked.connect(self.add_prior_sample)
        self.clear_button.clicked.connect(self.clear)
        self.build_button.clicked.connect(self.build)
        self.play_button.toggled.connect(self._on_play_toggled)
        self.prev_button.clicked.connect(lambda: self.step(-1))
        self.next_button.clicked.connect(lambda: self.step(1))
        self.position.valueChanged.connect(self.show_frame)
        self.filmstrip.currentRowChanged.connect(lambda row: row >= 0 and self.show_frame(row))
        self.fps_spin.valueChanged.connect(self._on_fps_changed)
        self.export_button.clicked.connect(self._on_export_clicked)
        self._update_enabled()

    # ------------------------------------------------------------------ keypoints

    def set_model(self, model) -> None:
        """The model to decode with; clears keypoints and path."""
        self.model = model
        self.player.set_model(model)
        self.clear()

    def add_keypoint(self, z, label: str) -> None:
        """Append a latent code ``z`` ((d,)) to the keypoints."""
        if self.model is None:
            return
        z = np.asarray(z, dtype=np.float32).ravel()
        if len(z) != self.model.latent_dim:
            return
        self.keypoints.append(z.copy())
        self.key_list.addItem(f"{len(self.keypoints)}. {label}")
        self._update_enabled()

    def add_prior_sample(self) -> None:
        """Append a seeded sample from the prior p(z)."""
        if self.model is None:
            return
        self._prior_seed += 1
        self.add_keypoint(prior_codes(self.model, 1, seed=self._prior_seed)[0], f"prior sample (seed {self._prior_seed})")

    def clear(self) -> None:
        """Remove keypoints and the path."""
        self.play_button.setChecked(False)
        self.keypoints = []
        self.key_list.clear()
        self.path = self.frames = None
        self.filmstrip.clear()
        self.position.setRange(0, 0)
        self.frame_label.setText("no path")
        self.player.set_code(None)
        self._update_enabled()
        self.path_changed.emit(None)

    def method(self) -> str:
        return self.method_combo.currentText()

    # ------------------------------------------------------------------ path and player

    def build(self) -> bool:
        """Compute and decode the path through the keypoints; False if fewer than two."""
        if self.model is None or len(self.keypoints) < 2:
            self.status.setText("Pick two or more keypoints.")
            return False
        n = max(self.frames_spin.value(), len(self.keypoints))
        self.path, self.frames = core.interpolation_movie(self.model, np.stack(self.keypoints), n, self.method(),
                                                          closed=self.closed_check.isChecked())
        self.filmstrip.clear()
        for i, img in enumerate(self.frames):
            item = QListWidgetItem(QIcon(to_pixmap(img, THUMB_PX)), "")
            item.setToolTip(f"frame {i + 1}")
            self.filmstrip.addItem(item)
        self.position.setRange(0, n - 1)
        self.status.setText(f"{self.method()} path through {len(self.keypoints)} codes, {n} frames.")
        self._update_enabled()
        self.path_changed.emit(self.path.copy())
        self.frame = -1
        self.show_frame(0)
        return True

    def show_frame(self, i: int) -> None:
        """Show frame ``i`` of the path."""
        if self.path is None:
            return
        i = int(np.clip(i, 0, len(self.path) - 1))
        if i == self.frame:
            return
        self.frame = i
        self.player.set_code(self.path[i])
        self.frame_label.setText(f"{i + 1} / {len(self.path)}")
        for w, v in ((self.position, i), (self.filmstrip, i)):
            w.blockSignals(True)
            if w is self.position:
                w.setValue(v)
            else:
                w.setCurrentRow(v)
            w.blockSignals(False)
        self.frame_changed.emit(i)

    def step(self, delta: int) -> None:
        """Move ``delta`` frames (wraps around when looping)."""
        if self.path is None:
            return
        n = len(self.path)
        j = self.frame + int(delta)
        j = j % n if self.loop_check.isChecked() else int(np.clip(j, 0, n - 1))
        self.show_frame(j)

    def toggle_play(self) -> None:
        self.play_button.toggle()

    def export(self, path) -> Path:
        """Write the decoded path as GIF or MP4 with the panel's scale, upscaling, caption and fps."""
        if self.frames is None:
            raise ValueError("there is no interpolation to export; build a path first")
        return core.save_interpolation(path, self.frames, fps=self.fps_spin.value(), scale=self.scale_spin.value(),
                                       upscale=self.upscale_combo.currentText(),
                                       caption=self.caption_edit.text().strip() or None)

    # ------------------------------------------------------------------ slots

    def _update_enabled(self) -> None:
        has_model = self.model is not None
        for b in (self.add_selection_button, self.add_slider_button, self.add_prior_button):
            b.setEnabled(has_model)
        self.build_button.setEnabled(has_model and len(self.keypoints) >= 2)
        has_path = self.path is not None
        for w in (self.play_button, self.prev_button, self.next_button, self.export_button, self.position):
            w.setEnabled(has_path)

    def _on_play_toggled(self, on: bool) -> None:
        self.play_button.setText("Pause" if on else "Play")
        if on and self.path is not None:
            self.timer.start(int(round(1000 / self.fps_spin.value())))
        else:
            self.timer.stop()

    def _on_fps_changed(self, fps: float) -> None:
        if self.timer.isActive():
            self.timer.start(int(round(1000 / fps)))

    def _on_tick(self) -> None:
        if self.path is None:
            self.play_button.setChecked(False)
            return
        if self.frame >= len(self.path) - 1 and not self.loop_check.isChecked():
            self.play_button.setChecked(False)
            return
        self.step(1)

    def _on_export_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export interpolation", "interpolation.gif", MOVIE_FILTER)
        if not path:
            return
        try:
            out = self.export(path)
        except (ValueError, OSError, RuntimeError) as exc:
            self.status.setText(f"Could not export: {exc}")
            return
        self.status.setText(f"Wrote {out}.")


class LatentController:
    """Wires the slider, traversal and interpolation docks to a MainWindow (thin glue, no state of its own).

    - model or codes change → the panels get the active model, its codes and dimension scores
      (KL per dimension in nats for a VAE, computed as a job; else the codes' variance);
    - the slider code → a star on the embedding (PCA exact; UMAP by umap-learn's transform
      in the projection worker, as a job; t-SNE and cached embeddings without a transform:
      the nearest data point, labelled "nearest neighbour");
    - the interpolation path → a polyline on the embedding, the player's frame → the star.

    Parameters
    ----------
    window : explorer.gui.main_window.MainWindow
    slider_panel, traversal_view, interpolation_panel : the three panels.
    """

    MARKER_DELAY_MS = 30
    PLACE_RETRY_S = 3.0

    def __init__(self, window, slider_panel, traversal_view, interpolation_panel) -> None:
        self.window = window
        self.sliders = slider_panel
        self.traversal = traversal_view
        self.interp = interpolation_panel
        self._model = None
        self._codes = None
        self._placers: dict[int, tuple] = {}
        self._pending_marker = None
        self._marker_timer = QTimer(window)
        self._marker_timer.setSingleShot(True)
        self._marker_timer.timeout.connect(self._on_marker_timeout)
        window.models_changed.connect(self._on_models_changed)
        window.embedding_shown.connect(self._on_embedding_shown)
        window.view.selection_changed.connect(self._on_selection_changed)
        slider_panel.code_changed.connect(self._on_code_changed)
        slider_panel.from_selection_requested.connect(self._on_from_selection)
        slider_panel.traversal_requested.connect(self._on_traversal_requested)
        interpolation_panel.add_selection_requested.connect(self._on_add_selection)
        interpolation_panel.add_slider_code_requested.connect(
            lambda: self.interp.add_keypoint(self.sliders.code(), "slider code"))
        interpolation_panel.path_changed.connect(self._on_path_changed)
        interpolation_panel.frame_changed.connect(self._on_frame_changed)
        slider_panel.talk_requested.connect(lambda: self.start_talk_mode())
        self.talk_view = None
        talk = QAction("Talk mode", window)
        talk.setShortcut(QKeySequence(Qt.Key.Key_F11))
        talk.triggered.connect(lambda: self.start_talk_mode())
        window.addAction(talk)
        self.talk_action = talk

    def start_talk_mode(self, full_screen: bool = True) -> None:
        """Open talk mode (full screen) over the slider and interpolation panels."""
        from explorer.gui.talk_mode import TalkModeView

        if self._model is None:
            return
        if self.talk_view is None:
            self.talk_view = TalkModeView(self.sliders, self.interp, self.window)
        self.talk_view.start(full_screen=full_screen)

    # -- model and codes

    def _sync(self) -> None:
        entry = self.window.active_entry
        model = entry.model if entry is not None else None
        shown = self.window.shown_codes
        codes = shown.z if shown is not None and model is not None and shown.z.shape[1] == model.latent_dim else None
        if model is self._model and codes is self._codes:
            return
        model_changed = model is not self._model
        self._model, self._codes = model, codes
        self.sliders.set_model(model, codes)
        if model_changed:
            self.interp.set_model(model)
        self._update_traversal_source()
        if model is not None and shown is not None and shown.source == "encoder" \
                and callable(getattr(model, "posterior", None)):
            images = shown.images

            def kl(ctx):
                return core.dimension_scores(model, images=images, ctx=ctx)

            self.window._submit("slider-scores", kl, label="KL per latent dimension",
                                on_done=lambda s, m=model: self._on_scores(m, s))

    def _on_scores(self, model, scores) -> None:
        if model is self._model:
            self.sliders.set_scores(scores)
            self._update_traversal_source()

    def _update_traversal_source(self) -> None:
        if self._model is None:
            self.traversal.set_source(None, None, None)
        else:
            self.traversal.set_source(self._model, self.sliders.code(), self.sliders.ranges(), self.sliders.scores)

    def _on_models_changed(self) -> None:
        self._sync()

    def _on_embedding_shown(self, _result) -> None:
        self._placers.clear()
        self._sync()
        self._on_code_changed(self.sliders.code())
        self._on_path_changed(self.interp.path)

    # -- selection

    def _selected(self):
        shown = self.window.shown_codes
        sel = self.window.view.selection
        if shown is None or self._model is None or len(sel) == 0 or shown.z.shape[1] != self._model.latent_dim:
            return None, sel
        return shown.z, sel

    def _on_selection_changed(self, indices) -> None:
        self.sliders.set_selection_available(len(indices) > 0)

    def _on_from_selection(self) -> None:
        z, sel = self._selected()
        if z is not None:
            self.sliders.set_code(z[int(sel[0])], as_base=True)

    def _on_add_selection(self) -> None:
        z, sel = self._selected()
        if z is None:
            self.interp.status.setText("Select points on the embedding first (they become keypoints in order).")
            return
        shown = self.window.shown_codes
        for i in sel[:32]:
            self.interp.add_keypoint(z[int(i)], _point_label(shown, int(i)))

    def _on_traversal_requested(self) -> None:
        self._update_traversal_source()
        self.traversal.render()
        dock = getattr(self.window, "traversal_dock", None)
        if dock is not None:
            dock.show()
            dock.raise_()

    # -- marker and path on the embedding

    def _placer(self):
        """(place(points) -> (M, 2), kind, runs_remote) for the embedding shown, or None."""
        res, shown = self.window.shown_embedding, self.window.shown_codes
        if res is None or shown is None or self._model is None or shown.z.shape[1] != self._model.latent_dim:
            return None
        hit = self._placers.get(id(res))
        if hit is not None:
            return hit
        from explorer.core.projection import NearestNeighbourPlacement, make_estimator

        proj = getattr(res, "projection", None)
        out = None
        if proj is not None and proj.can_transform:
            out = (proj.transform, proj.transform_kind, proj.transform_kind == "umap-transform")
        elif res.spec.method == "pca":
            est = make_estimator(res.spec).fit(shown.z)
            probe = min(len(shown.z), 16)
            if np.allclose(est.transform(shown.z[:probe]), res.embedding[:probe], atol=1e-3):
                out = (est.transform, "exact", False)
        if out is None:
            nn = NearestNeighbourPlacement(shown.z, res.embedding)
            out = (nn.transform, "nearest-neighbour", False)
        self._placers[id(res)] = out
        return out

    def _on_code_changed(self, z) -> None:
        self._update_traversal_source()
        self._pending_marker = (np.asarray(z, np.float32), "slider code")
        if not self._marker_timer.isActive():
            self._marker_timer.start(self.MARKER_DELAY_MS)

    def _on_frame_changed(self, i: int) -> None:
        if self.interp.path is not None:
            self._pending_marker = (self.interp.path[i], f"frame {i + 1}")
            if not self._marker_timer.isActive():
                self._marker_timer.start(self.MARKER_DELAY_MS)

    def _on_marker_timeout(self) -> None:
        if self._pending_marker is None:
            return
        z, label = self._pending_marker
        self._pending_marker = None
        self._place(z[None], lambda xy, kind: self._show_marker(xy, label, kind), "latent-marker")

    def _show_marker(self, xy, label, kind) -> None:
        note = " (nearest neighbour)" if kind == "nearest-neighbour" else ""
        self.window.view.set_marker_point(tuple(np.asarray(xy)[0]), label + note)

    def _on_path_changed(self, path) -> None:
        if path is None:
            self.window.view.set_overlay_path(None)
            return
        self._place(np.asarray(path, np.float32), lambda xy, kind: self.window.view.set_overlay_path(xy),
                    "latent-path")

    def _place(self, points, done, kind_of_job: str) -> None:
        """Place codes on the embedding and call ``done(xy, kind)``; UMAP runs as a job of ``kind_of_job``.

        A newer request of the same job kind cancels an older one (the latest code wins);
        while the projection worker is busy (another placement, a fit) the job retries for
        up to ``PLACE_RETRY_S`` seconds, then falls back to the nearest data point.
        """
        placer = self._placer()
        if placer is None:
            return
        fn, kind, remote = placer
        if not remote:  # PCA (exact) or nearest neighbour: a few ms, on the GUI thread
            done(fn(points), kind)
            return
        from explorer.core.projection import NearestNeighbourPlacement, ProjectionWorkerBusy

        res = self.window.shown_embedding
        shown = self.window.shown_codes
        worker = self.window.projection_workers().get(res.spec.method)
        request_id = getattr(res.projection, "request_id", None)
        if worker is None or request_id is None or not worker.is_warm:
            # umap-learn's transform compiles numba for up to 40 s on first use and cannot be
            # interrupted: until the warm-up has done that, place the nearest data point.
            done(NearestNeighbourPlacement(shown.z, res.embedding).transform(points), "nearest-neighbour")
            return

        def run(ctx):
            import time

            deadline = time.monotonic() + self.PLACE_RETRY_S
            while True:
                ctx.check()
                try:
                    return worker.transform(request_id, points, timeout=self.PLACE_RETRY_S), kind
                except ProjectionWorkerBusy:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.02)
                except Exception:  # model evicted, worker restarted, timeout: the nearest data point
                    break
            return NearestNeighbourPlacement(shown.z, res.embedding).transform(points), "nearest-neighbour"

        def finish(result):
            if self.window.shown_embedding is res:
                done(*result)

        self.window._submit(kind_of_job, run, label="placing the latent code on the embedding",
                            on_done=finish)
