"""The Compare view: 2–4 models' embeddings as small multiples, linked hover and selection, one colouring."""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from explorer.core.compare.align import ALIGNMENTS
from explorer.core.session import Session
from explorer.gui.colors import categorical_palette, continuous_colors, label_colors, plain_ticks
from explorer.gui.compare_tabs import HoverStrip, SameImagesView, ScorecardView, SyncedInterpolationView
from explorer.gui.embedding_view import EmbeddingView

__all__ = ["CompareView", "ComparePresenter", "CompareMode", "ALIGN_TEXT"]

#: What the alignment menu says for each method.
ALIGN_TEXT = {"none": "Not aligned (each as computed)",
              "procrustes": "Procrustes onto the first (rotate/flip only)",
              "aligned-umap": "AlignedUMAP (fitted on all models)"}


class CompareView(QWidget):
    """Small multiples of the compared models' embeddings, their controls and the hover strip.

    The widget only draws; `ComparePresenter` keeps it in line with the session.

    Signals
    -------
    align_requested(str)
        The user chose an alignment (:data:`explorer.core.compare.align.ALIGNMENTS`).
    colour_model_requested(str)
        The user chose the model whose clusters / latent dimension colour every view (a key).
    """

    align_requested = Signal(str)
    colour_model_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None, threaded: bool = True) -> None:
        super().__init__(parent)
        self._threaded = threaded
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Align:", self))
        self.align_combo = QComboBox(self)
        for method in ALIGNMENTS:
            self.align_combo.addItem(ALIGN_TEXT[method], method)
        self.align_combo.setToolTip("Procrustes may only rotate and flip (and shift) each embedding onto the "
                                    "first model's, on the dataset images both show; distances are unchanged.")
        self.align_combo.activated.connect(lambda i: self.align_requested.emit(self.align_combo.itemData(i)))
        bar.addWidget(self.align_combo)
        bar.addSpacing(16)
        bar.addWidget(QLabel("Clusters / z[dim] of:", self))
        self.colour_combo = QComboBox(self)
        self.colour_combo.setToolTip("With colour by k-means cluster or latent dimension, every view is "
                                     "coloured by this model's clusters or z[dim], matched by dataset image.")
        self.colour_combo.activated.connect(
            lambda i: self.colour_model_requested.emit(self.colour_combo.itemData(i)))
        bar.addWidget(self.colour_combo)
        bar.addStretch(1)
        self.summary = QLabel("", self)
        self.summary.setStyleSheet("color: #444;")
        bar.addWidget(self.summary)
        self.invert_button = QPushButton("Invert images for GANs", self)
        self.invert_button.setToolTip("GANs without encoder take part through the codes of the same dataset "
                                      "images found by GAN inversion (a seeded sample of this many images)")
        self.invert_spin = QSpinBox(self)
        self.invert_spin.setRange(10, 100_000)
        self.invert_spin.setValue(500)
        self.invert_spin.setSingleStep(100)
        bar.addWidget(self.invert_button)
        bar.addWidget(self.invert_spin)
        self.invert_button.hide()
        self.invert_spin.hide()
        outer.addLayout(bar)
        self.tabs = QTabWidget(self)
        outer.addWidget(self.tabs, 1)
        page = QWidget(self)
        self.tabs.addTab(page, "Embeddings")
        self.interpolation = SyncedInterpolationView(parent=self)
        self.tabs.addTab(self.interpolation, "Interpolation")
        self.scorecard = ScorecardView(self)
        self.tabs.addTab(self.scorecard, "Scorecard")
        self.same_images = SameImagesView(self)
        self.tabs.addTab(self.same_images, "Same images")
        outer = QVBoxLayout(page)
        outer.setContentsMargins(0, 4, 0, 0)
        self.legend = QLabel("", self)  # one legend for every view: they share the colouring
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        outer.addWidget(self.legend)
        self.grid = QGridLayout()
        self.grid.setSpacing(6)
        outer.addLayout(self.grid, 1)
        self.message = QLabel("", self)
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #555;")
        self.message.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        outer.addWidget(self.message)
        self.strip = HoverStrip(parent=self)
        outer.addWidget(self.strip)
        self.views: list[EmbeddingView] = []
        self.notes: list[QLabel] = []

    #: Emitted (debounced) after the view was resized: the presenter refits the plots.
    resized = Signal()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self.resized.emit()

    def set_count(self, n: int) -> list[EmbeddingView]:
        """Have ``n`` embedding views (1×2, 1×3 or 2×2), reusing the ones there are."""
        while len(self.views) > n:
            view, note = self.views.pop(), self.notes.pop()
            self.grid.removeWidget(view)
            self.grid.removeWidget(note)
            view.close()
            view.deleteLater()
            note.deleteLater()
        while len(self.views) < n:
            view = EmbeddingView(self, threaded=self._threaded)
            view.setMinimumSize(240, 220)
            for axis in ("bottom", "left"):
                plain_ticks(view.plot_item.getAxis(axis))
            note = QLabel("", self)
            note.setWordWrap(True)
            note.setStyleSheet("color: #555; font-size: 11px;")
            self.views.append(view)
            self.notes.append(note)
        columns = 2 if n == 4 else max(n, 1)
        for i, (view, note) in enumerate(zip(self.views, self.notes, strict=True)):
            r, c = divmod(i, columns)
            self.grid.addWidget(view, 2 * r, c)
            self.grid.addWidget(note, 2 * r + 1, c)
        return self.views


