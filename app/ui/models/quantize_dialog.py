"""Quantize dialog: choose a type, watch progress, cancel. The result is registered next to its source."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
)

from app.core.jobs import Job
from app.core.models import fit
from app.core.models import jobs as models_jobs
from app.core.models.quantize import TYPES
from app.core.units import format_bytes


class QuantizeDialog(QDialog):
    sig_done = Signal(object)  # the new InstalledModel

    def __init__(self, ctx, model, parent=None) -> None:
        super().__init__(parent)
        self.ctx, self.model, self.handle = ctx, model, None
        self.result_text = ""
        self.setWindowTitle(f"Quantize {model.name}")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        form.addRow("Source", QLabel(f"{model.path.name} ({format_bytes(model.size_bytes)}, {model.quantization or '?'})"))
        self.type = QComboBox()
        for t in TYPES:
            note = fit.note(t)
            self.type.addItem(f"{t} — {note}" if note else t, t)
        self.type.setCurrentIndex(TYPES.index("Q4_K_M"))
        form.addRow("Type", self.type)
        layout.addLayout(form)
        layout.addWidget(QLabel("Runs llama.cpp's quantizer in a separate process: Cancel stops it at once and "
                                "leaves no partial file."))
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.hide()
        self.info = QLabel()
        self.info.setWordWrap(True)
        layout.addWidget(self.bar)
        layout.addWidget(self.info)
        self.buttons = QDialogButtonBox()
        self.start_button = QPushButton("Quantize")
        self.start_button.clicked.connect(self.start)
        self.buttons.addButton(self.start_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    def start(self) -> None:
        qtype = self.type.currentData()
        self.start_button.setEnabled(False)
        self.type.setEnabled(False)
        self.bar.show()
        self.bar.setRange(0, 0)  # busy until llama.cpp reports its first tensor
        self.info.setText("Starting…")
        self.handle = self.ctx.jobs.submit(Job(models_jobs.quantize, {"src": str(self.model.path), "type": qtype},
                                               name=f"Quantize {self.model.name} → {qtype}",
                                               resource=models_jobs.QUANTIZE))
        self.handle.sig_progress.connect(self._on_progress)
        self.handle.sig_done.connect(self._on_done)
        self.handle.sig_error.connect(self._on_error)
        self.handle.sig_cancelled.connect(self._on_cancelled)

    def reject(self) -> None:  # Cancel button and Escape: stop a running job first
        if self.handle is not None and not self.handle.finished:
            self.info.setText("Cancelling…")
            self.handle.cancel()
        else:
            super().reject()

    def _on_progress(self, fraction, text) -> None:
        if fraction is not None:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(fraction * 1000))
        self.info.setText(text)

    def _on_done(self, out) -> None:
        self.result_text = (f"{out.name}: {format_bytes(out.size_bytes)} (source {self.model.name}: "
                            f"{format_bytes(self.model.size_bytes)})")
        self.info.setText(self.result_text)
        self.sig_done.emit(out)
        self.accept()

    def _on_error(self, message: str) -> None:
        self.bar.hide()
        self.info.setText(f"<span style='color:#b02a37'>{message}</span>")
        self.start_button.setEnabled(True)
        self.type.setEnabled(True)
        self.handle = None

    def _on_cancelled(self) -> None:
        self.handle = None
        self.reject()
