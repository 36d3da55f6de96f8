"""The key line at the bottom of the desk: the main keys and what they do.

Textual's ``Footer`` rebuilds itself (and so lays the whole screen out again) each time
the focus moves, which costs a frame on every ``alt+q`` or ``ctrl+n`` during a burst.
The desk's keys do not depend on the focus (every widget key is hidden), so they are
drawn once, in the footer's own style, from ``tui_agent.keys``.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui_agent.keys import MAIN_KEYS
from tui_agent.untrusted import safe_text


def key_label(keys: str) -> str:
    """``ctrl+g`` -> ``^g`` (as Textual's footer shows it)."""
    first = keys.split(",")[0]
    return "^" + first.removeprefix("ctrl+") if first.startswith("ctrl+") else first


class KeyBar(Static):
    COMPONENT_CLASSES = {"key-bar--key"}
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-foreground;
    }
    KeyBar > .key-bar--key {
        color: $footer-key-foreground;
        text-style: bold;
    }
    """

    def on_mount(self) -> None:
        key_style = self.get_component_rich_style("key-bar--key")
        line = Text()
        for key in MAIN_KEYS:
            if key.show:
                line.append_text(safe_text(f" {key_label(key.keys)} ", key_style))
                line.append_text(safe_text(f"{key.description} "))
        self.update(line)
