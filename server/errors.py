"""One error tree for the whole server.

Domain code raises a ``SteadyError``; exactly two places turn it into bytes on the
wire: the HTTP error handler and the WebSocket connection handler.
"""

from __future__ import annotations

from typing import Any

from steadywire.codes import CloseCode, ErrorCode

__all__ = [
    "BadRequest",
    "CloseCode",
    "ConfigError",
    "Conflict",
    "ErrorCode",
    "Forbidden",
    "NotFound",
    "PrechatRequired",
    "StartupError",
    "SteadyError",
    "TooManyRequests",
    "Unauthorized",
    "Unavailable",
]


class SteadyError(Exception):
    """An expected failure with a stable code, a human message, an HTTP status and the
    WebSocket close code of a connection refused for it (at ``hello``: a storage failure
    asks the client to come back later; a bad token tells it not to)."""

    code: ErrorCode = ErrorCode.BAD_REQUEST
    http_status: int = 400
    close_code: CloseCode = CloseCode.TRY_AGAIN_LATER

    def __init__(self, message: str, *, code: ErrorCode | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.http_status = status

    def extra(self) -> dict[str, Any]:
        """Fields an error frame (and the HTTP error object) carry besides code and message."""
        return {}

    def to_json(self) -> dict[str, dict[str, Any]]:
        return {"error": {"code": str(self.code), "message": self.message, **self.extra()}}


class BadRequest(SteadyError):
    code, http_status = ErrorCode.BAD_REQUEST, 400


class NotFound(SteadyError):
    code, http_status = ErrorCode.NOT_FOUND, 404


class Forbidden(SteadyError):
    code, http_status = ErrorCode.FORBIDDEN, 403


class Unauthorized(SteadyError):
    code, http_status = ErrorCode.UNAUTHORIZED, 401
    close_code = CloseCode.BAD_TOKEN


class Conflict(SteadyError):
    code, http_status = ErrorCode.ALREADY_ASSIGNED, 409


class TooManyRequests(SteadyError):
    code, http_status = ErrorCode.RATE_LIMITED, 429


class Unavailable(SteadyError):
    code, http_status = ErrorCode.UNAVAILABLE, 503


class PrechatRequired(SteadyError):
    """A visitor's first message while the site's pre-chat form lacks required fields."""

    code, http_status = ErrorCode.PRECHAT_REQUIRED, 400

    def __init__(self, fields: list[str]):
        super().__init__(f"fill in the pre-chat form first: {', '.join(fields)}")
        self.fields = list(fields)

    def extra(self) -> dict[str, Any]:
        return {"fields": self.fields}


class ConfigError(Exception):
    """Bad configuration: the CLI prints ``str(err)`` as one line and exits non-zero."""


class StartupError(Exception):
    """A start-up self-check failed: one clear line, non-zero exit."""
