"""Conversations in SQLite: messages as a tree, so editing a message or regenerating a reply makes a branch.

Each message has a parent (None for the first). A conversation points at its current leaf; the messages shown
are the path from the root to that leaf. Editing a user message adds a sibling and moves the leaf there;
the old messages stay, reachable by switching back (`switch_to`). Every write is one transaction (WAL mode),
so killing the app mid-reply loses at most the reply that was being written.

A message may carry images (vision chat). They are copied into the data folder's chat-images/ as
<sha256>.<ext> (one copy per content, however often it is attached), so a conversation survives its photos being
moved or deleted; the message keeps their file names in its `images` column (schema version 2 adds it; older
databases are migrated in place, every existing message getting no images).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from app.core import paths
from app.core.errors import UserError

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    system_prompt TEXT NOT NULL DEFAULT '',
    settings TEXT NOT NULL DEFAULT '{}',
    leaf_id INTEGER
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    parent_id INTEGER REFERENCES messages(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    created REAL NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    info TEXT NOT NULL DEFAULT '{}',
    images TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS messages_conv ON messages(conversation_id);
CREATE INDEX IF NOT EXISTS messages_parent ON messages(parent_id);
"""
SCHEMA_VERSION = 2  # 2: messages.images
IMAGES_FOLDER = "chat-images"


@dataclass
class Message:
    """One stored message; `created` is a Unix time in seconds, `info` the reply's figures and sources."""

    id: int
    conversation_id: str
    parent_id: int | None
    role: str
    content: str
    created: float
    model: str = ""
    info: dict = field(default_factory=dict)  # settings used, tokens/s, TTFT, stopped …
    sibling_index: int = 0  # position among messages with the same parent (branches)
    sibling_count: int = 1
    images: list[str] = field(default_factory=list)  # absolute paths of the stored copies (images_folder())

    def as_chat(self) -> dict:
        """{"role", "content"}: what a chat template takes; plus "images" (paths) when the message has any."""
        chat = {"role": self.role, "content": self.content}
        if self.images:
            chat["images"] = list(self.images)
        return chat


@dataclass
class Conversation:
    """A stored conversation: its title, model path, system prompt, settings (sampling, policy, collections) and
    the message its current branch ends at. Times are Unix seconds."""

    id: str
    title: str
    created: float
    updated: float
    model: str = ""
    system_prompt: str = ""
    settings: dict = field(default_factory=dict)
    leaf_id: int | None = None


def _row_conv(row) -> Conversation:
    return Conversation(row["id"], row["title"], row["created"], row["updated"], row["model"], row["system_prompt"],
                        json.loads(row["settings"] or "{}"), row["leaf_id"])


def images_folder() -> Path:
    """Where message images are kept: <data>/chat-images."""
    return paths.data_dir() / IMAGES_FOLDER


def _row_msg(row) -> Message:
    names = json.loads(row["images"] or "[]") if "images" in row.keys() else []
    folder = images_folder() if names else None
    return Message(row["id"], row["conversation_id"], row["parent_id"], row["role"], row["content"], row["created"],
                   row["model"], json.loads(row["info"] or "{}"), images=[str(folder / n) for n in names])


def check_image(data: bytes, name: str) -> str:
    """The format of an image's bytes ("png", "jpeg", …) after checking that it decodes (a JPEG at 1/8 scale, so
    a large photo is checked quickly; other formats by Pillow's verify). UserError (one sentence) for bytes that
    are not an image, are damaged or truncated, or exceed imageio.PIXEL_LIMIT."""
    from app.core import imageio

    with imageio.opened(bytes(data), name, draft=64) as im:
        fmt = (im.format or "png").lower()
        try:
            im.load() if fmt == "jpeg" else im.verify()
        except (OSError, SyntaxError, ValueError) as exc:
            raise UserError(f"{name} could not be decoded: the file looks damaged or truncated ({exc}).") from None
    return fmt


def image_bytes(source: str | Path | bytes, name: str | None = None) -> tuple[bytes, str]:
    """(bytes, a name for messages) of an image given as a path or as bytes. UserError for a missing file or a
    folder."""
    from app.core import imageio

    if isinstance(source, (bytes, bytearray)):
        return bytes(source), name or "pasted image"
    return imageio._existing(source).read_bytes(), name or Path(source).name


