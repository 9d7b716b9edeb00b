"""Hugging Face Hub access through huggingface_hub: GGUF search, repo listings, file metadata.

The endpoint and offline mode are read from the environment at call time (HF_ENDPOINT, HF_HUB_OFFLINE), so a test
or a mirror can point Hearth elsewhere without restarting. Any failure to reach the hub becomes `NoNetwork`, a
UserError whose message says installed models keep working.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from app.core.errors import UserError

DEFAULT_ENDPOINT = "https://huggingface.co"
_QUANT = re.compile(r"(?i)(IQ\d_[A-Z0-9]+|Q\d_K_[SML]|Q\d_K|Q\d_\d|BF16|F16|F32)")


class NoNetwork(UserError):
    """The hub could not be reached (offline, no connection, DNS, firewall)."""


def endpoint() -> str:
    """The hub's base URL: HF_ENDPOINT (a mirror, or the tests' local server), else https://huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def offline() -> bool:
    """HF_HUB_OFFLINE is set (1 / on / yes / true): nothing is asked of the network."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in ("1", "ON", "YES", "TRUE")


def _sync_offline_flag() -> None:
    # huggingface_hub reads HF_HUB_OFFLINE once at import; keep it in step with the environment now.
    from huggingface_hub import constants

    constants.HF_HUB_OFFLINE = offline()


def no_network_message(exc: BaseException | None = None) -> str:
    """The sentence a user sees when the hub cannot be reached (starts with "No network")."""
    why = "offline mode is on (HF_HUB_OFFLINE=1)" if offline() else f"could not reach {endpoint()}"
    detail = f" ({type(exc).__name__}: {exc})" if exc is not None and not offline() else ""
    return (f"No network: {why}{detail}. Everything already installed keeps working; "
            "to add a model without a connection, use Import… with a file you already have.")


def _network_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [OSError, TimeoutError]
    try:
        from huggingface_hub.errors import OfflineModeIsEnabled

        errors.append(OfflineModeIsEnabled)
    except ImportError:
        pass
    for mod, names in (("httpx2", ("TransportError",)), ("httpx", ("TransportError",)),
                       ("requests", ("ConnectionError", "Timeout"))):
        try:
            module = __import__(mod)
            errors.extend(getattr(module, n) for n in names if hasattr(module, n))
        except ImportError:
            pass
    return tuple(errors)


def probe(timeout: float = 3.0) -> None:
    """Fail fast (instead of huggingface_hub's retries with backoff) when the hub's host cannot be reached."""
    import socket
    from urllib.parse import urlparse

    if offline():
        raise NoNetwork(no_network_message())
    parsed = urlparse(endpoint())
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        socket.create_connection((parsed.hostname, port), timeout=timeout).close()
    except OSError as exc:
        raise NoNetwork(no_network_message(exc)) from exc


def call(fn, *args, _repo: str | None = None, **kwargs):
    """Run a huggingface_hub call; turn 'cannot reach the hub' into NoNetwork and HTTP errors into UserError."""
    probe()
    _sync_offline_flag()
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, RepositoryNotFoundError

    try:
        return fn(*args, **kwargs)
    except RepositoryNotFoundError as exc:
        raise UserError(f"Hugging Face has no repository {_repo or ''} "
                        "(or it is private/gated: log in with `hf auth login`).") from exc
    except EntryNotFoundError as exc:
        raise UserError(f"File not found on Hugging Face: {exc}") from exc
    except HfHubHTTPError as exc:
        raise UserError(f"Hugging Face answered with an error: {exc}") from exc
    except _network_errors() as exc:
        raise NoNetwork(no_network_message(exc)) from exc


def api():
    """A huggingface_hub HfApi on endpoint()."""
    from huggingface_hub import HfApi

    return HfApi(endpoint=endpoint())


@dataclass
class HubFile:
    """A file in a hub repository: its path, size in bytes and (for LFS files) SHA-256."""

    path: str
    size_bytes: int
    sha256: str | None = None

    @property
    def quantization(self) -> str | None:
        """The quantization its file name says ("Q4_K_M", "IQ4_XS", "F16"…), else None."""
        match = _QUANT.search(self.path.rsplit("/", 1)[-1])
        return match.group(1).upper() if match else None


@dataclass
class HubRepo:
    """A hub repository found by a search; `files` is filled when asked for."""

    id: str
    downloads: int = 0
    likes: int = 0
    files: list[HubFile] | None = None


def search_gguf(query: str, limit: int = 20) -> list[HubRepo]:
    """GGUF repositories matching `query`, most downloaded first."""
    query = query.strip()
    if not query:
        raise UserError("Type something to search for, for example 'qwen 1.5b'.")
    models = call(lambda: list(api().list_models(search=query, filter="gguf", sort="downloads", limit=limit)))
    return [HubRepo(m.id, int(getattr(m, "downloads", 0) or 0), int(getattr(m, "likes", 0) or 0)) for m in models]


def list_files(repo_id: str, revision: str = "main") -> list[HubFile]:
    """Every file in a repository with its size (and SHA-256 for LFS files)."""
    from huggingface_hub.hf_api import RepoFile

    def _list():
        items = api().list_repo_tree(repo_id, recursive=True, revision=revision)
        out = []
        for item in items:
            if isinstance(item, RepoFile):
                lfs = getattr(item, "lfs", None)
                sha = lfs.get("sha256") if isinstance(lfs, dict) else getattr(lfs, "sha256", None)
                out.append(HubFile(item.path, int(item.size or 0), sha))
        return out

    return call(_list, _repo=repo_id)


def gguf_files(repo_id: str, revision: str = "main") -> list[HubFile]:
    """The .gguf files of a repository. Raises NoNetwork, or UserError for an unknown repository."""
    return [f for f in list_files(repo_id, revision) if f.path.lower().endswith(".gguf")]


@dataclass
class FileMeta:
    """Where a hub file's bytes are and what they should be (size in bytes, SHA-256), from a HEAD request."""

    url: str  # where the bytes are (the CDN location after the hub's redirect)
    size_bytes: int | None
    sha256: str | None  # the LFS object id, when the etag is one
    commit: str | None
    same_host: bool  # whether `url` is on the hub itself (auth headers may be sent)


def file_metadata(repo_id: str, filename: str, revision: str = "main") -> FileMeta:
    """HEAD the file on the hub (following its redirect) for size, SHA-256 (the LFS etag) and commit. Raises
    NoNetwork, or UserError for an unknown repository or file."""
    from urllib.parse import urlparse

    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    url = hf_hub_url(repo_id, filename, revision=revision, endpoint=endpoint())
    meta = call(get_hf_file_metadata, url, _repo=repo_id)
    etag = (meta.etag or "").strip('"').lower()
    sha = etag if re.fullmatch(r"[0-9a-f]{64}", etag) else None
    location = meta.location or url
    same = urlparse(location).netloc == urlparse(endpoint()).netloc
    return FileMeta(location, meta.size, sha, meta.commit_hash, same)


def auth_headers() -> dict:
    """The hub's request headers with the user's token when one is configured ({} otherwise)."""
    from huggingface_hub.utils import build_hf_headers

    try:
        return build_hf_headers(library_name="hearth")
    except Exception:  # no token configured, odd environment: go anonymous
        return {}
