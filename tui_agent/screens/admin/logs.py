"""The audit log and the login log, newest first, with the server's filters, and names
instead of ids (who acted, and on what)."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Input

from tui_agent.admin_api import problem
from tui_agent.client import ApiError
from tui_agent.screens.admin.base import AdminView, when
from tui_agent.untrusted import clean


class LogView(AdminView):
    LOG = ""  # the route: audit or login-log
    FILTERS: ClassVar[tuple[tuple[str, str], ...]] = ()  # (name, placeholder)
    BINDINGS: ClassVar[list[BindingType]] = [
        *AdminView.BINDINGS,
        Binding("f", "filters", "Filter"),
        Binding("m", "more", "Older"),
    ]
    next_before = ""
    sent_filters: dict[str, str]

    def server_filters(self) -> dict[str, str]:
        return self.filters()

    async def fetch(self) -> list[dict[str, Any]]:
        await self.prepare()
        self.sent_filters = self.server_filters()
        rows, self.next_before = await self.api.log_page(self.LOG, self.sent_filters)
        return rows

    async def prepare(self) -> None:
        """What the rows are shown with (names), before the first page."""

    def after_load(self) -> None:
        more = " (m: older)" if self.next_before else ""
        self.say(f"{len(self.records)} rows{more}")

    def action_more(self) -> None:
        if not self.next_before:
            return

        async def go() -> None:
            try:
                rows, self.next_before = await self.api.log_page(
                    self.LOG, self.sent_filters, self.next_before
                )
            except ApiError as exc:
                self.say(problem(exc), error=True)
                return
            self.show_rows(self.records + rows)
            self.after_load()

        self.run_worker(go(), group="admin-load")

    def compose_top(self) -> ComposeResult:
        with Horizontal(classes="admin-filters"):
            for name, placeholder in self.FILTERS:
                yield Input(placeholder=clean(placeholder), id=f"filter-{name}")

    def filters(self) -> dict[str, str]:
        return {name: self.query_one(f"#filter-{name}", Input).value for name, _ in self.FILTERS}

    def set_filter(self, name: str, value: str) -> None:
        self.query_one(f"#filter-{name}", Input).value = value

    def action_filters(self) -> None:
        self.query(Input).first().focus()

    @on(Input.Submitted)
    def _apply(self) -> None:
        self.query_one("#admin-table").focus()
        self.action_reload()


def changes_text(changes: object) -> str:
    if isinstance(changes, dict):
        return ", ".join(
            f"{k}: {v[0]!s} → {v[1]!s}" if isinstance(v, list) and len(v) == 2 else f"{k}: {v}"
            for k, v in changes.items()
        )
    return "" if changes in (None, "") else json.dumps(changes, ensure_ascii=False)


class AuditScreen(LogView):
    TITLE_TEXT = "Audit log"
    HINT = (
        "f filter (who: a name or e-mail; action: agent. for a prefix; since/until: "
        "YYYY-MM-DD) · enter applies · m older · ctrl+e CSV · escape back"
    )
    COLUMNS = ("When (UTC)", "Who", "Action", "On", "Changes", "IP")
    FILTERS = (
        ("who", "who (name or e-mail)"),
        ("action", "action, e.g. agent."),
        ("since", "since YYYY-MM-DD"),
        ("until", "until YYYY-MM-DD"),
    )

    LOG = "audit"
    names: dict[str, str]
    agents: list[dict[str, Any]]

    async def prepare(self) -> None:
        self.agents = agents = await self.api.agents()
        self.names = {str(a["id"]): str(a.get("name") or a.get("email")) for a in agents}
        for department in await self.api.departments():
            self.names[str(department["id"])] = str(department.get("name", ""))
        for site in await self.api.sites():
            self.names[str(site["site_key"])] = str(site.get("name", ""))

    def server_filters(self) -> dict[str, str]:
        agents = self.agents
        query = self.filters()
        who = query.pop("who", "").strip()
        if who:
            wanted = who.casefold()
            match = next((a for a in agents if wanted in _names_of(a)), None)
            query["actor"] = f"agent:{match['id']}" if match is not None else who
        return query

    def row_cells(self, record: dict[str, Any]) -> list[object]:
        target = str(record.get("target") or "")
        named = self.names.get(target)
        return [
            when(record.get("created_at")),
            record.get("actor_name") or record.get("actor"),
            record.get("action"),
            named or target,
            changes_text(record.get("changes")),
            record.get("ip"),
        ]


class LoginLogScreen(LogView):
    TITLE_TEXT = "Login log"
    HINT = (
        "f filter (user, IP, success yes/no, since YYYY-MM-DD) · enter applies · "
        "m older · ctrl+e CSV · escape back"
    )
    COLUMNS = ("When (UTC)", "User", "Succeeded", "Source", "IP", "Client")
    FILTERS = (
        ("username", "user (e-mail)"),
        ("ip", "IP"),
        ("success", "success yes/no"),
        ("since", "since YYYY-MM-DD"),
    )

    LOG = "login-log"

    def server_filters(self) -> dict[str, str]:
        query = self.filters()
        success = query.get("success", "").strip().lower()
        if success:
            query["success"] = "true" if success in ("y", "yes", "true", "1") else "false"
        return query

    def row_cells(self, record: dict[str, Any]) -> list[object]:
        return [
            when(record.get("created_at")),
            record.get("username"),
            record.get("success"),
            record.get("source"),
            record.get("ip"),
            record.get("user_agent"),
        ]


def _names_of(agent: dict[str, Any]) -> tuple[str, str]:
    return str(agent.get("name", "")).casefold(), str(agent.get("email", "")).casefold()
