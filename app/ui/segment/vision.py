"""The Segment tab's CLIP and chat helpers: the folder's photo list with its search by description, the object's
label from the user's list (zero-shot), and "Ask about this image" for the photo or the selected object.

`VisionController` wires them to a SegmentTab (its folder, session, exports and job manager). The label and the
"ask" cut-out are computed from the selected object's cut-out PNG (the export job writes it into
`<data>/segment-cutouts/`), then the label job (core/clip `label_job`, resource "clip-model") ranks the labels; the
best one names the layer, so it is the object's category in COCO and labelme exports.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
)

from app.core import paths
from app.core.clip.jobs import RESOURCE, LabelInputs, label_job
from app.core.clip.search import load_labels, parse_labels, save_labels
from app.core.jobs import Job
from app.core.segment.jobs import Thumbnail, thumbnails_job
from app.ui.clip_search import PATH_ROLE, ClipSearch, ask_about_image
from app.ui.qimage import rgb_to_pixmap

THUMB_SIDE = 64


class PhotoList(QGroupBox):
    """The open folder's photos as thumbnails (made in the background; click one to open it) with the search box
    above them."""

    sig_open = Signal(str)  # path

    def __init__(self, ctx, parent=None) -> None:
        super().__init__("Photos in the folder", parent)
        self.ctx = ctx
        self._thumbs = None
        self.items: dict[str, QListWidgetItem] = {}
        layout = QVBoxLayout(self)
        self.search = ClipSearch(ctx)
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.ViewMode.IconMode)
        self.list.setIconSize(QSize(THUMB_SIDE, THUMB_SIDE))
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.setMovement(QListWidget.Movement.Static)
        self.list.setWordWrap(True)
        self.list.setMinimumHeight(120)
        self.list.setMaximumHeight(200)
        self.list.setToolTip("The folder's photos; type a description above to put the best matches first")
        self.search.attach(self.list)
        layout.addWidget(self.search)
        layout.addWidget(self.list)
        self.list.itemActivated.connect(self._activated)
        self.list.itemClicked.connect(self._activated)

    def set_files(self, files: list[Path]) -> None:
        """Show these photos (thumbnails follow from a background job) and make them searchable."""
        self.list.clear()
        self.items = {}
        for path in files:
            item = QListWidgetItem(path.name)
            item.setData(PATH_ROLE, str(path))
            item.setToolTip(str(path))
            item.setSizeHint(QSize(THUMB_SIDE + 24, THUMB_SIDE + 30))
            self.list.addItem(item)
            self.items[str(path)] = item
        self.search.set_files(files)
        self._thumbs = self.ctx.jobs.submit(Job(thumbnails_job, (list(files), THUMB_SIDE), name="Photo thumbnails"),
                                            replace=f"segment-thumbnails-{id(self)}")
        self._thumbs.on_partial(Thumbnail, self._on_thumbnail)

    def _on_thumbnail(self, thumb: Thumbnail) -> None:
        item = self.items.get(str(thumb.path))
        if item is None:
            return
        if thumb.rgb is not None:
            item.setIcon(QIcon(rgb_to_pixmap(thumb.rgb)))
        else:
            item.setToolTip(f"{thumb.path}\n{thumb.error}")

    def cancel(self) -> None:
        """Stop the search and the thumbnails in progress."""
        self.search.cancel()
        if self._thumbs is not None:
            self._thumbs.cancel()

    def select(self, path: Path | None) -> None:
        """Make `path` the current item, without opening it again."""
        blocked = self.list.blockSignals(True)
        for row in range(self.list.count()):
            if path is not None and self.list.item(row).data(PATH_ROLE) == str(path):
                self.list.setCurrentRow(row)
                break
        self.list.blockSignals(blocked)

    def _activated(self, item: QListWidgetItem) -> None:
        self.sig_open.emit(item.data(PATH_ROLE))


class LabelBox(QGroupBox):
    """The user's label list (editable, kept in <data>/clip/labels.txt), "Label object", and the chat actions."""

    def __init__(self, parent=None) -> None:
        super().__init__("Label and ask", parent)
        layout = QVBoxLayout(self)
        self.labels = QLineEdit(", ".join(load_labels()))
        self.labels.setToolTip("The labels an object can get, separated by commas (saved for next time)")
        self.labels.editingFinished.connect(self.save)
        labels_row = QHBoxLayout()
        labels_row.addWidget(QLabel("Labels:"))
        labels_row.addWidget(self.labels, 1)
        layout.addLayout(labels_row)
        self.label_button = QPushButton("Label object")
        self.label_button.setToolTip("Name the selected object with its most likely label from the list (CLIP, "
                                     "zero-shot); the name goes into the COCO and labelme exports")
        layout.addWidget(self.label_button)
        self.result = QLabel("")
        self.result.setWordWrap(True)
        self.result.setObjectName("labelResult")
        self.result.hide()  # shown once there is something to say
        layout.addWidget(self.result)
        row = QHBoxLayout()
        self.ask_photo = QPushButton("Ask about photo")
        self.ask_photo.setToolTip("Open a new chat with this photo attached")
        self.ask_object = QPushButton("Ask about object")
        self.ask_object.setToolTip("Open a new chat with the selected object's cut-out attached")
        row.addWidget(self.ask_photo)
        row.addWidget(self.ask_object)
        layout.addLayout(row)

    def say(self, text: str) -> None:
        """Show `text` under the button ('' hides the line)."""
        self.result.setText(text)
        self.result.setVisible(bool(text))

    def current(self) -> list[str]:
        """The labels as typed: comma-separated, blanks and duplicates dropped."""
        return parse_labels(self.labels.text())

    def save(self) -> None:
        """Keep the typed labels for next time (<data>/clip/labels.txt); an empty line keeps the old list."""
        labels = self.current()
        if labels:
            save_labels(labels)


