"""The Disentanglement panel: scores against ground-truth factors, MI heatmap, DCI Hinton diagram, carriers."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from explorer.core.session.disentanglement import (
    FAMILY,
    carrier_traversal_codes,
    disentanglement_table,
    export_disentanglement,
    factor_names_of,
)
from explorer.gui.disentanglement_plots import HintonPlot, MutualInformationPlot, PlotExport
from explorer.gui.panel_settings import SettingsBinding
from explorer.gui.score_table import ScoreTable

__all__ = ["DisentanglementPanel", "make_disentanglement_panel"]

#: Columns of a carrier's traversal row, and its span in prior standard deviations.
TRAVERSAL_COLUMNS, TRAVERSAL_SPAN = 9, 3.0


class DisentanglementPanel(QWidget):
    """Scores of the active model against the dataset's ground-truth factors, from the session's evaluations store.

    Settings (fast / reference, N training points, seed) → Compute runs
    `explorer.core.session.disentanglement.disentanglement_task` as a cancellable job; what
    it keeps (``session.evaluation(active, "disentanglement")``) is shown: the scores table
    (value, settings, N, scikit-learn version), the factor × latent mutual-information
    heatmap (nats), the DCI importance Hinton diagram, and for each factor the latent
    dimension that carries it (largest MI) with its traversal row, decoded from the sliders'
    code (or z = 0). "Colour the embedding" sets the session's colouring to a factor.

    Parameters
    ----------
    session : Session
    runner : SessionRunner, optional
        Runs the task off the GUI thread (None: in the calling thread, for scripts).
    show_error : callable, optional
        ``show_error(message)`` for a failed export.
    """

    def __init__(self, session, runner=None, show_error=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session, self.runner, self.show_error = session, runner, show_error
        self._kind: str | None = None
        self._started = 0.0
        self.traversal_images: np.ndarray | None = None  # (K, cols, C, H, W) of the carriers tab
        self.traversal_labels: list[str] = []

        self.settings_combo = QComboBox(self)
        self.settings_combo.addItem("fast", "fast")
        self.settings_combo.addItem("reference (disentanglement_lib, minutes)", "reference")
        self.settings_combo.setToolTip("fast: DCI by the reference's boosting with a 255-bin split search, on the same "
                                       "10,000 / 5,000 points; 300 / 150 votes for the β-VAE and FactorVAE scores. "
                                       "reference: disentanglement_lib's settings. Another N than 10,000 makes them "
                                       "\"custom\"")
        self.n_spin = QSpinBox(self)
        self.n_spin.setRange(20, 100_000)
        self.n_spin.setSingleStep(1000)
        self.n_spin.setValue(10_000)
        self.n_spin.setPrefix("N = ")
        self.n_spin.setToolTip("training points of MIG, SAP, DCI, modularity and explicitness (test points N / 2)")
        self.seed_spin = QSpinBox(self)
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setPrefix("seed ")
        self.compute_button = QPushButton("Compute", self)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.export_figure_button = QPushButton("Export figure…", self)
        self.export_table_button = QPushButton("Export table…", self)
        self.export_table_button.setToolTip("CSV (the scores table) or JSON (record, MI and DCI matrices, carriers)")
        bar = QHBoxLayout()
        for w in (QLabel("Settings", self), self.settings_combo, self.n_spin, self.seed_spin, self.compute_button,
                  self.cancel_button):
            bar.addWidget(w)
        bar.addWidget(self.progress, 1)
        bar.addStretch(0)
        bar.addWidget(self.export_figure_button)
        bar.addWidget(self.export_table_button)

        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = ScoreTable(0, 5, self)
        self.table.setHorizontalHeaderLabels(["metric", "value (0–1)", "settings", "N (train / test)", "scikit-learn"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.mi_plot = MutualInformationPlot(self)
        self.hinton = HintonPlot(self)
        self.carriers = QWidget(self)
        self.carrier_label = QLabel(self.carriers)
        self.carrier_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.colour_combo = QComboBox(self.carriers)
        self.colour_button = QPushButton("Colour the embedding by this factor", self.carriers)
        cl = QVBoxLayout(self.carriers)
        row = QHBoxLayout()
        row.addWidget(self.colour_combo)
        row.addWidget(self.colour_button)
        row.addStretch(1)
        cl.addLayout(row)
        scroll = QScrollArea(self.carriers)
        scroll.setWidget(self.carrier_label)
        scroll.setWidgetResizable(True)
        cl.addWidget(scroll, 1)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.table, "Scores")
        self.tabs.addTab(self.mi_plot, "Mutual information")
        self.tabs.addTab(self.hinton, "DCI importance")
        self.tabs.addTab(self.carriers, "Carriers")
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addWidget(self.tabs, 1)

        self.compute_button.clicked.connect(self.compute)
        self.cancel_button.clicked.connect(self.cancel)
        self.export_figure_button.clicked.connect(self._on_export_figure)
        self.export_table_button.clicked.connect(self._on_export_table)
        self.colour_button.clicked.connect(lambda: self.colour_by_factor(self.colour_combo.currentIndex()))
        self.settings_combo.currentIndexChanged.connect(self._on_settings_changed)
        self.binding = SettingsBinding(session, "disentanglement", {
            "settings": (self.settings_combo.currentData,
                         lambda v: self.settings_combo.setCurrentIndex(max(0, self.settings_combo.findData(v))),
                         (self.settings_combo,)),
            "n_train": (self.n_spin.value, self.n_spin.setValue, (self.n_spin,)),
            "seed": (self.seed_spin.value, self.seed_spin.setValue, (self.seed_spin,)),
        })
        for sig in (self.settings_combo.currentIndexChanged, self.n_spin.valueChanged, self.seed_spin.valueChanged):
            sig.connect(self.binding.store)
        session.evaluation_changed.connect(self._on_evaluation_changed)
        for signal in (session.active_changed, session.models_changed, session.dataset_changed):
            signal.connect(lambda *_a: self.refresh())
        session.slider_code_changed.connect(lambda key: key == session.active_key and self._draw_carriers())
        if runner is not None:
            runner.runner.job_progress.connect(self._on_progress)
            for signal in (runner.runner.job_finished, runner.runner.job_failed, runner.runner.job_cancelled):
                signal.connect(self._on_job_ended)
        self.refresh()

    # ------------------------------------------------------------------ compute

    def _on_settings_changed(self, _i: int) -> None:
        self.n_spin.setValue(10_000)  # both named settings use 10,000 / 5,000 points

    def compute(self) -> None:
        """Start the disentanglement job of the active model with the panel's settings (a sentence if it cannot)."""
        from explorer.core.session.disentanglement import disentanglement_task

        try:
            task = disentanglement_task(self.session, None, self.settings_combo.currentData(),
                                        self.seed_spin.value(), self.n_spin.value())
        except ValueError as exc:
            self.status.setText(f"{exc}.".replace("..", "."))
            return
        self._kind, self._started = task.kind, time.monotonic()
        self.status.setText(f"{task.label}…")
        self.progress.setValue(0)
        self.progress.setFormat("%p %")
        self.progress.show()
        self.cancel_button.setEnabled(self.runner is not None)
        self.compute_button.setEnabled(False)
        if self.runner is not None:
            self.runner.submit(task)
        else:
            self.session.run(task)
            self._finish()

    def cancel(self) -> None:
        """Cancel the running job (nothing when none)."""
        if self.runner is not None and self._kind is not None:
            self.runner.runner.cancel(self._kind)

    def _on_progress(self, kind: str, _request: int, fraction: float, message: str) -> None:
        if kind != self._kind:
            return
        self.progress.setValue(round(1000 * min(max(fraction, 0.0), 1.0)))
        elapsed = time.monotonic() - self._started
        eta = f", about {elapsed * (1 - fraction) / fraction:.0f} s left" if fraction > 0.02 else ""
        self.progress.setFormat(f"%p % {message}{eta}")

    def _on_job_ended(self, kind: str, *_rest) -> None:
        if kind == self._kind:
            self._finish()

    def _finish(self) -> None:
        self._kind = None
        self.progress.hide()
        self.cancel_button.setEnabled(False)
        self.compute_button.setEnabled(True)
        self.refresh()

    # ------------------------------------------------------------------ showing the result

    def evaluation(self):
        """The active model's kept disentanglement evaluation, or None."""
        return self.session.evaluation(None, FAMILY)

    def _on_evaluation_changed(self, key: str, family: str) -> None:
        if family == FAMILY and key == self.session.active_key:
            self.refresh()

    def refresh(self) -> None:
        """Show the active model's evaluation (or say what is missing)."""
        ev = self.evaluation()
        ds = self.session.dataset
        m = self.session.active
        has = ev is not None
        for w in (self.export_figure_button, self.export_table_button):
            w.setEnabled(has)
        if self._kind is None:
            if m is None:
                self.status.setText("Open a model and a dataset with ground-truth factors (e.g. dSprites).")
            elif ds is None or ds.factors is None:
                name = "" if ds is None else f" '{ds.name}'"
                self.status.setText(f"The dataset{name} has no ground-truth factors; open one that has "
                                    "(dSprites, or an .npz with 'factors').")
            elif not has:
                self.status.setText(f"{m.name}: press Compute for its disentanglement scores.")
            else:
                rec = ev.record
                s = rec.get("settings") or {}
                notes = " ".join(s.get("notes") or [])
                stale = "" if ev.dataset_id == self.session.dataset_id else " Computed on another dataset."
                name = s.get("name")
                if name == "custom":  # the named settings at another N (disentanglement_settings)
                    base = "reference" if s.get("dci_classifier") == "gbt" else "fast"
                    name = f"custom ({base} at another N; fast and reference use 10,000 / 5,000 points)"
                self.status.setText(f"{m.name}: {name} settings, N = {rec.get('n_train', 0):,} training / "
                                    f"{rec.get('n_test', 0):,} test points, seed {s.get('seed')}, representation: "
                                    f"{s.get('representation')}, scikit-learn {rec.get('sklearn_version')}."
                                    f"{stale} {notes}".strip())
        self._fill_table(ev)
        names = factor_names_of(ev) if has else []
        title = "" if not has else f"N = {ev.record.get('n_train', 0):,} training points"
        self.mi_plot.set_matrix(ev.matrices.get("mi", np.zeros((0, 0))) if has else np.zeros((0, 0)), names,
                                f"mutual information I(v_k; z_j) [nats], {title}" if has else "")
        dci = ev.matrices.get("dci_importance", np.zeros((0, 0))) if has else np.zeros((0, 0))
        how = (ev.record.get("settings") or {}).get("dci_classifier") if has else ""
        self.hinton.set_matrix(dci, names, f"DCI importance R_jk ({how}), area ∝ R_jk" if has else "")
        self.colour_combo.clear()
        if ds is not None and ds.factors is not None:
            fn = list(ds.factor_names or [f"factor {k}" for k in range(ds.factors.shape[1])])
            self.colour_combo.addItems(fn)
        self.colour_button.setEnabled(self.colour_combo.count() > 0)
        self._draw_carriers()

    def _fill_table(self, ev) -> None:
        rows = [] if ev is None else disentanglement_table(ev)
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            value = "—" if r["value"] is None else f"{r['value']:.3f}"
            for j, text in enumerate((r["metric"], value, r["settings"], r["n"], r["sklearn_version"])):
                item = QTableWidgetItem(text)
                if j == 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    if r["value"] is None:
                        item.setToolTip("not computed: needs a complete factor grid (see the notes above)")
                self.table.setItem(i, j, item)

    def _draw_carriers(self) -> None:
        ev, m = self.evaluation(), self.session.active
        self.traversal_images, self.traversal_labels = None, []
        if ev is None or m is None or m.model is None or "mi" not in ev.matrices:
            self.carrier_label.setPixmap(QPixmap())
            self.carrier_label.setText("Compute the scores: each factor's carrying latent dimension is traversed here.")
            return
        from explorer.core.codes import decode_codes
        from explorer.core.figures import render_grid_figure
        from explorer.gui.images import to_qimage

        mi = ev.matrices["mi"]
        names = factor_names_of(ev)
        d = int(m.model.latent_dim)
        if mi.shape[1] != d:
            self.carrier_label.setText("This evaluation is of another latent dimension; compute it again.")
            return
        carriers = [int(j) for j in np.argmax(mi, axis=1)]
        z, base = self._base_code(m, d)
        codes = carrier_traversal_codes(z, carriers, TRAVERSAL_COLUMNS, TRAVERSAL_SPAN)
        k, cols = codes.shape[:2]
        images = decode_codes(m.model, codes.reshape(k * cols, d))
        self.traversal_images = images.reshape(k, cols, *images.shape[1:])
        self.traversal_labels = [f"{n}{self._values_of(i, n)} → z{c} (I = {mi[i, c]:.2f} nats)"
                                 for i, (n, c) in enumerate(zip(names, carriers, strict=True))]
        values = np.linspace(-TRAVERSAL_SPAN, TRAVERSAL_SPAN, cols)
        fig, _, _ = render_grid_figure(self.traversal_images, self.traversal_labels, [f"{v:+.1f}" for v in values],
                                       f"carrier z_j of each factor, −3σ … +3σ of p(z), from {base}",
                                       scale=1 if images.shape[-1] >= 48 else 2, font_size=12)
        arr = np.asarray(fig.convert("RGB"), np.float32).transpose(2, 0, 1) / 255.0
        self.carrier_label.setText("")
        self.carrier_label.setPixmap(QPixmap.fromImage(to_qimage(arr)))

    def _values_of(self, k: int, name: str) -> str:
        """" (square, ellipse, heart)" / " (0.5 … 1)": factor ``k``'s values when the open dataset has that factor."""
        from explorer.data.factor_values import value_summary

        ds = self.session.dataset
        if ds is None or ds.factors is None or k >= ds.factors.shape[1] or \
                (ds.factor_names and (k >= len(ds.factor_names) or ds.factor_names[k] != name)):
            return ""
        return f" ({value_summary(ds, k)})"

    @staticmethod
    def _base_code(m, d: int):
        """The code the carrier rows start from and its words: the sliders' code, else the first point's, else 0."""
        if m.slider_code is not None and m.slider_code.shape == (d,):
            return m.slider_code, "the sliders' code"
        if m.codes is not None and m.codes.z.shape[1] == d and len(m.codes.z):
            return m.codes.z[0], "the code of point #0"
        return np.zeros(d, np.float32), "z = 0"

    def colour_by_factor(self, k: int) -> None:
        """Colour the embedding by ground-truth factor ``k`` (the session's "factor" colour mode)."""
        if k >= 0:
            self.session.set_colour("factor", int(k))

    # ------------------------------------------------------------------ exports

    def export_figure(self, path) -> str:
        """Write the shown tab's figure: MI heatmap or Hinton diagram (PNG/SVG/PDF), or the carriers' traversal grid.

        The scores tab exports the MI heatmap. Raises ValueError for another extension or nothing to export.
        """
        from explorer.gui.view_export import export_view

        ev = self.evaluation()
        if ev is None:
            raise ValueError("there are no disentanglement scores yet; compute them first")
        if self.tabs.currentWidget() is self.carriers:
            from explorer.core.figures import save_grid_figure

            if self.traversal_images is None:
                raise ValueError("there is no carrier traversal to export")
            return str(save_grid_figure(path, self.traversal_images, self.traversal_labels,
                                        [f"{v:+.1f}" for v in np.linspace(-TRAVERSAL_SPAN, TRAVERSAL_SPAN,
                                                                          TRAVERSAL_COLUMNS)],
                                        "carrier traversals (z_j from −3σ to +3σ of p(z))"))
        plot = self.hinton if self.tabs.currentWidget() is self.hinton else self.mi_plot
        return export_view(PlotExport(plot), path, scale=2.0)

    def export_table(self, path) -> str:
        """Write the scores as CSV, or everything (record, matrices) as JSON; see `export_disentanglement`."""
        ev = self.evaluation()
        if ev is None:
            raise ValueError("there are no disentanglement scores yet; compute them first")
        return export_disentanglement(ev, path)

    def _ask(self, title, name, filt, write) -> None:
        from explorer.gui.dialogs import ask_save_path

        path = ask_save_path(self, title, name, filt)
        if not path:
            return
        try:
            write(path)
        except (OSError, ValueError) as exc:
            (self.show_error or self.status.setText)(f"Could not export to '{path}': {exc}")

    def _on_export_figure(self) -> None:
        self._ask("Export disentanglement figure", "disentanglement.png",
                  "PNG image (*.png);;SVG image (*.svg);;PDF document (*.pdf)", self.export_figure)

    def _on_export_table(self) -> None:
        self._ask("Export disentanglement scores", "disentanglement.csv", "CSV table (*.csv);;JSON (*.json)",
                  self.export_table)


def make_disentanglement_panel(window) -> DisentanglementPanel:
    """The Disentanglement dock's panel for ``window`` (its session, session runner and error dialog)."""
    return DisentanglementPanel(window.session, window.session_runner, window._show_error, window)
