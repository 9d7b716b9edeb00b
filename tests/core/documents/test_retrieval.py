from app.core.documents.indexer import IndexRequest, index_collection
from app.core.documents.retriever import Retriever, SearchOptions, keywords
from app.core.jobs import JobState

# Ten passages that differ only in an error code and its cause; the query is the bare code.
# Dense embeddings see near-identical codes as near-identical; BM25 matches the exact token.
CODES = ["XK-4417", "XK-7441", "XK-1447", "XK-4147", "KX-4471", "XK-4714", "XK-7144", "XK-1474", "XK-4741",
         "XK-4471"]


def _fixture(folder):
    folder.mkdir()
    causes = ["the fan is blocked", "the filter is full", "the door is open", "the battery is low",
              "the sensor is dirty", "the pump is dry", "the motor overheated", "the belt slipped",
              "the valve is stuck", "the tilt switch tripped"]
    for i, (code, cause) in enumerate(zip(CODES, causes)):
        (folder / f"code{i}.txt").write_text(f"Error code {code} appears on the display when {cause}. "
                                             "Switch the appliance off and call service if it persists.")
    return folder


def _rank(hits, name):
    files = [h.file.rsplit("/", 1)[-1] for h in hits]
    return files.index(name) + 1 if name in files else 99


def test_hybrid_beats_dense_on_a_keyword_only_query(tmp_path):
    index_collection(IndexRequest("codes", [str(_fixture(tmp_path / "codes"))]), JobState())
    retriever = Retriever()
    info = retriever.store.get("codes")
    query = "XK-4471"
    dense = _rank(retriever.search(info, query, SearchOptions(k=10, mode="dense")), "code9.txt")
    bm25 = _rank(retriever.search(info, query, SearchOptions(k=10, mode="bm25")), "code9.txt")
    hybrid = _rank(retriever.search(info, query, SearchOptions(k=10, mode="hybrid")), "code9.txt")
    assert bm25 == 1
    assert dense > hybrid, (dense, hybrid)
    # A paraphrased question with no shared rare word still finds its passage through the dense side.
    hits = retriever.search(info, "what does it mean when the pump has no water", SearchOptions(k=3))
    assert _rank(hits, "code5.txt") <= 2
    for hit in hits:
        assert hit.similarity is not None and -1.0 <= hit.similarity <= 1.0


def test_keywords_drop_stopwords_and_survive_fts_syntax():
    assert keywords('What is the "AND" of NEAR(x)?') == ["near", "x"]
    assert keywords("what is it") == ["what", "is", "it"]  # all stopwords: keep them rather than nothing


def test_fts_special_characters_do_not_break_search(tmp_path):
    index_collection(IndexRequest("codes", [str(_fixture(tmp_path / "codes"))]), JobState())
    retriever = Retriever()
    info = retriever.store.get("codes")
    for query in ['"', "AND OR NOT", "col:umn*", "(((", "-", "🙂"]:
        retriever.search(info, query, SearchOptions(k=3))  # no exception
    assert retriever.search(info, "   ", SearchOptions(k=3)) == []
