"""Rate–distortion plot: PSNR and SSIM against compression ratio (or bits per pixel), latent code vs codecs."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from explorer.gui.colors import plain_ticks

__all__ = ["RateDistortionView", "AXES", "series_of", "reach_note", "nice_ticks"]

#: x axes the view can show: key of a `explorer.core.reconstruction.rate_distortion` row → axis title.
AXES: dict[str, str] = {"ratio": "compression ratio: original image bits / code bits (×, log scale)",
                        "bpp": "bits per pixel of the original image (log scale)"}

_STYLES = {
    "latent": dict(pen=pg.mkPen("#d62728", width=2), symbol="o", symbolBrush="#d62728", symbolPen="#d62728"),
    "jpeg": dict(pen=pg.mkPen("#1f77b4", width=2), symbol="s", symbolBrush="#1f77b4", symbolPen="#1f77b4"),
    "webp": dict(pen=pg.mkPen("#2ca02c", width=2), symbol="t", symbolBrush="#2ca02c", symbolPen="#2ca02c"),
}


def series_of(rows: Sequence[dict]) -> dict[str, list[dict]]:
    """Group `rate_distortion` rows by ``method``, each group sorted by ratio (ascending)."""
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["method"], []).append(r)
    return {m: sorted(v, key=lambda r: r["ratio"]) for m, v in out.items()}


def reach_note(rows: Sequence[dict]) -> str:
    """Sentences saying how far each codec reaches next to the latent code's highest ratio.

    E.g. "JPEG reaches at most 3.94× on these images (quality 1); the latent code goes to
    98×. Beyond that there is no JPEG point: nothing is extrapolated."
    """
    series = series_of(rows)
    latent = [r for m, v in series.items() if m.startswith("latent") for r in v]
    if not latent:
        return ""
    top = max(r["ratio"] for r in latent)
    parts = []
    for codec, name in (("jpeg", "JPEG"), ("webp", "WebP")):
        pts = series.get(codec)
        if pts:
            best = max(pts, key=lambda r: r["ratio"])
            if best["ratio"] < top:
                parts.append(f"{name} reaches at most {best['ratio']:.3g}× ({best['setting']})")
    if not parts:
        return ""
    return (" and ".join(parts) + f" on these images, the latent code {top:.3g}×; "
            "beyond a codec's last point nothing is extrapolated.")


def nice_ticks(lo: float, hi: float) -> list[tuple[float, str]]:
    """Ticks 1, 2, 5, 10, 20, 50, … between ``lo`` and ``hi`` (> 0) for a log axis: ``(log10 v, "v")``."""
    out = []
    if not (lo > 0 and hi > lo):
        return out
    for e in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 2):
        for m in (1, 2, 5):
            v = m * 10.0 ** e
            if lo / 1.5 <= v <= hi * 1.5:
                out.append((math.log10(v), f"{v:g}"))
    return out


class _PlotWidget(pg.PlotWidget):
    """A PlotWidget with a modest size hint, so a scrolling dock does not grow to 2 × 480 px."""

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(320, 200)


class RateDistortionView(QWidget):
    """Two plots side by side: mean PSNR (dB) and mean SSIM against ratio or bits per pixel.

    The latent code is one point per precision (labelled "float32", "8bit", …); JPEG and
    WebP are curves over their quality ranges on the same images. Feed it with
    `set_rows` (rows of `explorer.core.reconstruction.rate_distortion`).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[dict] = []
        self.axis_combo = QComboBox()
        for key, title in AXES.items():
            self.axis_combo.addItem(title.split(" (")[0], key)
        self.axis_combo.currentIndexChanged.connect(lambda _i: self._redraw())
        self.note = QLabel("Press “Rate–distortion” to measure.")
        self.note.setWordWrap(True)
        self.note.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.psnr_plot = _PlotWidget(background="w")
        self.ssim_plot = _PlotWidget(background="w")
        for plot, name in ((self.psnr_plot, "mean PSNR (dB)"), (self.ssim_plot, "mean SSIM")):
            plot.setLogMode(x=True, y=False)
            plot.showGrid(x=True, y=True, alpha=0.25)
            plot.setLabel("left", name)
            for axis in ("bottom", "left"):
                plain_ticks(plot.getAxis(axis))
            plot.setMinimumHeight(90)
            plot.getViewBox().setDefaultPadding(0.1)  # room for the precision labels
        self.psnr_plot.addLegend(offset=(-5, 5), labelTextSize="8pt")
        top = QHBoxLayout()
        top.addWidget(QLabel("x axis:"))
        top.addWidget(self.axis_combo)
        top.addStretch(1)
        plots = QVBoxLayout()
        plots.addWidget(self.psnr_plot)
        plots.addWidget(self.ssim_plot)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addLayout(plots, 1)
        lay.addWidget(self.note)

    @property
    def rows(self) -> list[dict]:
        """The rows shown."""
        return list(self._rows)

    @property
    def x_key(self) -> str:
        """"ratio" or "bpp"."""
        return self.axis_combo.currentData()

    def set_x_key(self, key: str) -> None:
        """Show ``key`` ("ratio" or "bpp") on the x axes."""
        self.axis_combo.setCurrentIndex(list(AXES).index(key))

    def set_rows(self, rows: Sequence[dict], title: str = "") -> None:
        """Plot `rate_distortion` rows (keys method, setting, ratio, bpp, psnr, ssim)."""
        self._rows = [dict(r) for r in rows]
        self._title = title
        self._redraw()

    def clear(self) -> None:
        """Remove every curve."""
        self._rows = []
        self._redraw()

    def _redraw(self) -> None:
        key = self.x_key
        for plot in (self.psnr_plot, self.ssim_plot):
            plot.clear()
            plot.setLabel("bottom", AXES[key])
            plot.getAxis("bottom").setTicks(None)
        if not self._rows:
            return
        for method, pts in series_of(self._rows).items():
            style = _STYLES["latent" if method.startswith("latent") else method]
            xs = np.array([r[key] for r in pts], float)
            for plot, metric in ((self.psnr_plot, "psnr"), (self.ssim_plot, "ssim")):
                ys = np.array([np.nan if r[metric] is None else r[metric] for r in pts], float)
                ok = np.isfinite(xs) & np.isfinite(ys) & (xs > 0)
                if not ok.any():
                    continue
                name = method if method.startswith("latent") else method.upper() if method == "jpeg" else "WebP"
                plot.plot(xs[ok], ys[ok], name=name if plot is self.psnr_plot else None, **style)
                if method.startswith("latent"):
                    kept = [p for p, keep in zip(pts, ok, strict=True) if keep]
                    for k, (x, y, r) in enumerate(zip(xs[ok], ys[ok], kept, strict=True)):
                        # alternate above / below: neighbouring precisions often share a quality
                        t = pg.TextItem(r["setting"], color="#d62728", anchor=(0.5, 1.2) if k % 2 == 0 else (0.5, -0.2))
                        t.setPos(math.log10(x), y)
                        plot.addItem(t)
        xs_all = [r[key] for r in self._rows if r[key] and r[key] > 0]
        ticks = nice_ticks(min(xs_all), max(xs_all)) if xs_all else []
        for plot in (self.psnr_plot, self.ssim_plot):
            plot.getAxis("bottom").setTicks([ticks, []])
        note = reach_note(self._rows)
        ssims = [r["ssim"] for r in self._rows]
        if all(s is None or not np.isfinite(s) for s in ssims):
            note += " SSIM is unavailable for these images (smaller than its 11×11 window)."
        self.note.setText(((self._title + ". ") if self._title else "") + (note or "All ratios are reached."))
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
