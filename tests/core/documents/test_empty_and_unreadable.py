"""Files with nothing in them are *empty* (never duplicates of each other), and files that cannot be read say why:
real python-docx, real PDFium, the real indexer and CLI."""

import json

import pytest

from app.core.documents.indexer import IndexRequest, index_collection
from app.core.documents.office import DAMAGED, NEEDS_PASSWORD, OLD_DOC
from app.core.documents.parsers import EmptyDocument, ParseFailure, parse_file
from app.core.documents.store import DUPLICATE, EMPTY, FAILED, INDEXED, Store
from app.core.jobs import JobState
from tests.core.documents.corpus import make_docx, make_encrypted_pdf, make_pdf, make_scanned_pdf
from tests.core.documents.faulty import (ZERO_BYTE, cut, encrypted_docx, folder_with_empty_files, word97_doc,
                                         zip_named)


def _reason(path) -> str:
    with pytest.raises(ParseFailure) as info:
        parse_file(path)
    return str(info.value)


def _blank_pdf(path):
    return make_pdf(path, ["", ""])  # two pages with nothing drawn on them


def _empty_docx(path):
    import docx

    docx.Document().save(str(path))  # a real Word package with no paragraphs
    return path


@pytest.mark.parametrize("name, make, reason", [
    ("zero.txt", lambda p: p.write_bytes(b""), "empty file (0 bytes)"),
    ("zero.pdf", lambda p: p.write_bytes(b""), "empty file (0 bytes)"),
    ("zero.docx", lambda p: p.write_bytes(b""), "empty file (0 bytes)"),
    ("blank.pdf", _blank_pdf, "all 2 pages are blank"),
    ("nothing.docx", _empty_docx, "no text in the file"),
    ("spaces.md", lambda p: p.write_text("   \n\n\t\n", encoding="utf-8"), "no text in the file"),
    ("markup.html", lambda p: p.write_text("<html><head><title></title><script>var a = 1;</script></head>"
                                           "<body><div> </div></body></html>", encoding="utf-8"),
     "no text in the file"),
])
def test_files_without_text_are_empty(tmp_path, name, make, reason):
    path = tmp_path / name
    make(path)
    with pytest.raises(EmptyDocument) as info:
        parse_file(path)
    assert reason in str(info.value)


@pytest.mark.slow
def test_a_scanned_pdf_without_text_is_empty_and_says_ocr_found_nothing(tmp_path):
    # make_scanned_pdf's page is a grey rectangle: real OCR reads it and finds no text.
    with pytest.raises(EmptyDocument) as info:
        parse_file(make_scanned_pdf(tmp_path / "scan.pdf"))
    assert str(info.value) == "no text found on page 1 (scanned image, OCR found nothing)"


def test_docx_that_is_not_a_word_document_gets_its_real_reason(tmp_path):
    real = make_docx(tmp_path / "real.docx")
    assert _reason(encrypted_docx(tmp_path / "locked.docx")) == NEEDS_PASSWORD
    assert _reason(word97_doc(tmp_path / "old.docx")) == OLD_DOC
    magic_only = tmp_path / "magic.docx"  # an old-format signature with no readable directory
    magic_only.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504 + b"old word 97 body" * 20)
    assert _reason(magic_only) == OLD_DOC
    for fraction in (0.3, 0.6, 0.95):
        assert _reason(cut(real, tmp_path / f"cut{fraction}.docx", fraction)) == DAMAGED
    assert "Excel" in _reason(zip_named(tmp_path / "sheet.docx", {"[Content_Types].xml": b"<Types/>",
                                                                  "xl/workbook.xml": b"<workbook/>"}))
    rtf = tmp_path / "letter.docx"
    rtf.write_bytes(b"{\\rtf1\\ansi Hello}")
    assert "RTF" in _reason(rtf)
    text = tmp_path / "text.docx"
    text.write_bytes(b"plain words")
    assert "not a Word document" in _reason(text)


def test_pdf_that_cannot_be_read_gets_its_real_reason(tmp_path):
    manual = make_pdf(tmp_path / "manual.pdf", ["Page one text.", "Page two text."])
    assert "needs a password" in _reason(make_encrypted_pdf(tmp_path / "locked.pdf"))
    assert "truncated" in _reason(cut(manual, tmp_path / "cut.pdf", 0.6))
    page = tmp_path / "page.pdf"
    page.write_text("<!doctype html><html><body>Saved from a browser</body></html>", encoding="utf-8")
    assert "not a PDF" in _reason(page)


@pytest.mark.slow
def test_empty_files_are_listed_as_empty_never_as_duplicates(tmp_path, embedder, capsys):
    from app.cli import main

    folder = folder_with_empty_files(tmp_path / "inbox")
    _blank_pdf(folder / "blank.pdf")
    _empty_docx(folder / "nothing.docx")
    (folder / "notes.txt").write_text("The boiler is serviced every October.", encoding="utf-8")
    broken = cut(make_docx(tmp_path / "src.docx"), folder / "broken.docx")
    (folder / "broken copy.docx").write_bytes(broken.read_bytes())  # same bytes as a file that fails
    (folder / "notes copy.txt").write_bytes((folder / "notes.txt").read_bytes())

    report = index_collection(IndexRequest("inbox", [str(folder)]), JobState())
    assert report.indexed == 1 and len(report.empty) == 5
    states = {f.path.rsplit("/", 1)[1]: (f.state, f.reason) for f in Store().files(Store().get("inbox"))}
    for name in ZERO_BYTE:
        assert states[name] == (EMPTY, "empty file (0 bytes)")
    assert states["blank.pdf"][0] == EMPTY and states["nothing.docx"] == (EMPTY, "no text in the file")
    assert states["broken.docx"] == states["broken copy.docx"] == (FAILED, DAMAGED)
    assert {states["notes.txt"][0], states["notes copy.txt"][0]} == {INDEXED, DUPLICATE}

    # A second run leaves them as they are; the CLI lists them as empty.
    again = index_collection(IndexRequest("inbox", create=False), JobState())
    assert again.indexed == 0 and again.unchanged == len(states)
    capsys.readouterr()
    assert main(["docs", "list", "--files"]) == 0
    out = capsys.readouterr().out
    assert f"empty     {folder / 'a.txt'}  — empty file (0 bytes)" in out
    assert out.count("duplicate ") == 1
    assert main(["docs", "list", "--files", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["file_list"]
    assert sum(f["state"] == "empty" for f in listed) == 5
