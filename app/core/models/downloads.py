"""Verified, resumable downloads into the models folder.

A download is described by a `DownloadSpec` (what to fetch, where it ends up) and lives in a staging folder
`<models>/.downloads/<id>/` with a small `state.json`: the spec, the status and the resolved file list. Bytes go to
`<file>.part` files there; a request for more of a `.part` file asks the server for `Range: bytes=<size>-`, so a
download interrupted by a pause, a crash, a lost connection or quitting the app continues where it stopped.

Hub files: huggingface_hub resolves the file (`get_hf_file_metadata`: size, commit, SHA-256 from the LFS etag, the
CDN location after the hub's redirect) and lists folder models (`list_repo_tree`); Hearth fetches the bytes itself
with HTTP Range requests because `hf_hub_download` (huggingface_hub 1.x/2.x) writes to a per-process temporary file
that it deletes on any interruption, so a paused or interrupted download would start again from zero.

Plain URLs: the same Range fetch, with the SHA-256 given by the user or the catalog.

Every file is checked against its expected size and SHA-256 (when known) before anything is installed. A mismatch
moves the file to `<models>/.quarantine/` and the download fails with a message saying so; nothing is registered.
The staging folder is hidden, so the registry never lists a half-downloaded model. Free disk space is checked
before the first byte.
"""

from __future__ import annotations

import fnmatch
import hashlib
import http.client
import json
import os
import shutil
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from app.core import paths
from app.core.errors import JobCancelled, UserError
from app.core.jobs import format_duration
from app.core.models import hub, registry
from app.core.units import format_bytes

CHUNK = 1 << 20
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
        return DownloadSpec(entry.kind, item.dest, [item], repo=entry.repo, revision=entry.revision,
                            source={**source, "repo": entry.repo, "file": variant.file, "revision": entry.revision},
                            label=label)
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
        total = sum(i.size for i in spec.items if i.size) if spec.items and all(i.size for i in spec.items) else None
        status = PAUSED if state["status"] == RUNNING else state["status"]  # running on disk = app was closed
        out.append(PendingDownload(spec, status, done, total, state.get("message", "")))
    return out


def discard(spec_id: str) -> None:
    """Cancel for good: delete the staging folder and its partial files."""
    shutil.rmtree(_stage(spec_id), ignore_errors=True)


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


