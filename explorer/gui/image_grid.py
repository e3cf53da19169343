"""Scrollable grid of the selected images (index and label under each), rendered lazily."""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QSize, Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QMenu,
    QMessageBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from explorer.gui.dialogs import ask_save_path
from explorer.gui.hover_preview import preview_caption
from explorer.gui.images import grid_image, pixmap_scale, save_png, to_pixmap

__all__ = ["ImageGridModel", "ImageGridPanel", "EXPORT_LIMIT", "DATASET_INDEX_ROLE"]

#: Most images written by "Export grid…" (the first ones in selection order).
EXPORT_LIMIT = 10_000

#: Item-data role holding the dataset index (int) of a row.
DATASET_INDEX_ROLE = int(Qt.ItemDataRole.UserRole) + 1

ImageSource = np.ndarray | Callable[[int], np.ndarray]

_ROOT = QModelIndex()


class ImageGridModel(QAbstractListModel):
    """List model of images whose thumbnails are made on first request and cached.

    A view asks only for the rows it paints, so a model of 50,000 images costs no more
    than the few hundred on screen; the last ``cache_size`` thumbnails are kept
    (least recently used dropped first).

    Parameters
    ----------
    icon_px : int
        Side of the square each thumbnail must fit in (device-independent pixels).
    cache_size : int
        Thumbnails kept in memory.
    parent : QObject, optional
        Qt parent.

    Roles
    -----
    DisplayRole: ``"#<index>"`` and, on a second line, the caption. DecorationRole: the
    thumbnail QPixmap. ToolTipRole: ``"index 123 · label: Trouser"``. ``DATASET_INDEX_ROLE``:
    the dataset index (int).
    """

    def __init__(self, icon_px: int = 84, cache_size: int = 1024, parent=None) -> None:
        super().__init__(parent)
        self._icon_px = int(icon_px)
        self._cache_size = int(cache_size)
        self._cache: OrderedDict[int, QPixmap] = OrderedDict()
        self._images: ImageSource | None = None
        self._indices = np.empty(0, np.int64)
        self._captions: list[str] | None = None
        self._thumb_size = (self._icon_px, self._icon_px)
        #: Number of thumbnails made since the last :meth:`set_items` (for tests and benchmarks).
        self.render_count = 0

    # ------------------------------------------------------------------ items

    def set_items(self, images: ImageSource, indices, captions: Sequence[str] | None = None) -> None:
        """Replace the items (a model reset).

        Parameters
        ----------
        images : numpy.ndarray or callable
            (N, C, H, W) float32 in [0, 1], row i showing dataset image ``indices[i]``; or a
            callable ``images(dataset_index) -> (C, H, W)`` array, called only for rows
            that are painted (so the selection never has to be copied).
        indices : array_like
            (N,) int dataset indices.
        captions : sequence of str, optional
            N texts shown under the index (class names); None for none.

        Raises
        ------
        ValueError
            Lengths that do not match, or ``images`` neither an (N, C, H, W) array nor callable.
        """
        indices = np.asarray(indices)
        if indices.ndim != 1 or (indices.size and not np.issubdtype(indices.dtype, np.integer)):
            raise ValueError(f"indices must be a 1-D integer array, got shape {indices.shape} "
                             f"and dtype {indices.dtype}")
        n = indices.shape[0]
        if not callable(images):
            images = np.asarray(images)
            if images.ndim != 4 or images.shape[0] != n:
                raise ValueError(f"images must be an (N, C, H, W) array with N = {n} (one per index), "
                                 f"got shape {images.shape}")
        if captions is not None:
            captions = [str(c) for c in captions]
            if len(captions) != n:
                raise ValueError(f"{len(captions)} captions for {n} images")
        if n == 0:
            shape_hw = (1, 1)
        elif callable(images):
            shape_hw = np.shape(images(int(indices[0])))[-2:]
        else:
            shape_hw = images.shape[2:]
        self.beginResetModel()
        self._thumb_size = pixmap_scale(shape_hw, self._icon_px)
        self._images = images
        self._indices = indices.astype(np.int64, copy=False)
        self._captions = captions
        self._cache.clear()
        self.render_count = 0
        self.endResetModel()

    def clear(self) -> None:
        """Remove every item."""
        self.set_items(np.empty((0, 1, 1, 1), np.float32), np.empty(0, np.int64))

    def indices(self) -> np.ndarray:
        """(N,) int64 dataset indices, in row order (read-only view)."""
        view = self._indices.view()
        view.setflags(write=False)
        return view

    def captions(self) -> list[str] | None:
        """The captions given to :meth:`set_items`, or None."""
        return self._captions

    def image(self, row: int) -> np.ndarray:
        """(C, H, W) image of ``row``."""
        if callable(self._images):
            return np.asarray(self._images(int(self._indices[row])))
        return self._images[row]

    def icon_px(self) -> int:
        """Side of the square thumbnails fit in (pixels)."""
        return self._icon_px

    def thumbnail_size(self) -> tuple[int, int]:
        """(width, height) in pixels of the thumbnails of the current items (whole-factor upscaling)."""
        return self._thumb_size

    def cached_rows(self) -> list[int]:
        """Rows whose thumbnail is in the cache, least recently used first."""
        return list(self._cache)

    def pixmap(self, row: int) -> QPixmap:
        """Thumbnail of ``row``: from the cache, or made now and cached."""
        pixmap = self._cache.get(row)
        if pixmap is not None:
            self._cache.move_to_end(row)
            return pixmap
        pixmap = to_pixmap(self.image(row), self._icon_px)
        self.render_count += 1
        self._cache[row] = pixmap
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return pixmap

    # --------------------------------------------------------- Qt model API

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:  # noqa: N802 - Qt override
        return 0 if parent.isValid() else int(self._indices.shape[0])

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = index.row()
        if not 0 <= row < self._indices.shape[0]:
            return None
        role = int(role)
        if role == int(Qt.ItemDataRole.DecorationRole):
            return self.pixmap(row)
        caption = self._captions[row] if self._captions is not None else None
        if role == int(Qt.ItemDataRole.DisplayRole):
            text = f"#{int(self._indices[row])}"
            return f"{text}\n{caption}" if caption else text
        if role == int(Qt.ItemDataRole.ToolTipRole):
            return preview_caption(int(self._indices[row]), caption)
        if role == DATASET_INDEX_ROLE:
            return int(self._indices[row])
        return None


