"""Pick the label the side lists are narrowed to (``alt+f``); dismissed with the label,
or None when cancelled."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui_agent.untrusted import safe_text


class PickLabelScreen(ModalScreen[str | None]):
    BINDINGS = [("escape", "dismiss", "Cancel")]

    def __init__(self, labels: Sequence[str]) -> None:
        super().__init__()
        self.labels = list(labels)  # the tenant's labels, most used first

    def compose(self) -> ComposeResult:
        with Vertical(id="pick-label-box", classes="dialog") as box:
            box.border_title = "Show only the conversations with the label"
            box.border_subtitle = "enter picks, escape cancels"
            if not self.labels:
                yield Static(safe_text("No labels yet: f3 adds one to a conversation.", "dim"))
            # Options by index: a label is the team's text, not an identifier.
            yield OptionList(
                *(Option(safe_text(f"#{label}"), id=str(i)) for i, label in enumerate(self.labels)),
                id="pick-label-options",
            )

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.labels[int(event.option.id or 0)])
