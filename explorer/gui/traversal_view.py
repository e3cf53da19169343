"""Traversal grid: one row per latent dimension, columns across its range, from the current code."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from explorer.core.figures import render_grid_figure
from explorer.core.latent import sliders as core
from explorer.gui.dialogs import ask_save_path

FILE_FILTER = "PNG image (*.png);;SVG figure (*.svg);;PDF figure (*.pdf);;Animated GIF (*.gif);;MP4 movie (*.mp4)"


def parse_dims(text: str, latent_dim: int) -> list[int] | None:
    """Dimensions typed by the user ("3, 0, 7" or "0-4"); None for an empty field.

    Raises
    ------
    ValueError
        A dimension that is not a whole number in ``0..latent_dim-1``.
    """
    text = text.strip()
    if not text:
        return None
    out: list[int] = []
    for part in text.replace(" ", ",").split(","):
        if not part:
            continue
        if "-" in part[1:]:
            a, b = part.split("-", 1)
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    bad = [k for k in out if not 0 <= k < latent_dim]
    if bad or not out:
        raise ValueError(f"latent dimensions must lie in 0..{latent_dim - 1}, got {bad or text!r}")
    return out


class TraversalView(QWidget):
    """The classic β-VAE traversal figure of the current code, shown and exported.

    What is shown is the same picture :func:`explorer.core.latent.sliders.save_traversal` writes
    to PNG (same layout and pixels), and the export calls that function.

    Signals
    -------
    figure_changed()
        A new grid was rendered.
    """

    figure_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = None
        self.scores: core.DimensionScores | None = None
        self.directions = None  # rows along these Directions instead of dimensions (see set_source)
        self._z = None
        self._ranges = None
        self.images = None
        self.figure = None  # PIL image of the last render

        self.rows_spin = QSpinBox()
        self.rows_spin.setRange(1, 64)
        self.rows_spin.setValue(core.DEFAULT_ROWS)
        self.rows_spin.setToolTip("How many dimensions (most active first) when no dimensions are typed")
        self.dims_edit = QLineEdit()
        self.dims_edit.setPlaceholderText("dims, e.g. 3,0,7 (default: most active)")
        self.cols_spin = QSpinBox()
        self.cols_spin.setRange(2, 32)
        self.cols_spin.setValue(core.DEFAULT_COLUMNS)
        self.scale_spin = QDoubleSpinBox()
        self.scale_spin.setRange(0.5, 16)
        self.scale_spin.setValue(2)
        self.scale_spin.setDecimals(1)
        self.upscale_combo = QComboBox()
        self.upscale_combo.addItems(["nearest", "smooth"])
        self.render_button = QPushButton("Render")
        self.export_button = QPushButton("Export…")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.picture)

        row = QHBoxLayout()
        for text, w in (("Rows", self.rows_spin), ("Columns", self.cols_spin), ("Scale", self.scale_spin)):
            row.addWidget(QLabel(text))
            row.addWidget(w)
        row.addWidget(self.upscale_combo)
        row2 = QHBoxLayout()
        row2.addWidget(self.dims_edit, 1)
        row2.addWidget(self.render_button)
        row2.addWidget(self.export_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(row)
        lay.addLayout(row2)
        lay.addWidget(self.status)
        lay.addWidget(scroll, 1)

        self.render_button.clicked.connect(self.render)
        self.export_button.clicked.connect(self._on_export_clicked)
        self.dims_edit.returnPressed.connect(self.render)
        self.export_button.setEnabled(False)

    def set_source(self, model, z, ranges, scores: core.DimensionScores | None = None, directions=None) -> None:
        """The model, base code ``z`` ((d,)), slider ranges ((d, 2)) and scores to render from.

        With ``directions`` (a list of `Direction`, the sliders' chosen GANSpace / SeFa /
        attribute directions) the rows move ``z`` along them instead of along dimensions.
        """
        self.model = model
        self._z = None if z is None else np.asarray(z, dtype=np.float32).copy()
        self._ranges = None if ranges is None else np.asarray(ranges, dtype=np.float64).copy()
        self.scores = scores
        self.directions = list(directions) if directions else None

    def dims(self) -> list[int]:
        """Dimensions of the rows: typed ones, else the most active ``Rows`` dimensions."""
        d = int(self.model.latent_dim)
        typed = parse_dims(self.dims_edit.text(), d)
        if typed is not None:
            return typed
        order = self.scores.order if self.scores is not None else np.arange(d)
        return [int(k) for k in order[: self.rows_spin.value()]]

    def settings(self) -> dict:
        """``{"rows", "dims", "columns", "scale", "upscale"}`` of the panel (what a session file keeps)."""
        return {"rows": self.rows_spin.value(), "dims": self.dims_edit.text().strip(),
                "columns": self.cols_spin.value(), "scale": self.scale_spin.value(),
                "upscale": self.upscale_combo.currentText()}

    def apply_settings(self, settings: dict) -> None:
        """Set the panel from :meth:`settings`-like values (without signals; bad values are ignored)."""
        widgets = (self.rows_spin, self.dims_edit, self.cols_spin, self.scale_spin, self.upscale_combo)
        for w in widgets:
            w.blockSignals(True)
        try:
            if isinstance(settings.get("rows"), int):
                self.rows_spin.setValue(settings["rows"])
            if isinstance(settings.get("dims"), str):
                self.dims_edit.setText(settings["dims"])
            if isinstance(settings.get("columns"), int):
                self.cols_spin.setValue(settings["columns"])
            if isinstance(settings.get("scale"), (int, float)):
                self.scale_spin.setValue(float(settings["scale"]))
            if settings.get("upscale") in ("nearest", "smooth"):
                self.upscale_combo.setCurrentText(settings["upscale"])
        finally:
            for w in widgets:
                w.blockSignals(False)

    def options(self) -> dict:
        """Keyword arguments of :func:`explorer.core.latent.sliders.save_traversal` for the current settings."""
        return dict(n_cols=self.cols_spin.value(), scores=self.scores, scale=self.scale_spin.value(),
                    upscale=self.upscale_combo.currentText())

    def render(self) -> bool:
        """Decode and show the grid; False (with a note) when there is nothing to render."""
        if self.model is None or self._z is None:
            self.status.setText("Open a model first.")
            return False
        try:
            dims = self.dims()
        except ValueError as exc:
            self.status.setText(str(exc))
            return False
        o = self.options()
        if self.directions:
            from explorer.core.latent.direction_traversal import direction_traversal_figure

            self.images, rows, cols = direction_traversal_figure(self.model, self._z, self.directions, o["n_cols"])
            dims = self.directions
        else:
            self.images, rows, cols = core.traversal_figure(self.model, self._z, dims, self._ranges, o["n_cols"],
                                                           o["scores"])
        self.figure, _, _ = render_grid_figure(self.images, rows, cols, None, scale=o["scale"],
                                               upscale=o["upscale"])
        fig = self.figure.convert("RGB")
        data = fig.tobytes()
        qimg = QImage(data, fig.width, fig.height, 3 * fig.width, QImage.Format.Format_RGB888).copy()
        self.picture.setPixmap(QPixmap.fromImage(qimg))
        what = "directions (±3 × scale)" if self.directions else "dimensions"
        self.status.setText(f"{len(dims)} {what} × {o['n_cols']} values, from the slider code.")
        self.export_button.setEnabled(True)
        self.figure_changed.emit()
        return True

    def export(self, path) -> Path:
        """Write the grid (PNG/SVG/PDF) or the animated traversal (GIF/MP4) for the current settings."""
        if self.model is None or self._z is None:
            raise ValueError("there is no traversal to export; open a model first")
        return core.save_traversal(path, self.model, self._z, self.dims(), self._ranges, **self.options(),
                                   directions=self.directions)

    #: A :class:`~explorer.gui.session_runner.SessionRunner` that runs exports as jobs (set by the window);
    #: None writes on the GUI thread.
    export_runner = None

    def _on_export_clicked(self) -> None:
        path = ask_save_path(self, "Export traversal", "traversal.png", FILE_FILTER)
        if not path:
            return
        if self.export_runner is not None and self.model is not None and self._z is not None:
            try:
                dims = self.dims()
            except ValueError as exc:
                self.status.setText(f"Could not export: {exc}")
                return
            model, z, ranges, options = self.model, self._z.copy(), self._ranges.copy(), self.options()
            directions = self.directions

            def write(ctx):
                return core.save_traversal(path, model, z, dims, ranges, ctx=ctx, **options, directions=directions)

            self.status.setText(f"Writing {path}…")
            self.export_runner.submit_job("export-traversal", write, label=f"Writing {os.path.basename(path)}",
                                          on_done=lambda out: self.status.setText(f"Wrote {out}."))
            return
        try:
            out = self.export(path)
        except (ValueError, OSError) as exc:
            self.status.setText(f"Could not export: {exc}")
            return
        self.status.setText(f"Wrote {out}.")
