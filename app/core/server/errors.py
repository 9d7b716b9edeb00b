"""Errors in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}` with the matching HTTP status.

ApiError is raised by the routes (and by the jobs they submit, before anything streams); `from_exception` maps
what a job raised: a ContextFull is 400 context_length_exceeded, another UserError 400 with its sentence, a
cancelled job 503, anything else 500 with no traceback in the body (the traceback goes to the log).
"""

from __future__ import annotations

import logging

from app.core.errors import JobCancelled, UserError

log = logging.getLogger(__name__)

TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
         413: "invalid_request_error", 500: "server_error", 503: "server_error"}


class ApiError(UserError):
    """An error answered as OpenAI does: `status` (HTTP), a one-sentence `message`, and its `code` / `param`."""

    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None,
                 type_: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param
        self.type = type_ or TYPES.get(status, "invalid_request_error" if status < 500 else "server_error")

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def from_exception(exc: BaseException) -> ApiError:
    """The ApiError a failed (or cancelled) job answers with."""
    from app.core.chat.context import ContextFull

    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, ContextFull):
        text = str(exc)
        if " Start a new conversation" in text:  # the Chat tab's advice names GUI settings; an API client's own:
            text = text.split(" Start a new conversation")[0] + " Send fewer or shorter messages, or a smaller " \
                "max_tokens."
        return ApiError(400, text, "context_length_exceeded", "messages")
    if isinstance(exc, UserError):
        return ApiError(400, str(exc))
    if isinstance(exc, JobCancelled):
        return ApiError(503, "The request was cancelled (Hearth is stopping, or it was cancelled in the app).",
                        "cancelled")
    log.error("request failed", exc_info=exc)
    return ApiError(500, "Hearth hit an internal error answering this request; the details are in its log.",
                    "internal_error")


def validation_message(errors: list[dict]) -> tuple[str, str | None]:
    """One sentence (and the parameter) for FastAPI's request validation errors (bad JSON, a wrong type)."""
    if not errors:
        return "The request is not valid.", None
    first = errors[0]
    where = [str(p) for p in first.get("loc", ()) if p not in ("body",)]
    param = ".".join(where) or None
    if first.get("type") == "json_invalid":
        return "The request body is not valid JSON.", None
    message = first.get("msg", "is not valid")
    return (f"'{param}': {message}." if param else f"The request body {message.lower()}."), param
