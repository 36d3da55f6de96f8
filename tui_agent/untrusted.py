"""Text from the network, made safe to show: the one way such text reaches the screen.

Visitor names, e-mails, pages, message bodies, agent and department names, error
messages: anything the server relays was typed by someone else. Two things go wrong when
it is shown as is:

* Rich and Textual parse ``[...]`` in plain strings as markup (``notify()``,
  ``Static.update(str)``, tab labels, table cells, border titles): ``Eve [/x]`` raises
  ``MarkupError`` and crashes the console, ``[@click=app.quit]`` becomes an action and
  ``[link=...]`` a disguised hyperlink;
* Textual writes a string's characters to the terminal byte for byte: ``ESC [2J``
  clears the screen, OSC 8 makes hyperlinks, OSC 52 writes the clipboard, bidi
  overrides reorder what the agent reads, and a lone surrogate cannot be encoded.

:func:`safe_text` answers a ``rich.text.Text`` (never parsed as markup) of
:func:`clean` text; :func:`tell` is the one way to raise a notification.
``tests/tui/test_untrusted_sinks.py`` fails when a widget is fed anything else.
"""

from __future__ import annotations

import re
from typing import Literal, Protocol

from rich.style import StyleType
from rich.text import Text

# Terminal escape sequences, 7-bit (ESC ...) and 8-bit (C1) forms. String commands (OSC,
# DCS, SOS, PM, APC) run to their terminator; an unterminated one loses only its
# introducer (the rest is shown as text, its control bytes removed below).
_SEQUENCE = re.compile(
    r"""
      (?:\x1b\[|\x9b) [\x30-\x3f]* [\x20-\x2f]* [\x40-\x7e]?              # CSI
    | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]) [^\x07\x1b\x9c]* (?:\x07|\x1b\\|\x9c)
    | \x1b [\x20-\x2f]* [\x30-\x7e]?                                     # other ESC x
    """,
    re.VERBOSE,
)
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNSAFE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
    "\u2028\u2029\ud800-\udfff]"
)

# Every C0 control but newline, DEL, every C1 control, and the invisible bidi controls
# (embeddings, overrides, isolates, marks) that reorder what is shown.
_BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
_DROP: dict[int, str | None] = {
    **{code: None for code in range(0x00, 0x20) if code != 0x0A},
    0x09: " ",
    0x0D: "\n",
    0x7F: None,
    **{code: None for code in range(0x80, 0xA0)},
    **{code: None for code in _BIDI},
    0x2028: "\n",
    0x2029: "\n",
}

Severity = Literal["information", "warning", "error"]


def clean(value: object) -> str:
    """``value`` as text with no escape sequence, control character, bidi control or
    lone surrogate left (newlines stay; other whitespace controls become spaces)."""
    text = value if isinstance(value, str) else str(value)
    if _UNSAFE.search(text) is None:  # the usual case: nothing to remove (C speed)
        return text
    text = _SEQUENCE.sub("", text.replace("\r\n", "\n"))
    text = _SURROGATE.sub("\ufffd", text)
    return text.translate(_DROP)


def one_line(text: str, width: int) -> str:
    """``text`` on one line (whitespace runs become one space), cut to ``width`` with …"""
    flat = " ".join(text.split())
    if width <= 1 or len(flat) <= width:
        return flat
    return flat[: width - 1] + "…"


def safe_text(value: object, style: StyleType = "", *, width: int | None = None) -> Text:
    """Untrusted ``value`` as ``Text``: cleaned, never markup; one line of at most
    ``width`` cells when ``width`` is given."""
    text = clean(value)
    if width is not None:
        text = one_line(text, width)
    return Text(text, style=style)


class Notifier(Protocol):
    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: Severity = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None: ...


def tell(
    where: Notifier, message: object, *, title: object = "", severity: Severity = "information"
) -> None:
    """A notification whose message and title are shown as text, never as markup."""
    where.notify(clean(message), title=clean(title), severity=severity, markup=False)
