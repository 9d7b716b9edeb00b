"""Document answers with a real instruct model (Qwen2.5-Coder-0.5B-Instruct) over a real Chroma collection:
the answer format small models follow, follow-up rewrite, HyDE and prompt-lookup decoding."""

import re

import pytest

from app.core.chat import query
from app.core.chat.citations import answer_problem
from app.core.chat.documents import DocumentsRequest, SearchingDocuments
from app.core.chat.jobs import ReplyRequest
from app.core.documents.indexer import IndexRequest, index_collection
from app.core.documents.retriever import Retriever
from app.core.jobs import JobState
from tests.core.documents.corpus import make_corpus

pytestmark = pytest.mark.slow
GREEDY = dict(max_tokens=64, temperature=0, seed=1)
CLEANING = [{"role": "user", "content": "How do I clean the Lumen heater?"},
            {"role": "assistant", "content": "Unplug it, let it cool and wipe the casing with a damp cloth [1]."}]


@pytest.fixture
def manual(tmp_path):
    files = make_corpus(tmp_path / "docs")
    index_collection(IndexRequest("manual", [str(files["manual"])]), JobState())
    return str(files["manual"].resolve())


def ask(engine, messages, **request):
    partials = []
    req = DocumentsRequest(["manual"], k=3, **request)
    result = engine.reply(ReplyRequest(messages, dict(GREEDY), documents=req), JobState(on_partial=partials.append))
    return result, partials


def test_an_answer_is_sentences_with_a_citation_of_the_right_page(qwen_engine, manual):
    result, _ = ask(qwen_engine, [{"role": "user", "content": "What does error code XK-4471-Q mean?"}])
    use = result.documents
    assert (use.sources[0].file, use.sources[0].page) == (manual, 3)
    assert answer_problem(result.text) == "" and use.answer_problem == ""  # not "[1]", not the instructions
    assert len(re.findall(r"[A-Za-z]+", re.sub(r"\[\d+\]", "", result.text))) >= 3
    assert set(use.cited) <= {s.n for s in use.sources} and use.invalid == []


def test_a_follow_up_is_searched_with_the_earlier_question(qwen_engine, manual):
    follow_up = {"role": "user", "content": "What about its warranty?"}
    rewritten, ms = query.rewrite_followup(qwen_engine.model, [*CLEANING, follow_up])
    assert ms > 0 and re.search(r"heater|lumen", rewritten, re.I)  # words only the earlier turn has
    assert "warranty" in rewritten.lower()

    result, partials = ask(qwen_engine, [*CLEANING, follow_up])
    use = result.documents
    assert use.searched_for == rewritten and use.expansion_ms["rewrite"] > 0
    assert SearchingDocuments(("manual",), rewritten) in partials  # the Chat tab shows what was searched
    assert (use.sources[0].file, use.sources[0].page) == (manual, 4)
    # turned off: the user's own words are searched
    plain, _ = ask(qwen_engine, [*CLEANING, follow_up], rewrite=False)
    assert plain.documents.searched_for == "" and "rewrite" not in plain.documents.expansion_ms


def test_a_short_follow_up_the_model_cannot_rewrite_falls_back_to_the_earlier_question():
    messages = [{"role": "user", "content": "How do I install the printer driver on Linux?"},
                {"role": "assistant", "content": "Run install.sh [1]."},
                {"role": "user", "content": "and on Windows?"}]
    assert query.fallback_query(messages) == "How do I install the printer driver on Linux? and on Windows?"
    assert not query._keeps("How do I install the printer driver on Linux?", "and on Windows?")
    assert query._keeps("How do I install the printer driver on Windows?", "and on Windows?")
    for alone in ("How often should the dust filter be vacuumed?", "Who painted the Mona Lisa?"):
        assert query.fallback_query([*messages[:2], {"role": "user", "content": alone}]) == alone
    what_about = [*messages[:2], {"role": "user", "content": "What about its warranty?"}]
    assert query.fallback_query(what_about).startswith("How do I install the printer driver on Linux?")


