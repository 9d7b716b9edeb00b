"""The FastAPI app: routes (chat.py, media.py, the model list here), OpenAI-shaped errors, and the guard in front.

The guard is one ASGI middleware that every request passes (Starlette parses the HTTP; uvicorn serves it):
- the bearer API key (`Authorization: Bearer KEY`, compared in constant time): 401 without it; `GET /health`
  is the one open path and says only that the server is up;
- the request body limit: the body is read up to `max_body` bytes and refused with 413 beyond it;
- request counts and a log line per request (method, path, status, seconds).
CORS headers are added (Starlette's CORSMiddleware, outside the guard so browsers' preflight works) only for the
origins the settings allow; with none configured a browser page cannot read the answers.
"""

from __future__ import annotations

import json
import logging
import secrets
import time

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.server import models
from app.core.server.errors import ApiError, from_exception, validation_message

log = logging.getLogger("app.core.server")
OPEN_PATHS = ("/health",)


def create_app(runtime, api_key: str, max_body: int = 32 << 20, cors_origins: list[str] | None = None,
               on_request=None) -> FastAPI:
    """The app serving `runtime` behind the guard. `on_request(method, path, status, seconds)` is called after
    each request (the CLI prints it). Raises ValueError for an empty API key."""
    if not api_key:
        raise ValueError("the server needs an API key")
    from app.core.server import chat, media

    app = FastAPI(title="Hearth", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.runtime = runtime
    app.include_router(chat.router)
    app.include_router(media.router)

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    @app.get("/v1/models")
    async def list_models():
        found = await run_in_threadpool(models.available, runtime)
        return {"object": "list", "data": [m.to_json() for m in found]}

    @app.get("/v1/models/{model_id:path}")
    async def get_model(model_id: str):
        found = await run_in_threadpool(models.available, runtime)
        for m in found:
            if m.id.lower() == model_id.lower():
                return m.to_json()
        raise ApiError(404, f"The model '{model_id}' does not exist on this Hearth.", "model_not_found", "model")

    @app.get("/hearth/status")
    async def status():
        chat_engine = runtime.engines.chat
        loaded = chat_engine.loaded_path
        return {"requests": runtime.stats.to_dict(), "loaded_model": models.model_id(loaded) if loaded else None,
                "busy": runtime.scheduler.busy("chat-model"), "queued": runtime.scheduler.queued("chat-model")}

    @app.exception_handler(ApiError)
    async def api_error(_request, exc: ApiError):
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request, exc: RequestValidationError):
        message, param = validation_message(exc.errors())
        return JSONResponse(ApiError(400, message, "invalid_request", param).body(), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request, exc: StarletteHTTPException):
        message = "There is no such endpoint on Hearth's API." if exc.status_code == 404 else str(exc.detail)
        return JSONResponse(ApiError(exc.status_code, message).body(), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def internal(_request, exc: Exception):
        error = from_exception(exc)
        return JSONResponse(error.body(), status_code=error.status)

    guarded = Guard(app, runtime, api_key, max_body, on_request)
    if cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        return CORSMiddleware(guarded, allow_origins=list(cors_origins), allow_methods=["GET", "POST", "OPTIONS"],
                              allow_headers=["Authorization", "Content-Type"])
    return guarded


class Guard:
    """The pure-ASGI middleware of the module docstring."""

    def __init__(self, app, runtime, api_key: str, max_body: int, on_request=None) -> None:
        self.app = app
        self.runtime = runtime
        self._key = f"Bearer {api_key}".encode("utf-8")
        self.max_body = max_body
        self.on_request = on_request

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("path") in OPEN_PATHS:  # not counted: a health check is not a request served
            await self.app(scope, receive, send)
            return
        stats = self.runtime.stats
        started = time.perf_counter()
        status = [0]

        async def tracked_send(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        stats.add(active=1)
        try:
            refused = self._refusal(scope)
            if refused is not None:
                await self._answer(tracked_send, *refused)
                return
            body, too_big = await self._read_body(scope, receive)
            if too_big:
                await self._answer(tracked_send, 413, ApiError(
                    413, f"The request body is larger than this server takes ({self.max_body >> 20} MB).",
                    "request_too_large"))
                return
            await self.app(scope, _replay(body, receive), tracked_send)
        finally:
            seconds = time.perf_counter() - started
            stats.add(active=-1, served=1, failed=1 if status[0] >= 500 else 0)
            log.info("%s %s %d %.2fs", scope.get("method"), scope.get("path"), status[0], seconds)
            if self.on_request is not None:
                self.on_request(scope.get("method", ""), scope.get("path", ""), status[0], seconds)

    def _refusal(self, scope) -> tuple[int, ApiError] | None:
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"authorization", b"")
        if not secrets.compare_digest(given, self._key):
            what = "a wrong API key" if given else "no API key"
            return 401, ApiError(401, f"This Hearth server needs its API key and the request had {what}: send "
                                      "'Authorization: Bearer KEY' (the key is in Hearth's File → Settings → Server, or printed by hearth serve).",
                                 "invalid_api_key")
        headers_length = headers.get(b"content-length")
        if headers_length is not None and headers_length.isdigit() and int(headers_length) > self.max_body:
            return 413, ApiError(413, f"The request body is larger than this server takes "
                                      f"({self.max_body >> 20} MB).", "request_too_large")
        return None

    async def _read_body(self, scope, receive) -> tuple[bytes, bool]:
        if scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            return b"", False
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return b"", True
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        return b"".join(chunks), False

    @staticmethod
    async def _answer(send, status: int, error: ApiError) -> None:
        body = json.dumps(error.body()).encode("utf-8")
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _replay(body: bytes, receive):
    """A receive() that gives the app the body read already, then waits for the client (its disconnect)."""
    sent = [False]

    async def replayed():
        if not sent[0]:
            sent[0] = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()
    return replayed
