"""Advanced image settings: pickle files, device, memory options, previews. Saved in settings.images."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QGroupBox, QWidget


class AdvancedPanel(QGroupBox):
    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__("Advanced", parent)
        self.ctx = ctx
        s = ctx.settings.images
        form = QFormLayout(self)
        self.device = self._combo(["auto", "cpu", "cuda", "mps"], s.device, "device")
        form.addRow("Device", self.device)
        self.precision = self._combo(["auto", "float16", "float32"], s.precision, "precision")
        form.addRow("Precision", self.precision)
        self.offload = self._combo(["auto", "on", "off"], s.cpu_offload, "cpu_offload")
        form.addRow("CPU offload (CUDA)", self.offload)
        self.slicing = self._combo(["auto", "on", "off"], s.attention_slicing, "attention_slicing")
        form.addRow("Attention slicing", self.slicing)
        self.preview = self._combo(["auto", "approx", "off"], s.preview, "preview")
        self.preview.setToolTip("auto: TAESD when one is installed under models/vae, else a fast approximation")
        form.addRow("Live preview", self.preview)
        self.pickle = QCheckBox("Allow pickle files (.ckpt, .bin, .pt)")
        self.pickle.setToolTip("Pickle files can run hidden code; Hearth reads them weights-only when allowed.")
        self.pickle.setChecked(s.allow_pickle)
        self.pickle.toggled.connect(self._on_pickle)
        form.addRow(self.pickle)

    def _combo(self, items: list[str], current: str, field: str) -> QComboBox:
        combo = QComboBox()
        combo.addItems(items)
        combo.setCurrentText(current if current in items else "auto")
        combo.currentTextChanged.connect(lambda text: self._set(field, text))
        return combo

    def _set(self, field: str, value) -> None:
        setattr(self.ctx.settings.images, field, value)
        self.ctx.save_settings()

    def _on_pickle(self, on: bool) -> None:
        self._set("allow_pickle", on)
        if on:
            self.ctx.show_message(
                "Pickle-based model files are now allowed. They are read weights-only (no code objects), but "
                "prefer .safetensors files whenever they exist.", "warning")
