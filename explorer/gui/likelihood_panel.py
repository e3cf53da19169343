"""The Likelihood panel: estimate −log p(x) of the active model (IWAE/ELBO, AIS, KDE) and show it per image."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from explorer.core.session.likelihood import (
    FAMILY,
    estimator_availability,
    likelihood_task,
    second_families,
    summary_lines,
    write_per_image_csv,
)
from explorer.gui.dialogs import ask_save_path
from explorer.gui.likelihood_plots import CurvePlot, HistogramPlot, LeastLikelyGrid, export_plot
from explorer.gui.panel_settings import LIKELIHOOD_WORDS, SettingsBinding, in_panel_words

__all__ = ["LikelihoodPanel", "make_likelihood_panel", "ESTIMATOR_TITLES", "SECOND_DATASETS"]

#: Estimators in the combo box: key of `LikelihoodSettings.estimator` → its words.
ESTIMATOR_TITLES = {"iwae": "IWAE / ELBO (Burda et al. 2016)", "ais": "AIS with BDMC (Wu et al. 2017)",
                    "kde": "Parzen window / KDE (unreliable in high dimensions)"}

#: The named datasets "Compare with a second dataset…" offers (a dataset file is the last entry).
SECOND_DATASETS = ("digits", "fashion-mnist", "dsprites")


def make_likelihood_panel(window) -> LikelihoodPanel:
    """The factory `explorer.gui.judging.PANELS` names: the panel of ``window``'s session."""
    return LikelihoodPanel(window.session, window.session_runner, window._show_error, window)


