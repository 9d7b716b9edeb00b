"""Multi-column PDF pages are read column by column (real PDFium), so phrases across a column's line breaks are
found and words facing each other across the gutter are not read as neighbours."""

import re

import pytest

from app.core.documents.indexer import IndexRequest, index_collection
from app.core.documents.parsers import parse_file
from app.core.documents.retriever import Retriever, SearchOptions
from app.core.jobs import JobState
from tests.core.documents.faulty import LEFT_COLUMN, RIGHT_COLUMN, two_column_pdf


def _words(text: str) -> list[str]:
    return re.findall(r"[\w.,:]+", text)


@pytest.mark.parametrize("rotate", [False, True])
def test_columns_are_read_one_after_the_other(tmp_path, rotate):
    sections = parse_file(two_column_pdf(tmp_path / "newsletter.pdf", rotate=rotate))
    assert [s.page for s in sections] == [1, 2]
    words = _words(sections[1].text)
    # Title, the whole left column, the whole right column, the footer: each column's words in order.
    assert words == (_words("The Parish Newsletter: birds and bread") + _words(LEFT_COLUMN) + _words(RIGHT_COLUMN)
                     + _words("Printed by volunteers of the parish hall, free of charge."))


def test_a_single_column_page_with_a_two_column_table_keeps_its_rows(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    pdf.multi_cell(0, 6, "Options of the command, one per row, with what each one does when it is given.")
    for option, meaning in [("--quiet", "print nothing"), ("--verbose", "print every step"),
                            ("--dry-run", "change nothing"), ("--force", "overwrite files")]:
        pdf.set_x(10)
        pdf.cell(40, 6, option)
        pdf.cell(0, 6, meaning, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(tmp_path / "table.pdf"))
    text = parse_file(tmp_path / "table.pdf")[0].text
    assert "--quiet print nothing" in " ".join(text.split())
    assert "--force overwrite files" in " ".join(text.split())


@pytest.mark.slow
def test_keyword_search_finds_phrases_that_run_down_a_column(tmp_path, embedder):
    folder = tmp_path / "docs"
    folder.mkdir()
    two_column_pdf(folder / "newsletter.pdf")
    index_collection(IndexRequest("news", [str(folder)]), JobState())
    retriever = Retriever()
    info = retriever.store.get("news")
    # Each phrase runs across a line break inside one column; read line by line, the other column sat between.
    for phrase in ("motorway verges while they hunt", "feeding with rye flour and water", "birds of prey their hunting"):
        assert len(retriever.store.keyword_search(info, f'"{phrase}"', 3)) == 1, phrase  # an FTS5 phrase query
        hit = retriever.search(info, phrase, SearchOptions(k=3, mode="bm25"))[0]
        assert hit.page == 2 and hit.full_match
    # Words facing each other across the gutter are not neighbours (read line by line they were).
    for across in ("verges sourdough", "kestrel flour", "their column covers"):
        assert retriever.store.keyword_search(info, f'"{across}"', 3) == [], across
