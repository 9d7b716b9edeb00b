"""Registry of installed models: what is in the models folder, by kind. Every tab's model picker reads it.

Layout: `<models>/<kind>/<name>` where kind is one of KINDS (a file, or a folder for multi-file models).
Files and folders placed directly in `<models>` are recognised by their content/extension.
Partial downloads (`*.part`, `*.incomplete`), hidden entries (the `.downloads` staging folder, the `.quarantine`
folder, `.hearth-sources.json`) are never listed: a half-downloaded file never appears as a model.

Where each model came from (catalog entry, Hugging Face repo/file/revision, URL, SHA-256, imported from where,
copied or linked) is kept in `<models>/.hearth-sources.json`, keyed by the path relative to the models folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from app.core import paths
from app.core.errors import UserError

KINDS = ("chat", "embedding", "reranker", "diffusion", "controlnet", "vae", "lora", "sam", "depth", "clip")
PARTIAL_SUFFIXES = (".part", ".incomplete", ".tmp")
_QUANT = re.compile(r"(?i)(IQ\d_[A-Z0-9_]+|Q\d_K_[SML]|Q\d_K|Q\d_\d|Q\d|F16|BF16|F32)")


@dataclass
class InstalledModel:
    path: Path
    kind: str
    name: str
    size_bytes: int
    format: str  # gguf | safetensors | diffusers | sentence-transformers | transformers | pth | ckpt
    quantization: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.path.name}"

    @property
    def source(self) -> dict:
        """Where it came from (see module doc); {} for files placed in the folder by hand."""
        return self.extra.get("source", {})

    @property
    def source_text(self) -> str:
        src = self.source
        if not src:
            return "added by hand"
        if src.get("repo"):
            return f"huggingface.co/{src['repo']}"
        if src.get("url"):
            return src["url"]
        if src.get("imported_from"):
            how = "linked" if src.get("linked") else "copied"
            return f"{how} from {src['imported_from']}"
        if src.get("quantized_from"):
            return f"quantized from {Path(src['quantized_from']).name}"
        if src.get("converted_from"):
            return f"converted from {Path(src['converted_from']).name}"
        return "unknown"

    @property
    def is_link(self) -> bool:
        return self.path.is_symlink()

    @property
    def problem(self) -> str | None:
        """Why the file or folder is not a whole model (truncated, damaged), or None. Reads headers only, on first
        use (listing never pays for it unless asked); see app/core/models/validate.py."""
        from app.core.models import validate

        return validate.problem(self.path, self.kind)


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _is_partial(path: Path) -> bool:
    return path.name.startswith(".") or path.name.endswith(PARTIAL_SUFFIXES)


def guess_kind(path: Path) -> tuple[str, str] | None:
    """(kind, format) for a file or folder, or None when it is not a model Hearth knows."""
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".gguf":
            return "chat", "gguf"
        if suffix in (".pth", ".pt"):
            return "sam", "pth"
        if suffix == ".safetensors":
            return "diffusion", "safetensors"
        if suffix == ".ckpt":
            return "diffusion", "ckpt"
        return None
    if not path.is_dir():
        return None
    if (path / "model_index.json").exists():
        return "diffusion", "diffusers"
    if (path / "modules.json").exists():
        return "embedding", "sentence-transformers"
    config = path / "config.json"
    if config.exists():
        try:
            data = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        archs = " ".join(data.get("architectures") or [])
        cls = str(data.get("_class_name", ""))
        from app.core.segment.hf import FAMILIES as SAM_FAMILIES  # stdlib-only module

        if data.get("model_type") in SAM_FAMILIES:
            return "sam", "transformers"
        if "ControlNet" in cls:
            return "controlnet", "diffusers"
        if "AutoencoderTiny" in cls or "AutoencoderKL" in cls:
            return "vae", "diffusers"
        if "ForSequenceClassification" in archs:
            return "reranker", "transformers"
        if "DepthEstimation" in archs or "Dpt" in archs or "DPT" in archs:
            return "depth", "transformers"
        if "CLIPModel" in archs or data.get("model_type") == "clip":
            return "clip", "transformers"
    return None


def _entry(path: Path, kind: str | None) -> InstalledModel | None:
    if path.is_symlink() and not path.exists():
        return None  # a link whose target was moved or deleted
    guessed = guess_kind(path)
    if guessed is None:
        return None
    g_kind, fmt = guessed
    kind = kind or g_kind
    if fmt == "gguf" and "mmproj" in path.name.lower():
        kind = "mmproj"  # a vision model's image projector: paired with its model (vision/pairing.py), not a chat model
    quant = None
    if fmt == "gguf":
        match = _QUANT.search(path.stem)
        quant = match.group(1).upper() if match else None
    return InstalledModel(path=path, kind=kind, name=path.stem if path.is_file() else path.name,
                          size_bytes=_size(path), format=fmt, quantization=quant)


def scan(models_dir: Path | None = None) -> list[InstalledModel]:
    root = models_dir or paths.models_dir()
    found: list[InstalledModel] = []
    if not root.exists():
        return found
    sources = _read_sources(root)
    for child in sorted(root.iterdir()):
        if _is_partial(child):
            continue
        if child.is_dir() and child.name in KINDS:
            for item in sorted(child.iterdir()):
                if not _is_partial(item):
                    entry = _entry(item, child.name)
                    if entry is not None:
                        found.append(entry)
        else:
            entry = _entry(child, None)
            if entry is not None:
                found.append(entry)
    for entry in found:
        src = sources.get(_key(entry.path, root))
        if src:
            entry.extra["source"] = src
    return found


def installed(kind: str | None = None, models_dir: Path | None = None) -> list[InstalledModel]:
    return [m for m in scan(models_dir) if kind is None or m.kind == kind]


def kind_dir(kind: str) -> Path:
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}")
    path = paths.models_dir() / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---- source metadata -------------------------------------------------------------------------------------------
SOURCES_FILE = ".hearth-sources.json"
_sources_lock = threading.Lock()  # downloads, imports and quantizations may finish at the same time


def _key(path: Path, root: Path) -> str:
    try:
        return Path(os.path.abspath(path)).relative_to(Path(os.path.abspath(root))).as_posix()
    except ValueError:
        return str(path)


def _read_sources(root: Path) -> dict:
    try:
        data = json.loads((root / SOURCES_FILE).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_sources(root: Path, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".sources-", suffix=".tmp", dir=root)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
    os.replace(tmp, root / SOURCES_FILE)


def record_source(path: Path, source: dict) -> None:
    """Remember where the model at `path` (inside the models folder) came from."""
    root = paths.models_dir()
    with _sources_lock:
        data = _read_sources(root)
        data[_key(path, root)] = {**source, "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        _write_sources(root, data)


def source_of(path: Path) -> dict:
    """What was recorded about the model at `path` ({} when nothing was)."""
    root = paths.models_dir()
    entry = _read_sources(root).get(_key(path, root), {})
    return dict(entry) if isinstance(entry, dict) else {}


def _forget_source(path: Path) -> None:
    root = paths.models_dir()
    with _sources_lock:
        data = _read_sources(root)
        if data.pop(_key(path, root), None) is not None:
            _write_sources(root, data)


# ---- lookup, import, remove -------------------------------------------------------------------------------------
def find(ref: str) -> InstalledModel | None:
    """By id ('chat/x.gguf'), file/folder name, or name without extension."""
    models = scan()
    for attr in ("id",):
        for m in models:
            if getattr(m, attr) == ref:
                return m
    matches = [m for m in models if ref in (m.path.name, m.name)]
    if len(matches) > 1:
        ids = ", ".join(m.id for m in matches)
        raise UserError(f"'{ref}' matches several models ({ids}); give the full id.")
    return matches[0] if matches else None


def import_model(src: Path | str, kind: str | None = None, link: bool = False, state=None) -> InstalledModel:
    """Copy (or symlink, with link=True) a model file or folder into `<models>/<kind>/`; returns it registered.

    The model is checked as a download is (app/core/models/validate.py: a GGUF's tensors lie inside the file, a
    safetensors header matches its length, a SAM checkpoint's shapes are SAM's, a diffusers folder has every
    component's weights); a file that fails is refused with the reason (UserError) and nothing is copied, linked or
    registered. Nothing is half-imported: a copy goes to a hidden temporary name first and is renamed at the end."""
    src = Path(src).expanduser()
    if not src.exists():
        raise UserError(f"{src} does not exist.")
    src = src.resolve()
    guessed = guess_kind(src)
    if kind is None:
        if guessed is None:
            raise UserError(f"{src.name} is not a model Hearth recognises: expected a .gguf, .safetensors or .pth "
                            "file, or a Hugging Face / diffusers folder. Choose its kind explicitly to import it.")
        kind = guessed[0]
    if kind not in KINDS:
        raise UserError(f"Unknown model kind '{kind}'; use one of: {', '.join(KINDS)}.")
    root = paths.models_dir().resolve()
    if root == src or root in src.parents:
        raise UserError(f"{src} is already inside the models folder.")
    dest = kind_dir(kind) / src.name
    if dest.exists() or dest.is_symlink():
        raise UserError(f"A model named {src.name} is already installed as {kind}; remove it first or rename the file.")
    from app.core.models import validate

    if state is not None:
        state.progress(None, f"Checking {src.name}")
    validate.check(src, kind)  # a truncated or damaged model is refused before anything is copied or linked
    if link:
        try:
            os.symlink(src, dest, target_is_directory=src.is_dir())
        except OSError as exc:
            raise UserError(f"Could not link {src} ({exc}). Import it as a copy instead.") from exc
    else:
        total = _size(src)
        free = shutil.disk_usage(dest.parent).free
        if total > free:
            raise UserError(f"Not enough disk space to copy {src.name}: needs {total / 1e9:.2f} GB, "
                            f"{free / 1e9:.2f} GB free. Import it as a link instead, or free some space.")
        tmp = dest.with_name(f".{dest.name}.importing")
        try:
            _copy(src, tmp, total, state)
            os.replace(tmp, dest)
        except OSError as exc:  # the disk filled up, the source went away: nothing is left half-copied
            raise UserError(f"Could not copy {src.name} into {dest.parent} ({exc.strerror or exc}); "
                            "nothing was imported.") from exc
        finally:
            if tmp.exists():
                shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()
    record_source(dest, {"imported_from": str(src), "linked": link})
    entry = _entry(dest, kind)
    assert entry is not None
    entry.extra["source"] = {"imported_from": str(src), "linked": link}
    return entry


def _copy(src: Path, dest: Path, total: int, state) -> None:
    done = 0
    files = [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file())
    for f in files:
        target = dest if src.is_file() else dest / f.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(f, "rb") as fin, open(target, "wb") as fout:
            while True:
                if state is not None:
                    state.check()
                chunk = fin.read(4 << 20)
                if not chunk:
                    break
                fout.write(chunk)
                done += len(chunk)
                if state is not None and total:
                    state.progress(done / total, f"Copying {src.name}")
        shutil.copystat(f, target)


def remove(ref: "InstalledModel | str") -> InstalledModel:
    """Delete an installed model. A linked model only loses its link; the file it points to is left alone."""
    model = find(ref) if isinstance(ref, str) else ref
    if model is None:
        raise UserError(f"No installed model '{ref}'. `hearth models list` shows what is installed.")
    root = paths.models_dir().resolve()
    parent = model.path.parent.resolve()
    if not (parent == root or root in parent.parents):
        raise UserError(f"{model.path} is not inside the models folder; Hearth only deletes what it manages.")
    if model.path.is_symlink():
        model.path.unlink()
    elif model.path.is_dir():
        shutil.rmtree(model.path)
    else:
        model.path.unlink()
    _forget_source(model.path)
    return model