class LikelihoodPanel(QWidget):
    """Settings, an Estimate button running a cancellable job, and the active model's likelihood.

    Everything it shows comes from the session's evaluations store (``session.evaluation(key,
    "likelihood")`` and ``"likelihood:<dataset>"``), so a restored session shows it again and
    switching the active model shows that model's result.

    Parameters
    ----------
    session : explorer.core.session.Session
    runner : explorer.gui.session_runner.SessionRunner or None
        Runs the task (None: run it here, blocking; for scripts).
    show_error : callable
        ``show_error(sentence)``.
    parent : QWidget, optional
    """

    def __init__(self, session, runner, show_error, parent=None) -> None:
        super().__init__(parent)
        self.session, self.runner, self.show_error = session, runner, show_error
        self.kind: str | None = None  # the job kind of the running estimate
        self.setObjectName("LikelihoodPanel")

        self.estimator = QComboBox()
        self.estimator.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.estimator.setMinimumContentsLength(18)  # the long names elide rather than widen the dock
        for key, title in ESTIMATOR_TITLES.items():
            self.estimator.addItem(title, key)
        self.k_edit = QLineEdit("1, 10, 100, 1000")
        self.k_edit.setToolTip("IWAE: the k of the bounds L_k, comma-separated; the largest is the estimate, all of "
                               "them the curve (k = 1 is the ELBO)")
        self.steps = QSpinBox()
        self.steps.setRange(2, 100_000)
        self.steps.setValue(1000)
        self.steps.setToolTip("AIS: T intermediate distributions of the sigmoid schedule")
        self.chains = QSpinBox()
        self.chains.setRange(1, 64)
        self.chains.setValue(4)
        self.chains.setToolTip("AIS: independent chains per image (log-mean-exp over them)")
        self.sigma = QDoubleSpinBox()
        self.sigma.setDecimals(3)
        self.sigma.setRange(0.0, 1.0)
        self.sigma.setSingleStep(0.01)
        self.sigma.setSpecialValueText("auto (held-out choice)")
        self.sigma.setToolTip("AIS: the observation noise σ of N(G(z), σ²I); KDE: the bandwidth; pixel units. "
                              "auto chooses it on held-out images (not measured)")
        self.n_images = QSpinBox()
        self.n_images.setRange(1, 1_000_000)
        self.n_images.setValue(1000)  # DEFAULT_N_IMAGES of IWAE; AIS's is 100
        self.n_images.setGroupSeparatorShown(True)
        self.n_images.setToolTip("N: a seeded subset of the dataset's images is measured")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.binarize = QCheckBox("binarize (stochastic, seeded)")
        self.estimate_button = QPushButton("Estimate")
        self.estimate_button.clicked.connect(self.estimate)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress_text = QLabel("")
        self.progress_text.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Estimator", self.estimator)
        form.addRow("IWAE k", self.k_edit)
        form.addRow("AIS steps T", self.steps)
        form.addRow("AIS chains", self.chains)
        form.addRow("σ", self.sigma)
        form.addRow("N images", self.n_images)
        form.addRow("Seed", self.seed)
        form.addRow("", self.binarize)
        buttons = QHBoxLayout()
        buttons.addWidget(self.estimate_button)
        buttons.addWidget(self.cancel_button)
        left = QVBoxLayout()
        left.addLayout(form)
        left.addLayout(buttons)
        left.addWidget(self.progress)
        left.addWidget(self.progress_text)
        left.addStretch(1)
        settings = QWidget()
        settings.setLayout(left)
        settings.setMaximumWidth(300)

        self.result = QLabel("No estimate yet: choose the settings and press Estimate.")
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.result)
        self.colour_button = QPushButton("Colour by −log p(x)")
        self.colour_button.setToolTip("Colour the embedding's points by this model's −log p(x) per image")
        self.colour_button.clicked.connect(lambda: self.session.set_colour("nll"))
        self.second_button = QToolButton()
        self.second_button.setText("Compare with a second dataset…")
        self.second_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.second_button)
        for name in SECOND_DATASETS:
            menu.addAction(name, lambda name=name: self.estimate_second(name))
        menu.addAction("A dataset file…", self._ask_second_file)
        self.second_button.setMenu(menu)
        self.export_button = QToolButton()
        self.export_button.setText("Export…")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        exports = QMenu(self.export_button)
        exports.addAction("IWAE curve (PNG, SVG, PDF)…", lambda: self._export_figure(self.curve, "likelihood-curve"))
        exports.addAction("Histogram (PNG, SVG, PDF)…", lambda: self._export_figure(self.histogram,
                                                                                    "likelihood-histogram"))
        exports.addAction("Least likely images (PNG, SVG, PDF)…", self._export_grid)
        exports.addAction("Per-image values (CSV)…", self._export_csv)
        exports.addAction("Record (JSON)…", self._export_json)
        self.export_button.setMenu(exports)
        actions = QHBoxLayout()
        actions.addWidget(self.colour_button)
        actions.addWidget(self.export_button)
        actions.addStretch(1)
        second = QHBoxLayout()
        second.addWidget(self.second_button)
        second.addStretch(1)
        middle = QVBoxLayout()
        middle.setContentsMargins(0, 0, 0, 0)
        middle.addWidget(scroll, 1)
        middle.addLayout(actions)
        middle.addLayout(second)
        results = QWidget()
        results.setLayout(middle)
        results.setMinimumWidth(260)  # its long lines wrap; the width goes to the plots
        results.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        self.curve = CurvePlot()
        self.histogram = HistogramPlot()
        self.grid = LeastLikelyGrid()
        self.grid.setMinimumWidth(2 * 78 + 30)
        self.grid.picked.connect(self.session.select)
        # the figures are tabs beside the numbers: side by side they were wider than the dock under the
        # embedding (1,000+ px), which then scrolled sideways and hid them
        self.figures = QTabWidget()
        self.figures.addTab(self.curve, "IWAE curve")
        self.figures.addTab(self.histogram, "Histogram")
        self.figures.addTab(self.grid, "Least likely")
        self.figures.setMinimumWidth(240)
        split = QSplitter(Qt.Orientation.Horizontal)
        for w in (results, self.figures):
            split.addWidget(w)
        split.setChildrenCollapsible(False)
        for i, stretch in enumerate((4, 5)):
            split.setStretchFactor(i, stretch)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(settings)
        lay.addWidget(split, 1)

        self.estimator.currentIndexChanged.connect(self._on_estimator)
        self.estimator.currentIndexChanged.connect(self._default_n)
        self.binding = SettingsBinding(session, "likelihood", {
            "estimator": (self.estimator.currentData, self._show_estimator, (self.estimator,)),
            "iwae_k": (lambda: list(self.settings().iwae_k),
                       lambda ks: self.k_edit.setText(", ".join(str(k) for k in ks)), (self.k_edit,)),
            "ais_steps": (self.steps.value, self.steps.setValue, (self.steps,)),
            "ais_chains": (self.chains.value, self.chains.setValue, (self.chains,)),
            "sigma": (self.sigma.value, self.sigma.setValue, (self.sigma,)),
            "n_images": (self.n_images.value, self.n_images.setValue, (self.n_images,)),
            "seed": (self.seed.value, self.seed.setValue, (self.seed,)),
            "binarize": (self.binarize.isChecked, self.binarize.setChecked, (self.binarize,)),
        })
        for sig in (self.estimator.currentIndexChanged, self.k_edit.editingFinished, self.steps.valueChanged,
                    self.chains.valueChanged, self.sigma.valueChanged, self.n_images.valueChanged,
                    self.seed.valueChanged, self.binarize.toggled):
            sig.connect(self.binding.store)
        for sig in (session.active_changed, session.models_changed, session.dataset_changed):
            sig.connect(self.refresh)
        session.evaluation_changed.connect(self._on_evaluation_changed)
        if runner is not None:
            runner.runner.job_progress.connect(self._on_progress)
            for sig in (runner.runner.job_finished, runner.runner.job_failed, runner.runner.job_cancelled):
                sig.connect(self._on_job_ended)
            runner.runner.job_failed.connect(self._on_job_failed)
        self.refresh()

    # ---------------------------------------------------------------- state

    def _model(self):
        m = self.session.active
        return None if m is None or m.entry is None else m

    def settings(self):
        """The `LikelihoodSettings` the widgets say (ValueError: one sentence naming the setting)."""
        from explorer.core.likelihood import LikelihoodSettings

        try:
            ks = tuple(int(t) for t in self.k_edit.text().replace(";", ",").split(",") if t.strip())
        except ValueError:
            raise ValueError(f"IWAE k must be whole numbers separated by commas, got '{self.k_edit.text()}'") from None
        if not ks:
            raise ValueError("IWAE k needs at least one number (e.g. 1, 10, 100, 1000)")
        sigma = self.sigma.value()
        return LikelihoodSettings(estimator=self.estimator.currentData(), iwae_k=ks, ais_steps=self.steps.value(),
                                  ais_chains=self.chains.value(), sigma=None if sigma <= 0 else float(sigma),
                                  n_images=self.n_images.value(), seed=self.seed.value(),
                                  binarize=self.binarize.isEnabled() and self.binarize.isChecked())

    def _show_estimator(self, key: str) -> None:
        self.estimator.setCurrentIndex(max(0, self.estimator.findData(key)))
        self._on_estimator()

    def refresh(self, *_args) -> None:
        """Enable what the active model supports and draw its evaluations.

        What it changes to fit the model (an estimator the model lacks, binarize on for a
        Bernoulli decoder) is not stored in the session's settings: those keep the user's choice.
        """
        binding = getattr(self, "binding", None)
        if binding is not None:
            binding.loading = True
        try:
            self._refresh()
        finally:
            if binding is not None:
                binding.loading = False

    def _refresh(self) -> None:
        m = self._model()
        avail = estimator_availability(m.entry.model, m.name) if m is not None else {}
        items = self.estimator.model()
        if isinstance(items, QStandardItemModel):
            for row in range(self.estimator.count()):
                key = self.estimator.itemData(row)
                why = avail.get(key) if m is not None else "open a model first"
                item = items.item(row)
                item.setEnabled(why is None)
                item.setToolTip(why or f"{ESTIMATOR_TITLES[key]}: supported by {m.name}")
        current = self.estimator.currentData()
        if m is not None and avail.get(current):
            ok = [k for k, why in avail.items() if why is None]
            if ok:
                self.estimator.setCurrentIndex(self.estimator.findData(ok[0]))
        bern = self._bernoulli = m is not None and getattr(m.entry.model, "likelihood", None) == "bernoulli"
        self.binarize.setToolTip("IWAE with a Bernoulli decoder, a likelihood of binary images: evaluate seeded "
                                 "stochastic binarisations (as papers do for MNIST); without it no bits/dim is given. "
                                 "AIS and KDE use dequantised 8-bit images instead"
                                 if bern else "Only for IWAE with a Bernoulli decoder (this model's is not)")
        if bern and not getattr(self, "_binarize_set", False):
            self.binarize.setChecked(True)
            self._binarize_set = True
        self._on_estimator()
        self.show_results()

    def _default_n(self, *_args) -> None:
        from explorer.core.likelihood import DEFAULT_N_IMAGES

        self.n_images.setValue(DEFAULT_N_IMAGES.get(self.estimator.currentData(), 100))

    def _on_estimator(self, *_args) -> None:
        est = self.estimator.currentData()
        self.k_edit.setEnabled(est == "iwae")
        self.steps.setEnabled(est == "ais")
        self.chains.setEnabled(est == "ais")
        self.sigma.setEnabled(est in ("ais", "kde"))
        self.binarize.setEnabled(bool(getattr(self, "_bernoulli", False)) and est == "iwae")
        idle = self.kind is None
        m = self._model()
        ok = m is not None and self.session.dataset is not None and \
            estimator_availability(m.entry.model, m.name).get(est) is None
        self.estimate_button.setEnabled(idle and ok)
        self.second_button.setEnabled(idle and ok)
        self.cancel_button.setEnabled(not idle)

    def show_results(self) -> None:
        """Draw the active model's likelihood evaluations (first dataset, second datasets overlaid)."""
        m = self.session.active
        ev = None if m is None else self.session.evaluation(m.key, FAMILY)
        if ev is not None and ev.dataset_id != self.session.dataset_id:
            ev = None
        seconds = [] if m is None else [(f.split(":", 1)[1], self.session.evaluation(m.key, f))
                                        for f in second_families(self.session, m.key)]
        if ev is None:
            self.result.setText("No estimate yet for the active model on this dataset: choose the settings and press "
                                "Estimate." if m is not None else "Open a model and a dataset first.")
        else:
            name = (self.session.dataset.name if self.session.dataset is not None else "dataset")
            lines = [f"<b>{m.name}</b> on {name}:"] + [_html(x) for x in summary_lines(ev)]
            for sname, sev in seconds:
                lines.append(f"<br><b>Second dataset {sname}:</b>")
                lines += [_html(x) for x in summary_lines(sev)[:2]]
            self.result.setText("<br>".join(lines))
        self.curve.show_evaluation(ev)
        first = [] if ev is None else [(self.session.dataset.name if self.session.dataset is not None else "data", ev)]
        self.histogram.show_evaluations(first + seconds if ev is not None else [])
        self.grid.show_evaluation(ev, self.session.dataset)
        self.colour_button.setEnabled(ev is not None and bool(ev.values))
        self.export_button.setEnabled(ev is not None)

    def _on_evaluation_changed(self, key: str, family: str) -> None:
        m = self.session.active
        if m is not None and key == m.key and family.split(":")[0] == FAMILY:
            self.show_results()

    # ---------------------------------------------------------------- the job

    def estimate(self) -> None:
        """Run the estimate on the session's dataset as a job (progress, remaining time, Cancel)."""
        self._submit(None)

    def estimate_second(self, dataset) -> None:
        """Estimate on a second dataset (a name or path) with the same settings; its histogram overlays the first."""
        self._submit(dataset)

    def _submit(self, dataset) -> None:
        m = self._model()
        if m is None:
            self.show_error("Open a model first: the likelihood is that of the active model.")
            return
        try:
            task = likelihood_task(self.session, m.key, self.settings(), dataset=dataset)
        except ValueError as exc:  # LikelihoodError is one too
            self.show_error(in_panel_words(str(exc), LIKELIHOOD_WORDS).rstrip(".") + ".")
            return
        self.progress.setValue(0)
        self.progress_text.setText(f"{task.label}…")
        if self.runner is None:
            self.session.run(task)
            return
        self.kind = task.kind
        self._on_estimator()
        self.runner.submit(task)

    def cancel(self) -> None:
        """Stop the running estimate (nothing is kept)."""
        if self.kind is not None and self.runner is not None:
            self.runner.runner.cancel(self.kind)

    def _on_progress(self, kind: str, _request: int, fraction: float, message: str) -> None:
        if kind == self.kind:
            self.progress.setValue(int(round(1000 * max(0.0, min(1.0, fraction)))))
            self.progress_text.setText(message)

    def _on_job_ended(self, kind: str, *_args) -> None:
        if kind == self.kind:
            self.kind = None
            self.progress.setValue(self.progress.maximum() if self.progress_text.text() else 0)
            self._on_estimator()

    def _on_job_failed(self, kind: str, _request: int, message: str) -> None:
        if kind.startswith(f"evaluate:{FAMILY}"):
            self.progress_text.setText(in_panel_words(message, LIKELIHOOD_WORDS))

    # ---------------------------------------------------------------- second dataset, exports

    def _ask_second_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Second dataset", "", "Datasets (*.npz *.npy *.gz *idx*);;All (*)")
        if path:
            self.estimate_second(path)

    def _evaluation(self):
        m = self.session.active
        return None if m is None else self.session.evaluation(m.key, FAMILY)

    def _export_figure(self, plot, name: str) -> None:
        path = ask_save_path(self, "Export figure", f"{name}.png", "PNG (*.png);;SVG (*.svg);;PDF (*.pdf)")
        if path:
            self._guard("Export figure", lambda: export_plot(plot, path))

    def _export_grid(self) -> None:
        path = ask_save_path(self, "Export least likely images", "least-likely.png",
                             "PNG (*.png);;SVG (*.svg);;PDF (*.pdf)")
        if path:
            self._guard("Export least likely images", lambda: self.grid.export(path))

    def _export_csv(self) -> None:
        ev = self._evaluation()
        path = ev is not None and ask_save_path(self, "Export per-image values", "likelihood.csv", "CSV (*.csv)")
        if path:
            self._guard("Export per-image values", lambda: write_per_image_csv(ev, path))

    def _export_json(self) -> None:
        from explorer.core.export import write_json

        ev = self._evaluation()
        path = ev is not None and ask_save_path(self, "Export likelihood record", "likelihood.json", "JSON (*.json)")
        if path:
            self._guard("Export likelihood record", lambda: write_json(path, {"likelihood": ev.record}))

    def _guard(self, title: str, fn) -> None:
        try:
            fn()
        except (OSError, ValueError) as exc:
            QMessageBox.warning(self, title, f"Could not export: {getattr(exc, 'strerror', None) or exc}.")


def _html(text: str) -> str:
    out = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"<span style='color:#b00'>{out}</span>" if text.startswith("Warning") else out

