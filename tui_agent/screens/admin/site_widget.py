"""A site's working hours, greeting and after-hours messages and pre-chat form, edited
beside a live preview of what the visitor sees (opened with ``h`` on the sites screen)."""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, Static

from tui_agent.admin_api import AdminApi, problem
from tui_agent.client import ApiError
from tui_agent.site_widget import (
    DAYS,
    BadHours,
    field_list,
    hours_body,
    preview,
    spans_text,
)
from tui_agent.untrusted import clean, safe_text


class SiteWidgetScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+s", "save", "Save", priority=True),
    ]

    def __init__(self, api: AdminApi, site_key: str, name: str) -> None:
        super().__init__()
        self.api = api
        self.site_key = site_key
        self.site_name = name
        self.last_status = ""
        self.loaded = False

    def compose(self) -> ComposeResult:
        title = f"Working hours and pre-chat form: {self.site_name}"
        yield Static(safe_text(title, "bold", width=120), classes="admin-title")
        with Horizontal(id="site-widget"):
            with VerticalScroll(id="site-widget-form"):
                yield Label("Time zone (IANA, empty with no days: always open)")
                yield Input(placeholder="Europe/Berlin", id="sw-tz")
                for day in DAYS:
                    yield Label(safe_text(f"{day.capitalize()} (e.g. 09:00-12:00, 13:00-18:00)"))
                    yield Input(placeholder="closed", id=f"sw-{day}")
                yield Label("Greeting (in hours)")
                yield Input(id="sw-welcome")
                yield Label("After-hours message")
                yield Input(id="sw-after")
                yield Label("Pre-chat form (yes / no)")
                yield Input(id="sw-prechat")
                yield Label("Pre-chat fields (name, email, department)")
                yield Input(id="sw-fields")
                yield Label("Required fields")
                yield Input(id="sw-required")
            with Vertical(id="site-widget-preview") as box:
                box.border_title = "What the visitor sees"
                yield Static("", id="sw-preview")
        yield Static(safe_text("ctrl+s saves · escape back", "dim"), classes="admin-hint")
        yield Static("", id="admin-status")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(exclusive=True)
    async def load(self) -> None:
        try:
            hours = await self.api.hours(self.site_key)
            prechat = await self.api.prechat(self.site_key)
        except ApiError as exc:
            self.say(problem(exc), error=True)
            return
        schedule = hours.get("hours") or {}
        days = schedule.get("days") or {}
        values = {
            "tz": schedule.get("tz") or "",
            **{day: spans_text(days.get(day)) for day in DAYS},
            "welcome": hours.get("welcome_message") or "",
            "after": hours.get("after_hours_message") or "",
            "prechat": "yes" if prechat.get("enabled") else "no",
            "fields": ", ".join(prechat.get("fields") or ()),
            "required": ", ".join(prechat.get("required") or ()),
        }
        for name, value in values.items():
            self.query_one(f"#sw-{name}", Input).value = clean(value)
        self.loaded = True
        self.query_one("#sw-tz", Input).focus()
        self.redraw()
        self.say("loaded")

    def value(self, name: str) -> str:
        return self.query_one(f"#sw-{name}", Input).value

    def bodies(self) -> tuple[dict[str, Any], dict[str, Any]]:
        hours = hours_body(
            self.value("tz"),
            {d: self.value(d) for d in DAYS},
            self.value("welcome"),
            self.value("after"),
        )
        prechat = {
            "enabled": self.value("prechat").strip().lower() in ("y", "yes"),
            "fields": field_list(self.value("fields")),
            "required": field_list(self.value("required")),
        }
        return hours, prechat

    @on(Input.Changed)
    def redraw(self) -> None:
        if not self.loaded:
            return
        try:
            hours, prechat = self.bodies()
        except BadHours as exc:
            self.query_one("#sw-preview", Static).update(safe_text(str(exc), "red"))
            return
        self.query_one("#sw-preview", Static).update(safe_text("\n".join(preview(hours, prechat))))

    @on(Input.Submitted)
    def _next(self) -> None:
        self.focus_next()

    def action_save(self) -> None:
        try:
            hours, prechat = self.bodies()
        except BadHours as exc:
            self.say(str(exc), error=True)
            return

        async def go() -> None:
            try:
                await self.api.set_hours(self.site_key, hours)
                await self.api.set_prechat(self.site_key, prechat)
            except ApiError as exc:
                self.say(problem(exc), error=True)
                return
            self.say("saved")

        self.run_worker(go(), group="admin-write")

    def say(self, message: str, *, error: bool = False) -> None:
        self.last_status = message
        self.query_one("#admin-status", Static).update(
            safe_text(message, "bold red" if error else "")
        )

    def action_back(self) -> None:
        self.app.pop_screen()
