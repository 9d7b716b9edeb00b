import subprocess
from pathlib import Path

import pytest

from app.core.documents.chunker import chunk_sections
from app.core.documents.ocr import OcrOptions
from app.core.documents.parsers import ParseFailure, parse_file
from tests.core.documents.corpus import (MANUAL_PAGES, make_encrypted_pdf, make_malformed_pdf, make_pdf,
                                         make_scanned_pdf)


def test_pdf_sections_carry_their_1_based_page(corpus):
    sections = parse_file(corpus["manual"])
    assert [s.page for s in sections] == [1, 2, 3, 4]
    for section, expected in zip(sections, MANUAL_PAGES):
        assert " ".join(section.text.split()) == expected


def test_blank_page_is_skipped_but_later_pages_keep_their_number(tmp_path):
    pdf = make_pdf(tmp_path / "gap.pdf", ["First page words.", "", "Third page words."])
    sections = parse_file(pdf)
    assert [(s.page, s.text.strip()) for s in sections] == [(1, "First page words."), (3, "Third page words.")]


def test_markdown_html_docx_keep_headings_and_drop_markup(corpus):
    md = parse_file(corpus["garden"])
    assert [s.heading for s in md] == ["Growing tomatoes", "Pests"]
    assert "Aphids" in md[1].text and "#" not in md[1].text
    html = parse_file(corpus["page"])
    text = " ".join(s.text for s in html)
    assert [s.heading for s in html][-2:] == ["Bicycle care", "Tyres"]
    assert "Oil the chain" in text and "hidden script text" not in text and "color:red" not in text
    assert "<p>" not in text
    docx = parse_file(corpus["bread"])
    assert [s.heading for s in docx] == ["Bread baking", "Proofing"]
    assert "doubled in size" in docx[1].text
    assert all(s.page is None for s in md + html + docx)


@pytest.mark.parametrize("make, reason", [
    (lambda d, src: make_malformed_pdf(d / "broken.pdf"), "malformed PDF"),
    (lambda d, src: make_encrypted_pdf(d / "locked.pdf"), "encrypted PDF"),
    (lambda d, src: _write(d / "photo.xyz", b"\x89PNG not really"), "unsupported file type '.xyz'"),
    (lambda d, src: _write(d / "fake.docx", b"not a zip"), "malformed DOCX"),
    (lambda d, src: _write(d / "bin.txt", b"\x00\x01\x02" * 100), "binary content"),
])
def test_unreadable_files_give_a_reason(tmp_path, corpus, make, reason):
    path = make(tmp_path, corpus["manual"])
    with pytest.raises(ParseFailure) as info:
        parse_file(path)
    assert reason in str(info.value)


def test_a_scanned_pdf_with_ocr_off_has_no_text_layer(tmp_path):
    with pytest.raises(ParseFailure) as info:
        parse_file(make_scanned_pdf(tmp_path / "scan.pdf"), OcrOptions(enabled=False))
    assert str(info.value) == ("no text layer (a scanned PDF?); OCR is off (the Documents tab's OCR setting, or "
                               "hearth docs index --ocr)")


def test_pdf_encrypted_without_a_user_password_opens(tmp_path):
    sections = parse_file(make_encrypted_pdf(tmp_path / "restricted.pdf", user_password=""))
    assert [s.page for s in sections] == [1, 2, 3, 4]
    assert " ".join(sections[2].text.split()) == MANUAL_PAGES[2]


def test_truncated_pdf_is_malformed(tmp_path, corpus):
    data = corpus["manual"].read_bytes()
    path = _write(tmp_path / "cut.pdf", data[: len(data) // 2])
    with pytest.raises(ParseFailure, match="malformed PDF"):
        parse_file(path)


def test_pdf_text_is_tidied():
    from app.core.documents.parsers import _tidy_pdf_text

    raw = ("Chapter 1 . . . . . . . . 3\r\nabout 25 pack\x02ages and S\ufffe\r\nPlus, exp \x14A\x15 \r\n"
           "line-\r\nbreak, not-a-break:\r\n\u261b \u271f\r\nx <- 1\r\n\u2721 \u2720\r\nDone \u2713")
    assert _tidy_pdf_text(raw) == ("Chapter 1 ........ 3\nabout 25 packages and SPlus, exp A\n"
                                   "linebreak, not-a-break:\n\nx <- 1\n\nDone \u2713")


def test_pdfs_parse_from_several_threads_at_once(corpus, subprocess_env, python):
    # PDFium is not thread-safe and parse_pdf serialises it; unserialised, this segfaults within a few parses, so
    # it runs in a child process to fail as one test instead of killing the test run.
    code = (
        "import sys\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "from pathlib import Path\n"
        "from app.core.documents.parsers import parse_file\n"
        "path = Path(sys.argv[1])\n"
        "pages = lambda _: [(s.page, s.text) for s in parse_file(path)]\n"
        "expected = pages(0)\n"
        "with ThreadPoolExecutor(4) as pool:\n"
        "    results = list(pool.map(pages, range(40)))\n"
        "print(len(expected), sum(r == expected for r in results))\n"
    )
    done = subprocess.run([python, "-c", code, str(corpus["manual"])], env=subprocess_env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["4", "40"]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_chunks_respect_token_budget_overlap_and_spans(embedder):
    sentences = [f"Sentence number {i} talks about topic {i * 7} in some detail." for i in range(80)]
    text = " ".join(sentences[:40]) + "\n\n" + " ".join(sentences[40:])
    from app.core.documents.parsers import Section

    chunks = chunk_sections([Section(text, page=7, heading="H")], embedder.count_tokens, max_tokens=60, overlap=15)
    assert len(chunks) > 5
    for chunk in chunks:
        assert chunk.page_start == chunk.page_end == 7 and chunk.heading == "H"
        assert embedder.count_tokens([text[chunk.char_start:chunk.char_end]])[0] <= 60
        assert " ".join(text[chunk.char_start:chunk.char_end].split()) == " ".join(chunk.text.split())
        assert chunk.text.rstrip().endswith(".")  # ends on a sentence boundary
    # Consecutive chunks overlap, and together they cover the whole text.
    for a, b in zip(chunks, chunks[1:]):
        assert b.char_start < a.char_end and b.char_start > a.char_start
    assert chunks[0].char_start == 0 and chunks[-1].char_end == len(text)


def test_a_giant_sentence_is_cut_to_the_budget(embedder):
    from app.core.documents.parsers import Section

    text = " ".join(f"word{i}" for i in range(2000))
    chunks = chunk_sections([Section(text)], embedder.count_tokens, max_tokens=100, overlap=0)
    assert len(chunks) > 10
    assert max(embedder.count_tokens([c.text for c in chunks])) <= 100
