"""Settings → Connections: the other OpenAI-compatible servers whose models appear in the model pickers."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core import connections
from app.core.errors import UserError


class ConnectionsPage(QWidget):
    """A table of connections (name, address, key, what it offers) and a form to add one."""

    COLUMNS = ("Name", "Address", "API key", "Models")

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        layout = QVBoxLayout(self)
        intro = QLabel("Use the models of another OpenAI-compatible server — llama.cpp's llama-server, vLLM, "
                       "Ollama (…/v1), LM Studio, or Hearth on a bigger machine. Its models appear in the model "
                       "pickers marked “remote”: what you send them leaves this computer for that server; "
                       "document search still runs here.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self._remove_selected)
        self.check_button = QPushButton("Check again")
        self.check_button.setToolTip("Ask every server for its models")
        self.check_button.clicked.connect(self._check)
        row.addWidget(self.remove_button)
        row.addWidget(self.check_button)
        row.addStretch(1)
        layout.addLayout(row)

        form = QFormLayout()
        self.name = QLineEdit()
        self.name.setPlaceholderText("gpu-box")
        self.url = QLineEdit()
        self.url.setPlaceholderText("http://192.168.1.20:8765/v1")
        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("its API key, if it needs one")
        self.timeout = QDoubleSpinBox()
        self.timeout.setRange(5, 3600)
        self.timeout.setDecimals(0)
        self.timeout.setValue(connections.DEFAULT_TIMEOUT_S)
        self.timeout.setSuffix(" s")
        self.add_button = QPushButton("Add connection")
        self.add_button.clicked.connect(lambda: self.add(self.name.text(), self.url.text(), self.key.text(),
                                                         self.timeout.value()))
        form.addRow("Name", self.name)
        form.addRow("Address", self.url)
        form.addRow("API key", self.key)
        form.addRow("Timeout", self.timeout)
        form.addRow("", self.add_button)
        layout.addLayout(form)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        if ctx.remote is not None:
            ctx.remote.sig_changed.connect(self.fill)
            ctx.remote.ensure()
        self.fill()

    def fill(self) -> None:
        conns = connections.all_connections(self.ctx.settings)
        remote = self.ctx.remote
        self.table.setRowCount(len(conns))
        for i, conn in enumerate(conns):
            offered = [label.split(" — ")[0] for kind, ref, label in (remote.found if remote else [])
                       if connections.parse_ref(ref)[0] == conn.name]
            problem = remote.problems.get(conn.name) if remote else None
            models = problem or (", ".join(offered) if offered else "checking…" if remote and not remote.found
                                 else "none")
            cells = (conn.name, conn.url, "set" if conn.api_key else "none", models)
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(i, j, item)
        self.table.resizeColumnToContents(0)
        self.remove_button.setEnabled(bool(conns))

    def add(self, name: str, url: str, key: str = "", timeout_s: float = connections.DEFAULT_TIMEOUT_S) -> bool:
        """Add (or replace) a connection, save, and ask it for its models. False (and a sentence) for bad input."""
        try:
            conn = connections.add(self.ctx.settings, name, url, key, timeout_s)
        except UserError as exc:
            self.status.setText(str(exc))
            return False
        self.ctx.save_settings()
        self.status.setText(f"Added {conn.name} ({conn.url}); asking it for its models…")
        self.name.clear()
        self.url.clear()
        self.key.clear()
        self.fill()
        self.ctx.bus.sig_connections_changed.emit()
        return True

    def remove(self, name: str) -> bool:
        try:
            conn = connections.remove(self.ctx.settings, name)
        except UserError as exc:
            self.status.setText(str(exc))
            return False
        self.ctx.save_settings()
        self.status.setText(f"Removed {conn.name}.")
        self.fill()
        self.ctx.bus.sig_connections_changed.emit()
        return True

    def _remove_selected(self) -> None:
        row = self.table.currentRow()
        if row >= 0:
            self.remove(self.table.item(row, 0).text())

    def _check(self) -> None:
        if self.ctx.remote is not None:
            self.status.setText("Asking every server for its models…")
            self.ctx.remote.refresh()
