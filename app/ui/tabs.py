"""The five tabs, in order: (key, module, class). Each class takes an AppContext."""

from __future__ import annotations

import importlib

TABS: list[tuple[str, str, str]] = [
    ("chat", "app.ui.chat", "ChatTab"),
    ("documents", "app.ui.documents", "DocumentsTab"),
    ("images", "app.ui.images", "ImagesTab"),
    ("segment", "app.ui.segment", "SegmentTab"),
    ("models", "app.ui.models", "ModelsTab"),
]


def tab_class(module: str, name: str):
    return getattr(importlib.import_module(module), name)
