"""OCR of scanned PDF pages and image files: real RapidOCR (its bundled PP-OCR models), real PDFium, the real
indexer with the real all-MiniLM-L6-v2, real Chroma; the pictures of text are made by the tests (scans.py)."""

import os

import pytest
from PIL import Image, ImageDraw

from app.core.chat.citations import to_sources
from app.core.documents import ocr
from app.core.documents.indexer import IndexRequest, index_collection
from app.core.documents.retriever import Retriever, SearchOptions
from app.core.documents.store import EMPTY, FAILED, INDEXED, PENDING, Store
from app.core.errors import JobCancelled
from app.core.jobs import JobState
from tests.core.documents.scans import SCAN_PAGES, blank, picture, scanned_pdf

TEXT_PAGE = "Welcome to the Lumen heat pump manual. This page has a real text layer about the remote control."


def index(name, paths=(), state=None, **kw):
    return index_collection(IndexRequest(name, [str(p) for p in paths], **kw), state or JobState())


def files(name) -> dict:
    store = Store()
    return {os.path.basename(f.path): f for f in store.files(store.get(name))}


def top(name, query):
    retriever = Retriever()
    return retriever.search(retriever.store.get(name), query, SearchOptions(k=1))[0]


def test_page_list_and_render_scale():
    assert ocr.page_list([2]) == "page 2"
    assert ocr.page_list([2, 5]) == "pages 2 and 5"
    assert ocr.page_list([2, 5, 6, 7, 9]) == "pages 2, 5–7 and 9"
    assert ocr.render_scale(595, 842) == pytest.approx(2000 / 842)  # A4: long side at 2000 px
    assert ocr.render_scale(300, 200) == pytest.approx(200 / 72)  # small page: 200 dpi


def test_models_ship_in_the_wheel():
    models = ocr.bundled_models()
    assert set(models) == {"det", "cls", "rec"} and all(p.is_file() and p.suffix == ".onnx" for p in models.values())


@pytest.mark.slow
@pytest.mark.parametrize("degrees", [0, 90, 180, 270])
def test_a_picture_is_read_in_any_orientation(degrees):
    import numpy as np

    result = ocr.recognize(np.asarray(picture(SCAN_PAGES[1]).rotate(degrees, expand=True)))
    assert "evaporator coil every spring" in " ".join(result.text.split())
    assert result.rotation == (360 - degrees) % 360 and result.confidence > 0.9


@pytest.mark.slow
def test_scanned_pdf_is_searchable_at_the_right_page(tmp_path):
    # Page 1 has a text layer; pages 2-5 are pictures: upright, upside down, stored sideways under /Rotate 90
    # (shown upright), and blank.
    pictures = [picture(SCAN_PAGES[0]), picture(SCAN_PAGES[1]).rotate(180),
                picture(SCAN_PAGES[2]).rotate(90, expand=True), blank()]
    pdf = scanned_pdf(tmp_path / "manual.pdf", pictures, rotate={2: 90}, text_page=TEXT_PAGE)
    progress = []
    report = index("scans", [pdf], JobState(on_progress=lambda f, t: progress.append(t)))
    assert report.indexed == 1 and report.ocr_pages == 3 and not report.failed
    assert "OCR page 1 of 4 — manual.pdf" in progress and "OCR page 4 of 4 — manual.pdf" in progress
    row = files("scans")["manual.pdf"]
    assert row.state == INDEXED and row.pages == 4
    assert row.reason == "no text found on page 5 (scanned image, OCR found nothing)"
    assert report.notes == [(str(pdf.resolve()), row.reason)]
    expected = {"concrete pad thirty centimetres from the wall": 2, "clean the evaporator coil with soap": 3,
                "outdoor unit ices over emergency heat": 4, "remote control": 1}
    for query, page in expected.items():
        hit = top("scans", query)
        assert (hit.file, hit.page, hit.ocr) == (str(pdf.resolve()), page, page != 1), query
    source = to_sources([top("scans", "evaporator coil")])[0]
    assert source.label == "manual.pdf, page 3 (OCR)" and source.to_json()["ocr"] is True


