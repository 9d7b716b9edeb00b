"""The chat turn (app.core.chat.conversation) with the real Gemma GGUF and a real SQLite conversation store."""

import pytest

from app.core.chat.citations import DocumentsUse, Source
from app.core.chat.conversation import Conversation, Turn, TurnOptions
from app.core.chat.jobs import DocumentsFound, PromptRead, SearchingDocuments, Token
from app.core.chat.presets import Sampling
from app.core.chat.store import ConversationStore
from app.core.errors import UserError
from app.core.jobs import JobState, run_sync
from app.core.settings import ChatSettings, DocumentsSettings

GREEDY = TurnOptions(Sampling(max_tokens=6, temperature=0, seed=1))


def run(engine, turn: Turn):
    return run_sync(turn.job(engine), JobState(on_partial=turn.feed))


def test_a_turn_is_stored_with_its_figures_and_regenerate_and_edit_make_branches(engine, hearth_home):
    store = ConversationStore()
    conversation = Conversation(store)
    conversation.start(model="gemma.gguf", system_prompt="Be brief.", settings=GREEDY.settings())
    turn = conversation.send("Name a colour.", GREEDY, model="Gemma")
    assert turn.request.messages == [{"role": "system", "content": "Be brief."},
                                     {"role": "user", "content": "Name a colour."}]
    result = run(engine, turn)
    assert turn.text == result.text and turn.tokens == result.completion_tokens
    assert turn.prompt.prompt_tokens == result.prompt_tokens and turn.ttft_s > 0
    reply = conversation.finish(turn, result)
    assert reply.model == "Gemma" and reply.info["sampling"]["seed"] == 1 and reply.info["prompt_tokens"] > 0
    assert [m.role for m in conversation.messages()] == ["user", "assistant"]

    again = conversation.regenerate(GREEDY, model="Gemma")
    assert again.parent_id == reply.parent_id and again.request.messages == turn.request.messages
    second = conversation.finish(again, run(engine, again))
    last = conversation.messages()[-1]
    assert last.id == second.id and (last.sibling_index, last.sibling_count) == (1, 2)
    assert conversation.switch_version(second.id, -1) and conversation.messages()[-1].id == reply.id

    user_id = conversation.messages()[0].id
    edited = conversation.edit(user_id, "Name a fruit.", GREEDY)
    assert edited.request.messages[-1] == {"role": "user", "content": "Name a fruit."}
    conversation.finish(edited, run(engine, edited))
    assert conversation.messages()[0].content == "Name a fruit." and conversation.messages()[0].sibling_count == 2
    assert conversation.switch_version(conversation.messages()[0].id, -1)
    assert conversation.messages()[0].content == "Name a colour."

    reopened = Conversation(ConversationStore(), conversation.id)  # another process sees the same
    assert [m.content for m in reopened.messages()] == [m.content for m in conversation.messages()]
    with pytest.raises(UserError):
        Conversation(store, "no-such-id")


def test_a_stopped_reply_is_kept_with_only_citations_of_given_sources(engine, hearth_home):
    conversation = Conversation.in_memory()
    turn = conversation.send("Tell me a long story about the sea.", TurnOptions(Sampling(max_tokens=200, seed=1)))
    state = JobState(on_partial=lambda p: (turn.feed(p), turn.tokens >= 3 and state.cancel()))
    result = run_sync(turn.job(engine), state)
    assert result.stopped == "cancelled" and turn.tokens == 3
    # what a stopped reply with sources looks like when it is kept: its text with [n] checked
    source = Source(1, "/docs/manual.pdf", 3, 3, "", "the tilt sensor", 1.0)
    turn.feed(DocumentsFound(DocumentsUse(["manual"], [source])))
    turn.text = "It tripped [1]. See [7]."
    kept = conversation.keep_stopped(turn)
    assert kept.content == "It tripped [1]. See." and kept.info["stopped"] == "cancelled"
    assert kept.info["documents"]["cited"] == [1] and kept.info["documents"]["invalid_citations"] == [7]
    assert conversation.keep_stopped(Turn(turn.request, conversation.id)) is None  # nothing came: nothing kept


def test_turn_feed_and_options_from_a_stored_conversation():
    chat = ChatSettings(preset="Precise", overflow_policy="rolling_window")
    stored = {"sampling": {"max_tokens": 77}, "collections": ["manual"]}
    options = TurnOptions.for_conversation(stored, chat, DocumentsSettings(answer_k=3, mode="bm25"))
    assert options.sampling.temperature == 0.2 and options.sampling.max_tokens == 77
    assert options.policy == "rolling_window" and options.settings()["collections"] == ["manual"]
    request = options.request([{"role": "user", "content": "Why?"}])
    assert request.documents.collections == ["manual"] and request.documents.k == 3
    assert request.documents.options.mode == "bm25" and request.sampling["max_tokens"] == 77
    assert TurnOptions().request([]).documents is None
    with pytest.raises(UserError, match="unknown search mode"):
        TurnOptions(collections=["x"], search={"mode": "magic"}).request([])

    turn = Turn(request)
    assert turn.feed(SearchingDocuments(("manual",))) == "" and turn.searching == ("manual",)
    assert turn.feed(PromptRead(40, 10, 512)) == "" and turn.context_used == 40
    assert turn.ttft_s is None and turn.tokens_per_s() == 0.0
    assert turn.feed(Token("Hel")) == "Hel" and turn.feed(Token("lo")) == "lo"
    assert turn.text == "Hello" and turn.context_used == 42 and turn.ttft_s >= 0


def test_nothing_to_send_or_regenerate_is_a_clear_error():
    conversation = Conversation.in_memory("Be brief.")
    with pytest.raises(UserError, match="empty"):
        conversation.send("   ", GREEDY)
    with pytest.raises(UserError, match="no reply to regenerate"):
        conversation.regenerate(GREEDY)
    with pytest.raises(UserError, match="nothing to answer"):
        conversation.reply(GREEDY)
    assert conversation.history() == [{"role": "system", "content": "Be brief."}]
