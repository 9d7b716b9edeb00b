"""Chat tab: until a chat engine lands, an empty state that says what to do first."""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.ui.context import AppContext
from app.ui.widgets import EmptyState


class ChatTab(QWidget):
    title = "Chat"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        layout = QVBoxLayout(self)
        self.empty = EmptyState(
            "No chat model yet",
            "Get one in Models, or open a .gguf file you already have. "
            "Everything runs on this computer; nothing you type leaves it.",
            [("Go to Models", lambda: ctx.show_tab("models"))],
        )
        layout.addWidget(self.empty)
