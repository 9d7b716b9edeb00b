import os
import time

import pytest

from app.core.documents.indexer import IndexRequest, index_collection
from app.core.documents.retriever import Retriever, SearchOptions
from app.core.documents.store import FAILED, INDEXED, PENDING, Store
from app.core.errors import JobCancelled, UserError
from app.core.jobs import JobState
from tests.core.documents.corpus import make_encrypted_pdf, make_malformed_pdf, make_scanned_pdf


def index(name, paths=(), **kw):
    return index_collection(IndexRequest(name, [str(p) for p in paths], **kw), JobState())


def consistent(store: Store, name: str) -> dict:
    """Assert both stores agree; return {path: chunk ids}."""
    info = store.get(name)
    rows = store.db.execute("SELECT id, path FROM chunks WHERE collection_id = ?", (info.id,)).fetchall()
    ids = [r["id"] for r in rows]
    vectors = store.vectors(info).get(include=["metadatas"])
    fts = [r[0] for r in store.db.execute(f"SELECT id FROM fts_{info.id}")]
    assert sorted(ids) == sorted(vectors["ids"]) == sorted(fts)
    assert len(set(ids)) == len(ids)
    files = {f.path: f for f in store.files(info)}
    by_path: dict[str, list[str]] = {}
    for r in rows:
        by_path.setdefault(r["path"], []).append(r["id"])
    for path, chunk_ids in by_path.items():
        assert files[path].state == INDEXED and files[path].chunks == len(chunk_ids), path
    for meta, cid in zip(vectors["metadatas"], vectors["ids"]):
        assert meta["file"] == next(r["path"] for r in rows if r["id"] == cid)
    return by_path


def test_multi_page_pdf_chunks_keep_the_right_page(corpus):
    report = index("c", [corpus["manual"]])
    assert report.indexed == 1 and report.pages == 4 and not report.failed
    retriever = Retriever()
    info = retriever.store.get("c")
    expected = {"mount the heater on the wall with screws": 1, "vacuum the dust filter": 2,
                "blinking amber light thermostat probe": 3, "how long is the warranty": 4}
    for query, page in expected.items():
        hit = retriever.search(info, query, SearchOptions(k=1))[0]
        assert (hit.file, hit.page) == (str(corpus["manual"].resolve()), page), query
    consistent(retriever.store, "c")


def test_failures_are_listed_while_the_rest_indexes(corpus):
    folder = corpus["manual"].parent
    make_malformed_pdf(folder / "broken.pdf")
    make_encrypted_pdf(folder / "locked.pdf")
    make_scanned_pdf(folder / "scan.pdf")
    (folder / "movie.mkv").write_bytes(b"\x1aE\xdf\xa3 not text")
    report = index("mixed", [folder], ocr=False)  # with OCR off a scanned PDF has no text to index
    reasons = {os.path.basename(p): r for p, r in report.failed}
    assert set(reasons) == {"broken.pdf", "locked.pdf", "scan.pdf", "movie.mkv"}
    assert "malformed" in reasons["broken.pdf"] and "encrypted" in reasons["locked.pdf"]
    assert "no text layer" in reasons["scan.pdf"] and "unsupported" in reasons["movie.mkv"]
    store = Store()
    files = {os.path.basename(f.path): f for f in store.files(store.get("mixed"))}
    assert {n for n, f in files.items() if f.state == INDEXED} == {"lumen-manual.pdf", "garden.md", "notes.txt",
                                                                   "page.html", "bread.docx"}
    assert files["locked.pdf"].state == FAILED and files["locked.pdf"].reason == reasons["locked.pdf"]
    consistent(store, "mixed")
    # A second run leaves failed files alone (unchanged) instead of retrying them every time.
    again = index("mixed", ocr=False)
    assert again.indexed == 0 and again.unchanged == 9 and not again.failed


def test_edit_reindexes_only_that_file_and_delete_removes_its_chunks(corpus):
    folder = corpus["manual"].parent
    index("inc", [folder])
    store = Store()
    before = consistent(store, "inc")
    notes, garden = str(corpus["notes"].resolve()), str(corpus["garden"].resolve())

    corpus["notes"].write_text("The swimming pool is heated to twenty-eight degrees all year.", encoding="utf-8")
    os.utime(corpus["notes"], (time.time() + 5, time.time() + 5))
    report = index("inc")
    assert report.indexed == 1 and report.unchanged == 4
    after = consistent(store, "inc")
    assert after[notes] != before[notes]
    assert {p: ids for p, ids in after.items() if p != notes} == {p: ids for p, ids in before.items() if p != notes}
    hit = Retriever(store).search(store.get("inc"), "swimming pool temperature", SearchOptions(k=1))[0]
    assert hit.file == notes

    corpus["garden"].unlink()
    report = index("inc")
    assert report.removed == 1 and report.indexed == 0
    after_delete = consistent(store, "inc")
    assert garden not in after_delete
    assert all(h.file != garden for h in Retriever(store).search(store.get("inc"), "tomatoes aphids",
                                                                 SearchOptions(k=10)))


def test_touch_without_change_is_not_reindexed_and_duplicates_are_indexed_once(corpus):
    index("same", [corpus["notes"].parent])
    os.utime(corpus["notes"], (time.time() + 9, time.time() + 9))
    (corpus["notes"].parent / "copy.txt").write_bytes(corpus["notes"].read_bytes())
    report = index("same")
    assert report.indexed == 0 and report.unchanged == 5
    store = Store()
    files = {os.path.basename(f.path): f for f in store.files(store.get("same"))}
    assert files["copy.txt"].state == "duplicate" and "notes.txt" in files["copy.txt"].reason
    consistent(store, "same")


def test_cancel_keeps_finished_files_and_resume_completes(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(12):
        (folder / f"f{i:02}.txt").write_text(f"File {i} is about item {i * 3}.")
    state = JobState()
    seen = []

    def on_partial(value):
        seen.append(value)
        if len(seen) == 3:
            state.cancel()

    state._on_partial = on_partial
    with pytest.raises(JobCancelled):
        index_collection(IndexRequest("cx", [str(folder)], batch_size=8), state)
    store = Store()
    files = store.files(store.get("cx"))
    done = [f for f in files if f.state == INDEXED]
    assert 3 <= len(done) < 12
    assert all(f.state in (INDEXED, PENDING) for f in files)
    consistent(store, "cx")
    report = index("cx")
    assert report.indexed + len(done) == 12 and report.unchanged == len(done)
    assert len(consistent(store, "cx")) == 12


def test_bad_requests_say_what_to_do(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        index("x", [tmp_path / "nowhere"])
    assert Store().find("x") is None  # a mistyped folder leaves no empty collection behind
    with pytest.raises(UserError, match="not installed"):
        index("y", [tmp_path], model="no-such-embedder")
    with pytest.raises(UserError, match="no collection named 'zzz'"):
        index_collection(IndexRequest("zzz", create=False), JobState())
