"""`POST /v1/chat/completions` and `POST /v1/completions` over ChatEngine (the app's, inside the app).

A request becomes one job on the "chat-model" resource: load the named model unless it is the loaded one, then
reply — the same ReplyRequest the Chat tab makes (TurnOptions.request), with the request's sampling over the
settings' preset, `stop`, a grammar for `response_format` (json_object, or json_schema through llama.cpp's
json_schema_to_gbnf), `tools` for a template that takes them, and Hearth's `collections` extension (the reply
answers from those document collections and carries `documents`, its numbered sources, as the Chat tab shows
them). Nothing streams before the job has read the prompt, so a bad request still gets its 4xx status.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from app.core.chat import tools as toolcalls
from app.core.chat.jobs import RESOURCE, CompletionRequest, LoadRequest, PromptRead, ReplyRequest, Token
from app.core.errors import UserError
from app.core.jobs import Job
from app.core.server import models
from app.core.server.errors import ApiError, from_exception
from app.core.server.runtime import JobStream

router = APIRouter()
DEFAULT_MAX_TOKENS = 2048  # when a request sets none: the reply may use this much, the prompt the rest
FINISH = {"eos": "stop", "stop": "stop", "length": "length", "cancelled": "stop"}


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict] | None = None
    name: str | None = None
    tool_calls: list[dict] | None = None
    tool_call_id: str | None = None


class Sampled(BaseModel):
    """Fields both endpoints take (OpenAI's, then llama.cpp's extras)."""

    model_config = ConfigDict(extra="allow")
    model: str = ""
    stream: bool = False
    stream_options: dict | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int = 1
    logprobs: bool | int | None = None
    top_k: int | None = Field(None, ge=0)
    min_p: float | None = Field(None, ge=0, le=1)
    repeat_penalty: float | None = Field(None, gt=0)
    grammar: str | None = None  # GBNF, as llama.cpp's servers take it


class ChatBody(Sampled):
    messages: list[Message] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    response_format: dict | None = None
    tools: list[dict] | None = None
    tool_choice: str | dict | None = None
    collections: list[str] | None = None  # Hearth: answer from these document collections


class CompletionBody(Sampled):
    prompt: str | list[str]
    echo: bool = False
    suffix: str | None = None
    best_of: int | None = None


@dataclass
class ServeChat:
    """A job's inputs: the model to have loaded, what to make with it, and its id (for messages)."""

    load: LoadRequest
    request: ReplyRequest | CompletionRequest
    model_id: str


def serve_job(engine):
    """The job function for a ServeChat: load unless loaded, then reply (or complete)."""
    def serve(inputs: ServeChat, state):
        try:
            engine.ensure(inputs.load, state)
        except UserError as exc:
            raise ApiError(500, f"The model '{inputs.model_id}' could not be loaded: {exc}", "model_load_failed",
                           "model") from None
        if isinstance(inputs.request, CompletionRequest):
            return engine.complete(inputs.request, state)
        if inputs.request.tools and not engine.model.supports_tools:
            raise ApiError(400, f"The chat template of '{inputs.model_id}' does not take tools; use a model whose "
                                "template does (Qwen 2.5, Llama 3.1, Mistral …).", "tools_not_supported", "tools")
        return engine.reply(inputs.request, state)
    return serve


