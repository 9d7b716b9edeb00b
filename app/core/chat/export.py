"""A conversation out of Hearth and back in: Markdown to read or share, JSON to keep or move to another computer.

    text = to_markdown(store, conversation_id)      # the current branch; citations become footnotes
    data = to_json(store, conversation_id)          # everything: every branch, model, settings, times, sources
    new_id = from_json(store, data)                 # a new conversation with the same messages and branches

JSON (`"format": "hearth-conversation"`, version 1): the conversation (title, model path, system prompt, settings —
sampling, context policy, collections —, created/updated), `current` (the message its visible branch ends at) and
`messages`, each {id, parent, role, content, created, model, info, documents?}: `parent` links make the tree of
branches (regenerated replies and edited messages are siblings), `info` holds a reply's figures and sampling,
`documents` the sources it was given and the ones it cited (citations.DocumentsUse), `images` a message's attached
images as data: URLs (so the file carries them to another computer). Times are ISO 8601 in UTC.
Import never overwrites: it makes a new conversation (its images copied into this data folder).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import app as hearth
from app.core.chat.citations import DocumentsUse, map_citations
from app.core.chat.store import Conversation, ConversationStore, Message
from app.core.errors import UserError

FORMAT = "hearth-conversation"
VERSION = 1
FORMATS = ("md", "json")
_SNIPPET = 240  # characters of a cited passage quoted in its footnote


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _seconds(text) -> float:
    if isinstance(text, (int, float)):
        return float(text)
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()


# ---- JSON -------------------------------------------------------------------------------------------------------
def to_json(store: ConversationStore, cid: str) -> dict:
    """The whole conversation `cid` as a JSON-ready dict (module docstring). Raises UserError for an unknown id."""
    conv = store.get(cid)
    messages = []
    for m in store.messages(cid):
        info = dict(m.info)
        documents = info.pop("documents", None)
        item = {"id": m.id, "parent": m.parent_id, "role": m.role, "content": m.content, "created": _iso(m.created),
                "model": m.model, "info": info}
        if documents is not None:
            item["documents"] = documents
        if m.images:
            item["images"] = [_data_url(p) for p in m.images if Path(p).is_file()]
        messages.append(item)
    return {"format": FORMAT, "version": VERSION, "exported": _iso(time.time()),
            "app": f"Hearth {hearth.__version__}",
            "conversation": {"title": conv.title, "model": conv.model, "system_prompt": conv.system_prompt,
                             "settings": conv.settings, "created": _iso(conv.created), "updated": _iso(conv.updated)},
            "current": conv.leaf_id, "messages": messages}


def from_json(store: ConversationStore, data: dict) -> str:
    """Store an exported conversation as a new one; returns its id. Raises UserError when `data` is not a Hearth
    conversation export (or one from a newer Hearth), naming what is wrong."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UserError("This is not a Hearth conversation export (its \"format\" is not "
                        f"\"{FORMAT}\"). Export conversations with hearth chat --export ID --format json.")
    if int(data.get("version") or 0) > VERSION:
        raise UserError(f"This conversation was exported by a newer Hearth (format version {data['version']}); "
                        "update Hearth to import it.")
    try:
        head = data["conversation"]
        conv = Conversation("", str(head.get("title") or "Imported chat"), _seconds(head["created"]),
                            _seconds(head.get("updated") or head["created"]), str(head.get("model") or ""),
                            str(head.get("system_prompt") or ""), dict(head.get("settings") or {}),
                            data.get("current"))
        messages = []
        for raw in data["messages"]:
            if raw["role"] not in ("user", "assistant"):
                raise ValueError(f"message {raw.get('id')} has the role {raw['role']!r}")
            info = dict(raw.get("info") or {})
            if raw.get("documents") is not None:
                info["documents"] = raw["documents"]
            messages.append(Message(int(raw["id"]), "", None if raw.get("parent") is None else int(raw["parent"]),
                                    raw["role"], str(raw["content"]), _seconds(raw["created"]),
                                    str(raw.get("model") or ""), info,
                                    images=[_url_bytes(u) for u in raw.get("images") or []]))
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise UserError(f"This conversation export is damaged ({type(exc).__name__}: {exc}); nothing was "
                        "imported.") from exc
    return store.restore(conv, messages).id


