"""Chat with document collections in the real window, offscreen: real collections (all-MiniLM-L6-v2) and Gemma."""

import pytest
from PySide6.QtCore import QObject, QPoint, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices

from app.core.settings import Settings
from app.ui.chat.messages import HEADER_H, PAD, Row
from app.ui.main_window import MainWindow
from tests.core.chat import helpers
from tests.core.documents.corpus import make_corpus
from tests.ui.chat.test_chat_tab import chat_tab, greedy, load, send_and_wait

INDEX_MS = 120_000


class OpenedUrls(QObject):
    """Stands in for the system's file opener (so no viewer is started): records what would be opened."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(QUrl(url))


@pytest.fixture
def opened():
    handler = OpenedUrls()
    QDesktopServices.setUrlHandler("file", handler, "open")
    yield handler
    QDesktopServices.unsetUrlHandler("file")


def make_window(qtbot):
    settings = Settings.load()
    settings.chat.context_length = 512
    settings.chat.threads = 2
    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    return w


def docs_idle(docs):
    return not docs._index_jobs and not docs.ctx.jobs.active()


def click_citation(qtbot, tab, index: int, number: int) -> None:
    """Click citation [number] in the message at row `index`, where it is painted."""
    view, delegate = tab.view, tab.delegate
    row = tab.model.rows[index]
    view.scrollTo(tab.model.index(index))
    rect = view.visualRect(tab.model.index(index))
    doc = delegate.document(row, delegate._width(rect.width()))
    block = doc.begin()
    while block.isValid():
        at = block.text().find(f"[{number}]")
        if at >= 0:
            break
        block = block.next()
    assert block.isValid(), doc.toPlainText()
    line = block.layout().lineForTextPosition(at + 1)
    x = line.cursorToX(at + 1)[0] + block.layout().position().x()
    y = block.layout().position().y() + line.y() + line.height() / 2
    pos = QPoint(rect.left() + PAD + int(x) + 1, rect.top() + PAD + HEADER_H + int(y))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def test_a_conversation_answers_from_a_collection_with_sources_and_citation_links(qtbot, tmp_path, opened):
    files = make_corpus(tmp_path / "docs")
    manual = str(files["manual"].resolve())
    window = make_window(qtbot)
    tab, docs = chat_tab(window), window.tab_widgets["documents"]
    assert tab.collections_picker.text() == "Documents: off"

    # a collection made in the Documents tab shows up in the Chat tab's picker
    docs.create_collection("manual", [manual])
    qtbot.waitUntil(lambda: docs_idle(docs), timeout=INDEX_MS)
    tab.collections_picker.refresh()
    assert "manual" in tab.collections_picker.actions_by_name()
    tab.collections_picker.actions_by_name()["manual"].trigger()
    assert tab.collections_picker.attached() == ["manual"] and "manual" in tab.collections_picker.text()

    load(qtbot, tab, helpers.gemma_path())
    greedy(tab, max_tokens=8)
    assert send_and_wait(qtbot, tab, "What does error code XK-4471-Q mean?") == "done"
    reply = tab.model.rows[-1]
    use = reply.documents
    assert use.collections == ["manual"] and (use.sources[0].file, use.sources[0].page) == (manual, 3)
    # the sources panel shows each passage with number, file name, page and text
    assert tab.sources.isVisible() and tab.sources.message_id == reply.id
    panel = tab.sources.body.toPlainText()
    assert "[1] lumen-manual.pdf — page 3" in panel and "tilt sensor" in panel
    assert tab.sources.urls()[0] == QUrl.fromLocalFile(manual).toString() + "#page=3"
    assert ("sources", f"Sources ({len(use.sources)})") in tab.delegate.actions(reply, len(tab.model.rows) - 1)

    # a citation [1] is a link to the file at its page; clicking it opens the file there and shows the passage.
    # (Gemma-270M is a base model and may not cite: the same stored sources on a controlled text.)
    tab.model.append(Row(reply.id, "assistant", "It means the tilt sensor tripped [1]. Nothing about [4].",
                         dict(reply.info)))
    row = tab.model.rows[-1]
    doc = tab.delegate.document(row, 600)
    hrefs = {f.charFormat().anchorHref() for b in _blocks(doc) for f in _fragments(b) if f.text() == "[1]"}
    assert len(hrefs) == 1
    href = QUrl(hrefs.pop())
    assert href.toLocalFile() == manual and href.fragment() == "page=3"
    assert "[4]" in doc.toPlainText() and not any(f.charFormat().isAnchor() for b in _blocks(doc)
                                                   for f in _fragments(b) if "[4]" in f.text())
    tab.sources.hide()
    qtbot.wait(50)
    click_citation(qtbot, tab, len(tab.model.rows) - 1, 1)
    qtbot.waitUntil(lambda: bool(opened.urls), timeout=5000)
    assert opened.urls[-1].toLocalFile() == manual and opened.urls[-1].fragment() == "page=3"
    assert tab.sources.isVisible() and "tilt sensor" in tab.sources.body.toPlainText()
    tab.reload_rows()

    # nothing relevant: the model is told so, and the message says so, with no citation
    assert send_and_wait(qtbot, tab, "Who painted the Mona Lisa?") == "done"
    reply = tab.model.rows[-1]
    assert reply.documents.nothing_found and reply.documents.sources == []
    text = tab.delegate.document(reply, 600).toPlainText()
    assert text.startswith("Nothing relevant was found in “manual”.")
    assert "Nothing relevant was found in “manual”." in tab.sources.body.toPlainText()
    cid = tab.conv_id
    window.close()

    # restart: the attached collection and each reply's sources are still there
    again = make_window(qtbot)
    tab2, docs2 = chat_tab(again), again.tab_widgets["documents"]
    tab2.open_conversation(cid)
    assert tab2.collections_picker.attached() == ["manual"]
    first_reply = tab2.model.rows[1]
    assert (first_reply.documents.sources[0].file, first_reply.documents.sources[0].page) == (manual, 3)
    tab2._on_action("sources", 1)
    assert tab2.sources.isVisible() and "lumen-manual.pdf — page 3" in tab2.sources.body.toPlainText()

    # the collection is removed in the Documents tab: the picker says so, and the next reply goes on without it
    qtbot.waitUntil(lambda: docs_idle(docs2), timeout=INDEX_MS)
    with qtbot.waitSignal(docs2.remove_collection("manual").sig_finished, timeout=INDEX_MS):
        pass
    qtbot.waitUntil(lambda: "(removed)" in tab2.collections_picker.text(), timeout=5000)
    load(qtbot, tab2, helpers.gemma_path())
    greedy(tab2, max_tokens=6)
    assert send_and_wait(qtbot, tab2, "Say hello.") == "done"
    assert "“manual” no longer exists" in again.message_bar.label.text()
    last = tab2.model.rows[-1]
    assert last.role == "assistant" and last.content and last.documents.problems
    again.close()


def _blocks(doc):
    block = doc.begin()
    while block.isValid():
        yield block
        block = block.next()


def _fragments(block):
    it = block.begin()
    while not it.atEnd():
        yield it.fragment()
        it += 1
