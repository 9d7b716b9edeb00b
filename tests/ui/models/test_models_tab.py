import hashlib

import pytest

from app.core.models import downloads, fit, registry
from app.core.settings import Settings
from app.ui.bus import AppBus
from app.ui.context import AppContext
from app.ui.jobs import JobManager
from app.ui.models.downloads_view import DownloadsPanel
from app.ui.models.tab import ModelsTab
from tests.fixtures.tiny_gguf import write_tiny_llama

GB = 10**9


@pytest.fixture
def ctx(qtbot):
    jobs = JobManager()
    messages = []
    context = AppContext(settings=Settings(), jobs=jobs, bus=AppBus(),
                         show_message=lambda text, kind="info": messages.append((kind, text)))
    context.messages = messages
    yield context
    jobs.shutdown(timeout_s=10)


@pytest.fixture
def tab(ctx, qtbot):
    t = ModelsTab(ctx)
    qtbot.addWidget(t)
    t.show()
    return t


def gguf(path):
    return write_tiny_llama(path)  # a real GGUF: imports check the structure


def test_empty_state_until_something_is_installed(tab, qtbot, tmp_path, ctx):
    inst = tab.installed
    assert inst.stack.currentWidget() is inst.empty and inst.empty.buttons
    inst.empty.buttons[0].click()  # Browse the catalog
    assert tab.pages.currentWidget() is tab.catalog
    with qtbot.waitSignal(ctx.bus.sig_models_changed, timeout=10000):
        inst.import_path(str(gguf(tmp_path / "imported-Q4_K_M.gguf")))
    assert inst.stack.currentWidget() is inst.table and inst.table.rowCount() == 1
    assert [inst.table.item(0, c).text() for c in range(4)] == ["imported-Q4_K_M", "chat", "gguf", "Q4_K_M"]
    assert "copied from" in inst.table.item(0, 5).text()
    inst.table.selectRow(0)
    assert inst.quantize.isEnabled() and not inst.fp16.isEnabled()
    inst.confirm = lambda text: True
    with qtbot.waitSignal(ctx.bus.sig_models_changed, timeout=5000):
        inst.delete.click()
    assert registry.installed() == [] and inst.stack.currentWidget() is inst.empty


def test_bad_import_says_why_and_installs_nothing(tab, qtbot, tmp_path):
    bad = tmp_path / "renamed.gguf"
    bad.write_text("just text")
    handle = tab.installed.import_path(str(bad))
    with qtbot.waitSignal(handle.sig_finished, timeout=5000):
        pass
    assert "not a GGUF file" in tab.installed.status.text()
    assert registry.installed() == []


def test_catalog_fit_labels_and_kind_filter(tab):
    view = tab.catalog
    view.set_memory(fit.Memory(8 * GB))
    rows = {view.tree.topLevelItem(i).text(0): view.tree.topLevelItem(i) for i in range(view.tree.topLevelItemCount())}
    assert rows["Qwen2.5 7B Instruct"].text(4).startswith("tight")
    assert rows["Qwen2.5 0.5B Instruct"].text(4) == "fits · ★ Q8_0"
    assert rows["SDXL base 1.0"].text(4) == "won't fit"
    llama = rows["Llama 3.2 1B Instruct"]
    assert [llama.child(i).text(0) for i in range(llama.childCount())][0] == "Q4_K_M (recommended)"
    view.kind.setCurrentIndex(view.kind.findData("sam"))
    names = [view.tree.topLevelItem(i).text(0) for i in range(view.tree.topLevelItemCount())]
    assert names[:3] == ["Segment Anything ViT-B", "Segment Anything ViT-L", "Segment Anything ViT-H"]
    assert {"EdgeTAM (SAM 2, on-device)", "SAM 2.1 Hiera Tiny", "SAM-HQ ViT-B"} <= set(names)