def _data_url(path: str) -> str:
    suffix = Path(path).suffix.lower().lstrip(".")
    mime = {"jpg": "jpeg", "tif": "tiff"}.get(suffix, suffix)
    return f"data:image/{mime};base64,{base64.b64encode(Path(path).read_bytes()).decode('ascii')}"


def _url_bytes(url: str) -> bytes:
    header, _, payload = str(url).partition(",")
    if not header.startswith("data:") or not header.endswith(";base64"):
        raise ValueError("an image is not a base64 data: URL")
    return base64.b64decode(payload, validate=True)


# ---- Markdown ---------------------------------------------------------------------------------------------------
def _quote(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _SNIPPET else flat[:_SNIPPET - 1].rstrip() + "…"


def _reply(message: Message, turn: int) -> tuple[str, list[str]]:
    """A reply's text with its citations as footnote references, and the footnotes."""
    use = DocumentsUse.from_json(message.info.get("documents"))
    if use is None or not use.sources:
        note = f"\n\n*{use.note}*" if use is not None and use.note else ""
        return message.content + note, []
    given = {s.n: s for s in use.sources}
    cited: list[int] = []

    def refs(numbers: list[int]) -> str:
        kept = [n for n in numbers if n in given]
        cited.extend(n for n in kept if n not in cited)
        return "".join(f"[^{turn}-{n}]" for n in kept)

    text = map_citations(message.content, refs)
    notes = [f"[^{turn}-{n}]: {given[n].label} (`{given[n].file}`): “{_quote(given[n].text)}”" for n in cited]
    others = [s.label for s in use.sources if s.n not in cited]
    if others:
        text += "\n\n*Also given, not cited: " + "; ".join(others) + ".*"
    return text, notes


def to_markdown(store: ConversationStore, cid: str) -> str:
    """The current branch of conversation `cid` as Markdown: a heading, the model and date, the system prompt,
    each message under its author and time, and every cited source as a footnote (file, page, the passage).
    Raises UserError for an unknown id."""
    conv = store.get(cid)
    branch = store.branch(cid)
    models = sorted({m.model for m in branch if m.model})
    lines = [f"# {conv.title}", "",
             f"*Exported from Hearth on {time.strftime('%Y-%m-%d %H:%M', time.localtime())}"
             + (f" · model: {', '.join(models)}" if models else "") + f" · {len(branch)} messages*", ""]
    if conv.system_prompt.strip():
        lines += ["**System prompt:**", "", *[f"> {line}" for line in conv.system_prompt.strip().splitlines()], ""]
    footnotes: list[str] = []
    for turn, message in enumerate(branch, start=1):
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(message.created))
        if message.role == "user":
            who = "You"
            text = "".join(f"![image {i}]({Path(p).as_uri()})\n\n" for i, p in enumerate(message.images, 1)) \
                + message.content
        else:
            who = f"Assistant ({message.model})" if message.model else "Assistant"
            text, notes = _reply(message, turn)
            footnotes += notes
        versions = f" · version {message.sibling_index + 1} of {message.sibling_count}" \
            if message.sibling_count > 1 else ""
        lines += ["---", "", f"### {who} · {when}{versions}", "", text.strip(), ""]
    if footnotes:
        lines += ["---", "", *footnotes, ""]
    return "\n".join(lines)


# ---- files ------------------------------------------------------------------------------------------------------
def export(store: ConversationStore, cid: str, fmt: str, out: Path | str | None = None) -> str:
    """The conversation as `fmt` ("md" or "json") text; written to `out` too when given (UTF-8). Raises UserError
    for an unknown format or id, or a file that cannot be written."""
    if fmt not in FORMATS:
        raise UserError(f"Unknown export format {fmt!r}; choose md or json.")
    text = to_markdown(store, cid) if fmt == "md" else json.dumps(to_json(store, cid), indent=1, ensure_ascii=False)
    if out is not None:
        try:
            Path(out).expanduser().write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise UserError(f"Could not write {out}: {exc.strerror or exc}.") from exc
    return text


def import_file(store: ConversationStore, path: Path | str) -> str:
    """Import a JSON export from `path` as a new conversation; returns its id. Raises UserError for a missing,
    unreadable or invalid file."""
    path = Path(path).expanduser()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"Could not read {path}: {exc.strerror or exc}.") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"{path.name} is not a JSON file ({exc}); import a conversation exported as JSON.") from exc
    return from_json(store, data)
