"""Public identifiers: time-ordered (index friendly) yet unguessable (80 random bits)."""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def _b32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id() -> str:
    """26 characters: 48-bit millisecond clock + 80 random bits (ULID layout)."""
    return _b32(int(time.time() * 1000), 10) + _b32(secrets.randbits(80), 16)


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)
