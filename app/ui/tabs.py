"""The five tabs, in order: (key, title, module, class). Each class takes an AppContext.

The title lives here, not only on the class, so the window can label a tab without importing its module: a tab
(and its engine's imports) is built the first time it is shown or asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping

from PySide6.QtWidgets import QVBoxLayout, QWidget

TABS: list[tuple[str, str, str, str]] = [
    ("chat", "Chat", "app.ui.chat", "ChatTab"),
    ("documents", "Documents", "app.ui.documents", "DocumentsTab"),
    ("images", "Images", "app.ui.images", "ImagesTab"),
    ("segment", "Segment", "app.ui.segment", "SegmentTab"),
    ("models", "Models", "app.ui.models", "ModelsTab"),
]


def tab_class(module: str, name: str):
    return getattr(importlib.import_module(module), name)


class TabHost(QWidget):
    """The page the tab bar holds; builds the real tab inside itself on first use."""

    def __init__(self, build: Callable[[], QWidget]) -> None:
        super().__init__()
        self._build = build
        self.widget: QWidget | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

    def ensure(self) -> QWidget:
        if self.widget is None:
            self.widget = self._build()
            self.layout().addWidget(self.widget)
            if self.isVisible():  # the layout would show it only at the next event-loop turn
                self.widget.show()
        return self.widget


class LazyTabs(Mapping):
    """key -> tab widget, building a tab when it is looked up. `built()` lists only the tabs that exist."""

    def __init__(self) -> None:
        self.hosts: dict[str, TabHost] = {}

    def __getitem__(self, key: str) -> QWidget:
        return self.hosts[key].ensure()

    def __iter__(self) -> Iterator[str]:
        return iter(self.hosts)

    def __len__(self) -> int:
        return len(self.hosts)

    def built(self) -> list[QWidget]:
        return [h.widget for h in self.hosts.values() if h.widget is not None]
