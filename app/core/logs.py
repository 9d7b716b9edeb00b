"""Logging to a rotating file under the data folder (and stderr for the CLI)."""

from __future__ import annotations

import logging

from app.core import paths

_configured = False


def setup_logging(level: int = logging.INFO, console: bool = False) -> None:
    """Log to logs_dir()/hearth.log (rotated at 2 MB, 5 kept) and, with `console`, warnings to stderr. Once per
    process; a folder that cannot be written only loses the file log."""
    global _configured
    if _configured:
        return
    import logging.handlers  # socket, pickle...: only once logging is actually set up

    _configured = True
    root = logging.getLogger()
    root.setLevel(level)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
    try:
        handler = logging.handlers.RotatingFileHandler(
            paths.logs_dir() / "hearth.log", maxBytes=2_000_000, backupCount=5, encoding="utf-8"
        )
        handler.setFormatter(fmt)
        root.addHandler(handler)
    except OSError:  # read-only home: keep going without a file log
        pass
    if console:
        stream = logging.StreamHandler()
        stream.setLevel(logging.WARNING)
        stream.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        root.addHandler(stream)
