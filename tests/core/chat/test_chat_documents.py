"""A conversation with collections attached: real all-MiniLM-L6-v2 collections and the real Gemma GGUF."""

import re

import pytest

from app.core.chat.citations import NOTHING_FOUND_PROMPT, SYSTEM_PROMPT, DocumentsUse, Source
from app.core.chat.documents import DocumentsRequest, ReplyRestarted, ground
from app.core.chat.jobs import DocumentsFound, PromptRead, ReplyRequest, SearchingDocuments, Token
from app.core.chat.store import ConversationStore
from app.core.documents import embedder as embedders
from app.core.documents.indexer import IndexRequest, index_collection
from app.core.documents.store import Store
from app.core.jobs import JobState
from tests.core.documents.corpus import make_corpus

GREEDY = dict(max_tokens=24, temperature=0, seed=1)


def _sources(n, length=40):
    return [Source(i, f"/docs/f{i}.pdf", i, i, "", f"passage {i} " + "word " * length, 1.0 / i)
            for i in range(1, n + 1)]


def _count_messages(messages):
    return sum(len(m["content"]) + 4 for m in messages)


def test_sources_go_into_the_latest_turn_keeping_the_system_prompt_and_the_budget():
    history = [{"role": "system", "content": "Answer in French."},
               {"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Bonjour"},
               {"role": "user", "content": "Why?"}]
    messages, given = ground(history, _sources(5), len, _count_messages, n_ctx=4096, max_tokens=100)
    assert given == _sources(5)
    assert messages[0]["content"].startswith("Answer in French.") and SYSTEM_PROMPT in messages[0]["content"]
    assert messages[1:3] == history[1:3]
    last = messages[-1]["content"]
    assert last.startswith("Excerpts from the user's documents:") and "Excerpt 1 (f1.pdf, page 1):" in last
    assert "Question: Why?" in last
    # a small window: fewer sources, the best first, and the whole prompt still fits
    messages, few = ground(history, _sources(5), len, _count_messages, n_ctx=1300, max_tokens=100)
    assert 1 <= len(few) < 5 and few == _sources(5)[:len(few)]
    assert _count_messages(messages) <= 1300 - 100
    # nothing relevant: the model is told so, the question goes as it was
    messages, none = ground(history, [], len, _count_messages, n_ctx=4096, max_tokens=100)
    assert none == [] and NOTHING_FOUND_PROMPT in messages[0]["content"]
    assert messages[0]["content"].startswith("Answer in French.") and messages[-1] == history[-1]


@pytest.fixture
def collections(tmp_path):
    files = make_corpus(tmp_path / "docs")
    index_collection(IndexRequest("manual", [str(files["manual"])]), JobState())
    index_collection(IndexRequest("home", [str(files["notes"]), str(files["garden"])]), JobState())
    return files


def ask(engine, question, names, history=(), **sampling):
    partials = []
    messages = [*history, {"role": "user", "content": question}]
    result = engine.reply(ReplyRequest(messages, {**GREEDY, **sampling}, documents=DocumentsRequest(names, k=5)),
                          JobState(on_partial=partials.append))
    return result, partials


