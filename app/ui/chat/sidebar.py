"""The conversation sidebar: new, search by text, rename, export, import, delete."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.chat.store import ConversationStore


class ConversationSidebar(QWidget):
    sig_selected = Signal(str)  # conversation id
    sig_new = Signal()
    sig_deleted = Signal(str)
    sig_export = Signal(str, str)  # conversation id, "md" | "json"
    sig_import = Signal()

    def __init__(self, store: ConversationStore, parent=None) -> None:
        super().__init__(parent)
        self.store = store
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        self.new_button = QPushButton("New chat")
        self.new_button.clicked.connect(self.sig_new.emit)
        top.addWidget(self.new_button)
        layout.addLayout(top)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search conversations…")
        self.search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self, singleShot=True, interval=200)
        self._search_timer.timeout.connect(self.refresh)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        layout.addWidget(self.search)
        self.list = QListWidget()
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.list.itemClicked.connect(lambda item: self.sig_selected.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.list.itemDoubleClicked.connect(lambda item: self.rename(item.data(Qt.ItemDataRole.UserRole)))
        layout.addWidget(self.list, 1)
        self.setMinimumWidth(150)
        self.setMaximumWidth(320)
        self._current: str | None = None
        self.refresh()

    def refresh(self) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for conv in self.store.list(self.search.text()):
            item = QListWidgetItem(conv.title)
            item.setData(Qt.ItemDataRole.UserRole, conv.id)
            item.setToolTip(f"{conv.title}\n{conv.model or 'no model yet'}")
            self.list.addItem(item)
            if conv.id == self._current:
                item.setSelected(True)
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)

    def ids(self) -> list[str]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]

    def set_current(self, cid: str | None) -> None:
        self._current = cid
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(Qt.ItemDataRole.UserRole) == cid:
                self.list.setCurrentItem(item)
                return
        self.list.clearSelection()

    def _menu(self, pos) -> None:
        item = self.list.itemAt(pos)
        menu = QMenu(self)
        if item is not None:
            cid = item.data(Qt.ItemDataRole.UserRole)
            menu.addAction("Rename…", lambda: self.rename(cid))
            menu.addAction("Export as Markdown…", lambda: self.sig_export.emit(cid, "md"))
            menu.addAction("Export as JSON…", lambda: self.sig_export.emit(cid, "json"))
            menu.addAction("Delete…", lambda: self.delete(cid))
            menu.addSeparator()
        menu.addAction("Import conversation…", self.sig_import.emit)
        menu.exec(self.list.viewport().mapToGlobal(pos))

    def rename(self, cid: str, title: str | None = None) -> None:
        if title is None:
            current = self.store.get(cid).title
            title, ok = QInputDialog.getText(self, "Rename conversation", "Title:", text=current)
            if not ok:
                return
        self.store.rename(cid, title)
        self.refresh()

    def delete(self, cid: str, confirm: bool = True) -> None:
        if confirm:
            title = self.store.get(cid).title
            answer = QMessageBox.question(self, "Delete conversation", f"Delete “{title}” and all its messages?")
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.store.delete(cid)
        self.refresh()
        self.sig_deleted.emit(cid)
