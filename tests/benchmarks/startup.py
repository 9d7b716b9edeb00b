"""Startup benchmark: process start -> first paint of Hearth's main window, against a bare PySide6 QMainWindow with
five empty tabs, in the same run. Prints both medians and the ratio; last line is one JSON object.

    .venv/bin/python tests/benchmarks/startup.py [--runs 7] [--frozen dist/Hearth/hearth]

With --frozen, the PyInstaller bundle's executable is timed in the same alternation and compared with the venv
start (goal <= 2x).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

BARE = r"""
import sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow, QTabWidget, QWidget
app = QApplication(sys.argv[:1])
w = QMainWindow()
tabs = QTabWidget()
for name in ("Chat", "Documents", "Images", "Segment", "Models"):
    tabs.addTab(QWidget(), name)
w.setCentralWidget(tabs)
w.resize(1200, 800)
class Probe(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            print(f"FIRST_PAINT {time.time():.6f}", flush=True)
            obj.removeEventFilter(self)
            QTimer.singleShot(0, app.quit)
        return False
probe = Probe()
w.installEventFilter(probe)
w.show()
app.exec()
"""


def time_to_paint(cmd: list[str], env: dict) -> float:
    start = time.time()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    for line in out.stdout.splitlines():
        if line.startswith("FIRST_PAINT "):
            return float(line.split()[1]) - start
    raise RuntimeError(f"no paint reported by {cmd}: {out.stderr[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--frozen", metavar="EXE", help="also time this frozen Hearth executable (dist/Hearth/hearth)")
    args = parser.parse_args()
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["HEARTH_HOME"] = tempfile.mkdtemp(prefix="hearth-bench-")
    env["HEARTH_STARTUP_PROBE"] = "1"
    hearth_cmd = [sys.executable, "-m", "app"]
    bare_cmd = [sys.executable, "-c", BARE]
    # warm the file cache once for each, then alternate so noise hits both alike
    frozen_cmd = [str(Path(args.frozen).resolve())] if args.frozen else None
    time_to_paint(hearth_cmd, env)
    time_to_paint(bare_cmd, env)
    if frozen_cmd:
        time_to_paint(frozen_cmd, env)
    hearth, bare, frozen = [], [], []
    for _ in range(args.runs):
        hearth.append(time_to_paint(hearth_cmd, env))
        bare.append(time_to_paint(bare_cmd, env))
        if frozen_cmd:
            frozen.append(time_to_paint(frozen_cmd, env))
    h, b = statistics.median(hearth), statistics.median(bare)
    print(f"hearth first paint: median {h * 1000:.0f} ms  runs {[round(x * 1000) for x in hearth]}")
    print(f"bare   first paint: median {b * 1000:.0f} ms  runs {[round(x * 1000) for x in bare]}")
    print(f"ratio {h / b:.2f}x (goal <= 1.5x)")
    figures = {"hearth_s": round(h, 4), "bare_s": round(b, 4), "ratio": round(h / b, 3)}
    if frozen:
        f = statistics.median(frozen)
        print(f"frozen first paint: median {f * 1000:.0f} ms  runs {[round(x * 1000) for x in frozen]}")
        print(f"frozen / venv {f / h:.2f}x (goal <= 2x)")
        figures.update(frozen_s=round(f, 4), frozen_ratio=round(f / h, 3))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
