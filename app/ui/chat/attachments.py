"""Images attached to the message being written: the composer takes pasted and dropped images, the strip above it
shows each as a thumbnail with a remove button until the message is sent.

An attachment is a file path or, for a pasted picture, its PNG bytes. Thumbnails are decoded at thumbnail size
(QImageReader's scaled decoding, EXIF orientation applied) and cached by path; the photo itself is only read in
full by the reply job, off the GUI thread (app/core/vision/images.py).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QImageReader, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QToolButton, QVBoxLayout, QWidget

from app.core.imageio import IMAGE_SUFFIXES

THUMB = 72  # pending attachments, pixels per side at most
_cache: dict[tuple[str, int], QImage] = {}


def thumbnail(source: str | bytes, side: int = THUMB) -> QImage:
    """`source` (a path or image bytes) decoded to fit `side` x `side` pixels, right way up. A grey square for a
    file that cannot be read (sending it then says why)."""
    key = (source if isinstance(source, str) else f"bytes:{hash(source)}", side)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    if isinstance(source, str):
        reader = QImageReader(source)
    else:
        buffer = QBuffer()
        buffer.setData(QByteArray(source))
        buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        reader = QImageReader(buffer)
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and max(size.width(), size.height()) > side:
        reader.setScaledSize(size.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull():
        image = QImage(side, side, QImage.Format.Format_RGB32)
        image.fill(QColor("#9a9a9a"))
    elif max(image.width(), image.height()) > side:  # formats without scaled decoding
        image = image.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    if len(_cache) > 256:
        _cache.clear()
    _cache[key] = image
    return image


def png_bytes(image: QImage) -> bytes:
    """A QImage (a pasted picture) as PNG bytes."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data.data())


def images_in(mime) -> list[str | bytes]:
    """The images a QMimeData carries: image files among its URLs, else its picture (as PNG bytes)."""
    files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []
    found: list[str | bytes] = [f for f in files if Path(f).suffix.lower() in IMAGE_SUFFIXES]
    if not found and mime.hasImage():
        image = mime.imageData()
        if isinstance(image, QPixmap):
            image = image.toImage()
        if isinstance(image, QImage) and not image.isNull():
            found.append(png_bytes(image))
    return found


class Composer(QPlainTextEdit):
    """The message box: text as usual; pasted or dropped images go to `sig_images` instead of the text."""

    sig_images = Signal(list)  # [path or PNG bytes]

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)

    def canInsertFromMimeData(self, source) -> bool:  # noqa: N802 - Qt naming
        return bool(images_in(source)) or super().canInsertFromMimeData(source)

    def insertFromMimeData(self, source) -> None:  # noqa: N802 - paste and drop both come here
        images = images_in(source)
        if images:
            self.sig_images.emit(images)
            return
        super().insertFromMimeData(source)


class AttachmentStrip(QWidget):
    """Thumbnails of the images attached to the next message, each with a × to remove it; hidden when empty."""

    sig_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._items: list[str | bytes] = []
        self._row = QHBoxLayout(self)
        self._row.setContentsMargins(0, 2, 0, 2)
        self._row.addStretch(1)
        self.hide()

    def items(self) -> list[str | bytes]:
        """The attached images, in order (paths or PNG bytes)."""
        return list(self._items)

    def add(self, images: list[str | bytes]) -> None:
        for image in images:
            if image not in self._items:
                self._items.append(image)
        self._rebuild()

    def remove(self, index: int) -> None:
        if 0 <= index < len(self._items):
            del self._items[index]
            self._rebuild()

    def clear(self) -> None:
        self._items = []
        self._rebuild()

    def thumbnails(self) -> list[QLabel]:
        """The thumbnail labels shown (tests, screenshots)."""
        return self.findChildren(QLabel, "attachmentThumb")

    def _rebuild(self) -> None:
        while self._row.count() > 1:
            item = self._row.takeAt(0)
            widget = item.widget()
            if widget is not None:
                widget.setParent(None)
                widget.deleteLater()
        for i, image in enumerate(self._items):
            self._row.insertWidget(i, self._tile(i, image))
        self.setVisible(bool(self._items))
        self.sig_changed.emit()

    def _tile(self, index: int, image: str | bytes) -> QWidget:
        tile = QWidget(self)
        col = QVBoxLayout(tile)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(0)
        label = QLabel(tile)
        label.setObjectName("attachmentThumb")
        label.setPixmap(QPixmap.fromImage(thumbnail(image)))
        label.setFixedSize(QSize(THUMB, THUMB))
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setToolTip(Path(image).name if isinstance(image, str) else "Pasted image")
        remove = QToolButton(tile)
        remove.setText("×")
        remove.setToolTip("Remove this image")
        remove.setAutoRaise(True)
        remove.clicked.connect(lambda: self.remove(index))
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addStretch(1)
        top.addWidget(remove)
        col.addLayout(top)
        col.addWidget(label)
        return tile