def test_a_reply_from_two_collections_cites_file_and_page(engine, collections):
    manual = str(collections["manual"].resolve())
    result, partials = ask(engine, "What does error code XK-4471-Q mean?", ["home", "manual"],
                           history=[{"role": "system", "content": "Be brief."}])
    use = result.documents
    assert use.collections == ["home", "manual"] and not use.nothing_found and use.problems == []
    assert (use.sources[0].file, use.sources[0].page) == (manual, 3) and "tilt sensor" in use.sources[0].text
    assert [s.n for s in use.sources] == list(range(1, len(use.sources) + 1))
    assert result.prompt_tokens > 60  # the passage went into the prompt
    # the search is said, the sources arrive before the reply streams, then the prompt's size, then the text
    assert partials[0] == SearchingDocuments(("home", "manual"))
    assert isinstance(partials[1], DocumentsFound) and partials[1].use.sources == use.sources
    assert isinstance(partials[2], PromptRead)
    # a reply that is only citations or repeats the instructions (Gemma-270M is a base model: it may) is made
    # again after a ReplyRestarted, with its own PromptRead and text
    restarts = [i for i, p in enumerate(partials) if isinstance(p, ReplyRestarted)]
    assert use.retried == bool(restarts) and len(restarts) <= 1
    last = partials[restarts[0] + 1:] if restarts else partials[2:]
    assert isinstance(last[0], PromptRead) and last[0].prompt_tokens == result.prompt_tokens
    assert all(isinstance(p, Token) for p in last[1:]) and "".join(p.text for p in last[1:])
    assert all(isinstance(p, Token) for p in partials[3:restarts[0]]) if restarts else True
    # only citations of given sources survive (Gemma-270M is a base model: there may be none)
    given = {s.n for s in use.sources}
    assert set(use.cited) <= given
    assert all(int(n) in given for n in re.findall(r"\[(\d+)\]", result.text))
    stored = result.to_dict()["documents"]
    assert stored["sources"][0]["file"] == manual and stored["sources"][0]["page"] == 3
    assert set(stored["sources"][0]) >= {"n", "file", "page", "heading", "text", "score"}

    # a second turn: same retriever, same embedder (not reloaded per message)
    retriever = engine._retriever
    embedder = embedders.get_embedder()
    history = [{"role": "user", "content": "What does error code XK-4471-Q mean?"},
               {"role": "assistant", "content": result.text}]
    second, _ = ask(engine, "How often should the dust filter be vacuumed?", ["manual", "home"], history=history)
    assert engine._retriever is retriever and embedders.get_embedder() is embedder
    assert (second.documents.sources[0].file, second.documents.sources[0].page) == (manual, 2)


def test_nothing_relevant_is_said_and_nothing_is_cited(engine, collections):
    result, _ = ask(engine, "Who painted the Mona Lisa?", ["manual"])
    use = result.documents
    assert use.nothing_found and use.sources == [] and use.cited == []
    assert not re.search(r"\[\d+\]", result.text)
    assert use.note == "Nothing relevant was found in “manual”."


def test_a_deleted_collection_or_a_missing_embedder_is_said_and_the_reply_goes_on(engine, collections):
    store = Store()
    with store.db:
        store.db.execute("UPDATE collections SET model = 'not-an-installed-embedder' WHERE name = 'home'")
    store.close()
    result, _ = ask(engine, "What does error code XK-4471-Q mean?", ["gone", "home", "manual"])
    use = result.documents
    assert use.collections == ["manual"] and use.sources and use.sources[0].page == 3
    assert len(use.problems) == 2
    assert "“gone” no longer exists" in use.problems[0]
    assert "“home” cannot be searched" in use.problems[1] and "not-an-installed-embedder" in use.problems[1]
    assert "not installed" in use.problems[1]

    # none usable: a plain chat reply, with the problem said
    result, _ = ask(engine, "Say hello.", ["gone"])
    assert result.text.strip() and result.documents.collections == [] and not result.documents.nothing_found
    assert result.documents.problems and result.documents.sources == []


def test_sources_persist_in_the_message_info(engine, collections, hearth_home):
    result, _ = ask(engine, "What does error code XK-4471-Q mean?", ["manual"])
    store = ConversationStore()
    conv = store.create(settings={"collections": ["manual"]})
    store.add_message(conv.id, "user", "What does error code XK-4471-Q mean?")
    store.add_message(conv.id, "assistant", result.text, info={**result.to_dict(), "text": None})
    store.close()
    again = ConversationStore()
    assert again.get(conv.id).settings["collections"] == ["manual"]
    saved = DocumentsUse.from_json(again.branch(conv.id)[-1].info["documents"])
    assert saved.sources[0].file == str(collections["manual"].resolve()) and saved.sources[0].page == 3
    again.close()
