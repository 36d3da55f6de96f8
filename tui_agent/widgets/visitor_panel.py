"""The side panel: who the visitor is and where they came from."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from tui_agent.desk import Conversation
from tui_agent.untrusted import safe_text


class VisitorPanel(Static):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Visitor"

    def show(self, conv: Conversation | None, me_id: str) -> None:
        if conv is None:
            self.update(Text("No conversation open.", style="dim"))
            return
        visitor = conv.visitor
        table = Table.grid(padding=(0, 1))
        table.add_column(style="dim", no_wrap=True)
        table.add_column(overflow="fold")
        assignee = "—"
        if conv.assignee is not None:
            assignee = "you" if conv.assignee.id == me_id else conv.assignee.name
        page = [("Page", visitor.page_title), ("URL", visitor.page_url or "—")]
        rows = (
            ("Name", visitor.name or "—"),
            ("E-mail", visitor.email or "—"),
            ("Language", visitor.language or "—"),
            *(page if visitor.page_title else [("Page", visitor.page_url or "—")]),
            ("Referrer", visitor.referrer or "—"),
            ("Visits", str(visitor.visit_count) if visitor.visit_count else "—"),
            ("", ""),
            ("Status", conv.status),
            ("Agent", assignee),
            ("Dept.", conv.department or "—"),
        )
        for label, value in rows:
            table.add_row(safe_text(label), safe_text(value))
        if conv.visitor_typing:
            table.add_row("", Text("typing…", style="italic cyan"))
        self.update(table, layout=False)  # a fixed-size panel
