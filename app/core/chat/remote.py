"""A chat model on another machine: an OpenAI-compatible server reached through a connection (connections.py).

RemoteChatModel is a chat backend like the local ChatModel (backend.py): ChatEngine loads it for a
"remote:CONNECTION/MODEL" reference, and the same reply job, the same Turn and Conversation drive it — streaming
Token partials, Stop, stored conversations, and attached collections (retrieval stays on this computer: the
passages go into the prompt sent to the server). Generation streams from `POST /chat/completions`; Stop closes the
HTTP stream, which a llama.cpp server or another Hearth takes as the end of that reply.

Images attached to a message go as OpenAI `image_url` content parts holding data: URLs (PNG, downscaled to at
most IMAGE_SIDE pixels per side, EXIF-rotated: vision/images.py), prepared in the reply job.

Token counts are estimates (the server's tokenizer is not here): ESTIMATE_CHARS characters per token, so that the
context policy leaves room rather than overflowing. The context size is the one the server reports for the model
(vLLM's max_model_len, Hearth's context_length), else DEFAULT_CONTEXT.
"""

from __future__ import annotations

import math
import threading
import time

from app.core import connections
from app.core.chat import context as ctxpolicy
from app.core.chat.llama import ChatResult, LoadInfo, PromptRead, Token
from app.core.errors import UserError
from app.core.jobs import JobState

DEFAULT_CONTEXT = 4096
IMAGE_SIDE = 1024  # longest side of an image sent to a server (pixels): servers downscale to their projector anyway
ESTIMATE_CHARS = 3.0  # characters per token, on the low side (English runs ~4): estimates err towards "too long"


