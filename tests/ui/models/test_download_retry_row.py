"""The Models tab's download row while a dropped connection heals by itself: it says so (amber), keeps the Pause
button, and ends installed without the user pressing anything. Real job manager, real download code, a local
server that drops the connection once."""

from app.core.models import registry
from tests.core.models.files import gguf_bytes
from tests.ui.models.test_models_tab import ctx, tab  # noqa: F401 - the Models tab fixtures


def test_row_shows_the_retry_and_installs_without_a_click(tab, qtbot, server, monkeypatch):  # noqa: F811
    monkeypatch.setenv("HEARTH_DOWNLOAD_BACKOFF_S", "1.5")
    data = gguf_bytes(24)
    path = "/ui/heal-Q8_0.gguf"
    url = server.add_file(path, data)
    server.misbehave(path, {"cut": len(data) // 2})
    row = tab.download_url(url)
    qtbot.waitUntil(lambda: "retrying in" in row.info.text(), timeout=10000)
    assert "connection lost, retrying in" in row.info.text() and "(1/5)" in row.info.text()
    assert "#9a6700" in row.info.text() and row.pause.text() == "Pause" and row.pause.isEnabled()
    with qtbot.waitSignal(tab.downloads.sig_installed, timeout=15000):
        pass
    assert "Installed as chat/heal-Q8_0.gguf" in row.info.text()
    assert [m.path.read_bytes() == data for m in registry.installed()] == [True]
    assert [r.range for r in server.gets(path)] == [None, f"bytes={len(data) // 2}-"]
