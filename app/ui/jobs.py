"""The one background-job mechanism, Qt side.

`JobManager.submit(job)` runs a core job (`fn(inputs, state)`) on the core Scheduler's worker threads
(app/core/scheduler.py: the per-resource queues live there) and returns a JobHandle whose signals (progress,
partial, done, error, cancelled, finished) are always emitted on the GUI thread. Jobs that name the same
`resource` run one after another; different resources run side by side.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from app.core.jobs import Job, JobState
from app.core.scheduler import CANCELLED, DONE, FAILED, QUEUED, RUNNING, Scheduler, Ticket

log = logging.getLogger(__name__)

__all__ = ["CANCELLED", "DONE", "FAILED", "QUEUED", "RUNNING", "JobHandle", "JobManager"]


class JobHandle(QObject):
    """The GUI's view of one job. All signals arrive on the GUI thread."""

    sig_started = Signal()
    sig_progress = Signal(object, str)  # fraction in [0, 1] or None, text
    sig_partial = Signal(object)
    sig_done = Signal(object)  # the job's return value
    sig_error = Signal(str)  # a readable message (the traceback went to the log)
    sig_cancelled = Signal()
    sig_finished = Signal()  # after any of done / error / cancelled

    def __init__(self, job: Job, manager: "JobManager") -> None:
        super().__init__()  # no Qt parent: dropped with its last Python reference once finished
        self.job = job
        self.status = QUEUED
        self.fraction: float | None = None
        self.text = ""
        self.result: Any = None
        self.error = ""
        self._manager = manager
        self.ticket: Ticket | None = None  # the scheduler's, once submitted
        self.state = JobState(on_progress=self._emit_progress, on_partial=self._emit_partial)

    @property
    def name(self) -> str:
        return self.job.name

    @property
    def finished(self) -> bool:
        return self.status in (DONE, FAILED, CANCELLED)

    def cancel(self) -> None:
        self._manager.cancel(self)

    def on_partial(self, kind: type, slot) -> "JobHandle":
        """Call `slot(value)` for each partial that is a `kind` (a feature's partial dataclass); others are left
        to their own slots. Returns self, so connections chain."""
        self.sig_partial.connect(lambda value: slot(value) if isinstance(value, kind) else None)
        return self

    # Called on the worker thread: hop to the GUI thread through the manager's bridge (queued connections).
    def _emit_progress(self, fraction: float | None, text: str) -> None:
        self._manager._bridge.progress.emit(self.job.id, fraction, text)

    def _emit_partial(self, value: Any) -> None:
        self._manager._bridge.partial.emit(self.job.id, value)


class _Bridge(QObject):
    """Lives on the GUI thread; workers emit these, the manager's slots receive them queued."""

    started = Signal(int)
    progress = Signal(int, object, str)
    partial = Signal(int, object)
    done = Signal(int, object)
    failed = Signal(int, str)
    cancelled = Signal(int)


