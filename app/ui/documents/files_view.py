"""The files of a collection with their state (indexed / pending / failed / duplicate / empty + reason)."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem

from app.ui.open_file import open_file

STATE_LABEL = {"indexed": "Indexed", "pending": "Pending", "failed": "Failed", "duplicate": "Duplicate",
               "empty": "Empty"}
STATE_COLOR = {"failed": "#b02a37", "pending": "#997404", "duplicate": "#6c757d", "empty": "#6c757d"}


class FilesView(QTreeWidget):
    sig_open = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setColumnCount(4)
        self.setHeaderLabels(["File", "State", "Chunks", "Details"])
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setSortingEnabled(True)
        header = self.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.setColumnWidth(0, 260)
        self.setColumnWidth(1, 80)
        self.setColumnWidth(2, 60)
        self._items: dict[str, QTreeWidgetItem] = {}
        self.itemActivated.connect(lambda item, _col: self._open(item))

    def set_files(self, rows) -> None:
        self.setSortingEnabled(False)
        self.clear()
        self._items.clear()
        for row in rows:
            self.update_file(row.path, row.state, row.reason, row.chunks, row.pages)
        self.setSortingEnabled(True)
        self.sortItems(0, Qt.SortOrder.AscendingOrder)

    def update_file(self, path: str, state: str, reason: str = "", chunks: int = 0, pages: int = 0) -> None:
        item = self._items.get(path)
        if item is None:
            item = QTreeWidgetItem(self)
            self._items[path] = item
            item.setText(0, os.path.basename(path))
            item.setToolTip(0, path)
            item.setData(0, Qt.ItemDataRole.UserRole, path)
        item.setText(1, STATE_LABEL.get(state, state))
        item.setText(2, str(chunks) if state == "indexed" else "")
        counted = f"{pages} page{'s' if pages != 1 else ''}" if pages and state == "indexed" else ""
        details = " · ".join(t for t in (counted, reason) if t)
        item.setText(3, details)
        item.setToolTip(3, reason or path)
        color = STATE_COLOR.get(state)
        brush = QBrush(QColor(color)) if color else QBrush()
        item.setForeground(1, brush)
        item.setForeground(3, brush)

    def states(self) -> dict[str, str]:
        return {path: item.text(1).lower() for path, item in self._items.items()}

    def reason(self, path: str) -> str:
        item = self._items.get(path)
        return item.text(3) if item else ""

    def _open(self, item: QTreeWidgetItem) -> None:
        path = item.data(0, Qt.ItemDataRole.UserRole)
        self.sig_open.emit(path)
        open_file(path)
