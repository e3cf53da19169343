"""The latent sliders' direction chooser: axes of z, GANSpace, SeFa or an attribute vector, one slider per direction."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from explorer.core.latent import sliders as core
from explorer.core.latent.directions import direction_range
from explorer.core.session.directions import KIND_TITLES, KINDS

__all__ = ["DirectionBox"]


def _text(v: float) -> str:
    v = float(v)
    return f"{0.0 if abs(v) < 0.005 else v:+.2f}"


class DirectionBox(QWidget):
    """Chooser of the directions the sliders move along, and one slider per chosen direction.

    "Axes of z" keeps the per-dimension sliders only. GANSpace (principal directions of the
    encoded or inverted codes), SeFa (eigenvectors of AᵀA for the first layer the
    code meets) and an attribute vector (mean code of one class / factor value / the
    selection minus another, or of a selection stored as A minus one stored as B or the rest)
    are computed by the controller
    (`explorer.core.session.directions.compute_directions`); each direction then gets a
    slider over ``±3 · scale`` that moves the code by ``t · u`` (u unit length).

    Signals
    -------
    compute_requested(dict)
        ``{"kind", "n", "codes", "by", "target", "reference"}`` for `compute_directions`.
    cleared()
        Back to the axes of z.
    offset_changed(int, float)
        Slider ``i`` moved to offset ``t`` (latent units).
    store_requested(str)
        Store the current selection as "A" or "B", or make B "rest"
        (`explorer.core.session.directions.store_attribute_set`).
    """

    compute_requested = Signal(dict)
    cleared = Signal()
    offset_changed = Signal(int, float)
    store_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind_combo = QComboBox(self)
        for k in KINDS:
            self.kind_combo.addItem(KIND_TITLES[k], k)
        self.kind_combo.setToolTip("What the direction sliders move along")
        self.n_spin = QSpinBox(self)
        self.n_spin.setRange(1, 64)
        self.n_spin.setValue(5)
        self.n_spin.setPrefix("n = ")
        self.n_spin.setToolTip("How many directions (most variance / largest eigenvalue first)")
        self.codes_combo = QComboBox(self)
        self.codes_combo.addItem("of the shown codes (encoded or inverted)", "encoded")
        self.by_combo = QComboBox(self)
        self.by_combo.addItem("class", "class")
        self.by_combo.addItem("factor value", "factor")
        self.by_combo.addItem("selection − rest", "selection")
        self.by_combo.addItem("selection A − B", "sets")
        self.store_a_button = QPushButton("Selection → A", self)
        self.store_a_button.setToolTip("Store the images selected now as group A")
        self.store_b_button = QPushButton("Selection → B", self)
        self.store_b_button.setToolTip("Store the images selected now as group B")
        self.rest_button = QPushButton("B = rest", self)
        self.rest_button.setToolTip("Group B: every image not in A")
        self.sets_label = QLabel("A: not stored · B: the rest", self)
        self.sets_label.setStyleSheet("color: #555")
        for button, which in ((self.store_a_button, "A"), (self.store_b_button, "B"), (self.rest_button, "rest")):
            button.clicked.connect(lambda _c=False, w=which: self.store_requested.emit(w))
        self.factor_combo = QComboBox(self)
        self.target_combo = QComboBox(self)
        self.reference_combo = QComboBox(self)
        self.compute_button = QPushButton("Compute directions", self)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: #555")
        self._grid = QGridLayout()
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setVerticalSpacing(1)
        self._grid.setColumnStretch(1, 1)
        self.sliders: list[QSlider] = []
        self._values: list[QLabel] = []
        self._ranges: list[tuple[float, float]] = []
        self._directions: list = []
        self._updating = False
        self._classes: list[str] = []
        self._factors: list[tuple[str, int]] = []
        self._factor_values: list[list[str]] = []

        row = QHBoxLayout()
        row.addWidget(QLabel("Directions", self))
        row.addWidget(self.kind_combo, 1)
        row.addWidget(self.n_spin)
        row.addWidget(self.codes_combo)
        row2 = QHBoxLayout()
        self._minus = QLabel("−", self)
        for w in (self.by_combo, self.factor_combo, self.target_combo, self._minus, self.reference_combo):
            row2.addWidget(w)
        self._attribute_widgets = [row2.itemAt(i).widget() for i in range(row2.count())]
        row2.addStretch(1)
        row2.addWidget(self.compute_button)
        row3 = QHBoxLayout()  # "selection A − selection B": store the selection as A, as B, or B = the rest
        self._set_widgets = [self.store_a_button, self.store_b_button, self.rest_button, self.sets_label]
        for w in self._set_widgets:
            row3.addWidget(w)
        row3.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(row)
        lay.addLayout(row2)
        lay.addLayout(row3)
        lay.addWidget(self.status)
        lay.addLayout(self._grid)

        self.kind_combo.currentIndexChanged.connect(self._on_kind_changed)
        self.by_combo.currentIndexChanged.connect(lambda _i: self._fill_groups())
        self.factor_combo.currentIndexChanged.connect(lambda _i: self._fill_groups())
        self.compute_button.clicked.connect(self.request)
        self._on_kind_changed(0)

    # ------------------------------------------------------------------ public

    def kind(self) -> str:
        """The chosen kind ("axis", "ganspace", "sefa", "attribute")."""
        return self.kind_combo.currentData()

    def set_kind(self, kind: str) -> None:
        """Choose ``kind`` in the chooser (no request)."""
        self.kind_combo.blockSignals(True)
        self.kind_combo.setCurrentIndex(max(0, self.kind_combo.findData(kind)))
        self.kind_combo.blockSignals(False)
        self._show_parameters()

    def set_groups(self, class_names, factor_names, factor_sizes, factor_values=None) -> None:
        """What an attribute vector can contrast: class names, factor names with their number of values.

        ``factor_values``: per factor, the names of its value classes ("square", "scale 0.5";
        `explorer.data.factor_values.class_labels`); default "value 0", "value 1", ….
        """
        self._classes = list(class_names or [])
        self._factors = list(zip(factor_names or [], factor_sizes or [], strict=False))
        self._factor_values = [list(v) for v in (factor_values or [])]
        self.factor_combo.blockSignals(True)
        self.factor_combo.clear()
        self.factor_combo.addItems([n for n, _ in self._factors])
        self.factor_combo.blockSignals(False)
        self._fill_groups()

    def params(self) -> dict:
        """The request of the current settings (`compute_directions` keywords)."""
        by = self.by_combo.currentData()
        target, reference = self.target_combo.currentIndex(), self.reference_combo.currentIndex()
        if by == "factor":
            f = self.factor_combo.currentIndex()
            target, reference = (f, target), (f, reference)
        return {"kind": self.kind(), "n": self.n_spin.value(), "codes": self.codes_combo.currentData(),
                "by": by, "target": target, "reference": reference}

    def request(self) -> None:
        """Ask for the chosen directions (or the axes of z)."""
        if self.kind() == "axis":
            self.cleared.emit()
        else:
            self.compute_requested.emit(self.params())

    def set_attribute_sets(self, sets) -> None:
        """Show the stored selections A and B (an `AttributeSets` or None)."""
        a = None if sets is None else sets.a
        b = None if sets is None else sets.b
        self.sets_label.setText(f"A: {'not stored' if a is None else f'{len(a):,} images'} · "
                                f"B: {'the rest' if b is None else f'{len(b):,} images'}")

    def set_selection_size(self, n: int) -> None:
        """How many images are selected now: the store buttons say it, and need at least one."""
        for button, which in ((self.store_a_button, "A"), (self.store_b_button, "B")):
            button.setText(f"Selection ({n:,}) → {which}" if n else f"Selection → {which}")
            button.setEnabled(n > 0)

    def directions(self) -> list:
        """The directions that have sliders now."""
        return list(self._directions)

    def set_directions(self, choice) -> None:
        """Show sliders for a `DirectionChoice` (None: none, the axes of z); rows are kept when only offsets moved."""
        directions = [] if choice is None else list(choice.directions)
        if [id(d) for d in directions] != [id(d) for d in self._directions]:
            self._build(directions)
        if choice is not None:
            self.set_kind(choice.kind)
            self._updating = True
            try:
                for i, t in enumerate(choice.offsets):
                    lo, hi = self._ranges[i]
                    self.sliders[i].setValue(core.value_to_step(float(t), lo, hi))
                    self._values[i].setText(_text(t))
            finally:
                self._updating = False
            self.status.setText(self._describe(choice))
        elif self.kind() != "axis":
            self.status.setText("Press Compute directions.")
        else:
            self.status.setText("")

    def set_value(self, i: int, t: float) -> None:
        """Move direction slider ``i`` to offset ``t`` (emits `offset_changed`)."""
        lo, hi = self._ranges[int(i)]
        self._updating = True
        try:
            self.sliders[int(i)].setValue(core.value_to_step(float(t), lo, hi))
        finally:
            self._updating = False
        self._values[int(i)].setText(_text(t))
        self.offset_changed.emit(int(i), float(t))

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _describe(choice) -> str:
        d = choice.directions
        if choice.kind == "ganspace":
            ev = sum(float(x.info.get("explained_variance_ratio", 0.0)) for x in d)
            return (f"GANSpace: {len(d)} principal directions {d[0].info.get('codes', '')} "
                    f"(N = {d[0].info.get('n_codes', 0):,}), {100 * ev:.1f} % of their variance; sliders ±3 s.d.")
        if choice.kind == "sefa":
            return (f"SeFa: eigenvectors of AᵀA for layer {d[0].info.get('layer')} (Shen & Zhou 2021); "
                    "sliders ±3 in latent units.")
        if choice.kind == "attribute":
            x = d[0]
            return (f"Attribute vector {x.name}: {x.info.get('n_target', 0):,} − {x.info.get('n_reference', 0):,} "
                    f"codes, ‖Δ mean‖ = {x.scale:.2f}; slider ±3 × that.")
        return f"{len(d)} axes of z."

    def _build(self, directions) -> None:
        while self._grid.count():
            item = self._grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.sliders, self._values, self._ranges = [], [], []
        self._directions = list(directions)
        for i, d in enumerate(self._directions):
            s = QSlider(Qt.Orientation.Horizontal)
            s.setRange(0, core.SLIDER_STEPS)
            s.setPageStep(core.SLIDER_STEPS // 20)
            s.setMinimumWidth(100)
            s.valueChanged.connect(lambda step, i=i: self._on_moved(i, step))
            value = QLabel("+0.00")
            value.setMinimumWidth(44)
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            name = QLabel(d.name)
            name.setToolTip(", ".join(f"{k}: {v}" for k, v in d.info.items()))
            self._grid.addWidget(name, i, 0)
            self._grid.addWidget(s, i, 1)
            self._grid.addWidget(value, i, 2)
            self.sliders.append(s)
            self._values.append(value)
            self._ranges.append(direction_range(d))

    def _on_moved(self, i: int, step: int) -> None:
        if self._updating:
            return
        lo, hi = self._ranges[i]
        t = core.step_to_value(step, lo, hi)
        self._values[i].setText(_text(t))
        self.offset_changed.emit(i, float(t))

    def _on_kind_changed(self, _i: int) -> None:
        self._show_parameters()
        if self.kind() == "axis":
            self.cleared.emit()

    def _show_parameters(self) -> None:
        kind = self.kind()
        self.n_spin.setVisible(kind in ("ganspace", "sefa"))
        self.codes_combo.setVisible(kind == "ganspace")
        for w in self._attribute_widgets:
            w.setVisible(kind == "attribute")
        by = self.by_combo.currentData()
        self.factor_combo.setVisible(kind == "attribute" and by == "factor")
        for w in (self.target_combo, self._minus, self.reference_combo):
            w.setVisible(kind == "attribute" and by in ("class", "factor"))
        for w in self._set_widgets:
            w.setVisible(kind == "attribute" and by == "sets")
        self.compute_button.setVisible(kind != "axis")

    def _fill_groups(self) -> None:
        by = self.by_combo.currentData()
        if by == "class":
            items = self._classes
        elif by == "factor" and self._factors:
            f = max(self.factor_combo.currentIndex(), 0)
            n = self._factors[f][1]
            named = self._factor_values[f] if f < len(self._factor_values) else []
            items = list(named) if len(named) == int(n) else [f"value {v}" for v in range(int(n))]
        else:
            items = []
        for combo, default in ((self.target_combo, 1), (self.reference_combo, 0)):
            combo.clear()
            combo.addItems(items)
            combo.setCurrentIndex(min(default, len(items) - 1))
            widest = max((combo.fontMetrics().horizontalAdvance(t) for t in items), default=0)
            combo.setMinimumWidth(min(widest + 40, 240))  # the whole word ("0.16 rad") beside the arrow
        self._show_parameters()