class ImageGridPanel(QWidget):
    """The selected images as a scrollable grid, with "N selected" and "Export grid…".

    Thumbnails are made only for the items on screen (:class:`ImageGridModel`), so
    50,000 selected images open at once and scroll smoothly.

    Parameters
    ----------
    icon_px : int
        Side of the square thumbnails fit in; 28 x 28 images are shown at 3x by default.
    parent : QWidget, optional
        Qt parent.

    Signals
    -------
    item_activated(int)
        The dataset index of a double-clicked (or Enter-activated) image.
    grid_exported(str)
        Path of a PNG just written by "Export grid…".
    """

    item_activated = Signal(int)
    grid_exported = Signal(str)

    def __init__(self, icon_px: int = 84, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model = ImageGridModel(icon_px, parent=self)

        self._header = QLabel(self)
        self._export_button = QToolButton(self)
        self._export_button.setText("Export grid…")
        self._export_button.setToolTip(f"Save the selected images (at most {EXPORT_LIMIT:,}) as one PNG image")
        self._export_button.clicked.connect(self._on_export_clicked)

        self._view = QListView(self)
        self._view.setViewMode(QListView.ViewMode.IconMode)
        self._view.setMovement(QListView.Movement.Static)
        self._view.setResizeMode(QListView.ResizeMode.Adjust)
        self._view.setUniformItemSizes(True)  # size of the first item only: no pass over all rows
        self._view.setLayoutMode(QListView.LayoutMode.Batched)
        self._view.setBatchSize(2000)
        self._view.setWrapping(True)
        self._view.setWordWrap(False)
        self._view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self._view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self._view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self._view.setModel(self._model)
        self._update_grid_size()
        self._view.activated.connect(self._on_item_activated)
        self._view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self._view.customContextMenuRequested.connect(self._on_context_menu_requested)

        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(self._header, 1)
        header.addWidget(self._export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(self._view, 1)
        self._update_header()

    # ---------------------------------------------------------------- public API

    @property
    def model(self) -> ImageGridModel:
        """The list model (thumbnail cache, dataset indices)."""
        return self._model

    @property
    def view(self) -> QListView:
        """The QListView showing the grid."""
        return self._view

    def set_items(self, images: ImageSource, indices, captions: Sequence[str] | None = None) -> None:
        """Show these images; see :meth:`ImageGridModel.set_items` for the arguments.

        Raises
        ------
        ValueError
            Lengths that do not match.
        """
        self._model.set_items(images, indices, captions)
        self._update_grid_size()
        self._view.scrollToTop()
        self._update_header()

    def clear(self) -> None:
        """Show no images."""
        self._model.clear()
        self._update_header()

    def count(self) -> int:
        """Number of images in the grid."""
        return self._model.rowCount()

    def header_text(self) -> str:
        """The header line ("12,345 selected")."""
        return self._header.text()

    def export_grid(self, path: str | os.PathLike, ncols: int | None = None, limit: int = EXPORT_LIMIT) -> int:
        """Write the images of the grid as one PNG (white 2-px gaps), atomically.

        Parameters
        ----------
        path : str or os.PathLike
            Target ``.png`` file.
        ncols : int, optional
            Images per row; default ``ceil(sqrt(n))``.
        limit : int
            Write only the first ``limit`` images (in grid order).

        Returns
        -------
        int
            Number of images written.

        Raises
        ------
        ValueError
            The grid is empty.
        OSError
            The file cannot be written.
        """
        n = min(self.count(), int(limit))
        if n == 0:
            raise ValueError("there are no selected images to export")
        images = np.stack([np.asarray(self._model.image(row), np.float32) for row in range(n)])
        ncols = int(ncols) if ncols else math.ceil(math.sqrt(n))
        save_png(path, grid_image(images, ncols=ncols, pad=2, bg=1.0))
        return n

    # ------------------------------------------------------------------- slots

    def _update_grid_size(self) -> None:
        """Fit the grid cells to the thumbnails and two caption lines."""
        width, height = self._model.thumbnail_size()
        metrics = self._view.fontMetrics()
        cell_w = max(width + 12, metrics.horizontalAdvance("Ankle boot") + 12)
        cell_h = height + 2 * metrics.lineSpacing() + 12
        self._view.setIconSize(QSize(width, height))
        self._view.setGridSize(QSize(cell_w, cell_h))
        self._view.verticalScrollBar().setSingleStep(max(8, cell_h // 4))

    def _update_header(self) -> None:
        n = self.count()
        if n == 0:
            self._header.setText("No images selected — select points in the embedding")
        else:
            self._header.setText(f"{n:,} selected")
        self._export_button.setEnabled(n > 0)

    @Slot(QModelIndex)
    def _on_item_activated(self, index: QModelIndex) -> None:
        value = self._model.data(index, DATASET_INDEX_ROLE)
        if value is not None:
            self.item_activated.emit(int(value))

    @Slot()
    def _on_export_clicked(self) -> None:
        if self.count() == 0:
            return
        path = ask_save_path(self, "Export grid", "selection-grid.png", "PNG image (*.png)")
        if not path:
            return
        if not path.lower().endswith(".png"):
            path += ".png"
        try:
            self.export_grid(path)
        except OSError as exc:
            QMessageBox.warning(self, "Export grid", f"Could not write '{path}': {exc.strerror or exc}.")
            return
        self.grid_exported.emit(path)

    @Slot()
    def _on_copy_indices(self) -> None:
        rows = sorted(index.row() for index in self._view.selectionModel().selectedIndexes())
        indices = self._model.indices()[rows] if rows else self._model.indices()
        QGuiApplication.clipboard().setText(", ".join(str(int(i)) for i in indices))

    @Slot("QPoint")
    def _on_context_menu_requested(self, pos) -> None:
        menu = QMenu(self)
        selected = bool(self._view.selectionModel().hasSelection())
        copy = menu.addAction("Copy indices of selected images" if selected else "Copy all indices")
        copy.setEnabled(self.count() > 0)
        copy.triggered.connect(self._on_copy_indices)
        export = menu.addAction("Export grid…")
        export.setEnabled(self.count() > 0)
        export.triggered.connect(self._on_export_clicked)
        menu.exec(self._view.viewport().mapToGlobal(pos))
