"""Public identifiers: time-ordered (index friendly) yet unguessable (80 random bits)."""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
# Ten bits at a time, two characters per lookup: an id is made for every stored message
# on the writer's thread, and a loop of 26 five-bit steps cost twice as much (~4.6 µs).
_PAIRS = tuple(a + b for a in _ALPHABET for b in _ALPHABET)
_SHIFTS = tuple(range(120, -1, -10))  # 13 groups of 10 bits: the 130 bits of 26 characters


def new_id() -> str:
    """26 characters: 48-bit millisecond clock + 80 random bits (ULID layout)."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    pairs = _PAIRS
    return "".join([pairs[(value >> shift) & 1023] for shift in _SHIFTS])


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)
