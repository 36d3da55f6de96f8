"""Pick the agent's status: online, away or offline (sent as a `status` frame)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui_agent.models import AgentStatus
from tui_agent.untrusted import safe_text

LABELS = {
    AgentStatus.ONLINE: "● Online: new chats may come to me",
    AgentStatus.AWAY: "◐ Away: back soon",
    AgentStatus.OFFLINE: "○ Offline",
}


class StatusScreen(ModalScreen[str | None]):
    BINDINGS = [
        ("escape", "dismiss", "Cancel"),
        ("o", "pick('online')", "Online"),
        ("a", "pick('away')", "Away"),
        ("f", "pick('offline')", "Offline"),
    ]

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        options = [Option(safe_text(label), id=state.value) for state, label in LABELS.items()]
        with Vertical(id="status-box", classes="dialog") as box:
            box.border_title = "My status"
            box.border_subtitle = "o / a / f, or enter"
            yield OptionList(*options, id="status-options")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        ids = [state.value for state in LABELS]
        options.highlighted = ids.index(self.current) if self.current in ids else 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_pick(self, state: str) -> None:
        self.dismiss(state)
