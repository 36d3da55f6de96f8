"""Visitor identity verification: the site's backend signs its own user id.

Two forms (docs/protocol.md §3):

* untimed: ``hex(HMAC-SHA256(site_secret, user_id))``, valid forever;
* timed: ``"t1:" + hex(HMAC-SHA256(timed_key, user_id + ":" + user_ts))`` with
  ``timed_key = SHA-256("steadydesk timed user_hash v1\\n" + site_secret)``, refused once
  older than the site's limit.

The timed form has a key of its own because an untimed hash of ``"bob:1795000000"`` *is*
the first release's timed hash of ``bob`` at that time (``HMAC(site_secret, user_id + ":"
+ user_ts)``): on a site whose user ids may hold ``:``, one user could pass as another
(issue #11). No untimed hash is ever made with the timed key (a SHA-256 of the secret is
not an HMAC under it), so the forms cannot be mistaken for each other. The first timed
form is still accepted where it is safe: on sites that require timed hashes, and so
accept no untimed ones.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from server.errors import ErrorCode, Unauthorized

TIMED_PREFIX = "t1:"
_TIMED_KEY_LABEL = b"steadydesk timed user_hash v1\n"
FUTURE_SKEW_SECS = 300


def _hmac_hex(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def timed_key(site_secret: str) -> bytes:
    return hashlib.sha256(_TIMED_KEY_LABEL + site_secret.encode()).digest()


def user_hash(site_secret: str, user_id: str) -> str:
    """The untimed form."""
    return _hmac_hex(site_secret.encode(), user_id)


def timed_user_hash(site_secret: str, user_id: str, user_ts: int) -> str:
    """The timed form a site should send with ``user_ts``."""
    return TIMED_PREFIX + _hmac_hex(timed_key(site_secret), f"{user_id}:{user_ts}")


def first_timed_user_hash(site_secret: str, user_id: str, user_ts: int) -> str:
    """The first release's timed form (PROTOCOL §3), accepted only where it is safe."""
    return _hmac_hex(site_secret.encode(), f"{user_id}:{user_ts}")


def _refuse(message: str) -> Unauthorized:
    return Unauthorized(message, code=ErrorCode.BAD_USER_HASH)


def _unix_seconds(user_ts: object) -> int | None:
    if user_ts is None:
        return None
    try:
        return int(user_ts)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):  # OverflowError: 1e400 is inf
        raise _refuse("user_ts must be unix seconds") from None


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
        raise _refuse("user_id needs a valid user_hash")
    ts = _unix_seconds(user_ts)
    supplied = supplied_hash.lower()
    if supplied.startswith(TIMED_PREFIX):
        if ts is None:
            raise _refuse("a t1: user_hash needs user_ts")
        expected = timed_user_hash(site_secret, user_id, ts)
    elif ts is not None:
        if not require_timed:
            raise _refuse('a timed user_hash takes the "t1:" form (see docs/protocol.md)')
        expected = first_timed_user_hash(site_secret, user_id, ts)
    elif require_timed:
        raise _refuse("this site requires user_ts")
    else:
        expected = user_hash(site_secret, user_id)
    if not hmac.compare_digest(expected.encode(), supplied.encode()):
        raise _refuse("user_hash does not match user_id")
    if ts is not None:
        now = time.time() if now is None else now
        if now - ts > max_age_secs or ts - now > FUTURE_SKEW_SECS:
            raise Unauthorized("user_hash has expired", code=ErrorCode.STALE_USER_HASH)
