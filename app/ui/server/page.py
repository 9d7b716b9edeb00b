"""Settings → Server: where the OpenAI-compatible server listens, its API key, and which web pages may call it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.server.serve import LOOPBACK
from app.ui.server.controller import ServerController

ALL_ADDRESSES = "0.0.0.0"


class ServerPage(QWidget):
    """Port, network access (with its warning), the API key (copy, make a new one) and allowed origins. Changes
    apply when the dialog closes (apply()); a running server restarts with them. A new key applies at once."""

    def __init__(self, ctx, controller: ServerController | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.controller = controller
        cfg = ctx.settings.server
        layout = QVBoxLayout(self)
        intro = QLabel("Hearth can serve its models to other programs over an OpenAI-compatible API (switch it on "
                       "in the status bar, or run hearth serve). Programs must send the API key below.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.port = QSpinBox()
        self.port.setRange(1024, 65535)
        self.port.setValue(cfg.port)
        form.addRow("Port", self.port)
        self.network = QCheckBox("Let other computers on the network use it")
        self.network.setChecked(cfg.host != LOOPBACK)
        form.addRow("", self.network)
        self.network_warning = QLabel("Anyone who can reach this computer and has the key can then use its "
                                      "models. Keep the key secret; prefer a firewall or a VPN to an open network.")
        self.network_warning.setWordWrap(True)
        self.network_warning.setStyleSheet("color: #b45309;")
        form.addRow("", self.network_warning)
        self.network.toggled.connect(self.network_warning.setVisible)
        self.network_warning.setVisible(self.network.isChecked())
        key_row = QHBoxLayout()
        self.key = QLineEdit(cfg.api_key or "made when the server first starts")
        self.key.setReadOnly(True)
        self.key.setObjectName("serverApiKey")
        self.copy_button = QPushButton("Copy")
        self.copy_button.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.ctx.settings.server.api_key))
        self.new_key_button = QPushButton("New key")
        self.new_key_button.setToolTip("Make a new key; programs using the old one must be given the new one")
        self.new_key_button.clicked.connect(self.regenerate_key)
        key_row.addWidget(self.key, 1)
        key_row.addWidget(self.copy_button)
        key_row.addWidget(self.new_key_button)
        form.addRow("API key", key_row)
        self.origins = QLineEdit(", ".join(cfg.cors_origins))
        self.origins.setPlaceholderText("none: web pages cannot call it (e.g. http://localhost:3000)")
        form.addRow("Allowed web origins", self.origins)
        layout.addLayout(form)
        self.address = QLabel("")
        self.address.setWordWrap(True)
        self.address.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.address)
        layout.addStretch(1)
        self._show_address()

    def _show_address(self) -> None:
        cfg = self.ctx.settings.server
        host = "localhost" if cfg.host == LOOPBACK else "THIS-COMPUTER"
        self.address.setText(f"Clients use the base URL http://{host}:{cfg.port}/v1 with the header "
                             "“Authorization: Bearer KEY”.")

    def regenerate_key(self) -> None:
        from app.core.server.serve import new_api_key

        self.ctx.settings.server.api_key = new_api_key()
        self.key.setText(self.ctx.settings.server.api_key)
        self.ctx.save_settings()
        if self.controller is not None:
            self.controller.restart()

    def apply(self) -> bool:
        """Store the page's values; restart a running server when they changed. True when something changed."""
        cfg = self.ctx.settings.server
        origins = [o.strip().rstrip("/") for o in self.origins.text().split(",") if o.strip()]
        values = (self.port.value(), ALL_ADDRESSES if self.network.isChecked() else LOOPBACK, origins)
        if values == (cfg.port, cfg.host, list(cfg.cors_origins)):
            return False
        cfg.port, cfg.host, cfg.cors_origins = values
        self.ctx.save_settings()
        self._show_address()
        if self.controller is not None:
            self.controller.restart()
        return True
