"""Reconstructions panel: originals / reconstructions / JPEG per image, dataset means, rate–distortion, inversion."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QBoxLayout,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from explorer.core.reconstruction.inverted import InvertedCodesStores
from explorer.gui.dialogs import ask_save_path
from explorer.gui.images import to_pixmap
from explorer.gui.rate_distortion_view import RateDistortionView

# The jobs are `explorer.core.reconstruction.jobs` (torch, scikit-image): imported in the job, not here.
if TYPE_CHECKING:
    from explorer.core.reconstruction.jobs import ImagesResult

__all__ = [
    "ReconstructionPanel",
    "PRECISIONS",
    "SOURCES",
    "format_db",
    "format_ssim",
    "summary_text",
]

#: Precisions offered (DESIGN.md §3): floats, then k-bit uniform quantisation.
PRECISIONS: tuple[str, ...] = ("float32", "float16", "16bit", "12bit", "10bit", "8bit", "6bit", "4bit", "3bit", "2bit")
#: Which images the grid shows: key → text in the combo.
SOURCES: dict[str, str] = {"selection": "Selection", "random": "Random sample",
                           "worst": "Worst by PSNR", "best": "Best by PSNR"}
#: Size of the thumbnails in the table, pixels.
ICON_PX = 42


def format_db(v: float) -> str:
    """PSNR for a table cell: "21.34" (dB), "inf" or "n/a"."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return "inf" if math.isinf(v) else f"{v:.2f}"


def format_ssim(v: float) -> str:
    """SSIM for a table cell: "0.812" or "n/a" (images smaller than the 11×11 window)."""
    if v is None or not np.isfinite(v):
        return "n/a"
    return f"{v:.3f}"


def _ci(ci: Sequence[float], fmt: Callable[[float], str]) -> str:
    lo, hi = ci
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return ""
    return f" [{fmt(lo)}, {fmt(hi)}]"


def _inversion_text(report) -> str:
    from explorer.core.reconstruction.inverted import inversion_summary

    settings = report.inversion_settings
    return " (GAN inversion" + (f", {inversion_summary(settings)})" if settings is not None else ")")


def summary_text(report, what: str) -> str:
    """The panel's summary of a `ReconstructionReport` (plain text, several lines).

    Parameters
    ----------
    report : explorer.core.reconstruction.ReconstructionReport
    what : str
        Which images, e.g. "8 images of the selection" or "the whole dataset (10,000 images)".
    """
    src = report.codes_source.value
    lines = [
        f"{what} · codes: {src}" + (_inversion_text(report) if src == "inverted" else "")
        + f" · {report.precision}: ratio {report.compression_ratio:.3g}× ({report.code_bits:,} bits, "
        f"{report.bpp:.3g} bpp)",
        f"PSNR {format_db(report.psnr_db)} dB{_ci(report.psnr_ci, format_db)} · "
        f"SSIM {format_ssim(report.ssim_mean)}{_ci(report.ssim_ci, format_ssim)}"
        + (" (mean [95 % interval])" if report.n_images > 1 else ""),
    ]
    j = report.jpeg
    skip = set()
    if j is not None:
        reach = "" if j.reachable else f" (cannot reach {report.compression_ratio:.3g}×)"
        lines.append(f"JPEG quality {j.quality}: ratio {j.compression_ratio:.3g}×{reach} · "
                     f"PSNR {format_db(j.psnr_db)} dB · SSIM {format_ssim(j.ssim_mean)}")
        skip.add(j.message)
    lines.extend(n for n in report.notes if n not in skip and not n.startswith("codes found by GAN inversion"))
    return "\n".join(lines)


# ---- the panel -------------------------------------------------------------------------------------


