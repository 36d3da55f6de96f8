"""Agents: create, edit (name, role, capacity, departments by name), disable/enable,
reset a password. Departments are typed and shown by name, never by id."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.binding import Binding, BindingType

from tui_agent.screens.admin.base import AdminView
from tui_agent.screens.admin.form import Field, FormScreen
from tui_agent.screens.confirm import ConfirmScreen
from tui_agent.untrusted import clean, safe_text

ROLES = ("agent", "admin")


class BadInput(ValueError):
    """A form value the console can tell is wrong before asking the server."""


def department_ids(typed: str, by_name: dict[str, str]) -> list[str]:
    """``"Sales, Support"`` -> their ids; an unknown name is an error that names it."""
    names = [n.strip() for n in typed.split(",") if n.strip()]
    folded = {name.casefold(): ident for name, ident in by_name.items()}
    unknown = [n for n in names if n.casefold() not in folded]
    if unknown:
        raise BadInput(f"no department named {', '.join(unknown)}")
    return list(dict.fromkeys(folded[n.casefold()] for n in names))


def agent_fields(values: dict[str, str], by_name: dict[str, str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if values.get("name", "").strip():
        fields["name"] = values["name"].strip()
    role = values.get("role", "").strip().lower()
    if role:
        if role not in ROLES:
            raise BadInput("role is agent or admin")
        fields["role"] = role
    capacity = values.get("capacity", "").strip()
    if capacity:
        if not capacity.isdigit():
            raise BadInput("capacity is a whole number")
        fields["capacity"] = int(capacity)
    if "departments" in values:
        fields["departments"] = department_ids(values["departments"], by_name)
    return fields


class AgentsScreen(AdminView):
    TITLE_TEXT = "Agents"
    HINT = "n new · e edit · d disable/enable · p reset password · ctrl+e CSV · escape back"
    COLUMNS = ("Name", "E-mail", "Role", "Capacity", "Departments", "Status", "Disabled")
    BINDINGS: ClassVar[list[BindingType]] = [
        *AdminView.BINDINGS,
        Binding("n", "create", "New"),
        Binding("e", "edit", "Edit"),
        Binding("d", "toggle_disabled", "Disable/enable"),
        Binding("p", "password", "Password"),
    ]

    department_names: dict[str, str]  # id -> name

    async def fetch(self) -> list[dict[str, Any]]:
        departments = await self.api.departments()
        self.department_names = {str(d["id"]): str(d.get("name", "")) for d in departments}
        return await self.api.agents()

    def by_name(self) -> dict[str, str]:
        return {name: ident for ident, name in getattr(self, "department_names", {}).items()}

    def names_of(self, ids: object) -> str:
        known = getattr(self, "department_names", {})
        return ", ".join(known.get(str(i), str(i)) for i in ids) if isinstance(ids, list) else ""

    def row_cells(self, record: dict[str, Any]) -> list[object]:
        return [
            record.get("name"),
            record.get("email"),
            record.get("role"),
            record.get("capacity"),
            self.names_of(record.get("departments")),
            record.get("status"),
            record.get("disabled"),
        ]

    def _form(self, title: str, record: dict[str, Any] | None) -> FormScreen:
        fields = [
            Field("name", "Name", str(record.get("name") or "") if record else ""),
            Field(
                "role",
                "Role (agent or admin)",
                str(record.get("role") or "") if record else "agent",
            ),
            Field(
                "capacity",
                "Capacity (chats at once)",
                str(record.get("capacity") or "") if record else "",
            ),
            Field(
                "departments",
                "Departments (names, comma separated)",
                self.names_of(record.get("departments")) if record else "",
                placeholder=clean(", ".join(sorted(self.by_name())) or "no departments yet"),
            ),
        ]
        if record is None:
            fields[:0] = [Field("email", "E-mail")]
            fields.append(Field("password", "Password (8 characters or more)", password=True))
        return FormScreen(title, fields)

    def action_create(self) -> None:
        def chosen(values: dict[str, str] | None) -> None:
            if values is None:
                return
            try:
                fields = agent_fields(values, self.by_name())
            except BadInput as exc:
                self.say(str(exc), error=True)
                return
            fields["email"] = values.get("email", "").strip()
            fields["password"] = values.get("password", "")
            self.run_call(lambda: self.api.create_agent(fields), f"created {fields['email']}")

        self.app.push_screen(self._form("New agent", None), chosen)

    def action_edit(self) -> None:
        record = self.selected()
        if record is None:
            return
        agent_id = str(record["id"])

        def chosen(values: dict[str, str] | None) -> None:
            if values is None:
                return
            try:
                fields = agent_fields(values, self.by_name())
            except BadInput as exc:
                self.say(str(exc), error=True)
                return
            self.run_call(lambda: self.api.update_agent(agent_id, fields), "saved")

        self.app.push_screen(self._form(f"Edit {record.get('email', '')}", record), chosen)

    def action_toggle_disabled(self) -> None:
        record = self.selected()
        if record is None:
            return
        agent_id, disable = str(record["id"]), not record.get("disabled")
        verb = "Disable" if disable else "Enable"
        note = " (their sessions end at once)" if disable else ""

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_call(lambda: self.api.set_disabled(agent_id, disable), f"{verb.lower()}d")

        question = safe_text(f"{verb} {record.get('email', '')}?{note}")
        self.app.push_screen(ConfirmScreen(question), answered)

    def action_password(self) -> None:
        record = self.selected()
        if record is None:
            return
        agent_id = str(record["id"])

        def chosen(values: dict[str, str] | None) -> None:
            if values is not None:
                password = values.get("password", "")
                self.run_call(
                    lambda: self.api.reset_password(agent_id, password),
                    "password changed; their sessions ended",
                )

        self.app.push_screen(
            FormScreen(
                f"New password for {record.get('email', '')}",
                [Field("password", "Password (8 characters or more)", password=True)],
            ),
            chosen,
        )
