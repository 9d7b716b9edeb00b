"""Verified, resumable, self-healing downloads into the models folder.

A download is described by a `DownloadSpec` (what to fetch, where it ends up) and lives in a staging folder
`<models>/.downloads/<id>/` with a small `state.json`: the spec (with each file's ETag/Last-Modified), the status
and the resolved file list. Bytes go to `<file>.part` files there; `transfer.Fetcher` continues a part with HTTP
Range requests, retries dropped, stalled or refused connections by itself (with backoff, from the byte reached),
and appends only bytes that provably continue the part. A download interrupted by a pause, a crash or quitting
the app continues where it stopped.

Hub files: huggingface_hub resolves the file (`get_hf_file_metadata`: size, commit, SHA-256 from the LFS etag, the
CDN location after the hub's redirect) and lists folder models (`list_repo_tree`); Hearth fetches the bytes itself
because `hf_hub_download` (huggingface_hub 1.x/2.x) writes to a per-process temporary file that it deletes on any
interruption, so a paused or interrupted download would start again from zero.

Plain URLs: the same fetch, with the SHA-256 given by the user or the catalog.

Every file is checked before anything is installed: its size, its SHA-256 when known, and otherwise its own
structure (`validate`: a GGUF's tensors lie inside the file, a safetensors header matches the file's length, ...).
A file whose length the server never said and whose structure cannot be checked is not installed. When a file
that was stitched from several connections fails a check, it is fetched once more from byte 0; a second failure
moves it to `<models>/.quarantine/` and the download fails with a message saying so; nothing is registered. The
staging folder is hidden, so the registry never lists a half-downloaded model. Free disk space is checked before
the first byte (or as soon as the size is known).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from app.core import paths
from app.core.errors import JobCancelled, UserError
from app.core.models import hub, registry, validate
from app.core.models.transfer import CHUNK, Fetcher, Meter, Transient, head_size, part_size
from app.core.units import format_bytes

DISK_MARGIN = 200 * 10**6  # keep this much free after a download
PAUSED, RUNNING, FAILED, QUARANTINED, DONE = "paused", "running", "failed", "quarantined", "done"


@dataclass
class DownloadItem:
    dest: str  # path relative to the model (the file name for single-file models)
    url: str | None = None  # plain URL
    repo: str | None = None  # or a hub file
    filename: str | None = None
    revision: str = "main"
    size: int | None = None
    sha256: str | None = None


@dataclass
class DownloadSpec:
    kind: str
    name: str  # final file or folder name under <models>/<kind>/
    items: list[DownloadItem] = field(default_factory=list)
    folder: bool = False
    include: list[str] = field(default_factory=list)  # hub repo patterns still to expand (folder models)
    repo: str | None = None
    revision: str = "main"
    source: dict = field(default_factory=dict)
    label: str = ""
    sid: str = ""  # stable id (staging folder name), fixed before folder patterns are expanded
    validators: dict = field(default_factory=dict)  # dest -> ETag or Last-Modified the part was started from
    projector: str = ""  # a vision model: the dest of the item that is its mmproj, installed beside the model

    def __post_init__(self) -> None:
        if not self.sid:
            key = json.dumps([self.kind, self.name, self.repo, [asdict(i) for i in self.items], self.include],
                             sort_keys=True)
            self.sid = hashlib.sha1(key.encode()).hexdigest()[:16]

    @property
    def id(self) -> str:
        return self.sid

    @property
    def title(self) -> str:
        return self.label or self.name

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> "DownloadSpec":
        raw = dict(raw)
        raw["items"] = [DownloadItem(**i) for i in raw.get("items", [])]
        return cls(**raw)


# ---- building specs ---------------------------------------------------------------------------------------------
def spec_from_catalog(entry, variant) -> DownloadSpec:
    source = {"catalog_id": entry.id, "quantization": variant.quantization, "license": entry.license}
    label = f"{entry.name} {variant.quantization or ''}".strip()
    if entry.url:
        # catalog sizes are approximate: the server's Content-Length is the size the file is checked against
        return spec_from_url(entry.url, sha256=variant.sha256, kind=entry.kind, source=source, label=label)
    if variant.file:
        item = DownloadItem(dest=variant.file.rsplit("/", 1)[-1], repo=entry.repo, filename=variant.file,
                            revision=entry.revision, sha256=variant.sha256)
        items, projector = [item], ""
        if entry.projector is not None:  # a vision model: its projector comes in the same install
            proj = entry.projector
            projector = proj.file.rsplit("/", 1)[-1]
            items.append(DownloadItem(dest=projector, repo=entry.repo, filename=proj.file, revision=entry.revision,
                                      sha256=proj.sha256))
        return DownloadSpec(entry.kind, item.dest, items, repo=entry.repo, revision=entry.revision,
                            source={**source, "repo": entry.repo, "file": variant.file, "revision": entry.revision},
                            label=label, projector=projector)
    return DownloadSpec(entry.kind, entry.id, [], folder=True, include=list(variant.include), repo=entry.repo,
                        revision=entry.revision, source={**source, "repo": entry.repo, "revision": entry.revision},
                        label=label)


def spec_from_hub_file(repo: str, filename: str, kind: str | None = None, revision: str = "main") -> DownloadSpec:
    name = filename.rsplit("/", 1)[-1]
    kind = kind or _kind_from_name(name)
    item = DownloadItem(dest=name, repo=repo, filename=filename, revision=revision)
    return DownloadSpec(kind, name, [item], repo=repo, revision=revision,
                        source={"repo": repo, "file": filename, "revision": revision}, label=name)


def spec_from_url(url: str, sha256: str | None = None, kind: str | None = None, size: int | None = None,
                  source: dict | None = None, label: str = "") -> DownloadSpec:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https"):
        raise UserError(f"Not a web address: {url} (expected http:// or https://).")
    name = unquote(parsed.path.rsplit("/", 1)[-1])
    if not name:
        raise UserError(f"{url} does not name a file; give the address of the file itself.")
    if sha256 is not None:
        sha256 = sha256.strip().lower()
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise UserError("A SHA-256 is 64 hexadecimal characters; check the value you pasted.")
    kind = kind or _kind_from_name(name)
    item = DownloadItem(dest=name, url=url, size=size, sha256=sha256)
    return DownloadSpec(kind, name, [item], source={**(source or {}), "url": url, "sha256": sha256},
                        label=label or name)


def _kind_from_name(name: str) -> str:
    lower = name.lower()
    if lower.endswith(".gguf"):
        return "chat"
    if lower.endswith((".pth", ".pt")):
        return "sam"
    if lower.endswith((".safetensors", ".ckpt")):
        return "diffusion"
    raise UserError(f"Hearth cannot tell what kind of model {name} is; say it with --kind "
                    f"({', '.join(registry.KINDS)}).")


def resolve(ref: str, kind: str | None = None, sha256: str | None = None) -> DownloadSpec:
    """CLI/GUI reference → spec: a catalog id ('qwen2.5-0.5b-instruct' or '...:Q8_0'), an http(s) URL, or a hub
    file 'owner/repo/path/file.gguf'."""
    from app.core.models import catalog

    if ref.startswith(("http://", "https://")):
        return spec_from_url(ref, sha256=sha256, kind=kind)
    found = catalog.find(ref)
    if found is not None:
        return spec_from_catalog(*found)
    parts = ref.split("/")
    if len(parts) >= 3:
        return spec_from_hub_file("/".join(parts[:2]), "/".join(parts[2:]), kind=kind)
    raise UserError(f"'{ref}' is not in the catalog, not a URL and not a hub file (owner/repo/file). "
                    "`hearth models list --catalog` shows the catalog ids.")


# ---- staging and state ------------------------------------------------------------------------------------------
def staging_root() -> Path:
    path = paths.models_dir() / ".downloads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def quarantine_dir() -> Path:
    path = paths.models_dir() / ".quarantine"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _stage(spec_id: str) -> Path:
    return staging_root() / spec_id


def read_state(spec_id: str) -> dict | None:
    try:
        return json.loads((_stage(spec_id) / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_state(spec: DownloadSpec, status: str, message: str = "", **more) -> None:
    stage = _stage(spec.id)
    stage.mkdir(parents=True, exist_ok=True)
    data = {"spec": spec.to_dict(), "status": status, "message": message, "updated": time.time(), **more}
    tmp = stage / "state.json.tmp"
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, stage / "state.json")


@dataclass
class PendingDownload:
    spec: DownloadSpec
    status: str
    done_bytes: int
    total_bytes: int | None
    message: str = ""


def pending() -> list[PendingDownload]:
    """Downloads that were started and not finished (paused, failed, interrupted by quitting): resumable."""
    out = []
    root = paths.models_dir() / ".downloads"
    if not root.exists():
        return out
    for stage in sorted(root.iterdir()):
        state = read_state(stage.name)
        if not state:
            continue
        spec = DownloadSpec.from_dict(state["spec"])
        done = sum(p.stat().st_size for p in stage.rglob("*.part"))
        total = _total(spec)
        status = PAUSED if state["status"] == RUNNING else state["status"]  # running on disk = app was closed
        out.append(PendingDownload(spec, status, done, total, state.get("message", "")))
    return out


def discard(spec_id: str) -> None:
    """Cancel for good: delete the staging folder and its partial files."""
    shutil.rmtree(_stage(spec_id), ignore_errors=True)


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


# ---- the job ----------------------------------------------------------------------------------------------------
class Quarantined(UserError):
    """A downloaded file failed its check and was moved to the quarantine folder."""


class ChecksumMismatch(Quarantined):
    pass


class _Unconfirmed(UserError):
    """Nothing says the file is complete: no length from the server, no SHA-256, no structure to check."""


def _total(spec: DownloadSpec) -> int | None:
    return sum(i.size for i in spec.items) if spec.items and all(i.size is not None for i in spec.items) else None


def _expand(spec: DownloadSpec) -> None:
    """Folder models: turn include patterns into concrete files (listing the repo through huggingface_hub)."""
    if spec.items or not spec.include:
        return
    files = _hub_call(lambda: hub.list_files(spec.repo, spec.revision))
    for f in files:
        if any(fnmatch.fnmatch(f.path, pat) for pat in spec.include):
            spec.items.append(DownloadItem(dest=f.path, repo=spec.repo, filename=f.path, revision=spec.revision,
                                           size=f.size_bytes, sha256=f.sha256))
    if not spec.items:
        raise UserError(f"No files in {spec.repo} match {', '.join(spec.include)}; the repository may have changed.")


def _hub_call(fn):
    """A hub lookup; losing the network (offline mode aside) and 5xx/429 answers are worth retrying."""
    try:
        return fn()
    except hub.NoNetwork as exc:
        if hub.offline():
            raise
        raise Transient("could not reach the hub", str(exc)) from exc
    except UserError as exc:
        status = getattr(getattr(exc.__cause__, "response", None), "status_code", None)
        if isinstance(status, int) and (status >= 500 or status == 429):
            raise Transient(f"server error {status}", str(exc)) from exc
        raise


def _locate(item: DownloadItem) -> tuple[str, dict]:
    """(url to GET, headers) for an item; fills size/sha256 from the hub (or a HEAD request) when they are known."""
    headers = {"User-Agent": "Hearth"}
    if item.url:
        if item.size is None:  # learn the size first, so free disk space is checked before the first byte
            item.size = head_size(item.url, headers, item.dest)
        return item.url, headers
    meta = _hub_call(lambda: hub.file_metadata(item.repo, item.filename, item.revision))
    if meta.size_bytes:
        item.size = meta.size_bytes
    if meta.sha256 and not item.sha256:
        item.sha256 = meta.sha256
    if meta.same_host:
        headers.update(hub.auth_headers())
    return meta.url, headers


def _check_space(spec: DownloadSpec, meter: Meter) -> None:
    if meter.total is None:
        return
    need = meter.total - meter.done
    free = free_bytes(staging_root())
    if need + DISK_MARGIN > free:
        raise UserError(f"Not enough disk space for {spec.title}: it needs {format_bytes(need)} more "
                        f"(plus {format_bytes(DISK_MARGIN)} to spare) and {format_bytes(free)} is free on "
                        f"{paths.models_dir()}. Free some space and try again.")


def _sha256(path: Path, state, title: str) -> str:
    digest = hashlib.sha256()
    total = path.stat().st_size or 1
    done = 0
    with open(path, "rb") as fh:
        while True:
            state.check()
            chunk = fh.read(CHUNK * 4)
            if not chunk:
                break
            digest.update(chunk)
            done += len(chunk)
            state.progress(done / total, f"Verifying {title}")
    return digest.hexdigest()


def _verify(item: DownloadItem, part: Path, digest: str | None, kind: str, state) -> None:
    """Size, then SHA-256 when known, else the file's own structure. Raises UserError saying what is wrong."""
    got = part_size(part)
    if item.size is not None and got != item.size:
        raise UserError(f"{item.dest} has the wrong size ({got} bytes, expected {item.size}).")
    if item.sha256:
        actual = digest or _sha256(part, state, Path(item.dest).name)
        if actual != item.sha256.lower():
            raise ChecksumMismatch(f"Checksum mismatch for {item.dest}: expected SHA-256 {item.sha256}, got {actual}.")
        return
    state.progress(None, f"Checking {item.dest}")
    if not validate.check_file(part, kind, name=item.dest) and item.size is None:
        raise _Unconfirmed(f"Hearth cannot confirm that {item.dest} is complete: the server did not say how large "
                           "it is, no SHA-256 was given, and this kind of file has no structure Hearth can check.")


