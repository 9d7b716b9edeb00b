"""What every tab is given: settings, the job manager, and a way to talk to the window."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

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
