"""Segment tab: until its engine lands, an empty state that says what to do first."""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.ui.context import AppContext
from app.ui.widgets import EmptyState


class SegmentTab(QWidget):
    title = "Segment"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        layout = QVBoxLayout(self)
        self.empty = EmptyState(
            "No Segment Anything model yet",
            "Get SAM (vit_b is the smallest) in Models, then open a photo and click on an object to cut it out.",
            [("Go to Models", lambda: ctx.show_tab("models"))],
        )
        layout.addWidget(self.empty)
