"""The chat engine object the GUI and the CLI hold: one loaded model at a time, and the job functions that use it.

Every job here names RESOURCE ("chat-model"), so loading, replying and closing never overlap.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from app.core.chat import documents as chat_documents
from app.core.chat.documents import DocumentsRequest
from app.core.chat.llama import RESOURCE, ChatModel, ChatResult, LoadInfo
from app.core.errors import UserError
from app.core.jobs import JobState

__all__ = ["RESOURCE", "ChatEngine", "DocumentsRequest", "LoadRequest", "ReplyRequest"]


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
    documents: DocumentsRequest | None = None  # collections this reply may draw on (chat/documents.py)


class ChatEngine:
    """Holds the loaded ChatModel across jobs."""

    def __init__(self) -> None:
        self.model: ChatModel | None = None
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._close_pending = False
        # Figures of the reply in progress, read by the GUI's repaint timer (plain values: no widget access).
        self.live: dict = {}
        self._retriever = None  # documents retriever kept across turns (its store connection; embedders are
        self._retriever_root = None  # cached per process by documents.embedder)

    def close_when_idle(self, timeout: float = 3.0) -> bool:
        """Free the model (and the documents store) now if no job holds them within `timeout` s, else as soon as
        the running job ends (a token can take seconds on a busy machine). True when they were freed now."""
        self._close_pending = True
        if self._idle.wait(timeout):
            self._close()
            return True
        return False

    def _close(self) -> None:
        self.unload()
        self.release_documents()

    def wait_idle(self, timeout: float) -> bool:
        """True when no load/reply is running (or it stopped within `timeout` seconds)."""
        return self._idle.wait(timeout)

    @property
    def loaded(self) -> bool:
        return self.model is not None and not self.model.closed

    # ---- job functions: fn(inputs, state) -------------------------------------------------------------------
    def load(self, req: LoadRequest, state: JobState) -> LoadInfo:
        self._idle.clear()
        try:
            self.unload(None, state)
            model = ChatModel.load(req.path, n_ctx=req.n_ctx, n_gpu_layers=req.gpu_layers, n_threads=req.threads,
                                   state=state, context_cap=req.context_cap, flash_attn=req.flash_attn,
                                   use_mmap=req.use_mmap, template=req.template)
            with self._lock:
                self.model = model
            return model.load_info
        finally:
            self._idle.set()
            if self._close_pending:
                self._close()

    def reply(self, req: ReplyRequest, state: JobState) -> ChatResult:
        self._idle.clear()
        try:
            model = self.model
            if model is None or model.closed:
                raise UserError("No chat model is loaded. Choose one in the model picker first.")
            self.live = {"n_ctx": model.n_ctx}

            def on_prompt(prompt_tokens: int, reused: int) -> None:
                self.live = {"n_ctx": model.n_ctx, "prompt_tokens": prompt_tokens, "reused": reused}

            if req.documents is not None and req.documents.collections:
                self.live = {"n_ctx": model.n_ctx, "searching": True}
                return chat_documents.reply(model, req.messages, req.documents, state=state,
                                            retriever=self._documents_retriever(req.documents.root),
                                            policy=req.policy, on_prompt=on_prompt, **req.sampling)
            return model.chat(req.messages, state=state, policy=req.policy, on_prompt=on_prompt, **req.sampling)
        finally:
            self._idle.set()
            if self._close_pending:
                self._close()

    def _documents_retriever(self, root):
        from app.core.documents.retriever import Retriever

        if self._retriever is None or self._retriever_root != root:
            self.release_documents()
            self._retriever, self._retriever_root = Retriever(root=root), root
        return self._retriever

    def release_documents(self) -> None:
        retriever, self._retriever = self._retriever, None
        if retriever is not None:
            retriever.store.close()

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
