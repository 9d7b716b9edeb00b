"""Start-up fixes for the PyInstaller bundle (harmless when not frozen).

- A windowed build (Windows `hearth-gui.exe`, the macOS .app) has sys.stdout/sys.stderr = None; tqdm,
  transformers' logging and print() then raise AttributeError. Give them a real stream (the log folder's
  `console.log`, or devnull) before any library logs.
- multiprocessing.freeze_support() so a child process started by a library re-enters the bundle correctly.
"""

from __future__ import annotations

import os
import sys


def install_safe_streams() -> None:
    if sys.stdout is not None and sys.stderr is not None:
        return
    stream = None
    try:
        from app.core import paths

        stream = open(paths.logs_dir() / "console.log", "a", encoding="utf-8", buffering=1)
    except OSError:
        stream = open(os.devnull, "w", encoding="utf-8")
    if sys.stdout is None:
        sys.stdout = stream
    if sys.stderr is None:
        sys.stderr = stream


def main() -> int:
    install_safe_streams()
    if getattr(sys, "frozen", False):
        import multiprocessing

        multiprocessing.freeze_support()
        # Never ask a model hub for anything the bundle should already have.
        os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
        os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    from app.cli import main as cli_main

    return cli_main()
