"""A chat model on another server, driven by the same ChatEngine, Turn and Conversation as a local one: llama-cpp-
python's own OpenAI server with the real Gemma as the "bigger machine", and Hearth → Hearth. Errors name the
cause: server down, key refused, model gone, no answer in time."""

import socket
import threading

import pytest

from app.core import connections
from app.core.chat.conversation import Conversation, TurnOptions
from app.core.chat.jobs import ChatEngine, DocumentsFound, LoadRequest, PromptRead, Token
from app.core.chat.presets import Sampling
from app.core.chat.store import ConversationStore
from app.core.documents.indexer import IndexRequest, index_collection
from app.core.errors import UserError
from app.core.jobs import JobState, run_sync
from app.core.settings import Settings
from tests.core.documents.corpus import make_corpus

pytestmark = pytest.mark.slow
GREEDY = Sampling(temperature=0, seed=1, max_tokens=10, repeat_penalty=1.0)


def connect(name, url, key=""):
    settings = Settings.load()
    connections.add(settings, name, url, key, timeout_s=120)
    settings.save()


def load(engine, reference):
    return run_sync(engine.load_job(LoadRequest(reference)))


def reply(engine, turn, state=None):
    state = state or JobState(on_partial=turn.feed)
    return run_sync(turn.job(engine), state)


def test_a_stored_conversation_with_a_remote_model_streams_and_stops(llama_api):
    connect("box", llama_api.url)
    engine = ChatEngine()
    info = load(engine, "remote:box/gemma")
    assert engine.loaded and info.name == "gemma" and info.where == f"on box ({llama_api.url.split('/')[2]})"
    conversation = Conversation(ConversationStore())
    turn = conversation.send("Name a colour.", TurnOptions(GREEDY), info.name)
    partials = []
    result = reply(engine, turn, JobState(on_partial=lambda p: (partials.append(p), turn.feed(p))))
    assert isinstance(partials[0], PromptRead) and all(isinstance(p, Token) for p in partials[1:])
    assert result.text and result.text == turn.text and result.stopped in ("eos", "length")
    assert 0 < result.completion_tokens <= 10
    stored = conversation.finish(turn, result)
    assert stored.content == result.text and stored.model == "gemma"
    assert [m.role for m in conversation.messages()] == ["user", "assistant"]

    # Stop: what came is kept, the server is free for the next reply
    long = TurnOptions(Sampling(temperature=0, seed=1, max_tokens=400, repeat_penalty=1.0))
    turn = conversation.send("Write a long story about a lighthouse.", long, info.name)
    state = JobState()

    def feed(partial):
        turn.feed(partial)
        if turn.tokens >= 3:
            state.cancel()

    state._on_partial = feed
    stopped = reply(engine, turn, state)
    assert stopped.stopped == "cancelled" and 3 <= turn.tokens < 50
    assert conversation.keep_stopped(turn).info["stopped"] == "cancelled"
    again = reply(engine, conversation.send("Thanks.", TurnOptions(GREEDY), info.name))
    assert again.text
    engine.unload()


def test_collections_are_searched_here_and_the_reply_is_made_there(llama_api, tmp_path):
    connect("box", llama_api.url)
    files = make_corpus(tmp_path / "docs")
    index_collection(IndexRequest("manual", [str(files["manual"])]), JobState())
    engine = ChatEngine()
    load(engine, "remote:box/gemma")
    conversation = Conversation.in_memory()
    turn = conversation.send("What does error code XK-4471-Q mean?",
                             TurnOptions(GREEDY, collections=["manual"]), "gemma")
    found = []
    result = reply(engine, turn, JobState(on_partial=lambda p: (turn.feed(p), isinstance(p, DocumentsFound)
                                                                 and found.append(p))))
    use = result.documents
    assert found and use.collections == ["manual"] and use.sources[0].page == 3
    assert "tilt sensor" in use.sources[0].text and result.prompt_tokens > 60  # the passage went to the server
    engine.unload()
    engine.release_documents()


def test_hearth_to_hearth_uses_the_other_hearths_key_and_context(gemma_api):
    connect("hearth", gemma_api.url, gemma_api.key)
    engine = ChatEngine()
    info = load(engine, "remote:hearth/gemma-3-270m-q4_k_m")
    assert info.n_ctx == connections.find(Settings.load(), "hearth").models()[0]["context_length"]
    turn = Conversation.in_memory().send("Name a fruit.", TurnOptions(GREEDY), info.name)
    assert reply(engine, turn).text
    engine.unload()


def test_down_wrong_key_model_gone_and_timeout_are_said_plainly(gemma_api, llama_api):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    connect("down", f"http://127.0.0.1:{dead}/v1")
    connect("badkey", gemma_api.url, "not-the-key")
    connect("box", llama_api.url)
    engine = ChatEngine()
    with pytest.raises(UserError, match="Cannot reach down"):
        load(engine, "remote:down/gemma")
    with pytest.raises(UserError, match="refused the API key"):
        load(engine, "remote:badkey/gemma-3-270m-q4_k_m")
    with pytest.raises(UserError, match="has no model 'gone'.*it offers: gemma"):
        load(engine, "remote:box/gone")
    with pytest.raises(UserError, match="no connection called 'nobody'"):
        load(engine, "remote:nobody/gemma")
    assert not engine.loaded

    # a server that takes the connection and never answers: the timeout ends the wait
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    settings = Settings.load()
    connections.add(settings, "silent", f"http://127.0.0.1:{silent.getsockname()[1]}/v1", timeout_s=1)
    settings.save()
    try:
        with pytest.raises(UserError, match="did not answer within 1 s"):
            load(engine, "remote:silent/gemma")
    finally:
        silent.close()


def test_connections_are_checked_and_named_once(tmp_path):
    settings = Settings()
    with pytest.raises(UserError, match="cannot name a connection"):
        connections.add(settings, "a/b", "http://x")
    with pytest.raises(UserError, match="not a server address"):
        connections.add(settings, "box", "ftp://x")
    conn = connections.add(settings, "box", "192.168.1.20:8765")
    assert conn.url == "http://192.168.1.20:8765/v1"
    assert connections.resolve_model("box/qwen/7b", settings) == "remote:box/qwen/7b"
    assert connections.parse_ref("remote:box/qwen/7b") == ("box", "qwen/7b")
    local = tmp_path / "box" / "m.gguf"
    local.parent.mkdir()
    local.write_bytes(b"GGUF")
    assert connections.resolve_model(str(local), settings) == str(local)  # a file that exists stays a file
    assert connections.resolve_model("other/m.gguf", settings) == "other/m.gguf"
    connections.remove(settings, "box")
    assert settings.connections == {}