def _fetch_verified(fetcher: Fetcher, spec: DownloadSpec, item: DownloadItem, part: Path,
                    located: tuple[str, dict]) -> None:
    """Fetch one file and check it. A file stitched from several connections that fails its check is fetched once
    more from byte 0 (the join, not the file, may be at fault); then a failure moves it to quarantine."""
    where = list(located)

    def locate(again: bool) -> tuple[str, dict]:
        if again and not item.url:  # the hub's CDN links expire: resolve the file again
            where[:] = _locate(item)
        return where[0], where[1]

    # A folder's files are checked as files (a SAM 2.1 folder's model.safetensors is not a SAM 1 checkpoint); the
    # folder is checked as a model of its kind once complete (_install).
    kind = None if spec.folder else spec.kind
    for round_ in (1, 2):
        digest, joined = fetcher.fetch(item, part, locate, kind)
        try:
            _verify(item, part, digest, kind, fetcher.state)
            return
        except UserError as exc:
            if round_ == 1 and joined and not isinstance(exc, _Unconfirmed):
                fetcher.drop(part)
                fetcher.state.progress(None, f"{item.dest} failed its check after resuming; downloading it again "
                                             "from the start")
                continue
            moved = _quarantine(part, Path(item.dest).name)
            _write_state(spec, QUARANTINED, message=f"{exc} Moved to {moved}.")
            cls = ChecksumMismatch if isinstance(exc, ChecksumMismatch) else Quarantined
            hint = " If you know it is complete, import it from there." if isinstance(exc, _Unconfirmed) else ""
            raise cls(f"{exc} The file was moved to quarantine at {moved} and was not installed.{hint}") from exc


