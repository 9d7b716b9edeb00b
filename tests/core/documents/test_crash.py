"""SIGKILL during indexing (a real subprocess), then index again: the store is consistent, nothing duplicated,
nothing left of deleted files, and every file ends up indexed."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from app.core import paths
from app.core.documents.indexer import IndexRequest, index_collection
from app.core.documents.store import INDEXED, Store
from app.core.jobs import JobState
from tests.core.documents.test_indexer import consistent

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")


def _indexed_count(db) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute("SELECT COUNT(*) FROM files WHERE state = 'indexed'").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def test_sigkill_mid_index_then_resume_is_consistent(tmp_path, subprocess_env, python):
    folder = tmp_path / "books"
    folder.mkdir()
    total = 60  # small files: the run is dominated by per-file work, so there is time to kill it mid-way
    for i in range(total):
        (folder / f"book{i:03}.txt").write_text(f"Book {i} is about the number {i * 7}.", encoding="utf-8")
    db = paths.documents_dir() / "index.sqlite3"
    child = subprocess.Popen([python, "-m", "app", "docs", "index", str(folder), "--collection", "crash"],
                             env=subprocess_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and child.poll() is None and _indexed_count(db) < 2:
            time.sleep(0.02)
        assert child.poll() is None, child.stderr.read().decode()[-2000:]
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stderr.close()
    killed_at = _indexed_count(db)
    assert 2 <= killed_at < total, "the child finished before it could be killed"

    # While the app was down a file was deleted.
    (folder / "book000.txt").unlink()
    report = index_collection(IndexRequest("crash"), JobState())
    store = Store()
    by_path = consistent(store, "crash")
    files = store.files(store.get("crash"))
    assert len(files) == total - 1 and all(f.state == INDEXED for f in files)
    assert str(folder / "book000.txt") not in by_path and len(by_path) == total - 1
    assert report.unchanged >= killed_at - 1
