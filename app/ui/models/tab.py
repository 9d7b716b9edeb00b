"""Models tab: until its engine lands, an empty state that says what to do first."""

from __future__ import annotations

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.core import paths

from app.ui.context import AppContext
from app.ui.widgets import EmptyState


class ModelsTab(QWidget):
    title = "Models"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        layout = QVBoxLayout(self)
        self.empty = EmptyState(
            "No models installed yet",
            "Models are the brains of every tab. Download one from the catalog, or import a .gguf / .safetensors / .pth file from disk.",
            [("Open models folder", self.open_models_folder)],
        )
        layout.addWidget(self.empty)

    def open_models_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(paths.models_dir())))
