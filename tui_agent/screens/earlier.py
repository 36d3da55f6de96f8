"""The visitor's earlier conversations (from the visitor context): pick one to open it
in a tab, read-only (closed, or someone else's)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui_agent.models import EarlierChat
from tui_agent.untrusted import safe_text


class EarlierChatsScreen(ModalScreen[str | None]):
    BINDINGS = [("escape", "dismiss", "Cancel")]

    def __init__(self, visitor: str, chats: Sequence[EarlierChat]) -> None:
        super().__init__()
        self.visitor = visitor
        self.chats = list(chats)

    def compose(self) -> ComposeResult:
        with Vertical(id="earlier-box", classes="dialog") as box:
            box.border_title = safe_text(f"Earlier chats of {self.visitor}", width=60)
            box.border_subtitle = "enter opens (read-only), escape cancels"
            options = [
                Option(safe_text(f"{c.created_at[:16].replace('T', ' ')}  {c.status}"), id=c.id)
                for c in self.chats
            ] or [Option(Text("no earlier chats", style="dim"), disabled=True)]
            yield OptionList(*options, id="earlier-list")

    def on_mount(self) -> None:
        self.query_one("#earlier-list", OptionList).focus()

    @on(OptionList.OptionSelected, "#earlier-list")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