class JobManager(QObject):
    """Runs jobs off the GUI thread on the app's Scheduler (app/core/scheduler.py). One per application; the
    server inside the app submits to the same scheduler, so jobs on one resource never overlap whoever sent them."""

    sig_job_added = Signal(object)  # JobHandle
    sig_job_finished = Signal(object)  # JobHandle (status says how)
    sig_job_failed = Signal(object, str)  # JobHandle, message

    def __init__(self, parent: QObject | None = None, max_threads: int = 4,
                 scheduler: Scheduler | None = None) -> None:
        super().__init__(parent)
        self.scheduler = scheduler or Scheduler(max_threads)
        self._owns_scheduler = scheduler is None
        self._handles: dict[int, JobHandle] = {}
        self._latest: dict[str, JobHandle] = {}
        self._closing = False
        self._bridge = _Bridge(self)
        self._bridge.started.connect(self._on_started)
        self._bridge.progress.connect(self._on_progress)
        self._bridge.partial.connect(self._on_partial)
        self._bridge.done.connect(self._on_done)
        self._bridge.failed.connect(self._on_failed)
        self._bridge.cancelled.connect(self._on_cancelled)

    # ---- public ------------------------------------------------------------------------------------------------
    def submit(self, job: Job, replace: str | None = None) -> JobHandle:
        """Queue a job. With `replace`, a previous unfinished job submitted under the same key is cancelled first
        (a new search replaces the running one)."""
        handle = JobHandle(job, self)
        if self._closing:
            handle.status = CANCELLED
            QTimer.singleShot(0, lambda: (handle.sig_cancelled.emit(), handle.sig_finished.emit()))
            return handle
        if replace:
            old = self._latest.get(replace)
            if old is not None and not old.finished:
                old.cancel()
            self._latest[replace] = handle
        self._handles[job.id] = handle
        self.sig_job_added.emit(handle)
        bridge = self._bridge
        handle.ticket = self.scheduler.submit(job, handle.state,
                                              on_start=lambda _t: bridge.started.emit(job.id),
                                              on_finish=self._emit_finished)
        if handle.status == QUEUED and handle.ticket.status == RUNNING:
            handle.status = RUNNING  # it holds its resource (the thread picks it up in a moment)
        return handle

    def cancel(self, handle: JobHandle) -> None:
        if handle.finished:
            return
        if handle.ticket is None:
            handle.state.cancel()
        else:
            self.scheduler.cancel(handle.ticket)  # a queued job is finished at once (on this thread)

    def active(self) -> list[JobHandle]:
        return [h for h in self._handles.values() if not h.finished]

    def cancel_all(self) -> None:
        for handle in list(self._handles.values()):
            self.cancel(handle)

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until this manager's jobs ended (their signals are still to be delivered)."""
        tickets = [h.ticket for h in self._handles.values() if h.ticket is not None]
        return self.scheduler.wait(None if timeout_ms < 0 else timeout_ms / 1000, tickets)

    def shutdown(self, timeout_s: float = 2.5) -> bool:
        """Cancel everything and wait for the workers; True when all stopped in time."""
        self._closing = True
        self.cancel_all()
        stopped = self.wait(int(timeout_s * 1000))
        if self._owns_scheduler:
            stopped = self.scheduler.shutdown(0.1) and stopped
        if not stopped:
            log.warning("jobs still running at shutdown: %s", [h.name for h in self.active()])
        return stopped

    # ---- internals ---------------------------------------------------------------------------------------------
    def _emit_finished(self, ticket: Ticket) -> None:  # worker thread (or this one for a cancelled queued job)
        job_id = ticket.job.id
        if ticket.status == DONE:
            self._bridge.done.emit(job_id, ticket.result)
        elif ticket.status == FAILED:
            self._bridge.failed.emit(job_id, ticket.error)
        else:
            self._bridge.cancelled.emit(job_id)

    def _on_started(self, job_id: int) -> None:
        handle = self._handles.get(job_id)
        if handle is not None and not handle.finished:
            handle.status = RUNNING
            handle.sig_started.emit()

    def _on_progress(self, job_id: int, fraction: object, text: str) -> None:
        handle = self._handles.get(job_id)
        if handle is not None and not handle.finished:
            handle.fraction, handle.text = fraction, text
            handle.sig_progress.emit(fraction, text)

    def _on_partial(self, job_id: int, value: object) -> None:
        handle = self._handles.get(job_id)
        if handle is not None and not handle.finished:
            handle.sig_partial.emit(value)

    def _on_done(self, job_id: int, result: object) -> None:
        handle = self._handles.get(job_id)
        if handle is not None:
            handle.result = result
            self._finish(handle, DONE)

    def _on_failed(self, job_id: int, message: str) -> None:
        handle = self._handles.get(job_id)
        if handle is not None:
            handle.error = message
            self._finish(handle, FAILED)

    def _on_cancelled(self, job_id: int) -> None:
        handle = self._handles.get(job_id)
        if handle is not None:
            self._finish(handle, CANCELLED)

    def _finish(self, handle: JobHandle, status: str) -> None:
        if handle.finished:
            return
        handle.status = status
        self._handles.pop(handle.job.id, None)
        if status == DONE:
            handle.sig_done.emit(handle.result)
        elif status == FAILED:
            handle.sig_error.emit(handle.error)
            self.sig_job_failed.emit(handle, handle.error)
        else:
            handle.sig_cancelled.emit()
        handle.sig_finished.emit()
        self.sig_job_finished.emit(handle)
