"""What the configured connections offer, asked off the GUI thread and kept for the model pickers."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.core import connections
from app.core.errors import UserError
from app.core.jobs import Job


def list_all(conns: list[connections.Connection], state) -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    """Job: ([(kind, reference, label)], {connection: problem}) for every connection."""
    found, problems = [], {}
    for conn in conns:
        state.check()
        try:
            for m in conn.models():
                found.append((m["kind"], connections.ref(conn.name, m["id"]), f"{m['id']} — {conn.name} (remote)"))
        except UserError as exc:
            problems[conn.name] = str(exc)
    return found, problems


class RemoteModels(QObject):
    """The models on every connection, by kind ("chat", "image", "embedding"); sig_changed after each refresh.
    `problems` says, per connection, why it could not be asked (server down, key refused)."""

    sig_changed = Signal()

    def __init__(self, ctx, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.found: list[tuple[str, str, str]] = []
        self.problems: dict[str, str] = {}
        self.asked = False  # a refresh has been started at least once
        ctx.bus.sig_connections_changed.connect(self.refresh)

    def entries(self, kind: str) -> list[tuple[str, str]]:
        """[(reference, label)] of the `kind` models listed last."""
        return [(ref, label) for k, ref, label in self.found if k == kind]

    def ensure(self) -> None:
        """Refresh once, the first time a picker needs the list."""
        if not self.asked:
            self.refresh()

    def refresh(self) -> None:
        """Ask every connection for its models again (a job; sig_changed when done)."""
        self.asked = True
        conns = connections.all_connections(self.ctx.settings)
        if not conns:
            self.found, self.problems = [], {}
            self.sig_changed.emit()
            return
        handle = self.ctx.jobs.submit(Job(list_all, conns, name="List remote models"), replace="remote-models")
        handle.sig_done.connect(self._on_listed)

    def _on_listed(self, result) -> None:
        self.found, self.problems = result
        self.sig_changed.emit()
