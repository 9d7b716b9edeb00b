"""app.core must never import Qt: the CLI and engines run without a GUI."""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import app.core

CORE = Path(app.core.__file__).parent
QT = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "qtpy")


def test_no_qt_import_statement_under_app_core():
    offenders = []
    for path in CORE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] in QT for n in names):
                offenders.append(f"{path.relative_to(CORE)}:{node.lineno}")
    assert offenders == []


def test_importing_every_core_module_loads_no_qt(subprocess_env):
    modules = [m.name for m in pkgutil.walk_packages([str(CORE)], "app.core.")]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"bad = [q for q in {QT!r} if q in sys.modules]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=subprocess_env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
