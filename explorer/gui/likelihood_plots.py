"""The Likelihood panel's figures: the IWAE curve −L_k against k, the per-image histogram, the least likely images."""

from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QLabel, QListView, QVBoxLayout, QWidget

from explorer.core.session.evaluations import Evaluation
from explorer.core.session.likelihood import least_likely, per_image_unit
from explorer.gui.colors import plain_ticks
from explorer.gui.image_grid import DATASET_INDEX_ROLE, ImageGridModel

__all__ = ["CurvePlot", "HistogramPlot", "LeastLikelyGrid", "export_plot", "histogram_counts", "LEAST_LIKELY"]

#: Images in the "least likely" grid.
LEAST_LIKELY = 16

#: Colours of the first dataset and of the second datasets overlaid on its histogram.
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


class _Plot(pg.PlotWidget):
    """A white PlotWidget with a modest size hint (the dock does not grow)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background="w")
        self.showGrid(x=True, y=True, alpha=0.25)
        for axis in ("bottom", "left"):
            plain_ticks(self.getAxis(axis))
        self.setMinimumSize(220, 150)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(340, 230)


def export_plot(plot: pg.PlotWidget, path) -> str:
    """Write ``plot`` as PNG, SVG or PDF (by extension) through `explorer.gui.view_export.export_view`, atomically.

    Raises
    ------
    ValueError
        Not a .png/.svg/.pdf name.
    OSError
        The file cannot be written.
    """
    from explorer.gui.view_export import export_view

    shim = SimpleNamespace(flush=lambda: None, plot_item=plot.getPlotItem(), render_mode="vector")
    return export_view(shim, os.fspath(path))


class CurvePlot(_Plot):
    """IWAE: the bound −L_k (nats per image, an upper bound on −log p(x)) against log k, with its 95 % band."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setLogMode(x=True, y=False)
        self.setLabel("bottom", "k samples (log scale)")
        self.setLabel("left", "−L_k [nats per image]; dashed: 95 %")
        self.setToolTip("The importance-weighted bound −L_k (Burda et al. 2016), an upper bound on −log p(x) that "
                        "tightens as k grows; mean over the images with the 95 % interval of the mean (dashed)")
        self.points: np.ndarray = np.zeros((0, 4))
        self.show_evaluation(None)

    def show_evaluation(self, ev: Evaluation | None) -> None:
        """Draw ``ev``'s ``"iwae_curve"`` rows (k, −L_k, 95 % low, high); a title says why when there is none."""
        self.clear()
        curve = None if ev is None else ev.matrices.get("iwae_curve")
        if curve is None or not len(curve):
            self.points = np.zeros((0, 4))
            self.getAxis("bottom").setTicks(None)
            why = "no estimate yet" if ev is None else f"no IWAE curve for {ev.record.get('estimator', '?').upper()}"
            self.setTitle(f"IWAE −L_k against k: {why}", size="9pt")
            return
        self.points = np.asarray(curve)
        k, m, lo, hi = self.points.T
        self.getAxis("bottom").setTicks([[(float(np.log10(x)), f"{int(x):,}") for x in k], []])
        dash = pg.mkPen(COLOURS[0], width=1, style=Qt.PenStyle.DashLine)
        self.plot(k, lo, pen=dash)
        self.plot(k, hi, pen=dash)
        self.plot(k, m, pen=pg.mkPen(COLOURS[0], width=2), symbol="o", symbolSize=7, symbolBrush=COLOURS[0],
                  symbolPen=COLOURS[0])
        n = ev.record.get("n_images", len(ev.indices) if ev.indices is not None else 0)
        self.setTitle(f"IWAE: −L_k, mean of N = {n:,} (k = 1: −ELBO)", size="9pt")
        self.getPlotItem().enableAutoRange()


def histogram_counts(values: list[np.ndarray], bins: int = 30) -> tuple[np.ndarray, list[np.ndarray]]:
    """Common bin edges over every series and each series' fraction of its images per bin.

    Parameters
    ----------
    values : list of numpy.ndarray
        Each ``(n_i,)`` float64 (non-finite values are left out).
    bins : int

    Returns
    -------
    edges : numpy.ndarray, shape (bins + 1,)
    fractions : list of numpy.ndarray, each shape (bins,)
        Sums to 1 per series (0 everywhere for an empty one), so datasets of different N compare.
    """
    finite = [np.asarray(v, np.float64)[np.isfinite(v)] for v in values]
    both = np.concatenate(finite) if finite else np.zeros(0)
    if both.size == 0:
        return np.linspace(0.0, 1.0, bins + 1), [np.zeros(bins) for _ in finite]
    lo, hi = float(both.min()), float(both.max())
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    out = []
    for v in finite:
        c, _ = np.histogram(v, edges)
        out.append(c / max(1, v.size))
    return edges, out


