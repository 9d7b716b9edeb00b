"""Keyword search (SQLite FTS5) for languages written without spaces, English stemming as a setting, and stores
of the older schema migrated in place: real FTS5, real Chroma, the real MiniLM embedder."""

import sqlite3

import pytest

from app.core.documents.indexer import IndexRequest, index_collection
from app.core.documents.retriever import Retriever, SearchOptions, keywords
from app.core.documents.store import SCHEMA_VERSION, Store
from app.core.jobs import JobState

pytestmark = pytest.mark.slow

TEXTS = {
    "tea.md": "# 茶园笔记\n\n龙井茶的采摘时间是每年三月下旬到四月初。炒茶的锅温要保持在两百度左右。\n\n## 储存\n\n"
              "茶叶应放在密封罐里，远离阳光和潮湿。\n",
    "kyoto.txt": "京都の紅葉は十一月の中旬から下旬が見頃です。嵐山の渡月橋の周辺は観光客でとても混雑します。"
                 "早朝に訪れるのがおすすめです。",
    "seoul.txt": "서울의 지하철은 새벽 다섯 시 반부터 운행합니다. 교통카드는 편의점에서 충전할 수 있습니다.",
    "bangkok.txt": "ตลาดน้ำดำเนินสะดวกเปิดตั้งแต่เช้าตรู่ นักท่องเที่ยวควรไปถึงก่อนแปดโมงเช้า "
                   "เรือพายขายผลไม้และก๋วยเตี๋ยวเรือ",
    "garden.txt": "Watering the tomatoes: the gardener waters the beds every morning before the heat.",
}
QUERIES = [  # copied verbatim from the texts, as a user pastes a phrase
    ("龙井茶的采摘时间", "tea.md"), ("龙井茶", "tea.md"), ("茶叶应放在密封罐里", "tea.md"), ("炒茶的锅温", "tea.md"),
    ("储存", "tea.md"),
    ("渡月橋", "kyoto.txt"), ("紅葉は十一月", "kyoto.txt"), ("観光客", "kyoto.txt"),
    ("교통카드", "seoul.txt"), ("지하철", "seoul.txt"),
    ("ตลาดน้ำ", "bangkok.txt"), ("ก๋วยเตี๋ยว", "bangkok.txt"),
]


@pytest.fixture
def collection(tmp_path, embedder):
    folder = tmp_path / "trips"
    folder.mkdir()
    for name, text in TEXTS.items():
        (folder / name).write_text(text, encoding="utf-8")
    report = index_collection(IndexRequest("trips", [str(folder)]), JobState())
    assert report.indexed == len(TEXTS) and not report.failed
    return folder


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_phrases_of_scripts_without_spaces_are_found(collection, mode):
    retriever = Retriever()
    info = retriever.store.get("trips")
    for query, name in QUERIES:
        hits = retriever.search(info, query, SearchOptions(k=3, mode=mode))
        assert hits and hits[0].file.endswith(name), (query, [h.file for h in hits])
        if mode == "bm25":
            assert hits[0].full_match, query


def test_one_character_and_mixed_queries(collection):
    retriever = Retriever()
    info = retriever.store.get("trips")
    assert keywords("茶") == ["茶*"] and keywords("the Kyoto 紅葉") == ["kyoto", "紅葉"]
    hits = retriever.search(info, "橋", SearchOptions(k=3, mode="bm25"))  # the last character of a run
    assert [h.file for h in hits][:1] == [str(collection / "kyoto.txt")]
    assert retriever.search(info, "密封罐", SearchOptions(k=3, mode="bm25"))[0].file.endswith("tea.md")
    assert not retriever.search(info, "密封箱", SearchOptions(k=3, mode="bm25"))[0].full_match


