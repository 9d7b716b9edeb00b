"""What the server runs on: the app's Scheduler and Engines (or its own, headless), and the bridge from a job on a
worker thread to the request waiting for it on the event loop.

    stream = JobStream(runtime, job)                 # submitted now; its partials queue on the event loop
    first = await stream.first(request, PromptRead)  # waits (watching for the client leaving) for the job to start
    async for partial in stream: ...                  # then the rest, until the job ends
    result = stream.result()                          # or raises what the job raised (JobCancelled when cancelled)

A client that disconnects cancels its job: queued, it never runs; running, it stops at its next token and the model
is free for the next request. Requests queue behind the running job on the same resource (a reply in the Chat tab
included); at most MAX_QUEUE wait per resource, the next is refused as busy (503).
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

from app.core.jobs import Job, JobState
from app.core.scheduler import Scheduler, Ticket
from app.core.server.errors import ApiError

MAX_QUEUE = 32
POLL_S = 0.25  # how often a waiting request checks that its client is still there
_END = object()


@dataclass
class Stats:
    """Request counts since the server started (read from any thread; the status bar shows `served`)."""

    served: int = 0  # requests answered (any status)
    active: int = 0  # requests in flight
    cancelled: int = 0  # jobs cancelled because their client went away
    failed: int = 0  # answered with a 5xx status
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)

    def to_dict(self) -> dict:
        with self.lock:
            return {"served": self.served, "active": self.active, "cancelled": self.cancelled, "failed": self.failed}


class Runtime:
    """The scheduler the server submits to, the engines its jobs use, the app's settings, and request counts.
    Inside the app these are the app's own (one loaded model for the Chat tab and the server)."""

    def __init__(self, scheduler: Scheduler, engines, settings) -> None:
        self.scheduler = scheduler
        self.engines = engines
        self.settings = settings
        self.stats = Stats()
        self._tickets: set[Ticket] = set()
        self._lock = threading.Lock()

    def submit(self, job: Job, state: JobState) -> Ticket:
        """Queue a job for a request. Raises ApiError 503 when MAX_QUEUE jobs already wait for its resource."""
        if job.resource and self.scheduler.queued(job.resource) >= MAX_QUEUE:
            raise ApiError(503, f"Hearth is busy: {MAX_QUEUE} requests are already waiting for the same model. "
                                "Try again in a moment.", "busy")
        ticket = self.scheduler.submit(job, state, on_finish=self._forget)
        with self._lock:
            if not ticket.finished:
                self._tickets.add(ticket)
        return ticket

    def _forget(self, ticket: Ticket) -> None:
        with self._lock:
            self._tickets.discard(ticket)

    def cancel_all(self, timeout: float = 0.0) -> bool:
        """Cancel every job the server submitted (the server is stopping); wait up to `timeout` s for them."""
        with self._lock:
            tickets = list(self._tickets)
        for ticket in tickets:
            ticket.cancel()
        return self.scheduler.wait(timeout, tickets) if timeout else True


class JobStream:
    """One job for one request: submitted at once, its partials delivered on the running event loop (module
    docstring). Must be made on the event loop."""

    def __init__(self, runtime: Runtime, job: Job) -> None:
        self.runtime = runtime
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue = asyncio.Queue()
        self._held: list = []  # partials taken while waiting for the first one wanted
        self._getter: asyncio.Future | None = None
        self.done = False
        self.ticket = runtime.submit(job, JobState(on_partial=self._put))
        self.ticket.future.add_done_callback(lambda _f: self._put(_END))

    def _put(self, item) -> None:  # any thread
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:  # the event loop is gone (server stopped)
            pass

    async def _next(self, request=None):
        """The next partial (or _END), checking every POLL_S that the client is still there: if it left, the job
        is cancelled and _END comes once the job has stopped."""
        if self._getter is None:
            self._getter = asyncio.ensure_future(self.queue.get())
        while True:
            done, _ = await asyncio.wait({self._getter}, timeout=POLL_S)
            if done:
                item, self._getter = self._getter.result(), None
                if item is _END:
                    self.done = True
                return item
            if request is not None and await request.is_disconnected():
                self.cancel()

    async def first(self, request, *kinds: type):
        """Wait for the first partial of one of `kinds` (others are kept for iteration); None when the job ended
        first. Raises what the job raised when it failed before that."""
        while True:
            item = await self._next(request)
            if item is _END:
                self.result()  # raises the job's error, if any
                return None
            if isinstance(item, kinds):
                self._held.append(item)
                return item
            self._held.append(item)

    async def wait(self, request) -> object:
        """Wait for the job's end (its partials dropped); its result, or raises what it raised."""
        while not self.done:
            await self._next(request)
        return self.result()

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self._held:
            return self._held.pop(0)
        if self.done:
            raise StopAsyncIteration
        item = await self._next()
        if item is _END:
            raise StopAsyncIteration
        return item

    def result(self):
        """The job's result (after the end). Raises the job's exception, JobCancelled when it was cancelled."""
        return self.ticket.future.result(timeout=0)

    def cancel(self) -> None:
        """The client went away: cancel the job (counted once)."""
        if not self.ticket.finished and not self.ticket.state.cancelled:
            self.runtime.stats.add(cancelled=1)
        self.ticket.cancel()

    def close(self) -> None:
        """The response ended (normally or not): a job still running was abandoned, so cancel it."""
        if not self.done:
            self.cancel()
        if self._getter is not None:
            self._getter.cancel()
