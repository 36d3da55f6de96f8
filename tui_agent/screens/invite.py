"""Ask for the greeting of a proactive invite (the first message the visitor will see)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from tui_agent.untrusted import safe_text

DEFAULT_GREETING = "Hello! Can I help you with anything?"


class InviteScreen(ModalScreen[str | None]):
    DEFAULT_CSS = """
    #invite-box { width: 70; height: auto; }
    """
    BINDINGS = [("escape", "dismiss", "Cancel")]

    def __init__(self, who: str) -> None:
        super().__init__()
        self.who = who

    def compose(self) -> ComposeResult:
        with Vertical(id="invite-box", classes="dialog") as box:
            box.border_title = "Invite to chat"
            box.border_subtitle = "enter sends, escape cancels"
            yield Static(safe_text(f"Your greeting to {self.who}:", width=66))
            yield Input(value=DEFAULT_GREETING, id="invite-greeting", max_length=2000)

    def on_mount(self) -> None:
        self.query_one("#invite-greeting", Input).focus()

    @on(Input.Submitted, "#invite-greeting")
    def submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        self.dismiss(text or None)
