"""The bar above the messages: the model picker (GGUFs in the models folder, files opened before, "Open GGUF
file…") and what the loaded model is (size, quantization, context, where it runs)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

from app.core.units import format_bytes
from app.ui.model_picker import ModelPicker


def _label(model) -> str:
    quant = f" · {model.quantization}" if model.quantization else ""
    return f"{model.name} ({format_bytes(model.size_bytes)}{quant})"


class ModelBar(QWidget):
    sig_load = Signal(str)  # path of the GGUF to load

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Model"))
        self.picker = ModelPicker("chat", "Open GGUF file…", "GGUF models (*.gguf);;All files (*)",
                                  accept=lambda m: m.format == "gguf", label=_label,
                                  empty_text="No chat models found", open_in_list=True, min_chars=32)
        self.picker.combo.setMinimumWidth(160)  # min_chars: "gemma-3-270m-Q4_K_M (241 MB · Q4_K_M)" fits
        self.picker.combo.setToolTip("GGUF chat models in your models folder, and files you opened")
        self.picker.sig_chosen.connect(self.sig_load)
        layout.addWidget(self.picker)
        self.info = QLabel("No model loaded")
        self.info.setObjectName("chatModelInfo")
        self.info.setWordWrap(False)
        self.info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.info.setMinimumWidth(40)
        layout.addWidget(self.info, 1)
        self.settings_button = QPushButton("Settings")
        self.settings_button.setCheckable(True)
        layout.addWidget(self.settings_button)

    def show_loaded(self, info) -> None:
        quant = f" · {info.quantization}" if info.quantization else ""
        if info.extra.get("remote"):  # the picker names it already; say where it runs
            self.info.setText(f"context {info.n_ctx} · {info.where}")
            self.info.setToolTip(f"{info.name} runs on {info.extra['remote']} ({info.extra.get('url', '')}): what "
                                 "you send goes to that server; documents are searched here. Context "
                                 f"{info.n_ctx} tokens (the server's, or an estimate).")
            return
        # The picker already shows the file's size; the label says what matters once loaded.
        vision = " · vision" if info.extra.get("projector") else ""
        self.info.setText(f"{info.name}{quant}{vision} · context {info.n_ctx} · {info.where}")
        projector = (f"\nvision: reads images through {info.extra['projector']}" if vision else
                     "\ntext only: no image projector (mmproj) found for it")
        self.info.setToolTip(f"{info.path} ({format_bytes(info.size_bytes)}){projector}\n"
                             f"architecture {info.architecture}, trained context "
                             f"{info.n_ctx_train}, template: {info.template}, flash attention "
                             f"{'on' if info.flash_attn else 'off'}, loaded in {info.load_s:.1f} s")

    def show_text(self, text: str) -> None:
        self.info.setText(text)
        self.info.setToolTip("")
