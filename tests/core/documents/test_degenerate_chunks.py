"""Degenerate chunks do not poison the index: identical chunks are stored once (their other locations kept), text
without sentence breaks is cut sensibly, and a file of repeated filler never takes over the ranking — real
MiniLM embedder, real Chroma, real FTS5."""

import pytest

from app.core.documents.chunker import chunk_sections
from app.core.documents.indexer import IndexRequest, index_collection
from app.core.documents.parsers import Section
from app.core.documents.retriever import Retriever, SearchOptions, collapse_near_duplicates
from app.core.documents.store import Store
from app.core.jobs import JobState
from tests.core.documents.faulty import filler_file

GREENHOUSE = ("# Greenhouse watering schedule\n\nTomatoes get two litres every morning; the orchids are misted on "
              "Tuesdays only.\n\n## Winter\n\nIn winter the cactus shelf is not watered at all.\n")
POND = ("<!doctype html><html><head><title>Pond care</title><script>var t = 'quokkatracker';</script></head><body>"
        "<h1>Pond care</h1><p>The koi are fed floating pellets twice a day in summer.</p><h2>Winter</h2>"
        "<p>In winter a small pump keeps a hole open in the ice.</p></body></html>")
DISCLAIMER = ("Disclaimer {n}: this e-mail and any attachments are confidential and intended solely for the "
              "addressee. If you received it in error, delete it.")
QUERIES = [  # (question, the file that answers it)
    ("flotation vests required for kids", "sailing_rules.docx"),
    ("how often do the fish get their food", "pond.html"),
    ("plants sprayed with water on one weekday", "greenhouse.md"),
    ("Life jackets are mandatory for every member under sixteen", "sailing_rules.docx"),
]


def _sailing(path):
    import docx

    document = docx.Document()
    document.add_heading("Sailing club rules", level=1)
    document.add_paragraph("Life jackets are mandatory for every member under sixteen.")
    table = document.add_table(rows=2, cols=2)
    for row, cells in zip(table.rows, [("Boat", "Skipper"), ("Heron", "The skipper of the Heron is Ms Okafor.")]):
        for cell, text in zip(row.cells, cells):
            cell.text = text
    document.save(str(path))


@pytest.fixture
def notes(tmp_path, embedder):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "greenhouse.md").write_text(GREENHOUSE, encoding="utf-8")
    (folder / "pond.html").write_text(POND, encoding="utf-8")
    _sailing(folder / "sailing_rules.docx")
    (folder / "mail_disclaimers.txt").write_text("\n\n".join(DISCLAIMER.format(n=n) for n in range(400)),
                                                 encoding="utf-8")
    filler = filler_file(tmp_path / "one_huge_line.txt")
    report = index_collection(IndexRequest("notes", [str(folder), str(filler)]), JobState())
    assert report.indexed == 5 and not report.failed
    return folder, filler


def test_identical_chunks_are_stored_once_with_every_location(notes):
    _, filler = notes
    store = Store()
    info = store.get("notes")
    owned = store.db.execute("SELECT COUNT(*) FROM chunks WHERE path = ?", (str(filler),)).fetchone()[0]
    copies = store.db.execute("SELECT COUNT(*) FROM chunk_copies WHERE path = ?", (str(filler),)).fetchone()[0]
    listed = next(f for f in store.files(info) if f.path == str(filler)).chunks
    assert owned <= 12 and owned + copies == listed > 200  # ~60,000 tokens of filler: a handful of texts
    assert store.vectors(info).count() == store.chunk_count(info)
    texts = [r[0] for r in store.db.execute("SELECT text FROM chunks WHERE collection_id = ?", (info.id,))]
    assert len(texts) == len(set(texts))


@pytest.mark.parametrize("mode", ["dense", "hybrid", "bm25"])
def test_filler_never_takes_over_the_ranking(notes, mode):
    retriever = Retriever()
    info = retriever.store.get("notes")
    for question, expected in QUERIES:
        hits = retriever.search(info, question, SearchOptions(k=5, mode=mode))
        files = [h.file.rsplit("/", 1)[1] for h in hits]
        assert files.count("one_huge_line.txt") <= 1 and files.count("mail_disclaimers.txt") <= 1, files
        if mode == "bm25":  # keywords alone cannot answer a paraphrase that shares no word (or only "get")
            assert not files or files[0] not in ("one_huge_line.txt", "mail_disclaimers.txt")
            continue
        assert files[0] == expected, (mode, question, files)
    exact = retriever.search(info, QUERIES[3][0], SearchOptions(k=3, mode="bm25"))
    assert exact[0].file.endswith("sailing_rules.docx")


