"""File → Settings…: the app-wide settings that belong to no tab — the server and the connections."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTabWidget, QVBoxLayout

from app.ui.connections.page import ConnectionsPage
from app.ui.server.page import ServerPage


class SettingsDialog(QDialog):
    """Pages: Server (ServerPage) and Connections (ConnectionsPage). The server page applies on close."""

    def __init__(self, ctx, controller=None, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.resize(720, 520)
        layout = QVBoxLayout(self)
        self.pages = QTabWidget()
        self.server_page = ServerPage(ctx, controller)
        self.connections_page = ConnectionsPage(ctx)
        self.pages.addTab(self.server_page, "Server")
        self.pages.addTab(self.connections_page, "Connections")
        layout.addWidget(self.pages, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)

    def show_page(self, name: str) -> None:
        self.pages.setCurrentWidget(self.connections_page if name == "connections" else self.server_page)

    def done(self, result: int) -> None:  # noqa: D401 - Qt override: Close, Esc and the window's ✕ come here
        self.server_page.apply()
        super().done(result)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        self.server_page.apply()
        super().closeEvent(event)
