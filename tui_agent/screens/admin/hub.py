"""The admin menu: one line per subject, a key for each (the hub opens with ``f9``)."""

from __future__ import annotations

from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from tui_agent.screens.admin.agents import AgentsScreen
from tui_agent.screens.admin.base import AdminContext, AdminView
from tui_agent.screens.admin.departments import DepartmentsScreen
from tui_agent.screens.admin.logs import AuditScreen, LoginLogScreen
from tui_agent.screens.admin.reports import ReportsScreen
from tui_agent.screens.admin.settings import SettingsScreen
from tui_agent.screens.admin.sites import SitesScreen
from tui_agent.screens.admin.team import ApiKeysScreen, BridgesScreen, TeamCannedScreen
from tui_agent.untrusted import safe_text

SUBJECTS: tuple[tuple[str, str, str, Callable[[AdminContext], AdminView]], ...] = (
    # (key, id, what, screen)
    ("a", "agents", "Agents: create, role, capacity, departments, disable, password", AgentsScreen),
    ("d", "departments", "Departments: create, rename, delete", DepartmentsScreen),
    (
        "s",
        "sites",
        "Sites: origins, identity secret, widget snippet, hours, pre-chat form, CSAT",
        SitesScreen,
    ),
    ("l", "audit", "Audit log: who changed what", AuditScreen),
    ("g", "logins", "Login log: every login attempt", LoginLogScreen),
    ("r", "reports", "Reports: conversations, response and wait times, CSAT", ReportsScreen),
    ("c", "canned", "Team canned replies", TeamCannedScreen),
    ("t", "settings", "Settings: limits, masking", SettingsScreen),
    ("k", "keys", "API keys: create, revoke", ApiKeysScreen),
    ("b", "bridges", "Bridges (Slack, Telegram): create, revoke, links, link code", BridgesScreen),
)


class AdminHubScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "Back to the desk"),
        *(Binding(key, f"open('{ident}')", ident.capitalize()) for key, ident, _, _ in SUBJECTS),
    ]

    def __init__(self, context: AdminContext) -> None:
        super().__init__()
        self.context = context

    def compose(self) -> ComposeResult:
        with Vertical(id="admin-hub"):
            yield Static(safe_text("Administration", "bold"), classes="admin-title")
            yield OptionList(
                *(
                    Option(safe_text(f"{key}  {what}"), id=ident)
                    for key, ident, what, _ in SUBJECTS
                ),
                id="admin-menu",
            )
            yield Static(
                safe_text("a letter or enter opens · escape: back to the desk", "dim"),
                classes="admin-hint",
            )
        yield Footer()

    def on_mount(self) -> None:
        menu = self.query_one("#admin-menu", OptionList)
        menu.highlighted = 0
        menu.focus()

    def action_open(self, ident: str) -> None:
        for _, subject, _, make in SUBJECTS:
            if subject == ident:
                self.app.push_screen(make(self.context))

    @on(OptionList.OptionSelected, "#admin-menu")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.action_open(event.option.id)

    def action_back(self) -> None:
        self.app.pop_screen()
