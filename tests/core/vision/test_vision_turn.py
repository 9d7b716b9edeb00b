"""A chat turn carrying images: stored with the conversation (copied into the data folder), answered through the
loaded model's paired projector on real llama.cpp, refused in one sentence by a text-only model."""

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.core.chat.conversation import Conversation, TurnOptions
from app.core.chat.jobs import ChatEngine, LoadRequest
from app.core.chat.presets import Sampling
from app.core.chat.store import ConversationStore, images_folder
from app.core.errors import UserError
from app.core.jobs import JobState
from app.core.jobs import run_sync as run
from tests.fixtures.tiny_gguf import write_tiny_llama


def photo(path, colour=(200, 30, 30), size=(120, 90)):
    arr = np.zeros((size[1], size[0], 3), np.uint8)
    arr[:] = colour
    Image.fromarray(arr).save(path)
    return path


def test_store_keeps_a_copy_of_each_image(tmp_path):
    store = ConversationStore(tmp_path / "c.sqlite3")
    original = photo(tmp_path / "cat.png")
    pasted = (tmp_path / "cat.png").read_bytes()
    conv = Conversation(store)
    turn_options = TurnOptions(Sampling())
    conv.send("What is this?", turn_options, images=[original, pasted])
    original.unlink()  # the conversation does not need the original any more
    store.close()

    reopened = ConversationStore(tmp_path / "c.sqlite3")
    (message,) = reopened.branch(conv.id)
    assert message.content == "What is this?" and len(message.images) == 2
    assert message.images[0] == message.images[1]  # the same content is kept once
    kept = message.images[0]
    assert kept.startswith(str(images_folder())) and kept.endswith(".png")
    assert Image.open(kept).size == (120, 90)
    assert reopened.history(conv.id) == [{"role": "user", "content": "What is this?", "images": [kept, kept]}]
    assert len(list(images_folder().iterdir())) == 1


def test_old_database_is_migrated_without_losing_anything(tmp_path):
    db = tmp_path / "old.sqlite3"
    con = sqlite3.connect(db)
    con.executescript("""
        CREATE TABLE conversations (id TEXT PRIMARY KEY, title TEXT NOT NULL, created REAL NOT NULL,
            updated REAL NOT NULL, model TEXT NOT NULL DEFAULT '', system_prompt TEXT NOT NULL DEFAULT '',
            settings TEXT NOT NULL DEFAULT '{}', leaf_id INTEGER);
        CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, conversation_id TEXT NOT NULL,
            parent_id INTEGER, role TEXT NOT NULL, content TEXT NOT NULL, created REAL NOT NULL,
            model TEXT NOT NULL DEFAULT '', info TEXT NOT NULL DEFAULT '{}');
        INSERT INTO conversations VALUES ('abc', 'Old chat', 1, 2, 'm.gguf', '', '{}', 2);
        INSERT INTO messages VALUES (1, 'abc', NULL, 'user', 'Hello', 1, '', '{}');
        INSERT INTO messages VALUES (2, 'abc', 1, 'assistant', 'Hi there', 2, 'm.gguf', '{"tokens": 2}');
        PRAGMA user_version=1;
    """)
    con.close()
    store = ConversationStore(db)
    msgs = store.branch("abc")
    assert [(m.role, m.content, m.images) for m in msgs] == [("user", "Hello", []), ("assistant", "Hi there", [])]
    assert msgs[1].info == {"tokens": 2} and store.get("abc").title == "Old chat"
    store.add_message("abc", "user", "and this?", images=[photo(tmp_path / "p.png")])
    assert len(store.branch("abc")[-1].images) == 1
    assert store._query("PRAGMA user_version")[0][0] == 2


def test_a_corrupt_image_is_refused_and_nothing_is_stored(tmp_path):
    store = ConversationStore(tmp_path / "c.sqlite3")
    bad = tmp_path / "holiday.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    truncated = tmp_path / "cut.png"
    photo(tmp_path / "whole.png", size=(400, 300))
    truncated.write_bytes((tmp_path / "whole.png").read_bytes()[:300])
    conv = Conversation(store)
    for path, says in ((bad, "holiday.jpg"), (truncated, "cut.png")):
        with pytest.raises(UserError, match=says) as err:
            conv.send("What is this?", TurnOptions(Sampling()), images=[path])
        assert "\n" not in str(err.value)
    assert conv.id is None and store.list() == []
    assert not images_folder().exists() or not list(images_folder().iterdir())


