"""Sample-quality panel: FID/KID/IS, precision/recall, density/coverage beside their floor, grids, human test."""

from __future__ import annotations

import math
import os
import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from explorer.core.session import sample_quality as ssq
from explorer.gui.dialogs import ask_save_path
from explorer.gui.panel_settings import SAMPLE_QUALITY_WORDS, SettingsBinding, in_panel_words
from explorer.gui.sample_quality_views import MemorisationGrid, MetricsTable, PlotExport, SamplesGrid, ScorePlot

__all__ = ["SampleQualityPanel", "make_sample_quality_panel", "EXTRACTORS", "HUMAN_ACTION_TEXT"]

#: The extractor choices: key → words in the combo.
EXTRACTORS = {"classifier": "Bundled classifier (lenet_fashion.pt, Fashion-MNIST LeNet)",
              "file": "Classifier checkpoint or feature adapter (.py)…",
              "torchscript": "Inception-v3 TorchScript file…"}
HUMAN_ACTION_TEXT = "Human real/fake test…"
IMAGES_JOB = "sample-quality-images"
GRID_GROUPS = "PNG image (*.png);;SVG drawing (*.svg);;PDF document (*.pdf)"


def eta_words(elapsed_s: float, fraction: float) -> str:
    """``" · about 40 s left"`` from the time so far and the fraction done (empty before 2 % is done)."""
    if not 0.02 <= fraction < 1 or elapsed_s <= 0:
        return ""
    left = elapsed_s * (1 - fraction) / fraction
    return f" · about {left:.0f} s left" if left < 120 else f" · about {left / 60:.0f} min left"


