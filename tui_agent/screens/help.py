"""Every key of the console (from tui_agent.keys, the same table the bindings use)."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui_agent.keys import help_rows
from tui_agent.untrusted import safe_text


class HelpScreen(ModalScreen[None]):
    BINDINGS = [("escape,f1,q", "dismiss", "Close")]

    def __init__(self, admin: bool = False) -> None:
        super().__init__()
        self.admin = admin  # admin keys are listed to admins only

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=True, header_style="bold", expand=True)
        table.add_column("Key", style="bold cyan", no_wrap=True)
        table.add_column("Does")
        for keys, what in help_rows(self.admin):
            table.add_row(safe_text(keys), safe_text(what))
        with VerticalScroll(id="help-box") as box:
            box.border_title = "Keys"
            box.border_subtitle = "escape closes"
            yield Static(table)
