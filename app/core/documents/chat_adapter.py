"""The chat model an answer uses: the chat engine's `ChatModel` (app.core.chat.llama)."""

from __future__ import annotations

from pathlib import Path

from app.core.errors import UserError


def load_chat_model(path: str | Path, *, n_ctx: int | None = None, state=None):
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"chat model file {path} not found (give the path of a .gguf file, or install one in Models)")
    from app.core.chat.llama import ChatModel

    return ChatModel.load(str(path), n_ctx=n_ctx, state=state)
