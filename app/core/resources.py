"""Files shipped with Hearth in `resources/` (icons, catalog, model configs), in a checkout and in the bundle."""

from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path:
    """The resources/ folder: beside app/ in a checkout, unpacked beside the executable in a PyInstaller bundle."""
    frozen_root = getattr(sys, "_MEIPASS", None)  # PyInstaller bundle: datas are unpacked beside the executable
    if frozen_root:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def resource(*parts: str) -> Path:
    """A file under resources/, e.g. resource("catalog.json")."""
    return resources_dir().joinpath(*parts)
