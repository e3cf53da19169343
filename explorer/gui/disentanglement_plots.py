"""The Disentanglement panel's figures: the factor × latent mutual-information heatmap and the DCI Hinton diagram."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize

__all__ = ["MutualInformationPlot", "HintonPlot", "PlotExport"]


class PlotExport:
    """What `explorer.gui.view_export.export_view` needs of a plain pyqtgraph plot (no point layers to rasterise)."""

    render_mode = "vector"

    def __init__(self, widget: pg.PlotWidget) -> None:
        self.plot_item = widget.getPlotItem()

    def flush(self) -> None:
        """Nothing is pending in a plain plot."""


def _ticks(names):
    return [list(enumerate(names))]


class MutualInformationPlot(pg.PlotWidget):
    """Heatmap of ``I(v_k; z_j)`` in nats: one row per factor ``v_k``, one column per latent dimension ``z_j``.

    Each cell carries its value (two decimals) when the matrix is small enough to read; the
    colour bar is in nats.
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background="w")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.addItem(self.image)
        self.getPlotItem().invertY(True)
        self.getPlotItem().setMenuEnabled(False)
        self.setMouseEnabled(False, False)
        self.cmap = pg.colormap.get("viridis")
        self.image.setLookupTable(self.cmap.getLookupTable(nPts=256))
        self.bar = pg.ColorBarItem(values=(0, 1), colorMap=self.cmap, interactive=False, label="I(v; z) [nats]")
        self.bar.setImageItem(self.image, insert_in=self.getPlotItem())
        self._texts: list = []
        self.matrix = np.zeros((0, 0))
        self.getPlotItem().setLabel("bottom", "latent dimension z_j")
        self.getPlotItem().setLabel("left", "factor v_k")
        for ax in ("bottom", "left"):
            self.getPlotItem().getAxis(ax).setTextPen("k")
            self.getPlotItem().getAxis(ax).setPen("k")

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(420, 260)

    def set_matrix(self, mi, factor_names, title: str = "") -> None:
        """Show ``mi`` ``(K, d)`` float (nats) with the factor names down the side and z0 … z(d−1) along the bottom."""
        mi = np.asarray(mi, np.float64)
        self.matrix = mi
        for t in self._texts:
            self.removeItem(t)
        self._texts = []
        if mi.size == 0:
            self.image.clear()
            return
        k, d = mi.shape
        top = float(np.nanmax(mi)) if np.isfinite(mi).any() else 1.0
        top = top if top > 0 else 1.0
        self.image.setImage(np.nan_to_num(mi), levels=(0.0, top))
        self.image.setRect(-0.5, -0.5, d, k)
        self.bar.setLevels((0.0, top))
        self.getPlotItem().getAxis("bottom").setTicks([[(j, f"z{j}") for j in range(d)]])
        self.getPlotItem().getAxis("left").setTicks(_ticks(list(factor_names)))
        self.getPlotItem().setTitle(title, color="k", size="9pt")
        if k * d <= 400:
            for i in range(k):
                for j in range(d):
                    v = mi[i, j]
                    text = pg.TextItem(f"{v:.2f}", color="w" if v < 0.6 * top else "k", anchor=(0.5, 0.5))
                    text.setPos(j, i)
                    self.addItem(text)
                    self._texts.append(text)
        self.setRange(xRange=(-0.5, d - 0.5), yRange=(-0.5, k - 0.5), padding=0)


class HintonPlot(pg.PlotWidget):
    """Hinton diagram of the DCI importance matrix ``R`` ``(d, K)``: one square per (dimension, factor).

    A square's area is proportional to ``R_jk / max R`` (its side to the square root), so
    the largest importance fills its cell. Eastwood & Williams (2018, fig. 2) draw latent
    dimensions as rows; here factors are the rows and z_j the columns, as in the
    mutual-information heatmap beside it, so the two read the same way.
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background="w")
        self.squares = pg.ScatterPlotItem(pxMode=False, symbol="s", pen=pg.mkPen("k", width=0.5),
                                          brush=pg.mkBrush(40, 40, 40))
        self.addItem(self.squares)
        self.getPlotItem().setAspectLocked(True)  # squares, not rectangles: one data unit per cell both ways
        self.getPlotItem().invertY(True)
        self.getPlotItem().setMenuEnabled(False)
        self.setMouseEnabled(False, False)
        self.getPlotItem().setLabel("bottom", "latent dimension z_j")
        self.getPlotItem().setLabel("left", "factor v_k")
        for ax in ("bottom", "left"):
            self.getPlotItem().getAxis(ax).setTextPen("k")
            self.getPlotItem().getAxis(ax).setPen("k")
        self.matrix = np.zeros((0, 0))
        self.sides = np.zeros(0)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(420, 260)

    def set_matrix(self, importance, factor_names, title: str = "") -> None:
        """Show ``importance`` ``(d, K)`` non-negative; squares sized by importance (area ∝ R / max R)."""
        r = np.clip(np.nan_to_num(np.asarray(importance, np.float64)), 0.0, None)
        self.matrix = r
        if r.size == 0:
            self.squares.clear()
            return
        d, k = r.shape
        top = float(r.max()) or 1.0
        jj, kk = np.meshgrid(np.arange(d), np.arange(k), indexing="ij")
        self.sides = 0.92 * np.sqrt(r / top).ravel()  # (d·K,) in the order of r.ravel()
        self.squares.setData(x=jj.ravel().astype(float), y=kk.ravel().astype(float), size=self.sides)
        self.getPlotItem().getAxis("left").setTicks(_ticks(list(factor_names)))
        self.getPlotItem().getAxis("bottom").setTicks([[(j, f"z{j}") for j in range(d)]])
        self.getPlotItem().setTitle(title, color="k", size="9pt")
        self.setRange(xRange=(-0.5, d - 0.5), yRange=(-0.5, k - 0.5), padding=0.02)
