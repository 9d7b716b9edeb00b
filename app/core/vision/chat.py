"""Vision chat on llama.cpp: a GGUF language model plus its projector, through llama-cpp-python's MTMDChatHandler.

MTMDChatHandler is llama-cpp-python's generic libmtmd handler (one handler for every projector llama.cpp knows:
LLaVA, SmolVLM/Idefics3, Gemma 3, Qwen2.5-VL …). It renders the model's own Jinja chat template with each image
part replaced by libmtmd's media marker, lets libmtmd encode the images with the projector, and feeds the image
embeddings to the language model between the text tokens.

Messages are Hearth's usual {"role", "content"} dicts, plus "images": a list of file paths, pasted image bytes or
PreparedImage. `to_openai_messages` turns them into OpenAI-style content parts with `image_url` data URLs: the
format the handler reads, and the one OpenAI-compatible servers take.

    vc = VisionChat.load("models/chat/SmolVLM-256M-Instruct-Q8_0.gguf")   # projector found beside it
    result = vc.reply([{"role": "user", "content": "What is in this picture?", "images": ["cat.jpg"]}])
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

from app.core.chat import gguf_info, llama
from app.core.errors import JobCancelled, UserError
from app.core.jobs import JobState
from app.core.vision.images import PreparedImage, prepare_image
from app.core.vision.pairing import require_projector
from app.core.vision.projector import ProjectorInfo, check_pair, mismatch_message

log = logging.getLogger(__name__)

_MISMATCH = re.compile(r"text model \(n_embd = (\d+)\) and mmproj \(n_embd = (\d+)\)")
_mtmd_routed = False


def route_mtmd_logs() -> None:
    """Send libmtmd / clip.cpp's C logging where llama.cpp's goes: Python logging and the chat engine's record of
    the last lines (not the terminal)."""
    global _mtmd_routed
    if _mtmd_routed:
        return
    import llama_cpp.mtmd_cpp as mtmd_cpp

    llama.route_native_log(mtmd_cpp.mtmd_log_set)
    llama.route_native_log(mtmd_cpp.mtmd_helper_log_set)
    _mtmd_routed = True


def build_handler(projector: ProjectorInfo | str | Path, use_gpu: bool = True):
    """A llama-cpp-python MTMDChatHandler for the projector file. Its context is created on first use or by
    `attach`; verbose=True keeps llama-cpp-python from redirecting the process's stdout/stderr file descriptors
    (libmtmd's output goes to Python logging through `route_mtmd_logs`)."""
    from llama_cpp.llama_chat_format import MTMDChatHandler

    path = projector.path if isinstance(projector, ProjectorInfo) else Path(projector)
    return MTMDChatHandler(clip_model_path=str(path), verbose=True, use_gpu=use_gpu)


def attach(llm, projector: ProjectorInfo, model_name: str = "the model", use_gpu: bool = True):
    """Give a loaded llama_cpp.Llama the projector: builds the handler, sets `llm.chat_handler` and creates the
    libmtmd context now, so a refused projector is reported at load time. Returns the handler.

    Raises UserError quoting llama.cpp's reason (a width mismatch gets the same sentence as `check_pair`)."""
    route_mtmd_logs()
    handler = build_handler(projector, use_gpu=use_gpu)
    verbose = llm.verbose
    llama.clear_native_log()
    try:
        llm.verbose = True  # see build_handler: no file-descriptor redirection
        with llama.stderr_to_log("llama-cpp-python output"):
            handler._init_mtmd_context(llm)
    except ValueError as exc:
        raise _attach_error(projector, model_name, exc) from None
    finally:
        llm.verbose = verbose
    llm.chat_handler = handler
    return handler


def _attach_error(projector: ProjectorInfo, model_name: str, exc: Exception) -> UserError:
    lines = llama.recent_native_log()
    text = "\n".join(lines)
    match = _MISMATCH.search(text)
    if match:
        return UserError(mismatch_message(projector.path.name, int(match.group(2)), model_name, int(match.group(1))))
    if "unknown projector type" in text:
        return UserError(f"{projector.path.name} uses a projector type ({projector.projector_type}) this version of "
                         "llama.cpp does not know. Update Hearth, or use another vision model.")
    reasons = [ln.strip() for ln in lines if "error" in ln.lower() or "failed" in ln.lower()]
    detail = reasons[-1] if reasons else str(exc)
    return UserError(f"llama.cpp could not load the projector {projector.path.name}: {detail}.")


def image_part(image: PreparedImage) -> dict:
    """One OpenAI-style content part for an image."""
    return {"type": "image_url", "image_url": {"url": image.data_url}}


def to_openai_messages(messages: list[dict], max_side: int | None = None) -> list[dict]:
    """Hearth messages → OpenAI chat messages. A message with "images" becomes a content list: its images first
    (as data URLs, each prepared to at most max_side pixels per side), then its text. Other messages are copied
    with only role and content. Raises UserError for an image that cannot be read (the message is not sent)."""
    out = []
    for message in messages:
        images = message.get("images") or []
        if not images:
            out.append({"role": message["role"], "content": message.get("content") or ""})
            continue
        parts = [image_part(img if isinstance(img, PreparedImage) else prepare_image(img, max_side))
                 for img in images]
        text = message.get("content") or ""
        if text:
            parts.append({"type": "text", "text": text})
        out.append({"role": message["role"], "content": parts})
    return out


@dataclass
class VisionResult:
    text: str
    completion_tokens: int
    prompt_tokens: int  # text and image tokens together
    images: int
    ttft_s: float  # from the call to the first piece of text: image preparation, encoding and prompt included
    tokens_per_s: float
    stopped: str  # "eos" | "length" | "cancelled"
    seconds: float


class VisionChat:
    """A loaded language model with its projector. One reply at a time (jobs name the chat-model resource)."""

    def __init__(self, model, projector: ProjectorInfo, handler) -> None:
        self.model = model  # app.core.chat's ChatModel
        self.projector = projector
        self.handler = handler

    @classmethod
    def load(cls, model_path: str | Path, projector_path: str | Path | None = None, *, state: JobState | None = None,
             use_gpu: bool = True, **load_kwargs) -> "VisionChat":
        """Load a GGUF model and its projector (found with pairing.find_projector when not given).

        load_kwargs go to ChatModel.load (n_ctx, n_threads, n_gpu_layers …). Raises UserError for a text-only model
        (no projector found), a projector that does not fit the model, or anything ChatModel.load refuses."""
        model_path = Path(model_path).expanduser()
        info = gguf_info.read(model_path)
        projector = check_pair(info, projector_path if projector_path else require_projector(model_path, info))
        model = llama.ChatModel.load(model_path, state=state, **load_kwargs)
        try:
            return cls.over(model, projector, use_gpu=use_gpu)
        except BaseException:
            model.close()
            raise

    @classmethod
    def over(cls, model, projector_path: str | Path | ProjectorInfo, use_gpu: bool = True) -> "VisionChat":
        """Vision on an already loaded ChatModel (the Chat tab's): check the projector fits it and attach it.
        Raises UserError as `load` does."""
        projector = check_pair(gguf_info.read(model.load_info.path), projector_path)
        with model.hold() as llm:
            handler = attach(llm, projector, Path(model.load_info.path).name, use_gpu=use_gpu)
        return cls(model, projector, handler)

    def reply(self, messages: list[dict], *, max_tokens: int = 256, temperature: float = 0.7,
              seed: int | None = None, top_p: float = 0.95, top_k: int = 40, min_p: float = 0.05,
              repeat_penalty: float = 1.0, stop: list[str] | None = None,
              state: JobState | None = None) -> VisionResult:
        """Answer `messages` (see module doc). A Token partial goes to state.partial per piece of text.

        Raises UserError for an unreadable image, an empty conversation or a closed model; JobCancelled when
        cancelled before the first token (afterwards the partial reply is returned with stopped="cancelled")."""
        if not messages:
            raise UserError("There is nothing to answer: the conversation is empty.")
        state = state or JobState()
        start = time.perf_counter()
        n_images = sum(len(m.get("images") or []) for m in messages)
        if n_images:
            state.progress(None, f"Preparing {n_images} image{'s' if n_images > 1 else ''}")
        prepared = to_openai_messages(messages, self.projector.input_side)
        state.check()
        state.progress(None, "Reading the images" if n_images else "Reading the prompt")
        with self.model.hold() as llm:
            try:
                with llama.stderr_to_log("llama-cpp-python output"):
                    stream = llm.create_chat_completion(
                        messages=prepared, max_tokens=max_tokens, temperature=max(0.0, temperature), seed=seed,
                        top_p=top_p, top_k=top_k, min_p=min_p, repeat_penalty=repeat_penalty, stop=stop or [],
                        stream=True)
                prompt_tokens = int(llm.n_tokens)
                streamed = llama.stream_tokens(stream, state)
                # every emitted token but the last is evaluated (n_tokens grows); an end-of-turn token is not
                generated = max(0, int(llm.n_tokens) - prompt_tokens) + (
                    1 if streamed.pieces and streamed.finish != "stop" else 0)
            except ValueError as exc:  # the handler's own errors: prompt longer than the context, bad image bytes
                raise UserError(_reply_error(exc, llm)) from None
            finally:
                llm.reset()  # image positions hold no token ids: never reuse this cache for text
        end = time.perf_counter()
        if streamed.finish == "cancelled" and not streamed.pieces:
            raise JobCancelled()
        return VisionResult(text=streamed.text, completion_tokens=generated, prompt_tokens=prompt_tokens,
                            images=n_images, ttft_s=(streamed.first or end) - start,
                            tokens_per_s=streamed.tokens_per_s(generated, end), stopped=streamed.stopped,
                            seconds=end - start)

    def close(self) -> None:
        self.model.close()

    def __enter__(self) -> "VisionChat":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


def _reply_error(exc: Exception, llm) -> str:
    text = str(exc)
    if "exceeds n_ctx" in text:
        return (f"The images and text do not fit the model's context ({llm.n_ctx()} tokens): {text}. Attach fewer "
                "images, or load the model with a longer context.")
    if "bitmap" in text.lower():
        return "llama.cpp could not decode one of the images."
    return f"llama.cpp could not answer: {text}."
