"""Tool calls in a model's reply, read into OpenAI's `tool_calls`.

A model whose chat template takes `tools` answers a call in its own markup. Read here:
- Hermes / Qwen 2.5 / Qwen 3 style: `<tool_call>{"name": "f", "arguments": {...}}</tool_call>` (one or more);
- Mistral style: `[TOOL_CALLS] [{"name": "f", "arguments": {...}}, ...]`;
- a reply that is nothing but such a JSON object (Llama 3.1 style, "parameters" for "arguments").
Text before the first call is the message's content. ToolCallFilter does the same on a stream: it passes text on
until a call's opening could be starting, then holds the rest for parse().
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass

OPEN, CLOSE = "<tool_call>", "</tool_call>"
MISTRAL = "[TOOL_CALLS]"
_HERMES = re.compile(re.escape(OPEN) + r"\s*(.*?)\s*(?:" + re.escape(CLOSE) + r"|$)", re.S)


@dataclass
class ToolCall:
    """One call: the function's `name` and its `arguments` as a JSON string (OpenAI's form)."""

    name: str
    arguments: str
    id: str = ""

    def __post_init__(self) -> None:
        self.id = self.id or f"call_{uuid.uuid4().hex[:24]}"

    def to_json(self, index: int | None = None) -> dict:
        data = {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}
        if index is not None:
            data["index"] = index
        return data


def _call(obj) -> ToolCall | None:
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return None
    args = obj.get("arguments", obj.get("parameters", {}))
    return ToolCall(obj["name"], args if isinstance(args, str) else json.dumps(args, ensure_ascii=False))


def _loads(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return None


def parse(text: str) -> tuple[str, list[ToolCall]]:
    """(content before the calls, the calls) of a reply; (text, []) when it calls nothing."""
    if OPEN in text:
        head = text[:text.index(OPEN)]
        calls = [c for c in (_call(_loads(m)) for m in _HERMES.findall(text)) if c is not None]
        if calls:
            return head.strip(), calls
    if MISTRAL in text:
        head, _, rest = text.partition(MISTRAL)
        data = _loads(rest.strip())
        items = data if isinstance(data, list) else [data]
        calls = [c for c in (_call(d) for d in items) if c is not None]
        if calls:
            return head.strip(), calls
    stripped = text.strip()
    if stripped.startswith("{") and stripped.endswith("}"):
        call = _call(_loads(stripped))
        if call is not None and ("arguments" in stripped or "parameters" in stripped):
            return "", [call]
    return text, []


class ToolCallFilter:
    """Streams a reply's content while holding back what may be a tool call (module docstring).

    feed(piece) returns the text that is surely content; finish() returns (rest of the content, calls)."""

    def __init__(self) -> None:
        self.text = ""
        self._sent = 0
        self._held = False  # a call has started: nothing more is content until parse()

    def feed(self, piece: str) -> str:
        self.text += piece
        if self._held:
            return ""
        pending = self.text[self._sent:]
        for marker in (OPEN, MISTRAL):
            at = pending.find(marker)
            if at >= 0:
                self._held = True
                out = pending[:at]
                self._sent += len(out)
                return out
        if not self.text[:self._sent].strip() and pending.lstrip().startswith("{"):
            self._held = True  # a reply that opens with JSON may be a bare call
            return ""
        keep = max((k for m in (OPEN, MISTRAL) for k in range(1, len(m)) if pending.endswith(m[:k])), default=0)
        out = pending[:len(pending) - keep]
        self._sent += len(out)
        return out

    def finish(self) -> tuple[str, list[ToolCall]]:
        """(content not sent yet, calls) once the reply has ended."""
        _content, calls = parse(self.text)
        if not calls:
            return self.text[self._sent:], []
        marks = [self.text.find(m) for m in (OPEN, MISTRAL) if m in self.text]
        end = min(marks) if marks else 0
        return (self.text[self._sent:end].rstrip() if end > self._sent else ""), calls
