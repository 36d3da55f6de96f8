"""What the console writes to the terminal, and what must never be in it.

:func:`terminal_output` renders the whole screen (dialogs and notifications included)
the way ``App._display`` does for a real terminal driver: the compositor's update turned
into a terminal sequence by ``render_segments``. The headless driver of ``run_test``
writes nothing, so this is the byte stream a terminal would get.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from textual.app import App

# Textual's own output: cursor moves (ESC [ row ; col H) and colours (ESC [ ... m).
TEXTUAL_SEQUENCE = re.compile(r"\x1b\[[0-9;]*[mH]")
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def terminal_output(app: App[Any]) -> str:
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    return update.render_segments(app.console)


def visible_text(output: str) -> str:
    """The characters a person sees (Textual's own sequences removed)."""
    return TEXTUAL_SEQUENCE.sub("", output)


def terminal_problems(output: str) -> list[str]:
    """Everything in ``output`` that Textual itself does not write: any other escape
    sequence, control character, bidi control or unencodable surrogate."""
    problems: list[str] = []
    rest = visible_text(output)
    for index, char in enumerate(rest):
        code = ord(char)
        what = ""
        if char == "\x1b":
            what = "ESC"
        elif code < 0x20 and char != "\n":
            what = "C0 control"
        elif 0x7F <= code <= 0x9F:
            what = "DEL/C1 control"
        elif char in BIDI_CONTROLS:
            what = "bidi control"
        elif unicodedata.category(char) == "Cs":
            what = "lone surrogate"
        if what:
            context = rest[max(0, index - 20) : index + 20]
            problems.append(f"{what} {char!r} in …{context!r}…")
    return problems