def test_download_row_pause_resume_after_restart_and_install(tab, ctx, qtbot, server):
    data = b"GGUF" + hashlib.sha256(b"x").digest() * 60_000  # ~1.9 MB
    url = server.add_file("/files/ui-dl.gguf", data)
    server.throttle["/files/ui-dl.gguf"] = 1_000_000
    row = tab.download_url(url, hashlib.sha256(data).hexdigest())
    qtbot.waitUntil(lambda: row.bar.value() > 50, timeout=10000)
    assert "/s" in row.info.text()
    with qtbot.waitSignal(row.handle.sig_cancelled, timeout=10000):
        row.pause.click()
    assert row.pause.text() == "Resume" and "Paused" in row.info.text()
    assert registry.installed() == []

    restarted = DownloadsPanel(ctx)  # a new window after a restart finds the paused download
    qtbot.addWidget(restarted)
    (again,) = restarted.rows.values()
    assert again.pause.text() == "Resume" and "kept" in again.info.text()
    server.throttle.pop("/files/ui-dl.gguf")
    with qtbot.waitSignal(restarted.sig_installed, timeout=10000):
        again.pause.click()
    gets = [r for r in server.requests("/files/ui-dl.gguf") if r.method == "GET"]
    assert gets[-1].range and gets[-1].range.startswith("bytes="), server.requests("/files/ui-dl.gguf")
    assert [m.id for m in registry.installed()] == ["chat/ui-dl.gguf"]
    assert "Installed as chat/ui-dl.gguf" in again.info.text()


def test_checksum_mismatch_row_says_quarantined(tab, qtbot, server):
    url = server.add_file("/files/ui-bad.gguf", b"GGUF" + b"1" * 1000)
    row = tab.download_url(url, "2" * 64)
    with qtbot.waitSignal(row.handle.sig_finished, timeout=10000):
        pass
    assert "Checksum mismatch" in row.info.text() and "quarantine" in row.info.text()
    assert row.pause.text() == "Retry" and registry.installed() == []


def test_cancel_discards(tab, qtbot, server):
    data = b"GGUF" + b"3" * 2_000_000
    url = server.add_file("/files/ui-cancel.gguf", data)
    server.throttle["/files/ui-cancel.gguf"] = 500_000
    row = tab.download_url(url)
    qtbot.waitUntil(lambda: row.bar.value() > 10, timeout=10000)
    with qtbot.waitSignal(row.sig_removed, timeout=10000):
        row.cancel.click()
    assert downloads.pending() == [] and tab.downloads.rows == {}


