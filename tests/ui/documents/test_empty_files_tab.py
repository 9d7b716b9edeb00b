"""The Documents tab lists files with no text as Empty, each with its reason (real Qt, real indexer)."""

import pytest

from app.core.settings import Settings
from app.ui.bus import AppBus
from app.ui.context import AppContext
from app.ui.documents.tab import DocumentsTab
from app.ui.jobs import JobManager
from tests.core.documents.faulty import ZERO_BYTE, encrypted_docx, folder_with_empty_files


@pytest.fixture
def tab(qtbot):
    jobs = JobManager()
    ctx = AppContext(Settings(), jobs, AppBus(), show_message=lambda text, kind="info": None)
    widget = DocumentsTab(ctx)
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    widget.shutdown()
    jobs.shutdown(timeout_s=10)


@pytest.mark.slow
def test_empty_files_show_as_empty_with_their_reason(tab, qtbot, tmp_path):
    folder = folder_with_empty_files(tmp_path / "Inbox")
    (folder / "note.txt").write_text("The meter is read on the first Monday of the month.", encoding="utf-8")
    encrypted_docx(folder / "locked.docx")
    tab.add_paths([str(folder)])
    qtbot.waitUntil(lambda: not tab._index_jobs and not tab.ctx.jobs.active(), timeout=120000)
    states = tab.files.states()
    assert [states[str(folder / n)] for n in ZERO_BYTE] == ["empty"] * 3
    assert tab.files.reason(str(folder / "a.txt")) == "empty file (0 bytes)"
    assert states[str(folder / "note.txt")] == "indexed" and states[str(folder / "locked.docx")] == "failed"
    assert "needs a password" in tab.files.reason(str(folder / "locked.docx"))
    assert "3 empty" in tab.status.text() and "1 could not be read" in tab.status.text()
