"""The one job runner: worker threads, one job at a time per resource, results as futures. No Qt.

    scheduler = Scheduler()
    ticket = scheduler.submit(Job(engine.reply, request, resource="chat-model"), JobState(on_partial=...))
    ticket.future.result()         # or asyncio.wrap_future(ticket.future); JobCancelled when it was cancelled
    ticket.cancel()                # a queued job never runs; a running one is asked to stop (state.cancel())

Jobs naming the same `resource` run one after another in the order they were submitted; jobs with different
resources (or none) run side by side on up to `max_workers` threads. Everything that runs jobs goes through one
Scheduler: the GUI's JobManager (app/ui/jobs.py) submits to it and turns the callbacks into Qt signals, and the
HTTP server (inside the app, or `hearth serve` headless) submits to the same one, so a request for the chat model
queues behind the reply the Chat tab is making. The CLI runs single jobs in the foreground with run_sync instead.

`on_start(ticket)` and `on_finish(ticket)` are called on the worker thread (on_finish on the caller's thread when
a queued job is cancelled, or when the scheduler is shut down). Worker threads are daemons that end after
`idle_s` seconds without work, so a job that ignores cancellation never keeps the process alive.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import deque
from concurrent.futures import Future
from typing import Any, Callable

from app.core.errors import JobCancelled, UserError
from app.core.jobs import Job, JobState, describe_error

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)

Callback = Callable[["Ticket"], None]


class Ticket:
    """One submitted job. `status` is QUEUED until it holds its resource, then RUNNING, then DONE / FAILED /
    CANCELLED; `future` gets the result, the exception, or JobCancelled; `error` is the readable message of a
    failure (describe_error)."""

    def __init__(self, job: Job, state: JobState, on_start: Callback | None, on_finish: Callback | None,
                 scheduler: "Scheduler") -> None:
        self.job = job
        self.state = state
        self.status = QUEUED
        self.future: Future = Future()
        self.result: Any = None
        self.error = ""
        self._on_start = on_start
        self._on_finish = on_finish
        self._scheduler = scheduler

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def cancel(self) -> None:
        """Never run it if it is still queued; ask it to stop if it runs. Safe from any thread."""
        self._scheduler.cancel(self)

    def __repr__(self) -> str:
        return f"<Ticket {self.job.name!r} {self.status}>"


class Scheduler:
    """Per-resource queues over a small pool of daemon worker threads (module docstring). Thread-safe."""

    def __init__(self, max_workers: int = 4, idle_s: float = 30.0, name: str = "hearth-job") -> None:
        self.max_workers = max(1, int(max_workers))
        self.idle_s = idle_s
        self._name = name
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)  # workers wait here for ready tickets
        self._changed = threading.Condition(self._lock)  # wait(): a ticket finished
        self._ready: deque[Ticket] = deque()  # holding their resource, waiting for a thread
        self._waiting: dict[str, deque[Ticket]] = {}  # queued behind their resource
        self._busy: set[str] = set()
        self._active: dict[int, Ticket] = {}  # every ticket not finished, by job id
        self._workers = 0
        self._idle = 0
        self._closed = False

    # ---- public ------------------------------------------------------------------------------------------------
    def submit(self, job: Job, state: JobState | None = None, *, on_start: Callback | None = None,
               on_finish: Callback | None = None) -> Ticket:
        """Queue `job` (its partials and progress go to `state`). Returns its Ticket at once; after shutdown()
        the ticket is already CANCELLED."""
        ticket = Ticket(job, state or JobState(), on_start, on_finish, self)
        with self._lock:
            if not self._closed:
                self._active[job.id] = ticket
                resource = job.resource
                if resource and resource in self._busy:
                    self._waiting.setdefault(resource, deque()).append(ticket)
                else:
                    self._dispatch(ticket)
                return ticket
            ticket.status = CANCELLED
        self._settle(ticket)
        return ticket

    def cancel(self, ticket: Ticket) -> None:
        """A queued ticket is finished as CANCELLED here (never run); a running one is asked to stop."""
        with self._lock:
            if ticket.finished:
                return
            ticket.state.cancel()
            queue = self._waiting.get(ticket.job.resource or "")
            if ticket.status != QUEUED or queue is None or ticket not in queue:
                return  # running (or about to): it stops at its next check
            queue.remove(ticket)
            ticket.status = CANCELLED
            self._active.pop(ticket.job.id, None)
            self._changed.notify_all()
        self._settle(ticket)

    def active(self) -> list[Ticket]:
        """Tickets not finished (queued or running), oldest first."""
        with self._lock:
            return list(self._active.values())

    def busy(self, resource: str) -> bool:
        """A job holding `resource` runs now."""
        with self._lock:
            return resource in self._busy

    def queued(self, resource: str) -> int:
        """Jobs waiting for `resource`."""
        with self._lock:
            return len(self._waiting.get(resource, ()))

    def cancel_all(self) -> None:
        for ticket in self.active():
            self.cancel(ticket)

    def wait(self, timeout: float | None = None, tickets: list[Ticket] | None = None) -> bool:
        """Block until `tickets` (default: every active one) finished, at most `timeout` seconds. True if they did."""
        def done() -> bool:
            return all(t.finished for t in tickets) if tickets is not None else not self._active

        with self._lock:
            return self._changed.wait_for(done, timeout)

    def shutdown(self, timeout: float = 2.5) -> bool:
        """Refuse new jobs, cancel every job and wait for the running ones; True when all stopped in time."""
        with self._lock:
            self._closed = True
        self.cancel_all()
        stopped = self.wait(timeout)
        with self._lock:
            self._work.notify_all()  # idle workers end now
        if not stopped:
            log.warning("jobs still running at shutdown: %s", [t.job.name for t in self.active()])
        return stopped

    # ---- internals (the _lock is held where noted) --------------------------------------------------------------
    def _dispatch(self, ticket: Ticket) -> None:
        """Lock held: give `ticket` its resource and a thread."""
        if ticket.job.resource:
            self._busy.add(ticket.job.resource)
        ticket.status = RUNNING
        self._ready.append(ticket)
        if len(self._ready) > self._idle and self._workers < self.max_workers:
            self._workers += 1
            threading.Thread(target=self._worker, name=f"{self._name}-{self._workers}", daemon=True).start()
        self._work.notify()

    def _worker(self) -> None:
        while True:
            with self._lock:
                deadline = time.monotonic() + self.idle_s
                while not self._ready:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self._closed:
                        self._workers -= 1
                        return
                    self._idle += 1
                    self._work.wait(remaining)
                    self._idle -= 1
                ticket = self._ready.popleft()
            self._run(ticket)

    def _run(self, ticket: Ticket) -> None:
        job, state = ticket.job, ticket.state
        if ticket._on_start is not None:
            ticket._on_start(ticket)
        status = DONE
        try:
            if state.cancelled:
                raise JobCancelled()
            ticket.result = job.fn(job.inputs, state)
            if state.cancelled:
                status = CANCELLED  # returning after a cancel still counts as cancelled
        except JobCancelled:
            status = CANCELLED
        except BaseException as exc:  # noqa: BLE001 - a job must never take the runner down
            if state.cancelled:
                status = CANCELLED
            else:
                status = FAILED
                ticket.error = describe_error(exc)
                ticket.result = exc
                if isinstance(exc, UserError):
                    log.info("job %r: %s", job.name, exc)
                else:
                    log.error("job %r failed:\n%s", job.name, traceback.format_exc())
        with self._lock:
            ticket.status = status
            self._active.pop(job.id, None)
            resource = job.resource
            if resource:
                self._busy.discard(resource)
                queue = self._waiting.get(resource)
                if queue:
                    self._dispatch(queue.popleft())
                if not queue:
                    self._waiting.pop(resource, None)
            self._changed.notify_all()
        self._settle(ticket)

    def _settle(self, ticket: Ticket) -> None:
        """Lock not held: resolve the future and call on_finish."""
        if ticket.status == DONE:
            ticket.future.set_result(ticket.result)
        elif ticket.status == FAILED:
            ticket.future.set_exception(ticket.result)
            ticket.result = None
        else:
            ticket.future.set_exception(JobCancelled())
        if ticket._on_finish is not None:
            try:
                ticket._on_finish(ticket)
            except Exception:  # noqa: BLE001 - a callback's bug must not stop the queue
                log.exception("on_finish of job %r failed", ticket.job.name)
