"""OCR in the GUI: the Documents tab reads a scanned image (progress says OCR), marks its passages "(OCR)" in search
results, and its checkbox is the saved setting; the chat sources panel marks OCR'd sources (real Qt, real indexer,
real RapidOCR)."""

import pytest

from app.core.chat.citations import Source
from app.ui.chat.sources_panel import where
from tests.core.documents.scans import SCAN_PAGES, picture
from tests.ui.documents.test_empty_files_tab import tab  # noqa: F401 - the same real tab (fixture)


@pytest.mark.slow
def test_a_scanned_image_is_indexed_and_marked_in_search_results(tab, qtbot, tmp_path):
    folder = tmp_path / "Scans"
    folder.mkdir()
    picture(SCAN_PAGES[1]).save(folder / "coil.png")
    texts = []
    show = tab._on_progress
    tab._on_progress = lambda name, fraction, text: (texts.append(text), show(name, fraction, text))
    tab.add_paths([str(folder)])
    qtbot.waitUntil(lambda: not tab._index_jobs and not tab.ctx.jobs.active(), timeout=180000)
    assert tab.files.states()[str(folder / "coil.png")] == "indexed"
    assert "OCR — coil.png" in texts
    handle = tab.search("evaporator coil spring", "hybrid")
    with qtbot.waitSignal(handle.sig_done, timeout=60000):
        pass
    assert tab.search_panel.hits[0].ocr
    assert "coil.png — (OCR)" in tab.search_panel.results.toPlainText()


def test_the_ocr_checkbox_is_the_saved_setting(tab):
    saved = []
    tab.ctx.save_settings = lambda: saved.append(tab.ctx.settings.documents.ocr)
    assert tab.ocr_box.isChecked() and tab.ctx.settings.documents.ocr
    tab.ocr_box.setChecked(False)
    assert tab.ctx.settings.documents.ocr is False and saved == [False]
    tab.set_ocr(True)
    assert tab.ocr_box.isChecked() and tab.ctx.settings.documents.ocr and saved == [False, True]


def test_sources_say_when_ocr_read_them():
    scanned = Source(1, "/docs/scan.pdf", 3, 3, "", "text", 0.5, ocr=True)
    assert where(scanned) == "page 3 (OCR)" and scanned.label == "scan.pdf, page 3 (OCR)"
    assert Source.from_json(scanned.to_json()).ocr is True
    assert Source.from_json({"n": 1, "file": "/a.pdf", "page": 2}).ocr is False  # stored before OCR existed
    assert where(Source(2, "/docs/a.pdf", 4, 5, "", "t", 0.1)) == "pages 4–5"
