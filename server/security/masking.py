"""Masking of card numbers and e-mail addresses in message text (plain functions).

Cards: 13-19 digits, optionally grouped by spaces or dashes, that pass the Luhn check,
become ``**** **** **** 1234``. Addresses become ``j***@example.com``. Digit runs that
fail Luhn (order numbers, phone numbers) are left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CARD_RE = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])")
_EMAIL_RE = re.compile(
    r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"
)


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = re.sub(r"[ -]", "", text)
    # The whole run, else the longest Luhn-valid run of whole groups, so that
    # "4111 1111 1111 1111 2" still hides the card.
    boundaries = [len(re.sub(r"[ -]", "", text[: m.start()])) for m in re.finditer(r"[ -]", text)]
    for length in sorted({len(digits), *boundaries}, reverse=True):
        if 13 <= length <= 19 and luhn_valid(digits[:length]):
            end = _end_of_digit(text, length)
            return f"**** **** **** {digits[length - 4 : length]}" + text[end:]
    return text


def _end_of_digit(text: str, count: int) -> int:
    """The index just after the ``count``-th digit of ``text``."""
    seen = 0
    for index, char in enumerate(text):
        if char.isdigit():
            seen += 1
            if seen == count:
                return index + 1
    return len(text)


def mask_cards(text: str) -> str:
    return _CARD_RE.sub(_mask_card, text)


def mask_emails(text: str) -> str:
    return _EMAIL_RE.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)


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
