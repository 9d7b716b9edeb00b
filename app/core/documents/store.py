"""The documents store: SQLite (collections, sources, files, chunk text, FTS5 keyword index) beside a Chroma
`PersistentClient` (one Chroma collection per Hearth collection, holding the vectors).

SQLite is the record of truth. A file is `indexed` only after every one of its chunks is in both stores; until
then it is `pending`, and any chunk of a pending file is purged before the file is indexed again. That is what
makes a SIGKILL at any moment safe: the next run purges and redoes the interrupted file and nothing else.
Chunk ids are derived from (file content hash, chunk index), so writing a chunk twice overwrites it.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from app.core import paths
from app.core.errors import UserError

PENDING, INDEXED, FAILED, DUPLICATE = "pending", "indexed", "failed", "duplicate"

_SCHEMA = """
PRAGMA journal_mode=WAL;
CREATE TABLE IF NOT EXISTS collections (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL, model TEXT NOT NULL,
    chunk_tokens INTEGER NOT NULL, chunk_overlap INTEGER NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sources (
    collection_id INTEGER NOT NULL, path TEXT NOT NULL, PRIMARY KEY (collection_id, path));
CREATE TABLE IF NOT EXISTS files (
    collection_id INTEGER NOT NULL, path TEXT NOT NULL, size INTEGER, mtime REAL, hash TEXT,
    state TEXT NOT NULL, reason TEXT DEFAULT '', chunks INTEGER DEFAULT 0, pages INTEGER DEFAULT 0,
    updated REAL, PRIMARY KEY (collection_id, path));
CREATE TABLE IF NOT EXISTS chunks (
    collection_id INTEGER NOT NULL, id TEXT NOT NULL, path TEXT NOT NULL, idx INTEGER NOT NULL,
    page_start INTEGER, page_end INTEGER, char_start INTEGER, char_end INTEGER, heading TEXT, text TEXT,
    PRIMARY KEY (collection_id, id));
CREATE INDEX IF NOT EXISTS chunks_by_path ON chunks (collection_id, path);
"""

_clients: dict[str, object] = {}
_clients_lock = threading.Lock()


def chroma_client(path: Path):
    """One Chroma PersistentClient per folder per process (Chroma refuses a second with other settings)."""
    import chromadb
    from chromadb.config import Settings

    key = str(path)
    with _clients_lock:
        if key not in _clients:
            path.mkdir(parents=True, exist_ok=True)
            _clients[key] = chromadb.PersistentClient(
                path=key, settings=Settings(anonymized_telemetry=False, allow_reset=False))
        return _clients[key]


@dataclass
class CollectionInfo:
    id: int
    name: str
    model: str
    chunk_tokens: int
    chunk_overlap: int
    created: float

    @property
    def chroma_name(self) -> str:
        return f"hearth_{self.id}"


@dataclass
class FileRow:
    path: str
    size: int | None
    mtime: float | None
    hash: str | None
    state: str
    reason: str
    chunks: int
    pages: int


@dataclass
class ChunkRow:
    id: str
    path: str
    idx: int
    page_start: int | None
    page_end: int | None
    char_start: int
    char_end: int
    heading: str
    text: str


def chunk_id(file_hash: str, index: int) -> str:
    return f"{file_hash[:32]}-{index:05d}"


class Store:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or paths.documents_dir()
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self.db = sqlite3.connect(str(self.root / "index.sqlite3"), check_same_thread=False, timeout=30)
        self.db.row_factory = sqlite3.Row
        with self._lock:
            self.db.executescript(_SCHEMA)
            self.db.execute("PRAGMA synchronous=NORMAL")
        self._chroma = None

    # ---- chroma ------------------------------------------------------------------------------------------------
    @property
    def chroma(self):
        if self._chroma is None:
            self._chroma = chroma_client(self.root / "chroma")
        return self._chroma

    def vectors(self, info: CollectionInfo):
        return self.chroma.get_or_create_collection(
            info.chroma_name, metadata={"hnsw:space": "cosine", "hearth_name": info.name, "model": info.model},
            embedding_function=None)

    # ---- collections -------------------------------------------------------------------------------------------
    def _info(self, row) -> CollectionInfo:
        return CollectionInfo(row["id"], row["name"], row["model"], row["chunk_tokens"], row["chunk_overlap"],
                              row["created"])

    def collections(self) -> list[CollectionInfo]:
        with self._lock:
            rows = self.db.execute("SELECT * FROM collections ORDER BY name COLLATE NOCASE").fetchall()
        return [self._info(r) for r in rows]

    def find(self, name: str) -> CollectionInfo | None:
        with self._lock:
            row = self.db.execute("SELECT * FROM collections WHERE name = ?", (name,)).fetchone()
        return self._info(row) if row else None

    def get(self, name: str) -> CollectionInfo:
        info = self.find(name)
        if info is None:
            known = ", ".join(c.name for c in self.collections()) or "none yet"
            raise UserError(f"no collection named '{name}' (collections: {known}). "
                            "Make one with `hearth docs index PATH --collection NAME`.")
        return info

    def create(self, name: str, model: str, chunk_tokens: int, chunk_overlap: int) -> CollectionInfo:
        name = name.strip()
        if not name or len(name) > 100:
            raise UserError("a collection needs a name of 1 to 100 characters")
        with self._lock, self.db:
            self.db.execute("INSERT INTO collections (name, model, chunk_tokens, chunk_overlap, created) "
                            "VALUES (?, ?, ?, ?, ?)", (name, model, chunk_tokens, chunk_overlap, time.time()))
            info = self.get(name)
            self.db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS fts_{info.id} USING fts5("
                            "text, id UNINDEXED, tokenize='porter unicode61')")
        return info

    def remove(self, name: str) -> None:
        info = self.get(name)
        try:
            self.chroma.delete_collection(info.chroma_name)
        except Exception:  # noqa: BLE001 - never created (no file indexed yet)
            pass
        with self._lock, self.db:
            for table in ("sources", "files", "chunks"):
                self.db.execute(f"DELETE FROM {table} WHERE collection_id = ?", (info.id,))
            self.db.execute(f"DROP TABLE IF EXISTS fts_{info.id}")
            self.db.execute("DELETE FROM collections WHERE id = ?", (info.id,))

    def set_model(self, info: CollectionInfo, model: str) -> CollectionInfo:
        """Switch the embedding model: the old vectors are dropped and every file is pending again."""
        try:
            self.chroma.delete_collection(info.chroma_name)
        except Exception:  # noqa: BLE001
            pass
        with self._lock, self.db:
            self.db.execute("UPDATE collections SET model = ? WHERE id = ?", (model, info.id))
            self.db.execute("DELETE FROM chunks WHERE collection_id = ?", (info.id,))
            self.db.execute(f"DELETE FROM fts_{info.id}")
            self.db.execute("UPDATE files SET state = ?, hash = NULL, chunks = 0 WHERE collection_id = ? "
                            "AND state != ?", (PENDING, info.id, FAILED))
        return self.get(info.name)

    # ---- sources -----------------------------------------------------------------------------------------------
    def sources(self, info: CollectionInfo) -> list[str]:
        with self._lock:
            rows = self.db.execute("SELECT path FROM sources WHERE collection_id = ? ORDER BY path",
                                   (info.id,)).fetchall()
        return [r["path"] for r in rows]

    def add_sources(self, info: CollectionInfo, items: list[str]) -> None:
        with self._lock, self.db:
            self.db.executemany("INSERT OR IGNORE INTO sources (collection_id, path) VALUES (?, ?)",
                                [(info.id, p) for p in items])

    def remove_source(self, info: CollectionInfo, item: str) -> None:
        with self._lock, self.db:
            self.db.execute("DELETE FROM sources WHERE collection_id = ? AND path = ?", (info.id, item))

    # ---- files -------------------------------------------------------------------------------------------------
    def files(self, info: CollectionInfo) -> list[FileRow]:
        with self._lock:
            rows = self.db.execute("SELECT * FROM files WHERE collection_id = ? ORDER BY path", (info.id,)).fetchall()
        return [FileRow(r["path"], r["size"], r["mtime"], r["hash"], r["state"], r["reason"] or "", r["chunks"] or 0,
                        r["pages"] or 0) for r in rows]

    def set_file(self, info: CollectionInfo, path: str, *, size, mtime, hash, state, reason="", chunks=0,
                 pages=0) -> None:
        with self._lock, self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO files (collection_id, path, size, mtime, hash, state, reason, chunks, pages,"
                " updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (info.id, path, size, mtime, hash, state, reason, chunks, pages, time.time()))

    def touch_file(self, info: CollectionInfo, path: str, size: int, mtime: float) -> None:
        with self._lock, self.db:
            self.db.execute("UPDATE files SET size = ?, mtime = ? WHERE collection_id = ? AND path = ?",
                            (size, mtime, info.id, path))

    def purge_file(self, info: CollectionInfo, path: str, forget: bool = False) -> None:
        """Delete every chunk of `path` from both stores; with forget, the file's row too."""
        with self._lock:
            ids = [r["id"] for r in self.db.execute(
                "SELECT id FROM chunks WHERE collection_id = ? AND path = ?", (info.id, path))]
        self.vectors(info).delete(where={"file": path})  # also catches vectors written before their rows
        with self._lock, self.db:
            if ids:
                self.db.executemany(f"DELETE FROM fts_{info.id} WHERE id = ?", [(i,) for i in ids])
            self.db.execute("DELETE FROM chunks WHERE collection_id = ? AND path = ?", (info.id, path))
            if forget:
                self.db.execute("DELETE FROM files WHERE collection_id = ? AND path = ?", (info.id, path))

    def write_chunks(self, info: CollectionInfo, path: str, file_hash: str, start: int, chunks, vectors) -> None:
        """Store chunks start.. of one file: vectors in Chroma first, then rows + keyword index in SQLite."""
        ids = [chunk_id(file_hash, start + i) for i in range(len(chunks))]
        metas = [{"file": path, "idx": start + i, "page": c.page_start if c.page_start is not None else 0}
                 for i, c in enumerate(chunks)]
        self.vectors(info).upsert(ids=ids, embeddings=vectors, metadatas=metas)
        with self._lock, self.db:
            self.db.executemany(f"DELETE FROM fts_{info.id} WHERE id = ?", [(i,) for i in ids])
            self.db.executemany(
                "INSERT OR REPLACE INTO chunks (collection_id, id, path, idx, page_start, page_end, char_start,"
                " char_end, heading, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(info.id, cid, path, start + i, c.page_start, c.page_end, c.char_start, c.char_end, c.heading,
                  c.text) for i, (cid, c) in enumerate(zip(ids, chunks))])
            self.db.executemany(f"INSERT INTO fts_{info.id} (text, id) VALUES (?, ?)",
                                [(f"{c.heading}\n{c.text}" if c.heading else c.text, cid)
                                 for cid, c in zip(ids, chunks)])

    # ---- chunks ------------------------------------------------------------------------------------------------
    def chunk_rows(self, info: CollectionInfo, ids: list[str]) -> dict[str, ChunkRow]:
        if not ids:
            return {}
        out: dict[str, ChunkRow] = {}
        with self._lock:
            for i in range(0, len(ids), 500):
                part = ids[i:i + 500]
                marks = ",".join("?" * len(part))
                for r in self.db.execute(f"SELECT * FROM chunks WHERE collection_id = ? AND id IN ({marks})",
                                         (info.id, *part)):
                    out[r["id"]] = ChunkRow(r["id"], r["path"], r["idx"], r["page_start"], r["page_end"],
                                            r["char_start"], r["char_end"], r["heading"] or "", r["text"])
        return out

    def chunk_count(self, info: CollectionInfo) -> int:
        with self._lock:
            return self.db.execute("SELECT COUNT(*) FROM chunks WHERE collection_id = ?", (info.id,)).fetchone()[0]

    def keyword_search(self, info: CollectionInfo, match: str, limit: int) -> list[tuple[str, float]]:
        """(chunk id, bm25 score; higher is better) for an FTS5 MATCH expression."""
        with self._lock:
            try:
                rows = self.db.execute(
                    f"SELECT id, bm25(fts_{info.id}) AS s FROM fts_{info.id} WHERE fts_{info.id} MATCH ? "
                    "ORDER BY s LIMIT ?", (match, limit)).fetchall()
            except sqlite3.OperationalError:
                return []
        return [(r["id"], -float(r["s"])) for r in rows]

    def reconcile(self, info: CollectionInfo) -> int:
        """Remove vectors and keyword rows that belong to no chunk row (left by a crash). Returns how many."""
        vectors = self.vectors(info)
        with self._lock:
            known = {r["id"] for r in self.db.execute("SELECT id FROM chunks WHERE collection_id = ?", (info.id,))}
        if vectors.count() == len(known):
            stray_vectors: list[str] = []
        else:
            stray_vectors = [i for i in vectors.get(include=[])["ids"] if i not in known]
            if stray_vectors:
                vectors.delete(ids=stray_vectors)
        with self._lock, self.db:
            stray = self.db.execute(f"DELETE FROM fts_{info.id} WHERE id NOT IN "
                                    "(SELECT id FROM chunks WHERE collection_id = ?)", (info.id,)).rowcount
        return len(stray_vectors) + max(0, stray)

    def close(self) -> None:
        with self._lock:
            self.db.close()
