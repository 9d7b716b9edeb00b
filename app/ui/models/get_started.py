"""Get started: the starter set for this computer, downloaded in one go with one progress bar.

Shown at the first start (no model installed, never dismissed) and from Help → Get started. A plan job reads the
hardware and checks the network; the download job (models.jobs.download_starter) fetches the ticked models one
after another; each model that lands is announced on the bus (sig_models_changed), so its tab can use it at once.
Closing the dialog dismisses it for good (it is not offered at start again) and leaves a running download running;
reopening it from Help shows that download. Offline, it says so and offers Import.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.core.jobs import Job
from app.core.models import jobs as models_jobs
from app.core.models.starter import TAB_TITLES, describe_download
from app.core.models.starter_download import ModelLanded, StarterProgress
from app.core.units import format_bytes

INTRO = ("Hearth runs AI models on this computer, offline. This is a set of models chosen for it, one for each "
         "tab. Download them in one go — each tab works as soon as its model lands — or skip this and choose "
         "your own in the Models tab.")


class _PickRow(QFrame):
    """One tab's model: a tick box (or a check mark when there is nothing to download) and why it was chosen."""

    def __init__(self, pick) -> None:
        super().__init__()
        self.pick = pick
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 2, 4, 2)
        self.tick = QCheckBox()
        self.tick.setChecked(True)
        keep = self.tick.sizePolicy()
        keep.setRetainSizeWhenHidden(True)  # rows stay aligned when one has nothing to tick
        self.tick.setSizePolicy(keep)
        self.title = QLabel()
        self.reason = QLabel(pick.reason)
        self.reason.setWordWrap(True)
        self.reason.setStyleSheet("color: gray;")
        grid.addWidget(self.tick, 0, 0)
        grid.addWidget(self.title, 0, 1)
        grid.addWidget(self.reason, 1, 1)
        grid.setColumnStretch(1, 1)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)  # never squeezed
        self.set_state("installed" if pick.download_bytes == 0 else "")

    def set_state(self, state: str) -> None:
        """"" (to download), "downloading", "installed"."""
        pick = self.pick
        tab = TAB_TITLES[pick.role]
        if state == "installed":
            self.tick.hide()
            built_in = pick.entry is None
            done = "built in" if built_in else "installed — the tab can use it now"
            self.title.setText(f"<b>{tab}</b> — {pick.name} <span style='color:#2e7d32'>✓ {done}</span>")
        else:
            self.title.setText(f"<b>{tab}</b> — {pick.name} · {format_bytes(pick.size_bytes)}"
                               + (" <i>downloading…</i>" if state == "downloading" else ""))
        self.state = state

    @property
    def wanted(self) -> bool:
        return self.state != "installed" and self.tick.isChecked()


