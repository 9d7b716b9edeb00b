"""Contextual chunk headers (document title + PDF outline path), title/heading BM25 fields, duplicate pages
collapsed in the ranked list, and a store of the previous schema version (1) upgraded without loss."""

from __future__ import annotations

import sqlite3

import pytest

from app.core.documents import headers
from app.core.documents.indexer import DEFAULT_CHUNK_TOKENS, IndexRequest, _embed_text, index_collection
from app.core.documents.retriever import Retriever, SearchOptions
from app.core.documents.store import CHUNK_FORMAT, SCHEMA_VERSION, Store
from app.core.jobs import JobState

pytestmark = pytest.mark.slow  # real MiniLM, real Chroma


def make_outlined_pdf(path, chapters):
    """A PDF with bookmarks: chapters = [(chapter title, [(section title, page text), ...]), ...], one page per
    section, each page starting with its section title (after its chapter's title on the chapter's first page)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    pdf.set_title("Lumen Heater Owner's Manual")
    for chapter, sections in chapters:
        for i, (section, text) in enumerate(sections):
            pdf.add_page()
            if i == 0:
                pdf.start_section(chapter, level=0)
                pdf.multi_cell(0, 8, chapter, new_x="LMARGIN", new_y="NEXT")
            pdf.start_section(section, level=1)
            pdf.multi_cell(0, 8, f"{section}\n\n{text}")
    pdf.output(str(path))
    return path


CHAPTERS = [
    ("Safety", [("Where to mount it", "Keep it thirty centimetres above the floor, away from curtains."),
                ("Children and pets", "Do not let anyone sit on it. The grille gets hot.")]),
    ("Maintenance", [("Cleaning the filter", "Vacuum the dust filter every month so warm air flows freely."),
                     ("Storing it for summer", "Wrap it in its bag and keep it somewhere dry.")]),
]


def _rows(store, name):
    info = store.get(name)
    return store.db.execute("SELECT title, heading, page_start, text FROM chunks WHERE collection_id = ? "
                            "ORDER BY page_start, idx", (info.id,)).fetchall()


def test_pdf_chunks_carry_the_title_and_outline_path_in_what_is_embedded(tmp_path, embedder):
    pdf = make_outlined_pdf(tmp_path / "heater.pdf", CHAPTERS)
    index_collection(IndexRequest("heater", [str(pdf)]), JobState())
    store = Store()
    rows = _rows(store, "heater")
    assert [r["page_start"] for r in rows] == [1, 2, 3, 4]
    assert {r["title"] for r in rows} == {"Lumen Heater Owner's Manual"}
    # A bookmark counts from where its title is printed: page 1's chunk starts at the chapter title, before the
    # section's.
    assert [r["heading"] for r in rows] == ["Safety", "Safety > Children and pets", "Maintenance",
                                           "Maintenance > Storing it for summer"]
    assert store.get("heater").chunk_format == CHUNK_FORMAT
    # The header line is embedded: the stored vector is the embedding of "title > path\ntext".
    row = rows[3]

    class _C:
        title, heading, text = row["title"], row["heading"], row["text"]

    embedded = _embed_text(_C)
    assert embedded.startswith("Lumen Heater Owner's Manual > Maintenance > Storing it for summer\n")
    info = store.get("heater")
    cid = store.db.execute("SELECT id FROM chunks WHERE collection_id = ? AND page_start = 4", (info.id,)).fetchone()[0]
    stored = store.vectors(info).get(ids=[cid], include=["embeddings"])["embeddings"][0]
    import numpy as np

    with_header, text_only = embedder.encode([embedded, row["text"]])
    assert float(np.dot(stored, with_header)) > 0.98  # int8 activations are quantized per batch: not exact
    assert float(np.dot(stored, with_header)) > float(np.dot(stored, text_only)) + 0.02
    # A word printed on page 3 only finds page 4 too, through its outline path (the heading field).
    hits = Retriever(store).search(info, "maintenance", SearchOptions(k=4, mode="bm25"))
    assert {h.page for h in hits} == {3, 4}
    assert hits[0].title == "Lumen Heater Owner's Manual"


def test_header_and_text_stay_within_the_embedders_window(tmp_path, embedder):
    long_title = "An Exceedingly Long Document Title " * 8
    text = " ".join(f"Sentence number {i} says something about heaters and filters." for i in range(300))
    (tmp_path / "long.md").write_text(f"# {long_title}\n\n{text}\n")
    index_collection(IndexRequest("long", [str(tmp_path / "long.md")]), JobState())
    store = Store()
    rows = _rows(store, "long")
    assert len(rows) > 5
    for row in rows:

        class _C:
            title, heading, text = row["title"], row["heading"], row["text"]

        assert embedder.count_tokens([_embed_text(_C)])[0] + 2 <= embedder.max_seq_length
        assert len(headers.header(row["title"], row["heading"])) <= headers.MAX_HEADER_CHARS
    assert max(embedder.count_tokens([r["text"] for r in rows])) <= DEFAULT_CHUNK_TOKENS


def test_html_title_names_the_manual_and_the_chapter():
    page = ('<html><head><title>Chapter 7. Basics of the Debian package management system</title>'
            '<link rel="home" href="index.html" title="The Debian GNU/Linux FAQ"></head><body>x</body></html>')
    assert headers.html_title(page) == ("The Debian GNU/Linux FAQ: Chapter 7. Basics of the Debian package "
                                        "management system")
    assert headers.html_title("<p>no head</p>") == ""
    assert headers.header("Manual", "Manual") == "Manual"  # a heading equal to the title is not repeated
    assert headers.header("", "Intro", "Intro and more") == ""  # nor one the text starts with


def test_duplicate_pages_are_collapsed_in_the_ranked_list(tmp_path, embedder):
    from tests.core.documents.corpus import make_pdf

    # Page 1 is long (several chunks, all about the filter); page 2 has one other passage about the filter.
    import random

    rng = random.Random(0)
    words = ("amber copper walnut meadow harbour lantern pebble velvet orchard canyon willow ember granite "
             "saffron thistle marble cedar juniper").split()
    long_page = " ".join(f"Vacuum the dust filter of the heater every month, {' '.join(rng.sample(words, 6))}."
                         for _ in range(30))
    pdf = make_pdf(tmp_path / "filters.pdf", [long_page, "The dust filter sits behind the rear grille."])
    index_collection(IndexRequest("filters", [str(pdf)]), JobState())
    store = Store()
    info = store.get("filters")
    assert store.chunk_count(info) >= 3
    retriever = Retriever(store)
    for mode in ("hybrid", "dense", "bm25"):
        hits = retriever.search(info, "how often to vacuum the dust filter", SearchOptions(k=5, mode=mode))
        assert [h.page for h in hits] == sorted({h.page for h in hits}, key=[h.page for h in hits].index), mode
        assert {h.page for h in hits} == {1, 2}, mode
        raw = retriever.search(info, "how often to vacuum the dust filter",
                               SearchOptions(k=5, mode=mode, collapse_pages=False))
        assert len([h for h in raw if h.page == 1]) > 1, mode


def _downgrade_to_version_1(store: Store, name: str) -> None:
    """Rewrite a store as schema version 1 wrote it: no title column, no chunk format, a heading + body FTS table,
    chunks without titles (as the indexer of that version made them)."""
    info = store.get(name)
    db = store.db
    with db:
        db.execute(f"DROP TABLE fts_{info.id}")
        db.execute(f"CREATE VIRTUAL TABLE fts_{info.id} USING fts5(heading, body, id UNINDEXED, "
                   "tokenize = \"porter unicode61 remove_diacritics 2 categories 'L* N* Co M*'\")")
        db.execute(f"INSERT INTO fts_{info.id} (heading, body, id) SELECT heading, text, id FROM chunks")
        db.execute("ALTER TABLE chunks DROP COLUMN title")
        db.execute("ALTER TABLE collections DROP COLUMN chunk_format")
        db.execute("UPDATE collections SET chunk_tokens = 128")
    db.execute("PRAGMA user_version = 1")


def test_a_version_1_store_keeps_working_and_rechunk_upgrades_it(tmp_path, embedder, capsys):
    pdf = make_outlined_pdf(tmp_path / "heater.pdf", CHAPTERS)
    index_collection(IndexRequest("heater", [str(pdf)]), JobState())
    store = Store()
    before = store.chunk_count(store.get("heater"))
    vectors_before = store.vectors(store.get("heater")).count()
    _downgrade_to_version_1(store, "heater")
    root = store.root
    store.close()
    plain = sqlite3.connect(str(root / "index.sqlite3"))
    assert plain.execute("PRAGMA user_version").fetchone()[0] == 1
    plain.close()

    store = Store(root)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    info = store.get("heater")
    assert info.chunk_format == 1 and info.chunk_tokens == 128  # an old collection, as it was
    assert store.chunk_count(info) == before and store.vectors(info).count() == vectors_before
    retriever = Retriever(store)
    for mode in ("hybrid", "dense", "bm25"):
        hits = retriever.search(info, "vacuum the dust filter", SearchOptions(k=2, mode=mode))
        assert hits and hits[0].page == 3, mode
    # Indexing it again (nothing changed) keeps its format; files added later are chunked as it was.
    report = index_collection(IndexRequest("heater", create=False), JobState())
    assert report.unchanged == 1 and Store(root).get("heater").chunk_format == 1

    from app.cli import main

    assert main(["docs", "list"]) == 0
    assert "--rechunk" in capsys.readouterr().out
    assert main(["docs", "index", "-c", "heater", "--rechunk"]) == 0
    store = Store(root)
    info = store.get("heater")
    assert info.chunk_format == CHUNK_FORMAT and info.chunk_tokens == DEFAULT_CHUNK_TOKENS
    rows = _rows(store, "heater")
    assert {r["title"] for r in rows} == {"Lumen Heater Owner's Manual"} and len(rows) == 4
    assert store.vectors(info).count() == 4
    hits = Retriever(store).search(info, "vacuum the dust filter", SearchOptions(k=2))
    assert hits[0].page == 3
