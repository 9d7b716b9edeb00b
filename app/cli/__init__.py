"""`hearth`: no arguments opens the window; subcommands run the same engines headless."""

from __future__ import annotations

import importlib
import sys

import app as hearth

# Subcommand modules: each has register(subparsers) which sets `func` on its parser.
COMMANDS = ["app.cli.doctor", "app.cli.models", "app.cli.chat", "app.cli.docs", "app.cli.image", "app.cli.segment",
            "app.cli.clip", "app.cli.serve", "app.cli.connections"]


def build_parser():
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(
        prog="hearth",
        description="Hearth: local AI on your own computer. With no arguments, opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"Hearth {hearth.__version__}")
    parser.add_argument("--screenshot", metavar="DIR", type=Path, help="render every tab to DIR/<tab>.png and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        return gui_main()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.screenshot is not None:
        from app.ui.app import save_screenshots

        for path in save_screenshots(args.screenshot):
            print(path)
        return 0
    if args.command is None:
        return gui_main()
    from app.core.logs import setup_logging

    setup_logging(console=True)
    return int(args.func(args) or 0)


def gui_main() -> int:
    from app.ui.app import run_gui

    return run_gui()
