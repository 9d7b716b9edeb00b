"""Export and import in the Chat tab (File menu, sidebar), in the real window offscreen."""

from PySide6.QtWidgets import QFileDialog

from app.core.chat.store import ConversationStore
from app.core.settings import Settings
from app.ui.main_window import MainWindow
from tests.core.chat.test_export import make_conversation


def test_export_then_import_opens_the_copy_with_its_branches_and_sources(qtbot, tmp_path, monkeypatch):
    cid, _ = make_conversation(ConversationStore())
    window = MainWindow(Settings.load())
    qtbot.addWidget(window)
    window.show()
    tab = window.tab_widgets["chat"]
    tab.open_conversation(cid)
    out = tmp_path / "heater"  # no extension: the chosen filter says JSON
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), "JSON, to import again (*.json)"))
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")
    next(a for a in file_menu.actions() if a.text() == "Export conversation…").trigger()
    assert out.read_text(encoding="utf-8").startswith("{") and "hearth-conversation" in out.read_text()

    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(out), ""))
    tab.sidebar.sig_import.emit()  # the sidebar's "Import conversation…"
    assert tab.conv_id != cid and len(tab.sidebar.ids()) == 2
    rows = tab.model.rows
    assert [r.role for r in rows] == ["user", "assistant"]
    assert (rows[1].sibling_index, rows[1].sibling_count) == (1, 2) and rows[1].documents.sources[0].page == 3
    tab.show_sources(1)
    assert "manual.pdf" in tab.sources.body.toPlainText()

    markdown = tmp_path / "heater.md"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(markdown), "Markdown (*.md)"))
    tab.sidebar.sig_export.emit(tab.conv_id, "md")  # the sidebar's "Export as Markdown…"
    assert markdown.read_text(encoding="utf-8").startswith("# What does error XK-4471-Q mean?")
    bad = tmp_path / "bad.json"
    bad.write_text("{}", encoding="utf-8")
    assert tab.import_conversation(str(bad)) is None
    assert "not a Hearth conversation export" in window.message_bar.label.text()
    window.close()
