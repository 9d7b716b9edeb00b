"""Status-bar jobs indicator: the running job's progress inline, and a list of every job with a cancel button."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
    QWidgetAction,
)

from app.ui.jobs import JobHandle, JobManager


def _set_progress(bar: QProgressBar, fraction: object) -> None:
    if fraction is None:
        bar.setRange(0, 0)  # busy indicator
    else:
        bar.setRange(0, 1000)
        bar.setValue(int(float(fraction) * 1000))


class JobRow(QWidget):
    """One job: name, progress, cancel."""

    def __init__(self, handle: JobHandle, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.handle = handle
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        text = QVBoxLayout()
        self.name = QLabel(handle.name)
        self.detail = QLabel(handle.text or handle.status)
        self.detail.setStyleSheet("color: palette(mid);")
        text.addWidget(self.name)
        text.addWidget(self.detail)
        self.bar = QProgressBar()
        self.bar.setFixedWidth(160)
        self.bar.setTextVisible(False)
        _set_progress(self.bar, handle.fraction if handle.status == "running" else 0.0)
        self.cancel = QToolButton()
        self.cancel.setText("Cancel")
        self.cancel.clicked.connect(handle.cancel)
        layout.addLayout(text, 1)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel)
        handle.sig_progress.connect(self._on_progress)

    def _on_progress(self, fraction: object, text: str) -> None:
        _set_progress(self.bar, fraction)
        self.detail.setText(text)


class JobsIndicator(QWidget):
    def __init__(self, manager: JobManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.manager = manager
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel("No jobs running")
        self.bar = QProgressBar()
        self.bar.setFixedWidth(120)
        self.bar.setTextVisible(False)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("✕")
        self.cancel_button.setToolTip("Cancel this job")
        self.cancel_button.clicked.connect(self._cancel_current)
        self.list_button = QToolButton()
        self.list_button.setText("Jobs ▾")
        # The style's own menu arrow is drawn over the text's last letter at this size: the ▾ in the text says it.
        self.list_button.setStyleSheet("QToolButton::menu-indicator { image: none; width: 0px; }")
        self.list_button.setToolTip("Every running job, with progress and cancel")
        self.list_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu = QMenu(self)
        self.menu.aboutToShow.connect(self._fill_menu)
        self.list_button.setMenu(self.menu)
        for w in (self.label, self.bar, self.cancel_button, self.list_button):
            layout.addWidget(w)
        self._current: JobHandle | None = None
        manager.sig_job_added.connect(self._on_added)
        manager.sig_job_finished.connect(lambda _h: self._refresh())
        self._refresh()

    def _on_added(self, handle: JobHandle) -> None:
        handle.sig_progress.connect(lambda *_: self._refresh_if_current(handle))
        handle.sig_started.connect(self._refresh)
        self._refresh()

    def _refresh_if_current(self, handle: JobHandle) -> None:
        if handle is self._current:
            _set_progress(self.bar, handle.fraction)
            self._set_label()

    def _set_label(self) -> None:
        jobs = self.manager.active()
        current = self._current
        if current is None:
            self.label.setText("No jobs running")
            return
        more = f"  (+{len(jobs) - 1} more)" if len(jobs) > 1 else ""
        detail = f" — {current.text}" if current.text else ""
        self.label.setText(f"{current.name}{detail}{more}")

    def _refresh(self) -> None:
        jobs = self.manager.active()
        running = [h for h in jobs if h.status == "running"]
        self._current = (running or jobs or [None])[0]
        busy = self._current is not None
        self.bar.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.list_button.setText(f"Jobs ({len(jobs)}) ▾" if jobs else "Jobs ▾")
        if busy:
            _set_progress(self.bar, self._current.fraction if self._current.status == "running" else 0.0)
        self._set_label()

    def _cancel_current(self) -> None:
        if self._current is not None:
            self._current.cancel()

    def _fill_menu(self) -> None:
        self.menu.clear()
        jobs = self.manager.active()
        if not jobs:
            action = self.menu.addAction("No jobs running")
            action.setEnabled(False)
            return
        for handle in jobs:
            row = JobRow(handle)
            action = QWidgetAction(self.menu)
            action.setDefaultWidget(row)
            self.menu.addAction(action)
        self.menu.addSeparator()
        self.menu.addAction("Cancel all", self.manager.cancel_all)

    def rows(self) -> list[JobRow]:
        """The rows the popup shows (built on demand), for tests."""
        self._fill_menu()
        return [a.defaultWidget() for a in self.menu.actions() if isinstance(a, QWidgetAction)]
