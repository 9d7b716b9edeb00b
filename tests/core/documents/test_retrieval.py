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


def _tiny_reranker(models_dir):
    """A real (random-weight) BERT cross-encoder built from a small config, installed as kind 'reranker'."""
    import shutil

    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from app.core.documents.embedder import builtin_path

    target = models_dir / "reranker" / "tiny-ce"
    target.mkdir(parents=True)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=1)
    BertForSequenceClassification(config).save_pretrained(str(target))
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (builtin_path() / name).exists():
            shutil.copy(builtin_path() / name, target / name)
    return target


def test_installed_reranker_reorders_hits_by_its_scores(tmp_path):
    from sentence_transformers import CrossEncoder

    from app.core import paths
    from app.core.documents.embedder import available_rerankers

    target = _tiny_reranker(paths.models_dir())
    assert [name for name, _ in available_rerankers()] == ["tiny-ce"]
    index_collection(IndexRequest("codes", [str(_fixture(tmp_path / "codes"))]), JobState())
    retriever = Retriever()
    info = retriever.store.get("codes")
    query = "pump is dry"
    hits = retriever.search(info, query, SearchOptions(k=5, reranker="tiny-ce", rerank_top=10))
    assert len(hits) == 5 and all(h.rerank is not None for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    # The scores are the cross-encoder's own.
    direct = CrossEncoder(str(target)).predict([(query, hits[0].text)])
    assert abs(float(direct[0]) - hits[0].rerank) < 1e-4
