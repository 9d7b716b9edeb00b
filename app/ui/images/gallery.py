"""Results of this session: thumbnails, their parameters, "Reuse parameters", a search by description (CLIP) and
"Ask about this image"."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QDesktopServices, QIcon, QImage
from PySide6.QtCore import QUrl
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.images.metadata import a1111_text
from app.ui.clip_search import PATH_ROLE, ClipSearch, ask_about_image
from app.ui.images.canvas import pixmap_thumb


class Gallery(QWidget):
    sig_reuse = Signal(object)  # GenerationParams
    sig_show = Signal(str)  # image path

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.search = ClipSearch(ctx)
        layout.addWidget(self.search)
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.ViewMode.IconMode)
        self.list.setIconSize(QSize(96, 96))
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.setMovement(QListWidget.Movement.Static)
        self.list.setSpacing(4)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.search.attach(self.list)
        layout.addWidget(self.list, 3)
        self.info = QPlainTextEdit()
        self.info.setReadOnly(True)
        self.info.setPlaceholderText("Select an image to see how it was made.")
        layout.addWidget(self.info, 2)
        row = QHBoxLayout()
        self.reuse = QPushButton("Reuse parameters")
        self.reuse.setEnabled(False)
        self.reuse.clicked.connect(self._reuse)
        self.ask = QPushButton("Ask about this image")
        self.ask.setToolTip("Open a new chat with this image attached (needs a vision model in Chat)")
        self.ask.setEnabled(False)
        self.ask.clicked.connect(self._ask)
        self.open_folder = QPushButton("Open folder")
        self.open_folder.clicked.connect(self._open_folder)
        row.addWidget(self.reuse)
        row.addWidget(self.open_folder)
        layout.addLayout(row)
        layout.addWidget(self.ask)
        self.list.currentItemChanged.connect(self._on_current)

    def add(self, path: Path, params, seed: int) -> QListWidgetItem:
        image = QImage(str(path))
        item = QListWidgetItem(QIcon(pixmap_thumb(image, 96)), f"{seed}")
        item.setData(Qt.ItemDataRole.UserRole, (str(path), params, seed))
        item.setData(PATH_ROLE, str(path))
        item.setToolTip(str(path))
        self.list.insertItem(0, item)
        self.list.setCurrentItem(item)
        self.search.add_files([path], front=True)  # indexed in the background; ranked in when a query is on
        return item

    def count(self) -> int:
        return self.list.count()

    def _on_current(self, item: QListWidgetItem | None, _prev=None) -> None:
        if item is None:
            self.info.clear()
            self.reuse.setEnabled(False)
            self.ask.setEnabled(False)
            return
        path, params, seed = item.data(Qt.ItemDataRole.UserRole)
        self.info.setPlainText(a1111_text(params, seed) + f"\n\n{path}")
        self.reuse.setEnabled(True)
        self.ask.setEnabled(True)
        self.sig_show.emit(path)

    def context_menu(self, item: QListWidgetItem) -> QMenu:
        """The menu of a thumbnail (right click): ask about it, reuse its parameters."""
        self.list.setCurrentItem(item)
        menu = QMenu(self)
        menu.addAction("Ask about this image", self._ask)
        menu.addAction("Reuse parameters", self._reuse)
        return menu

    def _menu(self, pos) -> None:
        item = self.list.itemAt(pos)
        if item is not None:
            self.context_menu(item).popup(self.list.viewport().mapToGlobal(pos))

    def _ask(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            ask_about_image(self.ctx, item.data(PATH_ROLE))

    def _reuse(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.sig_reuse.emit(item.data(Qt.ItemDataRole.UserRole)[1])

    def _open_folder(self) -> None:
        from app.core import paths

        QDesktopServices.openUrl(QUrl.fromLocalFile(str(paths.images_dir())))
