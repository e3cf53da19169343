"""The "Points of a GAN" box: prior samples, or real dataset images at codes found by GAN inversion."""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

__all__ = ["GanCodesBox", "POINT_SOURCES", "DEFAULT_INVERTED_POINTS"]

#: (source, text) of the points menu: what the embedding of a GAN without encoder shows.
POINT_SOURCES = (("prior", "Prior samples z ~ p(z)"), ("inverted", "Dataset images, inverted z"))
#: Dataset images inverted for the embedding unless the user asks for another number.
DEFAULT_INVERTED_POINTS = 1000


class GanCodesBox(QGroupBox):
    """Choose the points of a GAN without encoder: prior samples, or dataset images by GAN inversion.

    A GAN has no ``q(z|x)``, so its embedding first shows samples from the prior and the
    images generated from them. "Dataset images, inverted z" finds a code for each of N
    real images by optimisation instead (a job; each image is inverted once per setting
    and kept on disk), so the points carry the dataset's labels and can be clustered and
    scored like an encoder's. The window hides the box for models with an encoder.

    Signals
    -------
    points_requested(str, int)
        "Show" was pressed (or the prior picked): the source (``"prior"`` or
        ``"inverted"``) and N (images to invert; the whole dataset when N equals its size).
    """

    points_requested = Signal(str, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Points of a GAN without encoder", parent)
        self.source_combo = QComboBox(self)
        for source, text in POINT_SOURCES:
            self.source_combo.addItem(text, source)
        self.source_combo.setToolTip("What the points are: samples from the prior p(z) with their images G(z), "
                                     "or dataset images at the codes z found for them by GAN inversion")
        self.n_spin = QSpinBox(self)
        self.n_spin.setRange(1, 1)
        self.n_spin.setGroupSeparatorShown(True)
        self.n_spin.setToolTip("How many dataset images to invert (a seeded sample; all when N is the "
                               "dataset size). Each image is inverted once and kept in the cache.")
        self.show_button = QPushButton("Show", self)
        self.show_button.setToolTip("Show these points (inverting runs as a job: progress and cancel in the "
                                    "status bar; the prior samples stay on screen meanwhile)")
        self.info_label = QLabel(self)
        self.info_label.setWordWrap(True)
        self.info_label.setTextFormat(Qt.TextFormat.PlainText)
        self.info_label.setStyleSheet("color: #555;")
        self.info_label.setMinimumHeight(3 * self.info_label.fontMetrics().lineSpacing() + 2)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Points", self.source_combo)
        row = QHBoxLayout()
        row.addWidget(self.n_spin, 1)
        row.addWidget(self.show_button)
        form.addRow("Images", row)
        layout = QVBoxLayout(self)  # a wrapped label below a form gets its full height (not as a form row)
        layout.addLayout(form)
        layout.addWidget(self.info_label)
        self._form = form
        self._settings_text = ""
        self._time_text = "Time per image: measured on the first images inverted."
        self._shown_source: str | None = None

        self.source_combo.currentIndexChanged.connect(self._on_source_changed)
        self.source_combo.activated.connect(self._on_source_activated)
        self.show_button.clicked.connect(self._on_show_clicked)
        self._on_source_changed()

    # ---- reading

    def source(self) -> str:
        """The source chosen in the menu: ``"prior"`` or ``"inverted"``."""
        return self.source_combo.currentData()

    def n_images(self) -> int:
        """N, the dataset images to invert."""
        return self.n_spin.value()

    # ---- writing

    def set_context(self, n_dataset: int, shown_source: str | None, settings_text: str = "") -> None:
        """Adapt to the dataset size and to what the view shows (``"prior"``/``"inverted"``; None: nothing).

        ``settings_text`` says how images are inverted, e.g. "200 Adam steps × 4 restarts".
        """
        n_dataset = max(int(n_dataset), 1)
        with QSignalBlocker(self.n_spin):
            old_max = self.n_spin.maximum()
            self.n_spin.setRange(1, n_dataset)
            if old_max <= 1:
                self.n_spin.setValue(min(DEFAULT_INVERTED_POINTS, n_dataset))
        if shown_source in ("prior", "inverted") and shown_source != self._shown_source:
            # follow the view only when what it shows changes: a choice not yet shown (the user
            # may be setting the inversion steps first) is not undone by a refresh
            with QSignalBlocker(self.source_combo):
                self.source_combo.setCurrentIndex(self.source_combo.findData(shown_source))
        self._shown_source = shown_source
        self._settings_text = settings_text
        self._on_source_changed()

    def set_time_text(self, text: str) -> None:
        """The measured time per image (`explorer.core.reconstruction.inverted.inversion_time_note`)."""
        if text != self._time_text:
            self._time_text = text
            self._on_source_changed()

    def set_busy(self, busy: bool) -> None:
        """While the inversion job runs the button says so (pressing it again restarts the job)."""
        self.show_button.setText("Restart" if busy else "Show")

    # ---- slots

    @Slot()
    def _on_source_changed(self, *_args) -> None:
        inverted = self.source() == "inverted"
        self.n_spin.setEnabled(inverted)  # the rows stay: a box that changes height is squeezed by its dock
        if inverted:
            how = f": {self._settings_text} (set in Reconstructions)" if self._settings_text else ""
            self.info_label.setText(f"z found by GAN inversion{how}. {self._time_text} Once: "
                                    f"later views and sessions reuse the codes.")
        else:
            self.info_label.setText("No encoder q(z|x): the points are samples from the prior and their "
                                    "images G(z), without labels.")

    @Slot(int)
    def _on_source_activated(self, _index: int) -> None:
        if self.source() == "prior":  # instant: no need to press Show
            self.points_requested.emit("prior", self.n_images())

    @Slot()
    def _on_show_clicked(self) -> None:
        self.points_requested.emit(self.source(), self.n_images())
