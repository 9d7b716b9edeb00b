"""The Chat tab in the real window, offscreen, with the real Gemma GGUF."""

import shutil

import pytest

from app.core.chat.store import ConversationStore
from app.core.settings import Settings
from app.ui.chat.tab import ChatTab
from app.ui.main_window import MainWindow
from app.ui.widgets import EmptyState
from tests.core.chat import helpers

LOAD_MS = 120_000
REPLY_MS = 180_000


@pytest.fixture
def window(qtbot):
    settings = Settings.load()
    settings.chat.context_length = 512
    settings.chat.threads = 2
    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()


def chat_tab(window) -> ChatTab:
    return window.tab_widgets["chat"]


def load(qtbot, tab, path):
    with qtbot.waitSignal(tab.sig_model_loaded, timeout=LOAD_MS):
        tab.load_model(str(path))


def greedy(tab, max_tokens=8):
    tab.panel.temperature.setValue(0)
    tab.panel.seed.setValue(1)
    tab.panel.max_tokens.setValue(max_tokens)


def send_and_wait(qtbot, tab, text):
    with qtbot.waitSignal(tab.sig_reply_finished, timeout=REPLY_MS) as blocker:
        assert tab.send(text)
    return blocker.args[0]


def test_bad_files_give_clear_errors_and_the_tab_still_works(qtbot, window, tmp_path):
    tab = chat_tab(window)
    assert tab.stack.currentWidget() is tab.empty
    bad = {
        "not a GGUF": helpers.not_gguf(tmp_path / "notes.gguf"),
        "incomplete": helpers.truncated_copy(tmp_path / "cut.gguf", 0.5),
        "does not know": helpers.unknown_architecture(tmp_path / "odd.gguf"),
        "will not fit": helpers.oversized(tmp_path / "huge.gguf"),
    }
    for expected, path in bad.items():
        tab.load_model(str(path))
        qtbot.waitUntil(lambda: tab.load_handle is None, timeout=LOAD_MS)
        assert expected in window.message_bar.label.text(), window.message_bar.label.text()
        assert "Could not load" in tab.model_bar.info.text()
        assert not tab.engine.loaded
    assert tab.send("hello") is False  # no model: nothing sent, nothing stored
    assert ConversationStore().list() == []
    load(qtbot, tab, helpers.gemma_path())
    greedy(tab)
    assert send_and_wait(qtbot, tab, "Say hi.") == "done"
    rows = tab.model.rows
    assert [r.role for r in rows] == ["user", "assistant"] and rows[1].content
    assert "tok/s" in tab.stats.text() and "context" in tab.stats.text()


def test_stream_stop_regenerate_edit_branch_and_restart(qtbot, window, hearth_home):
    tab = chat_tab(window)
    load(qtbot, tab, helpers.gemma_path())
    assert tab.model_bar.info.text().startswith("Gemma 3 270m") and "Q4_K_M" in tab.model_bar.info.text()
    assert "context 512" in tab.model_bar.info.text() and "CPU" in tab.model_bar.info.text()
    greedy(tab, max_tokens=200)

    # stop mid-reply: what came is kept, marked stopped
    builds_before = []

    def stop_when_streaming():
        r = tab.model.rows
        if r and r[-1].streaming and len(r[-1].content) > 0:
            if not builds_before:
                builds_before.append(tab.delegate.builds)
            return True
        return False

    with qtbot.waitSignal(tab.sig_reply_finished, timeout=REPLY_MS) as blocker:
        tab.send("Count from one to fifty in words.")
        qtbot.waitUntil(stop_when_streaming, timeout=REPLY_MS)
        tab.stop()
    assert blocker.args == ["cancelled"]
    first_reply = tab.model.rows[-1]
    assert first_reply.role == "assistant" and first_reply.content and first_reply.info["stopped"] == "cancelled"

    # regenerate: a second version of the reply; switch back to the first
    greedy(tab, max_tokens=6)
    with qtbot.waitSignal(tab.sig_reply_finished, timeout=REPLY_MS):
        assert tab.regenerate()
    reply = tab.model.rows[-1]
    assert (reply.sibling_index, reply.sibling_count) == (1, 2) and reply.info["stopped"] in ("eos", "length")
    tab.switch_version(reply.id, -1)
    assert tab.model.rows[-1].content == first_reply.content

    # a follow-up turn, then edit the first message: the follow-up lives on in the old branch
    assert send_and_wait(qtbot, tab, "Thanks. Another one?") == "done"
    assert len(tab.model.rows) == 4
    first_user = tab.model.rows[0]
    with qtbot.waitSignal(tab.sig_reply_finished, timeout=REPLY_MS):
        assert tab.edit_and_resend(first_user.id, "Count from one to three.")
    rows = tab.model.rows
    assert [r.content for r in rows[:1]] == ["Count from one to three."] and len(rows) == 2
    assert (rows[0].sibling_index, rows[0].sibling_count) == (1, 2)
    tab.switch_version(rows[0].id, -1)
    assert [r.content for r in tab.model.rows][::2] == ["Count from one to fifty in words.", "Thanks. Another one?"]
    cid = tab.conv_id
    window.close()

    # restart: the conversation and its branches are still there
    again = MainWindow(Settings.load())
    qtbot.addWidget(again)
    tab2 = chat_tab(again)
    assert cid in tab2.sidebar.ids()
    assert tab2.conv_id == cid  # the conversation open at quit is open again
    assert [r.content for r in tab2.model.rows][::2] == ["Count from one to fifty in words.",
                                                        "Thanks. Another one?"]
    assert tab2.model.rows[0].sibling_count == 2
    again.close()


def test_closing_the_app_mid_reply_keeps_the_partial_reply_and_frees_the_model(qtbot, window):
    tab = chat_tab(window)
    load(qtbot, tab, helpers.gemma_path())
    greedy(tab, max_tokens=400)
    tab.send("Write a long story about a lighthouse.")
    qtbot.waitUntil(lambda: len(tab.model.rows[-1].content) > 0, timeout=REPLY_MS)
    cid = tab.conv_id
    window.close()
    assert window.jobs.wait(10_000)  # no worker thread left running
    assert not tab.engine.loaded  # the model was freed (at once, or when the reply's last token came)
    store = ConversationStore()
    msgs = store.branch(cid)
    assert [m.role for m in msgs] == ["user", "assistant"]
    assert msgs[1].content and msgs[1].info["stopped"] == "cancelled"


def test_installed_model_is_listed_and_last_model_reloads(qtbot, hearth_home):
    from app.core.models import registry

    dest = registry.kind_dir("chat") / "gemma-3-270m-Q4_K_M.gguf"
    try:
        dest.symlink_to(helpers.gemma_path())
    except OSError:
        shutil.copy(helpers.gemma_path(), dest)
    settings = Settings.load()
    settings.chat.last_model = str(dest)
    settings.chat.context_length = 256
    w = MainWindow(settings)
    qtbot.addWidget(w)
    tab = chat_tab(w)
    assert str(dest) in tab.model_bar.picker.paths()
    assert tab.stack.currentWidget() is not tab.empty
    assert tab.findChild(EmptyState) is not None
    qtbot.waitUntil(lambda: "context 256" in tab.model_bar.info.text(), timeout=LOAD_MS)
    w.close()
