"""On-disk cache of image embeddings, keyed by (image pixel hash, model fingerprint), with a size cap and LRU
eviction. Survives restarts: reopening an image runs the encoder zero times.

One `.npz` file per entry (features as stored by the encoder, plus the sizes needed to decode masks). A SAM 2 /
EdgeTAM / SAM-HQ entry also holds the other feature maps its decoder reads (`extra_0`, `extra_1`: SAM 2's
high-resolution maps), so a cache hit decodes exactly like a fresh encode. A hit touches the file's mtime, which is
the LRU order; writes are atomic (temporary file, then rename).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core import paths


@dataclass
class CachedEmbedding:
    """One cache entry. `features`: the 1 x C x h x w float32 embedding; `original_size`: (H, W) of the photo and
    `input_size`: (h, w) as the encoder saw it before padding, both in pixels; `extra`: further float32 feature maps the
    decoder reads, in the backend's order."""

    features: np.ndarray  # 1 x C x h x w float32
    original_size: tuple[int, int]  # (H, W) of the image
    input_size: tuple[int, int]  # (h, w) of the image as the encoder saw it (before padding to the square)
    extra: tuple[np.ndarray, ...] = ()  # further feature maps the decoder reads, in the backend's order


def default_dir() -> Path:
    """`<cache dir>/segment-embeddings`, created if missing."""
    path = paths.cache_dir() / "segment-embeddings"
    path.mkdir(parents=True, exist_ok=True)
    return path


class EmbeddingCache:
    """The cache in `directory` (default `default_dir()`), capped at `max_bytes` bytes (default 2 GiB; 0 or less stores
    nothing). `hits` / `misses` count `get` results. OSError when the folder cannot be created."""

    def __init__(self, directory: Path | None = None, max_bytes: int = 2 * 2**30) -> None:
        self.directory = Path(directory) if directory else default_dir()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _file(self, image_key: str, model_key: str) -> Path:
        return self.directory / f"{model_key}-{image_key}.npz"

    def get(self, image_key: str, model_key: str) -> CachedEmbedding | None:
        """The entry for (image_key, model_key), or None. A hit becomes the most recently used; a damaged file is
        deleted and counts as a miss (never raises for a bad file)."""
        path = self._file(image_key, model_key)
        try:
            with np.load(path, allow_pickle=False) as data:
                extra = tuple(np.array(data[f"extra_{i}"]) for i in range(sum(k.startswith("extra_") for k in data)))
                entry = CachedEmbedding(np.array(data["features"]), tuple(int(x) for x in data["original_size"]),
                                        tuple(int(x) for x in data["input_size"]), extra)
        except (OSError, KeyError, ValueError, EOFError):  # absent, or damaged: treat as a miss
            if path.exists():
                path.unlink(missing_ok=True)
            self.misses += 1
            return None
        try:
            os.utime(path)  # most recently used
        except OSError:
            pass
        self.hits += 1
        return entry

    def __contains__(self, keys: tuple[str, str]) -> bool:
        return self._file(*keys).exists()

    def put(self, image_key: str, model_key: str, entry: CachedEmbedding) -> None:
        """Store `entry` (arrays as float32) atomically, then evict down to the cap. Does nothing when max_bytes <= 0; a
        disk error (OSError) propagates after the temporary file is removed."""
        if self.max_bytes <= 0:
            return
        path = self._file(image_key, model_key)
        fd, tmp = tempfile.mkstemp(prefix=".emb-", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as fh:
                extra = {f"extra_{i}": a.astype(np.float32, copy=False) for i, a in enumerate(entry.extra)}
                np.savez(fh, features=entry.features.astype(np.float32, copy=False),
                         original_size=np.array(entry.original_size), input_size=np.array(entry.input_size), **extra)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.evict()

    def entries(self) -> list[tuple[Path, int, float]]:
        """(file, size, last use), oldest first."""
        out = []
        for p in self.directory.glob("*.npz"):
            try:
                st = p.stat()
            except OSError:
                continue
            out.append((p, st.st_size, st.st_mtime))
        out.sort(key=lambda e: e[2])
        return out

    def total_bytes(self) -> int:
        """Bytes the entries take on disk."""
        return sum(size for _, size, _ in self.entries())

    def evict(self) -> int:
        """Remove least recently used entries until the cache fits its cap. Returns how many went."""
        with self._lock:
            entries = self.entries()
            total = sum(size for _, size, _ in entries)
            removed = 0
            for path, size, _ in entries:
                if total <= self.max_bytes:
                    break
                path.unlink(missing_ok=True)
                total -= size
                removed += 1
            # stale temporary files from a crash
            for tmp in self.directory.glob(".emb-*.tmp"):
                try:
                    if time.time() - tmp.stat().st_mtime > 3600:
                        tmp.unlink()
                except OSError:
                    pass
            return removed

    def clear(self) -> None:
        """Delete every entry."""
        for path, _, _ in self.entries():
            path.unlink(missing_ok=True)
