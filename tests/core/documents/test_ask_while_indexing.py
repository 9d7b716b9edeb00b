"""Questions asked while a collection is indexing search what is indexed so far and say how far indexing is."""

from __future__ import annotations

import pytest

from app.core.chat.documents import DocumentsRequest, retrieve
from app.core.documents import jobs as docs_jobs
from app.core.documents.indexer import FileIndexed, IndexRequest, index_collection
from app.core.documents.store import Store
from app.core.jobs import JobState
from tests.core.documents.corpus import make_pdf

pytestmark = pytest.mark.slow  # real MiniLM, real Chroma

BOOKS = {
    "a-bees.pdf": ["Beekeeping basics. A hive needs a sunny spot sheltered from the wind.",
                   "Harvesting honey. Take the frames out when most cells are capped with wax."],
    "b-bread.pdf": ["Sourdough starter. Feed the starter flour and water every day for a week.",
                    "Baking the loaf. Bake at 230 degrees with steam for the first twenty minutes."],
    "c-bikes.pdf": ["Fixing a flat tyre. Lever the tyre off the rim and find the puncture in the tube.",
                    "Adjusting the brakes. Turn the barrel adjuster until the pads grip the rim evenly."],
}


def test_questions_during_indexing_get_hits_from_the_files_already_indexed(tmp_path, embedder):
    folder = tmp_path / "books"
    folder.mkdir()
    for name, pages in BOOKS.items():
        make_pdf(folder / name, pages)
    seen: list[dict] = []

    def during(value):
        if not isinstance(value, FileIndexed) or seen:
            return
        # The writer thread is paused here: exactly one of the three files is indexed.
        notes: list = []
        hits = docs_jobs.search(docs_jobs.SearchRequest(["books"], "when do I harvest the honey"),
                                JobState(on_partial=notes.append))
        missing = docs_jobs.search(docs_jobs.SearchRequest(["books"], "how to fix a punctured bicycle tyre"),
                                   JobState())
        answer_hits, searched, problems = retrieve(DocumentsRequest(["books"]), "when do I harvest the honey")
        seen.append({"file": value.file, "hits": hits, "notes": notes, "missing": missing,
                     "answer_hits": answer_hits, "problems": problems, "searched": searched})

    report = index_collection(IndexRequest("books", [str(folder)]), JobState(on_partial=during))
    assert report.indexed == 3 and seen
    got = seen[0]
    assert got["file"].endswith("a-bees.pdf")
    assert got["hits"] and got["hits"][0].file.endswith("a-bees.pdf") and got["hits"][0].page == 2
    assert all(h.file.endswith("a-bees.pdf") for h in got["missing"])  # the bike book is not indexed yet
    assert [n.note for n in got["notes"]] == ["Indexing 2 of 6 pages — answers use what is indexed so far."]
    assert got["answer_hits"] and got["answer_hits"][0].file.endswith("a-bees.pdf")
    assert got["searched"] == ["books"]
    assert got["problems"] == ["“books”: Indexing 2 of 6 pages — answers use what is indexed so far."]

    # Once indexing is over: no note, and the rest is found.
    notes: list = []
    hits = docs_jobs.search(docs_jobs.SearchRequest(["books"], "how to fix a punctured bicycle tyre"),
                            JobState(on_partial=notes.append))
    assert hits[0].file.endswith("c-bikes.pdf") and notes == []
    assert Store().indexing(Store().get("books")) is None


def test_a_long_pdf_counts_its_pages_as_they_are_stored(tmp_path, embedder):
    # A search during a long file's indexing finds its first pages, so the note must not say "0 of 160 pages".
    import threading

    pdf = make_pdf(tmp_path / "long.pdf", [f"Chapter {n}. The bees of hive {n} make {n * 7} jars of honey a year, "
                                           f"and the beekeeper checks frame {n} every week." for n in range(1, 161)])
    seen: list[tuple[int, int]] = []
    done = threading.Event()

    def watch():
        store = None
        while not done.wait(0.02):
            try:
                store = store or Store()
                info = store.find("long")
                progress = store.indexing(info) if info is not None else None
            except Exception:  # noqa: BLE001 - the store is being made by the indexer; try again
                continue
            if progress is not None:
                seen.append((progress.files_done, progress.pages_done))
        if store is not None:
            store.close()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        report = index_collection(IndexRequest("long", [str(pdf)]), JobState())
    finally:
        done.set()
        watcher.join()
    assert report.indexed == 1 and report.pages == 160
    midway = [pages for files, pages in seen if files == 0]
    assert midway and any(0 < pages < 160 for pages in midway), seen[:20]
    assert midway == sorted(midway)  # it only goes forward
