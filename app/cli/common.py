"""What every `hearth` subcommand does with a failed or interrupted job."""

from __future__ import annotations

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