class RemoteChatModel:
    """`model` on `connection`, checked to exist when opened. One chat() at a time, like ChatModel."""

    supports_tools = False  # the server renders its own template; tool calls are not passed through here

    def __init__(self, connection: connections.Connection, model: str, n_ctx: int) -> None:
        self.connection = connection
        self.model = model
        self.n_ctx = int(n_ctx)
        self.path = connections.ref(connection.name, model)
        self._client = connection.client()
        self._lock = threading.Lock()
        self.load_info = LoadInfo(path=self.path, name=model, architecture="remote", quantization=None,
                                  size_bytes=0, n_ctx=self.n_ctx, n_ctx_train=None, gpu_layers=0, block_count=0,
                                  n_threads=0, flash_attn=False, template="the server's",
                                  extra={"remote": connection.name, "url": connection.url})

    @classmethod
    def open(cls, reference: str, state: JobState | None = None, settings=None) -> "RemoteChatModel":
        """Connect to the model a "remote:CONNECTION/MODEL" reference names (the connection from `settings`, by
        default the saved ones). Raises UserError when the connection is unknown, the server is down, refuses the
        key, or does not have the model."""
        from app.core.settings import Settings

        parsed = connections.parse_ref(reference)
        if parsed is None:
            raise UserError(f"{reference!r} does not name a model on a connection (CONNECTION/MODEL).")
        name, model = parsed
        conn = connections.find(settings or Settings.load(), name)
        state = state or JobState()
        state.progress(None, f"Connecting to {conn.name}")
        listed = conn.models()
        state.check()
        entry = next((m for m in listed if m.get("id") == model), None)
        if entry is None:
            offered = ", ".join(m["id"] for m in listed if m["kind"] == "chat")[:300] or "none"
            raise UserError(f"{conn.name} ({conn.url}) has no model {model!r} (it offers: {offered}).")
        n_ctx = entry.get("context_length") or entry.get("max_model_len") or DEFAULT_CONTEXT
        return cls(conn, model, int(n_ctx))

    # ---- the backend interface (backend.ChatBackend) --------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._client is None

    def close(self) -> None:
        """Drop the HTTP client (waits for a running chat() to end). Idempotent."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def set_template(self, _template) -> None:
        """The server applies its own chat template: nothing to change here."""

    def count_tokens(self, text: str) -> int:
        """Estimated tokens of `text` (ESTIMATE_CHARS characters each)."""
        return math.ceil(len(text) / ESTIMATE_CHARS) if text else 0

    def count_messages(self, messages: list[dict]) -> int:
        """Estimated prompt tokens: each message's content plus 4 for its role markers, plus 2."""
        return sum(self.count_tokens(m.get("content") or "") + 4 for m in messages) + 2

    def fit(self, messages: list[dict], max_tokens: int, policy: str = "truncate_middle") -> ctxpolicy.Fitted:
        """`messages` fitted into the server's context less the reply's reserve (estimated counts)."""
        budget = self.n_ctx - ctxpolicy.reserve_for_reply(self.n_ctx, max_tokens)
        return ctxpolicy.fit(messages, budget, self.count_messages, policy, self.n_ctx)

    def chat(self, messages: list[dict], *, max_tokens: int = 512, temperature: float = 0.7, seed: int | None = None,
             state: JobState | None = None, policy: str = "truncate_middle", top_p: float = 0.95, top_k: int = 40,
             min_p: float = 0.05, repeat_penalty: float = 1.0, stop: list[str] | None = None,
             grammar: str | None = None, **_ignored) -> ChatResult:
        """Stream a reply from the server (same arguments and partials as ChatModel.chat; top_k, min_p,
        repeat_penalty and grammar go as the llama.cpp-style extra fields most local servers read). Raises
        UserError when the server cannot be reached, refuses, or fails mid-reply."""
        if not messages:
            raise UserError("There is nothing to answer: the conversation is empty.")
        state = state or JobState()
        with self._lock:
            if self._client is None:
                raise UserError("The connection to the remote model was closed. Choose the model again.")
            fitted = self.fit(messages, max_tokens, policy)
            state.partial(PromptRead(fitted.tokens, 0, self.n_ctx))
            extra = {"top_k": top_k, "min_p": min_p}
            if repeat_penalty != 1.0:
                extra["repeat_penalty"] = repeat_penalty
            if grammar:
                extra["grammar"] = grammar
            body = dict(model=self.model, messages=_openai_messages(fitted.messages, state),
                        stream=True, stream_options={"include_usage": True}, max_tokens=max(1, int(max_tokens)), temperature=max(0.0, float(temperature)),
                        top_p=top_p, extra_body=extra)
            if stop:
                body["stop"] = list(stop)[:4]
            if seed is not None:
                body["seed"] = int(seed)
            return self._stream(body, fitted, state)

    def _stream(self, body: dict, fitted: ctxpolicy.Fitted, state: JobState) -> ChatResult:
        import httpx

        pieces: list[str] = []
        start = time.perf_counter()
        first = None
        finish = None
        usage = None
        stream = None
        try:
            stream = self._client.chat.completions.create(**body)
            for chunk in stream:
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices or []:
                    piece = choice.delta.content if choice.delta is not None else None
                    if piece:
                        if first is None:
                            first = time.perf_counter()
                        pieces.append(piece)
                        state.partial(Token(piece))
                    if choice.finish_reason:
                        finish = choice.finish_reason
                if state.cancelled:
                    finish = "cancelled"
                    break
        except httpx.TransportError as exc:
            if state.cancelled:
                finish = "cancelled"
            else:
                raise UserError(f"The connection to {self.connection.name} ({self.connection.url}) broke during "
                                f"the reply ({type(exc).__name__}). What came is kept; try again.") from None
        except Exception as exc:  # noqa: BLE001 - openai errors, explained
            raise connections.explain(exc, self.connection, self.model) from None
        finally:
            if stream is not None:
                stream.close()  # on Stop: the server sees the client go and stops generating
        end = time.perf_counter()
        first = first or end
        tokens = usage.completion_tokens if usage is not None and usage.completion_tokens else len(pieces)
        prompt = usage.prompt_tokens if usage is not None and usage.prompt_tokens else fitted.tokens
        stopped = {"stop": "eos", "length": "length", "cancelled": "cancelled"}.get(finish or "", "eos")
        tps = (tokens - 1) / (end - first) if tokens > 1 and end > first else 0.0
        return ChatResult(text="".join(pieces), completion_tokens=tokens, prompt_tokens=prompt,
                          ttft_s=first - start, tokens_per_s=tps, stopped=stopped, n_ctx=self.n_ctx,
                          dropped_messages=fitted.dropped, shortened_messages=fitted.shortened,
                          seconds=end - start)


def _openai_messages(messages: list[dict], state: JobState) -> list[dict]:
    """{"role", "content"} for each message; one with images gets content parts (image_url data URLs first)."""
    if not any(m.get("images") for m in messages):
        return [{"role": m["role"], "content": m["content"]} for m in messages]
    from app.core.vision.chat import to_openai_messages

    state.progress(None, "Preparing the images")
    return to_openai_messages(messages, IMAGE_SIDE)
