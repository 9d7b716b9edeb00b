import os

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from app.core.settings import Settings
from app.ui.bus import AppBus
from app.ui.context import AppContext
from app.ui.documents.tab import DocumentsTab
from app.ui.jobs import JobManager
from app.ui.widgets import EmptyState
from tests.core.documents.corpus import make_corpus, make_malformed_pdf


@pytest.fixture
def tab(qtbot):
    jobs = JobManager()
    messages = []
    ctx = AppContext(Settings(), jobs, AppBus(), show_message=lambda text, kind="info": messages.append(text))
    widget = DocumentsTab(ctx)
    widget.messages = messages
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    widget.show()
    yield widget
    widget.shutdown()
    jobs.shutdown(timeout_s=10)


def idle(tab):
    return not tab._index_jobs and not tab.ctx.jobs.active()


def test_folder_becomes_a_collection_with_states_search_and_watching(tab, qtbot, tmp_path):
    assert tab.stack.currentWidget() is tab.empty and tab.empty.buttons
    folder = tmp_path / "Home docs"
    files = make_corpus(folder)
    make_malformed_pdf(folder / "broken.pdf")
    tab.add_paths([str(folder)])
    assert tab.current_name() == "Home docs" and tab.stack.currentIndex() == 1
    qtbot.waitUntil(lambda: idle(tab), timeout=120000)
    states = tab.files.states()
    assert states[str(folder / "broken.pdf")] == "failed"
    assert "malformed PDF" in tab.files.reason(str(folder / "broken.pdf"))
    assert sum(s == "indexed" for s in states.values()) == 5
    assert "5 indexed" in tab.status.text() and "could not be read" in tab.status.text()

    handle = tab.search("blinking amber light", "hybrid")
    with qtbot.waitSignal(handle.sig_done, timeout=60000):
        pass
    hits = tab.search_panel.hits
    assert hits[0].file == str(files["manual"]) and hits[0].page == 3
    html = tab.search_panel.results.toPlainText()
    assert "lumen-manual.pdf — page 3" in html and "score" in html

    # A new file in the watched folder is indexed without the user asking.
    assert str(folder) in tab.watcher.watched()
    (folder / "late.txt").write_text("The late file talks about submarines and sonar.", encoding="utf-8")
    qtbot.waitUntil(lambda: tab.files.states().get(str(folder / "late.txt")) == "indexed", timeout=120000)
    # ...and a deleted one disappears.
    files["notes"].unlink()
    qtbot.waitUntil(lambda: str(files["notes"]) not in tab.files.states() and idle(tab), timeout=120000)


def test_dropped_files_are_added_to_the_current_collection(tab, qtbot, tmp_path):
    files = make_corpus(tmp_path / "a")
    tab.create_collection("Mine", [])
    assert tab.current_name() == "Mine"
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(files["notes"])), QUrl.fromLocalFile(str(files["garden"]))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    tab.dropEvent(event)
    qtbot.waitUntil(lambda: idle(tab), timeout=120000)
    assert set(tab.files.states().values()) == {"indexed"} and len(tab.files.states()) == 2
    handle = tab.remove_collection("Mine")
    with qtbot.waitSignal(handle.sig_finished, timeout=60000):
        pass
    qtbot.waitUntil(lambda: tab.stack.currentWidget() is tab.empty, timeout=5000)
    assert os.path.exists(files["notes"])
    assert isinstance(tab.empty, EmptyState) and not tab.messages