# ---- the job ----------------------------------------------------------------------------------------------------
class _Meter:
    """Bytes/s over the last few seconds and the time left."""

    def __init__(self, total: int | None, done: int) -> None:
        self.total, self.done = total, done
        self.samples: list[tuple[float, int]] = [(time.monotonic(), done)]

    def add(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.samples[-1][0] < 0.2 and len(self.samples) > 1:
            self.samples[-1] = (now, self.done)  # cheap per-chunk update; a new sample every 0.2 s
            return
        self.samples.append((now, self.done))
        while len(self.samples) > 2 and now - self.samples[0][0] > 5:
            self.samples.pop(0)

    @property
    def rate(self) -> float:
        (t0, b0), (t1, b1) = self.samples[0], self.samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0

    @property
    def eta(self) -> float | None:
        if not self.total or self.rate <= 0:
            return None
        return max(0.0, (self.total - self.done) / self.rate)

    def text(self, name: str) -> str:
        parts = [f"{name}: {format_bytes(self.done)}" + (f" of {format_bytes(self.total)}" if self.total else "")]
        if self.rate > 0:
            parts.append(f"{format_bytes(self.rate)}/s")
        if self.eta is not None:
            parts.append(f"{format_duration(self.eta)} left")
        return " · ".join(parts)


def _expand(spec: DownloadSpec) -> None:
    """Folder models: turn include patterns into concrete files (listing the repo through huggingface_hub)."""
    if spec.items or not spec.include:
        return
    files = hub.list_files(spec.repo, spec.revision)
    for f in files:
        if any(fnmatch.fnmatch(f.path, pat) for pat in spec.include):
            spec.items.append(DownloadItem(dest=f.path, repo=spec.repo, filename=f.path, revision=spec.revision,
                                           size=f.size_bytes, sha256=f.sha256))
    if not spec.items:
        raise UserError(f"No files in {spec.repo} match {', '.join(spec.include)}; the repository may have changed.")


def _locate(item: DownloadItem) -> tuple[str, dict]:
    """(url to GET, headers) for an item; fills size/sha256 from the hub when it knows them."""
    if item.url:
        headers = {"User-Agent": "Hearth"}
        if item.size is None:  # learn the size first, so free disk space is checked before the first byte
            try:
                with urllib.request.urlopen(urllib.request.Request(item.url, headers=headers, method="HEAD"),
                                            timeout=30) as response:
                    length = response.headers.get("Content-Length")
                    item.size = int(length) if length and length.isdigit() else None
            except urllib.error.HTTPError as exc:
                if exc.code in (404, 401, 403, 410):
                    raise UserError(f"The server refused {item.dest}: HTTP {exc.code} {exc.reason}.") from exc
            except (urllib.error.URLError, OSError) as exc:
                raise hub.NoNetwork(f"No network: could not reach {urlparse(item.url).netloc} "
                                    f"({getattr(exc, 'reason', exc)}).") from exc
        return item.url, headers
    meta = hub.file_metadata(item.repo, item.filename, item.revision)
    if meta.size_bytes:
        item.size = meta.size_bytes
    if meta.sha256 and not item.sha256:
        item.sha256 = meta.sha256
    headers = {"User-Agent": "Hearth"}
    if meta.same_host:
        headers.update(hub.auth_headers())
    return meta.url, headers


def _fetch(url: str, headers: dict, part: Path, item: DownloadItem, meter: _Meter, state, title: str) -> str | None:
    """Fetch the rest of `part`; returns its SHA-256, computed while writing (None when nothing was fetched)."""
    part.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    if item.size is not None and have > item.size:  # the file changed on the server, or garbage: start over
        part.unlink()
        meter.add(-have)
        have = 0
    if item.size is not None and have == item.size:
        return None
    req_headers = dict(headers)
    if have:
        req_headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=req_headers)
    try:
        response = urllib.request.urlopen(request, timeout=30)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to send: the part is complete
            return None
        raise UserError(f"The server refused {title}: HTTP {exc.code} {exc.reason}.") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise hub.NoNetwork(f"No network: could not download {title} ({getattr(exc, 'reason', exc)}). "
                            "The part already downloaded is kept; resume when you are back online.") from exc
    with response:
        if have and response.status == 200:  # the server ignored Range: start this file again
            meter.add(-have)
            have = 0
            mode = "wb"
        else:
            mode = "ab"
        digest = hashlib.sha256()
        if have:  # hash what is already on disk, then keep hashing as bytes arrive (no second pass at the end)
            with open(part, "rb") as fh:
                while block := fh.read(CHUNK * 4):
                    digest.update(block)
        length = response.headers.get("Content-Length")
        if item.size is None and length is not None:
            item.size = have + int(length)
        with open(part, mode) as fh:
            last = 0.0
            while True:
                if state.cancelled:
                    raise JobCancelled()
                try:
                    chunk = response.read1(CHUNK)  # returns what has arrived: pause reacts at once
                except (OSError, ValueError, http.client.HTTPException) as exc:
                    raise hub.NoNetwork(f"The connection dropped while downloading {title} ({exc}). "
                                        "The part already downloaded is kept; resume to continue.") from exc
                if not chunk:
                    break
                fh.write(chunk)
                digest.update(chunk)
                meter.add(len(chunk))
                now = time.monotonic()
                if now - last > 0.1:
                    last = now
                    state.progress(meter.done / meter.total if meter.total else None, meter.text(title))
    got = part.stat().st_size
    if item.size is not None and got < item.size:
        raise hub.NoNetwork(f"The connection closed early while downloading {title} ({format_bytes(got)} of "
                            f"{format_bytes(item.size)}). The part is kept; resume to continue.")
    return digest.hexdigest()


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


