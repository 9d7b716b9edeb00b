"""The server inside the app: the status bar switch, Settings → Server / Connections, the Chat tab on a remote
model, and the server sharing the Chat tab's loaded model (queued behind its reply)."""

import threading
import time

import httpx
import pytest

from app.core import connections
from app.core.settings import Settings
from app.ui.main_window import MainWindow
from tests.fixtures.servers import free_port, gemma_file, install

START_MS = 60_000
REPLY_MS = 180_000


def make_window(qtbot, **server):
    settings = Settings.load()
    settings.server.port = free_port()
    settings.chat.context_length = 512
    settings.chat.threads = 2
    for key, value in server.items():
        setattr(settings.server, key, value)
    settings.save()
    window = MainWindow(settings)
    qtbot.addWidget(window)
    window.show()
    return window


def get_models(window, key=None):
    url = f"http://127.0.0.1:{window.settings.server.port}/v1/models"
    return httpx.get(url, headers={"Authorization": f"Bearer {key or window.settings.server.api_key}"}, timeout=10)


def test_the_switch_starts_and_stops_the_server_and_quitting_stops_it(qtbot):
    window = make_window(qtbot)
    status = window.server_status
    assert status.label.text() == "off" and not status.switch.isChecked()
    status.switch.click()
    qtbot.waitUntil(lambda: window.server.state == "on", timeout=START_MS)
    key = window.settings.server.api_key
    assert key.startswith("hearth-") and Settings.load().server.api_key == key  # made and saved
    assert get_models(window).status_code == 200
    assert get_models(window, "wrong").status_code == 401
    port = window.settings.server.port
    qtbot.waitUntil(lambda: status.label.text() == f"127.0.0.1:{port} · 2 requests", timeout=5000)

    status.switch.click()
    qtbot.waitUntil(lambda: window.server.state == "off", timeout=START_MS)
    assert status.label.text() == "off"
    with pytest.raises(httpx.ConnectError):
        get_models(window)
    assert Settings.load().server.enabled is False

    status.switch.click()  # on again; quitting stops it, and it comes back with the next start
    qtbot.waitUntil(lambda: window.server.state == "on", timeout=START_MS)
    window.close()
    with pytest.raises(httpx.ConnectError):
        get_models(window)
    assert Settings.load().server.enabled is True
    again = MainWindow(Settings.load())
    qtbot.addWidget(again)
    again.show()
    qtbot.waitUntil(lambda: again.server.state == "on", timeout=START_MS)
    assert get_models(again).status_code == 200
    again.close()


def test_settings_show_and_renew_the_key_and_manage_connections(qtbot):
    window = make_window(qtbot, enabled=True)
    qtbot.waitUntil(lambda: window.server.state == "on", timeout=START_MS)
    dialog = window.show_settings(modal=False)
    page = dialog.server_page
    old = window.settings.server.api_key
    assert page.key.text() == old and page.key.isReadOnly()
    assert not page.network.isChecked() and not page.network_warning.isVisible()
    page.regenerate_key()
    new = window.settings.server.api_key
    assert new != old and page.key.text() == new and Settings.load().server.api_key == new
    qtbot.waitUntil(lambda: window.server.state == "on", timeout=START_MS)
    assert get_models(window, old).status_code == 401 and get_models(window, new).status_code == 200

    page.network.setChecked(True)
    assert page.network_warning.isVisibleTo(page) and "VPN" in page.network_warning.text()
    page.network.setChecked(False)

    conns = dialog.connections_page
    changed = []
    window.ctx.bus.sig_connections_changed.connect(lambda: changed.append(1))
    assert conns.add("box", "127.0.0.1:9", "secret")
    assert Settings.load().connections["box"] == {"url": "http://127.0.0.1:9/v1", "api_key": "secret",
                                                  "timeout_s": connections.DEFAULT_TIMEOUT_S}
    assert conns.table.rowCount() == 1 and conns.table.item(0, 2).text() == "set" and changed
    qtbot.waitUntil(lambda: "Cannot reach box" in (conns.table.item(0, 3).text() or ""), timeout=30_000)
    assert not conns.add("a/b", "http://x") and "cannot name a connection" in conns.status.text()
    assert conns.remove("box") and Settings.load().connections == {} and conns.table.rowCount() == 0
    dialog.close()
    window.close()


