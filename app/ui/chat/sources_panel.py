"""The passages a reply drew on: number, file, page and text, each file a link that opens it at its page."""

from __future__ import annotations

import html
import os

from PySide6.QtCore import QUrl, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QTextBrowser, QToolButton, QVBoxLayout, QWidget

from app.core.chat.documents import DocumentsUse, names
from app.ui.open_file import file_url, open_url

MAX_CHARS = 1200


def encoded(url: QUrl) -> str:
    return bytes(url.toEncoded()).decode("ascii")


def where(source) -> str:
    """Where in its file a passage is: its page(s), else its heading; "(OCR)" when OCR read it."""
    return html.escape(source.where)


class SourcesPanel(QWidget):
    sig_opened = Signal(QUrl)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.use: DocumentsUse | None = None
        self.message_id: int | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 0)
        head = QHBoxLayout()
        self.title = QLabel("<b>Sources</b>")
        head.addWidget(self.title, 1)
        close = QToolButton()
        close.setText("×")
        close.setAutoRaise(True)
        close.setToolTip("Hide the sources")
        close.clicked.connect(self.hide)
        head.addWidget(close)
        layout.addLayout(head)
        self.body = QTextBrowser()
        self.body.setOpenLinks(False)
        self.body.anchorClicked.connect(self.open)
        layout.addWidget(self.body, 1)

    def show_use(self, use: DocumentsUse | None, message_id: int | None = None, highlight: int | None = None) -> None:
        """Show what a reply drew on (`highlight`: a source number to mark, e.g. the citation clicked)."""
        self.use, self.message_id = use, message_id
        if use is None:
            self.body.setHtml("")
            self.title.setText("<b>Sources</b>")
            return
        searched = names(use.collections) if use.collections else "no collection"
        self.title.setText(f"<b>Sources</b> — {len(use.sources)} passage{'s' if len(use.sources) != 1 else ''}"
                           f" from {html.escape(searched)}")
        parts = [f"<p style='color:#b02a37'>{html.escape(p)}</p>" for p in use.problems]
        if use.searched_for:
            parts.append(f"<p><i>Searched for: {html.escape(use.searched_for)}</i></p>")
        if use.nothing_found:
            parts.append(f"<p><i>{html.escape(use.note)} The reply cites nothing.</i></p>")
        elif use.note:
            parts.append(f"<p><i>{html.escape(use.note)}</i></p>")
        for s in use.sources:
            href = html.escape(encoded(file_url(s.file, s.page)), quote=True)
            mark = " (cited)" if s.n in use.cited else ""
            text = html.escape(" ".join(s.text.split()))
            if len(text) > MAX_CHARS:
                text = text[:MAX_CHARS] + "…"
            style = " style='background-color: rgba(255, 213, 79, 60)'" if s.n == highlight else ""
            parts.append(f"<p{style}><a name='source-{s.n}'></a><b>[{s.n}]</b> "
                         f"<a href=\"{href}\">{html.escape(os.path.basename(s.file))}</a> — {where(s)}"
                         f"<span style='color:#6c757d'>{mark}</span><br>{text}</p>")
        self.body.setHtml("".join(parts))
        if highlight is not None:
            self.body.scrollToAnchor(f"source-{highlight}")
        self.show()

    def urls(self) -> list[str]:
        return [file_url(s.file, s.page).toString() for s in (self.use.sources if self.use else [])]

    def open(self, url: QUrl) -> None:
        open_url(url)
        self.sig_opened.emit(url)