def test_search_offline_state(tab, qtbot, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tab.search.query.setText("qwen")
    handle = tab.search.search()
    with qtbot.waitSignal(handle.sig_finished, timeout=5000):
        pass
    assert tab.search.offline and "Offline" in tab.search.state.text() and "keeps working" in tab.search.state.text()


def test_search_results_and_file_download(tab, qtbot, monkeypatch, server, ctx):
    import huggingface_hub.constants as hf_constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    server.add_hub_file("acme/Gamma-GGUF", "gamma-Q5_K_M.gguf", b"GGUF" + b"g" * 5000)
    tab.search.query.setText("gamma")
    handle = tab.search.search()
    with qtbot.waitSignal(handle.sig_done, timeout=10000):
        pass
    item = tab.search.tree.topLevelItem(0)
    assert item.text(0) == "acme/Gamma-GGUF"
    item.setExpanded(True)
    qtbot.waitUntil(lambda: item.childCount() == 1, timeout=10000)
    assert (item.child(0).text(0), item.child(0).text(1)) == ("gamma-Q5_K_M.gguf", "Q5_K_M")
    item.child(0).setSelected(True)
    with qtbot.waitSignal(ctx.bus.sig_models_changed, timeout=10000):
        tab.search.download.click()
    assert registry.installed("chat")[0].source["repo"] == "acme/Gamma-GGUF"
    assert tab.installed.table.rowCount() == 1


@pytest.mark.slow
def test_quantize_dialog_registers_result_next_to_source(tab, qtbot, tmp_path, ctx):
    src = write_tiny_llama(tmp_path / "dialog-F32.gguf")
    with qtbot.waitSignal(ctx.bus.sig_models_changed, timeout=10000):
        tab.installed.import_path(str(src))
    tab.installed.table.selectRow(0)
    tab.installed.quantize.click()
    dialog = tab.installed.quantize_dialog
    dialog.type.setCurrentIndex(dialog.type.findData("Q8_0"))
    with qtbot.waitSignal(ctx.bus.sig_models_changed, timeout=60000):
        dialog.start_button.click()
    names = sorted(m.name for m in registry.installed("chat"))
    assert names == ["dialog-F32", "dialog-Q8_0"]
    assert "dialog-Q8_0" in tab.installed.status.text() and "source dialog-F32" in tab.installed.status.text()


def test_url_box_downloads_and_bad_url_is_reported(tab, qtbot, server, ctx):
    data = b"GGUF" + b"u" * 3000
    tab.search.url.setText(server.add_file("/files/ui-url.gguf", data))
    tab.search.sha.setText(hashlib.sha256(data).hexdigest())
    with qtbot.waitSignal(ctx.bus.sig_models_changed, timeout=10000):
        tab.search.url_go.click()
    assert [m.id for m in registry.installed()] == ["chat/ui-url.gguf"]
    tab.search.url.setText("not a url")
    tab.search.url_go.click()
    assert ctx.messages[-1][0] == "error" and "Not a web address" in ctx.messages[-1][1]


def test_import_with_explicit_kind_and_link(tab, qtbot, tmp_path, ctx, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    src = gguf(tmp_path / "reranker-ish.gguf")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(src), "")))
    tab.installed.import_kind.setCurrentIndex(tab.installed.import_kind.findData("reranker"))
    tab.installed.link.setChecked(True)
    with qtbot.waitSignal(ctx.bus.sig_models_changed, timeout=10000):
        tab.installed.import_file.click()
    (m,) = registry.installed("reranker")
    assert m.is_link and "linked from" in tab.installed.table.item(0, 5).text()


def test_downloading_a_model_that_wont_fit_asks_first(tab):
    from app.core.models import catalog

    tab.catalog.set_memory(fit.Memory(2 * GB))
    asked = []
    tab.confirm = lambda text: asked.append(text) or False
    entry, variant = catalog.find("mistral-7b-instruct-v0.3:Q8_0")
    assert tab.download_catalog(entry, variant) is None
    assert "will not run here" in asked[0] and tab.downloads.rows == {} and downloads.pending() == []


def test_a_damaged_file_in_the_models_folder_is_flagged_in_the_list(tab, qtbot, tmp_path):
    """A GGUF cut short (a copy that stopped, a bad disk) is listed as broken, with the reason, as `hearth models
    list` marks it; whole files beside it are not."""
    from app.core import paths

    folder = paths.models_dir() / "chat"
    folder.mkdir(parents=True, exist_ok=True)
    whole = gguf(folder / "whole-Q8_0.gguf")
    data = whole.read_bytes()
    (folder / "cut-Q8_0.gguf").write_bytes(data[: len(data) // 2])
    inst = tab.installed
    inst.refresh()
    rows = {inst.models[r].name: r for r in range(inst.table.rowCount())}
    qtbot.waitUntil(lambda: "broken" in inst.table.item(rows["cut-Q8_0"], 0).text(), timeout=20000)
    ids = {m.name: m.id for m in inst.models}
    assert "incomplete" in inst.problems[ids["cut-Q8_0"]] and ids["whole-Q8_0"] not in inst.problems
    assert "incomplete" in inst.table.item(rows["cut-Q8_0"], 3).toolTip()
    assert inst.table.item(rows["whole-Q8_0"], 0).text() == "whole-Q8_0"
