"""ControlNet panel: kind (canny / scribble / depth), ControlNet model, control image, and the preprocessed view."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.imageio import DIALOG_FILTER
from app.core.jobs import Job
from app.ui.model_picker import ModelPicker
from app.ui.qimage import rgb_to_qimage

IMAGE_FILTER = DIALOG_FILTER


def preprocess_job(inputs: dict, state):
    """Job: the control image the ControlNet will see, as an HxWx3 array."""
    import numpy as np

    from app.core.images import preprocess

    image = preprocess.control_image(inputs["kind"], inputs["path"], inputs["width"], inputs["height"],
                                     inputs["low"], inputs["high"])
    return np.asarray(image)


class ControlPanel(QGroupBox):
    sig_changed = Signal()

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__("ControlNet", parent)
        self.ctx = ctx
        self.setCheckable(True)
        self.setChecked(False)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.kind = QComboBox()
        self.kind.addItems(["canny", "scribble", "depth"])
        form.addRow("Control", self.kind)
        self.model = ModelPicker("controlnet", "Open…", "ControlNet (*.safetensors);;All files (*)")
        form.addRow("ControlNet", self.model)
        self.low = QSpinBox()
        self.low.setRange(0, 999)
        self.low.setValue(100)
        self.high = QSpinBox()
        self.high.setRange(1, 1000)
        self.high.setValue(200)
        thresholds = QHBoxLayout()
        thresholds.addWidget(self.low)
        thresholds.addWidget(self.high)
        self.thresholds_label = QLabel("Canny low / high")
        form.addRow(self.thresholds_label, thresholds)
        self.scale = QDoubleSpinBox()
        self.scale.setRange(0, 2)
        self.scale.setSingleStep(0.1)
        self.scale.setValue(1.0)
        form.addRow("Weight", self.scale)
        layout.addLayout(form)
        row = QHBoxLayout()
        self.pick = QPushButton("Control image…")
        self.pick.clicked.connect(self.choose_image)
        row.addWidget(self.pick)
        self.image_label = QLabel("none")
        row.addWidget(self.image_label, 1)
        layout.addLayout(row)
        self.view = QLabel("The preprocessed control image appears here")
        self.view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.view.setMinimumHeight(140)
        self.view.setWordWrap(True)
        layout.addWidget(self.view)
        self.image_path = ""
        self.size = (512, 512)
        self.preprocessed: QImage | None = None
        for signal in (self.kind.currentIndexChanged, self.low.valueChanged, self.high.valueChanged):
            signal.connect(self.refresh_preview)
        self.kind.currentIndexChanged.connect(self._on_kind)
        self._on_kind()

    def _on_kind(self, *_args) -> None:
        canny = self.kind.currentText() == "canny"
        self.low.setVisible(canny)
        self.high.setVisible(canny)
        self.thresholds_label.setVisible(canny)

    def choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Control image", str(Path.home()), IMAGE_FILTER)
        if path:
            self.set_image(path)

    def set_image(self, path: str) -> None:
        self.image_path = path
        self.image_label.setText(Path(path).name)
        self.setChecked(True)
        self.refresh_preview()

    def refresh_preview(self, *_args) -> None:
        if not self.image_path:
            return
        inputs = {"kind": self.kind.currentText(), "path": self.image_path, "width": self.size[0],
                  "height": self.size[1], "low": self.low.value(), "high": self.high.value()}
        handle = self.ctx.jobs.submit(Job(preprocess_job, inputs, name="Preprocess control image"),
                                      replace="images-control-preview")
        handle.sig_done.connect(self._on_preview)
        handle.sig_error.connect(lambda message: self.view.setText(message))

    def _on_preview(self, array) -> None:
        self.preprocessed = rgb_to_qimage(array)
        self.view.setPixmap(QPixmap.fromImage(self.preprocessed).scaled(
            220, 220, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))
        self.sig_changed.emit()

    def apply_to(self, params) -> None:
        if not self.isChecked():
            return
        params.control = self.kind.currentText()
        params.controlnet = self.model.path()
        params.control_image = self.image_path
        params.control_scale = self.scale.value()
        params.canny_low, params.canny_high = self.low.value(), self.high.value()

    def restore(self, params) -> None:
        self.setChecked(bool(params.control))
        if not params.control:
            return
        self.kind.setCurrentText(params.control)
        self.low.setValue(params.canny_low)
        self.high.setValue(params.canny_high)
        self.scale.setValue(params.control_scale)
        if params.controlnet and Path(params.controlnet).exists():
            self.model.select(params.controlnet)
        if params.control_image and Path(params.control_image).exists():
            self.set_image(params.control_image)
