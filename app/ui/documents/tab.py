"""Documents tab: until its engine lands, an empty state that says what to do first."""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.ui.context import AppContext
from app.ui.widgets import EmptyState


class DocumentsTab(QWidget):
    title = "Documents"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        layout = QVBoxLayout(self)
        self.empty = EmptyState(
            "No collections yet",
            "Make a collection from your PDFs, notes and folders, then ask questions and get answers cited to file and page. Indexing happens on this computer.",
            [("Go to Models", lambda: ctx.show_tab("models"))],
        )
        layout.addWidget(self.empty)
