"""Watch the folders and files of collections; say (debounced) which collection changed."""

from __future__ import annotations

import os

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

MAX_WATCHED_DIRS = 2000  # beyond this, rely on the periodic re-scan


class CollectionWatcher(QObject):
    sig_changed = Signal(str)  # collection name

    def __init__(self, parent: QObject | None = None, delay_ms: int = 1500) -> None:
        super().__init__(parent)
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(self._on_path)
        self._watcher.fileChanged.connect(self._on_path)
        self._owners: dict[str, set[str]] = {}  # watched path -> collections
        self._dirty: set[str] = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self._emit)

    def watch(self, collection: str, sources: list[str]) -> None:
        """(Re)set what is watched for a collection: each source file, each source folder and its subfolders.

        Paths already watched stay watched: removing and re-adding a watch would drop a change the OS has
        queued but Qt has not read yet (a file deleted just as an indexing run ends).
        """
        paths: set[str] = set()
        for source in sources:
            if os.path.isdir(source):
                for dirpath, dirnames, _ in os.walk(source):
                    dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                    paths.add(dirpath)
                    if len(paths) >= MAX_WATCHED_DIRS:
                        break
            elif os.path.exists(source):
                paths.add(source)
        self._release(collection, keep=paths)
        for path in paths:
            self._owners.setdefault(path, set()).add(collection)
        current = set(self._watcher.files()) | set(self._watcher.directories())
        new = sorted(p for p in paths if p not in current)
        if new:
            self._watcher.addPaths(new)

    def forget(self, collection: str) -> None:
        """Stop watching for `collection` (paths another collection also holds stay watched)."""
        self._release(collection, keep=set())

    def _release(self, collection: str, keep: set[str]) -> None:
        """`collection` no longer owns its paths outside `keep`; a path nobody owns any more is unwatched."""
        drop = []
        for path, owners in self._owners.items():
            if path not in keep and collection in owners:
                owners.discard(collection)
                if not owners:
                    drop.append(path)
        for path in drop:
            del self._owners[path]
        if drop:
            self._watcher.removePaths(drop)

    def watched(self) -> list[str]:
        return sorted(self._owners)

    def _on_path(self, path: str) -> None:
        self._dirty.update(self._owners.get(path, ()))
        # A file replaced by "save to temp + rename" drops out of the watch list: add it back.
        if os.path.exists(path) and path not in self._watcher.files() + self._watcher.directories():
            self._watcher.addPath(path)
        self._timer.start()

    def _emit(self) -> None:
        dirty, self._dirty = self._dirty, set()
        for name in sorted(dirty):
            self.sig_changed.emit(name)