def _quarantine(part: Path, name: str) -> Path:
    dest = quarantine_dir() / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}"
    os.replace(part, dest)
    return dest


def download(spec: DownloadSpec, state) -> registry.InstalledModel:
    """The job: fetch (resuming), verify, install, record the source. Cancel → paused (partial data kept)."""
    final = registry.kind_dir(spec.kind) / spec.name
    if final.exists():
        raise UserError(f"{spec.name} is already installed ({spec.kind}). Remove it first to download it again.")
    stage = _stage(spec.id)
    _write_state(spec, RUNNING)
    try:
        state.progress(None, f"Looking up {spec.title}")
        _expand(spec)
        located = [_locate(item) for item in spec.items]
        _write_state(spec, RUNNING)
        parts = [stage / "files" / (item.dest + ".part") for item in spec.items]
        have = sum(p.stat().st_size for p in parts if p.exists())
        total = sum(i.size for i in spec.items) if all(i.size is not None for i in spec.items) else None
        if total is not None:
            need = total - have + DISK_MARGIN
            free = free_bytes(staging_root())
            if need > free:
                raise UserError(f"Not enough disk space for {spec.title}: it needs {format_bytes(total - have)} more "
                                f"(plus {format_bytes(DISK_MARGIN)} to spare) and {format_bytes(free)} is free on "
                                f"{paths.models_dir()}. Free some space and try again.")
        meter = _Meter(total, have)
        hashes = [_fetch(url, headers, part, item, meter, state, spec.title)
                  for item, (url, headers), part in zip(spec.items, located, parts)]
        _write_state(spec, RUNNING, message="verifying")
        for item, part, digest in zip(spec.items, parts, hashes):
            got = part.stat().st_size
            if item.size is not None and got != item.size:
                where = _quarantine(part, Path(item.dest).name)
                raise UserError(f"{item.dest} has the wrong size ({got} bytes, expected {item.size}); "
                                f"moved to quarantine at {where}. It was not installed.")
            if item.sha256:
                actual = digest or _sha256(part, state, Path(item.dest).name)
                if actual != item.sha256.lower():
                    where = _quarantine(part, Path(item.dest).name)
                    _write_state(spec, QUARANTINED, message=f"checksum mismatch, moved to {where}")
                    raise ChecksumMismatch(
                        f"Checksum mismatch for {item.dest}: expected SHA-256 {item.sha256}, got {actual}. "
                        f"The file was moved to quarantine at {where} and was not installed.")
        # install: rename the verified files into place (same filesystem, atomic per file)
        if spec.folder:
            folder = stage / "files"
            for item, part in zip(spec.items, parts):
                os.replace(part, folder / item.dest)
            os.replace(folder, final)
        else:
            os.replace(parts[0], final)
        registry.record_source(final, {**spec.source, "sha256": spec.items[0].sha256 if not spec.folder else None,
                                       "size": sum(i.size or 0 for i in spec.items)})
        discard(spec.id)
        model = next(m for m in registry.installed(spec.kind) if m.path == final)
        state.progress(1.0, f"Installed {spec.title}")
        return model
    except (JobCancelled, KeyboardInterrupt):  # Pause in the GUI, Ctrl-C in the CLI, quitting the app
        if stage.exists():
            _write_state(spec, PAUSED)
        raise
    except ChecksumMismatch:
        raise
    except BaseException as exc:
        if stage.exists():
            _write_state(spec, FAILED, message=str(exc))
        raise


class ChecksumMismatch(UserError):
    pass


def download_job(inputs, state):
    """Job entry point: inputs is a DownloadSpec."""
    return download(inputs, state)
