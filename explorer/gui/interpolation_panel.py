"""Interpolation movies: keypoints from the embedding, the sliders or the prior; player, filmstrip, export."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
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

from explorer.core.codes import prior_codes
from explorer.core.latent import sliders as core
from explorer.gui.dialogs import ask_save_path
from explorer.gui.images import to_pixmap
from explorer.gui.slider_panel import DecodedImageView

MOVIE_FILTER = "Animated GIF (*.gif);;MP4 movie (*.mp4)"
THUMB_PX = 56  # 28-px frames at 2×



class InterpolationPanel(QWidget):
    """Build a lerp/slerp path through two or more latent codes and play it.

    Keypoints come from the points selected on the embedding, the slider code or prior
    samples. The path is decoded with :func:`explorer.core.latent.sliders.interpolation_movie`
    and exported with :func:`explorer.core.latent.sliders.save_interpolation` (the functions
    ``latent-explorer render interpolation`` calls).

    Signals
    -------
    path_changed(object)
        The latent path ``(T, d)`` float32, or None when cleared.
    frame_changed(int)
        The frame shown by the player.
    keypoints_changed()
        A keypoint was added, or they were cleared (:attr:`keypoints`, :attr:`labels`).
    settings_changed()
        lerp/slerp, frames, "back to start" or fps changed (:meth:`settings`).
    """

    path_changed = Signal(object)
    frame_changed = Signal(int)
    keypoints_changed = Signal()
    settings_changed = Signal()
    add_selection_requested = Signal()
    add_slider_code_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = None
        self.keypoints: list[np.ndarray] = []
        self.labels: list[str] = []
        self.dataset_indices: list[int | None] = []
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
        self.method_combo.currentIndexChanged.connect(lambda _i: self.settings_changed.emit())
        self.frames_spin.valueChanged.connect(lambda _v: self.settings_changed.emit())
        self.closed_check.toggled.connect(lambda _on: self.settings_changed.emit())
        self.fps_spin.valueChanged.connect(lambda _v: self.settings_changed.emit())
        self.export_button.clicked.connect(self._on_export_clicked)
        self._update_enabled()

    # ------------------------------------------------------------------ keypoints

    def set_model(self, model) -> None:
        """The model to decode with; clears keypoints and path."""
        self.model = model
        self.player.set_model(model)
        self.clear()

    def add_keypoint(self, z, label: str, dataset_index: int | None = None) -> None:
        """Append a latent code ``z`` ((d,)) to the keypoints (``dataset_index``: the image it came from)."""
        if self.model is None:
            return
        z = np.asarray(z, dtype=np.float32).ravel()
        if len(z) != self.model.latent_dim:
            return
        self.keypoints.append(z.copy())
        self.labels.append(str(label))
        self.dataset_indices.append(None if dataset_index is None else int(dataset_index))
        self.key_list.addItem(f"{len(self.keypoints)}. {label}")
        self._update_enabled()
        self.keypoints_changed.emit()

    def add_prior_sample(self) -> None:
        """Append a seeded sample from the prior p(z)."""
        if self.model is None:
            return
        self._prior_seed += 1
        self.add_keypoint(prior_codes(self.model, 1, seed=self._prior_seed)[0],
                          f"prior sample (seed {self._prior_seed})")

    def clear(self) -> None:
        """Remove keypoints and the path."""
        self.play_button.setChecked(False)
        had = bool(self.keypoints)
        self.keypoints, self.labels, self.dataset_indices = [], [], []
        self.key_list.clear()
        self.path = self.frames = None
        self.filmstrip.clear()
        self.position.setRange(0, 0)
        self.frame_label.setText("no path")
        self.player.set_code(None)
        self._update_enabled()
        self.path_changed.emit(None)
        if had:
            self.keypoints_changed.emit()

    def method(self) -> str:
        """"slerp" or "lerp"."""
        return self.method_combo.currentText()

    def settings(self) -> dict:
        """``{"method", "frames", "closed", "fps"}`` of the panel (what a session file keeps)."""
        return {"method": self.method(), "frames": self.frames_spin.value(), "closed": self.closed_check.isChecked(),
                "fps": self.fps_spin.value()}

    def apply_settings(self, settings: dict) -> None:
        """Set the panel from :meth:`settings`-like values (unknown or bad values are ignored)."""
        widgets = (self.method_combo, self.frames_spin, self.closed_check, self.fps_spin)
        for w in widgets:
            w.blockSignals(True)
        try:
            if settings.get("method") in ("slerp", "lerp"):
                self.method_combo.setCurrentText(settings["method"])
            if isinstance(settings.get("frames"), int):
                self.frames_spin.setValue(settings["frames"])
            if isinstance(settings.get("closed"), bool):
                self.closed_check.setChecked(settings["closed"])
            if isinstance(settings.get("fps"), (int, float)):
                self.fps_spin.setValue(float(settings["fps"]))
        finally:
            for w in widgets:
                w.blockSignals(False)

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

    #: A :class:`~explorer.gui.session_runner.SessionRunner` that runs exports as jobs (set by the window);
    #: None writes on the GUI thread.
    export_runner = None

    def _on_export_clicked(self) -> None:
        path = ask_save_path(self, "Export interpolation", "interpolation.gif", MOVIE_FILTER)
        if not path:
            return
        if self.export_runner is not None and self.frames is not None:
            frames, fps, scale = self.frames, self.fps_spin.value(), self.scale_spin.value()
            upscale, caption = self.upscale_combo.currentText(), self.caption_edit.text().strip() or None

            def write(ctx):
                return core.save_interpolation(path, frames, fps=fps, scale=scale, upscale=upscale, caption=caption,
                                               ctx=ctx)

            self.status.setText(f"Writing {path}…")
            self.export_runner.submit_job("export-interpolation", write, label=f"Writing {os.path.basename(path)}",
                                          on_done=lambda out: self.status.setText(f"Wrote {out}."))
            return
        try:
            out = self.export(path)
        except (ValueError, OSError, RuntimeError) as exc:
            self.status.setText(f"Could not export: {exc}")
            return
        self.status.setText(f"Wrote {out}.")
