"""Connections: other OpenAI-compatible servers whose models Hearth can use (llama.cpp's llama-server, vLLM, Ollama's
`/v1`, LM Studio, another Hearth). Kept in settings.connections as name -> {"url", "api_key", "timeout_s"}.

A model on a connection is named `CONNECTION/MODEL` by the user (`hearth chat --model gpu-box/qwen2.5-7b`) and
stored as the reference `remote:CONNECTION/MODEL` (the Chat tab's last model, a conversation's model), which
`parse_ref` reads back. Requests go through the official `openai` client (imported when first needed) with
timeouts and no retries; its errors become one-sentence UserErrors that say whether the server is down, refused
the key, or no longer has the model (`explain`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from app.core.errors import UserError

PREFIX = "remote:"
CONNECT_TIMEOUT_S = 5.0
DEFAULT_TIMEOUT_S = 600.0  # the longest a reply (or an image) may take
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass
class Connection:
    """One server: `url` is its OpenAI base URL (ending in /v1 for most servers), `api_key` its bearer key ("" for
    none), `timeout_s` the longest one request may take."""

    name: str
    url: str
    api_key: str = ""
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def host(self) -> str:
        """host:port of the URL, for short labels."""
        return urlparse(self.url).netloc or self.url

    def to_dict(self) -> dict:
        return {"url": self.url, "api_key": self.api_key, "timeout_s": self.timeout_s}

    def client(self, timeout_s: float | None = None):
        """An openai.OpenAI client for this server (no retries; connect timeout CONNECT_TIMEOUT_S)."""
        import httpx
        import openai

        timeout = httpx.Timeout(timeout_s or self.timeout_s, connect=CONNECT_TIMEOUT_S)
        return openai.OpenAI(base_url=self.url, api_key=self.api_key or "none", timeout=timeout, max_retries=0)

    def models(self, timeout_s: float = 10.0) -> list[dict]:
        """The server's models (`GET /models`): [{"id", "kind", …}], kind "chat" unless the server says otherwise
        (a Hearth server says "chat", "embedding" or "image"). Raises UserError (explain) when it cannot say."""
        try:
            with self.client(timeout_s) as client:
                page = client.models.list()
                models = [m.model_dump() for m in page.data]
        except Exception as exc:  # noqa: BLE001 - openai/httpx errors, explained
            raise explain(exc, self) from None
        for m in models:
            m["kind"] = m.get("hearth_kind") or "chat"
        return models


def normalize_url(url: str) -> str:
    """`url` checked and tidied: http(s) with a host, no trailing slash, "/v1" added when it has no path. Raises
    UserError for anything else."""
    url = (url or "").strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise UserError(f"{url!r} is not a server address; give one like http://192.168.1.20:8765/v1.")
    if parsed.path in ("", "/"):
        url += "/v1"
    return url


def all_connections(settings) -> list[Connection]:
    """Every configured connection, by name."""
    out = []
    for name, data in sorted((settings.connections or {}).items()):
        if isinstance(data, dict) and data.get("url"):
            out.append(Connection(name, str(data["url"]), str(data.get("api_key") or ""),
                                  float(data.get("timeout_s") or DEFAULT_TIMEOUT_S)))
    return out


def find(settings, name: str) -> Connection:
    """The connection called `name`. Raises UserError when there is none."""
    for conn in all_connections(settings):
        if conn.name == name:
            return conn
    known = ", ".join(c.name for c in all_connections(settings)) or "none yet"
    raise UserError(f"There is no connection called {name!r} (connections: {known}). "
                    "Add it with hearth connections add, or in Settings → Connections.")


def add(settings, name: str, url: str, api_key: str = "", timeout_s: float = DEFAULT_TIMEOUT_S) -> Connection:
    """Add (or replace) a connection in `settings` (the caller saves them). Raises UserError for a bad name/URL."""
    name = (name or "").strip()
    if not _NAME.match(name):
        raise UserError(f"{name!r} cannot name a connection: use letters, digits, '.', '_' or '-' (no '/').")
    if timeout_s <= 0:
        raise UserError("The timeout must be more than 0 seconds.")
    conn = Connection(name, normalize_url(url), api_key.strip(), float(timeout_s))
    settings.connections = {**(settings.connections or {}), name: conn.to_dict()}
    return conn


def remove(settings, name: str) -> Connection:
    """Remove the connection `name` from `settings` (the caller saves them). Raises UserError when there is none."""
    conn = find(settings, name)
    settings.connections = {k: v for k, v in settings.connections.items() if k != name}
    return conn


# ---- model references ------------------------------------------------------------------------------------------
def ref(connection: str, model: str) -> str:
    """The stored reference of `model` on `connection`: "remote:CONNECTION/MODEL"."""
    return f"{PREFIX}{connection}/{model}"


def parse_ref(text: str) -> tuple[str, str] | None:
    """(connection, model) of a "remote:CONNECTION/MODEL" reference; None for anything else (a file path)."""
    if not text or not text.startswith(PREFIX):
        return None
    name, _, model = text[len(PREFIX):].partition("/")
    return (name, model) if name and model else None


def is_remote(text: str) -> bool:
    return parse_ref(text) is not None


def resolve_model(text: str, settings) -> str:
    """What the user typed for --model: "CONNECTION/MODEL" (the part before the first "/" names a connection and no
    such file exists) becomes its reference; an installed chat model's id, name or file name ("chat/x.gguf", "x")
    becomes its path; a stored reference or a path is returned as is. Raises UserError when a name matches several
    installed models."""
    if not text or is_remote(text) or Path(text).expanduser().exists():
        return text
    name, _, model = text.partition("/")
    if model and any(c.name == name for c in all_connections(settings)):
        return ref(name, model)
    from app.core.models import registry

    installed = registry.find(text)
    if installed is not None and installed.kind == "chat":
        return str(installed.path)
    return text


def label(reference: str) -> str:
    """"MODEL on CONNECTION" for a reference (the reference itself otherwise)."""
    parsed = parse_ref(reference)
    return f"{parsed[1]} on {parsed[0]}" if parsed else reference


# ---- errors --------------------------------------------------------------------------------------------------------
def explain(exc: BaseException, conn: Connection, model: str = "") -> UserError:
    """A one-sentence UserError for an openai/httpx error talking to `conn` (about `model`)."""
    import openai

    where = f"{conn.name} ({conn.url})"
    if isinstance(exc, UserError):
        return exc
    if isinstance(exc, openai.APITimeoutError):
        return UserError(f"{where} did not answer within {conn.timeout_s:g} s. The server may be overloaded; try "
                         "again, or raise the connection's timeout.")
    if isinstance(exc, openai.APIConnectionError):
        return UserError(f"Cannot reach {where}: is the server running, and is the address right?")
    if isinstance(exc, openai.AuthenticationError) or isinstance(exc, openai.PermissionDeniedError):
        return UserError(f"{where} refused the API key. Check the connection's key (Settings → Connections, or "
                         "hearth connections add … --api-key KEY).")
    if isinstance(exc, openai.NotFoundError):
        what = f"the model {model!r}" if model else "what was asked"
        return UserError(f"{where} no longer has {what}: {_server_message(exc)}. Pick another of its models.")
    if isinstance(exc, openai.APIStatusError):
        return UserError(f"{where} answered {exc.status_code}: {_server_message(exc)}")
    return UserError(f"Talking to {where} failed: {type(exc).__name__}: {exc}")


def _server_message(exc) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"]).rstrip(".")
        if isinstance(error, str):
            return error.rstrip(".")
        if isinstance(body.get("detail"), str):
            return body["detail"].rstrip(".")
    return str(getattr(exc, "message", "") or exc).rstrip(".")
