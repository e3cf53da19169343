"""Right dock: projection method and parameters, colour-by choice, marker size and opacity."""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, QSize, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from explorer.core.projection.spec import ProjectionSpec  # light: no scikit-learn before the first paint
from explorer.gui.gan_codes_box import GanCodesBox

__all__ = ["ProjectionPanel", "METHOD_ITEMS", "COLOUR_ITEMS", "METRICS"]

#: (method, text) of the method menu, in menu order.
METHOD_ITEMS = (("pca", "PCA"), ("umap", "UMAP"), ("tsne", "t-SNE"), ("identity", "Latent as is (d = 2)"))
#: (colour mode, text) of the colour-by menu.
COLOUR_ITEMS = (("label", "Class label"), ("cluster", "k-means cluster"),
                ("dimension", "Latent dimension z[j]"), ("none", "Single colour"),
                ("inversion_error", "GAN inversion error (MSE)"),
                ("nll", "−log p(x) per image (likelihood)"), ("factor", "Ground-truth factor"))
#: Distances offered for UMAP and t-SNE.
METRICS = ("euclidean", "cosine", "manhattan", "correlation")


class ProjectionPanel(QWidget):
    """Choose the 2-D projection, how points are coloured and how they are drawn.

    PCA and "latent as is" are instant and are requested as soon as they are
    picked; UMAP and t-SNE run when "Compute" is pressed (a cached result is
    shown at once: every change of method or parameter emits
    :attr:`spec_changed` so the window can look it up).

    Signals
    -------
    spec_changed(object)
        The :class:`~explorer.core.projection.ProjectionSpec` in the panel changed.
    projection_requested(object)
        "Compute" was pressed (or PCA / identity picked): compute this spec.
    colouring_changed(str, int)
        Colour mode (``"label"``, ``"cluster"``, ``"dimension"``, ``"none"``,
        ``"inversion_error"``) and the
        latent dimension j used by ``"dimension"``.
    marker_changed(float, float)
        Marker diameter (screen pixels) and opacity in [0, 1].
    """

    spec_changed = Signal(object)
    projection_requested = Signal(object)
    colouring_changed = Signal(str, int)
    marker_changed = Signal(float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._latent_dim = 0

        # ---- projection
        self.method_combo = QComboBox(self)
        for method, text in METHOD_ITEMS:
            self.method_combo.addItem(text, method)
        self.method_combo.setToolTip("PCA is instant; UMAP and t-SNE run as jobs (cached on disk once computed)")
        self.neighbors_spin = QSpinBox(self)
        self.neighbors_spin.setRange(2, 500)
        self.neighbors_spin.setValue(15)
        self.neighbors_spin.setToolTip("UMAP n_neighbors: size of the local neighbourhood")
        self.min_dist_spin = QDoubleSpinBox(self)
        self.min_dist_spin.setRange(0.0, 1.0)
        self.min_dist_spin.setSingleStep(0.05)
        self.min_dist_spin.setDecimals(2)
        self.min_dist_spin.setValue(0.1)
        self.min_dist_spin.setToolTip("UMAP min_dist: how tightly points may pack, in [0, 1]")
        self.perplexity_spin = QDoubleSpinBox(self)
        self.perplexity_spin.setRange(1.0, 500.0)
        self.perplexity_spin.setDecimals(1)
        self.perplexity_spin.setValue(30.0)
        self.perplexity_spin.setToolTip("t-SNE perplexity: effective number of neighbours")
        self.metric_combo = QComboBox(self)
        self.metric_combo.addItems(METRICS)
        self.metric_combo.setToolTip("Distance between latent codes")
        self.backend_combo = QComboBox(self)
        self.backend_combo.addItem("umap-learn (CPU)", "umap-learn")
        self.backend_combo.addItem("RAPIDS cuML (GPU)", "cuml")
        from explorer.core.projection.cuml_umap import cuml_available

        if not cuml_available():  # looked up without importing it
            item = self.backend_combo.model().item(1)
            item.setEnabled(False)
            item.setToolTip("RAPIDS cuML is not installed here (it needs an NVIDIA GPU)")
        self.backend_combo.setToolTip("UMAP's implementation: umap-learn, or cuML's GPU UMAP where it is installed")
        self.seed_spin = QSpinBox(self)
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setToolTip("random_state: the same codes, parameters and seed give the same embedding")
        self.compute_button = QPushButton("Compute", self)
        self.compute_button.setToolTip("Compute this projection as a job (progress and cancel in the status bar)")
        self.status_label = QLabel(self)
        self.status_label.setWordWrap(True)
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)
        self.status_label.setStyleSheet("color: #555;")

        self._form = form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Method", self.method_combo)
        form.addRow("n_neighbors", self.neighbors_spin)
        form.addRow("min_dist", self.min_dist_spin)
        form.addRow("perplexity", self.perplexity_spin)
        form.addRow("metric", self.metric_combo)
        form.addRow("backend", self.backend_combo)
        form.addRow("seed", self.seed_spin)
        row = QHBoxLayout()
        row.addWidget(self.compute_button)
        row.addStretch(1)
        form.addRow(row)
        projection_box = QGroupBox("Projection to 2-D", self)
        box_layout = QVBoxLayout(projection_box)
        box_layout.addLayout(form)
        box_layout.addWidget(self.status_label)

        # ---- colour and markers
        self.colour_combo = QComboBox(self)
        for mode, text in COLOUR_ITEMS:
            self.colour_combo.addItem(text, mode)
        self.dim_spin = QSpinBox(self)
        self.dim_spin.setPrefix("z[")
        self.dim_spin.setSuffix("]")
        self.dim_spin.setRange(0, 0)
        self.dim_spin.setToolTip("Latent dimension j whose value z[j] colours the points")
        self.factor_combo = QComboBox(self)
        self.factor_combo.setToolTip("The dataset's ground-truth factor that colours the points")
        self.size_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.size_slider.setRange(1, 20)
        self.size_slider.setValue(5)
        self.size_label = QLabel(self)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity_slider.setRange(5, 100)
        self.opacity_slider.setSingleStep(5)
        self.opacity_slider.setValue(80)
        self.opacity_label = QLabel(self)
        for label in (self.size_label, self.opacity_label):
            label.setMinimumWidth(label.fontMetrics().horizontalAdvance("100 %") + 4)
            label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        points_box = QGroupBox("Points", self)
        pform = QFormLayout(points_box)
        pform.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        pform.addRow("Colour by", self.colour_combo)
        self._pform = pform
        pform.addRow("Dimension", self.dim_spin)
        pform.addRow("Factor", self.factor_combo)
        size_row = QHBoxLayout()
        size_row.addWidget(self.size_slider, 1)
        size_row.addWidget(self.size_label)
        pform.addRow("Marker size", size_row)
        opacity_row = QHBoxLayout()
        opacity_row.addWidget(self.opacity_slider, 1)
        opacity_row.addWidget(self.opacity_label)
        pform.addRow("Opacity", opacity_row)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        self.gan_box = GanCodesBox(self)
        self.gan_box.setVisible(False)  # shown by the window for a GAN without encoder
        layout.addWidget(self.gan_box)
        layout.addWidget(projection_box)
        layout.addWidget(points_box)
        layout.addStretch(1)

        self.method_combo.currentIndexChanged.connect(self._on_method_changed)
        for spin in (self.neighbors_spin, self.seed_spin):
            spin.valueChanged.connect(self._on_params_changed)
        for spin in (self.min_dist_spin, self.perplexity_spin):
            spin.valueChanged.connect(self._on_params_changed)
        self.metric_combo.currentIndexChanged.connect(self._on_params_changed)
        self.backend_combo.currentIndexChanged.connect(self._on_params_changed)
        self.compute_button.clicked.connect(self._on_compute_clicked)
        self.colour_combo.currentIndexChanged.connect(self._on_colouring_changed)
        self.factor_combo.currentIndexChanged.connect(self._on_colouring_changed)
        self.dim_spin.valueChanged.connect(self._on_colouring_changed)
        self.size_slider.valueChanged.connect(self._on_marker_changed)
        self.opacity_slider.valueChanged.connect(self._on_marker_changed)
        self._update_rows()
        self._update_marker_labels()
        self.set_latent_dim(0)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        extra = 0 if self.gan_box.isHidden() else self.gan_box.sizeHint().height() + 6
        return QSize(280, 380 + extra)

    # ------------------------------------------------------------------ reading

    def method(self) -> str:
        """The chosen method: ``"pca"``, ``"umap"``, ``"tsne"`` or ``"identity"``."""
        return self.method_combo.currentData()

    def spec(self):
        """The :class:`~explorer.core.projection.ProjectionSpec` the controls describe."""
        method = self.method()
        if method == "umap":
            params = {"n_neighbors": self.neighbors_spin.value(), "min_dist": round(self.min_dist_spin.value(), 4),
                      "metric": self.metric_combo.currentText(), "backend": self.backend_combo.currentData()}
            return ProjectionSpec("umap", params, self.seed_spin.value())
        if method == "tsne":
            params = {"perplexity": round(self.perplexity_spin.value(), 3), "metric": self.metric_combo.currentText()}
            return ProjectionSpec("tsne", params, self.seed_spin.value())
        return ProjectionSpec(method)

    def colour_mode(self) -> str:
        """The colour mode chosen (see :data:`COLOUR_ITEMS`)."""
        return self.colour_combo.currentData()

    def colour_dim(self) -> int:
        """The latent dimension j for the ``"dimension"`` colour mode, the factor's position for ``"factor"``."""
        if self.colour_mode() == "factor":
            return max(self.factor_combo.currentIndex(), 0)
        return self.dim_spin.value()

    def set_factor_names(self, names) -> None:
        """The dataset's ground-truth factor names offered for the ``"factor"`` colour mode (empty: none)."""
        names = list(names or ())
        if [self.factor_combo.itemText(i) for i in range(self.factor_combo.count())] == names:
            return
        with QSignalBlocker(self.factor_combo):
            self.factor_combo.clear()
            self.factor_combo.addItems(names)

    def marker(self) -> tuple[float, float]:
        """(diameter in pixels, opacity in [0, 1])."""
        return float(self.size_slider.value()), self.opacity_slider.value() / 100.0

    # ------------------------------------------------------------------ writing

    def set_latent_dim(self, d: int) -> None:
        """Adapt to a latent space of dimension ``d`` (0: no model): "as is" only for d = 2."""
        self._latent_dim = int(d)
        model = self.method_combo.model()
        identity_row = [m for m, _ in METHOD_ITEMS].index("identity")
        model.item(identity_row).setEnabled(self._latent_dim == 2)
        if self.method() == "identity" and self._latent_dim != 2:
            with QSignalBlocker(self.method_combo):
                self.method_combo.setCurrentIndex(self.method_combo.findData("pca"))
            self._update_rows()
        with QSignalBlocker(self.dim_spin):
            self.dim_spin.setRange(0, max(self._latent_dim - 1, 0))
        self.setEnabled(self._latent_dim > 0)

    def set_spec(self, spec, emit: bool = False) -> None:
        """Show ``spec`` in the controls (emits :attr:`spec_changed` only with ``emit``)."""
        blockers = [QSignalBlocker(w) for w in (self.method_combo, self.neighbors_spin, self.min_dist_spin,
                                                 self.perplexity_spin, self.metric_combo, self.seed_spin,
                                                 self.backend_combo)]
        try:
            self.method_combo.setCurrentIndex(max(self.method_combo.findData(spec.method), 0))
            p = spec.params
            if "n_neighbors" in p:
                self.neighbors_spin.setValue(int(p["n_neighbors"]))
            if "min_dist" in p:
                self.min_dist_spin.setValue(float(p["min_dist"]))
            if "perplexity" in p:
                self.perplexity_spin.setValue(float(p["perplexity"]))
            if "metric" in p:
                i = self.metric_combo.findText(str(p["metric"]))
                if i < 0:
                    self.metric_combo.addItem(str(p["metric"]))
                    i = self.metric_combo.count() - 1
                self.metric_combo.setCurrentIndex(i)
            if "backend" in p:
                self.backend_combo.setCurrentIndex(max(self.backend_combo.findData(p["backend"]), 0))
            if spec.method in ("umap", "tsne"):
                self.seed_spin.setValue(spec.seed)
        finally:
            del blockers
        self._update_rows()
        if emit:
            self.spec_changed.emit(self.spec())

    def set_colour_mode(self, mode: str, dim: int | None = None, emit: bool = True) -> None:
        """Choose a colour mode (and dimension); emits :attr:`colouring_changed` with ``emit``."""
        with QSignalBlocker(self.colour_combo), QSignalBlocker(self.dim_spin), QSignalBlocker(self.factor_combo):
            i = self.colour_combo.findData(mode)
            if i >= 0:
                self.colour_combo.setCurrentIndex(i)
            if dim is not None and mode == "factor":
                self.factor_combo.setCurrentIndex(min(int(dim), self.factor_combo.count() - 1))
            elif dim is not None:
                self.dim_spin.setValue(int(dim))
        self._update_rows()
        if emit:
            self.colouring_changed.emit(self.colour_mode(), self.colour_dim())

    def set_colour_available(self, mode: str, available: bool, why: str = "") -> None:
        """Enable or disable one colour mode (e.g. "label" without labels); ``why`` becomes its tooltip."""
        i = self.colour_combo.findData(mode)
        if i < 0:
            return
        item = self.colour_combo.model().item(i)
        item.setEnabled(bool(available))
        item.setToolTip("" if available else why)

    def set_marker(self, size_px: float, opacity: float) -> None:
        """Show a marker size (pixels) and opacity in [0, 1] without emitting."""
        with QSignalBlocker(self.size_slider), QSignalBlocker(self.opacity_slider):
            self.size_slider.setValue(int(round(size_px)))
            self.opacity_slider.setValue(int(round(100 * opacity)))
        self._update_marker_labels()

    def set_status(self, text: str) -> None:
        """The line under the projection controls: what is shown, cached or running."""
        self.status_label.setText(text)

    def status_text(self) -> str:
        """The status line as shown."""
        return self.status_label.text()

    def set_busy(self, busy: bool) -> None:
        """While a projection job runs the button says so (pressing it again restarts the job)."""
        self.compute_button.setText("Restart" if busy else "Compute")

    # ------------------------------------------------------------------ settings

    def state(self) -> dict:
        """The panel's choices as plain values (for QSettings)."""
        size, opacity = self.marker()
        return {"method": self.method(), "n_neighbors": self.neighbors_spin.value(),
                "min_dist": self.min_dist_spin.value(), "perplexity": self.perplexity_spin.value(),
                "metric": self.metric_combo.currentText(), "seed": self.seed_spin.value(),
                "colour": self.colour_mode(), "dim": self.colour_dim(), "size": size, "opacity": opacity}

    def restore_state(self, state: dict) -> None:
        """Restore :meth:`state` output; unknown or malformed values are ignored, nothing is emitted."""
        def get(key, kind, default):
            try:
                return kind(state.get(key, default))
            except (TypeError, ValueError):
                return default

        method = str(state.get("method", "pca"))
        blockers = [QSignalBlocker(w) for w in (self.method_combo, self.metric_combo)]
        try:
            index = self.method_combo.findData(method)
            self.method_combo.setCurrentIndex(index if index >= 0 else 0)
            metric = str(state.get("metric", "euclidean"))
            if self.metric_combo.findText(metric) < 0 and metric.isidentifier():
                self.metric_combo.addItem(metric)
            self.metric_combo.setCurrentIndex(max(self.metric_combo.findText(metric), 0))
        finally:
            del blockers
        self._update_rows()
        for key, spin, kind in (("n_neighbors", self.neighbors_spin, int), ("min_dist", self.min_dist_spin, float),
                                ("perplexity", self.perplexity_spin, float), ("seed", self.seed_spin, int)):
            with QSignalBlocker(spin):
                spin.setValue(get(key, kind, spin.value()))
        self.set_colour_mode(str(state.get("colour", "label")), None, emit=False)
        with QSignalBlocker(self.dim_spin):
            self.dim_spin.setValue(get("dim", int, 0))
        self.set_marker(get("size", float, 5.0), min(max(get("opacity", float, 0.8), 0.05), 1.0))

    # ------------------------------------------------------------------ slots

    def _update_rows(self) -> None:
        method = self.method()
        umap, tsne = method == "umap", method == "tsne"
        self._form.setRowVisible(self.neighbors_spin, umap)
        self._form.setRowVisible(self.min_dist_spin, umap)
        self._form.setRowVisible(self.perplexity_spin, tsne)
        self._form.setRowVisible(self.metric_combo, umap or tsne)
        self._form.setRowVisible(self.backend_combo, umap)
        self._form.setRowVisible(self.seed_spin, umap or tsne)
        self.compute_button.setVisible(umap or tsne)
        self._pform.setRowVisible(self.dim_spin, self.colour_mode() == "dimension")
        self._pform.setRowVisible(self.factor_combo, self.colour_mode() == "factor")

    def _update_marker_labels(self) -> None:
        self.size_label.setText(f"{self.size_slider.value()} px")
        self.opacity_label.setText(f"{self.opacity_slider.value()} %")

    @Slot(int)
    def _on_method_changed(self, _index: int) -> None:
        self._update_rows()
        spec = self.spec()
        self.spec_changed.emit(spec)
        if spec.method in ("pca", "identity"):
            self.projection_requested.emit(spec)

    @Slot()
    def _on_params_changed(self, *_args) -> None:
        self.spec_changed.emit(self.spec())

    @Slot()
    def _on_compute_clicked(self) -> None:
        self.projection_requested.emit(self.spec())

    @Slot()
    def _on_colouring_changed(self, *_args) -> None:
        self._update_rows()
        self.colouring_changed.emit(self.colour_mode(), self.colour_dim())

    @Slot()
    def _on_marker_changed(self, *_args) -> None:
        self._update_marker_labels()
        self.marker_changed.emit(*self.marker())