def _quarantine(path: Path, name: str) -> Path:
    dest = quarantine_dir() / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}"
    n = 1
    while dest.exists():
        n += 1
        dest = dest.with_name(f"{time.strftime('%Y%m%d-%H%M%S')}-{n}-{name}")
    os.replace(path, dest)
    return dest


def _install(spec: DownloadSpec, parts: list[Path], final: Path) -> None:
    """Rename the verified files into place (same filesystem, atomic per file); a folder model must be complete.
    A vision model's projector goes beside the model first, so the model never appears without it."""
    if not spec.folder:
        for item, part in zip(spec.items[1:], parts[1:]):
            if item.dest == spec.projector:
                os.replace(part, final.parent / item.dest)
        os.replace(parts[0], final)
        return
    folder = _stage(spec.id) / spec.name
    os.replace(_stage(spec.id) / "files", folder)
    for item in spec.items:
        os.replace(folder / (item.dest + ".part"), folder / item.dest)
    try:
        validate.check_folder(folder, spec.kind, files=False)
    except UserError as exc:
        moved = _quarantine(folder, spec.name)
        _write_state(spec, QUARANTINED, message=f"{exc} Moved to {moved}.")
        raise Quarantined(f"{exc} The files were moved to quarantine at {moved}; nothing was installed.") from exc
    os.replace(folder, final)


