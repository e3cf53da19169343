"""Large preview of the image under the cursor, with its index, label and cluster."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

from explorer.gui.images import to_pixmap

__all__ = ["HoverPreview", "preview_caption"]

#: Placeholder shown when no point is under the cursor.
_EMPTY_TEXT = "Hover over a point to see its image"


def preview_caption(index: int, label_text: str | None = None, cluster: int | None = None,
                    note: str | None = None) -> str:
    """One-line caption of a data point: ``"index 123 · label: Trouser · cluster 4"``.

    Parameters
    ----------
    index : int
        Index of the image in the dataset.
    label_text : str, optional
        Class name (or label value); left out when None or empty.
    cluster : int, optional
        k-means cluster index; left out when None.
    note : str, optional
        A second line (e.g. what a side-by-side image shows).

    Returns
    -------
    str
    """
    parts = [f"index {int(index)}"]
    if label_text:
        parts.append(f"label: {label_text}")
    if cluster is not None:
        parts.append(f"cluster {int(cluster)}")
    return " · ".join(parts) + (f"\n{note}" if note else "")


class HoverPreview(QWidget):
    """The image under the cursor, upscaled with crisp pixels, and a caption below it.

    Cheap enough to call on every hover change: one :func:`~explorer.gui.images.to_pixmap`
    (about 0.1 ms for a 28 x 28 image at 168 px) and one label update.

    Parameters
    ----------
    size_px : int
        Side of the square image area (device-independent pixels); a 28 x 28 image is
        shown at the largest whole multiple that fits (6x = 168 px by default).
    smooth : bool
        Bilinear instead of nearest-neighbour upscaling (for photographs).
    parent : QWidget, optional
        Qt parent.
    """

    def __init__(self, size_px: int = 168, smooth: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._size_px = int(size_px)
        self._smooth = bool(smooth)
        self._index: int | None = None

        self._image_label = QLabel(self)
        self._image_label.setFixedSize(self._size_px + 2, self._size_px + 2)  # + the 1 px frame
        self._image_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._image_label.setFrameShape(QFrame.Shape.Box)
        self._image_label.setStyleSheet("QLabel { border: 1px solid #b4b4b4; background: #f0f0f0; color: #808080; }")
        self._image_label.setWordWrap(True)

        self._caption_label = QLabel(self)
        self._caption_label.setTextFormat(Qt.TextFormat.PlainText)
        self._caption_label.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self._caption_label.setWordWrap(True)
        self._caption_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._caption_label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(self._image_label, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self._caption_label)
        layout.addStretch(1)
        self.clear()

    def show_point(self, image: np.ndarray, index: int, label_text: str | None = None,
                   cluster: int | None = None, note: str | None = None) -> None:
        """Show one data point.

        Parameters
        ----------
        image : numpy.ndarray
            (C, H, W) float32 in [0, 1], C = 1 (grey) or 3 (RGB).
        index : int
            Index of the image in the dataset.
        label_text : str, optional
            Class name; not shown when None (unlabelled data).
        cluster : int, optional
            Cluster of the point; not shown when None (no clustering yet).
        note : str, optional
            A second caption line.
        """
        self._index = int(index)
        # an image at least twice as wide as high (a pair side by side) gets a box twice as wide
        width = 2 * self._size_px if image.shape[-1] >= 2 * image.shape[-2] else self._size_px
        self._image_label.setFixedSize(width + 2, self._size_px + 2)
        self._image_label.setPixmap(to_pixmap(image, width, self._smooth))
        self._caption_label.setText(preview_caption(index, label_text, cluster, note))

    def clear(self) -> None:
        """Show no image, only a hint to hover over a point."""
        self._index = None
        self._image_label.setFixedSize(self._size_px + 2, self._size_px + 2)
        self._image_label.clear()
        self._image_label.setText(_EMPTY_TEXT)
        self._caption_label.setText("")

    def index(self) -> int | None:
        """Dataset index of the point shown, or None."""
        return self._index

    def caption(self) -> str:
        """The caption text shown under the image ("" when cleared)."""
        return self._caption_label.text()

    def pixmap_size(self) -> tuple[int, int]:
        """(width, height) of the shown pixmap in pixels, (0, 0) when cleared."""
        pixmap = self._image_label.pixmap()
        return (0, 0) if pixmap is None or pixmap.isNull() else (pixmap.width(), pixmap.height())
