"""Sites: create, edit origins and identity rules, rotate the identity secret, and the
widget snippet ready to copy. Secrets are shown once, in a dialog, never in the table."""

from __future__ import annotations

import html
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static, TextArea

from tui_agent.screens.admin.base import AdminView, when
from tui_agent.screens.admin.form import Field, FormScreen
from tui_agent.screens.admin.site_widget import SiteWidgetScreen
from tui_agent.screens.confirm import ConfirmScreen
from tui_agent.untrusted import clean, safe_text


def widget_snippet(server_url: str, site_key: str) -> str:
    """The script tag for a site's pages (docs/widget.md), attribute-escaped."""
    src = html.escape(f"{server_url.rstrip('/')}/widget.js", quote=True)
    return f'<script src="{src}" data-site="{html.escape(site_key, quote=True)}" async></script>'


def yes(typed: str) -> bool:
    return typed.strip().lower() in ("y", "yes")


def origins(typed: str) -> list[str]:
    return [o.strip() for o in typed.replace(",", " ").split() if o.strip()]


class CopyScreen(ModalScreen[None]):
    """Text to copy: selectable, and ``c`` puts all of it on the clipboard (OSC 52)."""

    BINDINGS = [("escape,q", "dismiss", "Close"), ("c", "copy", "Copy")]

    def __init__(self, title: str, text: str, note: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.text = clean(text)
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(id="admin-copy", classes="dialog") as box:
            box.border_title = safe_text(self.title_text, width=60)
            box.border_subtitle = "c copies, escape closes"
            if self.note:
                yield Static(safe_text(self.note, "bold"))
            yield TextArea(self.text, read_only=True, soft_wrap=True, id="admin-copy-text")

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.text)
        self.query_one("#admin-copy-text", TextArea).border_subtitle = "copied"


class SitesScreen(AdminView):
    TITLE_TEXT = "Sites"
    HINT = (
        "n new · e edit · w widget snippet · s rotate identity secret · h hours and "
        "pre-chat form · ctrl+e CSV · escape back"
    )
    # One column for the identity hash's rules keeps the table within 130 columns.
    COLUMNS = ("Name", "Site key", "Allowed origins", "Identity hash", "CSAT", "Created (UTC)")
    BINDINGS: ClassVar[list[BindingType]] = [
        *AdminView.BINDINGS,
        Binding("n", "create", "New"),
        Binding("e", "edit", "Edit"),
        Binding("w", "snippet", "Snippet"),
        Binding("s", "rotate", "Rotate secret"),
        Binding("h", "hours", "Hours & pre-chat"),
    ]

    async def fetch(self) -> list[dict[str, Any]]:
        return await self.api.sites()

    def row_cells(self, record: dict[str, Any]) -> list[object]:
        return [
            record.get("name"),
            record.get("site_key"),
            record.get("allowed_origins") or "any (no origin check)",
            _identity_hash(record),
            record.get("csat_enabled"),
            when(record.get("created_at")),
        ]

    @staticmethod
    def _fields(record: dict[str, Any] | None) -> list[Field]:
        record = record or {}
        return [
            Field("name", "Name", str(record.get("name") or "")),
            Field(
                "origins",
                "Allowed origins (https://host[:port], space separated)",
                " ".join(record.get("allowed_origins") or ()),
            ),
            Field(
                "timed",
                "Require a timed identity hash (yes / no)",
                "yes" if record.get("require_timed_hash") else "no",
            ),
            Field(
                "csat",
                "Offer visitors a rating when a chat closes (yes / no)",
                "no" if record.get("csat_enabled") is False else "yes",
            ),
        ]

    @staticmethod
    def _values(values: dict[str, str]) -> dict[str, Any]:
        fields: dict[str, Any] = {"allowed_origins": origins(values.get("origins", ""))}
        if values.get("name", "").strip():
            fields["name"] = values["name"].strip()
        fields["require_timed_hash"] = yes(values.get("timed", ""))
        fields["csat_enabled"] = yes(values.get("csat", ""))
        return fields

    def show_secret(self, result: Any) -> None:
        site_key = str(result.get("site_key", ""))
        secret = str(result.get("site_secret", ""))
        text = (
            f"Widget snippet:\n{widget_snippet(self.context.server_url, site_key)}\n\n"
            f"Identity secret (user_hash key, shown this once):\n{secret}"
        )
        self.app.push_screen(
            CopyScreen(
                f"Site {result.get('name', '')}",
                text,
                "Copy the secret now: the server never shows it again.",
            )
        )

    def action_create(self) -> None:
        def chosen(values: dict[str, str] | None) -> None:
            if values is not None:
                fields = self._values(values)
                self.run_call(lambda: self.api.create_site(fields), "created", self.show_secret)

        self.app.push_screen(FormScreen("New site", self._fields(None)), chosen)

    def action_edit(self) -> None:
        record = self.selected()
        if record is None:
            return
        site_key = str(record["site_key"])

        def chosen(values: dict[str, str] | None) -> None:
            if values is not None:
                fields = self._values(values)
                self.run_call(lambda: self.api.update_site(site_key, fields), "saved")

        self.app.push_screen(FormScreen(f"Edit {site_key}", self._fields(record)), chosen)

    def action_snippet(self) -> None:
        record = self.selected()
        if record is not None:
            snippet = widget_snippet(self.context.server_url, str(record["site_key"]))
            self.app.push_screen(
                CopyScreen(
                    f"Widget snippet: {record.get('name', '')}",
                    snippet,
                    "Paste it into every page of the site.",
                )
            )

    def action_hours(self) -> None:
        record = self.selected()
        if record is not None:
            self.app.push_screen(
                SiteWidgetScreen(self.api, str(record["site_key"]), str(record.get("name", "")))
            )

    def action_rotate(self) -> None:
        record = self.selected()
        if record is None:
            return
        site_key = str(record["site_key"])

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_call(
                    lambda: self.api.rotate_secret(site_key), "secret rotated", self.show_secret
                )

        question = safe_text(
            f"Rotate the identity secret of {record.get('name', '')}? The old one stops "
            "verifying user_hash at once."
        )
        self.app.push_screen(ConfirmScreen(question), answered)


def _identity_hash(record: dict[str, Any]) -> str:
    """What a site asks of a signed-in visitor's ``user_hash``: timed or not, and how old."""
    rule = "timed only" if record.get("require_timed_hash") else "timed or plain"
    max_age = record.get("user_hash_max_age_secs")
    return f"{rule}, max {max_age} s" if max_age else rule
