"""Signed server-to-server requests (PROTOCOL §3): HMAC-SHA256 over the request, a
timestamp window and single-use nonces. Pure functions; the nonce store is passed in."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from server.errors import ErrorCode, Unauthorized

MAX_SKEW_SECS = 300
NONCE_MIN_CHARS = 16
NONCE_MAX_CHARS = 128


@dataclass(frozen=True)
class SignedHeaders:
    key: str
    timestamp: str
    nonce: str
    signature: str


def signature(secret: str, timestamp: str, nonce: str, method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256(body).hexdigest()
    message = f"v1:{timestamp}:{nonce}:{method.upper()}:{path}:{digest}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def check_signed_request(
    secret: str,
    headers: SignedHeaders,
    method: str,
    path_with_query: str,
    body: bytes,
    *,
    now: float | None = None,
) -> None:
    """Raise 401 ``bad_signature`` or ``stale_request``; the nonce is the caller's to claim."""
    if not NONCE_MIN_CHARS <= len(headers.nonce) <= NONCE_MAX_CHARS:
        raise Unauthorized(
            "X-Steady-Nonce must have 16 to 128 characters", code=ErrorCode.BAD_SIGNATURE
        )
    expected = signature(secret, headers.timestamp, headers.nonce, method, path_with_query, body)
    if not hmac.compare_digest(expected, headers.signature.lower()):
        raise Unauthorized("signature does not match", code=ErrorCode.BAD_SIGNATURE)
    try:
        sent_at = int(headers.timestamp)
    except ValueError:
        raise Unauthorized(
            "X-Steady-Timestamp must be unix seconds", code=ErrorCode.BAD_SIGNATURE
        ) from None
    current = time.time() if now is None else now
    if abs(current - sent_at) > MAX_SKEW_SECS:
        raise Unauthorized(
            "request timestamp is too far from server time", code=ErrorCode.STALE_REQUEST
        )