class VisionController:
    """Runs the photo search, the object labels and the ask actions for a SegmentTab."""

    def __init__(self, tab, photos: PhotoList, box: LabelBox) -> None:
        self.tab, self.photos, self.box = tab, photos, box
        self._label = None
        photos.hide()  # shown while a folder is open
        photos.sig_open.connect(self.open)
        photos.search.sig_order.connect(self._on_order)
        box.label_button.clicked.connect(self.label_object)
        box.ask_photo.clicked.connect(self.ask_photo)
        box.ask_object.clicked.connect(self.ask_object)

    # ---- the folder --------------------------------------------------------------------------------------------
    def show_folder(self, files: list[Path]) -> None:
        """A folder was opened: list its photos (the list shows while there are some)."""
        self.photos.set_files(files)
        self.photos.setVisible(bool(files))

    def on_opened(self) -> None:
        """A photo was opened: select it in the list (a single photo, not from a folder, hides the list)."""
        folder = self.tab.folder
        self.photos.setVisible(bool(folder))
        if folder and 0 <= self.tab.folder_index < len(folder):
            self.photos.select(folder[self.tab.folder_index])

    def open(self, path: str) -> None:
        """Open a photo of the folder (clicked in the list)."""
        path = Path(path)
        if path in self.tab.folder:
            self.tab.folder_index = self.tab.folder.index(path)
            self.tab.open_image(path)

    def _on_order(self, order) -> None:
        """Ranked (or restored): ◀ ▶ and the photos prepared ahead follow the list's order."""
        tab = self.tab
        current = tab.folder[tab.folder_index] if 0 <= tab.folder_index < len(tab.folder) else None
        tab.folder = list(order) if order is not None else list(self.photos.search.files)
        tab.folder_index = tab.folder.index(current) if current in tab.folder else 0
        tab._update_buttons()
        tab.show_position()

    def refresh(self) -> None:
        """Enable what applies: labelling and asking about an object need its mask (and labels, a CLIP model)."""
        has_object = self.tab.session.active.prediction is not None and self.tab.opened is not None
        has_clip = self.photos.search.model is not None
        self.box.label_button.setEnabled(has_object and has_clip and self._label is None)
        self.box.label_button.setToolTip(self.box.label_button.toolTip() if has_clip else
                                         "Labels need a CLIP model: get one in Models → Catalog: CLIP ViT-B/32.")
        self.box.ask_photo.setEnabled(self.tab.opened is not None)
        self.box.ask_object.setEnabled(has_object)

    # ---- the selected object -----------------------------------------------------------------------------------
    def _save_cutout(self, on_saved):
        """Write the selected object's cut-out (RGBA, cropped) into the data folder; on_saved(path) when written."""
        tab = self.tab
        if tab.opened is None or tab.session.active.prediction is None:
            return None
        folder = paths.data_dir() / "segment-cutouts"
        folder.mkdir(parents=True, exist_ok=True)
        layer = tab.session.active
        target = folder / f"{tab.opened.image.key[:16]}-{layer.lid}-{layer.vid}.png"
        return tab.export_to("cutout", target, lambda out: on_saved(Path(out["path"])))

    def label_object(self):
        """Label the selected object: its cut-out, then the label job; the best label renames its layer."""
        labels = self.box.current()
        if not labels:
            self.tab.ctx.show_message("Write at least one label, for example: cat, dog, boat.", "warning")
            return None
        self.box.save()
        session, lid = self.tab.session, self.tab.session.active.lid
        model = self.photos.search.model

        def saved(path: Path) -> None:
            handle = self.tab.ctx.jobs.submit(Job(label_job, LabelInputs(path, labels, model),
                                                  name="Label object (CLIP)", resource=RESOURCE))
            self._label = handle
            handle.sig_done.connect(lambda ranked: self._labelled(session, lid, ranked))
            handle.sig_error.connect(lambda message: self.box.say(message))
            handle.sig_finished.connect(self._label_finished)

        self.box.say("Labelling…")
        handle = self._save_cutout(saved)
        if handle is not None:
            handle.sig_error.connect(self.box.say)
        return handle

    def _labelled(self, session, lid: int, ranked: list[tuple[str, float]]) -> None:
        top = ", ".join(f"{label} {prob:.0%}" for label, prob in ranked[:3])
        self.box.say(f"Most likely: {top}.")
        if session is not self.tab.session:
            return  # another photo since
        index = next((i for i, layer in enumerate(session.layers) if layer.lid == lid), None)
        if index is not None:
            self.tab._change(lambda: session.rename_layer(index, ranked[0][0]))

    def _label_finished(self) -> None:
        self._label = None
        self.refresh()

    def ask_photo(self) -> None:
        """Open a chat about the photo's file (a pasted photo has none: a sentence says so)."""
        opened = self.tab.opened
        if opened is None:
            return
        if opened.image.path is None:
            self.tab.ctx.show_message("A pasted photo has no file to attach; select an object and use Ask about "
                                      "object, or open the photo from a file.", "info")
            return
        ask_about_image(self.tab.ctx, opened.image.path)

    def ask_object(self):
        """Save the selected object's cut-out and open a chat about it; returns the export's job handle."""
        return self._save_cutout(lambda path: ask_about_image(self.tab.ctx, path))

    def cancel(self) -> None:
        """Stop the photo list's jobs and a label in progress."""
        self.photos.cancel()
        if self._label is not None:
            self._label.cancel()
