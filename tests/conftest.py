"""Shared fixtures: every test gets its own HEARTH_HOME; Qt runs offscreen."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]

# Session fixtures shared by several test folders (tests/core/<feature>, tests/ui/<tab>, tests/cli).
pytest_plugins = ["tests.fixtures.tiny_sd", "tests.fixtures.qwen", "tests.fixtures.servers"]


@pytest.fixture(autouse=True)
def hearth_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "hearth-home"
    home.mkdir()
    monkeypatch.setenv("HEARTH_HOME", str(home))
    return home


@pytest.fixture
def subprocess_env(hearth_home) -> dict:
    """Environment for running Hearth in a child process (offscreen, same HEARTH_HOME, repo on sys.path)."""
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["HEARTH_HOME"] = str(hearth_home)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture(scope="module")
def server():
    """A threaded HTTP server on 127.0.0.1 with Range support (tests/fixtures/http_server.py)."""
    from tests.fixtures.http_server import FileServer

    s = FileServer()
    yield s
    s.close()


@pytest.fixture
def python() -> str:
    return sys.executable
