"""The image canvas: shows the starting image / live preview / result, and paints the inpainting mask."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget


class ImageCanvas(QWidget):
    sig_mask_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(QSize(160, 120))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.image: QImage | None = None  # what is shown (preview or result or the starting image)
        self.mask: QImage | None = None  # Grayscale8, image-sized, white = repaint
        self.painting = False  # mask painting enabled (inpaint mode with a starting image)
        self.eraser = False
        self.brush = 32  # in image pixels
        self.placeholder = "Your image appears here"
        self._last: QPointF | None = None
        self._hover: QPoint | None = None

    # ---- content -----------------------------------------------------------------------------------------------
    def set_image(self, image: QImage | None, keep_mask: bool = True) -> None:
        self.image = image
        if image is not None and (not keep_mask or self.mask is None or self.mask.size() != image.size()):
            if self.mask is not None and self.mask.size() != image.size() and keep_mask:
                self.mask = self.mask.scaled(image.size())
            elif not keep_mask or self.mask is None:
                self.mask = None
        self.update()

    def ensure_mask(self) -> QImage | None:
        if self.image is None:
            return None
        if self.mask is None or self.mask.size() != self.image.size():
            self.mask = QImage(self.image.size(), QImage.Format.Format_Grayscale8)
            self.mask.fill(0)
        return self.mask

    def set_mask(self, mask: QImage) -> None:
        if self.image is not None:
            mask = mask.convertToFormat(QImage.Format.Format_Grayscale8).scaled(self.image.size())
        self.mask = mask
        self.sig_mask_changed.emit()
        self.update()

    def clear_mask(self) -> None:
        if self.mask is not None:
            self.mask.fill(0)
            self.sig_mask_changed.emit()
            self.update()

    def mask_is_empty(self) -> bool:
        if self.mask is None:
            return True
        bits = self.mask.constBits()
        return not any(bytes(bits))

    # ---- geometry ----------------------------------------------------------------------------------------------
    def _target(self) -> QRectF:
        if self.image is None:
            return QRectF(self.rect())
        size = self.image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        x = (self.width() - size.width()) / 2
        y = (self.height() - size.height()) / 2
        return QRectF(x, y, size.width(), size.height())

    def _to_image(self, pos: QPointF) -> QPointF:
        target = self._target()
        scale = self.image.width() / max(1.0, target.width())
        return QPointF((pos.x() - target.x()) * scale, (pos.y() - target.y()) * scale)

    # ---- painting the mask -------------------------------------------------------------------------------------
    def _stroke(self, a: QPointF, b: QPointF) -> None:
        mask = self.ensure_mask()
        if mask is None:
            return
        painter = QPainter(mask)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        color = QColor(0, 0, 0) if self.eraser else QColor(255, 255, 255)
        if a == b:  # a click: a dot the size of the brush
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(color)
            painter.drawEllipse(a, self.brush / 2, self.brush / 2)
        else:
            painter.setPen(QPen(color, self.brush, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            painter.drawLine(a, b)
        painter.end()
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self.painting and self.image is not None and event.button() == Qt.MouseButton.LeftButton:
            self._last = self._to_image(event.position())
            self._stroke(self._last, self._last)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._hover = event.position().toPoint()
        if self._last is not None:
            point = self._to_image(event.position())
            self._stroke(self._last, point)
            self._last = point
        elif self.painting:
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._last is not None:
            self._last = None
            self.sig_mask_changed.emit()

    def leaveEvent(self, event) -> None:  # noqa: N802
        self._hover = None
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().base())
        if self.image is None:
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
            return
        target = self._target()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(target, self.image)
        if self.painting and self.mask is not None:
            overlay = QImage(self.mask.size(), QImage.Format.Format_ARGB32)
            overlay.fill(QColor(255, 60, 60, 140))
            alpha = QPainter(overlay)
            alpha.setCompositionMode(QPainter.CompositionMode.CompositionMode_DestinationIn)
            alpha.drawImage(0, 0, _mask_to_alpha(self.mask))
            alpha.end()
            painter.drawImage(target, overlay)
        if self.painting and self._hover is not None:
            radius = self.brush / 2 * target.width() / max(1, self.image.width())
            painter.setPen(QPen(QColor(255, 255, 255, 200), 1))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(QPointF(self._hover), radius, radius)


def _mask_to_alpha(mask: QImage) -> QImage:
    """A Grayscale8 mask as an ARGB image whose alpha is the mask (for the red overlay)."""
    alpha = QImage(mask.size(), QImage.Format.Format_ARGB32)
    alpha.fill(QColor(255, 255, 255))
    alpha.setAlphaChannel(mask)
    return alpha


def pixmap_thumb(image: QImage, side: int = 128) -> QPixmap:
    return QPixmap.fromImage(image.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                          Qt.TransformationMode.SmoothTransformation))
