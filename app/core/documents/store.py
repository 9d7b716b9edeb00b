"""The documents store: SQLite (collections, sources, files, chunk text, FTS5 keyword index) beside a Chroma
`PersistentClient` (one Chroma collection per Hearth collection, holding the vectors).

SQLite is the record of truth. A file is `indexed` only after every one of its chunks is in both stores; until
then it is `pending`, and any chunk of a pending file is purged before the file is indexed again. That is what
makes a SIGKILL at any moment safe: the next run purges and redoes the interrupted file and nothing else.
Chunk ids are derived from (file content hash, chunk index), so writing a chunk twice overwrites it.

A chunk whose text (with its heading) the collection already holds is not stored again (add_chunks): its location
goes into `chunk_copies` under the stored chunk's id, and when the file holding the stored chunk goes away, a copy
takes its place (same id, vector and keyword row), so no file loses text. Hundreds of identical vectors also trap
HNSW search in their cluster (hnswlib#263, qdrant#1788): one file of repeated filler ranked first for every query.
The keyword index is described in fts.py; a store of an older SCHEMA_VERSION is migrated when opened.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from app.core import paths
from app.core.documents import fts
from app.core.errors import UserError

PENDING, INDEXED, FAILED, DUPLICATE, EMPTY = "pending", "indexed", "failed", "duplicate", "empty"
# PRAGMA user_version; 0: one-column porter FTS table, no chunk keys (before 2026-12); 1: heading + body FTS
SCHEMA_VERSION = 2
# bm25() weights of the title, heading and body columns (dev set: fields 1/2/1 in the fusion raised MRR@10 0.745 →
# 0.796; 1/1/1 and 0.5/1/1 were indistinguishable; exp/rag/REPORT.md §4.3)
FIELD_WEIGHTS = (1.0, 2.0, 1.0)
# How a collection's chunks were made: 1 = before contextual headers (no title, no PDF outline path, 128-token
# chunks by default); 2 = headers embedded and stored. A format-1 collection keeps working; `hearth docs index
# --rechunk` (or the Documents tab's Re-index) rebuilds it in the current format.
CHUNK_FORMAT = 2

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
CREATE TABLE IF NOT EXISTS ocr_pages (
    collection_id INTEGER NOT NULL, path TEXT NOT NULL, page INTEGER NOT NULL,
    PRIMARY KEY (collection_id, path, page));
CREATE TABLE IF NOT EXISTS indexing (
    collection_id INTEGER PRIMARY KEY, pid INTEGER NOT NULL, files_total INTEGER NOT NULL, files_done INTEGER NOT
    NULL, pages_total INTEGER NOT NULL, pages_done INTEGER NOT NULL, chunks_done INTEGER NOT NULL, updated REAL);
"""
# Schema version 1: English stemming per collection, chunk keys, copies of identical chunks, two-column FTS.
_SCHEMA_1 = """
ALTER TABLE collections ADD COLUMN stemming INTEGER NOT NULL DEFAULT 1;
ALTER TABLE chunks ADD COLUMN text_hash TEXT;
CREATE INDEX chunks_by_hash ON chunks (collection_id, text_hash);
CREATE TABLE chunk_copies (
    collection_id INTEGER NOT NULL, chunk_id TEXT NOT NULL, path TEXT NOT NULL, idx INTEGER NOT NULL,
    page_start INTEGER, page_end INTEGER, char_start INTEGER, char_end INTEGER);
CREATE INDEX copies_by_chunk ON chunk_copies (collection_id, chunk_id);
CREATE INDEX copies_by_path ON chunk_copies (collection_id, path);
"""
# Schema version 2: document titles per chunk (contextual headers) and a title column in the FTS tables; the
# collection's chunk format (collections of version 1 keep format 1 until re-chunked).
_SCHEMA_2 = """
ALTER TABLE chunks ADD COLUMN title TEXT NOT NULL DEFAULT '';
ALTER TABLE collections ADD COLUMN chunk_format INTEGER NOT NULL DEFAULT 1;
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
    stemming: bool = True  # English (Porter) stemming in the keyword index
    chunk_format: int = CHUNK_FORMAT  # 1: made before contextual headers (re-chunk to upgrade)

    @property
    def chroma_name(self) -> str:
        return f"hearth_{self.id}"


@dataclass
class IndexingProgress:
    """A collection's indexing run in progress (in this or another process): files and pages of this run done so
    far; pages_total is 0 when not known up front (files other than PDFs in the run)."""

    files_total: int
    files_done: int
    pages_total: int
    pages_done: int
    chunks_done: int

    def note(self) -> str:
        """One sentence for a search or an answer made meanwhile."""
        done = (f"{self.pages_done} of {self.pages_total} pages" if self.pages_total
                else f"{self.files_done} of {self.files_total} files")
        return f"Indexing {done} — answers use what is indexed so far."


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
    title: str = ""


def chunk_id(file_hash: str, index: int) -> str:
    return f"{file_hash[:32]}-{index:05d}"


def chunk_key(heading: str, text: str) -> str:
    """What makes two chunks identical: their heading and text (both are embedded), as a SHA-1 hex digest."""
    return hashlib.sha1(f"{heading or ''}\x00{text}".encode("utf-8", "surrogatepass")).hexdigest()


class Store:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or paths.documents_dir()
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self.db = sqlite3.connect(str(self.root / "index.sqlite3"), check_same_thread=False, timeout=30)
        self.db.row_factory = sqlite3.Row
        self._stray: dict[int, list[str]] = {}  # vectors whose rows the migration folded into copies
        with self._lock:
            self.db.executescript(_SCHEMA)
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        self._chroma = None
        self._handles: dict[tuple[int, str], object] = {}  # (collection id, model) -> Chroma collection

    def _migrate(self) -> None:
        """Bring an older store up to SCHEMA_VERSION in one transaction: on any error nothing changes."""
        if self.db.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
            return
        self.db.create_function("hearth_chunk_key", 2, chunk_key, deterministic=True)
        try:
            self.db.execute("BEGIN IMMEDIATE")  # another process may be migrating the same store
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version < 1:
                for statement in filter(str.strip, _SCHEMA_1.split(";")):
                    self.db.execute(statement)
                self.db.execute("UPDATE chunks SET text_hash = hearth_chunk_key(heading, text)")
                for row in self.db.execute("SELECT collection_id, id FROM chunks WHERE rowid NOT IN (SELECT MIN(rowid)"
                                           " FROM chunks GROUP BY collection_id, text_hash)"):
                    self._stray.setdefault(row["collection_id"], []).append(row["id"])
                # Identical chunks stored more than once: the first stays, the others become its copies (their
                # vectors go when the collection's vectors are first used; else at the next reconcile).
                self.db.execute(
                    "INSERT INTO chunk_copies SELECT c.collection_id, f.id, c.path, c.idx, c.page_start, c.page_end,"
                    " c.char_start, c.char_end FROM chunks c JOIN (SELECT collection_id, text_hash, MIN(rowid) AS r"
                    " FROM chunks GROUP BY collection_id, text_hash) g ON g.collection_id = c.collection_id AND"
                    " g.text_hash = c.text_hash JOIN chunks f ON f.rowid = g.r WHERE c.rowid != g.r")
                self.db.execute("DELETE FROM chunks WHERE rowid NOT IN (SELECT MIN(rowid) FROM chunks"
                                " GROUP BY collection_id, text_hash)")
            if version < 2:
                for statement in filter(str.strip, _SCHEMA_2.split(";")):
                    self.db.execute(statement)
            if version < SCHEMA_VERSION:
                for row in self.db.execute("SELECT id, stemming FROM collections").fetchall():
                    self._rebuild_keywords(row["id"], bool(row["stemming"]))
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise UserError(f"cannot update the documents index in {self.root} to this version of Hearth "
                            f"({exc}); it was left as it was") from exc

    def _rebuild_keywords(self, collection_id: int, stemming: bool) -> None:
        """Drop and refill a collection's FTS table from the stored chunk text (inside the caller's transaction)."""
        table = f"fts_{collection_id}"
        self.db.execute(f"DROP TABLE IF EXISTS {table}")
        fts.create_table(self.db, table, stemming)
        rows = self.db.execute("SELECT id, title, heading, text FROM chunks WHERE collection_id = ?",
                               (collection_id,)).fetchall()
        self.db.executemany(f"INSERT INTO {table} (title, heading, body, id) VALUES (?, ?, ?, ?)",
                            [_fts_row(r["id"], r["title"], r["heading"], r["text"]) for r in rows])

    # ---- chroma ------------------------------------------------------------------------------------------------
    @property
    def chroma(self):
        if self._chroma is None:
            self._chroma = chroma_client(self.root / "chroma")
        return self._chroma

    def vectors(self, info: CollectionInfo):
        """The collection's Chroma collection (created when missing); the handle is kept per (id, model), as
        get_or_create_collection costs ~20 ms, a good part of a search."""
        key = (info.id, info.model)
        collection = self._handles.get(key)
        if collection is None:
            collection = self.chroma.get_or_create_collection(
                info.chroma_name, metadata={"hnsw:space": "cosine", "hearth_name": info.name, "model": info.model},
                embedding_function=None)
            self._handles[key] = collection
        stray = self._stray.pop(info.id, None)
        for i in range(0, len(stray or []), 1000):
            collection.delete(ids=stray[i:i + 1000])
        return collection

    def forget_vectors(self, info: CollectionInfo | None = None) -> None:
        """Drop kept Chroma handles (of one collection, or all): after its Chroma collection was deleted."""
        for key in [k for k in self._handles if info is None or k[0] == info.id]:
            del self._handles[key]

    # ---- collections -------------------------------------------------------------------------------------------
    def _info(self, row) -> CollectionInfo:
        return CollectionInfo(row["id"], row["name"], row["model"], row["chunk_tokens"], row["chunk_overlap"],
                              row["created"], bool(row["stemming"]), row["chunk_format"])

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

    def create(self, name: str, model: str, chunk_tokens: int, chunk_overlap: int,
               stemming: bool = True) -> CollectionInfo:
        name = name.strip()
        if not name or len(name) > 100:
            raise UserError("a collection needs a name of 1 to 100 characters")
        with self._lock, self.db:
            self.db.execute("INSERT INTO collections (name, model, chunk_tokens, chunk_overlap, created, stemming,"
                            " chunk_format) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (name, model, chunk_tokens, chunk_overlap, time.time(), int(stemming), CHUNK_FORMAT))
            info = self.get(name)
            fts.create_table(self.db, f"fts_{info.id}", stemming)
        return info

    def set_stemming(self, info: CollectionInfo, stemming: bool) -> CollectionInfo:
        """Turn English stemming of the keyword index on or off: the index is rebuilt from the stored text (no
        re-embedding)."""
        with self._lock, self.db:
            self.db.execute("UPDATE collections SET stemming = ? WHERE id = ?", (int(stemming), info.id))
            self._rebuild_keywords(info.id, stemming)
        return self.get(info.name)

    def remove(self, name: str) -> None:
        info = self.get(name)
        self.forget_vectors(info)
        try:
            self.chroma.delete_collection(info.chroma_name)
        except Exception:  # noqa: BLE001 - never created (no file indexed yet)
            pass
        with self._lock, self.db:
            for table in ("sources", "files", "chunks", "chunk_copies", "ocr_pages"):
                self.db.execute(f"DELETE FROM {table} WHERE collection_id = ?", (info.id,))
            self.db.execute(f"DROP TABLE IF EXISTS fts_{info.id}")
            self.db.execute("DELETE FROM collections WHERE id = ?", (info.id,))

    def set_model(self, info: CollectionInfo, model: str) -> CollectionInfo:
        """Switch the embedding model: the old vectors are dropped and every file is pending again."""
        return self._reset(info, "model = ?", (model,))

    def set_chunking(self, info: CollectionInfo, chunk_tokens: int, chunk_overlap: int) -> CollectionInfo:
        """Re-chunk in the current format (CHUNK_FORMAT) at this size: the old chunks and vectors are dropped and
        every file is pending again (the next indexing run re-reads them from their sources)."""
        return self._reset(info, "chunk_tokens = ?, chunk_overlap = ?, chunk_format = ?",
                           (chunk_tokens, chunk_overlap, CHUNK_FORMAT))

    def _reset(self, info: CollectionInfo, assignments: str, values: tuple) -> CollectionInfo:
        self.forget_vectors(info)
        try:
            self.chroma.delete_collection(info.chroma_name)
        except Exception:  # noqa: BLE001
            pass
        with self._lock, self.db:
            self.db.execute(f"UPDATE collections SET {assignments} WHERE id = ?", (*values, info.id))
            self.db.execute("DELETE FROM chunks WHERE collection_id = ?", (info.id,))
            self.db.execute("DELETE FROM chunk_copies WHERE collection_id = ?", (info.id,))
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
        """Delete every chunk of `path` from both stores; with forget, the file's row too. A chunk other files
        hold copies of moves to the first of them instead (vector and keyword row kept)."""
        with self._lock:
            ids = [r["id"] for r in self.db.execute(
                "SELECT id FROM chunks WHERE collection_id = ? AND path = ?", (info.id, path))]
            heirs = self._heirs(info, ids, path)
        vectors = self.vectors(info)
        if heirs:  # metadata first: the delete by file below must not take the vectors that stay
            vectors.update(ids=[cid for cid, _ in heirs],
                           metadatas=[{"file": h["path"], "idx": h["idx"], "page": h["page_start"] or 0}
                                      for _, h in heirs])
        vectors.delete(where={"file": path})  # also catches vectors written before their rows
        with self._lock, self.db:
            for cid, heir in heirs:
                self.db.execute("UPDATE chunks SET path = ?, idx = ?, page_start = ?, page_end = ?, char_start = ?,"
                                " char_end = ? WHERE collection_id = ? AND id = ?",
                                (heir["path"], heir["idx"], heir["page_start"], heir["page_end"],
                                 heir["char_start"], heir["char_end"], info.id, cid))
                self.db.execute("DELETE FROM chunk_copies WHERE rowid = ?", (heir["rowid"],))
            kept = {cid for cid, _ in heirs}
            gone = [(i,) for i in ids if i not in kept]
            if gone:
                self.db.executemany(f"DELETE FROM fts_{info.id} WHERE id = ?", gone)
                self.db.executemany("DELETE FROM chunk_copies WHERE collection_id = ? AND chunk_id = ?",
                                    [(info.id, i) for (i,) in gone])
            self.db.execute("DELETE FROM chunks WHERE collection_id = ? AND path = ?", (info.id, path))
            self.db.execute("DELETE FROM chunk_copies WHERE collection_id = ? AND path = ?", (info.id, path))
            if forget:
                self.db.execute("DELETE FROM files WHERE collection_id = ? AND path = ?", (info.id, path))
                self.db.execute("DELETE FROM ocr_pages WHERE collection_id = ? AND path = ?", (info.id, path))

    def _heirs(self, info: CollectionInfo, ids: list[str], path: str) -> list[tuple[str, sqlite3.Row]]:
        """(chunk id, first copy in another file) for each of `ids` that has one."""
        heirs = []
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            marks = ",".join("?" * len(part))
            rows = self.db.execute(
                f"SELECT rowid, * FROM chunk_copies WHERE collection_id = ? AND path != ? AND chunk_id IN ({marks})"
                " ORDER BY rowid", (info.id, path, *part)).fetchall()
            first: dict[str, sqlite3.Row] = {}
            for row in rows:
                first.setdefault(row["chunk_id"], row)
            heirs.extend(first.items())
        return heirs

    def write_chunks(self, info: CollectionInfo, path: str, file_hash: str, start: int, chunks, vectors) -> None:
        """Store chunks start.. of one file as they are (no check for identical chunks): vectors in Chroma first,
        then rows + keyword index in SQLite."""
        self._write_owned(info, path, file_hash, list(range(start, start + len(chunks))), chunks, vectors)

    def add_chunks(self, info: CollectionInfo, path: str, file_hash: str, start: int, chunks, vectors) -> int:
        """Store chunks start.. of one file, each chunk whose heading and text the collection already holds as a
        copy of that one instead. `vectors[i]` may be None for a chunk that is known to be such a copy (an earlier
        chunk of the same file). Returns how many were new."""
        with self._lock:
            owners = self._owners(info, {chunk_key(c.heading, c.text) for c in chunks})
        new_idx, new_chunks, new_vectors, copies = [], [], [], []
        for offset, (chunk, vector) in enumerate(zip(chunks, vectors)):
            key, index = chunk_key(chunk.heading, chunk.text), start + offset
            if key in owners:
                copies.append((info.id, owners[key], path, index, chunk.page_start, chunk.page_end,
                               chunk.char_start, chunk.char_end))
                continue
            if vector is None:
                raise ValueError(f"chunk {index} of {path} has no vector and no identical stored chunk")
            owners[key] = chunk_id(file_hash, index)
            new_idx.append(index)
            new_chunks.append(chunk)
            new_vectors.append(vector)
        if new_chunks:
            self._write_owned(info, path, file_hash, new_idx, new_chunks, new_vectors)
        if copies:
            with self._lock, self.db:
                self.db.executemany("INSERT INTO chunk_copies VALUES (?, ?, ?, ?, ?, ?, ?, ?)", copies)
        return len(new_chunks)

    def _owners(self, info: CollectionInfo, keys: set[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        keys_list = sorted(keys)
        for i in range(0, len(keys_list), 500):
            part = keys_list[i:i + 500]
            marks = ",".join("?" * len(part))
            for row in self.db.execute(f"SELECT text_hash, id FROM chunks WHERE collection_id = ? AND text_hash IN "
                                       f"({marks})", (info.id, *part)):
                found.setdefault(row["text_hash"], row["id"])
        return found

    def _write_owned(self, info: CollectionInfo, path: str, file_hash: str, indexes: list[int], chunks,
                     vectors) -> None:
        ids = [chunk_id(file_hash, i) for i in indexes]
        metas = [{"file": path, "idx": i, "page": c.page_start if c.page_start is not None else 0}
                 for i, c in zip(indexes, chunks)]
        import numpy as np

        self.vectors(info).upsert(ids=ids, embeddings=np.asarray(vectors, dtype="float32"), metadatas=metas)
        with self._lock, self.db:
            self.db.executemany(f"DELETE FROM fts_{info.id} WHERE id = ?", [(i,) for i in ids])
            self.db.executemany(
                "INSERT OR REPLACE INTO chunks (collection_id, id, path, idx, page_start, page_end, char_start,"
                " char_end, heading, text, text_hash, title) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(info.id, cid, path, i, c.page_start, c.page_end, c.char_start, c.char_end, c.heading, c.text,
                  chunk_key(c.heading, c.text), getattr(c, "title", "")) for i, cid, c in zip(indexes, ids, chunks)])
            self.db.executemany(f"INSERT INTO fts_{info.id} (title, heading, body, id) VALUES (?, ?, ?, ?)",
                                [_fts_row(cid, getattr(c, "title", ""), c.heading, c.text)
                                 for cid, c in zip(ids, chunks)])

    # ---- OCR marks ---------------------------------------------------------------------------------------------
    def set_ocr_pages(self, info: CollectionInfo, path: str, pages) -> None:
        """Record which pages of `path` OCR read (1-based; 0 for an image without pages), replacing the last."""
        with self._lock, self.db:
            self.db.execute("DELETE FROM ocr_pages WHERE collection_id = ? AND path = ?", (info.id, path))
            self.db.executemany("INSERT INTO ocr_pages (collection_id, path, page) VALUES (?, ?, ?)",
                                [(info.id, path, int(p)) for p in sorted(set(pages))])

    def ocr_pages(self, info: CollectionInfo, paths) -> dict[str, set[int]]:
        """{path: pages OCR read} for those of `paths` that have any."""
        paths = sorted(set(paths))
        out: dict[str, set[int]] = {}
        with self._lock:
            for i in range(0, len(paths), 500):
                part = paths[i:i + 500]
                marks = ",".join("?" * len(part))
                for r in self.db.execute(f"SELECT path, page FROM ocr_pages WHERE collection_id = ? AND path IN "
                                         f"({marks})", (info.id, *part)):
                    out.setdefault(r["path"], set()).add(r["page"])
        return out

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
                                            r["char_start"], r["char_end"], r["heading"] or "", r["text"],
                                            r["title"] or "")
        return out

    def chunk_count(self, info: CollectionInfo) -> int:
        with self._lock:
            return self.db.execute("SELECT COUNT(*) FROM chunks WHERE collection_id = ?", (info.id,)).fetchone()[0]

    def keyword_search(self, info: CollectionInfo, match: str, limit: int,
                       weights: tuple[float, float, float] = FIELD_WEIGHTS) -> list[tuple[str, float]]:
        """(chunk id, bm25 score; higher is better) for an FTS5 MATCH expression over text made by
        fts.index_text; `weights` are bm25()'s weights of the title, heading and body columns."""
        table = f"fts_{info.id}"
        with self._lock:
            try:
                rows = self.db.execute(
                    f"SELECT id, bm25({table}, ?, ?, ?) AS s FROM {table} WHERE {table} MATCH ? ORDER BY s LIMIT ?",
                    (*weights, match, limit)).fetchall()
            except sqlite3.OperationalError:
                return []
        return [(r["id"], -float(r["s"])) for r in rows]

    # ---- indexing progress (read by searches made while a collection is indexing) -----------------------------
    def set_indexing(self, info: CollectionInfo, progress: IndexingProgress | None) -> None:
        """Record (or with None, clear) the collection's indexing run in progress."""
        import os

        with self._lock, self.db:
            if progress is None:
                self.db.execute("DELETE FROM indexing WHERE collection_id = ?", (info.id,))
            else:
                self.db.execute("INSERT OR REPLACE INTO indexing VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                (info.id, os.getpid(), progress.files_total, progress.files_done,
                                 progress.pages_total, progress.pages_done, progress.chunks_done, time.time()))

    def indexing(self, info: CollectionInfo) -> IndexingProgress | None:
        """The collection's indexing run in progress, None when there is none (a run whose process is gone, as
        after a crash, does not count)."""
        import os

        with self._lock:
            row = self.db.execute("SELECT * FROM indexing WHERE collection_id = ?", (info.id,)).fetchone()
        if row is None:
            return None
        if row["pid"] != os.getpid():
            try:
                os.kill(row["pid"], 0)
            except ProcessLookupError:
                return None
            except OSError:
                pass  # exists, owned by someone else
        return IndexingProgress(row["files_total"], row["files_done"], row["pages_total"], row["pages_done"],
                                row["chunks_done"])

    def keyword_matches(self, info: CollectionInfo, match: str, ids: list[str]) -> set[str]:
        """Those of `ids` whose keyword row matches an FTS5 MATCH expression."""
        if not ids:
            return set()
        table = f"fts_{info.id}"
        marks = ",".join("?" * len(ids))
        with self._lock:
            try:
                rows = self.db.execute(f"SELECT id FROM {table} WHERE {table} MATCH ? AND id IN ({marks})",
                                       (match, *ids)).fetchall()
            except sqlite3.OperationalError:
                return set()
        return {r["id"] for r in rows}

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
            self.db.execute("DELETE FROM chunk_copies WHERE collection_id = ? AND chunk_id NOT IN "
                            "(SELECT id FROM chunks WHERE collection_id = ?)", (info.id, info.id))
        return len(stray_vectors) + max(0, stray)

    def close(self) -> None:
        with self._lock:
            self.db.close()


def _fts_row(cid: str, title: str | None, heading: str | None, text: str) -> tuple[str, str, str, str]:
    return fts.index_text(title or ""), fts.index_text(heading or ""), fts.index_text(text), cid
