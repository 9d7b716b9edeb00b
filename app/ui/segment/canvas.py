"""The zoom/pan canvas: a downsampled photo, the mask overlay, prompt markers.

Left click = positive point, right click or Alt+click = negative point, left drag = box. Wheel zooms under the
cursor, middle-drag (or Space+drag) pans, double middle click fits. Coordinates leave the canvas in image pixels.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
)

from app.ui.qimage import rgb_to_pixmap, rgba_to_qimage

DRAG_THRESHOLD = 5  # screen pixels before a press becomes a box drag


class SegmentCanvas(QGraphicsView):
    sig_point = Signal(float, float, bool)  # x, y in image pixels, positive
    sig_box = Signal(float, float, float, float)  # x0, y0, x1, y1 in image pixels
    sig_files_dropped = Signal(list)  # [path str]

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setAcceptDrops(True)
        self.setMouseTracking(True)
        self.setBackgroundBrush(QColor(40, 40, 44))
        self.scale_to_image = 1.0  # image px per display px
        self.image_size = (0, 0)
        self._photo = QGraphicsPixmapItem()
        self._photo.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._overlay = QGraphicsPixmapItem()
        self._overlay.setZValue(1)
        self._box = QGraphicsRectItem()
        self._box.setZValue(3)
        self._rubber = QGraphicsRectItem()
        self._rubber.setZValue(4)
        pen = QPen(QColor(255, 255, 255), 0, Qt.PenStyle.DashLine)
        self._rubber.setPen(pen)
        for item in (self._photo, self._overlay, self._box, self._rubber):
            self.scene().addItem(item)
        self._box.hide()
        self._rubber.hide()
        self._hint = self.scene().addText("Open a photo (Ctrl+O), drop one here, or paste one (Ctrl+V).")
        self._hint.setDefaultTextColor(QColor(200, 200, 205))
        self._markers: list[QGraphicsEllipseItem] = []
        self._press: QPointF | None = None
        self._press_negative = False
        self._dragging_box = False
        self._pan_from: QPointF | None = None
        self._space = False
        self.enabled_prompts = True

    # ---- content -----------------------------------------------------------------------------------------------
    @property
    def has_image(self) -> bool:
        return not self._photo.pixmap().isNull()

    def set_image(self, display_rgb: np.ndarray, image_size: tuple[int, int]) -> None:
        self._hint.hide()
        self._photo.setPixmap(rgb_to_pixmap(display_rgb))
        self._overlay.setPixmap(QPixmap())
        self.image_size = image_size
        self.scale_to_image = image_size[0] / display_rgb.shape[1]
        self.scene().setSceneRect(QRectF(0, 0, display_rgb.shape[1], display_rgb.shape[0]))
        self.set_prompts((), None, QColor(30, 144, 255))
        self.fit()

    def set_overlay(self, rgba: np.ndarray | None) -> None:
        self._overlay.setPixmap(QPixmap.fromImage(rgba_to_qimage(rgba)) if rgba is not None else QPixmap())

    def set_prompts(self, points, box, color: QColor) -> None:
        for item in self._markers:
            self.scene().removeItem(item)
        self._markers = []
        s = 1 / self.scale_to_image
        for x, y, label in points:
            dot = QGraphicsEllipseItem(-6, -6, 12, 12)
            dot.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
            dot.setPos(x * s, y * s)
            dot.setBrush(QBrush(QColor(40, 200, 90) if label else QColor(230, 50, 50)))
            dot.setPen(QPen(QColor(255, 255, 255), 2))
            dot.setZValue(5)
            dot.setToolTip("positive point" if label else "negative point")
            self.scene().addItem(dot)
            self._markers.append(dot)
        if box is None:
            self._box.hide()
        else:
            x0, y0, x1, y1 = box
            self._box.setRect(QRectF(x0 * s, y0 * s, (x1 - x0) * s, (y1 - y0) * s))
            pen = QPen(color, 2)
            pen.setCosmetic(True)  # two screen pixels at any zoom
            self._box.setPen(pen)
            self._box.show()

    @property
    def marker_count(self) -> int:
        return len(self._markers)

    # ---- view --------------------------------------------------------------------------------------------------
    def fit(self) -> None:
        if self.has_image:
            self.fitInView(self._photo, Qt.AspectRatioMode.KeepAspectRatio)

    def zoom(self, factor: float) -> None:
        current = self.transform().m11()
        factor = max(0.05 / current, min(factor, 40.0 / current))
        self.scale(factor, factor)

    def wheelEvent(self, event) -> None:  # noqa: N802
        if not self.has_image:
            return
        self.zoom(1.25 ** (event.angleDelta().y() / 120))

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        elif event.key() in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom(1.25)
        elif event.key() == Qt.Key.Key_Minus:
            self.zoom(0.8)
        elif event.key() == Qt.Key.Key_0:
            self.fit()
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.viewport().unsetCursor()
        else:
            super().keyReleaseEvent(event)

    # ---- mouse -------------------------------------------------------------------------------------------------
    def to_image(self, view_pos) -> tuple[float, float]:
        p = self.mapToScene(view_pos.toPoint() if hasattr(view_pos, "toPoint") else view_pos)
        w, h = self.image_size
        x = min(max(p.x() * self.scale_to_image, 0.0), w - 1.0)
        y = min(max(p.y() * self.scale_to_image, 0.0), h - 1.0)
        return x, y

    def _inside(self, view_pos) -> bool:
        p = self.mapToScene(view_pos.toPoint())
        return self._photo.contains(p)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        pos = event.position()
        if event.button() == Qt.MouseButton.MiddleButton or (self._space and event.button() == Qt.MouseButton.LeftButton):
            self._pan_from = pos
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if not self.has_image or not self.enabled_prompts or not self._inside(pos):
            return
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = pos
            self._press_negative = bool(event.modifiers() & Qt.KeyboardModifier.AltModifier)
            self._dragging_box = False
        elif event.button() == Qt.MouseButton.RightButton:
            x, y = self.to_image(pos)
            self.sig_point.emit(x, y, False)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        pos = event.position()
        if self._pan_from is not None:
            delta = pos - self._pan_from
            self._pan_from = pos
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(delta.y()))
            return
        if self._press is not None and not self._press_negative:
            if (pos - self._press).manhattanLength() > DRAG_THRESHOLD:
                self._dragging_box = True
            if self._dragging_box:
                a, b = self.mapToScene(self._press.toPoint()), self.mapToScene(pos.toPoint())
                self._rubber.setRect(QRectF(a, b).normalized())
                self._rubber.show()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        pos = event.position()
        if self._pan_from is not None and event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_from = None
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor if self._space else Qt.CursorShape.ArrowCursor)
            return
        if self._press is None or event.button() != Qt.MouseButton.LeftButton:
            return
        start, negative, dragging = self._press, self._press_negative, self._dragging_box
        self._press, self._dragging_box = None, False
        self._rubber.hide()
        if dragging:
            x0, y0 = self.to_image(start)
            x1, y1 = self.to_image(pos)
            if abs(x1 - x0) >= 2 and abs(y1 - y0) >= 2:
                self.sig_box.emit(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        else:
            x, y = self.to_image(start)
            self.sig_point.emit(x, y, not negative)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.MiddleButton:
            self.fit()
        else:
            self.mousePressEvent(event)

    # ---- drag and drop -----------------------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        files = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.sig_files_dropped.emit(files)
