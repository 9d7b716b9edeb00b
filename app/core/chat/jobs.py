"""Chat's entry: the engine object the GUI, the CLI (and the server) hold — one loaded model at a time — and the job
functions that use it.

    engine = ChatEngine()
    jobs.submit(Job(engine.load, LoadRequest.from_settings(path, settings.chat), resource=RESOURCE))
    jobs.submit(Job(engine.reply, ReplyRequest(messages, sampling), resource=RESOURCE))

Every job here names RESOURCE ("chat-model"), so loading, replying and closing never overlap: a second reply queues
behind the running one. A reply streams typed partials through state.partial: SearchingDocuments and
DocumentsFound (when collections are attached), PromptRead, then one Token per piece of text. The chat turn
around a reply (storing messages, branches, keeping a stopped reply) is conversation.py.

Images: a message may carry "images" (paths or bytes). A local model answers them through its paired projector
(vision/pairing.py finds it when the model loads: LoadInfo.extra["projector"]; the reply goes through
vision.chat.VisionChat on the same loaded llama.cpp model); a remote model gets them as image_url data URLs; a
text-only model is refused with vision.pairing.text_only_message.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

from app.core.chat.backend import ChatBackend, open_backend
from app.core.chat.citations import DocumentsUse
from app.core.chat.documents import DocumentsFound, DocumentsRequest, SearchingDocuments
from app.core.chat.llama import DEFAULT_CONTEXT_CAP, ChatResult, LoadInfo, PromptRead, Token
from app.core.errors import UserError
from app.core.jobs import Job, JobState

__all__ = ["RESOURCE", "ChatEngine", "ChatResult", "CompletionRequest", "DocumentsFound", "DocumentsRequest",
           "DocumentsUse", "LoadInfo", "LoadRequest", "PromptRead", "ReplyRequest", "SearchingDocuments", "Token"]

RESOURCE = "chat-model"  # every job that uses the loaded ChatModel names this resource


@dataclass
class LoadRequest:
    """What to load and how. n_ctx None: the model's own context length capped by context_cap (tokens);
    gpu_layers None or -1: as many as fit; threads None: physical cores; template None: the GGUF's own."""

    path: str
    n_ctx: int | None = None
    gpu_layers: int | None = None
    threads: int | None = None
    context_cap: int = DEFAULT_CONTEXT_CAP
    flash_attn: bool = True
    use_mmap: bool = True
    template: str | None = None
    prompt_lookup: bool = False  # load with the prompt-lookup draft model (used for document answers)

    @classmethod
    def from_settings(cls, path, chat, **overrides) -> "LoadRequest":
        """The request for `path` under a ChatSettings section (context length, GPU layers, threads, cap, flash
        attention, mmap, the template chosen for this file). `overrides` that are not None win."""
        path = str(path)
        values = dict(n_ctx=chat.context_length or None, gpu_layers=None if chat.gpu_layers < 0 else chat.gpu_layers,
                      threads=chat.threads or None, context_cap=chat.context_cap, flash_attn=chat.flash_attn,
                      use_mmap=chat.use_mmap, template=chat.templates.get(path),
                      prompt_lookup=chat.prompt_lookup)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(path=path, **values)


@dataclass
class ReplyRequest:
    """One reply to `messages` ([{"role", "content"}], system first when there is one).

    `sampling`: ChatModel.chat keyword arguments (temperature, top_p, top_k, min_p, repeat_penalty, max_tokens,
    seed — presets.Sampling.kwargs()); `policy`: what to do when the history does not fit (context.py); `stop`:
    extra stop strings; `grammar`: GBNF text constraining the output (JSON mode); `documents`: collections the
    reply answers from, citing them."""

    messages: list[dict]
    sampling: dict = field(default_factory=dict)
    policy: str = "truncate_middle"
    documents: DocumentsRequest | None = None
    stop: list[str] = field(default_factory=list)
    grammar: str | None = None
    tools: list[dict] | None = None  # OpenAI function definitions, for a template that takes them


