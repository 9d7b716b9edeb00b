"""Which model files Hearth opens, and how.

- `.safetensors` (and diffusers folders holding them) only, by default: they hold tensors and nothing that runs.
- Pickle-based files (`.ckpt`, `.bin`, `.pt`, `.pth`) can run arbitrary code when unpickled; they are refused with
  a clear message unless the user allows them (Settings → Images). When allowed they are read with
  `torch.load(weights_only=True)` (no arbitrary objects) and converted to a cached `.safetensors` first.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
from pathlib import Path

from app.core.errors import IncompleteFile, UserError

log = logging.getLogger(__name__)

PICKLE_SUFFIXES = (".ckpt", ".bin", ".pt", ".pth", ".pkl")
PICKLE_REFUSED = (
    "{name} is a pickle-based file ({suffix}), which can run hidden code when opened, so Hearth does not open it. "
    "Use the .safetensors version of this model, or allow pickle files in the Images settings "
    "(they are then read weights-only)."
)


def check_safetensors(path: Path) -> dict:
    """Read and validate a safetensors header; return it. The file must be exactly 8 + header + tensor data bytes,
    as the format (and the safetensors library) requires. IncompleteFile when it ends early, UserError when it is
    not safetensors or is damaged."""

    def bad(reason: str, cls=UserError, *args):
        return cls(f"{path.name} is not a valid .safetensors file ({reason}); it may be incomplete or corrupt. "
                   "Download it again.", *args)

    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(8)
            n = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
            if len(head) == 8 and not 0 < n <= 100_000_000:
                raise ValueError("header size is impossible")
            if len(head) < 8 or 8 + n > size:
                raise bad(f"the file ends inside its header, at byte {size}", IncompleteFile, size)
            header = json.loads(fh.read(n).decode("utf-8"))
        if not isinstance(header, dict):
            raise ValueError("header is not a table")
        spans = [v["data_offsets"] for k, v in header.items() if k != "__metadata__"]
        if any(not (0 <= int(b) <= int(e)) for b, e in spans):
            raise ValueError("a tensor's data offsets are out of order")
        expected = 8 + n + max((int(e) for _, e in spans), default=0)
        if expected > size:
            raise bad(f"it has {size} of the {expected} bytes its header describes", IncompleteFile, size, expected)
        if expected < size:
            raise ValueError(f"{size - expected} unexpected bytes follow the last tensor")
    except OSError as exc:
        raise UserError(f"Could not read {path.name}: {exc.strerror or exc}.") from None
    except (ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError) as exc:
        raise bad(str(exc)) from None
    return header


def check_model_path(path: Path | str, allow_pickle: bool = False, what: str = "Model") -> Path:
    """Validate a model path before anything is loaded from it. Returns the absolute path, resolved unless it is
    itself a link: then the link is kept, because its name is what says what the file is (the Hugging Face cache
    links `snapshots/<rev>/sd_turbo.safetensors` to `blobs/<sha256>`, a name with no suffix and no model name)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise UserError(f"{what} not found: {path}. Check the path, or pick an installed model.")
    path = Path(os.path.abspath(path))
    if not path.is_symlink():
        path = path.resolve()
    if path.is_dir():
        _check_folder(path, allow_pickle, what)
        return path
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        check_safetensors(path)
    elif suffix in PICKLE_SUFFIXES:
        if not allow_pickle:
            raise UserError(PICKLE_REFUSED.format(name=path.name, suffix=suffix))
        log.warning("opening pickle-based file %s weights-only, as the settings allow", path)
    else:
        raise UserError(f"{path.name} is not a model file Hearth knows (expected .safetensors or a diffusers folder).")
    return path


def _check_folder(path: Path, allow_pickle: bool, what: str) -> None:
    weights = [p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in (".safetensors",) + PICKLE_SUFFIXES]
    if not (path / "model_index.json").exists() and not (path / "config.json").exists():
        raise UserError(f"{path} is not a diffusers model folder (no model_index.json or config.json).")
    safe = [p for p in weights if p.suffix.lower() == ".safetensors"]
    pickled = [p for p in weights if p not in safe]
    if not weights:
        raise UserError(f"{what} folder {path.name} has no weight files; it may be incomplete. Download it again.")
    if pickled and not safe and not allow_pickle:
        raise UserError(PICKLE_REFUSED.format(name=path.name, suffix=pickled[0].suffix))
    for file in safe:
        check_safetensors(file)


def pickle_to_safetensors(path: Path, cache: Path) -> Path:
    """Load a pickle checkpoint weights-only and cache it as .safetensors (done once per file)."""
    import torch
    from safetensors.torch import save_file

    stat = path.stat()
    key = hashlib.sha1(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    out = cache / f"{path.stem}-{key}.safetensors"
    if out.exists():
        return out
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for anything that is not plain tensors
        raise UserError(
            f"{path.name} could not be read weights-only ({type(exc).__name__}); it contains objects other than "
            "tensors, so Hearth will not open it."
        ) from None
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict):
        raise UserError(f"{path.name} does not hold a table of weights.")
    tensors = {k: v.contiguous() for k, v in data.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise UserError(f"{path.name} holds no weights.")
    cache.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    save_file(tensors, str(tmp))
    tmp.replace(out)
    return out