class HistogramPlot(_Plot):
    """Per-image −log p(x) (bits/dim, or nats when there is no bits/dim) of the first dataset, second ones overlaid."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setLabel("left", "fraction of the images")
        self.setToolTip("Histogram of the per-image −log p(x) of the measured images of each dataset, as a fraction "
                        "of its N, so datasets of different size compare")
        self.legend = self.addLegend(offset=(5, 5), labelTextSize="8pt", labelTextColor="#222222",
                                     brush=pg.mkBrush(255, 255, 255, 200))
        self.series: list[tuple[str, np.ndarray]] = []
        self.show_evaluations([])

    def show_evaluations(self, evs: list[tuple[str, Evaluation]]) -> None:
        """Draw the histograms of ``[(name, evaluation)]`` in the first's unit (a series without it is left out)."""
        self.clear()
        self.legend.clear()
        self.series = []
        if not evs:
            self.setTitle("Histogram of per-image −log p(x): no estimate yet", size="9pt")
            self.setLabel("bottom", "−log p(x)")
            return
        key, unit = per_image_unit(evs[0][1])
        for name, ev in evs:
            if key in ev.values:
                self.series.append((name, ev.values[key]))
        edges, fractions = histogram_counts([v for _, v in self.series])
        for i, ((name, v), frac) in enumerate(zip(self.series, fractions, strict=True)):
            colour = pg.mkColor(COLOURS[i % len(COLOURS)])
            fill = pg.mkColor(colour)
            fill.setAlpha(90 if i == 0 else 60)
            self.plot(edges, frac, stepMode="center", fillLevel=0, brush=fill, pen=pg.mkPen(colour, width=2),
                      name=f"{name} (N = {int(np.isfinite(v).sum()):,})")
        self.setLabel("bottom", f"−log p(x) [{unit}{' per image' if unit == 'nats' else ''}]")
        est = evs[0][1].record.get("estimator", "?").upper()
        self.setTitle(f"Per-image −log p(x), {est} (lower: more likely)", size="9pt")
        self.getPlotItem().enableAutoRange()


class LeastLikelyGrid(QWidget):
    """The images with the highest −log p(x), least likely first, value under each; clicking selects them.

    Signals
    -------
    picked(object)
        ``(m,)`` int64 dataset indices of the images clicked or selected in the grid.
    """

    picked = Signal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.title = QLabel("Least likely images: no estimate yet")
        self.title.setWordWrap(True)
        self.model = ImageGridModel(56, parent=self)
        self.view = QListView(self)
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setUniformItemSizes(True)
        self.view.setWrapping(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setModel(self.model)
        self.view.setGridSize(QSize(78, 96))
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._emit_picked())
        self.indices = np.zeros(0, np.int64)
        self.values = np.zeros(0)
        self.unit = ""
        self.images = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.title)
        lay.addWidget(self.view, 1)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(4 * 78 + 24, 240)

    def show_evaluation(self, ev: Evaluation | None, dataset) -> None:
        """Show ``ev``'s `LEAST_LIKELY` least likely images of ``dataset`` (its images at ``ev.indices``)."""
        if ev is None or dataset is None or ev.indices is None:
            self.indices, self.values, self.images = np.zeros(0, np.int64), np.zeros(0), None
            self.model.clear()
            self.title.setText("Least likely images: no estimate yet")
            return
        idx, vals, unit = least_likely(ev, LEAST_LIKELY)
        idx_ok = idx[idx < len(dataset)]
        vals = vals[: len(idx_ok)]
        self.indices, self.values, self.unit = idx_ok, vals, unit
        self.images = np.asarray(dataset.images[idx_ok], np.float32)
        fmt = "{:.3f}" if unit == "bits/dim" else "{:.1f}"
        self.model.set_items(self.images, idx_ok, [fmt.format(v) for v in vals])
        n = len(ev.indices)
        self.title.setText(f"{len(idx_ok)} least likely of N = {n:,}, −log p(x) [{unit}]")
        self.title.setToolTip("The images the model finds least likely — out-of-distribution or label-noise "
                              "candidates; the value under each. Click (Ctrl/Shift for more) to select them in "
                              "the embedding.")

    def export(self, path) -> str:
        """The grid as PNG/SVG/PDF (`explorer.core.figures.save_grid_figure`), 4 per row, values as row labels."""
        from explorer.core.figures import save_grid_figure

        if self.images is None or not len(self.images):
            raise ValueError("there are no least likely images to export yet")
        cols = 4
        rows = -(-len(self.images) // cols)
        c, h, w = self.images.shape[1:]
        cells = np.ones((rows * cols, c, h, w), np.float32)
        cells[: len(self.images)] = self.images
        fmt = "{:.3f}" if self.unit == "bits/dim" else "{:.1f}"
        labels = []
        for r in range(rows):
            part = slice(r * cols, min((r + 1) * cols, len(self.values)))
            labels.append("  ".join(f"#{int(i)}: {fmt.format(v)}" for i, v in
                                    zip(self.indices[part], self.values[part], strict=True)))
        return str(save_grid_figure(path, cells.reshape(rows, cols, c, h, w), row_labels=labels,
                                    title=f"Least likely images, −log p(x) in {self.unit} (dataset index: value)",
                                    scale=3))

    def _emit_picked(self) -> None:
        rows = sorted(i.row() for i in self.view.selectionModel().selectedIndexes())
        if rows:
            self.picked.emit(np.array([self.model.data(self.model.index(r), DATASET_INDEX_ROLE) for r in rows],
                                      np.int64))
