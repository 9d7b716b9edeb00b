"""What ChatEngine holds: a chat backend. Two implement it — ChatModel (llama.py: a GGUF loaded here with
llama.cpp) and RemoteChatModel (remote.py: a model on an OpenAI-compatible server, through a connection) — so the
reply job, the Turn and the Conversation drive either the same way.

A backend streams a reply as partials on `state` (PromptRead once, then a Token per piece of text), stops at
`state.cancel()` keeping what came, and returns a ChatResult. The documents path (documents.py) also asks it for
token counts to fit the sources into `n_ctx`.
"""

from __future__ import annotations

from typing import Protocol

from app.core.chat.context import Fitted
from app.core.chat.llama import ChatResult, LoadInfo
from app.core.jobs import JobState


class ChatBackend(Protocol):
    """The interface ChatEngine and documents.reply use (module docstring)."""

    load_info: LoadInfo
    n_ctx: int  # the context window, tokens
    supports_tools: bool  # chat() renders `tools` (OpenAI function definitions) into the prompt

    @property
    def closed(self) -> bool: ...

    def chat(self, messages: list[dict], *, state: JobState | None = None, policy: str = "truncate_middle",
             **sampling) -> ChatResult:
        """Stream a reply to `messages`; `sampling` as in ChatModel.chat (max_tokens, temperature, top_p, top_k,
        min_p, repeat_penalty, seed, stop, grammar, tools)."""

    def count_tokens(self, text: str) -> int: ...

    def count_messages(self, messages: list[dict]) -> int: ...

    def fit(self, messages: list[dict], max_tokens: int, policy: str = "truncate_middle") -> Fitted: ...

    def set_template(self, template) -> None: ...

    def close(self) -> None: ...


def open_backend(req, state: JobState) -> ChatBackend:
    """The backend a chat.jobs.LoadRequest names: a "remote:CONNECTION/MODEL" reference connects to that server's
    model; anything else is a GGUF path loaded with llama.cpp. Raises UserError or JobCancelled."""
    from app.core import connections

    if connections.is_remote(req.path):
        from app.core.chat.remote import RemoteChatModel

        return RemoteChatModel.open(req.path, state)
    from app.core.chat.llama import ChatModel

    return ChatModel.load(req.path, n_ctx=req.n_ctx, n_gpu_layers=req.gpu_layers, n_threads=req.threads,
                          state=state, context_cap=req.context_cap, flash_attn=req.flash_attn,
                          use_mmap=req.use_mmap, template=req.template,
                          prompt_lookup=getattr(req, "prompt_lookup", False))
