"""The curated catalog: every entry with its variants, size, memory needed, and whether it fits this machine."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.models import catalog, fit
from app.core.models.registry import KINDS
from app.core.units import format_bytes

COLUMNS = ["Model / quantization", "Kind", "Size", "Needs", "Fit", "License", "Source"]
FIT_COLORS = {fit.FITS: "#1e7b34", fit.TIGHT: "#a06000", fit.WONT_FIT: "#b02a37"}


class CatalogView(QWidget):
    sig_download = Signal(object, object)  # CatalogEntry, CatalogFile

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.memory: fit.Memory | None = None
        self.installed_names: set[str] = set()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        self.kind = QComboBox()
        self.kind.addItem("All kinds", None)
        for k in KINDS:
            if catalog.entries(k):
                self.kind.addItem(k.capitalize(), k)
        self.kind.currentIndexChanged.connect(self.refresh)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter by name…")
        self.filter.textChanged.connect(self.refresh)
        self.download = QPushButton("Download")
        self.download.clicked.connect(self.download_selected)
        self.hardware = QLabel("Hardware: detecting…")
        bar.addWidget(QLabel("Show"))
        bar.addWidget(self.kind)
        bar.addWidget(self.filter, 1)
        bar.addWidget(self.hardware)
        bar.addWidget(self.download)
        layout.addLayout(bar)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setRootIsDecorated(True)
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setStretchLastSection(True)
        self.tree.itemSelectionChanged.connect(self._update)
        self.tree.itemDoubleClicked.connect(lambda *_: self.download_selected())
        layout.addWidget(self.tree, 1)
        legend = QLabel("★ = the best quality that fits this computer. Q4_K_M is the recommended balance, "
                        "Q5_K_M higher quality, Q8_0 the best. Fit: fits ≤ 60 % of RAM (90 % of VRAM on "
                        "NVIDIA), tight ≤ 85 % (or spills to RAM), otherwise won't fit.")
        legend.setWordWrap(True)
        layout.addWidget(legend)
        self.refresh()

    def set_memory(self, memory: fit.Memory) -> None:
        self.memory = memory
        self.hardware.setText(f"Hardware: {memory.describe}")
        self.refresh()

    def set_installed(self, names: set[str]) -> None:
        self.installed_names = names
        self.refresh()

    def refresh(self) -> None:
        selected = self.selected()
        key = (selected[0].id, selected[1]) if selected else None
        self.tree.clear()
        text = self.filter.text().strip().lower()
        for entry in catalog.entries(self.kind.currentData()):
            if text and text not in entry.name.lower() and text not in entry.id:
                continue
            best = fit.recommend(entry, self.memory) if self.memory else None
            parent = QTreeWidgetItem([entry.name, entry.kind, "", "", "", entry.license,
                                      entry.source + ("" if entry.verified else "  (unverified)")])
            parent.setToolTip(0, entry.description)
            parent.setData(0, Qt.ItemDataRole.UserRole, (entry, entry.default_variant))
            self.tree.addTopLevelItem(parent)
            single = len(entry.files) == 1
            for v in entry.files:
                name = v.file.rsplit("/", 1)[-1] if v.file else entry.id
                mark = fit.label(entry.memory_bytes(v), self.memory) if self.memory else "…"
                if single:
                    if name in self.installed_names:
                        parent.setText(0, f"{entry.name} — installed")
                    parent.setText(2, format_bytes(entry.download_bytes(v)))
                    parent.setText(3, format_bytes(entry.memory_bytes(v)))
                    parent.setText(4, mark)
                    parent.setForeground(4, QBrush(QColor(FIT_COLORS.get(mark, "#666666"))))
                    if key and key == (entry.id, v):
                        parent.setSelected(True)
                    continue
                label = v.quantization or "files"
                note = fit.note(v.quantization) if entry.kind == "chat" else ""
                title = ("★ " if v is best else "") + label + (f" ({note})" if note else "")
                if name in self.installed_names:
                    title += " — installed"
                child = QTreeWidgetItem([title, "", format_bytes(entry.download_bytes(v)), format_bytes(entry.memory_bytes(v)), mark, "", ""])
                child.setData(0, Qt.ItemDataRole.UserRole, (entry, v))
                child.setForeground(4, QBrush(QColor(FIT_COLORS.get(mark, "#666666"))))
                parent.addChild(child)
                if key and key == (entry.id, v):
                    child.setSelected(True)
            if not single and best is not None:
                mark = fit.label(entry.memory_bytes(best), self.memory)
                parent.setText(4, f"{mark} · ★ {best.quantization}")
                parent.setText(2, format_bytes(entry.download_bytes(best)))
                parent.setText(3, format_bytes(entry.memory_bytes(best)))
                parent.setForeground(4, QBrush(QColor(FIT_COLORS[mark])))
            elif not single and self.memory is not None:
                parent.setText(4, fit.WONT_FIT)
                parent.setForeground(4, QBrush(QColor(FIT_COLORS[fit.WONT_FIT])))
            parent.setExpanded(entry.kind == "chat" and len(entry.files) > 1 and bool(text))
        self._update()

    def selected(self):
        items = self.tree.selectedItems()
        return items[0].data(0, Qt.ItemDataRole.UserRole) if items else None

    def _update(self) -> None:
        self.download.setEnabled(self.selected() is not None)

    def download_selected(self) -> None:
        sel = self.selected()
        if sel is not None:
            entry, variant = sel
            if self.memory is not None and fit.recommend(entry, self.memory) is not None and \
                    self.tree.selectedItems()[0].parent() is None:
                variant = fit.recommend(entry, self.memory)  # a model row: take the recommended variant
            self.sig_download.emit(entry, variant)
