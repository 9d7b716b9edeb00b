"""Chat templates: the one in the GGUF metadata, or a built-in one chosen by architecture, or the user's choice.

All templates are Jinja and rendered by llama-cpp-python's sandboxed Jinja2ChatFormatter (imported lazily).
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass

from app.core.errors import UserError

log = logging.getLogger(__name__)

_SYSTEM_INTO_FIRST_USER = (
    "{% if messages and messages[0]['role'] == 'system' %}"
    "{% set system = messages[0]['content'] | trim %}{% set msgs = messages[1:] %}"
    "{% else %}{% set system = '' %}{% set msgs = messages %}{% endif %}"
)

BUILTIN: dict[str, str] = {
    "gemma": (
        "{{ bos_token }}" + _SYSTEM_INTO_FIRST_USER +
        "{% for m in msgs %}"
        "{% set role = 'model' if m['role'] == 'assistant' else 'user' %}"
        "{{ '<start_of_turn>' + role + '\n' }}"
        "{% if loop.first and system %}{{ system + '\n\n' }}{% endif %}"
        "{{ (m['content'] | trim) + '<end_of_turn>\n' }}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
    ),
    "llama3": (
        "{{ bos_token }}{% for m in messages %}"
        "{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\n\n' + (m['content'] | trim) + '<|eot_id|>' }}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
    ),
    "chatml": (
        "{% for m in messages %}"
        "{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    ),
    "mistral": (
        "{{ bos_token }}" + _SYSTEM_INTO_FIRST_USER +
        "{% for m in msgs %}"
        "{% if m['role'] == 'user' %}"
        "{{ '[INST] ' + (system + '\n\n' if loop.first and system else '') + (m['content'] | trim) + ' [/INST]' }}"
        "{% else %}{{ (m['content'] | trim) + eos_token }}{% endif %}"
        "{% endfor %}"
    ),
    "phi3": (
        "{% for m in messages %}"
        "{{ '<|' + m['role'] + '|>\n' + m['content'] + '<|end|>\n' }}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
    ),
}

# Text that ends an assistant turn in each format (also stopped on, in case the model's EOG list misses it).
STOPS: dict[str, list[str]] = {
    # A turn's end, and a new turn's start: a base model (or a weak one) that runs past its turn writes the
    # opening of the next one instead of ending, and the reply must not carry an invented user turn.
    "gemma": ["<end_of_turn>", "<start_of_turn>"],
    "llama3": ["<|eot_id|>", "<|start_header_id|>"],
    "chatml": ["<|im_end|>", "<|im_start|>"],
    "mistral": [],
    "phi3": ["<|end|>"],
    "gguf": [],
}

LABELS = {
    "auto": "Automatic (from the model file)",
    "gemma": "Gemma",
    "llama3": "Llama 3",
    "chatml": "ChatML (Qwen, many fine-tunes)",
    "mistral": "Mistral / Llama 2 [INST]",
    "phi3": "Phi-3",
}


def builtin_for(architecture: str, vocab_size: int = 0) -> str:
    """The built-in template name for a `general.architecture` value."""
    arch = (architecture or "").lower()
    if arch.startswith("gemma"):
        return "gemma"
    if arch.startswith("qwen") or arch in ("internlm2", "yi", "olmo2", "smollm3"):
        return "chatml"
    if arch.startswith("phi3") or arch == "phimoe":
        return "phi3"
    if arch in ("llama", "llama4"):
        return "llama3" if vocab_size >= 128000 else "mistral"
    if arch == "mistral" or arch.startswith("mixtral"):
        return "mistral"
    return "chatml"


@dataclass
class ChatTemplate:
    """A chat template: Jinja `source` (the Hugging Face chat-template format) and the stop strings it needs."""

    name: str  # "gguf" for the file's own template, otherwise a key of BUILTIN
    source: str
    stop: list[str]

    @property
    def label(self) -> str:
        """How the picker names it: "From the model file", "Gemma", "ChatML (Qwen, …)", …"""
        return "From the model file" if self.name == "gguf" else LABELS.get(self.name, self.name)


def supports_tools(template: ChatTemplate) -> bool:
    """The template renders function definitions: it reads a `tools` variable (the Hugging Face convention)."""
    return bool(re.search(r"\btools\b", template.source)) and "{%" in template.source


def choose(architecture: str, gguf_template: str | None, override: str | None = None,
           vocab_size: int = 0) -> ChatTemplate:
    """The template to use. override: None/'auto' (the file's template, else the architecture's built-in one), a
    BUILTIN key, or Jinja source. Raises UserError for anything else."""
    if override and override != "auto":
        if override in BUILTIN:
            return ChatTemplate(override, BUILTIN[override], list(STOPS[override]))
        if "{%" in override or "{{" in override:
            return ChatTemplate("custom", override, [])
        raise UserError(f"Unknown chat template {override!r}. Choose one of: auto, {', '.join(BUILTIN)}.")
    if gguf_template:
        return ChatTemplate("gguf", gguf_template, [])
    name = builtin_for(architecture, vocab_size)
    return ChatTemplate(name, BUILTIN[name], list(STOPS[name]))


@dataclass(frozen=True)
class Segment:
    """A piece of a rendered prompt: the template's own text (`plain` False: its markers are special tokens) or a
    message's content (`plain` True: always plain text, whatever it contains)."""

    text: str
    plain: bool


