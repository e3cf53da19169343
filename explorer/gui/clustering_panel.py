"""k-means controls, the scores of one clustering and the curves of a k sweep."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSignalBlocker, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from explorer.core.clustering import SCORE_KEYS, SPACES, ClusteringResult, write_sweep_csv
from explorer.gui.clustering_text import (  # noqa: E402 - re-exported here, where callers import them
    _CURVE_STYLE,
    _INK,
    _K_MAX,
    _K_MIN,
    _SEED_MAX,
    _SHORT_NAMES,
    _SWEEP_HINT,
    _TOOLTIPS,
    NO_LABELS_TEXT,
    SCORE_NAMES,
    format_score,
    legend_entry,
    space_phrase,
)
from explorer.gui.dialogs import ask_save_path
from explorer.gui.score_table import FULL_NAME_ROLE, ScoreTable, SweepPlot

__all__ = ["ClusteringPanel", "SCORE_NAMES", "NO_LABELS_TEXT", "format_score", "space_phrase"]


class ClusteringPanel(QWidget):
    """k-means on the latent codes z or on the 2-D embedding: controls, scores and a k sweep.

    The panel holds no data and runs nothing: it emits requests, and the window runs
    the jobs (:func:`explorer.core.clustering.cluster`, :func:`~explorer.core.clustering.k_sweep`)
    and hands the results back with :meth:`show_result` and :meth:`show_sweep`. Every
    result is shown with a line saying which space was clustered, k, seed and N.

    Parameters
    ----------
    parent : QWidget, optional
        Qt parent.

    Signals
    -------
    run_requested(str, int, int)
        ``(space, k, seed)``: run k-means once; space is ``"latent"`` or ``"embedding"``.
    sweep_requested(str, list, int)
        ``(space, ks, seed)``: run k-means for each k in ``ks`` (ascending ints).
    colour_by_cluster_changed(bool)
        Colour the embedding by the last clustering's clusters (True) or not.
    """

    run_requested = Signal(str, int, int)
    sweep_requested = Signal(str, list, int)
    colour_by_cluster_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._has_labels = True
        self._no_labels_text = NO_LABELS_TEXT
        self._result: ClusteringResult | None = None
        self._sweep: list[ClusteringResult] = []

        # ---- k-means controls
        self._space_combo = QComboBox(self)
        for space in SPACES:
            self._space_combo.addItem("", space)
        self._space_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self._space_combo.setToolTip("Cluster the full latent codes z or the 2-D embedding shown in the plot")
        self._k_spin = self._spin(_K_MIN, _K_MAX, 10, "Number of clusters k")
        self._seed_spin = self._spin(0, _SEED_MAX, 0, "random_state of k-means (and of the silhouette sample)")
        self._run_button = QPushButton("Run k-means", self)
        self._run_button.clicked.connect(self._on_run_clicked)
        self._colour_check = QCheckBox("Colour embedding by cluster", self)
        self._colour_check.setEnabled(False)
        self._colour_check.setToolTip("Run k-means first")
        self._colour_check.toggled.connect(self.colour_by_cluster_changed)
        self._busy_label = QLabel("", self)
        self._busy_label.setStyleSheet("color: #707070;")

        self._seed_spin.setMaximumWidth(self._seed_spin.fontMetrics().horizontalAdvance("0000000000") + 30)
        k_row = QHBoxLayout()
        k_row.addWidget(self._k_spin)
        k_row.addSpacing(10)
        k_row.addWidget(QLabel("Seed", self))
        k_row.addWidget(self._seed_spin)
        k_row.addSpacing(10)
        k_row.addWidget(self._run_button)
        k_row.addStretch(1)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        form.addRow("Space", self._space_combo)
        form.addRow("k", k_row)
        run_row = QHBoxLayout()
        run_row.addWidget(self._colour_check)
        run_row.addStretch(1)
        run_row.addWidget(self._busy_label)

        self._result_line = self._wrapping_label()
        self._result_table = ScoreTable(len(SCORE_NAMES), 2, self)
        self._result_table.setHorizontalHeaderLabels(["Score", "Value"])
        self._result_table.horizontalHeader().hide()  # the names say it; copied text keeps the header
        self._result_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self._result_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self._result_table.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        for row, key in enumerate(SCORE_NAMES):
            name = QTableWidgetItem(SCORE_NAMES[key])
            name.setToolTip(_TOOLTIPS[key])
            value = QTableWidgetItem("—")
            value.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self._result_table.setItem(row, 0, name)
            self._result_table.setItem(row, 1, value)
        self._note_label = self._wrapping_label(grey=True)

        kmeans_box = QGroupBox("k-means", self)
        box = QVBoxLayout(kmeans_box)
        box.addLayout(form)
        box.addLayout(run_row)
        box.addWidget(self._result_line)
        box.addWidget(self._result_table)
        box.addWidget(self._note_label)

        # ---- k sweep
        self._from_spin = self._spin(_K_MIN, _K_MAX, 2, "Smallest k of the sweep")
        self._to_spin = self._spin(_K_MIN, _K_MAX, 20, "Largest k of the sweep")
        self._sweep_button = QPushButton("Sweep k", self)
        self._sweep_button.clicked.connect(self._on_sweep_clicked)
        self._csv_button = QPushButton("Export CSV…", self)
        self._csv_button.setEnabled(False)
        self._csv_button.setToolTip("Save the sweep table (full precision) as a CSV file")
        self._csv_button.clicked.connect(self._on_export_csv_clicked)
        sweep_row = QHBoxLayout()
        sweep_row.addWidget(QLabel("k from", self))
        sweep_row.addWidget(self._from_spin)
        sweep_row.addWidget(QLabel("to", self))
        sweep_row.addWidget(self._to_spin)
        sweep_row.addWidget(self._sweep_button)
        sweep_row.addStretch(1)
        sweep_row.addWidget(self._csv_button)

        self._plot_widget = SweepPlot(background="w")
        self._plot_widget.setMinimumHeight(230)
        self._plot_widget.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._legend = QLabel(self)  # under the plot, wraps to the panel's width
        self._legend.setTextFormat(Qt.TextFormat.RichText)
        self._legend.setWordWrap(True)
        self._k_line = pg.InfiniteLine(angle=90, movable=False,
                                       pen=pg.mkPen((110, 110, 110), width=1, style=Qt.PenStyle.DashLine),
                                       label="k = {value:.0f}",
                                       labelOpts={"position": 0.98, "color": (80, 80, 80),
                                                  "anchors": [(-0.1, 0), (-0.1, 0)]})
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._setup_plot()
        self._sweep_line = self._wrapping_label()
        self._sweep_line.show()
        self._sweep_table = ScoreTable(0, 1 + len(SCORE_NAMES), self)
        self._sweep_table.setHorizontalHeaderLabels(["k", *(_SHORT_NAMES[key] for key in SCORE_NAMES)])
        for col, key in enumerate(SCORE_NAMES, start=1):
            header_item = self._sweep_table.horizontalHeaderItem(col)
            header_item.setToolTip(SCORE_NAMES[key])
            header_item.setData(FULL_NAME_ROLE, SCORE_NAMES[key])
        self._sweep_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self._sweep_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self._sweep_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self._sweep_table.extra_actions = [("Export CSV…", self._on_export_csv_clicked)]
        self._sweep_table.itemDoubleClicked.connect(self._on_sweep_row_double_clicked)
        self._sweep_table.setToolTip("Double-click a row to set k")

        sweep_box = QGroupBox("k sweep", self)
        box = QVBoxLayout(sweep_box)
        box.addLayout(sweep_row)
        box.addWidget(self._sweep_line)
        box.addWidget(self._plot_widget, 1)
        box.addWidget(self._legend)
        box.addWidget(self._sweep_table)

        # everything in a scroll area: a short dock scrolls instead of squeezing the plot
        contents = QWidget(self)
        inner = QVBoxLayout(contents)
        inner.setContentsMargins(4, 4, 4, 4)
        inner.addWidget(kmeans_box)
        inner.addWidget(sweep_box, 1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(contents)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

        self._k_spin.valueChanged.connect(self._on_k_changed)
        self.set_spaces("Latent codes z", "2-D embedding")
        self.show_sweep([])
        self._show_result_rows()

    # ---------------------------------------------------------------- helpers

    def _spin(self, lo: int, hi: int, value: int, tip: str) -> QSpinBox:
        spin = QSpinBox(self)
        spin.setRange(lo, hi)
        spin.setValue(value)
        spin.setToolTip(tip)
        spin.setAccelerated(True)
        return spin

    def _wrapping_label(self, grey: bool = False) -> QLabel:
        label = QLabel(self)
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if grey:
            label.setStyleSheet("color: #606060;")
        label.hide()
        return label

    def _setup_plot(self) -> None:
        self._curves.update(self._plot_widget.style_sweep(self._k_line, _CURVE_STYLE, _INK))
        self._plot_widget.scene().sigMouseClicked.connect(self._on_plot_clicked)

    def _space_label(self, space: str) -> str:
        index = self._space_combo.findData(space)
        return self._space_combo.itemText(index) if index >= 0 else space

    def _describe(self, space: str, n: int, seed: int, label: str | None) -> str:
        label = label or self._space_label(space)
        return f"on {space_phrase(space, label)}, {n:,} points, seed {seed}"

    # ---------------------------------------------------------------- public API

    def set_spaces(self, latent_label: str, embedding_label: str) -> None:
        """Name the two spaces in the space selector.

        Parameters
        ----------
        latent_label : str
            E.g. ``"Latent codes z (d = 16)"``.
        embedding_label : str
            E.g. ``"2-D embedding (PCA)"``.
        """
        self._space_combo.setItemText(self._space_combo.findData("latent"), latent_label)
        self._space_combo.setItemText(self._space_combo.findData("embedding"), embedding_label)

    def set_has_labels(self, has_labels: bool, reason: str | None = None) -> None:
        """Say whether the points have labels: without, only the silhouette is shown and plotted.

        ``reason`` replaces :data:`NO_LABELS_TEXT` when the points lack labels for another
        reason than the dataset (e.g. prior samples of a GAN without encoder).
        """
        self._has_labels = bool(has_labels)
        self._no_labels_text = reason or NO_LABELS_TEXT
        self._show_result_rows()
        self._show_sweep_table()
        self._update_curves()

    def set_busy(self, busy: bool) -> None:
        """Disable the Run and Sweep buttons while a clustering job runs."""
        self._run_button.setEnabled(not busy)
        self._sweep_button.setEnabled(not busy)
        self._busy_label.setText("Running…" if busy else "")

    def is_busy(self) -> bool:
        """True between ``set_busy(True)`` and ``set_busy(False)``."""
        return not self._run_button.isEnabled()

    def space(self) -> str:
        """The selected space: ``"latent"`` or ``"embedding"``."""
        return str(self._space_combo.currentData())

    def set_space(self, space: str) -> None:
        """Select ``"latent"`` or ``"embedding"``."""
        index = self._space_combo.findData(space)
        if index < 0:
            raise ValueError(f"space must be one of {SPACES}, got {space!r}")
        self._space_combo.setCurrentIndex(index)

    def k(self) -> int:
        """The number of clusters in the k box."""
        return self._k_spin.value()

    def set_k(self, k: int) -> None:
        """Set the k box (clipped to 2..50)."""
        self._k_spin.setValue(int(k))

    def seed(self) -> int:
        """The seed in the seed box."""
        return self._seed_spin.value()

    def set_seed(self, seed: int) -> None:
        """Set the seed box."""
        self._seed_spin.setValue(int(seed))

    def sweep_range(self) -> list[int]:
        """The ks of the sweep: every integer from the "from" box to the "to" box (either order)."""
        lo, hi = sorted((self._from_spin.value(), self._to_spin.value()))
        return list(range(lo, hi + 1))

    def set_sweep_range(self, k_from: int, k_to: int) -> None:
        """Set the sweep boxes."""
        self._from_spin.setValue(int(k_from))
        self._to_spin.setValue(int(k_to))

    def colour_by_cluster(self) -> bool:
        """State of "Colour embedding by cluster"."""
        return self._colour_check.isChecked()

    def set_colour_by_cluster(self, on: bool, emit: bool = True) -> None:
        """Check or uncheck "Colour embedding by cluster" (emits ``colour_by_cluster_changed`` on change
        unless ``emit`` is False: the panel then shows what the session's colouring is)."""
        with QSignalBlocker(self._colour_check) if not emit else contextlib.nullcontext():
            self._colour_check.setChecked(bool(on))

    def result(self) -> ClusteringResult | None:
        """The result shown, or None."""
        return self._result

    def sweep_results(self) -> list[ClusteringResult]:
        """The sweep shown (one result per k), or []."""
        return list(self._sweep)

    def show_result(self, result: ClusteringResult, space_label: str | None = None) -> None:
        """Show the scores of one clustering and the line saying what was clustered.

        Parameters
        ----------
        result : ClusteringResult
            Scores with 3 decimals; without labels (``scores`` None) only the silhouette,
            with a sentence saying why.
        space_label : str, optional
            Name of the clustered space (as in :meth:`set_spaces`) when it is no longer the
            one in the selector (e.g. the embedding was recomputed meanwhile); default: the
            selector's current name of ``result.space``.
        """
        self._result = result
        line = self._describe(result.space, result.n, result.seed, space_label)
        self._result_line.setText(f"k-means, k = {result.k}, {line}")
        self._result_line.show()
        self._colour_check.setEnabled(True)
        self._colour_check.setToolTip("Colour the points of the embedding by this clustering's clusters")
        self._show_result_rows()

    def show_sweep(self, results: Sequence[ClusteringResult], space_label: str | None = None) -> None:
        """Plot and tabulate a k sweep.

        Parameters
        ----------
        results : sequence of ClusteringResult
            One per k (as from :func:`~explorer.core.clustering.k_sweep`), all on one space and
            seed; an empty sequence clears the sweep.
        space_label : str, optional
            Name of the clustered space, as in :meth:`show_result`.
        """
        self._sweep = sorted(results, key=lambda r: r.k)
        if self._sweep:
            first, ks = self._sweep[0], [r.k for r in self._sweep]
            span = f"k = {ks[0]}" if len(ks) == 1 else f"k = {ks[0]} … {ks[-1]}"
            line = self._describe(first.space, first.n, first.seed, space_label)
            self._sweep_line.setText(f"k-means sweep, {span}, {line}")
            self._sweep_line.setStyleSheet("")
        else:
            self._sweep_line.setText(_SWEEP_HINT)
            self._sweep_line.setStyleSheet("color: #606060;")
        self._csv_button.setEnabled(bool(self._sweep))
        self._show_sweep_table()
        self._update_curves()

    def clear(self) -> None:
        """Forget the result and the sweep (e.g. when the codes change).

        "Colour embedding by cluster" is disabled until the next :meth:`show_result`; its
        check state is left as it is (no signal): the window owns the colouring.
        """
        self._result = None
        self._sweep = []
        self._result_line.hide()
        self._csv_button.setEnabled(False)
        self._colour_check.setEnabled(False)
        self._colour_check.setToolTip("Run k-means first")
        self._show_result_rows()
        self.show_sweep([])

    def displayed_scores(self) -> dict[str, str]:
        """The score texts in the result table, by key (``"v_measure"`` → ``"0.512"``), visible rows only."""
        return {key: self._result_table.item(row, 1).text()
                for row, key in enumerate(SCORE_NAMES) if not self._result_table.isRowHidden(row)}

    def result_line(self) -> str:
        """The sentence naming the clustered space, k, N and seed ("" before any result)."""
        return self._result_line.text() if self._result is not None else ""

    def sweep_line(self) -> str:
        """The sentence describing the sweep ("" before any sweep)."""
        return self._sweep_line.text() if self._sweep else ""

    def note_text(self) -> str:
        """The grey note under the scores (missing labels, silhouette sample)."""
        return self._note_label.text() if self._note_label.isVisibleTo(self) else ""

    def table_text(self, sweep: bool = False) -> str:
        """The result table (or the sweep table) as tab-separated text, as Ctrl+C copies it with nothing selected."""
        return (self._sweep_table if sweep else self._result_table).as_tsv(selected_only=False)

    def export_csv(self, path: str | os.PathLike) -> None:
        """Write the sweep table to a CSV file atomically, at full precision.

        Columns: space, k, seed, n, homogeneity, completeness, v_measure, ari, nmi,
        silhouette, silhouette_sample_size (:func:`~explorer.core.clustering.sweep_table`);
        an empty cell for a value that is None.

        Raises
        ------
        ValueError
            No sweep to export.
        OSError
            The file cannot be written.
        """
        if not self._sweep:
            raise ValueError("there is no k sweep to export; run 'Sweep k' first")
        write_sweep_csv(self._sweep, path)

    # ---------------------------------------------------------------- views

    def _show_result_rows(self) -> None:
        result = self._result
        labelled = result.scores is not None if result is not None else self._has_labels
        for row, key in enumerate(SCORE_NAMES):
            item = self._result_table.item(row, 1)
            if result is None:
                item.setText("—")
            elif key == "silhouette":
                item.setText(format_score(result.silhouette))
                item.setToolTip("" if result.silhouette is not None
                                else "The silhouette was not computed for this run")
            else:
                item.setText(format_score(result.scores[key]) if result.scores is not None else "—")
            self._result_table.setRowHidden(row, key != "silhouette" and not labelled)
        self._result_table.fit_height()

        notes = []
        if not labelled:
            notes.append(self._no_labels_text)
        if result is not None and result.silhouette is not None:
            if result.silhouette_sample_size:
                notes.append(f"Silhouette computed on a seeded random sample of {result.silhouette_sample_size:,} "
                             f"of the {result.n:,} points (seed {result.seed}).")
            else:
                notes.append(f"Silhouette computed on all {result.n:,} points.")
        self._note_label.setText(" ".join(notes))
        self._note_label.setVisible(bool(notes))

    def _sweep_keys(self) -> list[str]:
        """Scores present in the sweep: the label-based ones (with labels), the silhouette (when computed)."""
        labelled = self._sweep[0].scores is not None if self._sweep else self._has_labels
        keys = list(SCORE_KEYS) if labelled else []
        if not labelled or any(r.silhouette is not None for r in self._sweep):
            keys.append("silhouette")
        return keys

    def _show_sweep_table(self) -> None:
        table = self._sweep_table
        keys = self._sweep_keys()
        table.setRowCount(len(self._sweep))
        for row, result in enumerate(self._sweep):
            values = dict(result.scores or {}, silhouette=result.silhouette)
            cells = [str(result.k)] + [format_score(values.get(key)) for key in SCORE_NAMES]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                table.setItem(row, col, item)
        for col, key in enumerate(SCORE_NAMES, start=1):
            table.setColumnHidden(col, key not in keys)
        table.setVisible(bool(self._sweep))
        table.fit_height(max_rows=7)
        self._mark_current_k()

    def _update_curves(self) -> None:
        keys = self._sweep_keys()
        entries = []
        ks = np.array([r.k for r in self._sweep], float)
        lows = [0.0]
        for key, curve in self._curves.items():
            if key not in keys or not self._sweep:
                curve.setData([], [])
                curve.hide()
                continue
            values = [(r.silhouette if key == "silhouette" else (r.scores or {}).get(key)) for r in self._sweep]
            y = np.array([np.nan if v is None else v for v in values], float)
            curve.setData(ks, y, connect="finite")
            curve.show()
            entries.append(legend_entry(key))
            if np.isfinite(y).any():
                lows.append(float(np.nanmin(y)))
        self._legend.setText(" &nbsp; ".join(entries))
        self._legend.setVisible(bool(entries))
        plot = self._plot_widget.getPlotItem()
        if self._sweep:
            plot.setXRange(ks.min() - 0.5, ks.max() + 0.5, padding=0)
            span = ks.max() - ks.min()
            step = 1 if span <= 12 else 2 if span <= 24 else 5
            plot.getAxis("bottom").setTickSpacing(step, step)
        else:
            plot.setXRange(_K_MIN - 0.5, 20.5, padding=0)
            plot.getAxis("bottom").setTickSpacing(2, 2)
        plot.setYRange(min(lows) - 0.03, 1.03, padding=0)
        self._mark_current_k()

    def _mark_current_k(self) -> None:
        k = self._k_spin.value()
        ks = [r.k for r in self._sweep]
        if ks and ks[0] <= k <= ks[-1]:
            self._k_line.show()  # before setValue: a hidden line does not update its label
            self._k_line.setValue(k)
            self._k_line.label.valueChanged()
        else:
            self._k_line.hide()
        table = self._sweep_table
        for row, result in enumerate(self._sweep):
            for col in range(table.columnCount()):
                item = table.item(row, col)
                font = item.font()
                font.setBold(result.k == k)
                item.setFont(font)

    # ---------------------------------------------------------------- slots

    @Slot()
    def _on_run_clicked(self) -> None:
        self.run_requested.emit(self.space(), self.k(), self.seed())

    @Slot()
    def _on_sweep_clicked(self) -> None:
        self.sweep_requested.emit(self.space(), self.sweep_range(), self.seed())

    @Slot(int)
    def _on_k_changed(self, k: int) -> None:
        self._mark_current_k()

    @Slot(object)
    def _on_plot_clicked(self, event) -> None:
        if not self._sweep:
            return
        vb = self._plot_widget.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        x = vb.mapSceneToView(event.scenePos()).x()
        ks = np.array([r.k for r in self._sweep])
        self._k_spin.setValue(int(ks[np.argmin(np.abs(ks - x))]))

    @Slot(QTableWidgetItem)
    def _on_sweep_row_double_clicked(self, item: QTableWidgetItem) -> None:
        self._k_spin.setValue(self._sweep[item.row()].k)

    @Slot()
    def _on_export_csv_clicked(self) -> None:
        if not self._sweep:
            return
        first = self._sweep[0]
        default = f"k-sweep-{first.space}-seed{first.seed}.csv"
        path = ask_save_path(self, "Export k sweep", default, "CSV table (*.csv)")
        if not path:
            return
        if not path.lower().endswith(".csv"):
            path += ".csv"
        try:
            self.export_csv(path)
        except OSError as exc:
            QMessageBox.warning(self, "Export CSV", f"Could not write '{path}': {exc.strerror or exc}.")
            return
        self._busy_label.setText(f"Wrote {path}.")
