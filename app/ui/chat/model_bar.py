"""The model picker: GGUFs in the models folder, files opened before, and "Open GGUF file…"; plus what the loaded
model is (size, quantization, context, where it runs)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

from app.core.models import registry
from app.core.units import format_bytes

OPEN_FILE = "__open__"


class ModelBar(QWidget):
    sig_load = Signal(str)  # path of the GGUF to load

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Model"))
        self.combo = QComboBox()
        self.combo.setMinimumWidth(160)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(32)  # "gemma-3-270m-Q4_K_M (241 MB · Q4_K_M)" fits
        self.combo.setToolTip("GGUF chat models in your models folder, and files you opened")
        self.combo.activated.connect(self._activated)
        layout.addWidget(self.combo)
        self.open_button = QPushButton("Open GGUF file…")
        self.open_button.clicked.connect(self.open_file)
        layout.addWidget(self.open_button)
        self.info = QLabel("No model loaded")
        self.info.setObjectName("chatModelInfo")
        self.info.setWordWrap(False)
        self.info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.info.setMinimumWidth(40)
        layout.addWidget(self.info, 1)
        self.settings_button = QPushButton("Settings")
        self.settings_button.setCheckable(True)
        layout.addWidget(self.settings_button)
        self.extra: list[str] = []
        self.refresh()

    def refresh(self, current: str | None = None) -> None:
        current = current or self.combo.currentData()
        self.combo.blockSignals(True)
        self.combo.clear()
        seen = set()
        for m in registry.installed("chat"):
            if m.format != "gguf":
                continue
            quant = f" · {m.quantization}" if m.quantization else ""
            self.combo.addItem(f"{m.name} ({format_bytes(m.size_bytes)}{quant})", str(m.path))
            seen.add(str(m.path))
        for path in self.extra:
            if path not in seen and Path(path).exists():
                self.combo.addItem(f"{Path(path).stem} (opened file)", path)
                seen.add(path)
        if self.combo.count() == 0:
            self.combo.addItem("No chat models found", None)
        self.combo.insertSeparator(self.combo.count())
        self.combo.addItem("Open GGUF file…", OPEN_FILE)
        i = self.combo.findData(current) if current else -1
        self.combo.setCurrentIndex(i if i >= 0 else 0)
        self.combo.blockSignals(False)

    def paths(self) -> list[str]:
        return [self.combo.itemData(i) for i in range(self.combo.count())
                if self.combo.itemData(i) not in (None, OPEN_FILE)]

    def add_path(self, path: str) -> None:
        if path not in self.extra:
            self.extra.append(path)
        self.refresh(path)

    def select(self, path: str) -> None:
        if self.combo.findData(path) < 0:
            self.add_path(path)
        self.combo.setCurrentIndex(self.combo.findData(path))

    def _activated(self, index: int) -> None:
        data = self.combo.itemData(index)
        if data == OPEN_FILE:
            self.open_file()
        elif data:
            self.sig_load.emit(data)

    def open_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a GGUF chat model", str(Path.home()),
                                              "GGUF models (*.gguf);;All files (*)")
        if path:
            self.add_path(path)
            self.sig_load.emit(path)
        else:
            self.refresh()

    def show_loaded(self, info) -> None:
        quant = f" · {info.quantization}" if info.quantization else ""
        # The picker already shows the file's size; the label says what matters once loaded.
        self.info.setText(f"{info.name}{quant} · context {info.n_ctx} · {info.where}")
        self.info.setToolTip(f"{info.path} ({format_bytes(info.size_bytes)})\n"
                             f"architecture {info.architecture}, trained context "
                             f"{info.n_ctx_train}, template: {info.template}, flash attention "
                             f"{'on' if info.flash_attn else 'off'}, loaded in {info.load_s:.1f} s")

    def show_text(self, text: str) -> None:
        self.info.setText(text)
        self.info.setToolTip("")