class GetStartedDialog(QDialog):
    """The Get started panel. `on_import` opens Import (offline); `plan` is the job that makes the plan
    (models.jobs.plan_starter; tests give one over a local catalog)."""

    def __init__(self, ctx, on_import: Callable[[], None] | None = None, plan=models_jobs.plan_starter,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._plan_fn = plan
        self._on_import = on_import
        self.plan = None
        self.handle = None  # the download job
        self.rows: list[_PickRow] = []
        self.setWindowTitle("Get started")
        self.setMinimumWidth(640)
        layout = QVBoxLayout(self)
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)  # grows with the rows, never clips them
        title = QLabel("<h2>Get started</h2>")
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        layout.addWidget(title)
        layout.addWidget(intro)
        self.machine = QLabel("Looking at this computer…")
        layout.addWidget(self.machine)
        self.rows_box = QVBoxLayout()
        layout.addLayout(self.rows_box)
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.notes.setStyleSheet("color: gray;")
        self.notes.hide()
        layout.addWidget(self.notes)
        self.offline = QLabel()
        self.offline.setWordWrap(True)
        self.offline.setObjectName("offlineNote")
        self.offline.setStyleSheet("#offlineNote { background: #fff3cd; color: #664d03; padding: 6px; "
                                   "border-radius: 4px; }")
        self.offline.hide()
        layout.addWidget(self.offline)
        self.total = QLabel()
        layout.addWidget(self.total)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.hide()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.detail = QLabel()
        self.detail.setStyleSheet("color: gray;")
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        layout.addWidget(self.detail)
        buttons = QHBoxLayout()
        self.import_button = QPushButton("Import a model file…")
        self.import_button.clicked.connect(self._import)
        self.import_button.hide()
        self.skip_button = QPushButton("Skip")
        self.skip_button.setToolTip("Close this and choose models yourself in the Models tab (Help → Get started "
                                    "brings it back)")
        self.skip_button.clicked.connect(self.close)
        self.open_chat = QPushButton("Open Chat")
        self.open_chat.clicked.connect(lambda: (self.ctx.show_tab("chat"), self.close()))
        self.open_chat.hide()
        self.download_button = QPushButton("Download")
        self.download_button.setDefault(True)
        self.download_button.setEnabled(False)
        self.download_button.clicked.connect(self.toggle)
        buttons.addWidget(self.import_button)
        buttons.addStretch(1)
        buttons.addWidget(self.skip_button)
        buttons.addWidget(self.open_chat)
        buttons.addWidget(self.download_button)
        layout.addLayout(buttons)
        self.refresh()

    # ---- the plan ----------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Make the plan again (hardware, free disk, network); not while downloading."""
        if self.downloading:
            return
        handle = self.ctx.jobs.submit(Job(self._plan_fn, None, name="Get started: look at this computer"))
        handle.sig_done.connect(self._show_plan)
        handle.sig_error.connect(lambda message: self.machine.setText(f"Could not look at this computer: {message}"))

    def _show_plan(self, plan) -> None:
        self.plan = plan
        chosen = plan.starter
        self.machine.setText(f"This computer: {chosen.machine.describe}")
        for row in self.rows:
            row.setParent(None)
        self.rows = [_PickRow(pick) for pick in chosen.picks]
        for row in self.rows:
            self.rows_box.addWidget(row)
            row.tick.toggled.connect(self._update_total)
        self.notes.setText("\n".join(chosen.notes))
        self.notes.setVisible(bool(chosen.notes))
        self.offline.setText(f"<b>You seem to be offline</b> ({plan.offline}), so nothing can be downloaded now. "
                             "Import model files you already have, or come back here (Help → Get started) when "
                             "you are connected." if plan.offline else "")
        self.offline.setVisible(bool(plan.offline))
        self.import_button.setVisible(bool(plan.offline))
        self._update_total()
        if self.download_button.isEnabled():
            self.download_button.setFocus()
        self.resize(self.width(), self.sizeHint().height())

    def selected(self):
        """The plan's StarterSet less the unticked picks and those installed since."""
        return self.plan.starter.without(row.pick.role for row in self.rows if not row.wanted)

    def _update_total(self) -> None:
        if self.plan is None:
            return
        chosen = self.selected()
        todo = chosen.total_bytes
        self.total.setText(f"<b>To download:</b> {describe_download(todo, self.plan.speed_bps)}"
                           + (" (the speed of your last download)" if todo and self.plan.speed_bps else ""))
        self.download_button.setEnabled(bool(todo) and not self.plan.offline)
        if not todo and not self.downloading:
            self.open_chat.setVisible(any(r.pick.role == "chat" and r.state == "installed" for r in self.rows))

    # ---- the download ------------------------------------------------------------------------------------------
    @property
    def downloading(self) -> bool:
        return self.handle is not None and not self.handle.finished

    def toggle(self) -> None:
        """Download (or Resume) the ticked models; Pause while downloading."""
        if self.downloading:
            self.download_button.setEnabled(False)
            self.status.setText("Pausing…")
            self.handle.cancel()
            return
        chosen = self.selected()
        if not chosen.to_download:
            return
        for row in self.rows:
            row.tick.setEnabled(False)
            if row.wanted:
                row.set_state("downloading")
        self.bar.show()
        self.status.setText("Starting…")
        self.download_button.setText("Pause")
        handle = self.ctx.jobs.submit(Job(models_jobs.download_starter, chosen, name="Get started: download",
                                          resource=models_jobs.STARTER))
        self.handle = handle
        handle.on_partial(StarterProgress, self._on_progress)
        handle.on_partial(ModelLanded, self._on_landed)
        handle.sig_done.connect(self._on_done)
        handle.sig_error.connect(self._on_error)
        handle.sig_cancelled.connect(self._on_paused)

    def _on_progress(self, progress: StarterProgress) -> None:
        self.bar.setValue(int(progress.fraction * 1000))
        self.status.setText(progress.text)
        self.detail.setText(progress.detail)

    def _on_landed(self, landed: ModelLanded) -> None:
        for row in self.rows:
            if row.pick.role == landed.role:
                row.set_state("installed")
        self.ctx.bus.sig_models_changed.emit()  # every tab's picker re-reads the registry

    def _stopped(self) -> None:
        self.handle = None
        self.detail.setText("")
        self.download_button.setEnabled(True)
        for row in self.rows:
            row.tick.setEnabled(True)
            if row.state == "downloading":
                row.set_state("")

    def _on_done(self, models) -> None:
        self._stopped()
        self.bar.setValue(1000)
        self.download_button.setText("Download")
        self.status.setText(f"All set: {len(models)} model{'s' if len(models) != 1 else ''} installed. "
                            "Every tab can use them now.")
        self._update_total()

    def _on_error(self, message: str) -> None:
        self._stopped()
        self.download_button.setText("Resume")
        self.status.setText(f"<span style='color:#b02a37'>{message}</span> What came so far is kept: Resume "
                            "continues from there.")
        if message.startswith("No network"):
            self.import_button.show()

    def _on_paused(self) -> None:
        self._stopped()
        self.download_button.setText("Resume")
        self.status.setText("Paused. What came so far is kept: Resume continues from there (also after quitting "
                            "Hearth).")

    # ---- leaving -----------------------------------------------------------------------------------------------
    def _import(self) -> None:
        if self._on_import is not None:
            self._on_import()

    def done(self, result: int) -> None:  # noqa: D401 - Qt's close path (Skip, Esc, the window's ✕)
        """Closing dismisses Get started for good (Help → Get started still opens it); a download goes on."""
        ui = self.ctx.settings.ui
        if not ui.starter_dismissed:
            ui.starter_dismissed = True
            self.ctx.save_settings()
        super().done(result)
