"""Reports as charts with the table beside them: conversations per day, first response
and wait times, CSAT, per day, agent or department (``GET /api/v1/reports``).

Charts are Textual's own ``Sparkline`` (the trend over days) and bars drawn as text (one
per row, the row's name beside it): no plotting dependency for a dozen bars."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Input, Sparkline, Static

from tui_agent.screens.admin.base import AdminView
from tui_agent.untrusted import safe_text

METRICS = (  # (field, label)
    ("conversations", "Conversations"),
    ("first_response_avg_secs", "First response (avg s)"),
    ("wait_avg_secs", "Wait (avg s)"),
    ("csat_avg", "CSAT (avg)"),
)
GROUPS = ("day", "agent", "department")
BAR_WIDTH = 24


def bars(rows: list[tuple[str, float | None]], width: int = BAR_WIDTH) -> Text:
    """One line per row: its name, a bar as long as its share of the largest, its value."""
    top = max((v for _, v in rows if v is not None), default=0.0)
    text = Text()
    for label, value in rows:
        cells = 0 if not value or top <= 0 else max(1, round(width * value / top))
        text.append_text(safe_text(f"{label[:16]:<16} ", width=17))
        text.append("█" * cells, style="cyan")
        text.append(" " * (width - cells + 1))
        text.append_text(safe_text("-" if value is None else f"{value:g}", "bold"))
        text.append("\n")
    return text


class ReportsScreen(AdminView):
    TITLE_TEXT = "Reports"
    HINT = (
        "1 per day · 2 per agent · 3 per department · m next chart · f dates · "
        "ctrl+e CSV · escape back"
    )
    COLUMNS = (
        "Day",
        "Conversations",
        "Closed",
        "First response (s)",
        "Wait (s)",
        "Resolution (s)",
        "Missed",
        "CSAT",
        "Ratings",
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        *AdminView.BINDINGS,
        Binding("1", "group('day')", "Per day"),
        Binding("2", "group('agent')", "Per agent"),
        Binding("3", "group('department')", "Per department"),
        Binding("m", "metric", "Next chart"),
        Binding("f", "dates", "Dates"),
    ]

    group = "day"
    metric = 0
    range = ("", "")  # the report's from and to, as the server answered

    def compose_top(self) -> ComposeResult:
        with Horizontal(classes="admin-filters"):
            yield Input(placeholder="from YYYY-MM-DD (30 days)", id="report-from")
            yield Input(placeholder="to YYYY-MM-DD (today)", id="report-to")

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="report-body"):
            with Vertical(id="report-chart"):
                yield Static("", id="report-chart-title")
                yield Sparkline([], id="report-sparkline")
                with VerticalScroll():
                    yield Static("", id="report-bars")
            yield DataTable(id="admin-table", cursor_type="row", zebra_stripes=True)

    async def fetch(self) -> list[dict[str, Any]]:
        report = await self.api.report(
            self.group,
            self.query_one("#report-from", Input).value,
            self.query_one("#report-to", Input).value,
        )
        self.range = (str(report.get("from") or ""), str(report.get("to") or ""))
        rows = report.get("rows")
        return [dict(r) for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []

    def label(self, record: dict[str, Any]) -> str:
        if self.group == "day":
            return str(record.get("key") or "")
        return str(record.get("name") or ("nobody" if self.group == "agent" else "no department"))

    def row_cells(self, record: dict[str, Any]) -> list[object]:
        return [
            self.label(record),
            record.get("conversations"),
            record.get("closed"),
            record.get("first_response_avg_secs"),
            record.get("wait_avg_secs"),
            record.get("resolution_avg_secs"),
            record.get("missed"),
            record.get("csat_avg"),
            record.get("csat_count"),
        ]

    def export_rows(self) -> tuple[tuple[str, ...], list[list[object]]]:
        return (self.group.capitalize(), *self.COLUMNS[1:]), self.cells

    def after_load(self) -> None:
        table = self.query_one("#admin-table", DataTable)
        first = table.ordered_columns[0]
        first.label = safe_text(self.group.capitalize())
        table.refresh()
        self.draw_chart()
        self.say(f"{len(self.records)} rows, per {self.group}")

    def draw_chart(self) -> None:
        field, label = METRICS[self.metric]
        values = [(self.label(r), _number(r.get(field))) for r in self.records]
        title = self.query_one("#report-chart-title", Static)
        title.update(safe_text(f"{label} per {self.group}", "bold"))
        spark = self.query_one("#report-sparkline", Sparkline)
        spark.display = self.group == "day"
        spark.data = every_day(self.range, dict(values)) if self.group == "day" else []
        self.query_one("#report-bars", Static).update(bars(values))

    def action_group(self, group: str) -> None:
        if group in GROUPS and group != self.group:
            self.group = group
            self.action_reload()

    def action_metric(self) -> None:
        self.metric = (self.metric + 1) % len(METRICS)
        self.draw_chart()

    def action_dates(self) -> None:
        self.query_one("#report-from", Input).focus()

    @on(Input.Submitted)
    def _apply(self, event: Input.Submitted) -> None:
        if event.input.id == "report-from":
            self.query_one("#report-to", Input).focus()
            return
        self.query_one("#admin-table").focus()
        self.action_reload()


def every_day(span: tuple[str, str], values: dict[str, float | None]) -> list[float]:
    """One value per day of the range (0 for a day without conversations): the trend line
    is not fooled by the days the server has no row for."""
    try:
        day, last = dt.date.fromisoformat(span[0]), dt.date.fromisoformat(span[1])
    except ValueError:
        return [v or 0.0 for v in values.values()]
    out = []
    while day <= last:
        out.append(values.get(day.isoformat()) or 0.0)
        day += dt.timedelta(days=1)
    return out


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
