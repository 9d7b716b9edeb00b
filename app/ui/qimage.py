"""numpy <-> Qt image conversions, for every tab (GUI thread only). Arrays are H x W x C uint8; the QImage made is a
copy, so the array may go."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage, QPixmap


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """H x W x 3 uint8 (any strides) → an RGB888 QImage of its own."""
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def rgba_to_qimage(rgba: np.ndarray) -> QImage:
    """H x W x 4 uint8 (straight alpha) → an RGBA8888 QImage of its own."""
    rgba = np.ascontiguousarray(rgba)
    h, w = rgba.shape[:2]
    return QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()


def rgb_to_pixmap(rgb: np.ndarray) -> QPixmap:
    """H x W x 3 uint8 → QPixmap (for labels and icons)."""
    return QPixmap.fromImage(rgb_to_qimage(rgb))


def qimage_to_rgb(image: QImage) -> np.ndarray:
    """Any QImage (a pasted one) → H x W x 3 uint8."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h, stride = image.width(), image.height(), image.bytesPerLine()
    buf = np.frombuffer(image.constBits(), dtype=np.uint8, count=stride * h).reshape(h, stride)
    return buf[:, : 3 * w].reshape(h, w, 3).copy()
