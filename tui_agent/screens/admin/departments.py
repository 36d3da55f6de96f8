"""Departments: create, rename, delete (its agents and conversations are detached)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.binding import Binding, BindingType

from tui_agent.screens.admin.base import AdminView, when
from tui_agent.screens.admin.form import Field, FormScreen
from tui_agent.screens.confirm import ConfirmScreen
from tui_agent.untrusted import safe_text


class DepartmentsScreen(AdminView):
    TITLE_TEXT = "Departments"
    HINT = "n new · r rename · delete removes · ctrl+e CSV · escape back"
    COLUMNS = ("Name", "Agents", "Created (UTC)")
    BINDINGS: ClassVar[list[BindingType]] = [
        *AdminView.BINDINGS,
        Binding("n", "create", "New"),
        Binding("r", "rename", "Rename"),
        Binding("delete", "delete", "Delete"),
    ]

    members: dict[str, int]

    async def fetch(self) -> list[dict[str, Any]]:
        departments = await self.api.departments()
        self.members = {}
        for agent in await self.api.agents():
            for ident in agent.get("departments") or ():
                self.members[str(ident)] = self.members.get(str(ident), 0) + 1
        return sorted(departments, key=lambda d: str(d.get("name", "")).casefold())

    def row_cells(self, record: dict[str, Any]) -> list[object]:
        return [
            record.get("name"),
            self.members.get(str(record.get("id")), 0),
            when(record.get("created_at")),
        ]

    def action_create(self) -> None:
        def chosen(values: dict[str, str] | None) -> None:
            name = (values or {}).get("name", "").strip()
            if name:
                self.run_call(lambda: self.api.create_department(name), f"created {name}")

        self.app.push_screen(FormScreen("New department", [Field("name", "Name")]), chosen)

    def action_rename(self) -> None:
        record = self.selected()
        if record is None:
            return
        ident = str(record["id"])

        def chosen(values: dict[str, str] | None) -> None:
            name = (values or {}).get("name", "").strip()
            if name:
                self.run_call(lambda: self.api.rename_department(ident, name), "renamed")

        self.app.push_screen(
            FormScreen("Rename department", [Field("name", "Name", str(record.get("name", "")))]),
            chosen,
        )

    def action_delete(self) -> None:
        record = self.selected()
        if record is None:
            return
        ident = str(record["id"])

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_call(lambda: self.api.delete_department(ident), "deleted")

        question = safe_text(
            f"Delete {record.get('name', '')}? Its agents leave it and its waiting "
            "conversations go back to the tenant-wide queue."
        )
        self.app.push_screen(ConfirmScreen(question), answered)
