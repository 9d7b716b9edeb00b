"""The status bar's Server switch: off, or on with its address and the requests it has answered."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QWidget

from app.ui.server.controller import ON, STARTING, STOPPING, ServerController


class ServerStatus(QWidget):
    """[x] Server  127.0.0.1:8765 · 3 requests — the box switches the server on and off (and is remembered)."""

    def __init__(self, controller: ServerController, settings, save_settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.settings = settings
        self._save = save_settings
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 8, 0)
        self.switch = QCheckBox("Server")
        self.switch.setObjectName("serverSwitch")
        self.switch.setToolTip("Serve this computer's models over an OpenAI-compatible API (Settings → Server)")
        self.label = QLabel("off")
        self.label.setObjectName("serverLabel")
        layout.addWidget(self.switch)
        layout.addWidget(self.label)
        self.switch.toggled.connect(self._on_toggled)
        controller.sig_state.connect(self._show)
        self._timer = QTimer(self, interval=1000)
        self._timer.timeout.connect(self._show)
        self._show()

    def _on_toggled(self, on: bool) -> None:
        self.settings.server.enabled = on
        self._save()
        if on:
            self.controller.start()
        else:
            self.controller.stop()

    def _show(self, *_args) -> None:
        c = self.controller
        self.switch.blockSignals(True)
        self.switch.setChecked(c.state in (ON, STARTING))
        self.switch.blockSignals(False)
        if c.state == ON:
            count = c.served()
            address = c.url.removeprefix("http://").removesuffix("/v1")
            self.label.setText(f"{address} · {count} request{'s' if count != 1 else ''}")
            self.label.setToolTip(f"OpenAI-compatible API at {c.url} (API key in Settings → Server)"
                                  + (f"\n{c.warning}" if c.warning else ""))
            self._timer.start()
        else:
            self._timer.stop()
            self.label.setText({STARTING: "starting…", STOPPING: "stopping…"}.get(c.state, "off"))
            self.label.setToolTip(c.error or "")
