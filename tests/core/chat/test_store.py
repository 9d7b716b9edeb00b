"""Conversations in SQLite: branches on edit and regenerate, persistence, and a kill mid-write losing nothing saved."""

import subprocess
import textwrap

from app.core import paths
from app.core.chat.store import ConversationStore


def test_create_add_and_reopen():
    store = ConversationStore()
    conv = store.create(model="/m/x.gguf", system_prompt="Be kind.", settings={"preset": "Precise"})
    store.add_message(conv.id, "user", "Hello there, how are you?")
    store.add_message(conv.id, "assistant", "Fine.", model="x", info={"tokens_per_s": 12.5})
    store.close()
    again = ConversationStore()
    (only,) = again.list()
    assert only.title.startswith("Hello there") and only.settings == {"preset": "Precise"}
    assert again.history(only.id) == [{"role": "system", "content": "Be kind."},
                                      {"role": "user", "content": "Hello there, how are you?"},
                                      {"role": "assistant", "content": "Fine."}]
    assert again.branch(only.id)[1].info == {"tokens_per_s": 12.5}


def test_edit_makes_a_branch_and_switching_back_restores_it():
    store = ConversationStore()
    cid = store.create().id
    u1 = store.add_message(cid, "user", "one")
    store.add_message(cid, "assistant", "reply one")
    u2 = store.add_message(cid, "user", "two")
    store.add_message(cid, "assistant", "reply two")
    edited = store.edit_user_message(u1.id, "one, edited")
    store.add_message(cid, "assistant", "reply to edit")
    now = [m.content for m in store.branch(cid)]
    assert now == ["one, edited", "reply to edit"]
    first = store.branch(cid)[0]
    assert (first.sibling_index, first.sibling_count) == (1, 2)
    old = store.sibling(edited.id, -1)
    assert old.id == u1.id
    store.switch_to(old.id)
    assert [m.content for m in store.branch(cid)] == ["one", "reply one", "two", "reply two"]
    store.switch_to(store.sibling(u1.id, +1).id)
    assert [m.content for m in store.branch(cid)] == ["one, edited", "reply to edit"]
    assert u2.id in [m.id for m in store.children(store.children(u1.id)[0].id)]


def test_regenerate_is_a_sibling_reply():
    store = ConversationStore()
    cid = store.create().id
    user = store.add_message(cid, "user", "hi")
    store.add_message(cid, "assistant", "first reply")
    store.add_message(cid, "assistant", "second reply", parent_id=user.id)
    path = store.branch(cid)
    assert [m.content for m in path] == ["hi", "second reply"]
    assert (path[1].sibling_index, path[1].sibling_count) == (1, 2)


def test_search_rename_delete():
    store = ConversationStore()
    a = store.create().id
    store.add_message(a, "user", "tell me about volcanoes")
    b = store.create().id
    store.add_message(b, "user", "pasta recipes")
    assert [c.id for c in store.list("VOLCANO")] == [a]
    store.rename(b, "Cooking")
    assert [c.id for c in store.list("cook")] == [b]
    store.delete(a)
    assert [c.id for c in store.list()] == [b]


def test_killed_mid_write_keeps_every_committed_message(subprocess_env, python):
    script = textwrap.dedent("""
        import os
        from app.core.chat.store import ConversationStore
        s = ConversationStore()
        cid = s.create().id
        s.add_message(cid, "user", "saved question")
        s.add_message(cid, "assistant", "saved answer")
        s._db.execute("BEGIN IMMEDIATE")
        s._db.execute("INSERT INTO messages(conversation_id, parent_id, role, content, created) "
                      "VALUES (?, NULL, 'assistant', 'half a reply', 0)", (cid,))
        os._exit(9)  # killed before the reply was committed
    """)
    proc = subprocess.run([python, "-c", script], env=subprocess_env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 9, proc.stderr
    assert paths.conversations_db().exists()
    store = ConversationStore()
    (conv,) = store.list()
    assert [m.content for m in store.branch(conv.id)] == ["saved question", "saved answer"]
    assert store._query("SELECT COUNT(*) FROM messages")[0][0] == 2