# ---- requests → jobs -------------------------------------------------------------------------------------------------
def _sampling(body: Sampled, runtime) -> dict:
    from app.core.chat.presets import preset

    if body.n != 1:
        raise ApiError(400, "Hearth makes one choice per request: 'n' must be 1.", "unsupported_value", "n")
    if body.logprobs:
        raise ApiError(400, "Hearth does not return log probabilities: leave 'logprobs' out.", "unsupported_value",
                       "logprobs")
    chat = runtime.settings.chat
    values = preset(chat.preset, chat.user_presets).to_dict()
    values["max_tokens"] = DEFAULT_MAX_TOKENS
    for name in ("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "seed", "max_tokens"):
        value = getattr(body, name)
        if value is not None:
            values[name] = value
    return values


def _stops(stop) -> list[str]:
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    if len(stops) > 16 or not all(isinstance(s, str) and s for s in stops):
        raise ApiError(400, "'stop' takes up to 16 non-empty strings.", "invalid_value", "stop")
    return stops


def _grammar(body: ChatBody) -> str | None:
    fmt = body.response_format or {}
    kind = fmt.get("type", "text")
    if kind == "text":
        return body.grammar
    from llama_cpp import llama_grammar

    if kind == "json_object":
        return llama_grammar.JSON_GBNF
    if kind == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema")
        if not isinstance(schema, dict):
            raise ApiError(400, "'response_format.json_schema.schema' must be a JSON schema object.",
                           "invalid_value", "response_format")
        try:
            return llama_grammar.json_schema_to_gbnf(json.dumps(schema))
        except Exception as exc:  # noqa: BLE001 - the converter raises plain errors for what it cannot do
            raise ApiError(400, f"This JSON schema cannot be turned into a grammar: {exc}.", "invalid_value",
                           "response_format") from None
    raise ApiError(400, f"Unknown response_format type {kind!r}: use text, json_object or json_schema.",
                   "invalid_value", "response_format")


def _content(content, index: int) -> tuple[str, list[bytes]]:
    """A message's text and the images of its image_url parts (data: URLs only: the server never fetches a URL)."""
    if content is None or isinstance(content, str):
        return content or "", []
    parts, images = [], []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            parts.append(str(part.get("text", "")))
        elif kind == "image_url":
            images.append(_image_bytes(part.get("image_url"), index))
        else:
            raise ApiError(400, f"Message {index} holds a '{kind}' part; Hearth's server takes text and image_url "
                                "parts.", "unsupported_content", f"messages.{index}.content")
    return "".join(parts), images


def _image_bytes(image_url, index: int) -> bytes:
    """The bytes of a data: URL (`data:image/png;base64,…`). ApiError 400 for a web URL or a malformed one."""
    import base64
    import binascii

    url = image_url.get("url", "") if isinstance(image_url, dict) else str(image_url or "")
    where = f"messages.{index}.content"
    if not url.startswith("data:"):
        raise ApiError(400, "Hearth's server does not fetch images from URLs (it works offline): send the image "
                            "itself as a data: URL (data:image/png;base64,…).", "unsupported_image_url", where)
    header, _, payload = url.partition(",")
    try:
        if not header.endswith(";base64"):
            raise ValueError
        return base64.b64decode(payload, validate=True)
    except (ValueError, binascii.Error):
        raise ApiError(400, f"The image in message {index} is not a base64 data: URL "
                            "(data:image/png;base64,…).", "invalid_image_url", where) from None


def _messages(body: ChatBody) -> list[dict]:
    out = []
    for i, m in enumerate(body.messages):
        text, images = _content(m.content, i)
        message = {"role": "system" if m.role == "developer" else m.role, "content": text}
        if images:
            message["images"] = images
        if m.tool_calls:
            message["tool_calls"] = [_with_dict_arguments(c) for c in m.tool_calls]
        for key in ("tool_call_id", "name"):
            if getattr(m, key):
                message[key] = getattr(m, key)
        out.append(message)
    systems = [m for m in out if m["role"] == "system"]
    if len(systems) > 1 or (systems and out[0]["role"] != "system"):  # templates want one system prompt, first
        rest = [m for m in out if m["role"] != "system"]
        out = [{"role": "system", "content": "\n\n".join(m["content"] for m in systems)}, *rest]
    return out


def _with_dict_arguments(call: dict) -> dict:
    """Templates render arguments as an object (Hugging Face's convention); OpenAI sends a JSON string."""
    function = dict(call.get("function") or {})
    if isinstance(function.get("arguments"), str):
        try:
            function["arguments"] = json.loads(function["arguments"])
        except ValueError:
            pass
    return {**call, "function": function}


async def _job(request: Request, body: Sampled, make) -> tuple[JobStream, models.ServedModel]:
    from starlette.concurrency import run_in_threadpool

    runtime = request.app.state.runtime
    model = await run_in_threadpool(models.find, runtime, body.model, "chat")
    load = LoadRequest.from_settings(model.path, runtime.settings.chat)
    job = Job(serve_job(runtime.engines.chat), ServeChat(load, make(), model.id), name=f"Server: {model.id}",
              resource=RESOURCE)
    return JobStream(runtime, job), model


# ---- routes ------------------------------------------------------------------------------------------------------
@router.post("/v1/chat/completions")
async def chat_completions(body: ChatBody, request: Request):
    from app.core.chat.conversation import TurnOptions
    from app.core.chat.presets import Sampling

    runtime = request.app.state.runtime
    use_tools = bool(body.tools) and body.tool_choice != "none"

    def make() -> ReplyRequest:
        sampling = _sampling(body, runtime)
        if body.max_completion_tokens is not None and body.max_tokens is None:
            sampling["max_tokens"] = body.max_completion_tokens
        options = TurnOptions(Sampling.from_dict(sampling), "stop", list(body.collections or []),
                              runtime.settings.documents, stop=_stops(body.stop), grammar=_grammar(body),
                              rewrite=runtime.settings.chat.rewrite_followups, hyde=runtime.settings.chat.hyde)
        reply = options.request(_messages(body))
        reply.tools = body.tools if use_tools else None
        return reply

    stream, model = await _job(request, body, make)
    return await _respond(request, stream, body, model, "chat", use_tools)


@router.post("/v1/completions")
async def completions(body: CompletionBody, request: Request):
    runtime = request.app.state.runtime
    prompt = body.prompt
    if isinstance(prompt, list):
        if len(prompt) != 1:
            raise ApiError(400, "Hearth completes one prompt per request: give 'prompt' as a string.",
                           "unsupported_value", "prompt")
        prompt = prompt[0]
    if body.echo or body.suffix or (body.best_of or 1) > 1:
        raise ApiError(400, "Hearth does not support echo, suffix or best_of: leave them out.", "unsupported_value")

    def make() -> CompletionRequest:
        sampling = _sampling(body, runtime)
        return CompletionRequest(prompt, sampling, _stops(body.stop), body.grammar)

    stream, model = await _job(request, body, make)
    return await _respond(request, stream, body, model, "text", False)


# ---- responses ---------------------------------------------------------------------------------------------------
async def _respond(request: Request, stream: JobStream, body: Sampled, model, kind: str, use_tools: bool):
    ident = f"{'chatcmpl' if kind == 'chat' else 'cmpl'}-{uuid.uuid4().hex[:24]}"
    result = None
    try:
        started = await stream.first(request, PromptRead, Token)
        if not body.stream or started is None:
            result = await stream.wait(request)
    except asyncio.CancelledError:
        stream.close()
        raise
    except Exception as exc:  # noqa: BLE001 - what the job raised, answered in OpenAI's shape
        stream.close()
        raise from_exception(exc) from None
    if result is not None:
        return JSONResponse(_whole(ident, model.id, kind, result, use_tools))
    from sse_starlette.sse import EventSourceResponse
    from starlette.background import BackgroundTask

    include_usage = bool((body.stream_options or {}).get("include_usage"))
    # The background task also runs when the client left before the events began (their `finally` never ran).
    # An answer from collections may be made twice or replaced by the sources' sentences (chat/documents.py), and
    # streamed text cannot be taken back: it is sent as one piece when final (pings keep the connection alive).
    whole = bool(getattr(body, "collections", None))
    return EventSourceResponse(_events(stream, ident, model.id, kind, use_tools, include_usage, whole), ping=10,
                               background=BackgroundTask(stream.close))


def _usage(result) -> dict:
    return {"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
            "total_tokens": result.prompt_tokens + result.completion_tokens}


def _whole(ident: str, model_id: str, kind: str, result, use_tools: bool) -> dict:
    finish = FINISH.get(result.stopped, "stop")
    if kind == "text":
        choice = {"index": 0, "text": result.text, "logprobs": None, "finish_reason": finish}
        return {"id": ident, "object": "text_completion", "created": models.now(), "model": model_id,
                "choices": [choice], "usage": _usage(result)}
    message = {"role": "assistant", "content": result.text}
    if use_tools:
        content, calls = toolcalls.parse(result.text)
        if calls:
            message = {"role": "assistant", "content": content or None,
                       "tool_calls": [c.to_json() for c in calls]}
            finish = "tool_calls"
    data = {"id": ident, "object": "chat.completion", "created": models.now(), "model": model_id,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": _usage(result)}
    if result.documents is not None:
        data["documents"] = result.documents.to_json()
    return data


def _chunk(ident: str, model_id: str, kind: str, created: int, delta: dict | str | None,
           finish: str | None = None, **extra) -> str:
    if kind == "text":
        choices = [{"index": 0, "text": delta or "", "logprobs": None, "finish_reason": finish}]
        data = {"id": ident, "object": "text_completion", "created": created, "model": model_id, "choices": choices}
    else:
        choices = [{"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish}] \
            if delta is not None or finish else []
        data = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model_id,
                "choices": choices}
    data.update(extra)
    return json.dumps(data, ensure_ascii=False)


async def _events(stream: JobStream, ident: str, model_id: str, kind: str, use_tools: bool, include_usage: bool,
                  whole: bool = False):
    """The SSE events of a streamed reply; `whole`: the text is sent once, final (a documents answer)."""
    created = models.now()
    held = toolcalls.ToolCallFilter() if use_tools else None
    piece = (lambda text: text) if kind == "text" else (lambda text: {"content": text})
    try:
        if kind == "chat":
            yield {"data": _chunk(ident, model_id, kind, created, {"role": "assistant", "content": ""})}
        async for partial in stream:
            if isinstance(partial, Token) and not whole:
                text = held.feed(partial.text) if held is not None else partial.text
                if text:
                    yield {"data": _chunk(ident, model_id, kind, created, piece(text))}
        try:
            result = stream.result()
        except Exception as exc:  # noqa: BLE001 - failed mid-stream: OpenAI's error event, then the end
            yield {"data": json.dumps(from_exception(exc).body())}
            yield {"data": "[DONE]"}
            return
        finish = FINISH.get(result.stopped, "stop")
        extra = {"documents": result.documents.to_json()} if result.documents is not None else {}
        if whole and result.text:
            text = held.feed(result.text) if held is not None else result.text
            if text:
                yield {"data": _chunk(ident, model_id, kind, created, piece(text))}
        if held is not None:
            rest, calls = held.finish()
            if rest:
                yield {"data": _chunk(ident, model_id, kind, created, piece(rest))}
            if calls:
                finish = "tool_calls"
                yield {"data": _chunk(ident, model_id, kind, created,
                                      {"tool_calls": [c.to_json(i) for i, c in enumerate(calls)]})}
        yield {"data": _chunk(ident, model_id, kind, created, None if kind == "chat" else "", finish, **extra)}
        if include_usage:
            yield {"data": _chunk(ident, model_id, "usage", created, None, usage=_usage(result))}
        yield {"data": "[DONE]"}
    finally:
        stream.close()