class SampleQualityPanel(QWidget):
    """Settings → Compute (a cancellable job) → metrics table, plots, samples, memorisation; the human test.

    Everything shown comes from the active model's ``"sample_quality"`` and ``"human"``
    evaluations in the session (`explorer.core.session.sample_quality`), so a restored session
    shows them again and switching the active model shows that model's result.

    Parameters
    ----------
    session : Session
    runner : SessionRunner, optional
        Runs the tasks (None: in the calling thread, for scripts).
    show_error : callable, optional
        Shows one sentence to the user.
    """

    def __init__(self, session, runner=None, show_error=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session, self.runner, self.show_error = session, runner, show_error
        self.extractor_path: str | None = None
        self._job_kind: str | None = None
        self._t0 = 0.0
        self._images_for = None  # the evaluation whose images were asked for
        self.human_window = None
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.addLayout(self._settings_bar())
        self.extractor_note = QLabel(self)
        self.extractor_note.setWordWrap(True)
        self.extractor_note.setStyleSheet("color: #8a4b00;")
        self.extractor_note.hide()
        outer.addWidget(self.extractor_note)
        progress = QHBoxLayout()
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setMaximumWidth(160)
        self.progress_label = QLabel(self)
        self.cancel_button = QPushButton("Cancel", self)
        progress.addWidget(self.progress_bar)
        progress.addWidget(self.progress_label, 1)
        progress.addWidget(self.cancel_button)
        self._progress_widgets = (self.progress_bar, self.progress_label, self.cancel_button)
        outer.addLayout(progress)
        self._show_progress(False)
        self.header = QLabel(self)
        self.header.setWordWrap(True)
        self.header.setTextFormat(Qt.TextFormat.PlainText)
        outer.addWidget(self.header)
        self.tabs = QTabWidget(self)
        outer.addWidget(self.tabs, 1)
        self.tabs.addTab(self._metrics_tab(), "Metrics")
        self.samples_grid = SamplesGrid()
        samples_tab = QWidget()
        st = QVBoxLayout(samples_tab)
        st.setContentsMargins(0, 0, 0, 0)
        self.samples_caption = QLabel(samples_tab)
        st.addWidget(self.samples_caption)
        st.addWidget(self._scrolled(self.samples_grid), 1)
        self.tabs.addTab(samples_tab, "Samples")
        self.tabs.addTab(self._memorisation_tab(), "Memorisation")
        self.compute_button.clicked.connect(self.compute)
        self.cancel_button.clicked.connect(self.cancel)
        self.human_button.clicked.connect(lambda: self.start_human_test())
        self.extractor_combo.activated.connect(self._on_extractor_chosen)
        self.binding = None
        self.binding = SettingsBinding(session, "sample_quality", {
            "extractor": (self.extractor_spec, self.set_extractor, (self.extractor_combo,)),
            "n_samples": (self.n_spin.value, self.n_spin.setValue, (self.n_spin,)),
            "real_split": (self.split_combo.currentData,
                           lambda v: self.split_combo.setCurrentIndex(max(0, self.split_combo.findData(v))),
                           (self.split_combo,)),
            "seed": (self.seed_spin.value, self.seed_spin.setValue, (self.seed_spin,)),
            "trials": (self.trials_spin.value, self.trials_spin.setValue, (self.trials_spin,)),
        })
        for sig in (self.n_spin.valueChanged, self.split_combo.currentIndexChanged, self.seed_spin.valueChanged,
                    self.trials_spin.valueChanged):
            sig.connect(self.binding.store)
        s = session
        for sig in (s.active_changed, s.models_changed, s.dataset_changed):
            sig.connect(lambda *_: self.refresh())
        s.evaluation_changed.connect(self._on_evaluation_changed)
        if runner is not None:
            jr = runner.runner
            jr.job_progress.connect(self._on_progress)
            for sig in (jr.job_finished, jr.job_cancelled):
                sig.connect(lambda kind, *_: self._on_job_ended(kind))
            jr.job_failed.connect(self._on_job_failed)
        self.refresh()

    # ------------------------------------------------------------------ layout

    def _settings_bar(self) -> QHBoxLayout:
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Extractor:", self))
        self.extractor_combo = QComboBox(self)
        for key, text in EXTRACTORS.items():
            self.extractor_combo.addItem(text, key)
        self.extractor_combo.setToolTip("The feature network every number is computed in (and named by)")
        bar.addWidget(self.extractor_combo)
        bar.addWidget(QLabel("N samples:", self))
        self.n_spin = QSpinBox(self)
        self.n_spin.setRange(10, 200_000)  # explorer.core.sample_quality's MAX_SAMPLES
        self.n_spin.setSingleStep(1000)
        self.n_spin.setValue(10_000)
        self.n_spin.setGroupSeparatorShown(True)
        self.n_spin.setToolTip("Samples z ~ p(z); the real-vs-real floor uses the same N. FID falls as N grows.")
        bar.addWidget(self.n_spin)
        bar.addWidget(QLabel("Real set:", self))
        self.split_combo = QComboBox(self)
        self.split_combo.addItem("test split", "test")
        self.split_combo.addItem("train split", "train")
        bar.addWidget(self.split_combo)
        bar.addWidget(QLabel("Seed:", self))
        self.seed_spin = QSpinBox(self)
        self.seed_spin.setRange(0, 2**31 - 1)
        bar.addWidget(self.seed_spin)
        self.compute_button = QPushButton("Compute", self)
        self.compute_button.setToolTip("FID, KID, IS, precision/recall, density/coverage, the floor and memorisation")
        bar.addWidget(self.compute_button)
        self.human_button = QPushButton(HUMAN_ACTION_TEXT, self)
        self.human_button.setToolTip("Full screen: is each image real or generated? (←/R real, →/F fake, Esc stop)")
        bar.addWidget(self.human_button)
        bar.addWidget(QLabel("trials:", self))
        self.trials_spin = QSpinBox(self)
        self.trials_spin.setRange(2, 1000)
        self.trials_spin.setSingleStep(2)
        self.trials_spin.setValue(100)
        bar.addWidget(self.trials_spin)
        self.export_button = QToolButton(self)
        self.export_button.setText("Export")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        for text, which in (("Metrics table (CSV, JSON)…", "table"), ("Precision/recall plot…", "pr"),
                            ("Density/coverage plot…", "dc"), ("Samples grid…", "samples"),
                            ("Memorisation grid, pixel space…", "memorisation"),
                            ("Memorisation grid, feature space…", "memorisation_feature")):
            menu.addAction(text, lambda w=which: self._ask_export(w))
        self.export_button.setMenu(menu)
        bar.addWidget(self.export_button)
        bar.addStretch(1)
        return bar

    @staticmethod
    def _scrolled(widget: QWidget) -> QScrollArea:
        area = QScrollArea()
        area.setWidget(widget)
        area.setWidgetResizable(True)
        return area

    def _metrics_tab(self) -> QWidget:
        w = QWidget()
        lay = QHBoxLayout(w)
        lay.setContentsMargins(0, 0, 0, 0)
        left = QVBoxLayout()
        self.table = MetricsTable(w)
        left.addWidget(self.table, 1)
        self.memorisation_line = QLabel(w)
        self.memorisation_line.setWordWrap(True)
        left.addWidget(self.memorisation_line)
        self.notes = QLabel(w)
        self.notes.setWordWrap(True)
        self.notes.setStyleSheet("color: #555;")
        left.addWidget(self.notes)
        lay.addLayout(left, 3)
        self.pr_plot = ScorePlot("recall", "precision", w)
        self.dc_plot = ScorePlot("coverage", "density", w)
        lay.addWidget(self.pr_plot, 1)
        lay.addWidget(self.dc_plot, 1)
        return w

    def _memorisation_tab(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.setContentsMargins(0, 0, 0, 0)
        self.memorisation_caption = QLabel(w)
        self.memorisation_caption.setWordWrap(True)
        lay.addWidget(self.memorisation_caption)
        inner = QWidget()
        row = QHBoxLayout(inner)
        self.memorisation_grids: dict[str, MemorisationGrid] = {}
        self.memorisation_titles: dict[str, QLabel] = {}
        for space in ssq.SPACES:
            box = QVBoxLayout()
            title = QLabel(inner)
            title.setWordWrap(True)
            title.setMaximumWidth(420)
            grid = MemorisationGrid()
            box.addWidget(title)
            box.addWidget(grid)
            box.addStretch(1)
            row.addLayout(box)
            self.memorisation_grids[space], self.memorisation_titles[space] = grid, title
        row.addStretch(1)
        lay.addWidget(self._scrolled(inner), 1)
        return w

    # ------------------------------------------------------------------ settings

    def set_extractor(self, spec: str) -> None:
        """Use extractor ``spec``: ``"classifier"`` or a file (a TorchScript file runs its code when opened)."""
        from models.torchscript import is_torchscript_file

        if spec == "classifier":
            self.extractor_path = None
            self.extractor_combo.setCurrentIndex(0)
            self.extractor_note.hide()
            self._store_settings()
            return
        self.extractor_path = str(spec)
        ts = os.path.isfile(spec) and is_torchscript_file(spec)
        self.extractor_combo.setCurrentIndex(2 if ts else 1)
        name = os.path.basename(spec)
        if ts or spec.endswith(".py"):
            what = ("Opening a TorchScript file runs the code inside it" if ts else
                    "A feature adapter is Python code that is run")
            self.extractor_note.setText(
                f"Extractor {name}: {what} — choose only a file you trust (Inception-v3: the "
                "inception-2015-12-05 TorchScript of StyleGAN2-ADA / clean-fid; expect about 2 images/s on a "
                "2-core CPU).")
        else:
            self.extractor_note.setText(f"Extractor {name}: a classifier checkpoint (weights only, no code run).")
        self.extractor_note.show()
        self._store_settings()

    def _store_settings(self) -> None:
        if getattr(self, "binding", None) is not None:
            self.binding.store()

    def extractor_spec(self) -> str:
        """What ``--extractor`` would be: "classifier" or the chosen file."""
        key = self.extractor_combo.currentData()
        return "classifier" if key == "classifier" or not self.extractor_path else self.extractor_path

    def _on_extractor_chosen(self, index: int) -> None:
        key = self.extractor_combo.itemData(index)
        if key == "classifier":
            self.set_extractor("classifier")
            return
        filt = ("TorchScript (*.pt *.ts *.torchscript *.pth *.pkl);;All files (*)" if key == "torchscript" else
                "Classifier checkpoint or adapter (*.pt *.py);;All files (*)")
        path, _ = QFileDialog.getOpenFileName(self, "Feature extractor", "", filt)
        if path:
            self.set_extractor(path)
        else:
            self.set_extractor(self.extractor_path or "classifier")

    def settings(self):
        """The `SampleQualitySettings` of the controls (real sets from the session's dataset)."""
        return ssq.settings_for(self.session, extractor=self.extractor_spec(), n_samples=self.n_spin.value(),
                                real_split=self.split_combo.currentData(), seed=self.seed_spin.value())

    # ------------------------------------------------------------------ actions

    def compute(self):
        """Start the measurement of the active model (a job); returns its Task, or None with a sentence shown."""
        from explorer.core.sample_quality import SampleQualityError

        key = self.session.active_key
        if key is None or self.session.dataset is None:
            self.header.setText("Open a dataset with train and test splits and a model first.")
            return None
        try:
            task = ssq.sample_quality_task(self.session, key, self.settings())
        except (SampleQualityError, ValueError, KeyError) as exc:
            self.header.setText(f"Sample quality: {in_panel_words(str(exc), SAMPLE_QUALITY_WORDS).rstrip('.')}.")
            return None
        self._job_kind, self._t0 = task.kind, time.monotonic()
        self.progress_label.setText(f"{task.label}: starting…")
        self.progress_bar.setValue(0)
        self._show_progress(True)
        if self.runner is not None:
            self.runner.submit(task)
        else:
            try:
                self.session.run(task)
            finally:
                self._on_job_ended(task.kind)
        return task

    def cancel(self) -> None:
        """Stop the running measurement."""
        if self.runner is not None and self._job_kind is not None:
            self.runner.runner.cancel(self._job_kind)

    def start_human_test(self, full_screen: bool = True):
        """Open the full-screen real/fake test of the active model; returns the window (None with a sentence)."""
        from explorer.core.sample_quality import SampleQualityError
        from explorer.gui.human_test import HumanTestWindow

        key = self.session.active_key
        if key is None:
            self.header.setText("Open a dataset and a model first: the test shows its samples and real images.")
            return None
        n = self.trials_spin.value() // 2 * 2
        try:
            trials = ssq.human_test_session(self.session, key, n=n, seed=self.seed_spin.value())
        except (SampleQualityError, ValueError, KeyError) as exc:
            self.header.setText(f"Human test: {in_panel_words(str(exc), SAMPLE_QUALITY_WORDS).rstrip('.')}.")
            return None
        win = HumanTestWindow(trials, self.window())  # a window of its own that closes with the main window
        win.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        win.finished.connect(self._on_human_finished)
        self.human_window = win
        win.start(full_screen)
        return win

    def _on_human_finished(self, trials) -> None:
        if self.session.state(trials.key) is None or trials.test.result()["n_answered"] == 0:
            return
        ssq.record_human_result(self.session, trials.key, trials)

    # ------------------------------------------------------------------ jobs

    def _show_progress(self, on: bool) -> None:
        for w in self._progress_widgets:
            w.setVisible(on)

    def _on_progress(self, kind: str, _request: int, fraction: float, message: str) -> None:
        if kind != self._job_kind:
            return
        f = min(max(float(fraction), 0.0), 1.0)
        self.progress_bar.setValue(int(round(1000 * f)))
        self.progress_label.setText(f"{message}{eta_words(time.monotonic() - self._t0, f)}")

    def _on_job_ended(self, kind: str) -> None:
        if kind == IMAGES_JOB:
            self._images_for = None  # done, failed or superseded: a later refresh may ask again
        if kind == self._job_kind:
            self._job_kind = None
            self._show_progress(False)

    def _on_job_failed(self, kind: str, _request: int, message: str) -> None:
        if kind == self._job_kind:
            self.header.setText(in_panel_words(message, SAMPLE_QUALITY_WORDS))
        self._on_job_ended(kind)

    # ------------------------------------------------------------------ showing results

    def _on_evaluation_changed(self, key: str, family: str) -> None:
        if key == self.session.active_key and family in (ssq.FAMILY, ssq.HUMAN_FAMILY):
            self.refresh()

    def refresh(self) -> None:
        """Show the active model's evaluations (or say what to do)."""
        s = self.session
        m = s.active
        ev = s.evaluation(m.key, ssq.FAMILY) if m is not None else None
        human = s.evaluation(m.key, ssq.HUMAN_FAMILY) if m is not None else None
        ready = m is not None and m.model is not None and s.dataset is not None
        self.compute_button.setEnabled(ready)
        self.human_button.setEnabled(ready)
        if ev is None:
            self.header.setText("Choose the extractor, N and the real set, then press Compute. "
                                f"{ssq.COMPARE_NOTE[0].upper()}{ssq.COMPARE_NOTE[1:]}." if m is not None else
                                "Open a dataset (with train and test splits) and a model to measure its samples.")
            rows = [r for r in ssq.table_rows({}, human.record if human else None) if r["value"] is not None]
            self.table.set_rows(rows)
            for plot in (self.pr_plot, self.dc_plot):
                plot.set_points({})
            self.memorisation_line.setText("")
            self.notes.setText("")
            self.samples_grid.set_images(None)
            self.samples_caption.setText("")
            self._show_memorisation()
            return
        rec = ev.record
        self.header.setText(
            f"{m.name}: N = {rec['n_samples']:,} samples z ~ p(z) vs the {rec['real_set']}; extractor "
            f"{rec['extractor']}. {ssq.COMPARE_NOTE[0].upper()}{ssq.COMPARE_NOTE[1:]}.")
        self.table.set_rows(ssq.table_rows(rec, human.record if human else None))
        pr = ev.matrices.get("precision_recall")
        names = ssq.PR_ROWS
        pts = {} if pr is None else {n: (pr[i, 1], pr[i, 0]) for i, n in enumerate(names)}
        self.pr_plot.set_points(pts, f"Kynkäänniemi 2019, k = 3, N = {rec['n_samples']:,}")
        pts = {} if pr is None else {n: (pr[i, 3], pr[i, 2]) for i, n in enumerate(names)}
        self.dc_plot.set_points(pts, f"Naeem 2020, k = 5, N = {rec['n_samples']:,}")
        self.memorisation_line.setText(memorisation_sentence(rec.get("memorisation")))
        notes = rec.get("notes") or []
        self.notes.setText(" ".join(notes))
        images = ssq.cached_images(s, m.key)
        if images is not None:
            self._show_images(images)
        else:
            self.samples_grid.set_images(None)
            self._show_memorisation()
            self._request_images(m, ev)

    def _request_images(self, m, ev) -> None:
        if m.model is None:
            self.samples_grid.setText("The samples appear once the model is loaded.")
            return
        if self._images_for is ev:
            return
        self._images_for = ev
        if ev.dataset_id is not None and ev.dataset_id != self.session.dataset_id:
            # its nearest training images are indices into that dataset's train split, not the open one's
            self.samples_grid.setText("These numbers were computed on another dataset; compute again to see the "
                                      "samples and their nearest training images here.")
            return
        model, key = m.model, m.key
        spec = self.session.dataset_spec
        data = None if spec is None else ssq.settings_for(self.session).data  # where the train split is now
        self.samples_grid.setText("Drawing the samples again (seeded: the same ones as measured)…")

        def done(images):
            ssq.keep_images(self.session, key, images)
            if self.session.active_key == key and self.session.evaluation(key, ssq.FAMILY) is images.evaluation:
                self._show_images(images)

        fn = lambda ctx: ssq.sample_quality_images(model, ev, ctx, data=data)  # noqa: E731
        if self.runner is not None:
            self.runner.submit_job(IMAGES_JOB, fn, label=f"Samples of {m.name} for the grids",
                                   on_done=done)
        else:
            done(fn(None))

    def _show_images(self, images) -> None:
        self.samples_grid.set_images(images.samples)
        rec = images.evaluation.record
        seed = (rec.get("settings") or {}).get("seed")
        self.samples_caption.setText(f"decode(z), z ~ p(z): the first {len(images.samples)} of the "
                                     f"N = {rec['n_samples']:,} samples measured (seed {seed}).")
        self._show_memorisation()

    def current_images(self):
        m = self.session.active
        return None if m is None else ssq.cached_images(self.session, m.key)

    def _show_memorisation(self) -> None:
        images = self.current_images()
        rec = {} if images is None else images.evaluation.record
        mem = rec.get("memorisation") or {}
        shown = 0
        for space in ssq.SPACES:
            rows = None if images is None else images.memorisation.get(space)
            self.memorisation_grids[space].set_rows(rows)
            if rows is None:
                self.memorisation_titles[space].setText("")
                continue
            shown = len(rows.samples)
            threshold = (mem.get(space) or {}).get("threshold")
            q = 100 * float(mem.get("quantile", 0.05))
            below = "" if threshold is None else (f"; a sample nearer than d = {threshold:.3g} counts as close "
                                                  f"({q:g} % of held-out test images are)")
            self.memorisation_titles[space].setText(
                f"<b>{space.capitalize()} space</b>: {ssq.space_words(rec, space)}{below}")
        if images is None:
            self.memorisation_caption.setText("")
        elif not shown:
            self.memorisation_caption.setText("No memorisation grid (it needs the train and test splits).")
        else:
            self.memorisation_caption.setText(
                f"The {shown} of {mem.get('n_samples', 0):,} examined samples nearest to a training image, each with "
                f"its three nearest of the {mem.get('n_train', 0):,} training images. "
                + memorisation_sentence(mem))

    # ------------------------------------------------------------------ exports

    def _ask_export(self, which: str) -> None:
        if which == "table":
            path = ask_save_path(self, "Export sample-quality table", "sample_quality.csv",
                                 "CSV (*.csv);;JSON (*.json)")
        else:
            path = ask_save_path(self, "Export figure", f"sample_quality_{which}.png", GRID_GROUPS)
        if not path:
            return
        try:
            self.export(which, path)
        except (ValueError, OSError) as exc:
            if self.show_error is not None:
                self.show_error(f"Export to {path} failed: {str(exc).rstrip('.')}.")

    def export(self, which: str, path) -> str:
        """Write ``which`` of the active model to ``path``.

        ``which``: "table" (CSV/JSON), "pr", "dc" (plots), "samples", "memorisation" (pixel space),
        "memorisation_feature" (figures, PNG/SVG/PDF).

        Raises
        ------
        ValueError
            Nothing to export yet, or a suffix the export does not write.
        OSError
            The file cannot be written (nothing partial is left).
        """
        from explorer.gui.view_export import export_view

        m = self.session.active
        ev = None if m is None else self.session.evaluation(m.key, ssq.FAMILY)
        human = None if m is None else self.session.evaluation(m.key, ssq.HUMAN_FAMILY)
        if ev is None and not (which == "table" and human is not None):
            raise ValueError("there is no sample-quality result of the active model yet; compute it first")
        if which == "table":
            return ssq.export_table(path, ev.record if ev else {}, human.record if human else None)
        if which in ("pr", "dc"):
            return export_view(PlotExport(self.pr_plot if which == "pr" else self.dc_plot), path)
        images = self.current_images()
        if images is None:
            raise ValueError("the samples are not drawn yet; wait for the grids to show")
        if which == "samples":
            return ssq.samples_figure(path, images)
        if which == "memorisation":
            return ssq.memorisation_figure(path, images, "pixel")
        if which == "memorisation_feature":
            return ssq.memorisation_figure(path, images, "feature")
        raise ValueError(f"unknown export {which!r}")


def memorisation_sentence(mem: dict | None) -> str:
    """One line on the memorisation test: flagged fraction in pixel and feature space, expected rate, verdict."""
    if not mem:
        return "Memorisation: not measured (it needs the train and test splits)."
    q = mem.get("expected_fraction", mem.get("quantile"))
    px, ft = mem.get("pixel") or {}, mem.get("feature") or {}

    def pct(v):
        return "n/a" if v is None or not math.isfinite(v) else f"{100 * v:.1f} %"

    verdict = ("FLAGGED: the samples look copied from the training set" if mem.get("flagged")
               else "not flagged")
    return (f"Memorisation: {pct(px.get('fraction'))} (pixel space) and {pct(ft.get('fraction'))} (feature space) "
            f"of {mem.get('n_samples', 0):,} samples lie closer to a training image than {pct(q)} of "
            f"{mem.get('n_held_out', 0):,} held-out test images do (expected {pct(q)}) — {verdict}.")


def make_sample_quality_panel(window) -> SampleQualityPanel:
    """The judging-panel factory (`explorer.gui.judging.PANELS`; the human test is in `judging.ACTIONS`)."""
    return SampleQualityPanel(window.session, window.session_runner, window._show_error, window)