@pytest.fixture(scope="module")
def vlm(tmp_path_factory):
    from tests.fixtures.tiny_vlm import write_tiny_vlm

    return write_tiny_vlm(tmp_path_factory.mktemp("vlm"))


def load(engine, path):
    return run(engine.load_job(LoadRequest(str(path), n_ctx=512, threads=2)), JobState())


@pytest.mark.slow
def test_a_turn_with_an_image_is_answered_through_the_paired_projector(tmp_path, vlm):
    model, mmproj = vlm
    engine = ChatEngine()
    try:
        info = load(engine, model)
        assert info.extra["projector"] == str(mmproj) and engine.accepts_images
        conv = Conversation(ConversationStore(tmp_path / "c.sqlite3"))
        options = TurnOptions(Sampling(temperature=0, max_tokens=5, seed=1))
        text_turn = conv.send("hello", options)
        text_result = run(text_turn.job(engine), JobState(on_partial=text_turn.feed))
        conv.finish(text_turn, text_result)
        turn = conv.send("what is this", options, images=[photo(tmp_path / "red.png")])
        assert turn.request.messages[-1]["images"]
        result = run(turn.job(engine), JobState(on_partial=turn.feed))
        assert result.completion_tokens >= 1 and turn.text == result.text and turn.tokens >= 1
        # the 32x32 projector adds 16 image embeddings to the prompt
        assert result.prompt_tokens >= text_result.prompt_tokens + 16
        stored = conv.finish(turn, result)
        assert stored.content == result.text
        # a text turn after it reuses the same model (the vision cache was reset, no stale image positions)
        again = conv.send("and now?", options)
        assert run(again.job(engine), JobState(on_partial=again.feed)).completion_tokens >= 1
    finally:
        engine.unload()


@pytest.mark.slow
def test_a_text_only_model_refuses_images_in_one_sentence(tmp_path):
    plain = write_tiny_llama(tmp_path / "plain-F32.gguf")
    engine = ChatEngine()
    try:
        info = load(engine, plain)
        assert "projector" not in info.extra and not engine.accepts_images
        messages = [{"role": "user", "content": "what is this", "images": [str(photo(tmp_path / "a.png"))]}]
        with pytest.raises(UserError) as err:
            engine.check_images(messages)
        assert str(err.value).startswith("This model reads text only") and "Qwen2.5-VL" in str(err.value)
        from app.core.chat.jobs import ReplyRequest

        with pytest.raises(UserError, match="reads text only"):
            run(engine.reply_job(ReplyRequest(messages, {"max_tokens": 2})), JobState())
        # images of earlier turns do not stop a text-only model answering a text message
        later = [*messages, {"role": "assistant", "content": "?"}, {"role": "user", "content": "hello"}]
        assert run(engine.reply_job(ReplyRequest(later, {"max_tokens": 2, "temperature": 0})), JobState()).text \
            is not None
    finally:
        engine.unload()


def test_loading_a_projector_as_a_chat_model_says_what_it_is(vlm):
    engine = ChatEngine()
    with pytest.raises(UserError, match="is an image projector \\(mmproj\\), not a language model"):
        load(engine, vlm[1])
    assert not engine.loaded


def test_export_carries_the_images_and_import_brings_them_back(tmp_path):
    from app.core.chat import export

    store = ConversationStore(tmp_path / "c.sqlite3")
    conv = Conversation(store)
    conv.send("What is this?", TurnOptions(Sampling()), images=[photo(tmp_path / "p.png", (9, 99, 199))])
    (kept,) = store.branch(conv.id)[0].images
    data = export.to_json(store, conv.id)
    assert data["messages"][0]["images"][0].startswith("data:image/png;base64,")
    assert Path(kept).as_uri() in export.to_markdown(store, conv.id)
    Path(kept).unlink()  # as on another computer: the copy is gone
    other = ConversationStore(tmp_path / "other.sqlite3")
    new_id = export.from_json(other, data)
    (message,) = other.branch(new_id)
    assert message.images and Image.open(message.images[0]).getpixel((0, 0)) == (9, 99, 199)
