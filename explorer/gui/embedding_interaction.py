"""The embedding view's pointer: hover and picking, click, rectangle and lasso selection (a mixin)."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui

__all__ = ["PointerInteraction"]


class PointerInteraction:
    """Hover, picking and selection of `explorer.gui.embedding_view.EmbeddingView` (mixed into it).

    It works on the view's own state (``_xy``, ``_index``, ``_hover_timer``, ``_selection`` …)
    and emits the view's ``hovered`` and ``selection_changed`` signals; split out of the view
    so that drawing and pointer handling live in modules of their own.
    """

    def _on_mouse_moved(self, scene_pos):
        self._hover_pos = QtCore.QPointF(scene_pos)
        if not self._hover_timer.isActive():
            self._hover_timer.start()

    def _on_hover_timeout(self):
        if self._hover_pos is not None:
            pos, self._hover_pos = self._hover_pos, None
            self._set_hover(self._pick(pos))

    def _pick(self, scene_pos, slack_px=3.0):
        """Nearest point within the marker radius (+ slack) of a scene position, or -1."""
        if len(self._xy) == 0 or not self._vb.sceneBoundingRect().contains(scene_pos):
            return -1
        p = self._vb.mapSceneToView(scene_pos)
        px_w, px_h = self._vb.viewPixelSize()
        max_dist = (self._point_px / 2 + slack_px) * max(px_w, px_h)
        return self._index.nearest(p.x(), p.y(), max_dist=max_dist)

    def _set_hover(self, index):
        if index == self._hover:
            return
        self._hover = index
        if index < 0:
            self._hover_item.setData([], [])
            self._plot_widget.setToolTip("")
        else:
            x, y = self._xy[index]
            self._hover_item.setData([x], [y])
            label = "" if self._labels is None else f": {self._labels[index]}"
            self._plot_widget.setToolTip(f"#{index}{label}")
        self.hovered.emit(int(index))

    def _on_click(self, view_pos, modifiers):
        i = self._pick(self._vb.mapViewToScene(view_pos))
        idx = np.empty(0, np.int64) if i < 0 else np.array([i], np.int64)
        self._shape_item.hide()
        self._select(idx, modifiers)

    def _on_select_drag(self, start, pos, is_start, is_finish, modifiers):
        if self._vb.select_mode == "rect":
            rect = QtCore.QRectF(start, pos).normalized()
            path = QtGui.QPainterPath()
            path.addRect(rect)
        else:
            if is_start or not self._lasso:
                self._lasso = [(start.x(), start.y())]
            self._lasso.append((pos.x(), pos.y()))
            path = QtGui.QPainterPath(QtCore.QPointF(*self._lasso[0]))
            for x, y in self._lasso[1:]:
                path.lineTo(x, y)
            path.closeSubpath()
        self._shape_item.setPath(path)
        self._shape_item.show()
        if is_finish:
            if self._vb.select_mode == "rect":
                idx = self.select_rect(start.x(), start.y(), pos.x(), pos.y(), modifiers)
            else:
                idx = self.select_lasso(np.array(self._lasso), modifiers)
                self._lasso = []
            return idx

    def select_rect(self, x0, y0, x1, y1, modifiers=QtCore.Qt.KeyboardModifier.NoModifier):
        """Select the points in a rectangle (data units), as a rectangle drag does.

        Returns
        -------
        ndarray of int64
            The new selection. With Shift in ``modifiers`` it is added to the old one.
        """
        return self._select(self._index.in_rect(x0, y0, x1, y1), modifiers)

    def select_lasso(self, vertices, modifiers=QtCore.Qt.KeyboardModifier.NoModifier):
        """Select the points inside a polygon (data units, shape (M, 2)), as a lasso does."""
        return self._select(self._index.in_polygon(vertices), modifiers)

    def _select(self, idx, modifiers):
        if modifiers & QtCore.Qt.KeyboardModifier.ShiftModifier:
            idx = np.union1d(self._selection, idx)
        self._apply_selection(np.asarray(idx, np.int64))
        return self.selection

    def _apply_selection(self, idx):
        if len(idx) == 0:
            self._shape_item.hide()
        changed = not np.array_equal(idx, self._selection)
        self._selection = idx
        xy = self._xy[idx]
        if len(idx) <= self._RING_MAX:  # a ring around each selected point
            self._selected_item.setData(xy[:, 0], xy[:, 1], size=self._point_px + 4, symbol="o",
                                        brush=None, pen=self._ring_pen)
        elif len(idx) <= self._DOT_MAX:  # many: a small dot in each (rings would merge)
            self._selected_item.setData(xy[:, 0], xy[:, 1], size=max(2.0, self._point_px / 2.5),
                                        symbol="o", brush=self._dot_brush, pen=None)
        else:  # very many: the dashed outline of the drawn region tells
            self._selected_item.setData([], [])
        if changed:
            self.selection_changed.emit(self.selection)
