"""The one model picker: installed models of a kind (from the registry) plus files opened from disk and models on
connections (set_remote), and a way to open another file. The Chat tab (GGUFs), Images (checkpoints, ControlNets, LoRAs) and Segment (SAM) all use it."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from app.core import connections

OPEN_FILE = "__open__"  # the combo entry that opens a file dialog (with open_in_list)


class ModelPicker(QWidget):
    """A combo of installed `kind` models (those `accept` keeps, labelled by `label`) and opened files, with an
    "Open…" button (and with `open_in_list`, an entry at the end of the combo that does the same). With
    `folder_label`, a second button opens a model folder (a Hugging Face folder: config.json + weights).

    sig_changed: the current path changed, by the user or by select() — "" when nothing is chosen.
    sig_chosen: the user picked a model in the combo or opened a file (not emitted by select())."""

    sig_changed = Signal(str)
    sig_chosen = Signal(str)

    def __init__(self, kind: str, open_label: str = "Open…", filters: str = "All files (*)",
                 parent: QWidget | None = None, stacked: bool = False,
                 accept: Callable[[object], bool] | None = None, label: Callable[[object], str] | None = None,
                 empty_text: str = "No model installed", open_in_list: bool = False, min_chars: int = 8,
                 folder_label: str | None = None) -> None:
        super().__init__(parent)
        self.kind, self.filters, self.open_label = kind, filters, open_label
        self._accept = accept or (lambda model: True)
        self._label = label or (lambda model: model.name)
        self.empty_text, self.open_in_list = empty_text, open_in_list
        self.extra: list[str] = []  # files opened from disk, kept while the app runs
        self.remote: dict[str, str] = {}  # models on connections: reference -> label (set_remote)
        row = QVBoxLayout(self) if stacked else QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.combo = QComboBox()
        self.combo.setMinimumContentsLength(min_chars)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.open_button = QPushButton(open_label)
        row.addWidget(self.combo, 1)
        row.addWidget(self.open_button)
        self.open_button.clicked.connect(self.open_file)
        self.folder_button: QPushButton | None = None
        if folder_label:
            self.folder_button = QPushButton(folder_label)
            row.addWidget(self.folder_button)
            self.folder_button.clicked.connect(self.open_folder)
        self.combo.currentIndexChanged.connect(self._index_changed)
        self.combo.activated.connect(self._activated)
        self._current = ""
        self.refresh()

    # ---- listing -----------------------------------------------------------------------------------------------
    def refresh(self, current: str | None = None) -> None:
        """List the registry's models again, keeping the current path (or selecting `current`) without signals
        unless the current path changes."""
        from app.core.models import registry

        current = current if current is not None else self.path()
        self.combo.blockSignals(True)
        self.combo.clear()
        seen: set[str] = set()
        for model in registry.installed(self.kind):
            if self._accept(model):
                self.combo.addItem(self._label(model), str(model.path))
                seen.add(str(model.path))
        for path in self.extra:
            if path not in seen and Path(path).exists():
                self.combo.addItem(f"{Path(path).name} (opened)", path)
                seen.add(path)
        for ref, label in self.remote.items():
            if ref not in seen:
                self.combo.addItem(label, ref)
                seen.add(ref)
        if current and current not in seen and connections.is_remote(current):  # its server did not answer (yet)
            self.combo.addItem(f"{connections.label(current)} (remote)", current)
        elif current and current not in seen and Path(current).exists():
            self.extra.append(current)
            self.combo.addItem(f"{Path(current).name} (opened)", current)
        if self.combo.count() == 0:
            self.combo.addItem(self.empty_text, "")
        if self.open_in_list:
            self.combo.insertSeparator(self.combo.count())
            self.combo.addItem(self.open_label, OPEN_FILE)
        index = self.combo.findData(current) if current else -1
        self.combo.setCurrentIndex(index if index >= 0 else 0)
        self.combo.blockSignals(False)
        self._index_changed()

    def set_remote(self, entries: list[tuple[str, str]]) -> None:
        """Offer these models on connections ([(reference, label)]) after the installed ones; the current choice
        stays."""
        self.remote = dict(entries)
        self.refresh()

    def path(self) -> str:
        """The chosen model's path ("" when there is none)."""
        data = self.combo.currentData()
        return data if data and data != OPEN_FILE else ""

    def paths(self) -> list[str]:
        """Every model path the combo offers."""
        return [d for d in (self.combo.itemData(i) for i in range(self.combo.count())) if d and d != OPEN_FILE]

    def has_models(self) -> bool:
        return bool(self.paths())

    def select(self, path: str) -> None:
        """Make `path` current (added as an opened file when it is not installed) and emit sig_changed, even when
        it already was current (a view may set itself up from it)."""
        if not path:
            return
        if self.combo.findData(path) < 0:
            if not connections.is_remote(path):
                self.extra.append(path)
            self.refresh(path)
        self.combo.blockSignals(True)
        self.combo.setCurrentIndex(self.combo.findData(path))
        self.combo.blockSignals(False)
        self._current = path
        self.sig_changed.emit(path)

    def open_file(self) -> None:
        """Ask for a file; it becomes current and is announced with sig_chosen."""
        path, _ = QFileDialog.getOpenFileName(self, self.open_label.rstrip("…"), str(Path.home()), self.filters)
        if path:
            self.select(path)
            self.sig_chosen.emit(path)
        else:
            self.refresh()  # the "Open…" entry must not stay selected

    def open_folder(self) -> None:
        """Ask for a model folder; it becomes current and is announced with sig_chosen."""
        path = QFileDialog.getExistingDirectory(self, "Open a model folder", str(Path.home()))
        if path:
            self.select(path)
            self.sig_chosen.emit(path)

    # ---- signals -----------------------------------------------------------------------------------------------
    def _index_changed(self, *_args) -> None:
        path = self.path()
        if self.combo.currentData() == OPEN_FILE or path == self._current:
            return
        self._current = path
        self.sig_changed.emit(path)

    def _activated(self, index: int) -> None:
        data = self.combo.itemData(index)
        if data == OPEN_FILE:
            self.open_file()
        elif data:
            self.sig_chosen.emit(data)
