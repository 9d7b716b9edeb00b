"""Documents tab: collections of files and folders, their indexing state, and search over them."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QInputDialog, QLabel, QListWidget,
                               QListWidgetItem, QMessageBox, QProgressBar, QPushButton, QSplitter, QStackedWidget,
                               QVBoxLayout, QWidget)

from app.core.documents import jobs as docs_jobs
from app.core.documents.store import Store
from app.core.jobs import Job
from app.ui.context import AppContext
from app.ui.documents.files_view import FilesView
from app.ui.documents.search_view import SearchPanel
from app.ui.documents.watcher import CollectionWatcher
from app.ui.widgets import EmptyState

BUILTIN_LABEL = "all-MiniLM-L6-v2 (built-in)"


class DocumentsTab(QWidget):

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.store = Store()
        self._index_jobs: dict[str, object] = {}  # collection -> running/queued handle
        self._rerun: set[str] = set()
        self._search_handle = None
        self._names: list[str] | None = None  # collection names last shown (to tell other tabs of changes)
        self.setAcceptDrops(True)

        self.stack = QStackedWidget()
        self.empty = EmptyState(
            "No collections yet",
            "Make a collection from your PDFs, notes, scans and folders (or drop them here), then search them and get "
            "answers cited to file and page. Indexing happens on this computer; folders are watched for changes.",
            [("Add folder…", self.pick_folder), ("Add files…", self.pick_files)])
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self._build_main())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)

        self.watcher = CollectionWatcher(self)
        self.watcher.sig_changed.connect(self._on_watched_change)
        self.refresh_collections()
        QTimer.singleShot(0, self._startup_scan)

    # ---- layout ------------------------------------------------------------------------------------------------
    def _build_main(self) -> QWidget:
        main = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(6, 6, 0, 6)
        lv.addWidget(QLabel("<b>Collections</b>"))
        self.collections = QListWidget()
        self.collections.currentItemChanged.connect(lambda *_: self._show_current())
        lv.addWidget(self.collections, 1)
        row = QHBoxLayout()
        self.new_button = QPushButton("New…")
        self.new_button.clicked.connect(self.new_collection_dialog)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_current_dialog)
        row.addWidget(self.new_button)
        row.addWidget(self.remove_button)
        lv.addLayout(row)
        main.addWidget(left)

        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 6, 6, 6)
        head = QHBoxLayout()
        self.heading = QLabel()
        font = self.heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.heading.setFont(font)
        head.addWidget(self.heading, 1)
        head.addWidget(QLabel("Embedder:"))
        self.embedder = QComboBox()
        self.embedder.setToolTip("The model that turns passages into vectors. Changing it re-embeds every file.")
        self.embedder.activated.connect(self._on_embedder_picked)
        head.addWidget(self.embedder)
        rv.addLayout(head)
        actions = QHBoxLayout()
        self.add_files_button = QPushButton("Add files…")
        self.add_files_button.clicked.connect(self.pick_files)
        self.add_folder_button = QPushButton("Add folder…")
        self.add_folder_button.clicked.connect(self.pick_folder)
        self.reindex_button = QPushButton("Re-scan")
        self.reindex_button.setToolTip("Index new and changed files, drop deleted ones")
        self.reindex_button.clicked.connect(lambda: self.reindex(self.current_name()))
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop indexing; files already indexed are kept")
        self.cancel_button.clicked.connect(self.cancel_index)
        for w in (self.add_files_button, self.add_folder_button, self.reindex_button, self.cancel_button):
            actions.addWidget(w)
        actions.addStretch(1)
        self.ocr_box = QCheckBox("Read scanned pages (OCR)")
        self.ocr_box.setToolTip("Read the text of scanned PDF pages and PNG, JPEG and TIFF images with OCR, on this "
                                "computer (seconds per page). Off: such pages are listed as having no text layer.")
        self.ocr_box.setChecked(self.ctx.settings.documents.ocr)
        self.ocr_box.toggled.connect(self.set_ocr)
        actions.addWidget(self.ocr_box)
        rv.addLayout(actions)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.status = QLabel()
        self.status.setWordWrap(True)
        rv.addWidget(self.progress)
        rv.addWidget(self.status)
        split = QSplitter(Qt.Orientation.Vertical)
        self.files = FilesView()
        self.search_panel = SearchPanel()
        self.search_panel.set_mode(self.ctx.settings.documents.mode)
        self.search_panel.sig_search.connect(self.search)
        split.addWidget(self.files)
        split.addWidget(self.search_panel)
        split.setSizes([260, 340])
        rv.addWidget(split, 1)
        main.addWidget(right)
        main.setSizes([200, 700])
        main.setStretchFactor(1, 1)
        self._set_busy(False)
        return main

    # ---- collections -------------------------------------------------------------------------------------------
    def current_name(self) -> str | None:
        item = self.collections.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def refresh_collections(self, select: str | None = None) -> None:
        select = select or self.current_name()
        infos = self.store.collections()
        self.collections.blockSignals(True)
        self.collections.clear()
        for info in infos:
            item = QListWidgetItem(info.name)
            item.setData(Qt.ItemDataRole.UserRole, info.name)
            self.collections.addItem(item)
            if info.name == select:
                self.collections.setCurrentItem(item)
        if self.collections.currentItem() is None and self.collections.count():
            self.collections.setCurrentRow(0)
        self.collections.blockSignals(False)
        self.stack.setCurrentIndex(1 if infos else 0)
        names = [info.name for info in infos]
        if self._names is not None and names != self._names:
            self.ctx.bus.sig_collections_changed.emit()
        self._names = names
        if self.ctx.settings.documents.watch:
            for info in infos:
                self.watcher.watch(info.name, self.store.sources(info))
        self._show_current()

    def _show_current(self) -> None:
        name = self.current_name()
        if name is None:
            return
        info = self.store.find(name)
        if info is None:
            return
        files = self.store.files(info)
        summary = docs_jobs.summarize(self.store, info, files)
        self.heading.setText(name)
        self.heading.setToolTip("\n".join(summary.sources))
        self._fill_embedders(info.model)
        self.files.set_files(files)
        if name not in self._index_jobs:
            text = f"{summary.files} files · {summary.indexed} indexed · {summary.chunks} passages"
            if summary.failed:
                text += f" · {summary.failed} could not be read (see Details)"
            if summary.empty:
                text += f" · {summary.empty} empty"
            self.status.setText(text)
        self._set_busy(name in self._index_jobs)

    def _fill_embedders(self, current: str) -> None:
        from app.core.documents.embedder import BUILTIN, available_embedders

        self.embedder.blockSignals(True)
        self.embedder.clear()
        try:
            choices = [key for key, _ in available_embedders()]
        except Exception:  # noqa: BLE001 - the built-in package missing: still show the recorded model
            choices = [BUILTIN]
        if current not in choices:
            choices.append(current)
        for key in choices:
            self.embedder.addItem(BUILTIN_LABEL if key == BUILTIN else key, key)
        self.embedder.setCurrentIndex(self.embedder.findData(current))
        self.embedder.blockSignals(False)

    def _unique_name(self, base: str) -> str:
        names = {c.name for c in self.store.collections()}
        name, n = base or "Documents", 2
        while name in names:
            name, n = f"{base} {n}", n + 1
        return name

    def new_collection_dialog(self) -> None:
        name, ok = QInputDialog.getText(self, "New collection", "Name:", text=self._unique_name("Documents"))
        if ok and name.strip():
            self.create_collection(name.strip(), [])

    def create_collection(self, name: str, paths: list[str]) -> None:
        from app.core.documents.indexer import open_collection

        docs = self.ctx.settings.documents
        request = docs_jobs.IndexRequest(name, model=docs.embedder, chunk_tokens=docs.chunk_tokens,
                                         chunk_overlap=docs.chunk_overlap, stemming=docs.stemming)
        try:
            open_collection(self.store, request)
        except Exception as exc:  # noqa: BLE001 - shown, not raised
            self.ctx.show_message(f"Could not create the collection: {exc}", "error")
            return
        self.refresh_collections(select=name)
        if paths:
            self.add_paths(paths)

    def remove_current_dialog(self) -> None:
        name = self.current_name()
        if name and QMessageBox.question(
                self, "Remove collection", f"Remove the collection “{name}” and its index? Your files are not "
                "touched.") == QMessageBox.StandardButton.Yes:
            self.remove_collection(name)

    def remove_collection(self, name: str):
        handle = self._index_jobs.get(name)
        if handle is not None:
            handle.cancel()
        self.watcher.forget(name)
        job = Job(docs_jobs.remove_collection_job, name, name=f"Remove {name}", resource=docs_jobs.RESOURCE)
        h = self.ctx.jobs.submit(job)
        h.sig_done.connect(lambda _r: self.refresh_collections())
        h.sig_error.connect(lambda msg: self.ctx.show_message(msg, "error"))
        return h

    # ---- adding and indexing -----------------------------------------------------------------------------------
    def pick_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Add files", str(Path.home()),
                                                "Documents (*.pdf *.txt *.md *.markdown *.html *.htm *.docx "
                                                "*.png *.jpg *.jpeg *.tif *.tiff);;"
                                                "All files (*)")
        if files:
            self.add_paths(files)

    def pick_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add folder", str(Path.home()))
        if folder:
            self.add_paths([folder])

    def add_paths(self, paths: list[str]):
        paths = [os.path.abspath(p) for p in paths]
        name = self.current_name()
        if name is None:
            first = Path(paths[0])
            name = self._unique_name(first.name if first.is_dir() else first.parent.name or "Documents")
            self.create_collection(name, [])
        return self.reindex(name, add=paths)

    def reindex(self, name: str | None, add: list[str] | None = None):
        if not name:
            return None
        if name in self._index_jobs and not add:
            self._rerun.add(name)  # changes while indexing: scan again when this run ends
            return self._index_jobs[name]
        request = docs_jobs.IndexRequest(name, add=list(add or []), create=False,
                                         stemming=self.ctx.settings.documents.stemming,
                                         ocr=self.ctx.settings.documents.ocr)
        job = Job(docs_jobs.index_collection, request, name=f"Index {name}", resource=docs_jobs.RESOURCE)
        handle = self.ctx.jobs.submit(job)
        self._index_jobs[name] = handle
        handle.sig_progress.connect(lambda f, t, n=name: self._on_progress(n, f, t))
        handle.on_partial(docs_jobs.FileIndexed, lambda v, n=name: self._on_file(n, v))
        handle.sig_done.connect(lambda report, n=name: self._on_indexed(n, report))
        handle.sig_error.connect(lambda msg, n=name: self.ctx.show_message(f"Indexing {n} failed: {msg}", "error"))
        handle.sig_cancelled.connect(lambda n=name: self.status.setText("Cancelled — what was indexed is kept.")
                                     if n == self.current_name() else None)
        handle.sig_finished.connect(lambda n=name, h=handle: self._on_index_finished(n, h))
        if name == self.current_name():
            self._set_busy(True)
            self.status.setText("Waiting to index…")
        return handle

    def set_ocr(self, on: bool) -> None:
        """The OCR setting (settings.documents.ocr), saved; turned on, the collection is scanned again so pages
        skipped while it was off are read."""
        if self.ocr_box.isChecked() != on:
            self.ocr_box.setChecked(on)  # toggled() calls back here
            return
        self.ctx.settings.documents.ocr = on
        self.ctx.save_settings()
        if on and self.current_name():
            self.reindex(self.current_name())

    def cancel_index(self) -> None:
        handle = self._index_jobs.get(self.current_name() or "")
        if handle is not None:
            self._rerun.discard(self.current_name())
            handle.cancel()

    def _on_progress(self, name: str, fraction, text: str) -> None:
        if name != self.current_name():
            return
        self.progress.setRange(0, 0 if fraction is None else 1000)
        if fraction is not None:
            self.progress.setValue(int(fraction * 1000))
        self.status.setText(text)

    def _on_file(self, name: str, done: docs_jobs.FileIndexed) -> None:
        if name == self.current_name():
            self.files.update_file(done.file, done.state, done.reason, done.chunks, done.pages)

    def _on_indexed(self, name: str, report) -> None:
        if report.failed and name == self.current_name():
            self.status.setText(f"{len(report.failed)} files could not be read — see Details.")

    def _on_index_finished(self, name: str, handle) -> None:
        if self._index_jobs.get(name) is handle:
            del self._index_jobs[name]
        self.refresh_collections()
        if name in self._rerun and handle.status == "done":
            self._rerun.discard(name)
            self.reindex(name)

    def _set_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.reindex_button.setEnabled(not busy)
        self.embedder.setEnabled(not busy)

    def _startup_scan(self) -> None:
        """At startup, pick up what changed while Hearth was closed (or finish an interrupted run)."""
        for info in self.store.collections():
            self.reindex(info.name)

    def _on_watched_change(self, name: str) -> None:
        if self.store.find(name) is not None:
            self.reindex(name)

    # ---- embedder ----------------------------------------------------------------------------------------------
    def _on_embedder_picked(self, index: int) -> None:
        name = self.current_name()
        info = self.store.find(name or "")
        key = self.embedder.itemData(index)
        if info is None or key == info.model:
            return
        answer = QMessageBox.question(self, "Change embedder",
                                      f"Re-embed every file of “{name}” with {self.embedder.itemText(index)}? "
                                      "Search is unavailable until it finishes.")
        if answer == QMessageBox.StandardButton.Yes:
            self.change_embedder(name, key)
        else:
            self._fill_embedders(info.model)

    def change_embedder(self, name: str, key: str):
        job = Job(docs_jobs.change_embedder, docs_jobs.ChangeEmbedder(name, key), name=f"Re-embed {name}",
                  resource=docs_jobs.RESOURCE)
        handle = self.ctx.jobs.submit(job)
        self._index_jobs[name] = handle
        handle.sig_progress.connect(lambda f, t, n=name: self._on_progress(n, f, t))
        handle.sig_error.connect(lambda msg: self.ctx.show_message(msg, "error"))
        handle.sig_finished.connect(lambda n=name, h=handle: self._on_index_finished(n, h))
        self._set_busy(True)
        return handle

    # ---- search ------------------------------------------------------------------------------------------------
    def search(self, query: str, mode: str | None = None):
        name = self.current_name()
        if not name:
            return None
        docs = self.ctx.settings.documents
        options = docs_jobs.options_from_settings(docs, mode=mode)
        job = Job(docs_jobs.search, docs_jobs.SearchRequest([name], query, options), name="Search documents")
        handle = self.ctx.jobs.submit(job, replace="documents-search")
        self.search_panel.set_note("")
        handle.on_partial(docs_jobs.StillIndexing, lambda n: self.search_panel.set_note(n.note))
        handle.sig_done.connect(self.search_panel.show_hits)
        handle.sig_error.connect(self.search_panel.show_error)
        self._search_handle = handle
        return handle

    # ---- drag and drop -----------------------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.add_paths(paths)
            event.acceptProposedAction()

    def shutdown(self) -> None:
        for handle in list(self._index_jobs.values()):
            handle.cancel()