def _save_state(spec: DownloadSpec, status: str, message: str = "") -> None:
    if _stage(spec.id).exists():
        try:
            _write_state(spec, status, message=message)
        except OSError:  # a full disk: the error being reported already says so
            pass


def download(spec: DownloadSpec, state) -> registry.InstalledModel:
    """The job: fetch (resuming, retrying), verify, install, record the source. Cancel → paused (partial data
    kept). Raises UserError (hub.NoNetwork when the connection could not be healed, Quarantined when a file failed
    its check)."""
    final = registry.kind_dir(spec.kind) / spec.name
    if final.exists():
        raise UserError(f"{spec.name} is already installed ({spec.kind}). Remove it first to download it again.")
    previous = read_state(spec.id)
    if previous and not spec.validators:  # the CLI builds a fresh spec: keep what the parts were started from
        spec.validators.update((previous.get("spec") or {}).get("validators") or {})
    _write_state(spec, RUNNING)
    fetcher = Fetcher(state, spec.title, spec.validators, lambda: _on_change(spec, fetcher))
    try:
        state.progress(None, f"Looking up {spec.title}")
        fetcher.retrying(lambda: _expand(spec))
        located = [fetcher.retrying(lambda item=item: _locate(item)) for item in spec.items]
        parts = [_stage(spec.id) / "files" / (item.dest + ".part") for item in spec.items]
        fetcher.meter = Meter(_total(spec), sum(part_size(p) for p in parts))
        _write_state(spec, RUNNING)
        _check_space(spec, fetcher.meter)
        for item, part, where in zip(spec.items, parts, located):
            _fetch_verified(fetcher, spec, item, part, where)
        _install(spec, parts, final)
        registry.record_source(final, {**spec.source, "sha256": spec.items[0].sha256 if not spec.folder else None,
                                       "size": spec.items[0].size if not spec.folder else
                                       sum(i.size or 0 for i in spec.items)})
        if spec.projector:
            _record_projector(spec, final)
        discard(spec.id)
        model = next(m for m in registry.installed(spec.kind) if m.path == final)
        state.progress(1.0, f"Installed {spec.title}")
        return model
    except (JobCancelled, KeyboardInterrupt):  # Pause in the GUI, Ctrl-C in the CLI, quitting the app
        _save_state(spec, PAUSED)
        raise
    except Quarantined:
        raise
    except BaseException as exc:
        _save_state(spec, FAILED, str(exc))
        raise


def _record_projector(spec: DownloadSpec, final: Path) -> None:
    """Note where the projector came from and that it is `final`'s (vision/pairing.py reads it)."""
    from app.core.vision.pairing import record_projector

    item = next(i for i in spec.items if i.dest == spec.projector)
    path = final.parent / item.dest
    registry.record_source(path, {**{k: v for k, v in spec.source.items() if k != "quantization"},
                                  "file": item.filename, "sha256": item.sha256, "size": item.size,
                                  "projector_of": final.name})
    record_projector(final, path)


def _on_change(spec: DownloadSpec, fetcher: Fetcher) -> None:
    """An item learned its size or validator: update the meter, check the disk once the size is known, save."""
    total = _total(spec)
    newly_known = total is not None and fetcher.meter.total is None
    fetcher.meter.total = total
    _write_state(spec, RUNNING)
    if newly_known:
        _check_space(spec, fetcher.meter)


def download_job(inputs, state):
    """Job entry point: inputs is a DownloadSpec."""
    return download(inputs, state)