def keep_image(source: str | Path | bytes, name: str | None = None) -> str:
    """Copy an image (a path, or a pasted image's bytes) into images_folder() as <sha256>.<ext>, unless that
    content is already there; returns the stored file name. The extension follows the format in the header
    (.png, .jpg, …). Raises UserError (check_image) for a missing file or one that is not an image or is damaged:
    called before a message is stored, so nothing half-stored remains."""
    if not isinstance(source, (bytes, bytearray)) and Path(source).parent == images_folder() \
            and Path(source).is_file():
        return Path(source).name  # already kept
    data, label = image_bytes(source, name)
    ext = check_image(data, label)
    ext = {"jpeg": "jpg", "tiff": "tif"}.get(ext, ext)
    stored = f"{hashlib.sha256(data).hexdigest()}.{ext}"
    folder = images_folder()
    target = folder / stored
    if not target.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{stored}.{os.getpid()}.part"
        tmp.write_bytes(data)
        os.replace(tmp, target)
    return stored


class ConversationStore:
    """Thread-safe (one connection behind a lock); cheap calls, fine on the GUI thread."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path else paths.conversations_db()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            with self._tx():
                for stmt in SCHEMA.strip().split(";"):
                    if stmt.strip():
                        self._db.execute(stmt)
                columns = {r["name"] for r in self._db.execute("PRAGMA table_info(messages)")}
                if "images" not in columns:  # version 1: messages had no images
                    self._db.execute("ALTER TABLE messages ADD COLUMN images TEXT NOT NULL DEFAULT '[]'")
                self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise UserError(f"The conversations database {self.path} cannot be opened ({exc}). "
                            "Move it aside to start with an empty history.") from exc

    class _Tx:
        def __init__(self, store: "ConversationStore") -> None:
            self.store = store

        def __enter__(self):
            self.store._lock.acquire()
            self.store._db.execute("BEGIN IMMEDIATE")
            return self.store._db

        def __exit__(self, exc_type, *_):
            try:
                self.store._db.execute("ROLLBACK" if exc_type else "COMMIT")
            finally:
                self.store._lock.release()

    def _tx(self) -> "_Tx":
        return ConversationStore._Tx(self)

    def _query(self, sql: str, args=()) -> list:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    # ---- conversations -----------------------------------------------------------------------------------------
    def create(self, title: str = "New chat", model: str = "", system_prompt: str = "",
               settings: dict | None = None) -> Conversation:
        """A new, empty conversation (titled after its first message unless given a title)."""
        now = time.time()
        cid = uuid.uuid4().hex[:12]
        with self._tx() as db:
            db.execute("INSERT INTO conversations(id, title, created, updated, model, system_prompt, settings) "
                       "VALUES (?,?,?,?,?,?,?)", (cid, title, now, now, model, system_prompt,
                                                  json.dumps(settings or {})))
        return self.get(cid)

    def get(self, cid: str) -> Conversation:
        """The conversation `cid`. Raises UserError when there is none."""
        rows = self._query("SELECT * FROM conversations WHERE id=?", (cid,))
        if not rows:
            raise UserError(f"There is no conversation {cid!r}. `hearth chat --list` shows the stored ones.")
        return _row_conv(rows[0])

    def list(self, search: str = "") -> list[Conversation]:
        """Every conversation, most recently updated first; with `search`, those whose title or a message
        contains it (SQL LIKE, case-insensitive for ASCII)."""
        if search.strip():
            like = f"%{search.strip()}%"
            rows = self._query(
                "SELECT * FROM conversations WHERE title LIKE ? OR id IN "
                "(SELECT conversation_id FROM messages WHERE content LIKE ?) ORDER BY updated DESC", (like, like))
        else:
            rows = self._query("SELECT * FROM conversations ORDER BY updated DESC")
        return [_row_conv(r) for r in rows]

    def update(self, cid: str, **fields) -> Conversation:
        """Change title, model, system_prompt or settings (a dict); returns the conversation as stored. Raises
        ValueError for another field."""
        allowed = {"title", "model", "system_prompt", "settings"}
        sets, args = [], []
        for key, value in fields.items():
            if key not in allowed:
                raise ValueError(key)
            sets.append(f"{key}=?")
            args.append(json.dumps(value) if key == "settings" else value)
        if sets:
            with self._tx() as db:
                db.execute(f"UPDATE conversations SET {', '.join(sets)}, updated=? WHERE id=?",
                           (*args, time.time(), cid))
        return self.get(cid)

    def rename(self, cid: str, title: str) -> Conversation:
        """Set the title ("Untitled" for a blank one)."""
        return self.update(cid, title=title.strip() or "Untitled")

    def delete(self, cid: str) -> None:
        """Delete the conversation and all its messages (every branch)."""
        with self._tx() as db:
            db.execute("DELETE FROM messages WHERE conversation_id=?", (cid,))
            db.execute("DELETE FROM conversations WHERE id=?", (cid,))

    # ---- messages ----------------------------------------------------------------------------------------------
    def add_message(self, cid: str, role: str, content: str, parent_id: int | None = -1, model: str = "",
                    info: dict | None = None, images: list | None = None) -> Message:
        """Append under `parent_id` (default: the current leaf) and make the new message the leaf. `images`:
        paths or image bytes, copied first (keep_image: UserError for one that is not an image, and then
        nothing is stored)."""
        now = time.time()
        names = [keep_image(i) for i in images or []]
        with self._tx() as db:
            row = db.execute("SELECT leaf_id, title FROM conversations WHERE id=?", (cid,)).fetchone()
            if row is None:
                raise UserError(f"There is no conversation {cid!r}.")
            parent = row["leaf_id"] if parent_id == -1 else parent_id
            cur = db.execute("INSERT INTO messages(conversation_id, parent_id, role, content, created, model, info, "
                             "images) VALUES (?,?,?,?,?,?,?,?)", (cid, parent, role, content, now, model,
                                                                  json.dumps(info or {}), json.dumps(names)))
            mid = cur.lastrowid
            title = row["title"]
            if role == "user" and title in ("New chat", ""):
                title = _title_from(content)
            db.execute("UPDATE conversations SET leaf_id=?, updated=?, title=? WHERE id=?", (mid, now, title, cid))
        return self.message(mid)

    def message(self, mid: int) -> Message:
        """Message `mid`. Raises UserError when it no longer exists."""
        rows = self._query("SELECT * FROM messages WHERE id=?", (mid,))
        if not rows:
            raise UserError(f"Message {mid} no longer exists.")
        return _row_msg(rows[0])

    def children(self, mid: int | None, cid: str | None = None) -> list[Message]:
        """The messages written under `mid` (the versions of its reply), oldest first; mid None: the first
        messages of conversation `cid`."""
        if mid is None:
            rows = self._query("SELECT * FROM messages WHERE parent_id IS NULL AND conversation_id=? ORDER BY id",
                               (cid,))
        else:
            rows = self._query("SELECT * FROM messages WHERE parent_id=? ORDER BY id", (mid,))
        return [_row_msg(r) for r in rows]

    def branch(self, cid: str) -> list[Message]:
        """The messages of the current branch, oldest first, each with its sibling position."""
        conv = self.get(cid)
        if conv.leaf_id is None:
            return []
        rows = self._query(
            "WITH RECURSIVE up(id, parent_id, depth) AS ("
            " SELECT id, parent_id, 0 FROM messages WHERE id=?"
            " UNION ALL SELECT m.id, m.parent_id, up.depth+1 FROM messages m JOIN up ON m.id = up.parent_id)"
            " SELECT m.*, (SELECT COUNT(*) FROM messages s WHERE s.conversation_id=m.conversation_id AND"
            "   s.parent_id IS m.parent_id) AS n_sib,"
            " (SELECT COUNT(*) FROM messages s WHERE s.conversation_id=m.conversation_id AND"
            "   s.parent_id IS m.parent_id AND s.id < m.id) AS i_sib"
            " FROM up JOIN messages m ON m.id = up.id ORDER BY up.depth DESC", (conv.leaf_id,))
        out = []
        for r in rows:
            msg = _row_msg(r)
            msg.sibling_count, msg.sibling_index = r["n_sib"], r["i_sib"]
            out.append(msg)
        return out

    def set_leaf(self, cid: str, mid: int | None) -> None:
        """Make the current branch end at `mid` (None: an empty branch)."""
        with self._tx() as db:
            db.execute("UPDATE conversations SET leaf_id=?, updated=? WHERE id=?", (mid, time.time(), cid))

    def edit_user_message(self, mid: int, content: str) -> Message:
        """A new version of a user message, as a sibling (keeping its images); the later messages stay on the old
        branch."""
        old = self.message(mid)
        if old.role != "user":
            raise UserError("Only your own messages can be edited.")
        return self.add_message(old.conversation_id, "user", content, parent_id=old.parent_id, images=old.images)

    def switch_to(self, mid: int) -> None:
        """Show the branch through message `mid`: down to the newest message written under it (always a leaf,
        since children are newer than their parents), i.e. where the user last was on that branch."""
        msg = self.message(mid)
        row = self._query(
            "WITH RECURSIVE down(id) AS (SELECT ? UNION ALL SELECT m.id FROM messages m JOIN down ON m.parent_id = down.id)"
            " SELECT MAX(id) FROM down", (mid,))
        self.set_leaf(msg.conversation_id, row[0][0] or mid)

    def sibling(self, mid: int, step: int) -> Message | None:
        """The previous (step=-1) or next (+1) version of message `mid`."""
        msg = self.message(mid)
        sibs = self.children(msg.parent_id, msg.conversation_id)
        ids = [s.id for s in sibs]
        i = ids.index(mid) + step
        return sibs[i] if 0 <= i < len(sibs) else None

    def messages(self, cid: str) -> list[Message]:
        """Every message of the conversation, on every branch, oldest first (a parent before its children)."""
        return [_row_msg(r) for r in self._query("SELECT * FROM messages WHERE conversation_id=? ORDER BY id",
                                                 (cid,))]

    def restore(self, conv: Conversation, messages: list[Message]) -> Conversation:
        """Store a conversation read from elsewhere (an export) as a new one, with its times, branches and
        current branch, in one transaction. Message ids and parents are remapped; `conv.leaf_id` names the
        current message among `messages` (None: the last one). Returns the new conversation. Raises UserError
        when a message's parent is not among the messages before it."""
        cid = uuid.uuid4().hex[:12]
        ids: dict[int, int] = {}
        names_of = {m.id: [keep_image(i) for i in m.images or []] for m in messages}
        with self._tx() as db:
            db.execute("INSERT INTO conversations(id, title, created, updated, model, system_prompt, settings) "
                       "VALUES (?,?,?,?,?,?,?)", (cid, conv.title, conv.created, conv.updated, conv.model,
                                                  conv.system_prompt, json.dumps(conv.settings or {})))
            for m in messages:
                if m.parent_id is not None and m.parent_id not in ids:
                    raise UserError(f"Message {m.id} answers message {m.parent_id}, which is not before it.")
                cur = db.execute(
                    "INSERT INTO messages(conversation_id, parent_id, role, content, created, model, info, images) "
                    "VALUES (?,?,?,?,?,?,?,?)", (cid, ids.get(m.parent_id), m.role, m.content, m.created, m.model,
                                                 json.dumps(m.info or {}), json.dumps(names_of[m.id])))
                ids[m.id] = cur.lastrowid
            leaf = ids.get(conv.leaf_id) if conv.leaf_id is not None else (ids[messages[-1].id] if messages else None)
            db.execute("UPDATE conversations SET leaf_id=? WHERE id=?", (leaf, cid))
        return self.get(cid)

    def history(self, cid: str) -> list[dict]:
        """The current branch as chat messages, with the system prompt first when there is one."""
        conv = self.get(cid)
        msgs = [m.as_chat() for m in self.branch(cid)]
        if conv.system_prompt.strip():
            msgs.insert(0, {"role": "system", "content": conv.system_prompt})
        return msgs


def _title_from(text: str) -> str:
    line = " ".join(text.split())
    return (line[:48] + "…") if len(line) > 48 else (line or "New chat")