def test_hyde_writes_a_passage_whose_vector_joins_the_dense_search(qwen_engine, manual):
    question = "How often should I vacuum the dust filter?"
    passage, ms = query.hypothetical_passage(qwen_engine.model, question)
    assert passage and ms > 0
    retriever = Retriever()
    try:
        info = retriever.store.get("manual")
        plain = retriever.search(info, question)
        hyde = retriever.search(info, question, dense_text=passage)
    finally:
        retriever.store.close()
    assert plain[0].page == 2 and hyde[0].page == 2
    assert hyde[0].similarity != pytest.approx(plain[0].similarity)  # another dense query vector

    result, _ = ask(qwen_engine, [{"role": "user", "content": question}], hyde=True)
    use = result.documents
    assert use.expansion_ms["hyde"] > 0 and (use.sources[0].file, use.sources[0].page) == (manual, 2)


def test_prompt_lookup_decoding_gives_the_same_greedy_answer(qwen_gguf):
    from app.core.chat.llama import ChatModel

    model = ChatModel.load(qwen_gguf, n_ctx=1024, n_threads=2, prompt_lookup=True)
    try:
        text = ("Excerpts:\n[1] manual.pdf, page 2\nVacuum the dust filter every month so that warm air can flow "
                "freely. Unplug the heater and let it cool down before cleaning.\n\nQuestion: How often should the "
                "dust filter be vacuumed? Answer with the excerpt's words and cite it as [1].")
        messages = [{"role": "user", "content": text}]
        drafted = model.chat(messages, draft=True, **GREEDY)
        plain = model.chat(messages, draft=False, **GREEDY)
        assert drafted.text == plain.text and "month" in drafted.text
        assert model._llm.draft_model is None  # switched on for that reply only
    finally:
        model.close()


def test_a_model_that_twice_gives_no_answer_is_replaced_by_the_sources_best_sentence(qwen_engine, manual):
    # An output grammar (GBNF, as JSON mode uses) holds the real model to source numbers only, as small models
    # sometimes answer unasked: the retry cannot fix it, so the reply becomes the best-matching source sentence.
    partials = []
    req = DocumentsRequest(["manual"], k=3)
    messages = [{"role": "user", "content": "What does error code XK-4471-Q mean?"}]
    result = qwen_engine.reply(ReplyRequest(messages, dict(GREEDY), documents=req, grammar='root ::= "[1] [2] [3]"'),
                               JobState(on_partial=partials.append))
    use = result.documents
    assert use.retried and use.answer_problem == "bare" and use.extracted
    assert any(type(p).__name__ == "ReplyRestarted" for p in partials)
    assert "tilt sensor tripped" in result.text and result.text.endswith("[1]")
    assert use.cited == [1] and (use.sources[0].file, use.sources[0].page) == (manual, 3)
    assert "best match the question" in use.note
    # no sentence of the sources matches: the reply says what happened instead of showing "[1] [2] [3]"
    req = DocumentsRequest(["manual"], k=3, min_similarity=0.0)
    result = qwen_engine.reply(ReplyRequest([{"role": "user", "content": "Who painted the Mona Lisa?"}], dict(GREEDY),
                                            documents=req, grammar='root ::= "[1] [2] [3]"'), JobState())
    use = result.documents
    assert use.sources and use.answer_problem == "bare" and not use.extracted and use.cited == []
    assert result.text == f"({use.note})" and "source numbers only" in result.text


def test_a_follow_up_to_a_base_model_is_searched_with_the_conversation(engine, manual):
    # The real Gemma-3-270M (a base model: no chat template) rewrites or, failing that, the earlier question joins
    # the follow-up: either way "What about its warranty?" is searched with the heater it is about.
    follow_up = {"role": "user", "content": "What about its warranty?"}
    rewritten, ms = query.rewrite_followup(engine.model, [*CLEANING, follow_up])
    assert ms > 0 and "warranty" in rewritten.lower() and re.search(r"heater|lumen|clean", rewritten, re.I)
    result, _ = ask(engine, [*CLEANING, follow_up])
    use = result.documents
    assert use.searched_for == rewritten
    assert (manual, 4) in [(s.file, s.page) for s in use.sources]  # the warranty page is among the sources given
