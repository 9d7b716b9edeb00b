"""The left column: model picker, mode, prompt, and generation settings (steps, CFG, scheduler, size, seed…)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.images.params import AUTO_SIZE, SCHEDULERS, SIZE_PRESETS, GenerationParams, defaults_for
from app.ui.images.seed_edit import SeedEdit
from app.ui.model_picker import ModelPicker

MODES = [("Text to image", "txt2img"), ("Image to image", "img2img"), ("Inpaint", "inpaint")]


class SettingsPanel(QWidget):
    """Prompt, mode and every generation setting; `params()` reads them, `apply()` restores them."""

    sig_mode_changed = Signal(str)
    sig_generate = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.model = ModelPicker("diffusion", "Open .safetensors…", "Checkpoints (*.safetensors);;All files (*)",
                                 stacked=True)
        self.family_label = QLabel("")
        self.family_label.setObjectName("hint")
        layout.addWidget(QLabel("Model"))
        layout.addWidget(self.model)
        layout.addWidget(self.family_label)

        self.mode = QComboBox()
        for label, key in MODES:
            self.mode.addItem(label, key)
        layout.addWidget(self.mode)

        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("Describe the image… (Ctrl+Enter to generate)")
        self.prompt.setFixedHeight(90)
        self.negative = QPlainTextEdit()
        self.negative.setPlaceholderText("Negative prompt: what to avoid")
        self.negative.setFixedHeight(50)
        layout.addWidget(self.prompt)
        layout.addWidget(self.negative)

        form = QFormLayout()
        self.seed = SeedEdit()
        self.dice = QToolButton()
        self.dice.setText("Random")
        self.dice.setToolTip("Random seed each time")
        self.dice.clicked.connect(lambda: self.seed.setValue(-1))
        self.recycle = QToolButton()
        self.recycle.setText("Last")
        self.recycle.setToolTip("Reuse the last image's seed")
        self.last_seed = -1
        self.recycle.clicked.connect(lambda: self.seed.setValue(max(-1, self.last_seed)))
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.dice)
        seed_row.addWidget(self.recycle)
        form.addRow("Seed", seed_row)
        self.steps = QSpinBox()
        self.steps.setRange(1, 200)
        self.steps.setValue(25)
        form.addRow("Steps", self.steps)
        self.guidance = QDoubleSpinBox()
        self.guidance.setRange(0, 30)
        self.guidance.setSingleStep(0.5)
        self.guidance.setValue(7.0)
        form.addRow("Guidance (CFG)", self.guidance)
        self.scheduler = QComboBox()
        self.scheduler.addItems(list(SCHEDULERS))
        form.addRow("Scheduler", self.scheduler)
        self.size = QComboBox()
        self.size.setEditable(True)
        self.size.setToolTip(f"Width x height in pixels (multiples of 8). \"{AUTO_SIZE}\": the starting (or control) "
                             "image's aspect ratio at the model's native size")
        form.addRow("Size", self.size)
        self.strength = QDoubleSpinBox()
        self.strength.setRange(0.01, 1.0)
        self.strength.setSingleStep(0.05)
        self.strength.setValue(0.75)
        self.strength_label = QLabel("Strength")
        form.addRow(self.strength_label, self.strength)
        self.batch = QSpinBox()
        self.batch.setRange(1, 100)
        form.addRow("Batch count", self.batch)
        self.lora = ModelPicker("lora", "Open…", "LoRA (*.safetensors)")
        self.lora_on = QCheckBox("LoRA")
        self.lora_weight = QDoubleSpinBox()
        self.lora_weight.setRange(-2, 2)
        self.lora_weight.setSingleStep(0.1)
        self.lora_weight.setValue(0.8)
        lora_row = QHBoxLayout()
        lora_row.addWidget(self.lora, 1)
        lora_row.addWidget(self.lora_weight)
        form.addRow(self.lora_on, lora_row)
        layout.addLayout(form)
        self.generate_button = QPushButton("Generate")
        self.generate_button.setDefault(True)
        self.generate_button.clicked.connect(self.sig_generate)
        layout.addWidget(self.generate_button)
        layout.addStretch(1)

        self.family = "sd1"
        self.default_size = "512x512"
        self.mode.currentIndexChanged.connect(self._on_mode)
        self.model.sig_changed.connect(self._on_model)
        self._on_model(self.model.path())
        self._on_mode()

    # ---- reactions ---------------------------------------------------------------------------------------------
    def current_mode(self) -> str:
        return self.mode.currentData()

    def _on_mode(self, *_args) -> None:
        img = self.current_mode() != "txt2img"
        if img and self._size_untouched():
            self.size.setCurrentText(AUTO_SIZE)  # a starting image keeps its aspect ratio unless a size is chosen
        elif not img and self.size.currentText() == AUTO_SIZE:
            self.size.setCurrentText(self.default_size)
        self.strength.setEnabled(img)
        self.strength_label.setEnabled(img)
        self.sig_mode_changed.emit(self.current_mode())

    def _on_model(self, path: str) -> None:
        from app.core.errors import UserError
        from app.core.images import families

        if not path:
            self.family_label.setText("")
            return
        try:
            self.family = families.detect_family(Path(path))
        except UserError as exc:
            self.family_label.setText(str(exc))
            return
        d = defaults_for(self.family, Path(path).name)
        self.steps.setValue(d.steps)
        self.guidance.setValue(d.guidance)
        self.scheduler.setCurrentText(d.scheduler)
        self.size.clear()
        presets = SIZE_PRESETS.get(self.family, SIZE_PRESETS["sd1"])
        if (d.width, d.height) not in presets:
            presets = [(d.width, d.height)] + presets
        self.size.addItems([f"{w}x{h}" for w, h in presets] + [AUTO_SIZE])
        self.default_size = f"{d.width}x{d.height}"
        self.size.setCurrentText(AUTO_SIZE if self.current_mode() != "txt2img" else self.default_size)
        note = f" — {d.note}" if d.note else ""
        self.family_label.setText(f"{families.FAMILY_NAMES.get(self.family, self.family)}{note}")

    def _size_untouched(self) -> bool:
        return self.size.currentText() in ("", self.default_size)

    # ---- read / restore ----------------------------------------------------------------------------------------
    def params(self) -> GenerationParams:
        from app.core.images.params import parse_size

        width, height = parse_size(self.size.currentText())
        loras = [(self.lora.path(), self.lora_weight.value())] if self.lora_on.isChecked() and self.lora.path() else []
        return GenerationParams(
            prompt=self.prompt.toPlainText().strip(), negative_prompt=self.negative.toPlainText().strip(),
            model=self.model.path(), seed=self.seed.value(), steps=self.steps.value(),
            guidance=self.guidance.value(), scheduler=self.scheduler.currentText(), width=width, height=height,
            mode=self.current_mode(), strength=self.strength.value(), batch_count=self.batch.value(), loras=loras)

    def apply(self, params: GenerationParams) -> None:
        """Restore every control from saved parameters (Reuse parameters, a dropped PNG)."""
        if params.model and Path(params.model).exists():
            self.model.select(params.model)  # sets model defaults first; the saved values override them below
        self.prompt.setPlainText(params.prompt)
        self.negative.setPlainText(params.negative_prompt)
        self.seed.setValue(params.seed)
        self.steps.setValue(params.steps)
        self.guidance.setValue(params.guidance)
        if params.scheduler in SCHEDULERS:
            self.scheduler.setCurrentText(params.scheduler)
        index = self.mode.findData(params.mode)
        if index >= 0:
            self.mode.setCurrentIndex(index)
        self.size.setCurrentText(f"{params.width}x{params.height}" if params.width and params.height else AUTO_SIZE)
        self.strength.setValue(params.strength)
        self.batch.setValue(max(1, params.batch_count))
        lora = next(((p, w) for p, w in params.loras if Path(p).exists()), None)
        self.lora_on.setChecked(lora is not None)
        if lora is not None:
            self.lora.select(lora[0])
            self.lora_weight.setValue(lora[1])
