"""The chat side panel: system prompt (per conversation), sampling preset and values, overflow policy, and how
the model is loaded (context length, GPU layers, threads, chat template)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.chat import presets
from app.core.chat.context import POLICIES, POLICY_LABELS
from app.core.chat.templates import LABELS as TEMPLATE_LABELS
from app.core.settings import ChatSettings


class ChatSettingsPanel(QScrollArea):
    sig_changed = Signal()  # sampling / system prompt / policy changed
    sig_reload_needed = Signal()  # context length, GPU layers or threads changed
    sig_template_changed = Signal(str)

    def __init__(self, chat_settings: ChatSettings, parent=None) -> None:
        super().__init__(parent)
        self.cs = chat_settings
        self.setWidgetResizable(True)
        self.setMinimumWidth(250)
        self.setMaximumWidth(340)
        body = QWidget()
        outer = QVBoxLayout(body)
        self._loading = False

        sys_box = QGroupBox("System prompt (this conversation)")
        sys_layout = QVBoxLayout(sys_box)
        self.prompt_preset = QComboBox()
        self.prompt_preset.addItems(list(presets.PROMPT_PRESETS))
        self.prompt_preset.activated.connect(self._apply_prompt_preset)
        sys_layout.addWidget(self.prompt_preset)
        self.system = QPlainTextEdit()
        self.system.setPlaceholderText("Instructions the model follows in this conversation")
        self.system.setMaximumHeight(110)
        self.system.textChanged.connect(self._changed)
        sys_layout.addWidget(self.system)
        outer.addWidget(sys_box)

        samp = QGroupBox("Sampling")
        form = QFormLayout(samp)
        row = QHBoxLayout()
        self.preset = QComboBox()
        self.preset.activated.connect(self._apply_preset)
        row.addWidget(self.preset, 1)
        save = QPushButton("Save as…")
        save.setToolTip("Save these values as your own preset")
        save.clicked.connect(self.save_preset)
        row.addWidget(save)
        form.addRow("Preset", row)
        self.temperature = self._dspin(0, 2, 0.05)
        self.top_p = self._dspin(0, 1, 0.01)
        self.top_k = self._ispin(0, 1000)
        self.min_p = self._dspin(0, 1, 0.01)
        self.repeat_penalty = self._dspin(0.5, 2, 0.01)
        self.max_tokens = self._ispin(1, 32768)
        self.seed = self._ispin(-1, 2**31 - 1)
        self.seed.setSpecialValueText("random")
        for label, w in [("Temperature", self.temperature), ("Top-p", self.top_p), ("Top-k", self.top_k),
                         ("Min-p", self.min_p), ("Repeat penalty", self.repeat_penalty),
                         ("Max tokens", self.max_tokens), ("Seed", self.seed)]:
            form.addRow(label, w)
        self.policy = QComboBox()
        for key in POLICIES:
            self.policy.addItem(POLICY_LABELS[key], key)
        self.policy.setToolTip("What to do when the conversation no longer fits the context window")
        self.policy.currentIndexChanged.connect(self._policy_changed)
        form.addRow("When full", self.policy)
        outer.addWidget(samp)

        load = QGroupBox("Model")
        lform = QFormLayout(load)
        self.context = self._ispin(0, 1 << 20, reload=True)
        self.context.setSingleStep(512)
        self.context.setSpecialValueText(f"model's (max {self.cs.context_cap})")
        self.gpu_layers = self._ispin(-1, 999, reload=True)
        self.gpu_layers.setSpecialValueText("automatic")
        self.threads = self._ispin(0, 256, reload=True)
        self.threads.setSpecialValueText("physical cores")
        self.template = QComboBox()
        for key, label in TEMPLATE_LABELS.items():
            self.template.addItem(label, key)
        self.template.activated.connect(lambda _i: self.sig_template_changed.emit(self.template.currentData()))
        lform.addRow("Context length", self.context)
        lform.addRow("GPU layers", self.gpu_layers)
        lform.addRow("Threads", self.threads)
        lform.addRow("Chat template", self.template)
        note = QLabel("Context, GPU layers and threads apply when the model is loaded again.")
        note.setWordWrap(True)
        note.setEnabled(False)
        lform.addRow(note)
        outer.addWidget(load)

        docs = QGroupBox("Answers from documents")
        dlayout = QVBoxLayout(docs)
        self.rewrite = QCheckBox("Rewrite follow-up questions")
        self.rewrite.setToolTip("Before searching, the model turns a follow-up such as “and on Windows?” into a "
                                "complete question from the conversation; the Sources panel shows what was searched")
        self.hyde = QCheckBox("HyDE: search with a drafted answer too")
        self.hyde.setToolTip("The model first writes a short hypothetical answer; its meaning joins the question's "
                             "in the search. Costs one more generation per question")
        self.prompt_lookup = QCheckBox("Prompt lookup decoding (document answers)")
        self.prompt_lookup.setToolTip("Drafts tokens by copying from the sources (llama.cpp prompt lookup); "
                                      "applies when the model is loaded again")
        for box in (self.rewrite, self.hyde, self.prompt_lookup):
            dlayout.addWidget(box)
        outer.addWidget(docs)
        outer.addStretch(1)
        self.setWidget(body)

        self._loading = True
        self.context.setValue(self.cs.context_length)
        self.gpu_layers.setValue(self.cs.gpu_layers)
        self.threads.setValue(self.cs.threads)
        self.policy.setCurrentIndex(max(0, POLICIES.index(self.cs.overflow_policy)
                                        if self.cs.overflow_policy in POLICIES else 0))
        self.rewrite.setChecked(self.cs.rewrite_followups)
        self.hyde.setChecked(self.cs.hyde)
        self.prompt_lookup.setChecked(self.cs.prompt_lookup)
        self.rewrite.toggled.connect(lambda on: setattr(self.cs, "rewrite_followups", bool(on)))
        self.hyde.toggled.connect(lambda on: setattr(self.cs, "hyde", bool(on)))
        self.prompt_lookup.toggled.connect(self._prompt_lookup_changed)
        self._fill_presets(self.cs.preset)
        self.set_sampling(presets.preset(self.cs.preset, self.cs.user_presets))
        self._loading = False

    # ---- widgets -----------------------------------------------------------------------------------------------
    def _dspin(self, lo, hi, step) -> QDoubleSpinBox:
        w = QDoubleSpinBox()
        w.setRange(lo, hi)
        w.setSingleStep(step)
        w.setDecimals(2)
        w.valueChanged.connect(self._changed)
        return w

    def _ispin(self, lo, hi, reload: bool = False) -> QSpinBox:
        w = QSpinBox()
        w.setRange(lo, hi)
        w.valueChanged.connect(self._reload_changed if reload else self._changed)
        return w

    def _fill_presets(self, current: str) -> None:
        self.preset.clear()
        self.preset.addItems(presets.preset_names(self.cs.user_presets))
        i = self.preset.findText(current)
        self.preset.setCurrentIndex(max(0, i))

    # ---- values ------------------------------------------------------------------------------------------------
    def sampling(self) -> presets.Sampling:
        seed = self.seed.value()
        return presets.Sampling(temperature=self.temperature.value(), top_p=self.top_p.value(),
                                top_k=self.top_k.value(), min_p=self.min_p.value(),
                                repeat_penalty=self.repeat_penalty.value(), max_tokens=self.max_tokens.value(),
                                seed=None if seed < 0 else seed)

    def set_sampling(self, s: presets.Sampling) -> None:
        was, self._loading = self._loading, True
        self.temperature.setValue(s.temperature)
        self.top_p.setValue(s.top_p)
        self.top_k.setValue(s.top_k)
        self.min_p.setValue(s.min_p)
        self.repeat_penalty.setValue(s.repeat_penalty)
        self.max_tokens.setValue(s.max_tokens)
        self.seed.setValue(-1 if s.seed is None else s.seed)
        self._loading = was

    def system_prompt(self) -> str:
        return self.system.toPlainText()

    def set_conversation(self, system_prompt: str, settings: dict) -> None:
        self._loading = True
        self.system.setPlainText(system_prompt)
        if settings.get("sampling"):
            self.set_sampling(presets.Sampling.from_dict(settings["sampling"]))
        if settings.get("preset"):
            self.preset.setCurrentIndex(max(0, self.preset.findText(settings["preset"])))
        self._loading = False

    def conversation_settings(self) -> dict:
        return {"sampling": self.sampling().to_dict(), "preset": self.preset.currentText(),
                "policy": self.policy_key()}

    def policy_key(self) -> str:
        return self.policy.currentData() or "truncate_middle"

    def set_template(self, key: str) -> None:
        i = self.template.findData(key or "auto")
        self.template.setCurrentIndex(max(0, i))

    # ---- reactions ---------------------------------------------------------------------------------------------
    def _changed(self, *_a) -> None:
        if not self._loading:
            self.sig_changed.emit()

    def _reload_changed(self, *_a) -> None:
        if self._loading:
            return
        self.cs.context_length = self.context.value()
        self.cs.gpu_layers = self.gpu_layers.value()
        self.cs.threads = self.threads.value()
        self.sig_reload_needed.emit()

    def _prompt_lookup_changed(self, on: bool) -> None:
        self.cs.prompt_lookup = bool(on)
        if not self._loading:
            self.sig_reload_needed.emit()

    def _policy_changed(self, *_a) -> None:
        if not self._loading:
            self.cs.overflow_policy = self.policy_key()
            self.sig_changed.emit()

    def _apply_preset(self, *_a) -> None:
        name = self.preset.currentText()
        self.cs.preset = name
        self.set_sampling(presets.preset(name, self.cs.user_presets))
        self.sig_changed.emit()

    def _apply_prompt_preset(self, *_a) -> None:
        text = presets.PROMPT_PRESETS.get(self.prompt_preset.currentText(), "")
        self.system.setPlainText(text)

    def save_preset(self, name: str | None = None) -> None:
        if name is None:
            name, ok = QInputDialog.getText(self, "Save preset", "Name for these sampling values:")
            if not ok or not name.strip():
                return
        name = name.strip()
        self.cs.user_presets[name] = self.sampling().to_dict()
        self.cs.preset = name
        self._fill_presets(name)
        self.sig_changed.emit()
