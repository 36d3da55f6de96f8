"""Masking of card numbers and e-mail addresses in message text (plain functions).

Cards: 13-19 digits, optionally grouped by spaces or dashes, that pass the Luhn check,
become ``**** **** **** 1234``. Addresses become ``j***@example.com``. Digit runs that
fail Luhn (order numbers, phone numbers) are left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import accumulate

_CARD_RE = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])")
# An address is found from its "@": the local part is read backwards from there, the
# domain forwards. A pattern that tries every start position retried a long word with no
# "@" from each of its characters (issue #11: 250 ms for one 4,000-character body).
_LOCAL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-")
_DOMAIN_RE = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # a digit's Luhn value in a doubled place


def luhn_valid(digits: str) -> bool:
    return _luhn_ok(list(map(int, digits)))  # int() reads other scripts' digits, as \d does


def _luhn_ok(values: list[int]) -> bool:
    return (sum(values[-1::-2]) + sum(map(_DOUBLED.__getitem__, values[-2::-2]))) % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    """Mask the whole run, else its longest Luhn-valid run of whole groups, so that
    "4111 1111 1111 1111 2" still hides the card. Hostile text makes a candidate of every
    19 digits, so the common checks come first and the group lengths share one pass."""
    text = match.group(0)
    digits = text.replace(" ", "").replace("-", "")
    values = list(map(int, digits))
    if _luhn_ok(values):  # the pattern only matches runs of 13 to 19 digits
        return f"**** **** **** {digits[-4:]}"
    if len(digits) == len(text):
        return text
    # A separator at index i, with k separators before it, ends a run of i - k digits;
    # only runs of 13 or more matter, so the search starts at index 13.
    spaced = text.replace("-", " ")
    k = spaced.count(" ", 0, 13)
    ends: dict[int, int] = {}
    i = spaced.find(" ", 13)
    while i != -1:
        if i - k >= 13:
            ends[i - k] = i
        k += 1
        i = spaced.find(" ", i + 1)
    if not ends:
        return text
    # Running Luhn sums of every prefix: one doubling the even places, one the odd ones.
    # A prefix of length n is valid when the sum doubling n's parity ends in 0.
    even, odd = values[:], values[:]
    even[0::2] = map(_DOUBLED.__getitem__, values[0::2])
    odd[1::2] = map(_DOUBLED.__getitem__, values[1::2])
    running = (list(accumulate(even)), list(accumulate(odd)))
    for length in reversed(ends):  # inserted shortest first
        if running[length % 2][length - 1] % 10 == 0:
            return f"**** **** **** {digits[length - 4 : length]}" + text[ends[length] :]
    return text


def mask_cards(text: str) -> str:
    return _CARD_RE.sub(_mask_card, text)


def mask_emails(text: str) -> str:
    parts: list[str] = []
    done = 0  # text before this index is final
    at = text.find("@")
    while at != -1:
        start = at
        while start > done and text[start - 1] in _LOCAL_CHARS:
            start -= 1
        domain = _DOMAIN_RE.match(text, at + 1) if start < at else None
        if domain is None:
            at = text.find("@", at + 1)
            continue
        parts.append(text[done:start])
        parts.append(f"{text[start]}***@{domain.group()}")
        done = domain.end()
        at = text.find("@", done)
    parts.append(text[done:])
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class MaskingPolicy:
    cards: bool = False
    emails: bool = False

    @property
    def active(self) -> bool:
        return self.cards or self.emails

    def apply(self, text: str) -> str:
        if self.cards and any(c.isdigit() for c in text):
            text = mask_cards(text)
        if self.emails and "@" in text:
            text = mask_emails(text)
        return text


NO_MASKING = MaskingPolicy()