def test_the_needle_in_the_filler_is_found(notes):
    retriever = Retriever()
    info = retriever.store.get("notes")
    for mode in ("bm25", "hybrid"):
        hit = retriever.search(info, "what is the secret word", SearchOptions(k=3, mode=mode))[0]
        assert hit.file.endswith("one_huge_line.txt") and "secret word is marmalade" in hit.text


def test_a_shared_chunk_moves_to_its_copy_when_its_file_goes(tmp_path, embedder):
    folder = tmp_path / "mail"
    folder.mkdir()
    footer = "Quarterly figures are confidential until the board meeting on the ninth of March."
    (folder / "a.txt").write_text(f"Letter A about the roof repairs.\n\n{footer}", encoding="utf-8")
    (folder / "b.txt").write_text(f"Letter B about the summer fete.\n\n{footer}", encoding="utf-8")
    index_collection(IndexRequest("mail", [str(folder)], chunk_tokens=16, chunk_overlap=0), JobState())
    store = Store()
    info = store.get("mail")
    assert store.db.execute("SELECT COUNT(*) FROM chunks WHERE text = ?", (footer,)).fetchone()[0] == 1
    owner = store.db.execute("SELECT path FROM chunks WHERE text = ?", (footer,)).fetchone()[0]
    other = str(folder / ("b.txt" if owner.endswith("a.txt") else "a.txt"))

    (folder / owner.rsplit("/", 1)[1]).unlink()
    index_collection(IndexRequest("mail", create=False), JobState())
    store = Store()
    hits = Retriever(store).search(info, "board meeting ninth of March", SearchOptions(k=3, mode="hybrid"))
    assert hits[0].file == other and hits[0].text == footer
    assert store.vectors(info).get(ids=[hits[0].id])["metadatas"][0]["file"] == other
    assert store.db.execute("SELECT COUNT(*) FROM chunk_copies").fetchone()[0] == 0


def test_text_without_sentence_breaks_is_cut_within_the_budget(embedder):
    line = "lorem ipsum dolor " * 2000 + "the secret word is marmalade" + " sit amet" * 1000
    chunks = chunk_sections([Section(line)], embedder.count_tokens, 128, 40)
    assert all(c.tokens <= 128 and not c.text.startswith(" ") for c in chunks)
    assert sum(1 for c in chunks if "marmalade" in c.text) >= 1
    assert all(c.text.split()[0] in ("lorem", "ipsum", "dolor", "sit", "amet", "the", "secret", "word", "is")
               for c in chunks)  # cut at word boundaries
    cjk = "龙井茶的采摘时间是每年三月下旬到四月初。炒茶的锅温要保持在两百度左右。" * 30
    pieces = chunk_sections([Section(cjk)], embedder.count_tokens, 128, 40)
    assert len(pieces) > 5 and all(p.text.endswith("。") for p in pieces)  # at sentence ends, no spaces needed
    thai = "ตลาดน้ำดำเนินสะดวกเปิดตั้งแต่เช้าตรู่ นักท่องเที่ยวควรไปถึงก่อนแปดโมงเช้า " * 60
    assert all(len(p.text) <= 128 * 8 for p in chunk_sections([Section(thai)], embedder.count_tokens, 128, 40))


def test_near_duplicates_take_one_place_in_a_ranked_list():
    texts = {1: "lorem ipsum dolor " * 30, 2: "ipsum dolor lorem " * 31, 3: "The koi are fed twice a day.",
             4: DISCLAIMER.format(n=1), 5: DISCLAIMER.format(n=1) + " ", 6: "The koi are fed at noon in summer."}
    assert collapse_near_duplicates([1, 2, 3, 4, 5, 6, 7], texts) == [1, 3, 4, 6, 7]
