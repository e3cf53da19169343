"""Figures of a comparison drawn with pyqtgraph: rate–distortion of every model beside JPEG/WebP.

The Compare view shows them and ``latent-explorer compare`` exports the same widget to PDF/PNG.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from explorer.gui.colors import categorical_palette, plain_ticks
from explorer.gui.rate_distortion_view import nice_ticks

__all__ = ["rate_distortion_layout", "fill_rate_distortion"]


def rate_distortion_layout(rows: Sequence[dict], title: str) -> pg.GraphicsLayoutWidget:
    """A new widget with mean PSNR and mean SSIM against compression ratio (log) for every model and codec.

    Parameters
    ----------
    rows : sequence of dict
        `explorer.core.compare.report.rate_distortion_curves`: ``method`` ("latent", "jpeg",
        "webp"), ``model``, ``setting``, ``ratio`` (original image bits / code bits), ``psnr``
        (dB), ``ssim``.
    title : str

    Returns
    -------
    pyqtgraph.GraphicsLayoutWidget
    """
    win = pg.GraphicsLayoutWidget()
    win.setBackground("w")
    fill_rate_distortion(win, rows, title)
    return win


def fill_rate_distortion(win: pg.GraphicsLayoutWidget, rows: Sequence[dict], title: str) -> None:
    """Draw `rate_distortion_layout`'s plots into ``win`` (cleared first)."""
    win.clear()
    win.addLabel(html.escape(title), row=0, col=0, colspan=2, size="10pt", color="#222222")
    plots = []
    for col, (metric, name) in enumerate((("psnr", "mean PSNR (dB, data range 1)"), ("ssim", "mean SSIM"))):
        plot = win.addPlot(row=1, col=col)
        plot.setLogMode(x=True, y=False)
        plot.showGrid(x=True, y=True, alpha=0.25)
        plot.setLabel("left", name, color="#222222")
        plot.setLabel("bottom", "compression ratio (×, original image bits / code bits; log scale)", color="#222222")
        for axis in ("bottom", "left"):
            plain_ticks(plot.getAxis(axis))
            plot.getAxis(axis).setTextPen("#222222")
            plot.getAxis(axis).setPen("#444444")
        plots.append((plot, metric))
    plots[0][0].addLegend(offset=(-10, 10), labelTextSize="10pt", labelTextColor="#222222")
    models = [m for m in dict.fromkeys(r["model"] for r in rows if r["method"] == "latent")]
    palette = categorical_palette(max(len(models), 1))
    series = [(m, [r for r in rows if r["method"] == "latent" and r["model"] == m],
               {"pen": pg.mkPen(tuple(int(v) for v in palette[i][:3]), width=2), "symbol": "o",
                "symbolBrush": tuple(int(v) for v in palette[i][:3]), "symbolPen": None, "symbolSize": 7})
              for i, m in enumerate(models)]
    for codec, name, style, colour, symbol in (("jpeg", "JPEG", Qt.PenStyle.DashLine, "#555555", "s"),
                                               ("webp", "WebP", Qt.PenStyle.DotLine, "#000000", "t")):
        pts = [r for r in rows if r["method"] == codec]
        if pts:
            series.append((name, pts, {"pen": pg.mkPen(colour, width=2, style=style), "symbol": symbol,
                                       "symbolBrush": colour, "symbolPen": None, "symbolSize": 6}))
    for label, pts, style in series:
        pts = sorted(pts, key=lambda r: r["ratio"])
        xs = np.array([r["ratio"] for r in pts], float)
        for plot, metric in plots:
            ys = np.array([np.nan if r[metric] is None else r[metric] for r in pts], float)
            ok = np.isfinite(xs) & np.isfinite(ys) & (xs > 0)
            if ok.any():
                plot.plot(xs[ok], ys[ok], name=label if metric == "psnr" else None, **style)
            if metric == "psnr" and label in models:
                for k, (r, x, y) in enumerate(zip(pts, xs, ys, strict=True)):
                    if np.isfinite(y) and x > 0:
                        # alternate above / below: neighbouring precisions are close on a log axis
                        t = pg.TextItem(r["setting"], color=style["symbolBrush"],
                                        anchor=(0.5, 1.2) if k % 2 == 0 else (0.5, -0.2))
                        t.setPos(math.log10(x), y)
                        plot.addItem(t)
    ratios = [r["ratio"] for r in rows if r["ratio"] and r["ratio"] > 0]
    if ratios:
        ticks = nice_ticks(min(ratios), max(ratios))
        for plot, _ in plots:
            plot.getAxis("bottom").setTicks([ticks, []])
