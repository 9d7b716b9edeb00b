"""Find pictures by describing them: the search box the Images gallery and Segment's photo list share.

`ClipSearch` is a line edit ("Describe a picture…") and a note under it. Its owner gives it the files it shows, in
their normal order (`set_files` / `add_files`) and the QListWidget that shows them (`attach`); each item carries its
file in PATH_ROLE. The files are indexed in the background (core/clip `index_folder_job` on the "clip-model"
resource; embeddings cached on disk by content hash, so only new or changed pictures are read), a query ranks them
(`search_job`) and the list is reordered best first; clearing the box restores the normal order. Nothing here runs
CLIP on the GUI thread. Without an installed CLIP model the box is disabled and says how to get one.

`ask_about_image` is the "Ask about this image" action both tabs offer.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QLineEdit, QListWidget, QVBoxLayout, QWidget

from app.core.clip.jobs import RESOURCE, SearchInputs, index_folder_job, search_job
from app.core.clip.model import KIND
from app.core.jobs import Job
from app.core.models import registry

PATH_ROLE = Qt.ItemDataRole.UserRole + 7  # an item's file (str), for reordering
NO_MODEL = ("Searching by description needs a CLIP model: get one in Models → Catalog: CLIP ViT-B/32 "
            "(about 600 MB).")
DELAY_MS = 300  # typing pause before a search starts


def ask_about_image(ctx, path: str | Path) -> None:
    """Open a chat about `path` (an image file): show the Chat tab (built on first use, so it can listen), then
    announce the image on the bus."""
    ctx.show_tab("chat")
    ctx.bus.sig_ask_about_image.emit(str(path))


def skipped_note(skipped: dict) -> str:
    """'Skipped 2 files that are not readable images: a.jpg, b.png.' or '' (skipped: path → reason)."""
    if not skipped:
        return ""
    names = ", ".join(Path(p).name for p in list(skipped)[:3]) + ("…" if len(skipped) > 3 else "")
    plural = "file that is not a readable image" if len(skipped) == 1 else "files that are not readable images"
    return f" Skipped {len(skipped)} {plural}: {names}."


class ClipSearch(QWidget):
    """The search box and its background index (see the module doc)."""

    sig_order = Signal(object)  # list[Path] best first (files without an embedding last), or None: normal order

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.files: list[Path] = []
        self.model: Path | None = None
        self.list: QListWidget | None = None
        self.order: list[Path] | None = None  # the ranked order shown, None: the normal order
        self.skipped: dict = {}
        self._index = self._search = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.box = QLineEdit()
        self.box.setPlaceholderText("Describe a picture…")
        self.box.setClearButtonEnabled(True)
        self.box.setToolTip("Rank these pictures by how well they match a description (CLIP), e.g. \"a dog on a "
                            "beach\". Clear the box for the normal order.")
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.setObjectName("clipNote")
        layout.addWidget(self.box)
        layout.addWidget(self.note)
        self._index_timer = QTimer(self, singleShot=True, interval=DELAY_MS, timeout=self._start_index)
        self._search_timer = QTimer(self, singleShot=True, interval=DELAY_MS, timeout=self._start_search)
        self.box.textChanged.connect(self._on_text)
        self.box.returnPressed.connect(self._start_search)
        ctx.bus.sig_models_changed.connect(self.refresh_model)
        self.refresh_model()

    # ---- the owner's side --------------------------------------------------------------------------------------
    def attach(self, widget: QListWidget) -> None:
        """Reorder `widget`'s items (by their PATH_ROLE) as searches rank them."""
        self.list = widget
        self.sig_order.connect(self._reorder)

    def set_files(self, files) -> None:
        """The pictures to search, in their normal order; new or changed ones are indexed in the background."""
        self.cancel()  # a search still running was for the previous files
        self.files = [Path(f) for f in dict.fromkeys(str(f) for f in files)]
        self.skipped = {}
        self.order = None
        self._changed()

    def add_files(self, files, front: bool = False) -> None:
        """More pictures (a new image in the gallery): first or last in the normal order; indexed in the background,
        and ranked in when a query is on."""
        new = [Path(f) for f in files if Path(f) not in self.files]
        self.files = new + self.files if front else self.files + new
        self._changed()

    @property
    def query(self) -> str:
        """The description in the box, stripped ('' when none)."""
        return self.box.text().strip()

    def refresh_model(self) -> None:
        """Use the first installed CLIP model; without one the box is disabled and says how to get one."""
        installed = registry.installed(KIND)
        self.model = installed[0].path if installed else None
        self.box.setEnabled(self.model is not None)
        if self.model is None:
            self.note.setText(NO_MODEL)
            self.note.show()
        else:
            self.note.setText("")
            self._changed()

    # ---- jobs --------------------------------------------------------------------------------------------------
    def _changed(self) -> None:
        if self.model is None:
            return
        if self.query:
            self._search_timer.start()  # the search indexes what is new on the way
        elif self.files:
            self._index_timer.start()

    def _inputs(self, **kw) -> SearchInputs:
        return SearchInputs(None, model=self.model, files=list(self.files), **kw)

    def _start_index(self) -> None:
        if self.model is None or not self.files or self.query:
            return
        handle = self.ctx.jobs.submit(Job(index_folder_job, self._inputs(), name="Index pictures (CLIP)",
                                          resource=RESOURCE), replace=f"clip-index-{id(self)}")
        self._index = handle
        self._follow(handle, self._indexed)

    def _start_search(self) -> None:
        self._search_timer.stop()
        if self.model is None or not self.query or not self.files:
            return
        if self._index is not None:
            self._index.cancel()  # the search indexes too
        handle = self.ctx.jobs.submit(Job(search_job, self._inputs(query=self.query, k=len(self.files)),
                                          name=f"Search pictures: {self.query[:30]}", resource=RESOURCE),
                                      replace=f"clip-search-{id(self)}")
        self._search = handle
        self._follow(handle, self._ranked)

    def _follow(self, handle, on_done) -> None:
        handle.sig_progress.connect(lambda f, t: self._progress(handle, f, t))
        handle.sig_done.connect(lambda r: on_done(handle, r))
        handle.sig_error.connect(lambda m: self._failed(handle, m))
        handle.sig_finished.connect(lambda: self._finished(handle))

    def _finished(self, handle) -> None:
        if handle is self._index:
            self._index = None
        if handle is self._search:
            self._search = None

    def _on_text(self, text: str) -> None:
        if text.strip():
            self._search_timer.start()
            return
        self._search_timer.stop()
        if self._search is not None:
            self._search.cancel()
            self._search = None
        if self.order is not None:
            self.order = None
            self.sig_order.emit(None)
        self._changed()

    def _current(self, handle) -> bool:
        return handle is self._search or handle is self._index

    def _progress(self, handle, fraction, text: str) -> None:
        if self._current(handle) and text:
            self.note.setText(text + "…" if fraction is None else f"{text} ({int(fraction * 100)}%)")

    def _indexed(self, handle, result) -> None:
        if handle is not self._index:
            return
        self._index = None
        self.skipped = result.skipped
        n = len(result.files)
        ready = f"{n} {'picture' if n == 1 else 'pictures'} ready to search."
        self.note.setText(ready + skipped_note(result.skipped))

    def _ranked(self, handle, result) -> None:
        if handle is not self._search or not self.query:
            return
        self._search = None
        self.skipped = result.skipped
        ranked = [h.file for h in result.hits]
        seen = set(ranked)
        self.order = ranked + [f for f in self.files if f not in seen]
        best = f" Best: {ranked[0].name} ({result.hits[0].score:.2f})." if ranked else ""
        self.note.setText(f"Ranked {len(ranked)} pictures by “{self.query}”.{best}" + skipped_note(result.skipped))
        self.sig_order.emit(list(self.order))

    def _failed(self, handle, message: str) -> None:
        if self._current(handle):
            self.note.setText(message)

    def _reorder(self, order) -> None:
        reorder(self.list, order if order is not None else self.files)

    def cancel(self) -> None:
        """Stop the indexing or search in progress (its result is dropped)."""
        for handle in (self._index, self._search):
            if handle is not None:
                handle.cancel()
        self._index = self._search = None


def reorder(widget: QListWidget, order: list) -> None:
    """Put `widget`'s items in `order` (files, matched by PATH_ROLE); items not in it keep their order after. The
    current item stays current."""
    current = widget.currentItem()
    blocked = widget.blockSignals(True)  # the selection only seems to change while the items move
    items = [widget.takeItem(0) for _ in range(widget.count())]
    rank = {str(p): i for i, p in enumerate(order)}
    items.sort(key=lambda it: rank.get(it.data(PATH_ROLE), len(rank)))  # stable: the rest keep their order
    for item in items:
        widget.addItem(item)
    if current is not None:
        widget.setCurrentItem(current)
    widget.blockSignals(blocked)
    widget.scrollToTop()
