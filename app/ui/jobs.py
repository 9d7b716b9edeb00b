"""The one background-job mechanism, Qt side.

`JobManager.submit(job)` runs a core job (`fn(inputs, state)`) on a QThreadPool thread and returns a JobHandle
whose signals (progress, partial, done, error, cancelled, finished) are always emitted on the GUI thread. Jobs
that name the same `resource` run one after another; different resources run side by side.
"""

from __future__ import annotations

import logging
import traceback
from collections import deque
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

from app.core.errors import JobCancelled
from app.core.jobs import Job, JobState, describe_error

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"


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


class _Runnable(QRunnable):
    def __init__(self, handle: JobHandle, bridge: _Bridge) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._job = handle.job
        self._state = handle.state
        self._bridge = bridge

    def run(self) -> None:  # worker thread
        job, state, bridge = self._job, self._state, self._bridge
        bridge.started.emit(job.id)
        try:
            if state.cancelled:
                raise JobCancelled()
            result = job.fn(job.inputs, state)
        except JobCancelled:
            bridge.cancelled.emit(job.id)
        except BaseException as exc:  # noqa: BLE001 - a job must never take the app down
            if state.cancelled:
                bridge.cancelled.emit(job.id)
                return
            log.error("job %r failed:\n%s", job.name, traceback.format_exc())
            bridge.failed.emit(job.id, describe_error(exc))
        else:
            if state.cancelled:
                bridge.cancelled.emit(job.id)
            else:
                bridge.done.emit(job.id, result)


class JobManager(QObject):
    """Runs jobs off the GUI thread. One per application."""

    sig_job_added = Signal(object)  # JobHandle
    sig_job_finished = Signal(object)  # JobHandle (status says how)
    sig_job_failed = Signal(object, str)  # JobHandle, message

    def __init__(self, parent: QObject | None = None, max_threads: int = 4) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._handles: dict[int, JobHandle] = {}
        self._busy: set[str] = set()
        self._waiting: dict[str, deque[JobHandle]] = {}
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
        if job.resource and job.resource in self._busy:
            self._waiting.setdefault(job.resource, deque()).append(handle)
        else:
            self._start(handle)
        return handle

    def cancel(self, handle: JobHandle) -> None:
        if handle.finished:
            return
        handle.state.cancel()
        if handle.status == QUEUED and handle.job.resource in self._waiting:
            queue = self._waiting[handle.job.resource]
            if handle in queue:  # never started: finish it here
                queue.remove(handle)
                self._finish(handle, CANCELLED)

    def active(self) -> list[JobHandle]:
        return [h for h in self._handles.values() if not h.finished]

    def cancel_all(self) -> None:
        for handle in list(self._handles.values()):
            self.cancel(handle)

    def wait(self, timeout_ms: int = -1) -> bool:
        return self._pool.waitForDone(timeout_ms)

    def shutdown(self, timeout_s: float = 2.5) -> bool:
        """Cancel everything and wait for the workers; True when all stopped in time."""
        self._closing = True
        self.cancel_all()
        stopped = self._pool.waitForDone(int(timeout_s * 1000))
        if not stopped:
            log.warning("jobs still running at shutdown: %s", [h.name for h in self.active()])
        return stopped

    # ---- internals ---------------------------------------------------------------------------------------------
    def _start(self, handle: JobHandle) -> None:
        if handle.job.resource:
            self._busy.add(handle.job.resource)
        handle.status = RUNNING
        self._pool.start(_Runnable(handle, self._bridge))

    def _on_started(self, job_id: int) -> None:
        handle = self._handles.get(job_id)
        if handle is not None:
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
        was_running = handle.status == RUNNING
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
        resource = handle.job.resource
        if resource and was_running:
            self._busy.discard(resource)
            queue = self._waiting.get(resource)
            while queue:
                nxt = queue.popleft()
                if not nxt.finished:
                    self._start(nxt)
                    break
