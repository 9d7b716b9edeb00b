"""Where Hearth keeps its data.

Everything lives under platformdirs' per-user folders, or under one root when the environment variable
HEARTH_HOME is set (tests use it; it also makes a portable install).
"""

from __future__ import annotations

import os
from pathlib import Path

APP = "Hearth"


def home() -> Path | None:
    value = os.environ.get("HEARTH_HOME")
    return Path(value).expanduser().resolve() if value else None


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    root = home()
    if root is not None:
        return _ensure(root)
    import platformdirs

    return _ensure(Path(platformdirs.user_data_dir(APP, appauthor=False)))


def config_dir() -> Path:
    root = home()
    if root is not None:
        return _ensure(root)
    import platformdirs

    return _ensure(Path(platformdirs.user_config_dir(APP, appauthor=False)))


def logs_dir() -> Path:
    root = home()
    if root is not None:
        return _ensure(root / "logs")
    import platformdirs

    return _ensure(Path(platformdirs.user_log_dir(APP, appauthor=False)))


def cache_dir() -> Path:
    root = home()
    if root is not None:
        return _ensure(root / "cache")
    import platformdirs

    return _ensure(Path(platformdirs.user_cache_dir(APP, appauthor=False)))


def settings_file() -> Path:
    return config_dir() / "settings.json"


def models_dir() -> Path:
    return _ensure(data_dir() / "models")


def documents_dir() -> Path:
    """The documents store (Chroma database and index state)."""
    return _ensure(data_dir() / "documents")


def images_dir() -> Path:
    return _ensure(data_dir() / "images")


def conversations_db() -> Path:
    return data_dir() / "conversations.sqlite3"


def all_paths() -> dict[str, Path]:
    """Every location a user may want to know about (shown by `hearth doctor`)."""
    return {
        "data": data_dir(),
        "models": models_dir(),
        "documents": documents_dir(),
        "images": images_dir(),
        "conversations": conversations_db(),
        "settings": settings_file(),
        "logs": logs_dir(),
        "cache": cache_dir(),
    }
