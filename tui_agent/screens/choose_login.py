"""Which saved login to use, when this machine has several (two agents, or one agent in
two tenants, each with a console): never a silent pick of whichever was used last."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from tui_agent.config import SavedSession
from tui_agent.messages import LoginChosen
from tui_agent.untrusted import safe_text

ANOTHER = "another"


def describe(session: SavedSession) -> Text:
    """One line per login; every part comes from a file or the server: cleaned, no markup."""
    line = Text()
    name = session.agent.get("name")
    if name:
        line.append_text(safe_text(name, "bold"))
        line.append(" <")
        line.append_text(safe_text(session.email))
        line.append(">")
    else:
        line.append_text(safe_text(session.email, "bold"))
    line.append("  tenant ")
    line.append_text(safe_text(session.tenant))
    line.append(" · ")
    line.append_text(safe_text(session.server_url))
    if session.token_usable():
        line.append("  signed in", style="green")
    else:
        line.append("  password needed", style="yellow")
    return line


class ChooseLoginScreen(Screen[None]):
    BINDINGS = [("ctrl+q", "app.quit", "Quit")]

    def __init__(self, logins: list[SavedSession]) -> None:
        super().__init__()
        self.logins = logins

    def compose(self) -> ComposeResult:
        with Vertical(id="choose-login-box") as box:
            box.border_title = "Steadydesk agent console"
            yield Static("Several logins are saved on this machine. Which one?")
            options = [Option(describe(s), id=str(i)) for i, s in enumerate(self.logins)]
            options.append(Option(Text("Another login…", style="italic"), id=ANOTHER))
            yield OptionList(*options, id="logins")
            yield Static("↑/↓ and enter", classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#logins", OptionList).focus()

    @on(OptionList.OptionSelected, "#logins")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        chosen = event.option.id
        if chosen == ANOTHER or chosen is None:
            self.post_message(LoginChosen(None, self.logins[0].server_url))
        else:
            self.post_message(LoginChosen(self.logins[int(chosen)]))
