"""Is a model file or folder whole? One structural check for import, downloads, quantization and the registry.

What is checked (headers and directories only: fast even for multi-GB files, no tensor data is read):

- GGUF: magic, version, tensor and key/value counts, every key/value, every tensor's type, shape and data offset;
  the data of every tensor must lie inside the file (`app.core.chat.gguf_info`, the parser chat uses).
- safetensors: the 8-byte header length, the JSON header, every tensor's `data_offsets`, and the file size must be
  exactly 8 + header + end of the data, as the format requires (`app.core.images.safety.check_safetensors`).
- PyTorch checkpoints (.pth/.pt/.ckpt/.bin): the zip archive torch.save writes (central directory at the end, every
  member inside the file, a `data.pkl`). A legacy pickle checkpoint has no such structure and is reported as not
  checkable. SAM checkpoints (kind "sam") are also read weights-only and their architecture recognised from the
  tensor shapes by the Segment loader (`app.core.segment.model.inspect_checkpoint`), unless `deep=False`; a SAM
  folder (Hugging Face format: SAM 2.1, EdgeTAM, SAM-HQ) must name a SAM-family model in its config.json.
- JSON files: parse.
- Folders: diffusers folders need `model_index.json` and, for every model component it lists, the component's
  folder with its weights; other folders need at least one weights file; sharded checkpoints need every shard
  their `*.index.json` names. With `files=True` every checkable file inside is checked as above.

A file that ends before the end its header declares raises `IncompleteFile` (a UserError): the downloader resumes
it; anything else wrong raises UserError with the reason.
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
from pathlib import Path

from app.core.errors import IncompleteFile, UserError

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".ckpt", ".pt", ".pth", ".gguf", ".msgpack", ".onnx", ".h5")
PICKLE_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin")
_NOT_WEIGHTS = ("scheduler", "tokenizer", "feature_extractor", "image_processor", "processor")
_cache: dict[tuple, str | None] = {}


def check_file(path: Path | str, kind: str | None = None, name: str | None = None, deep: bool = True) -> bool:
    """Check one file's structure; `name` is what messages call it and what its format is read from (a download's
    `x.gguf.part` is checked as `x.gguf`). Returns True when the structure was checked and is whole, False when the
    format has nothing Hearth can check (a legacy pickle, an unknown suffix). Raises IncompleteFile for a
    truncated file, UserError for a damaged or foreign one."""
    path = Path(path)
    name = name or path.name
    suffix = Path(name).suffix.lower()
    try:
        if path.stat().st_size == 0:
            raise IncompleteFile(f"{name} is empty (0 bytes).", 0)
        if suffix == ".gguf":
            from app.core.chat import gguf_info

            with open(path, "rb") as fh:
                if fh.read(4) != gguf_info.MAGIC:
                    raise UserError(f"{name} is not a GGUF file (its header does not start with 'GGUF'); it may be "
                                    "a web page or another kind of file saved under this name.")
            gguf_info.read(path)
            return True
        if suffix == ".safetensors":
            from app.core.images.safety import check_safetensors

            check_safetensors(path)
            if kind == "sam" and deep:
                _check_sam(path)
            return True
        if suffix in PICKLE_SUFFIXES:
            zipped = _check_torch_zip(path, name)
            if kind == "sam" and deep:
                _check_sam(path)
                return True
            return zipped
        if suffix == ".json":
            try:
                json.loads(path.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise UserError(f"{name} is not valid JSON ({exc}); it may be incomplete or damaged.") from None
            return True
        return False
    except UserError as exc:
        if name != path.name:  # say the name the user knows, not the staging file's
            exc.args = (str(exc).replace(path.name, name),)
        raise


def _check_torch_zip(path: Path, name: str) -> bool:
    """The zip archive torch.save writes. False for a legacy (non-zip) pickle checkpoint."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:1] == b"\x80":  # pickle protocol 2+: torch's legacy format, nothing to check without unpickling
        return False
    if head != b"PK\x03\x04":
        raise UserError(f"{name} is not a PyTorch checkpoint (neither the zip archive torch.save writes nor a "
                        "pickle); it may be a web page or another kind of file saved under this name.")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise IncompleteFile(f"{name} is incomplete: the archive's directory, stored at its end, is missing. "
                             "The download or copy was probably interrupted; download it again.", size) from None
    with archive, open(path, "rb") as fh:
        names = []
        for info in archive.infolist():
            names.append(info.filename)
            fh.seek(info.header_offset)
            local = fh.read(30)
            if len(local) < 30 or local[:4] != b"PK\x03\x04":
                raise UserError(f"{name} is damaged: the archive member {info.filename} is not where its directory "
                                "says. Download it again.")
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            end = info.header_offset + 30 + name_len + extra_len + info.compress_size
            if end > size:
                raise IncompleteFile(f"{name} is incomplete: {info.filename} ends at byte {end} but the file has "
                                     f"{size}. Download it again.", size, end)
    if not any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
        raise UserError(f"{name} is a zip archive but not a PyTorch checkpoint (no data.pkl inside).")
    return True


