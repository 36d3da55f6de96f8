"""Team canned replies (tenant-wide, every agent's ``/shortcut``), API keys and bridges."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from textual.binding import Binding, BindingType

from tui_agent.admin_api import problem
from tui_agent.client import ApiError
from tui_agent.screens.admin.agents import BadInput, department_ids
from tui_agent.screens.admin.base import AdminView, when
from tui_agent.screens.admin.form import Field, FormScreen
from tui_agent.screens.admin.sites import CopyScreen
from tui_agent.screens.confirm import ConfirmScreen
from tui_agent.untrusted import safe_text


class TeamCannedScreen(AdminView):
    TITLE_TEXT = "Team canned replies"
    HINT = (
        "n new · e edit · delete removes · placeholders like {visitor.name} as on the "
        "server · ctrl+e CSV · escape back"
    )
    COLUMNS = ("Shortcut", "Reply", "Updated (UTC)")
    BINDINGS: ClassVar[list[BindingType]] = [
        *AdminView.BINDINGS,
        Binding("n", "create", "New"),
        Binding("e", "edit", "Edit"),
        Binding("delete", "delete", "Delete"),
    ]

    async def fetch(self) -> list[dict[str, Any]]:
        return sorted(await self.api.team_canned(), key=lambda r: str(r.get("shortcut")))

    def row_cells(self, record: dict[str, Any]) -> list[object]:
        return [
            "/" + str(record.get("shortcut", "")),
            record.get("body"),
            when(record.get("updated_at")),
        ]

    def _form(self, title: str, record: dict[str, Any] | None) -> FormScreen:
        record = record or {}
        return FormScreen(
            title,
            [
                Field(
                    "shortcut", "Shortcut (letters, digits, _ . -)", str(record.get("shortcut", ""))
                ),
                Field("body", "Reply", str(record.get("body", ""))),
            ],
        )

    def action_create(self) -> None:
        def chosen(values: dict[str, str] | None) -> None:
            if values is not None:
                shortcut, body = values["shortcut"].strip(), values["body"].strip()
                self.run_call(
                    lambda: self.api.create_canned(shortcut, body), f"created /{shortcut}"
                )

        self.app.push_screen(self._form("New team reply", None), chosen)

    def action_edit(self) -> None:
        record = self.selected()
        if record is None:
            return
        ident = str(record["id"])

        def chosen(values: dict[str, str] | None) -> None:
            if values is not None:
                shortcut, body = values["shortcut"].strip(), values["body"].strip()
                self.run_call(lambda: self.api.update_canned(ident, shortcut, body), "saved")

        self.app.push_screen(self._form("Edit team reply", record), chosen)

    def action_delete(self) -> None:
        record = self.selected()
        if record is None:
            return
        ident = str(record["id"])

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_call(lambda: self.api.delete_canned(ident), "deleted")

        question = safe_text(f"Delete /{record.get('shortcut', '')} for the whole team?")
        self.app.push_screen(ConfirmScreen(question), answered)


class ApiKeysScreen(AdminView):
    TITLE_TEXT = "API keys"
    HINT = "n new (the secret is shown once) · delete revokes · ctrl+e CSV · escape back"
    COLUMNS = ("Name", "Key id", "Role", "Created (UTC)", "Revoked (UTC)")
    BINDINGS: ClassVar[list[BindingType]] = [
        *AdminView.BINDINGS,
        Binding("n", "create", "New"),
        Binding("delete", "revoke", "Revoke"),
    ]

    async def fetch(self) -> list[dict[str, Any]]:
        return await self.api.api_keys()

    def row_cells(self, record: dict[str, Any]) -> list[object]:
        return [
            record.get("name"),
            record.get("id"),
            record.get("role"),
            when(record.get("created_at")),
            when(record.get("revoked_at")),
        ]

    def show_secret(self, result: Any) -> None:
        text = (
            f"Key id: {result.get('id', '')}\nSecret (shown this once): {result.get('secret', '')}"
        )
        self.app.push_screen(
            CopyScreen(
                f"API key {result.get('name', '')}",
                text,
                "Copy the secret now: the server never shows it again.",
            )
        )

    def action_create(self) -> None:
        def chosen(values: dict[str, str] | None) -> None:
            if values is None:
                return
            name, role = values["name"].strip(), values["role"].strip().lower() or "admin"
            if role not in ("admin", "agent"):
                self.say("role is admin or agent", error=True)
                return
            self.run_call(lambda: self.api.create_api_key(name, role), "created", self.show_secret)

        self.app.push_screen(
            FormScreen(
                "New API key",
                [
                    Field("name", "Name (what uses it)"),
                    Field("role", "Role (admin or agent)", "admin"),
                ],
            ),
            chosen,
        )

    def action_revoke(self) -> None:
        _confirm_revoke(self, self.api.revoke_api_key, "Its next request fails.")


class BridgesScreen(AdminView):
    TITLE_TEXT = "Bridges"
    HINT = (
        "n new (the token is shown once) · delete revokes · l linked users · c my link "
        "code · ctrl+e CSV · escape back"
    )
    COLUMNS = ("Name", "Kind", "Departments", "Created (UTC)", "Revoked (UTC)")
    BINDINGS: ClassVar[list[BindingType]] = [
        *AdminView.BINDINGS,
        Binding("n", "create", "New"),
        Binding("delete", "revoke", "Revoke"),
        Binding("l", "links", "Links"),
        Binding("c", "link_code", "Link code"),
    ]

    department_names: dict[str, str]

    async def fetch(self) -> list[dict[str, Any]]:
        departments = await self.api.departments()
        self.department_names = {str(d["id"]): str(d.get("name", "")) for d in departments}
        return await self.api.bridges()

    def row_cells(self, record: dict[str, Any]) -> list[object]:
        names = [self.department_names.get(str(i), str(i)) for i in record.get("departments") or ()]
        return [
            record.get("name"),
            record.get("kind"),
            ", ".join(names) or "all",
            when(record.get("created_at")),
            when(record.get("revoked_at")),
        ]

    def action_create(self) -> None:
        by_name = {name: ident for ident, name in self.department_names.items()}

        def chosen(values: dict[str, str] | None) -> None:
            if values is None:
                return
            try:
                departments = department_ids(values["departments"], by_name)
            except BadInput as exc:
                self.say(str(exc), error=True)
                return
            fields = {
                "kind": values["kind"].strip().lower(),
                "name": values["name"].strip(),
                "departments": departments,
            }

            def show(result: Any) -> None:
                self.app.push_screen(
                    CopyScreen(
                        f"Bridge {result.get('name', '')}",
                        f"Bridge token (shown this once):\n{result.get('token', '')}",
                        "Put it in the bridge's configuration (docs/bridges.md) now.",
                    )
                )

            self.run_call(lambda: self.api.create_bridge(fields), "created", show)

        self.app.push_screen(
            FormScreen(
                "New bridge",
                [
                    Field("kind", "Kind (slack, telegram or ai)"),
                    Field("name", "Name"),
                    Field("departments", "Departments (names; empty: all)"),
                ],
            ),
            chosen,
        )

    def action_revoke(self) -> None:
        _confirm_revoke(self, self.api.revoke_bridge, "Its sockets close at once.")

    def action_links(self) -> None:
        record = self.selected()
        if record is None:
            return
        ident = str(record["id"])

        async def go() -> None:
            try:
                links = await self.api.bridge_links(ident)
            except ApiError as exc:
                self.say(problem(exc), error=True)
                return
            lines = [
                f"{link.get('external_user', '')} -> {(link.get('agent') or {}).get('name', '')} "
                f"<{(link.get('agent') or {}).get('email', '')}>"
                for link in links
            ]
            self.app.push_screen(
                CopyScreen(
                    f"Linked through {record.get('name', '')}",
                    "\n".join(lines) or "nobody linked yet",
                )
            )

        self.run_worker(go(), group="admin-write")

    def action_link_code(self) -> None:
        async def go() -> None:
            try:
                code = await self.api.link_code()
            except ApiError as exc:
                self.say(problem(exc), error=True)
                return
            self.app.push_screen(
                CopyScreen(
                    "My link code",
                    f"{code.get('code', '')}\n(valid until {code.get('expires_at', '')})",
                    "Send it to the bridge's bot from your Slack or Telegram account.",
                )
            )

        self.run_worker(go(), group="admin-write")


def _confirm_revoke(view: AdminView, revoke: Callable[[str], Awaitable[Any]], what: str) -> None:
    """Ask, then revoke the highlighted API key or bridge (once revoked, nothing to ask)."""
    record = view.selected()
    if record is None or record.get("revoked_at"):
        return
    ident = str(record["id"])

    def answered(yes: bool | None) -> None:
        if yes:
            view.run_call(lambda: revoke(ident), "revoked")

    question = safe_text(f"Revoke {record.get('name', '')}? {what}")
    view.app.push_screen(ConfirmScreen(question), answered)
