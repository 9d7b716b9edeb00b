"""The one background-job mechanism, engine side.

A job is a plain function `fn(inputs, state)`. It reports through `state`:

    state.progress(fraction, text)   fraction in [0, 1], or None when unknown
    state.partial(value)             streamed tokens, preview images, rows...
    state.cancelled                  polled between steps; or call state.check() to raise JobCancelled

and returns its result (or raises). The GUI runs jobs off the GUI thread (app/ui/jobs.py); the CLI runs the same
functions in the foreground with a ConsoleState. Nothing here knows about Qt.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from app.core.errors import JobCancelled, UserError

_ids = itertools.count(1)


class JobState:
    """What a running job reports to and asks of whoever runs it. Thread-safe."""

    def __init__(
        self,
        on_progress: Callable[[float | None, str], None] | None = None,
        on_partial: Callable[[Any], None] | None = None,
    ) -> None:
        self._cancel = threading.Event()
        self._on_progress = on_progress
        self._on_partial = on_partial
        self.fraction: float | None = None
        self.text = ""

    # -- asked by the job ----------------------------------------------------------------------------------------
    @property
    def cancelled(self) -> bool:
        """Whoever runs the job asked it to stop (poll between steps)."""
        return self._cancel.is_set()

    def check(self) -> None:
        """Raise JobCancelled if the job was cancelled; call between steps."""
        if self._cancel.is_set():
            raise JobCancelled()

    def progress(self, fraction: float | None, text: str = "") -> None:
        """Report progress: `fraction` in [0, 1] (clamped), None when unknown, and a short text."""
        if fraction is not None:
            fraction = min(1.0, max(0.0, float(fraction)))
        self.fraction, self.text = fraction, text
        if self._on_progress is not None:
            self._on_progress(fraction, text)

    def partial(self, value: Any) -> None:
        """Hand a partial result to whoever runs the job (a feature's frozen dataclass: Token, Preview, …)."""
        if self._on_partial is not None:
            self._on_partial(value)

    # -- asked by the runner -------------------------------------------------------------------------------------
    def cancel(self) -> None:
        """Ask the job to stop (from any thread); it stops at its next check."""
        self._cancel.set()


JobFn = Callable[[Any, JobState], Any]


@dataclass
class Job:
    """A unit of background work.

    `resource` names what the job holds (for example "chat-model"): jobs with the same resource run one after
    another; jobs with different resources may run at the same time. None: no constraint.
    """

    fn: JobFn
    inputs: Any = None
    name: str = ""
    resource: str | None = None
    id: int = field(default_factory=lambda: next(_ids))

    def __post_init__(self) -> None:
        if not self.name:
            self.name = getattr(self.fn, "__name__", "job").replace("_", " ")


def describe_error(exc: BaseException) -> str:
    """The message a user sees for a failed job: UserError text as is, otherwise the exception named plainly."""
    if isinstance(exc, UserError):
        return str(exc)
    text = str(exc).strip() or "no details"
    return f"{type(exc).__name__}: {text}"


def format_duration(seconds: float) -> str:
    """'42 s', '3 min 05 s', '1 h 07 min' — for ETAs in progress texts."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def run_sync(job: Job, state: JobState | None = None) -> Any:
    """Run a job in the calling thread (CLI, tests, benchmarks). JobCancelled propagates."""
    return job.fn(job.inputs, state or JobState())


class ConsoleState(JobState):
    """Progress on stderr (one updating line), partial results to a callback (the CLI prints them to stdout)."""

    def __init__(self, on_partial: Callable[[Any], None] | None = None, stream=None, quiet: bool = False):
        super().__init__(on_progress=self._print_progress, on_partial=on_partial)
        self._stream = stream or sys.stderr
        self._quiet = quiet
        self._last = 0.0
        self._shown = False

    def _print_progress(self, fraction: float | None, text: str) -> None:
        if self._quiet:
            return
        now = time.monotonic()
        done = fraction is not None and fraction >= 1.0
        if now - self._last < 0.1 and not done:
            return
        self._last = now
        if fraction is None:
            line = f"  … {text}"
        else:
            width = 24
            filled = int(round(fraction * width))
            line = f"  [{'#' * filled}{'.' * (width - filled)}] {fraction * 100:5.1f}% {text}"
        if self._stream.isatty():
            self._stream.write("\r\x1b[2K" + line[:120])
            if done:
                self._stream.write("\n")
        else:
            self._stream.write(line + "\n")
        self._shown = True
        self._stream.flush()

    def finish(self) -> None:
        """End the progress line (before printing results or an error)."""
        if self._shown and self._stream.isatty():
            self._stream.write("\n")
            self._stream.flush()
        self._shown = False
