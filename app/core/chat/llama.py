"""The chat engine: a GGUF model loaded through llama-cpp-python, and chat turns streamed from it.

    model = ChatModel.load(path, n_ctx=2048, state=state)     # UserError with a clear message on bad files
    result = model.chat([{"role": "user", "content": "Hi"}], max_tokens=128, state=state)
    # state.partial gets PromptRead once, then a Token per piece of text; state.cancel() stops the reply (what
    # came is kept)

The prompt is rendered from the model's chat template (or a built-in one, templates.py), fitted into the context
window by the overflow policy (context.py), tokenized once — control tokens only where the template put them,
message text always plain (prompt.py) — and streamed with create_completion(stream=True). llama.cpp's own prefix
matching keeps the KV cache of the unchanged history between turns.
No Qt here; llama_cpp is imported only when a model is loaded.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from app.core import devices
from app.core.chat import context as ctxpolicy
from app.core.chat import gguf_info, templates
from app.core.chat.prompt import PromptTokenizer
from app.core.errors import JobCancelled, UserError
from app.core.jobs import JobState
from app.core.units import format_bytes

log = logging.getLogger(__name__)

RESOURCE = "chat-model"  # every job that uses a loaded ChatModel names this resource
DEFAULT_CONTEXT_CAP = 8192
PLD_NGRAM = 3  # prompt-lookup decoding: the longest n-gram matched in the prompt …
PLD_TOKENS = 10  # … and how many tokens after the match are drafted

_load_lock = threading.Lock()
_llama_log: deque[str] = deque(maxlen=80)
_log_callback = None  # keeps the ctypes callback alive


def install_llama_logging():
    """Route llama.cpp's C logging to Python logging (not the terminal) and remember the last lines for error
    messages (recent_native_log). Idempotent. Returns the ctypes log callback (see route_native_log)."""
    global _log_callback
    if _log_callback is not None:
        return _log_callback
    import ctypes

    import llama_cpp

    llama_logger = logging.getLogger("llama.cpp")

    @llama_cpp.llama_log_callback
    def _cb(level, text, _user):  # noqa: ANN001 - ctypes signature
        try:
            line = text.decode("utf-8", errors="replace").rstrip()
        except Exception:
            return
        if line:
            _llama_log.append(line)
            if level in (2, 3):
                llama_logger.debug("%s", line)

    llama_cpp.llama_log_set(_cb, ctypes.c_void_p(0))
    _log_callback = _cb
    return _cb


def route_native_log(set_log) -> None:
    """Send another ggml library's C log through llama.cpp's routing: `set_log(callback, user_data)` is that
    library's setter, e.g. llama_cpp.mtmd_cpp.mtmd_log_set for libmtmd (vision projectors)."""
    import ctypes

    set_log(install_llama_logging(), ctypes.c_void_p(0))


def clear_native_log() -> None:
    """Forget the remembered log lines (before a step whose failure they should explain)."""
    _llama_log.clear()


def recent_native_log() -> list[str]:
    """The last lines (at most 80) llama.cpp and the libraries routed to it logged, oldest first."""
    return list(_llama_log)


@contextlib.contextmanager
def stderr_to_log(what: str):
    """llama-cpp-python prints to sys.stderr when verbose (load notes, the rendered prompt): keep it in the debug
    log under `what` instead of the terminal."""
    buf = io.StringIO()
    try:
        with contextlib.redirect_stderr(buf):
            yield
    finally:
        if buf.getvalue():
            log.debug("%s:\n%s", what, buf.getvalue()[-4000:])


@dataclass(frozen=True)
class Token:
    """Partial: the text of one generated token (never empty; a multi-byte character may span tokens and then
    arrives with the token that completes it)."""

    text: str


@dataclass(frozen=True)
class PromptRead:
    """Partial, sent once before the first Token: the prompt's length in tokens, how many of them the KV cache
    already held (prefix reuse: not evaluated again), and the context size."""

    prompt_tokens: int
    reused_tokens: int
    n_ctx: int