def _check_sam(path: Path) -> None:
    from app.core.segment.model import inspect_checkpoint

    inspect_checkpoint(path)


# ---- folders ---------------------------------------------------------------------------------------------------
def check_folder(path: Path | str, kind: str | None = None, files: bool = True, deep: bool = True) -> None:
    """Check that a folder model is complete (see module doc). Raises UserError with the reason."""
    path = Path(path)
    everything = sorted(p for p in path.rglob("*") if p.is_file())
    index = path / "model_index.json"
    if index.exists():
        check_file(index)
        components = json.loads(index.read_text(encoding="utf-8"))
        for key, value in sorted(components.items()):
            if key.startswith("_") or not isinstance(value, list) or len(value) != 2 or None in value:
                continue
            folder = path / key
            if not folder.is_dir():
                raise UserError(f"{path.name} is incomplete: model_index.json lists the component '{key}' but the "
                                f"folder {key}/ is missing.")
            if (folder / "config.json").exists() and not key.startswith(_NOT_WEIGHTS) and not _weights(folder, False):
                raise UserError(f"{path.name} is incomplete: the component '{key}' has no weights file.")
    elif not _weights(path, True):
        raise UserError(f"{path.name} has no weights file (.safetensors, .bin, ...); it may be incomplete.")
    for shard_index in (p for p in everything if p.name.endswith(".index.json")):
        check_file(shard_index)
        weight_map = json.loads(shard_index.read_text(encoding="utf-8")).get("weight_map") or {}
        for shard in sorted(set(weight_map.values())):
            if not (shard_index.parent / shard).is_file():
                raise UserError(f"{path.name} is incomplete: {shard_index.name} names the shard {shard}, which is "
                                "missing.")
    if files:
        for file in everything:
            # A SAM folder holds a Hugging Face model's weights (SAM 2.1, EdgeTAM, SAM-HQ), not SAM 1 checkpoints:
            # its files get the structural check only, and the folder is recognised from its config.json below.
            check_file(file, None if kind == "sam" else kind, name=file.relative_to(path).as_posix(), deep=deep)
    if kind == "sam" and deep:
        _check_sam(path)


def _weights(folder: Path, recursive: bool) -> list[Path]:
    files = folder.rglob("*") if recursive else folder.iterdir()
    return [p for p in files if p.is_file() and p.suffix.lower() in WEIGHT_SUFFIXES]


def check(path: Path | str, kind: str | None = None, deep: bool = True) -> None:
    """Check a model file or folder; UserError (IncompleteFile for a truncated file) with the reason."""
    path = Path(path)
    if path.is_dir():
        check_folder(path, kind, deep=deep)
    else:
        check_file(path, kind, deep=deep)


def problem(path: Path | str, kind: str | None = None) -> str | None:
    """Why an installed model is not whole, or None: `check` without the deep SAM read, remembered per file
    version (path, size, modification time) so listing the models folder again costs nothing."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    key = (os.path.abspath(path), kind, stat.st_size, stat.st_mtime_ns)
    if path.is_file() and key in _cache:
        return _cache[key]
    try:
        check(path, kind, deep=False)
        found = None
    except UserError as exc:
        found = str(exc)
    except OSError as exc:
        found = f"cannot be read ({exc.strerror or exc})"
    if path.is_file():
        _cache[key] = found
    return found
