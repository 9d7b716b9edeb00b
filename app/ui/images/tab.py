"""Images tab: prompt and settings on the left, the canvas with live preview in the middle, the gallery on the right.

Generation runs as jobs on the shared job manager (resource "image-model": one at a time, the rest queue).
The engine keeps the loaded pipelines across jobs; the view never calls diffusers or torch itself.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core import paths
from app.core.errors import UserError
from app.core.images.jobs import RESOURCE, GeneratedImage, ImageEngine, ImageRequest, Note, Preview, validate
from app.core.jobs import Job
from app.ui.context import AppContext
from app.ui.images.advanced import AdvancedPanel
from app.ui.images.canvas import ImageCanvas
from app.ui.images.controlnet_panel import IMAGE_FILTER, ControlPanel
from app.ui.images.gallery import Gallery
from app.ui.images.settings_panel import SettingsPanel
from app.ui.qimage import rgb_to_qimage
from app.ui.widgets import EmptyState


class ImagesTab(QWidget):

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.engine: ImageEngine = ctx.engines.images  # shared with the server: one set of loaded pipelines
        self.handles: list = []
        self.init_path = ""
        self.segment_mask: tuple[str, str] | None = None
        self.notes: list[str] = []
        self.setAcceptDrops(True)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.stack = QStackedWidget()
        outer.addWidget(self.stack)
        self.empty = EmptyState(
            "No image model yet",
            "Get a Stable Diffusion checkpoint in Models (SD-Turbo is small and fast), or open a .safetensors "
            "file you already have. Pickle files (.ckpt) are not opened unless you allow them in settings.",
            [("Open .safetensors…", self._open_from_empty), ("Go to Models", lambda: ctx.show_tab("models"))],
        )
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self._build_workspace())

        self.settings_panel.model.sig_changed.connect(self._on_model_changed)
        self.settings_panel.sig_mode_changed.connect(self._on_mode_changed)
        self.settings_panel.sig_generate.connect(self.generate)
        self.gallery.sig_reuse.connect(self.reuse)
        self.gallery.sig_show.connect(self._show_file)
        ctx.bus.sig_mask_for_inpaint.connect(self.on_mask_from_segment)
        ctx.bus.sig_models_changed.connect(self.refresh_models)
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.generate)

        last = ctx.settings.images.last_model
        if last and Path(last).exists():
            self.settings_panel.model.select(last)
        self._on_mode_changed(self.settings_panel.current_mode())
        self._update_empty()

    # ---- layout ------------------------------------------------------------------------------------------------
    def _build_workspace(self) -> QWidget:
        split = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        self.settings_panel = SettingsPanel()
        self.control_panel = ControlPanel(self.ctx)
        left_layout.addWidget(self.settings_panel)
        left_layout.addWidget(self.control_panel)
        self.advanced = AdvancedPanel(self.ctx)
        left_layout.addWidget(self.advanced)
        left_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(left)
        scroll.setMinimumWidth(220)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        split.addWidget(scroll)

        center = QWidget()
        col = QVBoxLayout(center)
        tools = QHBoxLayout()
        self.load_init = QPushButton("Starting image…")
        self.load_init.clicked.connect(self.choose_init)
        self.brush = QToolButton()
        self.brush.setText("Brush")
        self.brush.setCheckable(True)
        self.brush.setChecked(True)
        self.eraser = QToolButton()
        self.eraser.setText("Eraser")
        self.eraser.setCheckable(True)
        self.brush.clicked.connect(lambda: self._set_eraser(False))
        self.eraser.clicked.connect(lambda: self._set_eraser(True))
        self.brush_size = QSpinBox()
        self.brush_size.setRange(2, 256)
        self.brush_size.setValue(32)
        self.brush_size.setPrefix("size ")
        self.brush_size.valueChanged.connect(lambda v: setattr(self.canvas, "brush", v))
        self.clear_mask = QPushButton("Clear mask")
        self.clear_mask.clicked.connect(lambda: self.canvas.clear_mask())
        self.use_segment = QPushButton("Use mask from Segment")
        self.use_segment.setEnabled(False)
        self.use_segment.setToolTip("Make a mask in the Segment tab first")
        self.use_segment.clicked.connect(lambda: self.segment_mask and self.on_mask_from_segment(*self.segment_mask))
        self.mask_tools = [self.brush, self.eraser, self.brush_size, self.clear_mask]
        for w in [self.load_init, *self.mask_tools, self.use_segment]:
            tools.addWidget(w)
        tools.addStretch(1)
        col.addLayout(tools)
        self.canvas = ImageCanvas()
        col.addWidget(self.canvas, 1)
        status = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.status = QLabel("Ready")
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.progress.setMinimumWidth(60)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_current)
        status.addWidget(self.progress, 1)
        status.addWidget(self.status, 1)
        status.addWidget(self.cancel_button)
        col.addLayout(status)
        self.queue = QListWidget()
        self.queue.setMaximumHeight(60)
        col.addWidget(self.queue)
        center.setMinimumWidth(200)
        split.addWidget(center)

        self.gallery = Gallery(self.ctx)
        self.gallery.setMinimumWidth(120)
        split.addWidget(self.gallery)
        split.setStretchFactor(1, 1)
        split.setSizes([410, 530, 260])
        return split

    # ---- models ------------------------------------------------------------------------------------------------
    def refresh_models(self) -> None:
        self.settings_panel.model.refresh()
        self.settings_panel.lora.refresh()
        self.control_panel.model.refresh()
        self._update_empty()

    def _update_empty(self) -> None:
        self.stack.setCurrentIndex(1 if self.settings_panel.model.has_models() else 0)

    def _open_from_empty(self) -> None:
        self.settings_panel.model.open_file()
        self._update_empty()

    def _on_model_changed(self, path: str) -> None:
        if path:
            self.ctx.settings.images.last_model = path
        self._update_empty()

    # ---- modes, starting image, mask ---------------------------------------------------------------------------
    def _on_mode_changed(self, mode: str) -> None:
        needs_image = mode != "txt2img"
        self.load_init.setVisible(needs_image)
        for w in self.mask_tools:
            w.setVisible(mode == "inpaint")
        self.canvas.painting = mode == "inpaint" and bool(self.init_path)
        if needs_image and self.init_path:
            self._show_file(self.init_path)
        self.canvas.update()

    def _set_eraser(self, on: bool) -> None:
        self.canvas.eraser = on
        self.eraser.setChecked(on)
        self.brush.setChecked(not on)

    def choose_init(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Starting image", str(Path.home()), IMAGE_FILTER)
        if path:
            self.set_init_image(path)

    def _open(self, path: str) -> QImage | None:
        """An image file as the engine will see it (Hearth's loader: EXIF rotation, 16-bit and float scaled,
        size limit), or None after telling the user why not."""
        import numpy as np

        from app.core import imageio

        try:
            return rgb_to_qimage(np.asarray(imageio.open_image(path, "RGB")))
        except UserError as exc:
            self.ctx.show_message(str(exc), "warning")
            return None

    def set_init_image(self, path: str) -> bool:
        image = self._open(path)
        if image is None:
            return False
        self.init_path = path
        self.canvas.set_image(image, keep_mask=False)
        self.canvas.painting = self.settings_panel.current_mode() == "inpaint"
        self.status.setText(f"Starting image: {Path(path).name} ({image.width()}×{image.height()})")
        return True

    def on_mask_from_segment(self, mask_path: str, image_path: str) -> None:
        """A mask made in Segment: inpaint that region of that image."""
        mask = QImage(mask_path)
        if mask.isNull():
            self.ctx.show_message("The mask from Segment could not be read.")
            return
        self.segment_mask = (mask_path, image_path)
        self.use_segment.setEnabled(True)
        index = self.settings_panel.mode.findData("inpaint")
        self.settings_panel.mode.setCurrentIndex(index)
        if not self.set_init_image(image_path):
            return
        self.canvas.set_mask(mask)
        self.status.setText("Mask from Segment: white areas will be repainted")

    def _mask_file(self) -> str:
        mask = self.canvas.mask
        if mask is None or self.canvas.mask_is_empty():
            raise UserError("Paint the area to repaint on the image first (or use a mask from Segment).")
        folder = paths.cache_dir() / "masks"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"mask-{time.strftime('%Y%m%d-%H%M%S')}-{len(self.handles)}.png"
        mask.save(str(path))
        return str(path)

    # ---- generation --------------------------------------------------------------------------------------------
    def current_params(self):
        params = self.settings_panel.params()
        if params.mode != "txt2img":
            params.init_image = self.init_path
        if params.mode == "inpaint" and self.init_path:
            params.mask_image = self._mask_file()
        self.control_panel.apply_to(params)
        return params

    def generate(self):
        try:
            params = self.current_params()
            validate(params)
        except UserError as exc:
            self.ctx.show_message(str(exc), "warning")
            return None
        self.ctx.save_settings()
        label = (params.prompt or "(no prompt)")[:40]
        handle = self.ctx.jobs.submit(Job(self.engine.generate, ImageRequest(params), name=f"Image: {label}",
                                          resource=RESOURCE))
        item = QListWidgetItem(f"queued — {label}")
        self.queue.addItem(item)
        self.handles.append(handle)
        handle.sig_started.connect(lambda: self._on_started(handle))
        handle.sig_progress.connect(lambda f, t: self._on_progress(handle, item, f, t))
        handle.on_partial(Preview, self._on_preview).on_partial(Note, self._on_note)
        handle.on_partial(GeneratedImage, self._on_image)
        handle.sig_done.connect(lambda results: self._on_done(item, results))
        handle.sig_error.connect(lambda message: self._on_error(item, message))
        handle.sig_cancelled.connect(lambda: self._on_cancelled(item))
        handle.sig_finished.connect(lambda: self._on_finished(handle, item))
        return handle

    def _running(self):
        return next((h for h in self.handles if h.status == "running"), None)

    def cancel_current(self) -> None:
        handle = self._running()
        if handle is not None:
            handle.cancel()
            self.status.setText("Cancelling at the next step…")

    def _on_started(self, handle) -> None:
        self.notes = []  # this job's notes, shown together
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)

    def _on_progress(self, handle, item, fraction, text) -> None:
        if fraction is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(fraction * 1000))
        self.status.setText(text)
        item.setText(f"{int((fraction or 0) * 100)}% — {handle.name[7:]} — {text}")

    def _on_preview(self, preview: Preview) -> None:
        self.canvas.painting = False
        self.canvas.set_image(rgb_to_qimage(preview.image))

    def _on_note(self, note: Note) -> None:
        """What the engine decided for the user (size kept from the image, long prompt chunked, seed picked)."""
        self.notes.append(note.text)
        self.status.setText(note.text)
        self.ctx.show_message(" ".join(self.notes), "info")

    def _on_image(self, result: GeneratedImage) -> None:
        self.gallery.add(result.path, result.params, result.seed)
        self.settings_panel.last_seed = result.seed
        self.status.setText(f"Saved {result.path.name} ({result.params.width}×{result.params.height}, "
                            f"seed {result.seed})")

    def _on_done(self, item, results) -> None:
        item.setText(f"done — {len(results)} image(s)")

    def _on_error(self, item, message) -> None:
        item.setText(f"failed — {message[:80]}")
        self.status.setText("Failed")

    def _on_cancelled(self, item) -> None:
        item.setText("cancelled")
        self.status.setText("Cancelled")

    def _on_finished(self, handle, item) -> None:
        if handle in self.handles:
            self.handles.remove(handle)
        self.cancel_button.setEnabled(self._running() is not None)
        if not self.handles:
            self.progress.setRange(0, 1000)
        if self.queue.count() > 20:
            self.queue.takeItem(0)

    def _show_file(self, path: str) -> None:
        image = self._open(path)
        if image is not None:
            self.canvas.set_image(image, keep_mask=path == self.init_path)
            self.canvas.painting = path == self.init_path and self.settings_panel.current_mode() == "inpaint"

    # ---- reuse and drops ---------------------------------------------------------------------------------------
    def reuse(self, params) -> None:
        self.settings_panel.apply(params)
        self.control_panel.restore(params)
        if params.init_image and Path(params.init_image).exists():
            self.set_init_image(params.init_image)
        self.status.setText("Parameters restored")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.open_dropped(urls[0])
            event.acceptProposedAction()

    def open_dropped(self, path: str) -> None:
        """A PNG with parameters restores them (Hearth's or another tool's); any other image becomes the
        starting image."""
        from app.core.images.metadata import read_png

        suffix = Path(path).suffix.lower()
        if suffix == ".safetensors":
            self.settings_panel.model.select(path)
            return
        if suffix == ".png":
            try:
                params, source = read_png(Path(path))
            except UserError:
                params = None
            if params is not None:
                self.reuse(params)
                self._show_file(path)
                who = "Hearth" if source == "hearth" else "another tool (A1111 format)"
                self.ctx.show_message(f"Parameters read from {Path(path).name}, made by {who}.", "info")
                return
        if self.settings_panel.current_mode() == "txt2img":
            self.settings_panel.mode.setCurrentIndex(self.settings_panel.mode.findData("img2img"))
        self.set_init_image(path)

    def shutdown(self) -> None:
        self.gallery.search.cancel()
        for handle in list(self.handles):
            handle.cancel()
        self.ctx.jobs.wait(3000)
        self.engine.free()
