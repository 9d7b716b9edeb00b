"""Where Hearth keeps its data.

Everything lives under platformdirs' per-user folders, or under one root when the environment variable
HEARTH_HOME is set (tests use it; it also makes a portable install).
"""

from __future__ import annotations

import os
from pathlib import Path

APP = "Hearth"


def home() -> Path | None:
    """HEARTH_HOME as an absolute path, or None when it is not set."""
    value = os.environ.get("HEARTH_HOME")
    return Path(value).expanduser().resolve() if value else None


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _folder(under_home: str, platform_dir: str) -> Path:
    """HEARTH_HOME/<under_home> when HEARTH_HOME is set, else platformdirs' `platform_dir` for Hearth; created."""
    root = home()
    if root is not None:
        return _ensure(root / under_home)
    import platformdirs

    return _ensure(Path(getattr(platformdirs, platform_dir)(APP, appauthor=False)))


def data_dir() -> Path:
    """Models, documents, images, conversations (e.g. ~/.local/share/Hearth)."""
    return _folder("", "user_data_dir")


def config_dir() -> Path:
    """settings.json (e.g. ~/.config/Hearth)."""
    return _folder("", "user_config_dir")


def logs_dir() -> Path:
    """hearth.log and its rotations (e.g. ~/.local/state/Hearth/log)."""
    return _folder("logs", "user_log_dir")


def cache_dir() -> Path:
    """Caches that can be rebuilt, e.g. SAM image embeddings (e.g. ~/.cache/Hearth)."""
    return _folder("cache", "user_cache_dir")


def settings_file() -> Path:
    """The settings file (settings.json in config_dir)."""
    return config_dir() / "settings.json"


def models_dir() -> Path:
    """The models folder: one subfolder per kind (chat, embedding, diffusion, sam, …)."""
    return _ensure(data_dir() / "models")


def documents_dir() -> Path:
    """The documents store (Chroma database and index state)."""
    return _ensure(data_dir() / "documents")


def images_dir() -> Path:
    """Generated images, one folder per day."""
    return _ensure(data_dir() / "images")


def clip_dir() -> Path:
    """CLIP's image-embedding cache and the user's label list."""
    return _ensure(data_dir() / "clip")


def conversations_db() -> Path:
    """The conversations database (SQLite)."""
    return data_dir() / "conversations.sqlite3"


def all_paths() -> dict[str, Path]:
    """Every location a user may want to know about (shown by `hearth doctor`)."""
    return {
        "data": data_dir(),
        "models": models_dir(),
        "documents": documents_dir(),
        "images": images_dir(),
        "clip": clip_dir(),
        "conversations": conversations_db(),
        "settings": settings_file(),
        "logs": logs_dir(),
        "cache": cache_dir(),
    }