def test_english_stemming_is_a_setting_that_rebuilds_the_keyword_index(collection):
    retriever = Retriever()
    info = retriever.store.get("trips")
    assert info.stemming  # the default
    assert retriever.search(info, "water", SearchOptions(k=3, mode="bm25"))[0].file.endswith("garden.txt")
    chunks = retriever.store.chunk_count(info)

    index_collection(IndexRequest("trips", create=False, stemming=False), JobState())
    store = Store()
    info = store.get("trips")
    assert not info.stemming and store.chunk_count(info) == chunks  # nothing re-embedded or lost
    retriever = Retriever(store)
    assert retriever.search(info, "water", SearchOptions(k=3, mode="bm25")) == []
    assert retriever.search(info, "waters", SearchOptions(k=3, mode="bm25"))[0].file.endswith("garden.txt")
    assert retriever.search(info, "龙井茶", SearchOptions(k=3, mode="bm25"))[0].file.endswith("tea.md")


def _downgrade_to_version_0(store: Store, name: str) -> int:
    """Rewrite a store as the schema before version 1 wrote it: one-column porter FTS table with heading and text
    together, no chunk keys, no copies table, identical chunks stored twice. Returns the duplicated row count."""
    info = store.get(name)
    db = store.db
    rows = db.execute("SELECT * FROM chunks WHERE collection_id = ?", (info.id,)).fetchall()
    with db:
        # The first chunk stored a second time under another id, with its own vector, as old versions did.
        first = rows[0]
        twin = first["id"][:-5] + "99999"
        db.execute("INSERT INTO chunks (collection_id, id, path, idx, page_start, page_end, char_start, char_end,"
                   " heading, text) VALUES (?, ?, ?, 99999, ?, ?, ?, ?, ?, ?)",
                   (info.id, twin, first["path"], first["page_start"], first["page_end"], first["char_start"],
                    first["char_end"], first["heading"], first["text"]))
        got = store.vectors(info).get(ids=[first["id"]], include=["embeddings", "metadatas"])
        store.vectors(info).add(ids=[twin], embeddings=got["embeddings"], metadatas=got["metadatas"])
        db.execute(f"DROP TABLE fts_{info.id}")
        db.execute(f"CREATE VIRTUAL TABLE fts_{info.id} USING fts5(text, id UNINDEXED, tokenize='porter unicode61')")
        for r in rows + [dict(first, id=twin)]:
            db.execute(f"INSERT INTO fts_{info.id} (text, id) VALUES (?, ?)",
                       (f"{r['heading']}\n{r['text']}" if r["heading"] else r["text"], r["id"]))
        db.execute("DROP TABLE chunk_copies")
        db.execute("DROP INDEX chunks_by_hash")
        db.execute("ALTER TABLE chunks DROP COLUMN text_hash")
        db.execute("ALTER TABLE collections DROP COLUMN stemming")
        db.execute("ALTER TABLE chunks DROP COLUMN title")
        db.execute("ALTER TABLE collections DROP COLUMN chunk_format")
    db.execute("PRAGMA user_version = 0")
    return len(rows) + 1


def test_an_older_store_is_migrated_when_opened_and_keeps_everything(collection):
    store = Store()
    old_rows = _downgrade_to_version_0(store, "trips")
    root = store.root
    store.close()
    plain = sqlite3.connect(str(root / "index.sqlite3"))
    assert plain.execute("PRAGMA user_version").fetchone()[0] == 0
    plain.close()

    store = Store(root)
    info = store.get("trips")
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.chunk_count(info) == old_rows - 1  # the twin became a copy of its original
    assert store.db.execute("SELECT COUNT(*) FROM chunk_copies").fetchone()[0] == 1
    assert store.vectors(info).count() == old_rows - 1  # and its vector went on first use
    retriever = Retriever(store)
    for query, name in QUERIES:
        assert retriever.search(info, query, SearchOptions(k=1, mode="bm25"))[0].file.endswith(name), query
    hit = retriever.search(info, "gardener waters the beds", SearchOptions(k=1, mode="hybrid"))[0]
    assert hit.file.endswith("garden.txt")
    store.close()
    assert Store(root).chunk_count(info) == old_rows - 1  # opening again changes nothing
