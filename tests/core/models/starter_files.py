"""A starter catalog whose entries are files on the local range server (tests/fixtures/http_server.py)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from app.core.models import catalog

CHAT, IMAGE, SAM = "/files/starter-chat.gguf", "/files/starter-image.safetensors", "/files/starter-sam.pth"
KINDS = {CHAT: "chat", IMAGE: "diffusion", SAM: "sam"}


def payload(n: int, seed: int) -> bytes:
    return (hashlib.sha256(str(seed).encode()).digest() * (n // 32 + 1))[:n]


def local_catalog(server, folder: Path, sizes=(700_000, 600_000, 300_000), chat: bytes | None = None
                  ) -> tuple[list, dict[str, bytes]]:
    """Three starter entries (chat, diffusion, sam) served by `server`, with sizes and SHA-256; returns the
    catalog entries and {url path: bytes}. `chat`: the chat file's bytes (a real GGUF), else filler."""
    files = {CHAT: chat or b"GGUF" + payload(sizes[0], 1)[4:], IMAGE: payload(sizes[1], 2), SAM: payload(sizes[2], 3)}
    entries = []
    for path, data in files.items():
        kind = KINDS[path]
        entry = {"id": f"starter-{kind}", "name": f"Starter {kind}", "kind": kind, "format": "x", "license": "mit",
                 "verified": True, "url": server.add_file(path, data), "memory_gb": 0.5,
                 "files": [{"file": path.rsplit("/", 1)[1], "quantization": "Q4_K_M" if kind == "chat" else None,
                            "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}]}
        if kind != "sam":  # segmentation: the smallest verified entry, no mark needed
            entry["starter"] = {"rank": 1}
        entries.append(entry)
    path = folder / "catalog.json"
    path.write_text(json.dumps({"version": 1, "entries": entries}))
    return catalog.load(path), files