@dataclass
class ChatResult:
    """A finished (or stopped) reply. Times in seconds; tokens_per_s counts from the first token on."""

    text: str
    completion_tokens: int
    prompt_tokens: int
    ttft_s: float
    tokens_per_s: float
    stopped: str  # "eos" | "length" | "cancelled" | "stop"
    n_ctx: int = 0
    dropped_messages: int = 0
    shortened_messages: int = 0
    reused_tokens: int = 0  # prompt tokens already in the KV cache (prefix reuse)
    seconds: float = 0.0
    documents: object | None = None  # chat.citations.DocumentsUse when the reply drew on collections

    @property
    def context_used(self) -> int:
        """Tokens of the context window this exchange fills (prompt + reply)."""
        return self.prompt_tokens + self.completion_tokens

    @property
    def note(self) -> str:
        """What the context policy did to fit the history ("" when it fitted as it was)."""
        return ctxpolicy.Fitted([], 0, self.dropped_messages, self.shortened_messages).note

    def to_dict(self) -> dict:
        """JSON-ready figures (what `hearth chat --json` prints and a stored reply's info holds)."""
        return {"text": self.text, "tokens": self.completion_tokens, "completion_tokens": self.completion_tokens,
                "prompt_tokens": self.prompt_tokens, "ttft_s": round(self.ttft_s, 4),
                "tokens_per_s": round(self.tokens_per_s, 2), "stopped": self.stopped, "n_ctx": self.n_ctx,
                "dropped_messages": self.dropped_messages, "shortened_messages": self.shortened_messages,
                "reused_tokens": self.reused_tokens,
                **({"documents": self.documents.to_json()} if self.documents is not None else {})}


@dataclass
class Streamed:
    """What stream_tokens read: the pieces of text, when the first came (time.perf_counter) and why it ended
    (llama-cpp-python's finish_reason: "stop", "length"; "cancelled"; None when the stream just ended)."""

    pieces: list[str]
    first: float | None
    finish: str | None

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def stopped(self) -> str:
        """ChatResult.stopped: "eos" (end of turn or a stop string), "length" or "cancelled"."""
        return {"stop": "eos"}.get(self.finish or "", self.finish or "eos")

    def tokens_per_s(self, generated: int, end: float) -> float:
        """Generation speed from the first piece to `end` (perf_counter) for `generated` tokens."""
        first = self.first or end
        return (generated - 1) / (end - first) if generated > 1 and end > first else 0.0


def stream_tokens(stream, state: JobState) -> Streamed:
    """Drain a llama-cpp-python stream (create_completion or create_chat_completion with stream=True): each piece
    of text goes to state.partial as a Token; state.cancelled ends it after the current piece. The stream is
    closed in any case."""
    pieces: list[str] = []
    partial = state.partial
    first = None
    finish = None
    try:
        for chunk in stream:
            choice = chunk["choices"][0]
            piece = choice["text"] if "text" in choice else (choice.get("delta") or {}).get("content") or ""
            if piece:
                if first is None:
                    first = time.perf_counter()
                pieces.append(piece)
                partial(Token(piece))
            if choice.get("finish_reason"):
                finish = choice["finish_reason"]
            if state.cancelled:
                finish = "cancelled"
                break
    finally:
        stream.close()
    return Streamed(pieces, first, finish)


@dataclass
class LoadInfo:
    """What the GUI shows about a loaded model. Sizes in bytes, contexts in tokens, load_s in seconds."""

    path: str
    name: str
    architecture: str
    quantization: str | None
    size_bytes: int
    n_ctx: int
    n_ctx_train: int | None
    gpu_layers: int  # layers offloaded (0: CPU only)
    block_count: int
    n_threads: int
    flash_attn: bool
    template: str
    load_s: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def where(self) -> str:
        """Where it runs: "CPU, 8 threads", "GPU (all layers)", "GPU 20/32 layers + CPU", or "on CONNECTION (host)"
        for a model on another server."""
        if self.extra.get("remote"):
            from urllib.parse import urlparse

            return f"on {self.extra['remote']} ({urlparse(self.extra.get('url', '')).netloc})"
        if self.gpu_layers <= 0:
            return f"CPU, {self.n_threads} threads"
        if self.block_count and self.gpu_layers >= self.block_count:
            return "GPU (all layers)"
        return f"GPU {self.gpu_layers}/{self.block_count} layers + CPU"


