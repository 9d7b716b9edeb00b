"""What every `hearth` subcommand does with a failed or interrupted job."""

from __future__ import annotations

import functools
import sys
from typing import Callable

from app.core.errors import JobCancelled, UserError


def run_guarded(fn: Callable[[], int], state=None, cancelled: str = "cancelled") -> int:
    """Run fn(). A UserError prints `error: …` and exits 1; a cancelled job or Ctrl-C prints `cancelled` and exits
    130. `state` (a ConsoleState) gets its progress line closed first, so the message starts on its own line."""
    try:
        return fn()
    except UserError as exc:
        if state is not None:
            state.finish()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (JobCancelled, KeyboardInterrupt):
        if state is not None:
            state.finish()
        print(cancelled, file=sys.stderr)
        return 130


def guarded(cancelled: str = "cancelled", console: bool = False):
    """Decorator for a subcommand's `run(args) -> int`: runs it under run_guarded with this cancel message. With
    `console`, the function is `run(args, state)` and gets a ConsoleState (progress on stderr) whose line is closed
    before an error is printed."""
    def wrap(fn):
        @functools.wraps(fn)
        def wrapper(args) -> int:
            if not console:
                return run_guarded(lambda: fn(args), cancelled=cancelled)
            from app.core.jobs import ConsoleState

            state = ConsoleState()
            return run_guarded(lambda: fn(args, state), state, cancelled)
        return wrapper
    return wrap


def print_sources(use, out=None) -> None:
    """After a reply that drew on documents (a chat.citations.DocumentsUse, or None): the note and the numbered
    sources (`*` marks the cited ones) on `out` (stdout), the collections left out on stderr."""
    if use is None:
        return
    out = out or sys.stdout
    for problem in use.problems:
        print(f"warning: {problem}", file=sys.stderr)
    if use.note:
        out.write(f"\n({use.note} The reply cites nothing.)\n" if use.nothing_found else f"\n({use.note})\n")
    if use.searched_for:
        out.write(f"\n(searched for: {use.searched_for})\n")
    if use.sources:
        out.write("\nSources:\n")
        for source in use.sources:
            mark = "*" if source.n in use.cited else " "
            out.write(f" {mark}[{source.n}] {source.file}  {source.where}\n")
    if use.invalid:
        out.write(f"\n(removed citations of sources that do not exist: {use.invalid})\n")
