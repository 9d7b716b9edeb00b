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
