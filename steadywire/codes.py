"""Stable codes of the wire: error codes (``error.code``, HTTP ``error.code``) and close codes."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class ErrorCode(StrEnum):
    """Every ``code`` the server puts in an ``error`` frame or an HTTP error body."""

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

    @property
    def retryable(self) -> bool:
        """A ``send`` refused with this code may be sent again later with the same ``cid``."""
        return self in _RETRYABLE


_RETRYABLE = frozenset({ErrorCode.RATE_LIMITED, ErrorCode.UNAVAILABLE, ErrorCode.INTERNAL})


class CloseCode(IntEnum):
    """WebSocket close codes the server uses (PROTOCOL §4, docs/protocol.md §3)."""

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

    @property
    def reconnect_at_once(self) -> bool:
        """The server asks the client to come back now (to another node), with ``resume``."""
        return self in (CloseCode.SERVICE_RESTART, CloseCode.TRY_AGAIN_LATER)

    @property
    def final(self) -> bool:
        """Reconnecting with the same credentials cannot help."""
        return self in (CloseCode.BAD_TOKEN, CloseCode.ORIGIN_NOT_ALLOWED)
