"""Chat export: JSON keeps everything (branches, sources, settings, times) through an import; Markdown shows the
current branch with citations as footnotes. Real SQLite conversation stores."""

import json

import pytest

from app.core.chat import export
from app.core.chat.citations import DocumentsUse, Source
from app.core.chat.store import ConversationStore
from app.core.errors import UserError

MANUAL = "/docs/heater/manual.pdf"


def sources():
    return DocumentsUse(["manual"], [
        Source(1, MANUAL, 3, 3, "", "Error code XK-4471-Q means the tilt sensor tripped: stand the unit upright "
                                    "and press reset.", 0.91, 0.72),
        Source(2, "/docs/notes.md", None, None, "Heater", "The heater is in the hall.", 0.40, 0.41)],
        cited=[1])


@pytest.fixture
def store(tmp_path):
    return ConversationStore(tmp_path / "conversations.sqlite3")


@pytest.fixture
def conversation(store):
    return make_conversation(store)


def make_conversation(store):
    """A conversation with a regenerated reply (two versions) and an edited question (two branches); returns its
    id and the edited question."""
    conv = store.create(model="/models/chat/qwen.gguf", system_prompt="Be brief.",
                        settings={"sampling": {"temperature": 0.2, "seed": 7}, "policy": "rolling_window",
                                  "collections": ["manual"]})
    question = store.add_message(conv.id, "user", "What does error XK-4471-Q mean?")
    store.add_message(conv.id, "assistant", "The tilt sensor tripped [1].", model="Qwen",
                      info={"documents": sources().to_json(), "completion_tokens": 8, "tokens_per_s": 21.5})
    second = store.add_message(conv.id, "assistant", "Stand it upright and press reset [1], [2].",
                               parent_id=question.id, model="Qwen",
                               info={"documents": {**sources().to_json(), "cited": [1, 2]}})
    edited = store.edit_user_message(question.id, "And the amber light?")
    store.add_message(conv.id, "assistant", "The thermostat probe is disconnected.", model="Qwen")
    store.switch_to(second.id)  # the user went back to the first question's second answer
    return conv.id, edited


def tree(store, cid):
    """Every message as (role, content, parent's content, documents), and the visible branch's contents."""
    messages = store.messages(cid)
    by_id = {m.id: m for m in messages}
    return ([(m.role, m.content, by_id[m.parent_id].content if m.parent_id else None, m.info.get("documents"))
             for m in messages], [m.content for m in store.branch(cid)])


def test_json_round_trip_keeps_branches_sources_settings_and_times(store, conversation, tmp_path):
    cid, _ = conversation
    path = tmp_path / "chat.json"
    export.export(store, cid, "json", path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == "hearth-conversation" and data["version"] == 1
    assert len(data["messages"]) == 5 and data["messages"][1]["documents"]["sources"][0]["page"] == 3
    assert data["conversation"]["settings"]["collections"] == ["manual"]
    assert data["messages"][0]["created"].endswith("Z")

    other = ConversationStore(tmp_path / "other.sqlite3")  # another computer
    new = export.import_file(other, path)
    assert new != cid
    assert tree(other, new) == tree(store, cid)
    before, after = store.get(cid), other.get(new)
    for field in ("title", "model", "system_prompt", "settings"):
        assert getattr(after, field) == getattr(before, field)
    assert abs(after.created - before.created) < 0.001
    old_times = [m.created for m in store.messages(cid)]
    assert all(abs(a - b) < 0.001 for a, b in zip((m.created for m in other.messages(new)), old_times))
    assert [(m.sibling_index, m.sibling_count) for m in other.branch(new)] == [(0, 2), (1, 2)]
    answer = other.branch(new)[-1]
    assert answer.info["documents"] == {**sources().to_json(), "cited": [1, 2]}  # as stored, sources and all
    # the branches are still there to switch to
    assert other.sibling(answer.id, -1).content == "The tilt sensor tripped [1]."
    first_question = other.branch(new)[0]
    other.switch_to(other.sibling(first_question.id, 1).id)
    assert [m.content for m in other.branch(new)] == ["And the amber light?", "The thermostat probe is disconnected."]


def test_markdown_shows_the_branch_with_citations_as_footnotes(store, conversation):
    cid, _ = conversation
    text = export.export(store, cid, "md")
    assert text.startswith("# What does error XK-4471-Q mean?\n") and "model: Qwen" in text
    assert "**System prompt:**\n\n> Be brief." in text
    assert "### You · " in text and "### Assistant (Qwen) · " in text and "version 2 of 2" in text
    assert "Stand it upright and press reset [^2-1], [^2-2]." in text
    assert (f"[^2-1]: manual.pdf, page 3 (`{MANUAL}`): “Error code XK-4471-Q means the tilt sensor tripped"
            in text)
    assert "[^2-2]: notes.md — Heater (`/docs/notes.md`)" in text
    assert "amber light" not in text  # other branches are for the JSON export


def test_a_file_that_is_not_an_export_is_refused_and_nothing_is_imported(store, conversation, tmp_path):
    cid, _ = conversation
    data = export.to_json(store, cid)
    bad = tmp_path / "bad.json"
    cases = [("not json at all", "not a JSON file"),
             (json.dumps({"format": "something else"}), "not a Hearth conversation export"),
             (json.dumps({**data, "version": 99}), "newer Hearth"),
             (json.dumps({**data, "messages": [{**data["messages"][1], "parent": 12345}]}), "not before it"),
             (json.dumps({**data, "messages": [{"role": "user"}]}), "damaged")]
    for text, says in cases:
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(UserError, match=says):
            export.import_file(store, bad)
    with pytest.raises(UserError, match="Could not read"):
        export.import_file(store, tmp_path / "missing.json")
    assert [c.id for c in store.list()] == [cid]  # nothing half-imported
    with pytest.raises(UserError, match="choose md or json"):
        export.export(store, cid, "pdf")
