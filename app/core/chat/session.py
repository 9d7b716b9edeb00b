"""The chat engine object the GUI and the CLI hold: one loaded model at a time, and the job functions that use it.

Every job here names RESOURCE ("chat-model"), so loading, replying and closing never overlap.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from app.core.chat.engine import RESOURCE, ChatModel, ChatResult, LoadInfo
from app.core.errors import UserError
from app.core.jobs import JobState

__all__ = ["RESOURCE", "ChatEngine", "LoadRequest", "ReplyRequest"]


@dataclass
class LoadRequest:
    path: str
    n_ctx: int | None = None
    gpu_layers: int | None = None  # None / -1: automatic
    threads: int | None = None
    context_cap: int = 8192
    flash_attn: bool = True
    use_mmap: bool = True
    template: str | None = None


@dataclass
class ReplyRequest:
    messages: list[dict]
    sampling: dict = field(default_factory=dict)  # ChatModel.chat keyword arguments
    policy: str = "truncate_middle"


class ChatEngine:
    """Holds the loaded ChatModel across jobs."""

    def __init__(self) -> None:
        self.model: ChatModel | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self.model is not None and not self.model.closed

    # ---- job functions: fn(inputs, state) -------------------------------------------------------------------
    def load(self, req: LoadRequest, state: JobState) -> LoadInfo:
        self.unload(None, state)
        model = ChatModel.load(req.path, n_ctx=req.n_ctx, n_gpu_layers=req.gpu_layers, n_threads=req.threads,
                               state=state, context_cap=req.context_cap, flash_attn=req.flash_attn,
                               use_mmap=req.use_mmap, template=req.template)
        with self._lock:
            self.model = model
        return model.load_info

    def reply(self, req: ReplyRequest, state: JobState) -> ChatResult:
        model = self.model
        if model is None or model.closed:
            raise UserError("No chat model is loaded. Choose one in the model picker first.")
        return model.chat(req.messages, state=state, policy=req.policy, **req.sampling)

    def set_template(self, template: str | None, _state: JobState | None = None) -> LoadInfo | None:
        if self.model is None:
            return None
        self.model.set_template(template)
        return self.model.load_info

    def unload(self, _inputs=None, _state: JobState | None = None) -> None:
        with self._lock:
            model, self.model = self.model, None
        if model is not None:
            model.close()
