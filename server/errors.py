"""One error tree for the whole server.

Domain code raises a ``SteadyError``; exactly two places turn it into bytes on the
wire: the HTTP error handler and the WebSocket connection handler.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Any


class ErrorCode(StrEnum):
    BAD_REQUEST = "bad_request"
    BAD_FRAME = "bad_frame"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    FORBIDDEN = "forbidden"
    UNAUTHORIZED = "unauthorized"
    BAD_TOKEN = "bad_token"
    BAD_CREDENTIALS = "bad_credentials"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    ORIGIN_NOT_ALLOWED = "origin_not_allowed"
    BAD_USER_HASH = "bad_user_hash"
    STALE_USER_HASH = "stale_user_hash"
    BAD_SIGNATURE = "bad_signature"
    STALE_REQUEST = "stale_request"
    REPLAYED_REQUEST = "replayed_request"
    BODY_TOO_LONG = "body_too_long"
    RATE_LIMITED = "rate_limited"
    CONVERSATION_CLOSED = "conversation_closed"
    CONVERSATION_OPEN = "conversation_open"
    ALREADY_RATED = "already_rated"
    CSAT_DISABLED = "csat_disabled"
    ALREADY_ASSIGNED = "already_assigned"
    SHORTCUT_TAKEN = "shortcut_taken"
    HTTPS_REQUIRED = "https_required"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNAVAILABLE = "unavailable"
    SEARCH_UNAVAILABLE = "search_unavailable"
    INTERNAL = "internal_error"
    ALREADY_EXISTS = "already_exists"
    LAST_ADMIN = "last_admin"
    BAD_LINK_CODE = "bad_link_code"
    LIMIT_REACHED = "limit_reached"
    PRECHAT_REQUIRED = "prechat_required"
    TOO_LARGE = "too_large"
    TYPE_NOT_ALLOWED = "type_not_allowed"
    EXPIRED_URL = "expired_url"


class CloseCode(IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001
    INVALID_DATA = 1007  # a text frame that is not UTF-8
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    TOO_MANY_BAD_FRAMES = 4400
    BAD_TOKEN = 4401
    ORIGIN_NOT_ALLOWED = 4403
    HELLO_TIMEOUT = 4408


class SteadyError(Exception):
    """An expected failure with a stable code, a human message and an HTTP status."""

    code: ErrorCode = ErrorCode.BAD_REQUEST
    http_status: int = 400

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
