"""Public identifiers keep the ULID layout: 48-bit milliseconds then 80 random bits, in
Crockford's base32 (lower case), 26 characters, ordered by time as strings."""

from __future__ import annotations

import re
import time

from server import ids

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def _layout(millis: int, random_bits: int) -> str:
    """The layout written out five bits at a time, as the spec reads."""
    value = (millis << 80) | random_bits
    return "".join(ALPHABET[(value >> (5 * n)) & 31] for n in reversed(range(26)))


def test_an_id_is_the_clock_and_the_random_bits_in_crockford_base32(monkeypatch):
    cases = [
        (0, 0),
        (2**48 - 1, 2**80 - 1),
        (1_765_000_000_123, 0x0123_4567_89AB_CDEF_FEDC),
        (1, 1 << 79),
    ]
    for millis, random_bits in cases:
        monkeypatch.setattr(ids.time, "time", lambda m=millis: m / 1000)
        monkeypatch.setattr(ids.secrets, "randbits", lambda k, r=random_bits: r)
        assert ids.new_id() == _layout(millis, random_bits)


def test_ids_are_26_characters_of_the_alphabet_and_ordered_by_time():
    made = []
    for _ in range(3):
        made.append(ids.new_id())
        time.sleep(0.002)
    for value in made:
        assert re.fullmatch(f"[{ALPHABET}]{{26}}", value)
    assert made == sorted(made)
    assert len({ids.new_id() for _ in range(1000)}) == 1000
