"""Images tab: until its engine lands, an empty state that says what to do first."""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.ui.context import AppContext
from app.ui.widgets import EmptyState


class ImagesTab(QWidget):
    title = "Images"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        layout = QVBoxLayout(self)
        self.empty = EmptyState(
            "No image model yet",
            "Get a Stable Diffusion checkpoint in Models (SD-Turbo is small and fast), or open a .safetensors file you already have.",
            [("Go to Models", lambda: ctx.show_tab("models"))],
        )
        layout.addWidget(self.empty)