class ReconstructionPanel(QWidget):
    """Originals / reconstructions / JPEG with per-image PSNR and SSIM; dataset means; rate–distortion.

    Thin over `explorer.core.reconstruction.jobs`: every measurement is a job (``runner``)
    that returns a core result, which the panel only displays. Without a runner (tests), jobs
    run at once in the calling thread.

    Parameters
    ----------
    runner : explorer.gui.jobs.JobRunner, optional
    parent : QWidget, optional
    """

    report_shown = Signal(object)
    dataset_report_shown = Signal(object)
    error_reported = Signal(str)

    def __init__(self, runner=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.model = None
        self.dataset = None
        self.model_name = ""
        self._model_hash = self._dataset_id = ""
        self._stores = InvertedCodesStores(directory=False)
        self._selection = np.empty(0, np.int64)
        self.result: ImagesResult | None = None
        self.dataset_result: ImagesResult | None = None
        self.comparison = None

        # controls
        self.source_combo = QComboBox()
        for key, text in SOURCES.items():
            self.source_combo.addItem(text, key)
        self.source_combo.setCurrentIndex(1)
        self.n_spin = QSpinBox(minimum=1, maximum=64, value=8)
        self.n_spin.setToolTip("Images in the grid")
        self.precision_combo = QComboBox()
        for p in PRECISIONS:
            self.precision_combo.addItem(p, p)
        self.precision_combo.setToolTip("How each latent component is stored; quality is measured on images "
                                        "decoded from the code at this precision")
        self.sample_combo = QComboBox()
        self.sample_combo.addItem("posterior mean", "mean")
        self.sample_combo.addItem("posterior sample", "posterior")
        self.sample_combo.setToolTip("VAE/ALI: decode the mean of q(z|x) or one seeded draw from it")
        self.seed_spin = QSpinBox(minimum=0, maximum=2**31 - 1, value=0)
        self.seed_spin.setToolTip("Seed of the random sample of images and of the posterior draw")
        self.show_button = QPushButton("Show")
        self.show_button.clicked.connect(self.show_images)
        self.dataset_combo = QComboBox()
        self.dataset_combo.addItem("seeded sample of N", "sample")
        self.dataset_combo.addItem("whole dataset", "all")
        self.dataset_n_spin = QSpinBox(minimum=2, maximum=1_000_000, value=1000, singleStep=100)
        self.measure_button = QPushButton("Measure dataset")
        self.measure_button.setToolTip("Means with 95 % intervals (mean ± 1.96·s/√n) — runs as a job")
        self.measure_button.clicked.connect(self.measure_dataset)
        self.rd_button = QPushButton("Rate–distortion")
        self.rd_button.setToolTip("PSNR and SSIM against ratio for the model across precisions, with JPEG "
                                  "(and WebP) over their quality ranges, on N sampled images")
        self.rd_button.clicked.connect(self.measure_rate_distortion)
        self.steps_spin = QSpinBox(minimum=0, maximum=10_000, value=150, singleStep=50)  # InversionSettings.steps
        self.restarts_spin = QSpinBox(minimum=1, maximum=64, value=4)
        self.compare_button = QPushButton("E(x) vs inversion")
        self.compare_button.setToolTip("ALI/BiGAN: reconstruction quality from the encoder's codes against "
                                       "codes found by GAN inversion, on the images of the grid settings")
        self.compare_button.clicked.connect(self.compare_inversion)
        self.save_button = QPushButton("Save figure…")
        self.save_button.clicked.connect(self._on_save_clicked)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        row = QHBoxLayout()
        row.addWidget(self.source_combo, 1)
        row.addWidget(QLabel("N"))
        row.addWidget(self.n_spin)
        row.addWidget(QLabel("seed"))
        row.addWidget(self.seed_spin)
        form.addRow("Images", row)
        row = QHBoxLayout()
        row.addWidget(self.precision_combo, 1)
        row.addWidget(self.sample_combo, 1)
        form.addRow("Code", row)
        row = QHBoxLayout()
        row.addWidget(QLabel("steps"))
        row.addWidget(self.steps_spin)
        row.addWidget(QLabel("restarts"))
        row.addWidget(self.restarts_spin)
        row.addStretch(1)
        self.inversion_label = QLabel("Inversion")
        self.inversion_row = QWidget()
        self.inversion_row.setLayout(row)
        row.setContentsMargins(0, 0, 0, 0)
        form.addRow(self.inversion_label, self.inversion_row)
        row = QHBoxLayout()
        row.addWidget(self.dataset_combo, 1)
        row.addWidget(self.dataset_n_spin)
        form.addRow("Dataset", row)
        buttons = QVBoxLayout()
        for group in ((self.show_button, self.save_button),
                      (self.measure_button, self.rd_button, self.compare_button)):
            line = QHBoxLayout()
            for b in group:
                line.addWidget(b)
            line.addStretch(1)
            buttons.addLayout(line)

        self.summary = QLabel("Open a model and a dataset.")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.dataset_summary = QLabel("Press “Measure dataset” for means with 95 % intervals over the whole "
                                      "dataset or a seeded sample.")
        self.dataset_summary.setWordWrap(True)
        self.dataset_summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.table = QTableWidget(0, 8)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.setIconSize(QSize(ICON_PX, ICON_PX))
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self._set_headers("encoder", None)

        self.rd_view = RateDistortionView()
        images_tab = QWidget()
        il = QVBoxLayout(images_tab)
        il.setContentsMargins(0, 0, 0, 0)
        il.addWidget(self.summary)
        il.addWidget(self.table, 1)
        means_tab = QWidget()
        ml = QVBoxLayout(means_tab)
        ml.addWidget(self.dataset_summary)
        ml.addStretch(1)
        self.tabs = QTabWidget()
        self.tabs.addTab(images_tab, "Images")
        self.tabs.addTab(means_tab, "Dataset means")
        self.tabs.addTab(self.rd_view, "Rate–distortion")

        self.controls = QWidget()
        cl = QVBoxLayout(self.controls)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addLayout(form)
        cl.addLayout(buttons)
        cl.addStretch(1)
        # side by side in a wide dock (bottom area), stacked in a narrow one
        self._layout = QBoxLayout(QBoxLayout.Direction.TopToBottom, self)
        self._layout.addWidget(self.controls)
        self._layout.addWidget(self.tabs, 1)
        self._update_enabled()

    #: Width (pixels) from which controls and results sit side by side.
    WIDE_PX = 760

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        wide = event.size().width() >= self.WIDE_PX
        direction = QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom
        if self._layout.direction() != direction:
            self._layout.setDirection(direction)
            self.controls.setMaximumWidth(400 if wide else 16_777_215)

    # ---- context

    def set_context(self, model, dataset, model_name: str = "", *, model_hash: str | None = None,
                    dataset_id: str | None = None, stores=None) -> None:
        """The model and the dataset (as opened) that the panel measures; None clears.

        Parameters
        ----------
        model, dataset, model_name
            What is measured, and the model's name in texts.
        model_hash, dataset_id : str, optional
            Keys of the inverted-codes store (``ModelEntry.file_hash``,
            `explorer.core.workspace.dataset_identity`); default: keys that live as long
            as these objects.
        stores : explorer.core.reconstruction.inverted.InvertedCodesStores, optional
            Shared with the window so the embedding and this panel invert each image once;
            default: the panel's own, in memory.
        """
        changed = model is not self.model or dataset is not self.dataset
        self.model, self.dataset, self.model_name = model, dataset, model_name
        self._model_hash = model_hash or f"object-{id(model)}"
        self._dataset_id = dataset_id or f"object-{id(dataset)}"
        if stores is not None:
            self._stores = stores
        if changed:
            self.result = self.dataset_result = self.comparison = None
            self.table.setRowCount(0)
            self.dataset_summary.setText("")
            self.rd_view.clear()
            self.summary.setText(self._context_text())
            if model is not None:  # inversion costs ~0.1 s per image: a smaller default sample
                self.dataset_n_spin.setValue(1000 if model.has_encoder else 100)
        self._update_enabled()

    def set_selection(self, indices) -> None:
        """Dataset indices selected in the embedding (the "Selection" source)."""
        self._selection = np.asarray(indices, dtype=np.int64)

    def _context_text(self) -> str:
        if self.model is None or self.dataset is None:
            return "Open a model and a dataset."
        if not self.model.has_encoder:
            return (f"{self.model_name}: a GAN without encoder — codes are found by GAN inversion "
                    f"(Adam on ‖G(z) − x‖² + prior term) and labelled “inverted”. Press Show.")
        return f"{self.model_name}: press Show to reconstruct images."

    def _update_enabled(self) -> None:
        ready = self.model is not None and self.dataset is not None
        for w in (self.show_button, self.measure_button, self.rd_button, self.save_button):
            w.setEnabled(ready)
        has_enc = bool(ready and self.model.has_encoder)
        self.sample_combo.setEnabled(has_enc and hasattr(self.model, "posterior"))
        self.compare_button.setVisible(has_enc)
        if has_enc:  # inversion needs a decode that passes gradients (an adapter's may not)
            if getattr(self, "_gradient_of", None) is not self.model:
                from explorer.core.reconstruction.inversion import decode_gives_gradient

                self._gradient_of, self._gradient_ok = self.model, decode_gives_gradient(self.model)
            self.compare_button.setEnabled(self._gradient_ok)
            self.compare_button.setToolTip(
                "ALI/BiGAN: reconstruction quality from the encoder's codes against codes found by GAN "
                "inversion, on the images of the grid settings" if self._gradient_ok else
                f"{self.model_name}'s decode gives no gradient to z, which GAN inversion needs "
                "(e.g. an adapter that decodes under torch.no_grad or through numpy)")
        # inversion settings matter for a GAN without encoder and for the ALI/BiGAN comparison
        self.inversion_label.setVisible(ready and (not has_enc or hasattr(self.model, "posterior")))
        self.inversion_row.setVisible(self.inversion_label.isVisibleTo(self))
        self.save_button.setEnabled(self.result is not None)

    # ---- settings

    @property
    def precision(self) -> str:
        return self.precision_combo.currentData()

    @property
    def source(self) -> str:
        return self.source_combo.currentData()

    def set_source(self, key: str) -> None:
        self.source_combo.setCurrentIndex(list(SOURCES).index(key))

    def set_precision(self, p: str) -> None:
        self.precision_combo.setCurrentIndex(PRECISIONS.index(p))

    def settings(self) -> dict:
        """The panel's choices (what a session file keeps): images shown, precision, code, seed, dataset scope,
        and ``inversion`` (steps, restarts)."""
        return {"source": self.source_combo.currentData(), "n": self.n_spin.value(),
                "precision": self.precision_combo.currentData(), "sample": self.sample_combo.currentData(),
                "seed": self.seed_spin.value(), "scope": self.dataset_combo.currentData(),
                "dataset_n": self.dataset_n_spin.value(),
                "inversion": {"steps": self.steps_spin.value(), "restarts": self.restarts_spin.value()}}

    def apply_settings(self, settings: dict) -> None:
        """Set the panel from :meth:`settings`-like values (without signals; unknown values are ignored)."""
        combos = {"source": self.source_combo, "precision": self.precision_combo, "sample": self.sample_combo,
                  "scope": self.dataset_combo}
        spins = {"n": self.n_spin, "seed": self.seed_spin, "dataset_n": self.dataset_n_spin}
        inv = settings.get("inversion") or {}
        spins_inv = {"steps": self.steps_spin, "restarts": self.restarts_spin}
        for w in (*combos.values(), *spins.values(), *spins_inv.values()):
            w.blockSignals(True)
        try:
            for key, combo in combos.items():
                index = combo.findData(settings.get(key))
                if index >= 0:
                    combo.setCurrentIndex(index)
            for source, widgets in ((settings, spins), (inv, spins_inv)):
                for key, spin in widgets.items():
                    if isinstance(source.get(key), int):
                        spin.setValue(source[key])
        finally:
            for w in (*combos.values(), *spins.values(), *spins_inv.values()):
                w.blockSignals(False)

    def inversion_settings(self):
        """The `InversionSettings` of the panel (steps, restarts; seed 0, the other defaults)."""
        from explorer.core.reconstruction.inversion import InversionSettings

        return InversionSettings(steps=self.steps_spin.value(), restarts=self.restarts_spin.value())

    def _store_getter(self):
        """A function for a job: the inverted-codes store of the current context and settings."""
        model, ds, stores, inv = self.model, self.dataset, self._stores, self.inversion_settings()
        mh, did = self._model_hash, self._dataset_id
        return lambda: stores.get(model, mh, did, len(ds), inv)

    # ---- jobs

    def _submit(self, kind: str, fn, label: str, on_done) -> None:
        if self.runner is None:
            try:
                on_done(fn(ctx=None))
            except Exception as exc:  # noqa: BLE001 - shown as one sentence
                self._report_error(str(exc))
            return
        self.runner.submit(kind, fn, label=label, on_done=on_done)

    def _report_error(self, message: str) -> None:
        self.summary.setText(message)
        self.error_reported.emit(message)

    def show_images(self) -> None:
        """Reconstruct and show the grid images (job "reconstruction")."""
        if self.model is None or self.dataset is None:
            return
        if self.source == "selection" and len(self._selection) == 0 and not self.model.has_encoder:
            self._report_error("No dataset images are selected: a GAN's prior samples are not dataset images — "
                               "show “Dataset images, inverted z” (Points of a GAN) and select some, or "
                               "choose “Random sample” or “Worst/Best by PSNR”.")
            return
        if self.source == "selection" and len(self._selection) == 0:
            self._report_error("No points are selected: select points in the embedding, or choose "
                               "“Random sample”.")
            return
        model, ds, src, n = self.model, self.dataset, self.source, self.n_spin.value()
        sel, prec, sample, seed = self._selection.copy(), self.precision, self.sample_combo.currentData(), \
            self.seed_spin.value()
        inv = self.inversion_settings()
        pool = self.dataset_n_spin.value()

        store = self._store_getter()

        def job(ctx):
            from explorer.core.reconstruction.jobs import reconstruct_images

            return reconstruct_images(model, ds, src, n, sel, prec, sample, seed, inv, pool, ctx, store())

        self._submit("reconstruction", job, f"reconstructions at {prec}", self.show_result)

    def measure_dataset(self) -> None:
        """Dataset means with 95 % intervals (job "reconstruction-dataset")."""
        if self.model is None or self.dataset is None:
            return
        n = None if self.dataset_combo.currentData() == "all" else self.dataset_n_spin.value()
        model, ds, prec, sample, seed = self.model, self.dataset, self.precision, \
            self.sample_combo.currentData(), self.seed_spin.value()
        inv = self.inversion_settings()

        store = self._store_getter()

        def job(ctx):
            from explorer.core.reconstruction.jobs import measure_dataset

            return measure_dataset(model, ds, n, prec, sample, seed, inv, ctx, store())

        count = len(ds) if n is None else min(n, len(ds))
        self._submit("reconstruction-dataset", job, f"reconstruction metrics of {count:,} images",
                     self.show_dataset_result)

    def measure_rate_distortion(self) -> None:
        """Rate–distortion curves on a seeded sample (job "rate-distortion")."""
        if self.model is None or self.dataset is None:
            return
        n = min(self.dataset_n_spin.value(), 500 if self.model.has_encoder else 64)
        model, ds, sample, seed = self.model, self.dataset, self.sample_combo.currentData(), self.seed_spin.value()
        inv = self.inversion_settings()

        store = self._store_getter()

        def job(ctx):
            from explorer.core.reconstruction.jobs import RD_PRECISIONS, measure_rate_distortion

            return measure_rate_distortion(model, ds, n, RD_PRECISIONS, sample, seed, inv, ctx, store())

        self.tabs.setCurrentWidget(self.rd_view)
        self._submit("rate-distortion", job, f"rate–distortion on {n:,} images",
                     lambda rows: self.rd_view.set_rows(rows, f"{self.model_name}, {n:,} images, seed {seed}"))

    def compare_inversion(self) -> None:
        """ALI/BiGAN: encoder codes against inverted codes (job "inversion-compare")."""
        if self.model is None or self.dataset is None or not self.model.has_encoder:
            return
        model, ds, n, seed = self.model, self.dataset, self.n_spin.value(), self.seed_spin.value()
        inv = self.inversion_settings()

        store = self._store_getter()

        def job(ctx):
            from explorer.core.reconstruction.jobs import compare_inversion

            return compare_inversion(model, ds, n, seed, inv, ctx, store())

        self._submit("inversion-compare", job, f"GAN inversion of {n} images", self.show_comparison)

    # ---- results

    def _set_headers(self, source: str, jpeg_quality: int | None) -> None:
        j = f"JPEG q{jpeg_quality}" if jpeg_quality is not None else "JPEG"
        self.table.setHorizontalHeaderLabels(
            ["#", "original", f"recon. ({source})", j, "PSNR dB", "SSIM", f"{j}\nPSNR dB", f"{j}\nSSIM"])
        tips = ["dataset index", "the image the model sees", f"decoded from the {source} code at the chosen precision",
                "JPEG at the quality whose ratio is closest to the code's", "PSNR of the reconstruction, dB, "
                "data range 1.0", "SSIM of the reconstruction (Wang et al. 2004; σ = 1.5, K1 0.01, K2 0.03)",
                "PSNR of JPEG, dB", "SSIM of JPEG"]
        for c, tip in enumerate(tips):
            item = self.table.horizontalHeaderItem(c)
            if item is not None:
                item.setToolTip(tip)

    def show_result(self, result: ImagesResult) -> None:
        """Fill the table and the summary from `reconstruct_images`."""
        self.result = result
        rep = result.report
        x = result.images
        j = rep.jpeg
        jimgs = None
        if j is not None:
            jimgs = j.images
            if x is not None and jimgs.shape[1:] != x.shape[1:] and jimgs.shape[1] == x.shape[1]:
                from explorer.data import resize_images

                jimgs = resize_images(jimgs, *x.shape[2:])
        self._set_headers(rep.codes_source.value, j.quality if j is not None else None)
        self.table.setRowCount(len(result.indices))
        for r, i in enumerate(result.indices):
            cells = [str(int(i)), None, None, None, format_db(rep.psnr[r]), format_ssim(rep.ssim[r]),
                     format_db(j.psnr[r]) if j is not None else "", format_ssim(j.ssim[r]) if j is not None else ""]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text or "")
                if c >= 4 or c == 0:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
            for c, img in ((1, x[r] if x is not None else None), (2, rep.reconstructions[r]),
                           (3, jimgs[r] if jimgs is not None else None)):
                if img is not None:
                    self.table.item(r, c).setIcon(to_pixmap(img, ICON_PX))
            self.table.setRowHeight(r, ICON_PX + 4)
        self.summary.setText(summary_text(rep, result.what))
        self.tabs.setCurrentIndex(0)
        self._update_enabled()
        self.report_shown.emit(rep)

    def show_dataset_result(self, result: ImagesResult) -> None:
        """Show dataset means with 95 % intervals from `measure_dataset`."""
        self.dataset_result = result
        self.dataset_summary.setText(summary_text(result.report, result.what))
        self.tabs.setCurrentIndex(1)
        self.dataset_report_shown.emit(result.report)

    def show_comparison(self, comp) -> None:
        """Show the encoder-vs-inversion comparison (means over images)."""
        self.comparison = comp
        d = comp.to_dict()
        e, i = d["encoder"], d["inverted"]
        self.dataset_summary.setText(
            f"E(x) against GAN inversion on {d['n_images']} images: encoder codes PSNR {format_db(e['psnr_db'])} dB, "
            f"SSIM {format_ssim(e['ssim'])}; inverted codes ({comp.settings.steps} steps, "
            f"{comp.settings.restarts} restarts) PSNR {format_db(i['psnr_db'])} dB, "
            f"SSIM {format_ssim(i['ssim'])}")
        self.tabs.setCurrentIndex(1)

    def save_figure(self, path) -> None:
        """Save the grid shown (rows original / reconstruction / JPEG) as PNG, SVG or PDF."""
        from explorer.core.figures import save_grid_figure

        if self.result is None:
            raise ValueError("nothing to save: press Show first")
        rep = self.result.report
        rows, labels = [], []
        x = self.result.images
        rows.append(x)
        labels.append("original")
        rows.append(rep.reconstructions)
        labels.append(f"{rep.precision} ({rep.codes_source.value}) {rep.compression_ratio:.3g}×")
        if rep.jpeg is not None and rep.jpeg.images.shape == x.shape:
            rows.append(rep.jpeg.images)
            labels.append(f"JPEG q{rep.jpeg.quality} {rep.jpeg.compression_ratio:.3g}×")
        save_grid_figure(path, np.stack(rows), row_labels=labels,
                         col_labels=[f"{format_db(v)} dB" for v in rep.psnr], scale=3)

    def _on_save_clicked(self) -> None:
        path = ask_save_path(self, "Save reconstructions", "reconstructions.png",
                             "PNG (*.png);;SVG (*.svg);;PDF (*.pdf)")
        if path:
            try:
                self.save_figure(path)
            except (OSError, ValueError) as exc:
                self._report_error(f"could not save '{path}': {exc}")
                return
            self.summary.setText(f"Wrote {path}.")