class ComparePresenter(QObject):
    """Keeps a `CompareView` in line with the session's Compare mode.

    Everything it draws comes from :meth:`Session.compare_panels`, :meth:`Session.compare_colouring`,
    the session's selection (dataset indices) and hovered image. A hover or a selection in one
    view goes to the session, which every view then shows.
    """

    def __init__(self, session: Session, view: CompareView, runner=None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.view, self.runner = session, view, runner
        self.panels = []
        self._legend_entries: dict = {}
        self._legend_title = ""
        self._fitted_for: tuple = ()
        self._updating = False
        s = session
        self._links = [(s.compare_changed, self.refresh), (s.models_changed, self.refresh),
                       (s.dataset_changed, self.refresh), (s.codes_changed, self._on_model_event),
                       (s.embedding_changed, self._on_model_event), (s.clustering_changed, self._on_model_event),
                       (s.colouring_changed, self.refresh), (s.marker_changed, self._on_marker),
                       (s.selection_changed, self._show_selection), (s.hover_changed, self._on_hover_changed),
                       (s.settings_changed, self._on_settings), (s.scorecard_changed, self._on_scorecard)]
        for signal, slot in self._links:
            signal.connect(slot)
        view.align_requested.connect(self._on_align)
        view.invert_button.clicked.connect(self._on_invert)
        view.interpolation.interpolate_requested.connect(self.interpolate)
        view.interpolation.frames_spin.valueChanged.connect(
            lambda v: s.update_settings("interpolation", frames=int(v)))  # one interpolation setting
        view.interpolation.export_requested.connect(self.export_interpolation)
        view.scorecard.compute_requested.connect(self.compute_scorecard)
        view.scorecard.export_requested.connect(self.export_scorecard)
        view.same_images.rd_requested.connect(self.compute_rd)
        view.same_images.n_show.valueChanged.connect(lambda _v: self._show_same_images())
        view.same_images.precision_combo.activated.connect(lambda _i: self._show_same_images())
        view.colour_model_requested.connect(lambda key: s.set_compare(colour_key=key))
        self._wired: set[int] = set()
        self._strip_timer = QTimer(self, singleShot=True, interval=40)
        self._strip_timer.timeout.connect(self.update_strip)
        # a plot fitted while the grid was still being laid out shows part of its points: refit after resizes
        self._fit_timer = QTimer(self, singleShot=True, interval=150)
        self._fit_timer.timeout.connect(self.fit_views)
        view.resized.connect(self._fit_timer.start)

    def close(self) -> None:
        """Stop observing the session."""
        for signal, slot in self._links:
            signal.disconnect(slot)
        self._links = []

    @property
    def active(self) -> bool:
        """The session shows the Compare view."""
        return bool(self.session.compare_mode)

    def _on_model_event(self, key: str) -> None:
        if self.active and key in self.session.compared_keys():
            self.refresh()

    def _on_align(self, method: str) -> None:
        s = self.session
        s.set_compare(align=method)
        if method == "aligned-umap":
            task = s.aligned_umap_task()
            if task is not None and self.runner is not None:
                self.runner.submit(task)

    def compute_scorecard(self, n: int, precisions: tuple) -> None:
        """Measure the compared models on the same N images (a job)."""
        from explorer.core.reconstruction.quantize import parse_precision

        sv = self.view.scorecard
        try:
            for p in precisions:
                parse_precision(p)
        except ValueError as exc:
            sv.notes.setText(f"Precision: {exc}.")
            return
        task = self.session.scorecard_task(n, precisions or ("float32",))
        if task is None:
            sv.notes.setText("Open a dataset and the models to compare first.")
            return
        sv.notes.setText(f"{task.label}…")
        if self.runner is not None:
            self.runner.submit(task)
        else:
            self.session.run(task)

    def _on_scorecard(self) -> None:
        sc = self.session.scorecard
        if sc is None:
            return
        self.view.scorecard.show_card(sc["card"])
        combo = self.view.same_images.precision_combo
        precisions = list(sc["comparison"].settings.get("precisions", ()))
        if [combo.itemText(i) for i in range(combo.count())] != precisions:
            combo.clear()
            combo.addItems(precisions)
        self._show_same_images()
        rows = sc.get("rd")
        if rows is not None:
            from explorer.gui.compare_figures import fill_rate_distortion

            c = sc["comparison"]
            n = rows[0]["n_images"] if rows else 0
            split = f" ({c.dataset.split})" if c.dataset.split else ""
            fill_rate_distortion(self.view.same_images.rd_plot, rows,
                                 f"{len(c.runs)} models on {c.dataset.name}{split}, {n:,} images")

    def _show_same_images(self) -> None:
        """The reconstructions page of the scorecard's first images at the chosen precision."""
        sc, si = self.session.scorecard, self.view.same_images
        if sc is None:
            return
        from explorer.core.compare.pages import reconstructions_page
        from explorer.core.compare.report import reconstruction_grid

        c = sc["comparison"]
        try:
            rows = reconstruction_grid(c, si.n_show.value(), max(0, si.precision_combo.currentIndex()))
        except ValueError as exc:
            si.status.setText(str(exc))
            return
        si.show_page(reconstructions_page(rows, f"The same {len(rows[0]['indices'])} images through every model", 2.0))
        si.status.setText(f"The first {len(rows[0]['indices'])} of the scorecard's {c.n_images:,} images (seed "
                          f"{c.settings.get('seed', 0)}): originals, then each model's reconstruction with its PSNR "
                          "(dB) and SSIM; a GAN's through its inverted code.")

    def compute_rd(self, n: int) -> None:
        """Rate–distortion curves of the scorecard's models (a job)."""
        task = self.session.compare_rd_task(n)
        if task is None:
            self.view.same_images.status.setText("Compute the scorecard (with reconstruction) first.")
            return
        if self.runner is not None:
            self.runner.submit(task)
        else:
            self.session.run(task)

    def export_scorecard(self, path: str) -> None:
        """Write the scorecard (.csv, .json, .md, .tex) and say where."""
        try:
            out = self.session.export_scorecard(path)
        except (OSError, ValueError) as exc:
            self.view.scorecard.notes.setText(f"Could not export: {exc}")
            return
        self.view.scorecard.notes.setText(f"Wrote {out}.")

    def _on_settings(self, group: str) -> None:
        if group == "interpolation":
            spin = self.view.interpolation.frames_spin
            frames = int(self.session.settings.get("interpolation", {}).get("frames", 30))
            if spin.value() != frames:
                spin.blockSignals(True)
                spin.setValue(frames)
                spin.blockSignals(False)

    def _on_invert(self) -> None:
        tasks = self.session.compare_inversion_tasks(self.view.invert_spin.value())
        if self.runner is not None:
            self.runner.submit_all(tasks)

    def interpolate(self, frames: int) -> None:
        """Interpolate between the first two selected dataset images in every compared model."""
        s, iv = self.session, self.view.interpolation
        sel = s.selection
        if len(sel) < 2:
            iv.status.setText(f"Select two images first ({len(sel)} selected): the two lowest dataset indices "
                              "of the selection are the ends.")
            return
        method = s.settings.get("interpolation", {}).get("method", "slerp")
        try:
            runs = s.compare_interpolation(int(sel[0]), int(sel[1]), frames, method)
        except ValueError as exc:
            iv.status.setText(str(exc))
            return
        iv.set_runs(runs, float(s.settings.get("interpolation", {}).get("fps", 12)))
        iv.status.setText(f"{method} from image #{sel[0]} to #{sel[1]}, {frames} frames, in every compared "
                          "model; drag the slider or play.")

    def export_interpolation(self, path: str) -> None:
        """Write the synced frames side by side as a GIF/MP4 (a job), captioned with the models."""
        from explorer.core.latent.movie import write_movie

        runs = [r for r in self.view.interpolation.runs if r.frames is not None]
        if not runs:
            return
        grid = np.stack([r.frames for r in runs], axis=1)[:, None]  # (T, 1, M, C, H, W)
        caption = " | ".join(r.name for r in runs)
        fps = float(self.session.settings.get("interpolation", {}).get("fps", 12))
        iv = self.view.interpolation

        def write(ctx):
            return write_movie(path, grid, fps=fps, scale=4, caption=caption, ctx=ctx)

        if self.runner is not None:
            self.runner.submit_job("compare-movie", write, label="Writing the synced interpolation",
                                   on_done=lambda p: iv.status.setText(f"Wrote {p}"))
        else:
            iv.status.setText(f"Wrote {write(None)}")

    def _on_marker(self) -> None:
        for view in self.view.views:
            view.set_marker(*self.session.marker)

    def refresh(self) -> None:
        """Redraw every compared model's embedding (when the Compare view is shown)."""
        if not self.active:
            return
        s = self.session
        panels = s.compare_panels()
        self.panels = panels
        views = self.view.set_count(len(panels))
        self._legend_entries, self._legend_title = {}, ""
        linked = [i for i, p in enumerate(panels) if p.linked]
        last_linked = linked[-1] if linked else len(panels) - 1  # the shared colour bar: a linked panel's range
        for i, view in enumerate(views):
            if id(view) not in self._wired:
                view.hovered.connect(lambda point, v=view: self._on_view_hovered(v, point))
                view.selection_changed.connect(lambda pts, v=view: self._on_view_selection(v, pts))
                self._wired.add(id(view))
            self._draw(view, panels[i], self.view.notes[i], i == last_linked)
        self._show_legend()
        shown = tuple((p.key, id(s.state(p.key).embedding)) for p in panels)
        if shown != self._fitted_for:  # new points: fit once the grid has its final size; a zoom stays otherwise
            self._fitted_for = shown
            QTimer.singleShot(0, self.fit_views)
        self._fill_controls()
        gans_on_prior = any((m := s.state(k)) is not None and m.entry is not None and not m.entry.model.has_encoder
                            and m.codes is not None and m.codes.source == "prior" for k in s.compared_keys())
        self.view.invert_button.setVisible(gans_on_prior)
        self.view.invert_spin.setVisible(gans_on_prior)
        n_open = len(s.models)
        if not panels:
            text = ("Open two to four models on the same dataset to compare them." if n_open < 2 else
                    "Waiting for the compared models' codes and embeddings…")
        elif len(panels) < len(s.compared_keys()):
            text = "Some compared models have no embedding yet; they appear when it is computed."
        else:
            ds = s.dataset
            text = (f"{len(panels)} models on {ds.name if ds is not None else 'the dataset'}: the same dataset "
                    "images are linked in every view (hover, selection)." if ds is not None else "")
        self.view.message.setText(text)
        self._show_selection()
        self._on_hover_changed(s.hovered)

    def fit_views(self) -> None:
        """Show all points of every compared view."""
        for view in self.view.views:
            view.view_box.autoRange(padding=0.04)

    def _show_legend(self) -> None:
        entries = "  ".join(
            f"<span style='color: rgb({r},{g},{b}); font-size: 14px;'>&#9679;</span>&nbsp;{html.escape(name)}"
            for name, (r, g, b, _a) in self._legend_entries.items())
        title = html.escape(self._legend_title)
        self.view.legend.setText(f"<b>{title}</b>" + (f": {entries}" if entries else "") if title else "")

    def _fill_controls(self) -> None:
        s, v = self.session, self.view
        v.align_combo.setCurrentIndex(max(0, v.align_combo.findData(s.compare.align)))
        v.colour_combo.blockSignals(True)
        v.colour_combo.clear()
        for key in s.compared_keys():
            m = s.state(key)
            if m.codes is None or m.codes.of_dataset:  # prior samples cannot colour dataset images
                v.colour_combo.addItem(m.name, key)
        v.colour_combo.setCurrentIndex(max(0, v.colour_combo.findData(s.compare_colour_key())))
        v.colour_combo.blockSignals(False)
        # what is drawn, which may stand in for what was asked (clusters before k-means ran: classes)
        linked = [p for p in self.panels if p.linked]
        title = s.compare_colouring(linked[0]).title if linked else ""
        v.summary.setText(f"colour: {title}" if title else "colour: none")

    def _draw(self, view: EmbeddingView, panel, note: QLabel, last: bool) -> None:
        s = self.session
        col = s.compare_colouring(panel)
        colorbar = None
        if col.categories is not None:
            colors, legend = label_colors(col.categories, col.names)
            if panel.linked:
                self._legend_entries.update({name: rgba for name, rgba in legend})
                self._legend_title = col.title
        elif col.values is not None:
            colors, (cmap, vmin, vmax) = continuous_colors(col.values, "viridis", col.vmin, col.vmax)
            if last:  # one colour bar, on the last view: every view has the same range
                colorbar = (cmap, vmin, vmax, f"{col.title} (clipped to 1st–99th percentile)")
            self._legend_title = (f"{col.title}: viridis, 1st–99th percentile of that model's codes; "
                                  "grey: not shown by it")
        else:
            colors = np.tile(categorical_palette(1)[0], (len(panel.embedding), 1))
        parts = panel.title.split(" · ")
        projection = parts[2] if len(parts) > 2 else ""
        if len(projection) > 26:  # e.g. UMAP with all its parameters: the tooltip keeps the whole title
            projection = projection[:24] + "…"
        top, bottom = " · ".join(parts[:2]), " · ".join([projection, *parts[3:]]) if projection else ""
        view.setToolTip(panel.title)
        view.plot_item.setTitle(html.escape(top) + ("<br>" + html.escape(bottom) if bottom else ""),
                                size="9pt", color="#333333")
        view.plot_item.titleLabel.setMinimumWidth(0)  # a long title must not widen the plot past its cell
        view.plot_item.titleLabel.setMaximumHeight(40)
        view.plot_item.layout.setRowFixedHeight(0, 40)
        view.set_points(panel.embedding, colors, colorbar=colorbar)
        view.set_marker(*s.marker)
        note.setText(" ".join(panel.notes))
        note.setVisible(bool(panel.notes))

    # ------------------------------------------------------------------ linking

    def _panel_of(self, view: EmbeddingView):
        try:
            return self.panels[self.view.views.index(view)]
        except (ValueError, IndexError):
            return None

    def _on_view_hovered(self, view: EmbeddingView, point: int) -> None:
        panel = self._panel_of(view)
        if panel is None:
            return
        if point < 0 or not panel.linked:
            self.session.set_hovered(None)
            return
        self.session.set_hovered(int(panel.dataset_indices[point]))

    def _on_hover_changed(self, dataset_index: int) -> None:
        """Ring the hovered image in every view now; the reconstructions strip follows once the cursor rests."""
        s = self.session
        for view, panel in zip(self.view.views, self.panels, strict=False):
            points = s.compared_points(panel.key)
            view.show_linked_hover(int(points[0]) if len(points) else -1)
        if self.active:
            self._strip_timer.start()  # decoding one image per model: not on every mouse move

    def update_strip(self) -> None:
        """Show the hovered image and each compared model's reconstruction of it (or keep the last)."""
        s, i = self.session, self.session.hovered
        if i < 0 or not self.active or s.dataset is None or i >= len(s.dataset):
            return
        try:
            self.view.strip.show_images(s.hover_images(i))
        except (ValueError, IndexError) as exc:  # e.g. a model decoding NaN: one sentence, not an escaped slot
            self.view.message.setText(str(exc))

    def _on_view_selection(self, view: EmbeddingView, points) -> None:
        if self._updating:
            return
        panel = self._panel_of(view)
        if panel is not None:
            self.session.select_points(panel.key, points)

    def _show_selection(self) -> None:
        if not self.active:
            return
        self._updating = True
        try:
            for view, panel in zip(self.view.views, self.panels, strict=False):
                points = self.session.selected_points(panel.key)
                if not np.array_equal(points, view.selection):
                    if len(points):
                        view.set_selection(points)
                    else:
                        view.clear_selection()
        finally:
            self._updating = False


class CompareMode(QObject):
    """The "Compare models side by side" action and the switch of a stack between the single view and Compare.

    Parameters
    ----------
    session : Session
    stack : QStackedWidget
        Holds ``single`` and ``compare_view``.
    single : QWidget
        The active model's embedding view.
    compare_view : CompareView
    runner : explorer.gui.session_runner.SessionRunner
        Runs the AlignedUMAP task.
    """

    def __init__(self, session: Session, stack: QStackedWidget, single: QWidget, compare_view: CompareView,
                 runner, hover_preview=None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.stack, self.single, self.compare_view = session, stack, single, compare_view
        self.hover_preview = hover_preview
        self.presenter = ComparePresenter(session, compare_view, runner, parent=self)
        self.action = QAction("&Compare models side by side", self, checkable=True)
        self.action.setShortcut("Ctrl+M")
        self.action.setToolTip("Show 2–4 open models' embeddings side by side, linked by dataset image")
        self.action.toggled.connect(session.set_compare_mode)
        session.compare_changed.connect(self._on_compare_changed)
        session.hover_changed.connect(self._on_hover_changed)

    def _on_hover_changed(self, i: int) -> None:
        """The "Image under cursor" panel shows the image hovered in any compared view."""
        s, preview = self.session, self.hover_preview
        if preview is None or not s.compare_mode or i < 0 or s.dataset is None or i >= len(s.dataset):
            return
        ds = s.dataset
        label = None
        if ds.labels is not None:
            lab = int(ds.labels[i])
            label = ds.class_names[lab] if ds.class_names is not None and lab < len(ds.class_names) else str(lab)
        preview.show_point(ds.images[i], i, label, None, "hovered in the Compare view")

    def _on_compare_changed(self) -> None:
        on = bool(self.session.compare_mode)
        if self.action.isChecked() != on:
            self.action.setChecked(on)
        self.stack.setCurrentWidget(self.compare_view if on else self.single)
        if on:
            self.presenter.refresh()