@pytest.mark.slow
def test_image_files_are_read(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    picture(SCAN_PAGES[0]).save(folder / "pad.png")
    picture(SCAN_PAGES[2]).convert("RGB").save(folder / "ice.jpg", quality=90)
    first, second = blank(), picture(SCAN_PAGES[1])
    first.save(folder / "pages.tif", save_all=True, append_images=[second], compression="tiff_deflate")
    blank().save(folder / "white.png")
    sunset = Image.new("RGB", (640, 480), (40, 80, 160))  # a picture, no text: its sun once read as the text "O"
    ImageDraw.Draw(sunset).ellipse((250, 170, 390, 310), fill=(250, 210, 40))
    sunset.save(folder / "sunset.png")
    (folder / "zero.png").write_bytes(b"")
    data = (folder / "pad.png").read_bytes()
    (folder / "cut.png").write_bytes(data[:len(data) // 3])
    report = index("photos", [folder])
    rows = files("photos")
    assert {n for n, f in rows.items() if f.state == INDEXED} == {"pad.png", "ice.jpg", "pages.tif"}
    assert rows["white.png"].state == EMPTY and rows["white.png"].reason == "no text found in the image " \
                                                                             "(OCR found nothing)"
    assert rows["sunset.png"].state == EMPTY and "OCR found nothing" in rows["sunset.png"].reason
    assert rows["zero.png"].state == EMPTY and rows["zero.png"].reason == "empty file (0 bytes)"
    assert rows["cut.png"].state == FAILED and "damaged or truncated" in rows["cut.png"].reason
    assert rows["pages.tif"].reason == "no text found on page 1 (image, OCR found nothing)"
    assert report.ocr_pages == 3
    hit = top("photos", "concrete pad")
    assert (os.path.basename(hit.file), hit.page, hit.ocr) == ("pad.png", None, True)
    assert to_sources([hit])[0].label == "pad.png (OCR)"
    hit = top("photos", "warranty card service line")
    assert (os.path.basename(hit.file), hit.page, hit.ocr) == ("ice.jpg", None, True)
    hit = top("photos", "refrigerant pressure")
    assert (os.path.basename(hit.file), hit.page, hit.ocr) == ("pages.tif", 2, True)


@pytest.mark.slow
def test_ocr_off_reports_scanned_pages_and_a_scan_with_ocr_on_reads_them(tmp_path, monkeypatch):
    folder = tmp_path / "docs"
    folder.mkdir()
    mixed = scanned_pdf(folder / "mixed.pdf", [picture(SCAN_PAGES[1])], text_page=TEXT_PAGE)
    scanned_pdf(folder / "scan.pdf", [picture(SCAN_PAGES[0])])
    picture(SCAN_PAGES[2]).save(folder / "ice.png")
    monkeypatch.setenv("HEARTH_OCR", "0")  # overrides the setting (on by default)
    report = index("off", [folder])
    rows = files("off")
    assert report.ocr_pages == 0
    assert rows["mixed.pdf"].state == INDEXED and rows["mixed.pdf"].reason == "no text layer on page 2; OCR is off"
    assert rows["scan.pdf"].state == FAILED and "no text layer" in rows["scan.pdf"].reason
    assert "OCR is off" in rows["scan.pdf"].reason
    assert rows["ice.png"].state == FAILED and "OCR is off" in rows["ice.png"].reason
    assert index("off").indexed == 0  # nothing changed, OCR still off
    monkeypatch.delenv("HEARTH_OCR")
    again = index("off")  # the same files, OCR on (the default): the skipped pages are read now
    assert again.indexed == 3 and again.ocr_pages == 3
    assert all(f.state == INDEXED and f.reason == "" for f in files("off").values())
    hit = top("off", "evaporator coil every spring")
    assert (hit.file, hit.page, hit.ocr) == (str(mixed.resolve()), 2, True)


@pytest.mark.slow
def test_ocr_failing_on_one_page_keeps_the_others(tmp_path, monkeypatch):
    # A page that makes the OCR engine raise could not be produced reliably (RapidOCR reads any picture PDFium
    # renders), so the failure is injected at the OCR function boundary: the second picture read raises.
    real, calls = ocr.recognize, []

    def flaky(pixels):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("onnxruntime could not run the detector")
        return real(pixels)

    monkeypatch.setattr(ocr, "recognize", flaky)
    pdf = scanned_pdf(tmp_path / "three.pdf", [picture(SCAN_PAGES[0]), picture(SCAN_PAGES[1]),
                                               picture(SCAN_PAGES[2])])
    report = index("flaky", [pdf])
    row = files("flaky")["three.pdf"]
    assert report.indexed == 1 and not report.failed and report.ocr_pages == 2
    assert row.state == INDEXED and row.reason == "OCR failed on page 2 (RuntimeError: onnxruntime could not run " \
                                                  "the detector)"
    assert top("flaky", "emergency heat warranty card").page == 3


@pytest.mark.slow
def test_cancel_stops_between_ocr_pages(tmp_path):
    pdf = scanned_pdf(tmp_path / "long.pdf", [picture(t) for t in SCAN_PAGES])
    state = JobState()
    seen = []

    def on_progress(fraction, text):
        seen.append(text)
        if text == "OCR page 2 of 3 — long.pdf":
            state.cancel()

    state._on_progress = on_progress
    with pytest.raises(JobCancelled):
        index("cancel", [pdf], state)
    assert "OCR page 3 of 3 — long.pdf" not in seen
    row = files("cancel").get("long.pdf")
    assert row is None or row.state == PENDING
