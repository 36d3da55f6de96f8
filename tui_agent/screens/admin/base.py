"""What every admin screen shares: a table of the subject's rows, a line for what happened
(the server's 403 or 409 included, in words), reload, CSV export and back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from tui_agent.admin_api import AdminApi, problem
from tui_agent.client import ApiError
from tui_agent.table_export import export_csv
from tui_agent.untrusted import safe_text


class AdminContext:
    """What the admin screens need from the desk: the API, where exports go, the server."""

    def __init__(self, api: AdminApi, config_dir: Path, server_url: str) -> None:
        self.api = api
        self.config_dir = config_dir
        self.server_url = server_url.rstrip("/")


class AdminView(Screen[None]):
    """A subject's table. Subclasses name the columns and fetch the rows."""

    TITLE_TEXT = ""
    HINT = ""
    COLUMNS: ClassVar[tuple[str, ...]] = ()
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+r", "reload", "Reload"),
        Binding("ctrl+e", "export", "CSV"),
    ]

    def __init__(self, context: AdminContext) -> None:
        super().__init__()
        self.context = context
        self.api = context.api
        self.records: list[dict[str, Any]] = []
        self.cells: list[list[object]] = []
        self.last_status = ""

    def compose(self) -> ComposeResult:
        yield Static(safe_text(self.TITLE_TEXT, "bold"), classes="admin-title")
        yield from self.compose_top()
        yield from self.compose_body()
        yield Static(safe_text(self.HINT, "dim"), classes="admin-hint")
        yield Static("", id="admin-status")
        yield Footer()

    def compose_top(self) -> ComposeResult:
        """Filters or options above the table (none by default)."""
        yield from ()

    def compose_body(self) -> ComposeResult:
        yield DataTable(id="admin-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one("#admin-table", DataTable)
        table.add_columns(*self.COLUMNS)
        table.focus()
        self.action_reload()

    # -- data --------------------------------------------------------------------------
    async def fetch(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def row_cells(self, record: dict[str, Any]) -> list[object]:
        raise NotImplementedError

    def show_rows(self, records: list[dict[str, Any]]) -> None:
        self.records = records
        self.cells = [self.row_cells(r) for r in records]
        table = self.query_one("#admin-table", DataTable)
        keep = table.cursor_row
        table.clear()
        for index, values in enumerate(self.cells):
            texts: list[Text] = [safe_text(_shown(v), width=60) for v in values]
            table.add_row(*texts, key=str(index))
        if self.cells:
            table.move_cursor(row=min(keep, len(self.cells) - 1))

    @work(exclusive=True, group="admin-load")
    async def action_reload(self) -> None:
        if await self.load():
            self.after_load()

    async def load(self) -> bool:
        try:
            records = await self.fetch()
        except ApiError as exc:
            self.say(problem(exc), error=True)
            return False
        self.show_rows(records)
        return True

    def after_load(self) -> None:
        self.say(f"{len(self.records)} rows")

    def selected(self) -> dict[str, Any] | None:
        table = self.query_one("#admin-table", DataTable)
        if not self.records or table.cursor_row < 0 or table.cursor_row >= len(self.records):
            return None
        return self.records[table.cursor_row]

    def say(self, message: str, *, error: bool = False) -> None:
        self.last_status = message
        status = self.query_one("#admin-status", Static)
        status.update(safe_text(message, "bold red" if error else ""))
        status.set_class(error, "-error")

    def run_call(
        self,
        call: Callable[[], Awaitable[Any]],
        done: str,
        then: Callable[[Any], None] | None = None,
    ) -> None:
        """One admin write in a worker: its result reloads the table, its refusal is shown."""

        async def go() -> None:
            try:
                result = await call()
            except ApiError as exc:
                self.say(problem(exc), error=True)
                return
            if await self.load():  # the table as the server now has it, then what was done
                self.after_load()
            self.say(done)
            if then is not None:
                then(result)

        self.run_worker(go(), group="admin-write")

    # -- keys ------------------------------------------------------------------------------
    def action_back(self) -> None:
        self.app.pop_screen()

    def export_rows(self) -> tuple[Sequence[str], list[list[object]]]:
        return self.COLUMNS, self.cells

    def action_export(self) -> None:
        headers, rows = self.export_rows()
        view = self.TITLE_TEXT or "admin"
        try:
            path = export_csv(self.context.config_dir, view, headers, rows)
        except OSError as exc:
            self.say(f"CSV export failed: {exc}", error=True)
            return
        self.say(f"{len(rows)} rows written to {path}")


def _shown(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def when(value: object) -> str:
    """``2026-12-07T01:02:03Z`` -> ``2026-12-07 01:02`` (UTC)."""
    text = str(value or "")
    return text[:16].replace("T", " ") if text else ""
