"""The chat model an answer uses: the chat engine's `ChatModel` (app.core.chat.engine) when it is there,
otherwise a small llama.cpp adapter with the same interface (load / n_ctx / count_tokens / chat / close)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import UserError


def load_chat_model(path: str | Path, *, n_ctx: int | None = None, state=None):
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"chat model file {path} not found (give the path of a .gguf file, or install one in Models)")
    try:
        from app.core.chat.engine import ChatModel
    except ImportError:
        ChatModel = LlamaChatModel  # noqa: N806
    return ChatModel.load(str(path), n_ctx=n_ctx, state=state)


@dataclass
class ChatResult:
    text: str
    completion_tokens: int = 0
    prompt_tokens: int = 0
    ttft_s: float = 0.0
    tokens_per_s: float = 0.0
    stopped: str = ""


class LlamaChatModel:
    """Fallback used only while the chat engine is absent: llama.cpp with the model's own chat template, or a
    plain "System/User/Assistant" layout for a base model without one."""

    def __init__(self, llm, n_ctx: int) -> None:
        self.llm = llm
        self.n_ctx = n_ctx

    @classmethod
    def load(cls, path, *, n_ctx=None, n_gpu_layers=None, n_threads=None, state=None) -> "LlamaChatModel":
        import llama_cpp

        try:
            llm = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx or 4096, n_gpu_layers=n_gpu_layers or 0,
                                  n_threads=n_threads, verbose=False)
        except Exception as exc:  # noqa: BLE001 - not a GGUF, truncated file
            raise UserError(f"cannot load chat model {path}: {exc}") from exc
        return cls(llm, llm.n_ctx())

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _prompt(self, messages: list[dict]) -> str:
        parts = []
        for m in messages:
            role = {"system": "System", "user": "User", "assistant": "Assistant"}.get(m["role"], m["role"])
            parts.append(f"{role}: {m['content']}")
        return "\n\n".join(parts) + "\n\nAssistant:"

    def chat(self, messages, *, max_tokens=512, temperature=0.7, seed=None, state=None, **sampling) -> ChatResult:
        prompt = self._prompt(messages)
        prompt_tokens = self.count_tokens(prompt)
        start = time.monotonic()
        first = None
        pieces: list[str] = []
        stopped = "length"
        stream = self.llm.create_completion(prompt, max_tokens=max_tokens, temperature=temperature, seed=seed,
                                            stream=True, stop=["\nUser:", "\nSystem:", "\nQuestion:"], **sampling)
        for event in stream:
            choice = event["choices"][0]
            piece = choice.get("text") or ""
            if piece:
                first = first or time.monotonic()
                pieces.append(piece)
                if state is not None:
                    state.partial(piece)
            if choice.get("finish_reason"):
                stopped = choice["finish_reason"]
            if state is not None and state.cancelled:
                stopped = "cancelled"
                break
        text = "".join(pieces)
        n = self.count_tokens(text) if text else 0
        elapsed = time.monotonic() - (first or start)
        return ChatResult(text, n, prompt_tokens, (first or time.monotonic()) - start,
                          n / elapsed if elapsed > 0 else 0.0, stopped)

    def close(self) -> None:
        llm, self.llm = self.llm, None
        if llm is not None:
            llm.close()
