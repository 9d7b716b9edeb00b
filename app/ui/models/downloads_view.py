"""Download rows: progress with bytes/s and ETA (and, amber, "connection lost, retrying in 4 s (2/5)" while a blip
heals by itself), pause/resume, cancel. Paused downloads survive restarts."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from app.core.jobs import Job
from app.core.models import downloads
from app.core.models import jobs as models_jobs
from app.core.units import format_bytes

RETRYING = ", retrying in "  # the progress text while a dropped or stalled connection is retried


class DownloadRow(QFrame):
    sig_removed = Signal(object)

    def __init__(self, panel: "DownloadsPanel", spec: downloads.DownloadSpec, status: str = "", done: int = 0,
                 total: int | None = None) -> None:
        super().__init__()
        self.panel, self.spec, self.handle = panel, spec, None
        self._discard = False
        self.setFrameShape(QFrame.Shape.StyledPanel)
        grid = QGridLayout(self)
        grid.setContentsMargins(8, 4, 8, 4)
        self.title = QLabel(f"<b>{spec.title}</b> <span style='color:gray'>→ {spec.kind}</span>")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(10)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.pause = QPushButton("Pause")
        self.pause.clicked.connect(self.toggle)
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(self.cancel_download)
        grid.addWidget(self.title, 0, 0)
        grid.addWidget(self.pause, 0, 1, 2, 1)
        grid.addWidget(self.cancel, 0, 2, 2, 1)
        grid.addWidget(self.bar, 1, 0)
        grid.addWidget(self.info, 2, 0, 1, 3)
        grid.setColumnStretch(0, 1)
        if status:
            self._show_stopped(status, done, total)

    @property
    def running(self) -> bool:
        return self.handle is not None and not self.handle.finished

    def start(self) -> None:
        self._discard = False
        job = Job(models_jobs.download, self.spec, name=f"Download {self.spec.title}",
                  resource=models_jobs.download_resource(self.spec.id))
        self.handle = self.panel.ctx.jobs.submit(job)
        self.handle.sig_progress.connect(self._on_progress)
        self.handle.sig_done.connect(self._on_done)
        self.handle.sig_error.connect(self._on_error)
        self.handle.sig_cancelled.connect(self._on_cancelled)
        self.pause.setText("Pause")
        self.pause.setEnabled(True)
        self.info.setText("Starting…")

    def toggle(self) -> None:
        if self.running:
            self.pause.setEnabled(False)
            self.info.setText("Pausing…")
            self.handle.cancel()
        else:
            self.start()

    def cancel_download(self) -> None:
        if self.running:
            self._discard = True
            self.handle.cancel()
        else:
            downloads.discard(self.spec.id)
            self._remove()

    def _remove(self) -> None:
        self.sig_removed.emit(self)

    # ---- job signals (GUI thread) ------------------------------------------------------------------------------
    def _on_progress(self, fraction, text: str) -> None:
        if fraction is None:
            self.bar.setRange(0, 0)
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(fraction * 1000))
        if RETRYING in text:  # a blip: the download heals by itself, nothing to press
            self.info.setText(f"<span style='color:#9a6700'>{html.escape(text)}</span>")
        else:
            self.info.setText(text)

    def _on_done(self, model) -> None:
        self.bar.setRange(0, 1000)
        self.bar.setValue(1000)
        self.info.setText(f"Installed as {model.id}")
        self.pause.hide()
        self.cancel.setText("Clear")
        self.handle = None
        self.panel.sig_installed.emit(model)

    def _on_error(self, message: str) -> None:
        self.bar.setRange(0, 1000)
        self.info.setText(f"<span style='color:#b02a37'>{message}</span>")
        quarantined = "quarantine" in message
        self.pause.setText("Retry" if quarantined else "Resume")
        self.pause.setEnabled(True)
        if quarantined:  # start from scratch next time
            downloads.discard(self.spec.id)

    def _on_cancelled(self) -> None:
        if self._discard:
            downloads.discard(self.spec.id)
            self._remove()
            return
        state = downloads.read_state(self.spec.id) or {}
        self._show_stopped(state.get("status", downloads.PAUSED), self.panel_done_bytes(), None)

    def panel_done_bytes(self) -> int:
        stage = downloads.staging_root() / self.spec.id
        return sum(p.stat().st_size for p in stage.rglob("*.part")) if stage.exists() else 0

    def _show_stopped(self, status: str, done: int, total: int | None) -> None:
        self.bar.setRange(0, 1000)
        if total:
            self.bar.setValue(int(done / total * 1000))
        have = format_bytes(done) + (f" of {format_bytes(total)}" if total else "")
        self.info.setText(f"{status.capitalize()} — {have} kept; Resume continues from there.")
        self.pause.setText("Resume")
        self.pause.setEnabled(True)


class DownloadsPanel(QWidget):
    """The list of downloads. Hidden while empty."""

    sig_installed = Signal(object)  # InstalledModel

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.rows: dict[str, DownloadRow] = {}
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        head.addWidget(QLabel("<b>Downloads</b>"))
        head.addStretch(1)
        outer.addLayout(head)
        self.box = QVBoxLayout()
        self.box.setAlignment(Qt.AlignmentFlag.AlignTop)
        outer.addLayout(self.box)
        for pend in downloads.pending():
            self._add(DownloadRow(self, pend.spec, pend.status, pend.done_bytes, pend.total_bytes))
        self.setVisible(bool(self.rows))

    def _add(self, row: DownloadRow) -> DownloadRow:
        self.rows[row.spec.id] = row
        row.sig_removed.connect(self._remove)
        self.box.addWidget(row)
        self.show()
        return row

    def _remove(self, row: DownloadRow) -> None:
        self.rows.pop(row.spec.id, None)
        row.setParent(None)
        row.deleteLater()
        self.setVisible(bool(self.rows))

    def start(self, spec: downloads.DownloadSpec) -> DownloadRow:
        row = self.rows.get(spec.id)
        if row is None:
            row = self._add(DownloadRow(self, spec))
        elif row.handle is None and row.cancel.text() == "Clear":
            self._remove(row)
            row = self._add(DownloadRow(self, spec))
        if not row.running:
            row.start()
        return row