@pytest.mark.slow
def test_the_chat_tab_talks_to_a_remote_model(qtbot, llama_api):
    settings = Settings.load()
    connections.add(settings, "box", llama_api.url)
    settings.save()
    window = make_window(qtbot)
    tab = window.tab_widgets["chat"]
    picker = tab.model_bar.picker
    qtbot.waitUntil(lambda: "remote:box/gemma" in picker.paths(), timeout=30_000)
    assert picker.combo.itemText(picker.combo.findData("remote:box/gemma")) == "gemma — box (remote)"
    assert tab.stack.currentWidget() is not tab.empty  # a remote model is enough to chat
    with qtbot.waitSignal(tab.sig_model_loaded, timeout=60_000):
        tab.load_model("remote:box/gemma")
    assert tab.model_bar.info.text().startswith("context ") and "on box (127.0.0.1:" in tab.model_bar.info.text()
    tab.panel.temperature.setValue(0)
    tab.panel.seed.setValue(1)
    tab.panel.max_tokens.setValue(8)
    with qtbot.waitSignal(tab.sig_reply_finished, timeout=REPLY_MS) as blocker:
        assert tab.send("Name a colour.")
    assert blocker.args == ["done"]
    rows = tab.model.rows
    assert [r.role for r in rows] == ["user", "assistant"] and rows[1].content
    assert tab.conversation.record.model == "remote:box/gemma" and "tok/s" in tab.stats.text()

    tab.panel.max_tokens.setValue(400)
    with qtbot.waitSignal(tab.sig_reply_finished, timeout=REPLY_MS) as blocker:
        tab.send("Write a long story about a lighthouse.")
        qtbot.waitUntil(lambda: tab.model.rows[-1].content != "", timeout=REPLY_MS)
        tab.stop()
    assert blocker.args == ["cancelled"] and tab.model.rows[-1].info["stopped"] == "cancelled"
    window.close()


@pytest.mark.slow
def test_the_server_in_the_app_shares_the_tabs_model_and_waits_for_its_reply(qtbot, hearth_home, tmp_path):
    gemma = gemma_file()
    copy = tmp_path / "gemma-copy.gguf"
    copy.symlink_to(gemma)
    install(hearth_home, {"chat": [gemma, copy]})
    window = make_window(qtbot, enabled=True)
    tab = window.tab_widgets["chat"]
    installed = str(hearth_home / "models" / "chat" / gemma.name)
    with qtbot.waitSignal(tab.sig_model_loaded, timeout=120_000):
        tab.load_model(installed)
    qtbot.waitUntil(lambda: window.server.state == "on", timeout=START_MS)
    model = tab.engine.model
    assert window.engines.chat is tab.engine
    client = httpx.Client(base_url=f"http://127.0.0.1:{window.settings.server.port}/v1", timeout=REPLY_MS / 1000,
                          headers={"Authorization": f"Bearer {window.settings.server.api_key}"})
    body = {"model": "gemma-3-270m-q4_k_m", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4,
            "temperature": 0}
    answered = {}

    def ask():
        response = client.post("/chat/completions", json=body)
        answered["at"], answered["status"] = time.monotonic(), response.status_code

    tab.panel.temperature.setValue(0)
    tab.panel.max_tokens.setValue(60)
    with qtbot.waitSignal(tab.sig_reply_finished, timeout=REPLY_MS) as blocker:
        tab.send("Count from one to thirty in words.")
        qtbot.waitUntil(lambda: tab.model.rows[-1].content != "", timeout=REPLY_MS)
        asker = threading.Thread(target=ask)
        asker.start()
        qtbot.waitUntil(lambda: window.jobs.scheduler.queued("chat-model") == 1, timeout=10_000)
    replied_at = time.monotonic()
    assert blocker.args == ["done"]
    asker.join(REPLY_MS / 1000)
    assert answered["status"] == 200 and answered["at"] >= replied_at - 0.5  # it waited for the tab's reply
    assert tab.engine.model is model  # the same loaded model: no second copy

    # a request for another installed model loads it in the one engine, and the tab shows it
    other = dict(body, model="gemma-copy")
    assert client.post("/chat/completions", json=other).status_code == 200
    qtbot.waitUntil(lambda: tab.model_bar.picker.path().endswith("gemma-copy.gguf"), timeout=10_000)
    assert tab.load_info.path.endswith("gemma-copy.gguf") and tab.engine.model is not model
    assert "Gemma" in tab.model_bar.info.text()
    client.close()
    window.close()
