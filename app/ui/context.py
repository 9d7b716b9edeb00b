"""What every tab is given: settings, the job manager, the shared engines, and a way to talk to the window."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from app.core.engines import Engines
from app.core.settings import Settings
from app.ui.bus import AppBus
from app.ui.jobs import JobManager


@dataclass
class AppContext:
    settings: Settings
    jobs: JobManager
    bus: AppBus
    show_tab: Callable[[str], None] = lambda key: None
    show_message: Callable[[str, str], None] = lambda text, kind="info": None
    save_settings: Callable[[], None] = lambda: None
    engines: Engines | None = None  # the chat and image engines the tabs and the server share
    remote: object | None = None  # ui.connections.RemoteModels: models on the configured connections

    def __post_init__(self) -> None:
        if self.engines is None:
            self.engines = Engines(self.settings)
