"""Get started in the real window (pytest-qt): offered at the first start, offline it says so and offers Import,
dismissed it stays closed; the one download (from the local range server) pauses, resumes, and every tab sees
each model as it lands."""

from PySide6.QtWidgets import QFileDialog

from app.core.models import fit, registry, starter
from app.core.models.jobs import StarterPlan
from app.core.settings import Settings
from app.core.units import format_bytes
from app.ui.models.get_started import GetStartedDialog
from tests.core.models.starter_files import CHAT, local_catalog
from tests.fixtures.tiny_gguf import write_tiny_llama
from tests.ui.test_main_window import window  # noqa: F401 - the real main window, shown


def test_first_start_offers_it_offline_it_says_so_and_offers_import_and_closing_dismisses_it(window, qtbot,
                                                                                              monkeypatch):
    window.offer_get_started()  # nothing installed, never dismissed: offered
    dialog = window.get_started
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.plan is not None, timeout=10000)
    assert dialog.machine.text().startswith("This computer:") and dialog.rows[0].pick.role == "chat"
    assert dialog.offline.isVisible() and "You seem to be offline" in dialog.offline.text()  # HF_HUB_OFFLINE=1
    assert "HF_HUB_OFFLINE" in dialog.offline.text() and "Import" in dialog.offline.text()
    assert not dialog.download_button.isEnabled() and dialog.import_button.isVisible()
    assert "time unknown" in dialog.total.text()
    chosen = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (chosen.append(a) or "", ""))
    dialog.import_button.click()
    assert window.current_tab_key() == "models" and chosen  # the Models tab's Import… file chooser
    dialog.skip_button.click()
    assert not dialog.isVisible() and Settings.load().ui.starter_dismissed
    window.offer_get_started()
    assert not dialog.isVisible()  # dismissed: not offered again
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    next(a for a in menu.actions() if a.text() == "Get started…").trigger()
    assert dialog.isVisible()  # Help still opens it


def test_one_download_pauses_resumes_and_each_tab_sees_its_model_as_it_lands(window, qtbot, server, tmp_path):
    gguf = write_tiny_llama(tmp_path / "tiny-F32.gguf").read_bytes()  # a chat model llama.cpp really loads
    entries, files = local_catalog(server, tmp_path, sizes=(0, 200_000, 100_000), chat=gguf)
    server.throttle[CHAT] = len(gguf) // 3  # about three seconds: time to pause

    def plan(_inputs, _state):
        machine = starter.Machine(fit.Memory(16 * 2**30), 500 * 10**9)
        return StarterPlan(starter.choose(machine, entries), None, "")

    dialog = GetStartedDialog(window.ctx, plan=plan, parent=window)
    window.get_started = dialog
    dialog.show()
    qtbot.waitUntil(lambda: dialog.plan is not None, timeout=10000)
    assert [r.pick.role for r in dialog.rows] == ["chat", "documents", "images", "segment"]
    total = len(gguf) + 300_000
    assert format_bytes(total) in dialog.total.text() and dialog.download_button.isEnabled()
    dialog.rows[2].tick.setChecked(False)  # no image model this time
    assert format_bytes(total - 200_000) in dialog.total.text()
    landed = []
    window.ctx.bus.sig_models_changed.connect(lambda: landed.append({m.kind for m in registry.installed()}))

    dialog.download_button.click()
    qtbot.waitUntil(lambda: dialog.bar.value() > 100, timeout=10000)
    assert dialog.download_button.text() == "Pause" and " of " in dialog.status.text()
    dialog.download_button.click()
    qtbot.waitUntil(lambda: not dialog.downloading, timeout=10000)
    assert dialog.download_button.text() == "Resume" and dialog.status.text().startswith("Paused")
    assert registry.installed() == [] and 0 < dialog.bar.value() < 1000

    dialog.download_button.click()
    qtbot.waitUntil(lambda: not dialog.downloading, timeout=20000)
    assert dialog.status.text().startswith("All set: 2 models installed") and dialog.bar.value() == 1000
    assert len(landed) == 2 and "chat" in landed[0]  # announced once per model, as each landed
    assert sorted(m.kind for m in registry.installed()) == ["chat", "sam"]
    chat = window.tab_widgets["chat"]
    assert any(p.endswith("starter-chat.gguf") for p in chat.model_bar.picker.paths())
    qtbot.waitUntil(lambda: chat.engine.loaded, timeout=20000)  # the first chat model is loaded: ready to talk
    assert chat.engine.model.path.name == "starter-chat.gguf"
    assert dialog.open_chat.isVisible() and "Nothing to download" in dialog.total.text()
    dialog.open_chat.click()
    assert window.current_tab_key() == "chat"
