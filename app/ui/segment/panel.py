"""The Segment tab's side panel: model picker, candidate masks, object layers, display toggles, exports."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.segment.overlay import compose_overlay
from app.core.units import format_bytes
from app.ui.model_picker import ModelPicker as SharedPicker
from app.ui.qimage import rgb_to_pixmap

THUMB = 112


class ModelPicker(QGroupBox):
    """The shared model picker (SAM checkpoints and Hugging Face SAM 2.1 / EdgeTAM / SAM-HQ folders) and a line
    saying what is loaded. `label(model)` names each installed model (default: name and size)."""

    sig_model_chosen = Signal(str)  # path

    def __init__(self, parent=None, label=None) -> None:
        super().__init__("Model", parent)
        layout = QVBoxLayout(self)
        self.picker = SharedPicker("sam", "Open .pth…", "SAM checkpoints (*.pth *.pt *.safetensors);;All files (*)",
                                   label=label or (lambda m: f"{m.name}  ({format_bytes(m.size_bytes)})"),
                                   min_chars=12, folder_label="Folder…")
        self.picker.combo.setToolTip("Segment Anything models in the models folder (kind: sam). The time is how long "
                                     "one photo takes to prepare (encode) on this computer, measured and remembered.")
        self.picker.open_button.setToolTip("Open a SAM checkpoint file (.pth, .safetensors)")
        self.picker.folder_button.setToolTip("Open a Hugging Face model folder (SAM 2.1, EdgeTAM, SAM-HQ: "
                                             "config.json + model.safetensors)")
        self.picker.sig_chosen.connect(self.sig_model_chosen)
        self.info = QLabel("")
        self.info.setWordWrap(True)
        self.info.setObjectName("modelInfo")
        layout.addWidget(self.picker)
        layout.addWidget(self.info)


class CandidateStrip(QGroupBox):
    """SAM's candidates for the active object as thumbnails with their predicted IoU; the shown one is checked."""

    sig_chosen = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__("Candidates", parent)
        layout = QHBoxLayout(self)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: list[QToolButton] = []
        for i in range(3):
            button = QToolButton()
            button.setCheckable(True)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
            button.setIconSize(QSize(THUMB, THUMB))
            button.setEnabled(False)
            button.setText("—")
            self.group.addButton(button, i)
            self.buttons.append(button)
            layout.addWidget(button)
        self.group.idClicked.connect(self.sig_chosen.emit)

    def clear(self) -> None:
        for button in self.buttons:
            button.setIcon(QIcon())
            button.setText("—")
            button.setEnabled(False)
            button.setChecked(False)
            button.show()

    def show_prediction(self, thumb_rgb: np.ndarray, prediction, chosen: int, color) -> None:
        h, w = thumb_rgb.shape[:2]
        best = prediction.best
        for i, button in enumerate(self.buttons):
            if i >= prediction.count:
                button.hide()
                continue
            button.show()
            mask = prediction.mask(i, (w, h))
            over = compose_overlay([(mask, color, True)], (w, h), alpha=0.55)
            a = over[..., 3:4].astype(np.float32) / 255
            mixed = (thumb_rgb * (1 - a) + over[..., :3] * a).astype(np.uint8)
            button.setIcon(QIcon(rgb_to_pixmap(mixed)))
            star = " ★" if i == best else ""
            button.setText(f"IoU {float(prediction.ious[i]):.2f}{star}")
            button.setToolTip(f"Candidate {i + 1}: predicted IoU {float(prediction.ious[i]):.3f}"
                              + (" (best)" if i == best else ""))
            button.setEnabled(True)
            button.setChecked(i == chosen)


def _swatch(color) -> QIcon:
    pix = QPixmap(14, 14)
    pix.fill(QColor(*color))
    return QIcon(pix)


class LayerList(QGroupBox):
    sig_selected = Signal(int)
    sig_renamed = Signal(int, str)
    sig_visibility = Signal(int, bool)
    sig_add = Signal()
    sig_remove = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__("Objects", parent)
        layout = QVBoxLayout(self)
        self.list = QListWidget()
        self.list.setToolTip("Each object is its own mask. Double-click to rename; untick to hide.")
        self.list.setMaximumHeight(150)
        layout.addWidget(self.list)
        row = QHBoxLayout()
        self.add_button = QPushButton("New object")
        self.remove_button = QPushButton("Remove")
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        layout.addLayout(row)
        self._updating = False
        self.list.currentRowChanged.connect(lambda r: None if self._updating or r < 0 else self.sig_selected.emit(r))
        self.list.itemChanged.connect(self._on_item_changed)
        self.add_button.clicked.connect(self.sig_add.emit)
        self.remove_button.clicked.connect(lambda: self.sig_remove.emit(self.list.currentRow()))

    def set_layers(self, layers, active: int) -> None:
        self._updating = True
        self.list.clear()
        for layer in layers:
            status = "" if layer.prediction is not None or layer.prompts.empty else "  (waiting…)"
            item = QListWidgetItem(_swatch(layer.color), layer.name + status)
            item.setData(Qt.ItemDataRole.UserRole, layer.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if layer.visible else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.list.setCurrentRow(active)
        self._updating = False

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        if self._updating:
            return
        row = self.list.row(item)
        name = item.text().replace("  (waiting…)", "")
        if name != item.data(Qt.ItemDataRole.UserRole):
            self.sig_renamed.emit(row, name)
        else:
            self.sig_visibility.emit(row, item.checkState() == Qt.CheckState.Checked)


class ExportBox(QGroupBox):
    def __init__(self, parent=None) -> None:
        super().__init__("Export", parent)
        grid = QGridLayout(self)
        self.mask_button = QPushButton("Mask PNG…")
        self.cutout_button = QPushButton("Cut-out PNG…")
        self.coco_button = QPushButton("COCO JSON…")
        self.labelme_button = QPushButton("labelme JSON…")
        self.inpaint_button = QPushButton("Send mask to Images (inpaint)")
        self.mask_button.setToolTip("Black and white mask of the selected object, the photo's size")
        self.cutout_button.setToolTip("The selected object on a transparent background, cropped to it")
        self.coco_button.setToolTip("Every object as COCO RLE")
        self.labelme_button.setToolTip("Every object as labelme polygons")
        grid.addWidget(self.mask_button, 0, 0)
        grid.addWidget(self.cutout_button, 0, 1)
        grid.addWidget(self.coco_button, 1, 0)
        grid.addWidget(self.labelme_button, 1, 1)
        grid.addWidget(self.inpaint_button, 2, 0, 1, 2)

    def set_enabled(self, has_mask: bool) -> None:
        for b in (self.mask_button, self.cutout_button, self.coco_button, self.labelme_button, self.inpaint_button):
            b.setEnabled(has_mask)


class DisplayToggles(QWidget):
    sig_changed = Signal()

    def __init__(self, fill: bool, outline: bool, multimask: bool, parent=None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.fill = QCheckBox("Overlay")
        self.fill.setChecked(fill)
        self.outline = QCheckBox("Outline")
        self.outline.setChecked(outline)
        self.multimask = QCheckBox("3 candidates")
        self.multimask.setChecked(multimask)
        self.multimask.setToolTip("Ask SAM for three candidate masks per prompt (pick the one you mean)")
        for box in (self.fill, self.outline, self.multimask):
            layout.addWidget(box)
            box.toggled.connect(lambda _checked: self.sig_changed.emit())
        layout.addStretch(1)