# A placeholder stands for a message's content while the template renders. Its padding is an em space, which
# templates never write themselves and `trim` removes, so the rendering shows whether the template trimmed the
# content on either side.
_PAD = "\u2003"


class Renderer:
    """Renders messages to a prompt with llama-cpp-python's Jinja2ChatFormatter (a sandboxed jinja2 environment),
    as one string (`render`) or as template text and message contents kept apart (`segments`), so that text a
    user typed or a document holds is never read as a control token. Raises UserError when the template does not
    compile."""

    def __init__(self, template: ChatTemplate, bos_token: str, eos_token: str) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.template = template
        try:
            self._formatter = Jinja2ChatFormatter(template=template.source, eos_token=eos_token,
                                                  bos_token=bos_token, add_generation_prompt=True)
        except Exception as exc:  # jinja2 TemplateSyntaxError and friends
            raise UserError(f"The chat template ({template.label}) cannot be used: {exc}. "
                            "Pick a built-in template for this model.") from exc
        self._nonce = f"HEARTH{uuid.uuid4().hex[:12]}M"
        self._marker = re.compile(f"({_PAD})?{self._nonce}(\\d+)E({_PAD})?")
        self._warned = False

    def _format(self, messages: list[dict], tools: list[dict] | None = None):
        keep = ("tool_calls", "tool_call_id", "name") if tools else ()
        rendered = [{"role": m["role"], "content": m.get("content") or "",
                     **{k: m[k] for k in keep if m.get(k) is not None}} for m in messages]
        try:
            return self._formatter(messages=rendered, **({"tools": tools} if tools else {}))
        except Exception as exc:
            raise UserError(f"The chat template ({self.template.label}) failed on this conversation: {exc}. "
                            "Pick a built-in template for this model.") from exc

    def render(self, messages: list[dict], tools: list[dict] | None = None) -> tuple[str, list[str]]:
        """(prompt ending with the assistant turn's opening, stop strings). With `tools` (OpenAI function
        definitions) the template gets them as `tools`, and messages keep their tool_calls / tool_call_id / name.
        Raises UserError when the template fails on these messages (e.g. one that insists on alternating roles)."""
        result = self._format(messages, tools)
        stops = list(self.template.stop)
        for s in result.stop or []:
            if isinstance(s, str) and s and s not in stops:
                stops.append(s)
        return result.prompt, stops

    def segments(self, messages: list[dict], tools: list[dict] | None = None) -> tuple[list[Segment], list[str]]:
        """The prompt as Segments, whose texts joined are exactly render()'s prompt, and the stop strings.

        Each message's content is rendered as a placeholder, so the template's own text and the contents come
        apart wherever the template puts them (trimmed if it trims them). A template that changes contents in
        other ways (the joined segments would differ from the real rendering) is handled message by message: each
        content is located where the template wrote it by rendering with that one message as a placeholder.
        `tools` as in render(). Raises UserError as render() does."""
        prompt, stops = self.render(messages, tools)
        contents = [m.get("content") for m in messages]
        stand_in = [dict(m, content=f"{_PAD}{self._nonce}{i}E{_PAD}") if _protect(m.get("content")) else m
                    for i, m in enumerate(messages)]
        text = self._format(stand_in, tools).prompt
        pieces: list[Segment] = []
        at = 0
        for match in self._marker.finditer(text):
            if match.start() > at:
                pieces.append(Segment(text[at:match.start()], False))
            content = contents[int(match.group(2))]
            if not match.group(1):
                content = content.lstrip()
            if not match.group(3):
                content = content.rstrip()
            if content:
                pieces.append(Segment(content, True))
            at = match.end()
        if at < len(text):
            pieces.append(Segment(text[at:], False))
        if "".join(p.text for p in pieces) == prompt:
            return pieces, stops
        return self._located(messages, prompt, tools), stops

    def _located(self, messages: list[dict], prompt: str, tools: list[dict] | None = None) -> list[Segment]:
        """Segments of `prompt` found one message at a time (for templates that rewrite contents)."""
        spans = []
        for i, message in enumerate(messages):
            if not _protect(message.get("content")):
                continue
            marker = f"{self._nonce}{i}E"
            text = self._format([dict(m, content=marker) if j == i else m
                                 for j, m in enumerate(messages)], tools).prompt
            if text.count(marker) != 1:
                self._warn(i)
                continue
            before, after = text.split(marker)
            end = len(prompt) - len(after)
            if prompt.startswith(before) and prompt.endswith(after) and len(before) <= end:
                spans.append((len(before), end))
            else:
                self._warn(i)
        pieces: list[Segment] = []
        at = 0
        for start, end in sorted(spans):
            if start < at:  # overlapping: cannot happen for a sane template; keep the first
                continue
            if start > at:
                pieces.append(Segment(prompt[at:start], False))
            if end > start:
                pieces.append(Segment(prompt[start:end], True))
            at = end
        if at < len(prompt):
            pieces.append(Segment(prompt[at:], False))
        return pieces

    def _warn(self, index: int) -> None:
        if not self._warned:
            self._warned = True
            log.warning("chat template %s: message %d's text could not be told apart from the template's; "
                        "control-token text in it is read as tokens", self.template.label, index)


def _protect(content) -> bool:
    return isinstance(content, str) and content != ""
