"""Search a collection and show the passages with file, page and score (no language model involved)."""

from __future__ import annotations

import html
import os

from PySide6.QtCore import QUrl, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from app.ui.open_file import file_url, open_url

MODES = [("Hybrid", "hybrid"), ("Meaning (dense)", "dense"), ("Keywords (BM25)", "bm25")]


class SearchPanel(QWidget):
    sig_search = Signal(str, str)  # query, mode

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.query = QLineEdit()
        self.query.setPlaceholderText("Search this collection…")
        self.query.setClearButtonEnabled(True)
        self.mode = QComboBox()
        for label, key in MODES:
            self.mode.addItem(label, key)
        self.button = QPushButton("Search")
        row.addWidget(self.query, 1)
        row.addWidget(self.mode)
        row.addWidget(self.button)
        layout.addLayout(row)
        self.results = QTextBrowser()
        self.results.setOpenLinks(False)
        self.results.anchorClicked.connect(self._open)
        self.results.setPlaceholderText("Passages that match your search appear here, with file, page and score.")
        layout.addWidget(self.results, 1)
        self.query.returnPressed.connect(self._submit)
        self.button.clicked.connect(self._submit)
        self.hits: list = []
        self.note = ""  # shown above the hits: "Indexing 120 of 677 pages — answers use what is indexed so far."

    def set_mode(self, key: str) -> None:
        index = self.mode.findData(key)
        if index >= 0:
            self.mode.setCurrentIndex(index)

    def _submit(self) -> None:
        text = self.query.text().strip()
        if text:
            self.results.setHtml("<p><i>Searching…</i></p>")
            self.sig_search.emit(text, self.mode.currentData())

    def show_error(self, message: str) -> None:
        self.results.setHtml(f"<p style='color:#b02a37'>{html.escape(message)}</p>")

    def set_note(self, note: str) -> None:
        """A line shown above the next hits (the collection is still indexing); "" for none."""
        self.note = note

    def show_hits(self, hits: list) -> None:
        self.hits = hits
        note = f"<p style='color:#8a6d3b'><i>{html.escape(self.note)}</i></p>" if self.note else ""
        if not hits:
            self.results.setHtml(note + "<p><i>No passages found.</i></p>")
            return
        parts = [note] if note else []
        for i, hit in enumerate(hits, 1):
            where = f"page {hit.page}" if hit.page is not None else html.escape(hit.heading or "")
            where = f"{where} (OCR)".lstrip() if hit.ocr else where
            url = file_url(hit.file, hit.page)
            sim = f" · similarity {hit.similarity:.2f}" if hit.similarity is not None else ""
            text = html.escape(" ".join(hit.text.split()))
            if len(text) > 700:
                text = text[:700] + "…"
            parts.append(
                f"<p><b>{i}. <a href='{url.toString()}'>{html.escape(os.path.basename(hit.file))}</a></b>"
                f" — {where} <span style='color:#6c757d'>· score {hit.score:.4f}{sim}</span><br>{text}</p>")
        self.results.setHtml("".join(parts))

    def _open(self, url: QUrl) -> None:
        open_url(url)