def _gpu_free_bytes() -> int:
    info = devices.detect()
    if not info.gpus:
        return 0
    gpu = info.gpus[0]
    if gpu.kind == "metal":
        return int((gpu.memory_bytes or 0) * 0.65)
    out = devices._run(["nvidia-smi", "--query-gpu=memory.free", "--format=csv,noheader,nounits"])
    try:
        return int(float(out.splitlines()[0].strip())) * 2**20
    except (ValueError, IndexError):
        return int(gpu.memory_bytes or 0)


def plan_gpu_layers(info: gguf_info.GGUFInfo, n_ctx: int, requested: int | None,
                    offload_supported: bool, free_vram: int | None = None) -> int:
    """Layers to offload to the GPU: the user's number (`requested`), else all (+1: the output layer) when the
    model's memory_needed(n_ctx) fits 90 % of the free VRAM (bytes; None: asked of nvidia-smi / Metal), else as
    many layers as fit beside the KV cache and compute buffer. 0 without a GPU build."""
    layers = info.block_count
    if not offload_supported:
        return 0
    if requested is not None and requested >= 0:
        return min(requested, layers + 1) if layers else requested
    free = _gpu_free_bytes() if free_vram is None else free_vram
    usable = free * 0.9
    if info.memory_needed(n_ctx) <= usable:
        return layers + 1  # +1: the output layer too
    per_layer = info.data_size / max(1, layers + 1)
    room = usable - info.kv_cache_bytes(n_ctx) - info.compute_buffer_bytes(min(512, n_ctx))
    return max(0, min(layers, int(room // per_layer))) if per_layer > 0 else 0


def check_fits(info: gguf_info.GGUFInfo, n_ctx: int, gpu_layers: int, available_ram: int | None = None,
               free_vram: int | None = None) -> None:
    """Refuse, before loading, a model that cannot fit in memory: UserError when memory_needed(n_ctx) exceeds the
    available RAM (plus the free VRAM when layers go to the GPU), in bytes; None: measured here."""
    need = info.memory_needed(n_ctx)
    ram = devices.ram_bytes() if available_ram is None else available_ram
    if available_ram is None:
        with contextlib.suppress(Exception):
            import psutil

            ram = int(psutil.virtual_memory().available)
    vram = 0
    if gpu_layers > 0:
        vram = _gpu_free_bytes() if free_vram is None else free_vram
    have = ram + vram
    if ram and need > have:
        raise UserError(
            f"{info.path.name} will not fit in memory: with a context of {n_ctx} tokens it needs about "
            f"{format_bytes(need)}, and this computer has {format_bytes(have)} free"
            f"{' (RAM + GPU)' if vram else ''}. Choose a smaller quantization (for example Q4_K_M), "
            "a smaller model, or a shorter context length.")


class _ProgressLlama:
    """Built lazily: a llama_cpp.Llama subclass whose model loading reports progress and can be aborted."""

    cls = None

    @classmethod
    def get(cls):
        if cls.cls is None:
            import llama_cpp

            class ProgressLlama(llama_cpp.Llama):
                def __init__(self, *args, hearth_progress=None, **kwargs):
                    self._hearth_progress = hearth_progress
                    super().__init__(*args, **kwargs)

                # Llama.__init__ assigns self.model_params = llama_model_default_params() and then loads the
                # model with it; this setter adds the progress callback to that struct on the way in.
                @property
                def model_params(self):
                    return self.__dict__["_hearth_model_params"]

                @model_params.setter
                def model_params(self, params):
                    callback = self.__dict__.get("_hearth_progress")
                    if callback is not None:
                        params.progress_callback = callback
                    self.__dict__["_hearth_model_params"] = params

            cls.cls = ProgressLlama
        return cls.cls


class ChatModel:
    """A GGUF model loaded with llama-cpp-python (github.com/abetlen/llama-cpp-python, over llama.cpp), its chat
    template and context size. One chat() at a time (a lock; jobs using it name chat.jobs.RESOURCE)."""

    def __init__(self, llm, info: gguf_info.GGUFInfo, load_info: LoadInfo, template: templates.ChatTemplate) -> None:
        self._llm = llm
        self.info = info
        self.load_info = load_info
        self.n_ctx: int = int(llm.n_ctx())
        self.path = info.path
        self._lock = threading.Lock()
        self._bos_id = llm.token_bos()
        self._eos_id = llm.token_eos()
        self._add_bos = bool(llm._model.add_bos_token())
        self._prompt = PromptTokenizer(llm, self._bos_id, self._add_bos)
        self._draft = getattr(llm, "draft_model", None)  # the prompt-lookup draft model when loaded with one
        llm.draft_model = None  # … on only for the replies that ask for it (chat(draft=True))
        self.set_template(template)

    # ---- loading -----------------------------------------------------------------------------------------------
    @classmethod
    def load(cls, path, *, n_ctx: int | None = None, n_gpu_layers: int | None = None, n_threads: int | None = None,
             state: JobState | None = None, context_cap: int = DEFAULT_CONTEXT_CAP, flash_attn: bool = True,
             use_mmap: bool = True, template: str | None = None, check_memory: bool = True,
             prompt_lookup: bool = False) -> "ChatModel":
        """Load a GGUF. n_ctx None: the model's context length capped by `context_cap`. n_gpu_layers None or -1:
        automatic. `prompt_lookup`: load with llama-cpp-python's LlamaPromptLookupDecoding draft model (Saxena,
        "Prompt Lookup Decoding", 2023: drafts are n-grams copied from the prompt, checked in one batch), used by
        replies that ask for it (chat(draft=True): document answers, which quote their sources); it needs logits
        for every token, n_ctx × vocabulary floats of memory (~2.5 GB for Qwen2.5 at 4096). Raises UserError (bad
        file, unknown architecture, will not fit) or JobCancelled."""
        state = state or JobState()
        path = Path(path).expanduser()
        state.progress(0.0, f"Reading {path.name}")
        info = gguf_info.read(path)
        if info.architecture == "clip" or info.get("general.type") == "mmproj":
            raise UserError(f"{path.name} is an image projector (mmproj), not a language model. Choose the vision "
                            "model's own .gguf file; Hearth pairs the projector beside it.")
        trained = info.context_length
        if n_ctx is None or n_ctx <= 0:
            n_ctx = min(trained or 4096, context_cap)
        n_ctx = max(64, int(n_ctx))
        n_threads = n_threads or devices.physical_cores()

        import llama_cpp

        install_llama_logging()
        supported = bool(llama_cpp.llama_supports_gpu_offload())
        gpu_layers = plan_gpu_layers(info, n_ctx, None if n_gpu_layers in (None, -1) else n_gpu_layers, supported)
        if check_memory:
            check_fits(info, n_ctx, gpu_layers)
        state.check()

        @llama_cpp.llama_progress_callback
        def on_progress(fraction, _user):
            if state.cancelled:
                return False
            state.progress(0.05 + 0.9 * float(fraction), f"Loading {path.name}")
            return True

        cls_ = _ProgressLlama.get()
        started = time.perf_counter()
        kwargs = dict(n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads, n_gpu_layers=gpu_layers,
                      use_mmap=use_mmap, flash_attn=flash_attn, verbose=True, hearth_progress=on_progress)
        if prompt_lookup:  # the draft is switched on per reply (chat(draft=True)); logits_all is what it needs
            from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

            kwargs.update(draft_model=LlamaPromptLookupDecoding(max_ngram_size=PLD_NGRAM,
                                                                num_pred_tokens=PLD_TOKENS), logits_all=True)
        with _load_lock:
            clear_native_log()
            llm = None
            try:
                llm = cls._construct(cls_, str(path), kwargs)
            except ValueError as exc:
                if state.cancelled:
                    raise JobCancelled() from None
                if flash_attn and "context" in str(exc).lower():
                    kwargs["flash_attn"] = False  # this backend cannot do flash attention: retry without
                    flash_attn = False
                    llm = cls._construct(cls_, str(path), kwargs, info)
                else:
                    raise cls._load_error(info, exc) from None
        if state.cancelled:
            llm.close()
            raise JobCancelled()
        llm.verbose = False  # from here on, no prints to stderr (load ran verbose to avoid fd redirection)
        chosen = templates.choose(info.architecture, info.chat_template, template, info.vocab_size)
        load_info = LoadInfo(path=str(path), name=info.name, architecture=info.architecture,
                             quantization=info.quantization, size_bytes=info.file_size, n_ctx=int(llm.n_ctx()),
                             n_ctx_train=trained, gpu_layers=min(gpu_layers, info.block_count + 1) if gpu_layers else 0,
                             block_count=info.block_count, n_threads=n_threads, flash_attn=flash_attn,
                             template=chosen.label, load_s=time.perf_counter() - started)
        state.progress(1.0, f"Loaded {path.name}")
        return cls(llm, info, load_info, chosen)

    @staticmethod
    def _construct(cls_, path: str, kwargs: dict, info=None):
        with stderr_to_log("llama-cpp-python load output"):
            return cls_(path, **kwargs)

    @staticmethod
    def _load_error(info: gguf_info.GGUFInfo, exc: Exception) -> UserError:
        lines = recent_native_log()
        text = "\n".join(lines)
        name = info.path.name
        if "unknown model architecture" in text:
            return UserError(
                f"{name} is a '{info.architecture}' model, an architecture this version of llama.cpp "
                f"(llama-cpp-python {_llama_version()}) does not know. Update Hearth, or choose a model of a "
                "supported family (Llama, Gemma, Qwen, Mistral, Phi …).")
        errors = [ln for ln in lines if "error" in ln.lower() or "failed" in ln.lower()]
        detail = errors[-1].strip() if errors else str(exc)
        return UserError(f"llama.cpp could not load {name}: {detail}. The file may be damaged or made for a "
                         "newer llama.cpp; download it again or choose another model.")

    # ---- templates and tokens ----------------------------------------------------------------------------------
    def set_template(self, template: templates.ChatTemplate | str | None) -> None:
        """Render prompts with `template`: a ChatTemplate, a built-in key ("gemma", "chatml", "llama3", "mistral",
        "phi3"), Jinja text, or None / "auto" for the GGUF's own (else its architecture's)."""
        if not isinstance(template, templates.ChatTemplate):
            template = templates.choose(self.info.architecture, self.info.chat_template, template,
                                        self.info.vocab_size)
        bos = self._token_text(self._bos_id)
        eos = self._token_text(self._eos_id)
        self.renderer = templates.Renderer(template, bos, eos)
        self.template = template
        self.load_info.template = template.label

    def _token_text(self, token: int) -> str:
        if token is None or token < 0:
            return ""
        with contextlib.suppress(Exception):
            return self._llm._model.token_get_text(token)
        return ""

    def tokenize(self, text: str, special: bool = True) -> list[int]:
        """Token ids of `text` (a rendered prompt); with `special`, markers such as <start_of_turn> are single
        tokens and BOS is put first when the model wants it."""
        tokens = self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=special)
        if self._add_bos and self._bos_id >= 0 and (not tokens or tokens[0] != self._bos_id) and special:
            tokens = [self._bos_id] + tokens
        return tokens

    def count_tokens(self, text: str) -> int:
        """Tokens of plain `text` (no special tokens, no BOS): for budgeting passages."""
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    @property
    def supports_tools(self) -> bool:
        """The chat template takes function definitions (`tools`), as Qwen's, Llama 3.1's or Mistral's do."""
        return templates.supports_tools(self.template)

    def render(self, messages: list[dict], tools: list[dict] | None = None) -> tuple[str, list[str]]:
        """The prompt text for `messages` (ending with the assistant's turn opening), with the function
        definitions `tools` when given, and the template's stop strings."""
        return self.renderer.render(messages, tools)

    def prompt_tokens(self, messages: list[dict], tools: list[dict] | None = None) -> list[int]:
        """The token ids chat() sends for `messages` (unfitted) and `tools`: the template's markers as control
        tokens, every message's text as plain text — `<end_of_turn>` typed by a user stays seven ordinary tokens."""
        segments, _ = self.renderer.segments(messages, tools)
        return self._prompt.tokens(segments)

    def count_messages(self, messages: list[dict], tools: list[dict] | None = None) -> int:
        """Prompt tokens `messages` (and `tools`) take once rendered with the chat template (exactly what chat()
        sends)."""
        return len(self.prompt_tokens(messages, tools))

    def fit(self, messages: list[dict], max_tokens: int, policy: str = "truncate_middle",
            tools: list[dict] | None = None) -> ctxpolicy.Fitted:
        """`messages` fitted into the context window less the reply's reserve (context.fit), `tools` counted.
        Raises ContextFull under the "stop" policy."""
        budget = self.n_ctx - ctxpolicy.reserve_for_reply(self.n_ctx, max_tokens)
        count = (lambda msgs: self.count_messages(msgs, tools)) if tools else self.count_messages
        return ctxpolicy.fit(messages, budget, count, policy, self.n_ctx)

    # ---- generation --------------------------------------------------------------------------------------------
    def chat(self, messages: list[dict], *, max_tokens: int = 512, temperature: float = 0.7, seed: int | None = None,
             state: JobState | None = None, policy: str = "truncate_middle", top_p: float = 0.95, top_k: int = 40,
             min_p: float = 0.05, repeat_penalty: float = 1.0, stop: list[str] | None = None,
             grammar: str | None = None, tools: list[dict] | None = None, draft: bool = False,
             **_ignored) -> ChatResult:
        """Stream a reply to `messages` ([{"role": "system"|"user"|"assistant", "content": str}, ...]; with
        `tools` also "tool" messages and assistant "tool_calls").

        The history is fitted into the context window by `policy` (context.py) leaving room for `max_tokens`;
        `stop` strings end the reply (the template's end-of-turn tokens always do); `grammar` (GBNF text, e.g.
        from llama_cpp.llama_grammar.json_schema_to_gbnf) constrains the output; `tools` (OpenAI function
        definitions) are rendered by a template that takes them (supports_tools; the reply then may hold the
        model's tool-call markup, see tools.py); `seed` None draws a random one; temperature 0 is greedy;
        `draft`: use the prompt-lookup draft model when the model was loaded with one (load(prompt_lookup=True)).
        state.partial gets PromptRead, then a Token per piece of text; state.cancel()
        stops the reply, keeping what came (stopped == "cancelled"). Returns the whole reply. Raises UserError on
        an empty conversation, a closed model or a grammar llama.cpp cannot parse."""
        if not messages:
            raise UserError("There is nothing to answer: the conversation is empty.")
        state = state or JobState()
        with self._lock:
            if self._llm is None:
                raise UserError("The chat model was closed. Load it again.")
            fitted = self.fit(messages, max_tokens, policy, tools)
            segments, template_stops = self.renderer.segments(fitted.messages, tools)
            tokens = self._prompt.tokens(segments)
            stops, stop_ids = self._prompt.stops(template_stops)
            limit = self.n_ctx - 1
            if len(tokens) > limit - 1:  # last resort; fit() normally prevents this
                keep_head = min(len(tokens) // 4, limit // 4)
                tokens = tokens[:keep_head] + tokens[len(tokens) - (limit - 1 - keep_head):]
            room = self.n_ctx - len(tokens)
            max_new = max(1, min(int(max_tokens), room - 1))
            sampling = dict(temperature=temperature, top_p=top_p, top_k=top_k, min_p=min_p,
                            repeat_penalty=repeat_penalty, seed=seed)
            if grammar:
                sampling["grammar"] = self._grammar(grammar)
            self._llm.draft_model = self._draft if draft else None
            try:
                return self._stream(tokens, stops + list(stop or []), stop_ids, max_new, fitted, state, sampling)
            finally:
                self._llm.draft_model = None

    def complete(self, prompt: str, *, max_tokens: int = 16, temperature: float = 0.7, seed: int | None = None,
                 state: JobState | None = None, top_p: float = 0.95, top_k: int = 40, min_p: float = 0.05,
                 repeat_penalty: float = 1.0, stop: list[str] | None = None, grammar: str | None = None,
                 **_ignored) -> ChatResult:
        """Continue raw `prompt` text (no chat template): OpenAI's legacy completions. Same sampling, partials and
        result as chat(). Raises ContextFull when the prompt leaves no room in the context window."""
        state = state or JobState()
        with self._lock:
            if self._llm is None:
                raise UserError("The chat model was closed. Load it again.")
            tokens = self.tokenize(prompt)
            if len(tokens) >= self.n_ctx - 1:
                raise ctxpolicy.ContextFull(
                    f"The prompt is {len(tokens)} tokens; the model's context window holds {self.n_ctx}, with "
                    "room for the reply. Shorten the prompt.")
            max_new = max(1, min(int(max_tokens), self.n_ctx - len(tokens) - 1))
            sampling = dict(temperature=temperature, top_p=top_p, top_k=top_k, min_p=min_p,
                            repeat_penalty=repeat_penalty, seed=seed)
            if grammar:
                sampling["grammar"] = self._grammar(grammar)
            return self._stream(tokens, list(stop or []), set(), max_new, ctxpolicy.Fitted([], len(tokens)),
                                state, sampling)

    def _stream(self, tokens, stops, stop_ids, max_new, fitted, state, sampling) -> ChatResult:
        llm = self._llm
        reused = 0
        cached = llm.n_tokens
        if cached:
            ids = llm._input_ids
            for a, b in zip(ids[:cached], tokens):
                if a != b:
                    break
                reused += 1
        state.partial(PromptRead(len(tokens), reused, self.n_ctx))
        generated = 0

        prompt_len = len(tokens)

        def count(ids, _logits) -> bool:  # counts every token; ends the reply after a template's stop token
            nonlocal generated
            generated += 1
            return len(ids) > prompt_len and int(ids[-1]) in stop_ids

        if sampling["temperature"] <= 0:
            sampling["temperature"] = 0.0
        if sampling["seed"] is None:
            sampling["seed"] = int.from_bytes(os.urandom(4), "little")
        import llama_cpp

        start = time.perf_counter()
        stream = llm.create_completion(tokens, max_tokens=max_new, stream=True, stop=stops or None,
                                       stopping_criteria=llama_cpp.StoppingCriteriaList([count]), **sampling)
        streamed = stream_tokens(stream, state)
        end = time.perf_counter()
        stopped = streamed.stopped
        if stopped in ("eos", "length") and generated:
            generated -= 1  # the criterion also saw the end-of-turn token / the one past max_tokens
        return ChatResult(text=streamed.text, completion_tokens=generated, prompt_tokens=len(tokens),
                          ttft_s=(streamed.first or end) - start, tokens_per_s=streamed.tokens_per_s(generated, end),
                          stopped=stopped, n_ctx=self.n_ctx,
                          dropped_messages=fitted.dropped, shortened_messages=fitted.shortened,
                          reused_tokens=reused, seconds=end - start)

    def _grammar(self, text: str):
        """A llama_cpp.LlamaGrammar for GBNF `text`, parsed once here first: llama-cpp-python would crash on a
        grammar llama.cpp cannot parse. Raises UserError for one."""
        import llama_cpp

        sampler = llama_cpp.llama_sampler_init_grammar(self._llm._model.vocab, text.encode("utf-8"), b"root")
        if not sampler:
            raise UserError("The grammar cannot be used: llama.cpp could not parse it (GBNF, with a `root` rule).")
        llama_cpp.llama_sampler_free(sampler)
        return llama_cpp.LlamaGrammar.from_string(text, verbose=False)

    @contextlib.contextmanager
    def hold(self):
        """The loaded llama_cpp.Llama, for a caller that drives llama-cpp-python itself (vision chat through
        MTMDChatHandler), held as a chat() holds it: other replies wait. Raises UserError once closed."""
        with self._lock:
            if self._llm is None:
                raise UserError("The chat model was closed. Load it again.")
            yield self._llm

    def reset_cache(self) -> None:
        """Forget the KV cache (the next turn evaluates its whole prompt)."""
        with self._lock:
            if self._llm is not None:
                self._llm.reset()

    def close(self) -> None:
        """Free the model and its context (waits for a running chat() to end). Idempotent."""
        with self._lock:
            llm, self._llm = self._llm, None
        if llm is not None:
            with contextlib.suppress(Exception):
                llm.close()

    @property
    def closed(self) -> bool:
        """close() was called."""
        return self._llm is None

    def __enter__(self) -> "ChatModel":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


def _llama_version() -> str:
    try:
        import llama_cpp

        return llama_cpp.__version__
    except Exception:
        return "?"
