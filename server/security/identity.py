"""Visitor identity verification: the site's backend signs its own user id."""

from __future__ import annotations

import hashlib
import hmac
import time

from server.errors import ErrorCode, Unauthorized


def user_hash(site_secret: str, user_id: str, user_ts: int | None = None) -> str:
    message = user_id if user_ts is None else f"{user_id}:{user_ts}"
    return hmac.new(site_secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify_user_hash(
    site_secret: str,
    user_id: str,
    supplied_hash: object,
    user_ts: object,
    *,
    max_age_secs: int,
    require_timed: bool,
    now: float | None = None,
) -> None:
    """Raise 401 ``bad_user_hash`` / ``stale_user_hash`` unless the hash proves ``user_id``."""
    if not isinstance(supplied_hash, str) or not supplied_hash:
        raise Unauthorized("user_id needs a valid user_hash", code=ErrorCode.BAD_USER_HASH)
    ts: int | None = None
    if user_ts is not None:
        try:
            ts = int(user_ts)  # type: ignore[call-overload]
        except (TypeError, ValueError, OverflowError):  # OverflowError: 1e400 is inf
            raise Unauthorized(
                "user_ts must be unix seconds", code=ErrorCode.BAD_USER_HASH
            ) from None
    elif require_timed:
        raise Unauthorized("this site requires user_ts", code=ErrorCode.BAD_USER_HASH)
    expected = user_hash(site_secret, user_id, ts)
    if not hmac.compare_digest(expected, supplied_hash.lower()):
        raise Unauthorized("user_hash does not match user_id", code=ErrorCode.BAD_USER_HASH)
    if ts is not None:
        now = time.time() if now is None else now
        if now - ts > max_age_secs or ts - now > 300:
            raise Unauthorized("user_hash has expired", code=ErrorCode.STALE_USER_HASH)
