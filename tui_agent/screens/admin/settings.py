"""Tenant settings (``GET|PUT /api/v1/settings``): one row per value, ``e`` changes it.

The server merges partial sections, so a change sends only its own field."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from tui_agent.screens.admin.base import AdminView
from tui_agent.screens.admin.form import Field, FormScreen

MEANING = {
    ("limits", "body_max_chars"): "longest message, characters (empty: the node's default)",
    ("limits", "ws_rate_visitor"): "visitor sends per 10 s (empty: the node's default)",
    ("limits", "ws_rate_agent"): "agent sends per 10 s (empty: the node's default)",
    ("limits", "canned_personal_max"): "personal canned replies per agent",
    ("limits", "attachment_max_bytes"): "largest attachment, bytes (1024 to 50 MiB)",
    ("masking", "cards"): "mask card numbers in messages (yes / no)",
    ("masking", "emails"): "mask e-mail addresses in messages (yes / no)",
}


def typed_value(current: object, typed: str) -> object:
    """The typed text as the setting's JSON type (a flag, a number, or null for empty)."""
    text = typed.strip().lower()
    if isinstance(current, bool):
        return text in ("y", "yes", "true", "1", "on")
    if text == "":
        return None
    return int(text) if text.lstrip("-").isdigit() else typed.strip()


class SettingsScreen(AdminView):
    TITLE_TEXT = "Settings"
    HINT = "e / enter changes the highlighted value · ctrl+e CSV · escape back"
    COLUMNS = ("Section", "Setting", "Value", "Means")
    BINDINGS: ClassVar[list[BindingType]] = [
        *AdminView.BINDINGS,
        Binding("e", "edit", "Change"),
    ]

    @on(DataTable.RowSelected)
    def _chosen(self) -> None:  # enter on a row (the table's own key)
        self.action_edit()

    async def fetch(self) -> list[dict[str, Any]]:
        current = await self.api.settings()
        return [
            {"section": section, "field": name, "value": value}
            for section, fields in current.items()
            if isinstance(fields, dict)
            for name, value in fields.items()
        ]

    def row_cells(self, record: dict[str, Any]) -> list[object]:
        key = (record["section"], record["field"])
        value = record["value"]
        return [
            record["section"],
            record["field"],
            "default" if value is None else value,
            MEANING.get(key, ""),
        ]

    def action_edit(self) -> None:
        record = self.selected()
        if record is None:
            return
        section, name, current = record["section"], record["field"], record["value"]
        shown = (
            ""
            if current is None
            else ("yes" if current is True else "no" if current is False else str(current))
        )

        def chosen(values: dict[str, str] | None) -> None:
            if values is not None:
                body = {section: {name: typed_value(current, values["value"])}}
                self.run_call(lambda: self.api.put_settings(body), f"{section}.{name} saved")

        label = MEANING.get((section, name), name)
        self.app.push_screen(
            FormScreen(f"{section}.{name}", [Field("value", label, shown)]), chosen
        )
