"""Segment tab: click on a photo, get the object's mask (Segment Anything).

Everything heavy runs as jobs: opening (decode + hash + screen copy), loading the model and encoding on the
"sam-encoder" resource, predicting on "sam-decoder". Clicks made before the embedding is ready are recorded in the
session at once (markers show) and predicted when it arrives. Folder browsing pre-encodes the next photos.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.core import paths
from app.core.imageio import DIALOG_FILTER
from app.core.jobs import Job
from app.core.models import registry
from app.core.segment import jobs as sj
from app.core.segment import speed
from app.core.segment.cache import EmbeddingCache
from app.core.segment.predictor import SegmentEngine
from app.core.segment.images import IMAGE_SUFFIXES, folder_images
from app.core.segment.overlay import compose_overlay
from app.core.segment.session import SegmentSession
from app.core.errors import UserError
from app.core.units import format_bytes
from app.ui.context import AppContext
from app.ui.segment.canvas import SegmentCanvas
from app.ui.segment.everything import EverythingBox, EverythingController
from app.ui.segment.panel import THUMB, CandidateStrip, DisplayToggles, ExportBox, LayerList, ModelPicker
from app.ui.segment.vision import LabelBox, PhotoList, VisionController
from app.ui.widgets import EmptyState

log = logging.getLogger(__name__)
DISPLAY_MAX = 2560  # long side of the screen copy: smooth zoom/pan even for 6000x4000 photos
IMAGE_FILTER = DIALOG_FILTER


class SegmentTab(QWidget):

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.settings = ctx.settings.segment
        self.engine = SegmentEngine(EmbeddingCache(max_bytes=self.settings.cache_max_mb * 2**20),
                                    device=self.settings.device)
        self.session = SegmentSession()
        self.opened: sj.OpenedImage | None = None
        self.embedding = None
        self.thumb = None
        self.model_path = ""
        self.folder: list[Path] = []
        self.folder_index = -1
        self._load = self._encode = self._decode = self._preencode = None
        self._failed_model = ""
        self._build()
        self._connect()
        self.refresh_models()
        self._refresh()
        self.ctx.bus.sig_models_changed.connect(self.refresh_models)

    # ---- layout ------------------------------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.stack = QStackedWidget()
        outer.addWidget(self.stack)
        self.empty = EmptyState(
            "No Segment Anything model yet",
            "Get one in Models (EdgeTAM is the fastest on a CPU), or open a SAM checkpoint (.pth) you already have. "
            "Then open a photo and click on an object to cut it out.",
            [("Open .pth…", self.choose_model_file), ("Go to Models", lambda: self.ctx.show_tab("models"))],
        )
        self.stack.addWidget(self.empty)

        work = QWidget()
        layout = QVBoxLayout(work)
        bar = QToolBar()  # folds into a » menu when the window is narrow
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip("Open a photo (Ctrl+O); you can also drop or paste one")
        self.folder_button = QPushButton("Folder…")
        self.folder_button.setToolTip("Browse a folder of photos; the next ones are prepared in the background")
        self.prev_button = QPushButton("◀")
        self.next_button = QPushButton("▶")
        self.prev_button.setToolTip("Previous photo in the folder (Page Up)")
        self.next_button.setToolTip("Next photo in the folder (Page Down)")
        self.position_label = QLabel("")
        self.undo_button = QPushButton("Undo")
        self.redo_button = QPushButton("Redo")
        self.clear_button = QPushButton("Clear")
        self.fit_button = QPushButton("Fit")
        for w in (self.open_button, self.folder_button, self.prev_button, self.next_button, self.undo_button,
                  self.redo_button, self.clear_button, self.fit_button):
            bar.addWidget(w)
        bar.addSeparator()
        bar.addWidget(self.position_label)
        layout.addWidget(bar)

        split = QSplitter(Qt.Orientation.Horizontal)
        self.canvas = SegmentCanvas()
        split.addWidget(self.canvas)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        self.picker = ModelPicker(label=self._model_label)
        self.toggles = DisplayToggles(self.settings.show_fill, self.settings.show_outline, self.settings.multimask)
        self.candidates = CandidateStrip()
        self.layers = LayerList()
        self.everything = EverythingBox(self.settings.everything_min_area, self.settings.everything_points)
        self.exports = ExportBox()
        self.photos = PhotoList(self.ctx)
        self.label_box = LabelBox()
        for w in (self.picker, self.photos, self.toggles, self.candidates, self.layers, self.label_box,
                  self.everything, self.exports):
            side_layout.addWidget(w)
        side_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(side)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(250)
        scroll.resize(420, 600)
        split.addWidget(scroll)
        split.setStretchFactor(0, 1)
        layout.addWidget(split, 1)

        status = QHBoxLayout()
        self.status = QLabel("Open a photo (Ctrl+O), drop one on the canvas, paste one (Ctrl+V), or open a folder.")
        self.status.setObjectName("segmentStatus")
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(220)
        self.progress.hide()
        status.addWidget(self.status, 1)
        status.addWidget(self.progress)
        layout.addLayout(status)
        self.stack.addWidget(work)
        self.work = work
        self.exports.set_enabled(False)
        self._update_buttons()

    def _connect(self) -> None:
        self.canvas.sig_point.connect(self.add_point)
        self.canvas.sig_box.connect(self.set_box)
        self.canvas.sig_files_dropped.connect(self._on_dropped)
        self.open_button.clicked.connect(self.choose_image)
        self.folder_button.clicked.connect(self.choose_folder)
        self.prev_button.clicked.connect(lambda: self.step(-1))
        self.next_button.clicked.connect(lambda: self.step(1))
        self.undo_button.clicked.connect(self.undo)
        self.redo_button.clicked.connect(self.redo)
        self.clear_button.clicked.connect(self.clear_prompts)
        self.fit_button.clicked.connect(self.canvas.fit)
        self.picker.sig_model_chosen.connect(self.use_model)
        self.everything_runner = EverythingController(self, self.everything)
        self.vision = VisionController(self, self.photos, self.label_box)
        self.candidates.sig_chosen.connect(self.choose_candidate)
        self.layers.sig_selected.connect(self._select_layer)
        self.layers.sig_renamed.connect(lambda i, n: self._change(lambda: self.session.rename_layer(i, n)))
        self.layers.sig_visibility.connect(lambda i, v: self._change(lambda: self.session.set_visible(i, v)))
        self.layers.sig_add.connect(lambda: self._change(self.session.add_layer))
        self.layers.sig_remove.connect(lambda i: self._change(lambda: self.session.remove_layer(max(0, i))))
        self.toggles.sig_changed.connect(self._on_toggles)
        self.exports.mask_button.clicked.connect(lambda: self._export_dialog("mask", "PNG image (*.png)", "-mask.png"))
        self.exports.cutout_button.clicked.connect(lambda: self._export_dialog("cutout", "PNG image (*.png)", "-cutout.png"))
        self.exports.coco_button.clicked.connect(lambda: self._export_dialog("coco", "COCO JSON (*.json)", "-coco.json"))
        self.exports.labelme_button.clicked.connect(lambda: self._export_dialog("labelme", "labelme JSON (*.json)", ".json"))
        self.exports.inpaint_button.clicked.connect(self.send_to_inpaint)
        keys = [(QKeySequence.StandardKey.Open, self.choose_image), (QKeySequence.StandardKey.Undo, self.undo),
                (QKeySequence.StandardKey.Redo, self.redo), (QKeySequence("Ctrl+Y"), self.redo),
                (QKeySequence.StandardKey.Paste, self.paste), (QKeySequence(Qt.Key.Key_PageDown), lambda: self.step(1)),
                (QKeySequence(Qt.Key.Key_PageUp), lambda: self.step(-1)), (QKeySequence(Qt.Key.Key_Escape), self.clear_prompts)]
        for seq, fn in keys:
            shortcut = QShortcut(seq, self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(fn)

    # ---- models ------------------------------------------------------------------------------------------------
    def refresh_models(self) -> None:
        if not self.model_path:
            last = self.settings.last_model
            models = registry.installed("sam")
            if last and Path(last).exists():
                self.model_path = last
            elif models:  # first use: the model whose encoder is fastest (EdgeTAM before SAM 2.1 before SAM 1)
                self.model_path = speed.fastest([m.path for m in models])
        self.picker.picker.refresh(self.model_path)
        self.stack.setCurrentWidget(self.work if self.model_path else self.empty)

    def _model_label(self, model) -> str:
        """An installed model in the picker: 'edgetam — 0.62 s/photo' once measured on this computer, else its
        size."""
        device = self.engine.sam.device if self.engine.sam is not None else None
        found = speed.measured(self.settings.encode_seconds, model.path, device)
        if found is None:
            return f"{model.name}  ({format_bytes(model.size_bytes)}, not timed yet)"
        seconds, dev = found
        return f"{model.name} — {speed.describe(seconds)}/photo" + ("" if dev == "cpu" else f" ({dev.upper()})")

    def _timing_text(self, sam) -> str:
        found = speed.measured(self.settings.encode_seconds, sam.path, sam.device)
        if found is None:
            return "encode time is measured on the first photo"
        return f"{speed.describe(found[0])} per photo here"

    def choose_model_file(self) -> None:
        self.picker.picker.open_file()  # announces the file with sig_model_chosen → use_model

    def use_model(self, path: str) -> None:
        """Switch to another checkpoint: loaded in the background; masks are predicted again with it."""
        if not path:
            return
        self.model_path = str(path)
        self._failed_model = ""
        self.refresh_models()
        self.engine.unload()
        self.embedding = None
        self.session.forget_predictions()
        self._load = None
        self._ensure_model()
        self._start_encode()
        self._refresh()

    def _ensure_model(self) -> None:
        if self.engine.sam is not None or self._load is not None or not self.model_path:
            return
        if self.model_path == self._failed_model:  # already reported; wait for the user to pick another
            return
        path = self.model_path
        handle = self.ctx.jobs.submit(Job(sj.load_model_job, (self.engine, path), name=f"Load {Path(path).name}",
                                          resource=sj.ENCODER), replace="segment-load")
        self._load = handle
        self.picker.info.setText(f"Loading {Path(path).name}…")
        handle.sig_done.connect(self._on_model_loaded)
        handle.sig_error.connect(self._on_model_failed)

    def _on_model_loaded(self, sam) -> None:
        self.settings.last_model = str(sam.path)
        self.ctx.save_settings()
        self.picker.info.setText(f"{sam.arch.name} on {sam.device.upper()} — {self._timing_text(sam)}")
        self._set_status("Model ready." if self.opened is None else self.status.text())

    def _on_model_failed(self, message: str) -> None:
        self._load = None
        self._failed_model = self.model_path
        self.picker.info.setText("Could not load this model.")
        self.ctx.show_message(message, "error")
        self._set_status(message)

    def showEvent(self, event) -> None:  # noqa: N802 - load the model once the tab is first looked at
        super().showEvent(event)
        self._ensure_model()

    # ---- opening -----------------------------------------------------------------------------------------------
    def choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a photo", self.settings.last_folder, IMAGE_FILTER)
        if path:
            self.folder, self.folder_index = [], -1
            self.open_image(path)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of photos", self.settings.last_folder)
        if folder:
            self.open_folder(folder)

    def open_folder(self, folder) -> None:
        try:
            files = folder_images(folder)
        except UserError as exc:
            self.ctx.show_message(str(exc), "error")
            return
        if not files:
            self.ctx.show_message(f"No photos in {folder} (looked for {', '.join(IMAGE_SUFFIXES)}).", "warning")
            return
        self.settings.last_folder = str(folder)
        self.folder, self.folder_index = files, 0
        self.vision.show_folder(files)
        self.open_image(files[0])

    def step(self, delta: int) -> None:
        if not self.folder:
            return
        index = self.folder_index + delta
        if 0 <= index < len(self.folder):
            self.folder_index = index
            self.open_image(self.folder[index])

    def paste(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is not None and mime.hasUrls():
            files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
            if files:
                self._on_dropped(files)
                return
        image = QGuiApplication.clipboard().image()
        if image.isNull():
            self.ctx.show_message("The clipboard holds no image.", "info")
            return
        from app.ui.qimage import qimage_to_rgb

        self.folder, self.folder_index = [], -1
        self._open_source(qimage_to_rgb(image))

    def _on_dropped(self, files: list) -> None:
        first = Path(files[0])
        if first.is_dir():
            self.open_folder(first)
        else:
            self.folder, self.folder_index = [], -1
            self.open_image(first)

    def open_image(self, path) -> None:
        self._open_source(Path(path))

    def _open_source(self, source) -> None:
        self.everything_runner.cancel()  # its objects belong to the photo being replaced
        if self._preencode is not None:  # the user moved on: stop preparing other photos
            self._preencode.cancel()
            self._preencode = None
        if self._encode is not None:
            self._encode.cancel()
            self._encode = None
        self.embedding = None  # the current photo is being replaced: clicks wait for the new one
        self._set_status("Opening…")
        handle = self.ctx.jobs.submit(Job(sj.open_image_job, (source, DISPLAY_MAX), name="Open image"),
                                      replace="segment-open")
        handle.sig_done.connect(self._on_image_opened)
        handle.sig_error.connect(self._on_open_failed)

    def _on_open_failed(self, message: str) -> None:
        self.ctx.show_message(message, "error")
        self._set_status(message)

    def _on_image_opened(self, opened: sj.OpenedImage) -> None:
        from app.core.segment.images import display_copy

        self.opened = opened
        self.embedding = None
        self.session = SegmentSession()
        self.thumb, _ = display_copy(opened.display, THUMB)
        self.canvas.set_image(opened.display, opened.image.size)
        self.canvas.setFocus()
        self.show_position()
        self.vision.on_opened()
        self._start_encode()
        self._refresh()

    def show_position(self) -> None:
        """'photo.jpg — 4000×3000  (3 / 25)' in the toolbar: the photo and its place in the folder's order."""
        if self.opened is None:
            return
        w, h = self.opened.image.size
        where = f"  ({self.folder_index + 1} / {len(self.folder)})" if self.folder else ""
        self.position_label.setText(f"{self.opened.image.name} — {w}×{h}{where}")

    # ---- encoding ----------------------------------------------------------------------------------------------
    def _start_encode(self) -> None:
        if self.opened is None:
            return
        if not self.model_path:
            self._set_status("Choose a Segment Anything model first (Open .pth… or Models).")
            return
        self._ensure_model()
        image = self.opened.image
        handle = self.ctx.jobs.submit(Job(sj.encode_job, (self.engine, image), name=f"Encode {image.name}",
                                          resource=sj.ENCODER), replace="segment-encode")
        self._encode = handle
        self._set_status("Preparing the image (encoding)… you can already click: clicks apply when it is ready.")
        self.progress.setValue(0)
        self.progress.show()
        handle.sig_progress.connect(lambda f, t: self.progress.setValue(int((f or 0) * 1000)))
        handle.sig_done.connect(self._on_embedding)
        handle.sig_error.connect(self._on_open_failed)
        handle.sig_finished.connect(lambda h=handle: self._encode_finished(h))

    def _encode_finished(self, handle) -> None:
        if self._encode is handle:
            self._encode = None
            self.progress.hide()

    def _on_embedding(self, emb) -> None:
        if self.opened is None or emb.image_key != self.opened.image.key or emb.sam is not self.engine.sam:
            return  # a stale result (another photo or model since)
        self.embedding = emb
        if emb.seconds is not None:  # measured once, remembered: the picker shows it before the next load
            speed.remember(self.settings.encode_seconds, emb.sam.path, emb.sam.device, emb.seconds)
            self.ctx.save_settings()
            self.refresh_models()
            sam = emb.sam
            self.picker.info.setText(f"{sam.arch.name} on {sam.device.upper()} — {self._timing_text(sam)}")
        self._set_status(("Ready (embedding from cache)." if emb.from_cache else "Ready.")
                         + " Left click: object · right/Alt+click: background · drag: box.")
        self._schedule_decode()
        self._start_preencode()

    def _start_preencode(self) -> None:
        if not self.folder or self.settings.preencode <= 0:
            return
        upcoming = self.folder[self.folder_index + 1 : self.folder_index + 1 + self.settings.preencode]
        if upcoming:
            self._preencode = self.ctx.jobs.submit(
                Job(sj.preencode_job, (self.engine, upcoming), name="Prepare next photos", resource=sj.ENCODER),
                replace="segment-preencode")

    # ---- prompts -----------------------------------------------------------------------------------------------
    def add_point(self, x: float, y: float, positive: bool = True) -> None:
        if self.opened is not None:
            self._change(lambda: self.session.add_point(x, y, positive))

    def set_box(self, x0: float, y0: float, x1: float, y1: float) -> None:
        if self.opened is not None:
            self._change(lambda: self.session.set_box(x0, y0, x1, y1))

    def clear_prompts(self) -> None:
        if not self.session.active.prompts.empty:
            self._change(self.session.clear_prompts)

    def choose_candidate(self, index: int) -> None:
        if self.session.active.prediction is not None:
            self._change(lambda: self.session.choose(index))

    def undo(self) -> None:
        self._change(self.session.undo)

    def redo(self) -> None:
        self._change(self.session.redo)

    def _select_layer(self, index: int) -> None:
        self.session.set_active(index)
        self._refresh()

    def _change(self, fn) -> None:
        fn()
        self._refresh()
        self._schedule_decode()

    def _schedule_decode(self) -> None:
        if self._decode is not None or self.embedding is None or self.opened is None:
            return
        pending = self.session.pending_layers()
        if not pending:
            return
        active = self.session.active
        layer = active if active in pending else pending[0]
        display = (self.opened.display.shape[1], self.opened.display.shape[0])
        thumb = (self.thumb.shape[1], self.thumb.shape[0])
        req = sj.DecodeRequest(self.engine, self.embedding, layer.vid, layer.prompts, self.session.feed_for(layer),
                               self.toggles.multimask.isChecked(), display, thumb)
        session = self.session
        handle = self.ctx.jobs.submit(Job(sj.decode_job, req, name="Predict mask", resource=sj.DECODER))
        self._decode = handle
        handle.sig_done.connect(lambda result: self._on_decoded(session, result))
        handle.sig_error.connect(lambda msg: self._set_status(f"Prediction failed: {msg}"))
        handle.sig_finished.connect(self._decode_finished)

    def _on_decoded(self, session, result: sj.DecodeResult) -> None:
        if session is self.session and session.attach(result.vid, result.prediction):
            self._refresh()

    def _decode_finished(self) -> None:
        self._decode = None
        self._schedule_decode()

    # ---- drawing -----------------------------------------------------------------------------------------------
    def _on_toggles(self) -> None:
        self.settings.show_fill = self.toggles.fill.isChecked()
        self.settings.show_outline = self.toggles.outline.isChecked()
        self.settings.multimask = self.toggles.multimask.isChecked()
        self._refresh()

    def overlay_rgba(self):
        if self.opened is None:
            return None
        h, w = self.opened.display.shape[:2]
        masks = []
        for i, layer in enumerate(self.session.layers):
            if layer.visible and layer.prediction is not None:
                masks.append((layer.prediction.mask(layer.chosen, (w, h)), layer.color, i == self.session.active_index))
        if not masks:
            return None
        return compose_overlay(masks, (w, h), self.settings.overlay_alpha, self.toggles.fill.isChecked(),
                               self.toggles.outline.isChecked())

    def _refresh(self) -> None:
        s = self.session
        active = s.active
        self.layers.set_layers(s.layers, s.active_index)
        if self.opened is not None:
            self.canvas.set_prompts(active.prompts.points, active.prompts.box, QColor(*active.color))
            self.canvas.set_overlay(self.overlay_rgba())
        if active.prediction is not None and self.thumb is not None:
            self.candidates.show_prediction(self.thumb, active.prediction, active.chosen, active.color)
        else:
            self.candidates.clear()
        self.exports.set_enabled(any(l.prediction is not None for l in s.layers))
        self.vision.refresh()
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.undo_button.setEnabled(self.session.can_undo)
        self.redo_button.setEnabled(self.session.can_redo)
        self.clear_button.setEnabled(not self.session.active.prompts.empty)
        self.prev_button.setEnabled(bool(self.folder) and self.folder_index > 0)
        self.next_button.setEnabled(bool(self.folder) and self.folder_index < len(self.folder) - 1)

    def _set_status(self, text: str) -> None:
        self.status.setText(text)

    # ---- exports -----------------------------------------------------------------------------------------------
    def _objects(self, kind: str) -> list:
        layers = [l for l in self.session.layers if l.prediction is not None]
        if kind in ("mask", "cutout", "inpaint"):
            active = self.session.active
            layers = [active] if active.prediction is not None else layers[:1]
        return [(l.name, l.prediction, l.chosen) for l in layers]

    def _export_dialog(self, kind: str, file_filter: str, suffix: str) -> None:
        if self.opened is None:
            return
        base = self.opened.image.path.with_suffix("") if self.opened.image.path else Path.home() / "pasted"
        path, _ = QFileDialog.getSaveFileName(self, "Export", str(base) + suffix, file_filter)
        if path:
            self.export_to(kind, path)

    def export_to(self, kind: str, path, on_done=None):
        """Write an export in the background; returns the job handle."""
        if self.opened is None:
            return None
        image = self.opened.image
        req = sj.ExportRequest(kind, Path(path), image.rgb, image.name, image.path, self._objects(kind))
        handle = self.ctx.jobs.submit(Job(sj.export_job, req, name=f"Export {kind}"))
        handle.sig_done.connect(on_done or (lambda out: self._set_status(f"Saved {out['path']}")))
        handle.sig_error.connect(lambda msg: self.ctx.show_message(f"Export failed: {msg}", "error"))
        return handle

    def send_to_inpaint(self):
        """Save the selected object's mask and hand it to the Images tab for inpainting."""
        if self.opened is None:
            return None
        folder = paths.cache_dir() / "segment-masks"
        target = folder / f"{self.opened.image.key[:16]}-{self.session.active.lid}.png"

        def done(out: dict) -> None:
            self.ctx.show_tab("images")  # first: it builds the Images tab if it was never opened
            self.ctx.bus.sig_mask_for_inpaint.emit(out["path"], out["image"])

        return self.export_to("inpaint", target, done)

    # ---- lifetime ----------------------------------------------------------------------------------------------
    def shutdown(self) -> None:
        for handle in (self._load, self._encode, self._decode, self._preencode):
            if handle is not None:
                handle.cancel()
        self.everything_runner.cancel()
        self.vision.cancel()
        self.ctx.save_settings()
