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

from rich.cells import cell_len
from rich.segment import ControlType
from rich.style import Style
from textual.app import App
from textual.widget import Widget

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


Cell = tuple[str, tuple[object, ...]]


def _look(style: Style | None) -> tuple[object, ...]:
    """What a person sees of a cell's style (not its meta: click actions, link ids)."""
    if style is None:
        return ()
    return (
        style.color,
        style.bgcolor,
        style.bold,
        style.dim,
        style.italic,
        style.underline,
        style.reverse,
        style.strike,
    )


class VirtualTerminal:
    """The cells a terminal shows after every update the app wrote (whole screens and the
    partial ones), to compare with the screen drawn from scratch: a widget that redraws
    less than what changed leaves stale cells here."""

    def __init__(self, app: App[Any]) -> None:
        self.app = app
        width, height = app.size
        self.cells: list[list[Cell]] = [[(" ", ())] * width for _ in range(height)]
        self.updates = 0
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is not None and screen is app.screen:
                self.updates += 1
                self.apply(renderable, self.cells)

        app._display = display  # type: ignore[method-assign]

    def apply(self, update: Any, cells: list[list[Cell]]) -> None:
        console = self.app.console
        x = y = 0
        for segment in update.__rich_console__(console, console.options):
            if segment.control:
                for code in segment.control:
                    if code[0] == ControlType.CURSOR_MOVE_TO:
                        x, y = int(code[1]), int(code[2])
                continue
            for char in segment.text:
                if char == "\n":
                    x, y = 0, y + 1
                    continue
                width = cell_len(char)
                if 0 <= y < len(cells) and 0 <= x < len(cells[y]):
                    cells[y][x] = (char, _look(segment.style))
                    for extra in range(1, width):
                        if x + extra < len(cells[y]):
                            cells[y][x + extra] = ("", _look(segment.style))
                x += width

    def from_scratch(self) -> list[list[Cell]]:
        """The screen drawn again with every widget's drawing forgotten."""
        screen = self.app.screen
        for widget in screen.walk_children(with_self=True):
            if isinstance(widget, Widget):
                widget._styles_cache.clear()
        width, height = self.app.size
        cells: list[list[Cell]] = [[(" ", ())] * width for _ in range(height)]
        self.apply(screen._compositor.render_update(full=True), cells)
        return cells

    def stale(self) -> list[str]:
        """Lines that differ from the screen drawn from scratch (text, then styles)."""
        fresh = self.from_scratch()
        problems = []
        for y, (shown, right) in enumerate(zip(self.cells, fresh, strict=True)):
            if shown != right:
                text = "".join(c for c, _ in shown)
                wanted = "".join(c for c, _ in right)
                what = "the same text in other colours" if text == wanted else f"{wanted!r}"
                problems.append(f"line {y}: {text!r} instead of {what}")
        return problems
