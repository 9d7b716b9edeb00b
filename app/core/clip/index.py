"""CLIP image embeddings of a folder, cached on disk by content hash.

The cache is one SQLite file (`<data>/clip/embeddings.sqlite3`):
- files(path, size, mtime_ns, hash): a file whose size and modification time are unchanged is not read again;
- vectors(model, hash, vector): one embedding per model and file content, so a renamed or copied photo costs
  nothing and a changed photo (new content hash) is embedded again;
- failures(model, hash, reason): a file that is not a readable image is remembered (until its content changes)
  and reported, not retried on every search.

`index_images` is the background step: it hashes what changed, decodes and embeds only what the cache lacks, in
batches (progress and cancellation between batches), and returns every file's vector.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core import paths
from app.core.errors import UserError
from app.core.imageio import IMAGE_SUFFIXES
from app.core.jobs import JobState
from app.core.vision.images import open_rgb

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, hash TEXT);
CREATE TABLE IF NOT EXISTS vectors (model TEXT, hash TEXT, vector BLOB, PRIMARY KEY (model, hash));
CREATE TABLE IF NOT EXISTS failures (model TEXT, hash TEXT, reason TEXT, PRIMARY KEY (model, hash));
"""


def default_path() -> Path:
    return paths.clip_dir() / "embeddings.sqlite3"


class EmbeddingStore:
    """The on-disk cache (see module doc). Thread-safe; one connection guarded by a lock."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else default_path()
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise UserError(f"The CLIP embedding cache {self.path} cannot be opened ({exc}); delete it and Hearth "
                            "will rebuild it.") from None

    def file_hash(self, path: Path, stat: os.stat_result) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT size, mtime_ns, hash FROM files WHERE path = ?", (str(path),)).fetchone()
        if row and row[0] == stat.st_size and row[1] == stat.st_mtime_ns:
            return row[2]
        return None

    def remember_files(self, rows: list[tuple[str, int, int, str]]) -> None:
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)", rows)

    def vectors(self, model: str, hashes: list[str]) -> dict[str, np.ndarray]:
        rows = self._by_hash("vectors", "vector", model, hashes)
        return {h: np.frombuffer(blob, dtype=np.float32) for h, blob in rows}

    def failures(self, model: str, hashes: list[str]) -> dict[str, str]:
        return dict(self._by_hash("failures", "reason", model, hashes))

    def _by_hash(self, table: str, column: str, model: str, hashes: list[str]) -> list[tuple]:
        """(hash, column) rows of `table` for `model` and these hashes, 500 per query (SQLite's variable limit)."""
        rows: list[tuple] = []
        with self._lock:
            for start in range(0, len(hashes), 500):
                chunk = hashes[start:start + 500]
                marks = ",".join("?" * len(chunk))
                rows += self._db.execute(f"SELECT hash, {column} FROM {table} WHERE model = ? AND hash IN ({marks})",
                                         [model, *chunk]).fetchall()
        return rows

    def store(self, model: str, vectors: dict[str, np.ndarray], failures: dict[str, str]) -> None:
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                                 [(model, h, np.asarray(v, np.float32).tobytes()) for h, v in vectors.items()])
            self._db.executemany("INSERT OR REPLACE INTO failures VALUES (?, ?, ?)",
                                 [(model, h, r) for h, r in failures.items()])

    def close(self) -> None:
        with self._lock:
            self._db.close()


def content_hash(path: Path) -> str:
    """BLAKE2b (128-bit) of the file's bytes."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def list_images(folder: str | Path, recursive: bool = True) -> list[Path]:
    """Image files (by extension) under `folder`, sorted; hidden files and folders skipped."""
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise UserError(f"Folder not found: {folder}")
    if not folder.is_dir():
        raise UserError(f"{folder} is a file; give the folder of photos to search.")
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / f for f in files if not f.startswith(".") and f.lower().endswith(IMAGE_SUFFIXES)]
        if not recursive:
            break
    return sorted(found)


@dataclass
class IndexResult:
    """files[i] has vectors[i] (unit length); skipped: file → why it has no vector."""

    files: list[Path]
    vectors: np.ndarray
    skipped: dict[Path, str] = field(default_factory=dict)
    embedded: int = 0  # newly embedded this time (the rest came from the cache)
    hashed: int = 0  # files read to hash (new or changed)


def index_images(files: list[Path], encoder, store: EmbeddingStore | None = None, state: JobState | None = None,
                 batch_size: int = 32) -> IndexResult:
    """Embeddings for `files` with `encoder` (a ClipEncoder), from the cache or computed in batches of batch_size.

    Images are decoded in a worker thread while the previous batch is embedded. Raises JobCancelled (between
    batches) when state is cancelled; what was embedded before that stays cached."""
    if store is None:
        store = EmbeddingStore()
        try:
            return index_images(files, encoder, store, state, batch_size)
        finally:
            store.close()
    state = state or JobState()
    hashes: dict[Path, str] = {}
    new_rows = []
    for i, path in enumerate(files):
        try:
            st = path.stat()
        except OSError:
            continue
        h = store.file_hash(path, st)
        if h is None:
            if i % 16 == 0:
                state.check()
                state.progress(None, f"Checking {path.name}")
            try:
                h = content_hash(path)
            except OSError:
                continue
            new_rows.append((str(path), st.st_size, st.st_mtime_ns, h))
        hashes[path] = h
    store.remember_files(new_rows)
    unique = list(dict.fromkeys(hashes.values()))
    known = store.vectors(encoder.key, unique)
    failed = store.failures(encoder.key, [h for h in unique if h not in known])
    todo = [h for h in unique if h not in known and h not in failed]
    first_path = {}
    for path, h in hashes.items():
        first_path.setdefault(h, path)
    embedded = _embed_missing(todo, first_path, encoder, store, state, batch_size, known, failed)
    ok = [p for p in hashes if hashes[p] in known]
    skipped = {p: failed[hashes[p]] for p in hashes if hashes[p] in failed}
    vectors = np.stack([known[hashes[p]] for p in ok]) if ok else np.zeros((0, encoder.dim), np.float32)
    state.progress(1.0, f"{len(ok)} images indexed")
    return IndexResult(files=ok, vectors=vectors, skipped=skipped, embedded=embedded, hashed=len(new_rows))


def _embed_missing(todo, first_path, encoder, store, state, batch_size, known, failed) -> int:
    if not todo:
        return 0
    side = getattr(encoder, "input_side", 224)

    def decode(batch):
        images, ok, bad = [], [], {}
        for h in batch:
            try:
                images.append(open_rgb(first_path[h], side, shortest=True)[0])
                ok.append(h)
            except UserError as exc:
                if first_path[h].exists():  # a file deleted meanwhile is not remembered as unreadable
                    bad[h] = str(exc)
        return images, ok, bad

    batches = [todo[i:i + batch_size] for i in range(0, len(todo), batch_size)]
    done = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="clip-decode") as pool:
        pending = pool.submit(decode, batches[0])
        for n, _batch in enumerate(batches):
            images, ok, bad = pending.result()
            if n + 1 < len(batches):
                pending = pool.submit(decode, batches[n + 1])
            state.check()
            vecs = encoder.embed_images(images)
            new = dict(zip(ok, vecs))
            store.store(encoder.key, new, bad)
            known.update(new)
            failed.update(bad)
            done += len(ok) + len(bad)
            state.progress(done / len(todo), f"Embedding images {done}/{len(todo)}")
    return sum(1 for h in todo if h in known)