@dataclass
class CompletionRequest:
    """Raw text to continue (no chat template: OpenAI's legacy completions), with ChatModel.complete's sampling
    keyword arguments, stop strings and an output grammar (GBNF)."""

    prompt: str
    sampling: dict = field(default_factory=dict)
    stop: list[str] = field(default_factory=list)
    grammar: str | None = None


class ChatEngine:
    """Holds the loaded chat backend — a local ChatModel or a RemoteChatModel (backend.py) — and the documents
    retriever across jobs. Its job methods are `fn(inputs, state)` and must run under RESOURCE; the other methods
    are safe from any thread. Listeners (add_listener) hear of every load and unload, from the job's thread."""

    def __init__(self) -> None:
        self.model: ChatBackend | None = None
        self._listeners: list = []
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._close_pending = False
        self._vision = None  # vision.chat.VisionChat over the loaded model, made on the first image
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
        """A model is loaded and not closed."""
        return self.model is not None and not self.model.closed

    @property
    def loaded_path(self) -> str:
        """The loaded model's path (or remote reference); "" when none is loaded."""
        model = self.model
        return str(model.load_info.path) if model is not None and not model.closed else ""

    def add_listener(self, fn) -> None:
        """Call `fn(LoadInfo)` after each load and `fn(None)` after an unload (on the job's thread): the Chat tab
        follows a model the server loaded."""
        self._listeners.append(fn)

    def remove_listener(self, fn) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def _tell(self, info) -> None:
        for fn in list(self._listeners):
            fn(info)

    def load_job(self, req: LoadRequest) -> Job:
        """The Job that loads `req` (named after the file, on RESOURCE)."""
        return Job(self.load, req, name=f"Load {Path(req.path).name}", resource=RESOURCE)

    def reply_job(self, req: ReplyRequest, name: str = "Chat reply") -> Job:
        """The Job that makes one reply (on RESOURCE: it queues behind a running load or reply)."""
        return Job(self.reply, req, name=name, resource=RESOURCE)

    # ---- job functions: fn(inputs, state) -------------------------------------------------------------------
    def load(self, req: LoadRequest, state: JobState) -> LoadInfo:
        """Job: unload the current model and load `req.path` (a GGUF, or a "remote:CONNECTION/MODEL" reference:
        backend.open_backend). Raises UserError (not a GGUF, damaged, unknown architecture, too big for this
        computer; server down, key refused, model gone) or JobCancelled; the previous model is gone either way."""
        self._idle.clear()
        try:
            self.unload(None, state)
            model = open_backend(req, state)
            _pair_projector(model)
            with self._lock:
                self.model = model
            self._tell(model.load_info)
            return model.load_info
        finally:
            self._idle.set()
            if self._close_pending:
                self._close()

    def ensure(self, req: LoadRequest, state: JobState) -> LoadInfo:
        """Job step: load `req` unless that model is already the loaded one. Returns its LoadInfo."""
        model = self.model
        if model is not None and not model.closed and str(model.load_info.path) == str(req.path):
            return model.load_info
        return self.load(req, state)

    def complete(self, req: CompletionRequest, state: JobState) -> ChatResult:
        """Job: continue `req.prompt` with the loaded local model (ChatModel.complete). Raises UserError when no
        model is loaded, or the loaded one is remote."""
        self._idle.clear()
        try:
            model = self._need_model()
            if not hasattr(model, "complete"):
                raise UserError("Text completion needs a model loaded on this computer.")
            return model.complete(req.prompt, state=state, stop=req.stop, grammar=req.grammar, **req.sampling)
        finally:
            self._idle.set()
            if self._close_pending:
                self._close()

    @property
    def accepts_images(self) -> bool:
        """The loaded model can be asked about images: a local model with a paired projector, or a remote one
        (its server decides)."""
        model = self.model
        if model is None or model.closed:
            return False
        extra = model.load_info.extra
        return bool(extra.get("remote") or extra.get("projector"))

    def check_images(self, messages: list[dict]) -> None:
        """UserError (the text-only sentence) when `messages` carry images the loaded model cannot read (the GUI
        and CLI check the message about to be sent before storing it)."""
        if any(m.get("images") for m in messages) and not self.accepts_images:
            from app.core.vision.pairing import text_only_message

            model = self.model
            raise UserError(text_only_message(model.load_info.name if model is not None else ""))

    def _need_model(self):
        model = self.model
        if model is None or model.closed:
            raise UserError("No chat model is loaded. Choose one in the model picker first.")
        return model

    def reply(self, req: ReplyRequest, state: JobState) -> ChatResult:
        """Job: one reply with the loaded model, answering from `req.documents` when given. Streams partials
        (module docstring); cancelling keeps what came (result.stopped == "cancelled"). Raises UserError when no
        model is loaded or the conversation is empty."""
        self._idle.clear()
        try:
            model = self._need_model()
            if any(m.get("images") for m in req.messages):
                if self.accepts_images and not model.load_info.extra.get("remote"):
                    return self._vision_reply(model, req, state)
                if not self.accepts_images:  # earlier images are left out; the new message's are refused
                    self.check_images(req.messages[-1:])
                    req = replace(req, messages=[{k: v for k, v in m.items() if k != "images"}
                                                 for m in req.messages])
            sampling = {**req.sampling, "stop": req.stop, "grammar": req.grammar}
            if req.tools:
                sampling["tools"] = req.tools
            if req.documents is not None and req.documents.collections:
                from app.core.chat import documents

                return documents.reply(model, req.messages, req.documents, state=state,
                                       retriever=self._documents_retriever(req.documents.root),
                                       policy=req.policy, **sampling)
            return model.chat(req.messages, state=state, policy=req.policy, **sampling)
        finally:
            self._idle.set()
            if self._close_pending:
                self._close()

    def _vision_reply(self, model, req: ReplyRequest, state: JobState) -> ChatResult:
        """A reply with images from the loaded local model and its projector (attached on first use)."""
        from app.core.vision.chat import VisionChat

        vision = self._vision
        if vision is None or vision.model is not model:
            vision = self._vision = VisionChat.over(model, model.load_info.extra["projector"])
        keys = ("max_tokens", "temperature", "seed", "top_p", "top_k", "min_p", "repeat_penalty")
        result = vision.reply(req.messages, stop=req.stop, state=state,
                              **{k: v for k, v in req.sampling.items() if k in keys and v is not None})
        return ChatResult(text=result.text, completion_tokens=result.completion_tokens,
                          prompt_tokens=result.prompt_tokens, ttft_s=result.ttft_s, tokens_per_s=result.tokens_per_s,
                          stopped=result.stopped, n_ctx=model.n_ctx, seconds=result.seconds)

    def _documents_retriever(self, root):
        from app.core.documents.retriever import Retriever

        if self._retriever is None or self._retriever_root != root:
            self.release_documents()
            self._retriever, self._retriever_root = Retriever(root=root), root
        return self._retriever

    def release_documents(self) -> None:
        """Close the documents store connection held for replies with collections."""
        retriever, self._retriever = self._retriever, None
        if retriever is not None:
            retriever.store.close()

    def set_template(self, template: str | None, _state: JobState | None = None) -> LoadInfo | None:
        """Job: render later prompts with another chat template ("auto", "gemma", "chatml", … or Jinja text).
        Returns the updated LoadInfo, or None when no model is loaded."""
        if self.model is None:
            return None
        self.model.set_template(template)
        return self.model.load_info

    def unload(self, _inputs=None, _state: JobState | None = None) -> None:
        """Job: free the loaded model (no-op when none is)."""
        with self._lock:
            model, self.model = self.model, None
            self._vision = None
        if model is not None:
            model.close()
            self._tell(None)


def _pair_projector(model) -> None:
    """Record a local model's projector in its LoadInfo (extra["projector"]: the mmproj path) when it has one."""
    if model.load_info.extra.get("remote"):
        return
    from app.core.vision.pairing import find_projector

    try:
        projector = find_projector(model.load_info.path)
    except (UserError, OSError):
        projector = None
    if projector is not None:
        model.load_info.extra["projector"] = str(projector.path)
