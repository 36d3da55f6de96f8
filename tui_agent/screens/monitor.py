"""The live monitor (admins): visitors on the sites now, the queue, the agents; ``i`` invites
the highlighted visitor into a chat.

The screen asks the server for the feed (``monitor`` frame) while it is shown, reads the
snapshot, then applies the events the desk passes on (:meth:`MonitorScreen.feed`). Titles,
URLs and names come from visitors' browsers: every cell goes through ``safe_text``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Static

from tui_agent.client import ApiError, SteadydeskClient
from tui_agent.events import ConversationEvent
from tui_agent.formatting import waited
from tui_agent.monitor import LiveMonitor, time_on_page
from tui_agent.screens.invite import InviteScreen
from tui_agent.untrusted import safe_text, tell

TICK_SECS = 1.0  # times on page and waits move on this often
# A visitor.online names nobody (presence knows ids only): the snapshot is read again for
# the newcomers' names, at most this often however many arrive.
REFETCH_SECS = 5.0
PAGE_WIDTH = 48
INVITE_REFUSED = {
    "conversation_open": "is already in a conversation",
    "not_found": "has left (no such visitor)",
}


class MonitorScreen(Screen[None]):
    DEFAULT_CSS = """
    MonitorScreen { layout: vertical; }
    MonitorScreen .monitor-title { height: 1; padding: 0 1; text-style: bold; }
    #monitor-visitors { height: 2fr; }
    #monitor-queue, #monitor-agents { height: 1fr; }
    #monitor-keys { height: 1; padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("i", "invite", "Invite"),
        Binding("ctrl+r", "reload", "Refresh"),
    ]

    def __init__(self, client: SteadydeskClient, clock: Callable[[], datetime]) -> None:
        super().__init__()
        self.client = client
        self.clock = clock
        self.state = LiveMonitor()
        self.loaded = False
        self._refetch_due = False
        self._fetched_at = 0.0

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Visitors on the sites now", classes="monitor-title", id="visitors-title")
            yield DataTable(id="monitor-visitors", cursor_type="row", zebra_stripes=True)
            yield Static("Queue", classes="monitor-title", id="queue-title")
            yield DataTable(id="monitor-queue", cursor_type="row")
            yield Static("Agents", classes="monitor-title", id="agents-title")
            yield DataTable(id="monitor-agents", cursor_type="row")
            yield Static(
                "i invite the highlighted visitor · ctrl+r refresh · escape back", id="monitor-keys"
            )

    def on_mount(self) -> None:
        self.query_one("#monitor-visitors", DataTable).add_columns(
            "Visitor", "Page", "On page", "Chat"
        )
        self.query_one("#monitor-queue", DataTable).add_columns("Visitor", "Waiting")
        self.query_one("#monitor-agents", DataTable).add_columns(
            "Agent", "Status", "Connected", "Load"
        )
        self.client.monitor(True)  # the feed first, then the snapshot: nothing falls between
        self.action_reload()
        self.set_interval(TICK_SECS, self._tick)
        self.query_one("#monitor-visitors", DataTable).focus()

    def on_unmount(self) -> None:
        self.client.monitor(False)

    # ------------------------------------------------------------------ data

    def action_reload(self) -> None:
        self._load()

    def _tick(self) -> None:
        now = time.monotonic()
        if self._refetch_due and now - self._fetched_at >= REFETCH_SECS:
            self._refetch_due = False
            self._load()
        self.redraw()

    @work(exclusive=True, group="monitor-snapshot")
    async def _load(self) -> None:
        self._fetched_at = time.monotonic()
        try:
            snapshot = await self.client.monitor_snapshot()
        except ApiError as err:
            tell(self, f"Could not load the live monitor: {err.message}", severity="error")
            return
        if snapshot is None:
            tell(self, "This server has no live monitor.", severity="warning")
            return
        self.state.load(snapshot)
        self.loaded = True
        self.redraw()

    def feed(self, event: ConversationEvent) -> None:
        """An event the desk received: applied, drawn at the next tick or now."""
        if self.state.apply(event) and self.loaded:
            self.redraw()
        if event.name == "visitor.online":
            self._refetch_due = True

    # ------------------------------------------------------------------ drawing

    def redraw(self) -> None:
        now = self.clock()
        visitors = self.query_one("#monitor-visitors", DataTable)
        _refill(
            visitors,
            [
                (
                    row.id,
                    (
                        safe_text(row.name or "Visitor", width=24),
                        safe_text(row.title or row.url, width=PAGE_WIDTH),
                        safe_text(time_on_page(row, now)),
                        safe_text(row.chat_label(), "bold" if row.in_chat else "", width=24),
                    ),
                )
                for row in self.state.visitor_rows()
            ],
        )
        more = f" (+{self.state.more_visitors} more)" if self.state.more_visitors else ""
        self.query_one("#visitors-title", Static).update(
            safe_text(f"Visitors on the sites now: {len(self.state.visitors)}{more}")
        )
        _refill(
            self.query_one("#monitor-queue", DataTable),
            [
                (q.conv, (safe_text(q.visitor, width=30), safe_text(waited(q.since, now))))
                for q in self.state.queue_rows()
            ],
        )
        self.query_one("#queue-title", Static).update(
            safe_text(f"Queue: {len(self.state.queue)} waiting")
        )
        _refill(
            self.query_one("#monitor-agents", DataTable),
            [
                (
                    a.id,
                    (
                        safe_text(a.name, width=30),
                        safe_text(a.status),
                        safe_text("yes" if a.connected else "no"),
                        safe_text(f"{a.load}/{a.capacity}"),
                    ),
                )
                for a in self.state.agent_rows()
            ],
        )

    # ------------------------------------------------------------------ invite

    def selected_visitor(self) -> str | None:
        table = self.query_one("#monitor-visitors", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return str(key.value) if key.value is not None else None

    def action_invite(self) -> None:
        visitor = self.selected_visitor()
        row = self.state.visitors.get(visitor or "")
        if row is None:
            tell(self, "No visitor to invite.", severity="warning")
            return
        if row.in_chat:
            tell(
                self,
                f"{row.name or 'This visitor'} is already in a conversation.",
                severity="warning",
            )
            return

        def answered(greeting: str | None, visitor: str = row.id) -> None:
            if greeting:
                self._invite(visitor, greeting)

        self.app.push_screen(InviteScreen(row.name or "the visitor"), answered)

    @work(group="monitor-invite")
    async def _invite(self, visitor: str, greeting: str) -> None:
        row = self.state.visitors.get(visitor)
        who = (row.name if row else "") or "The visitor"
        try:
            await self.client.invite(visitor, greeting)
        except ApiError as err:
            why = INVITE_REFUSED.get(err.code, f"could not be invited: {err.message}")
            tell(self, f"{who} {why}.", severity="error")
            return
        tell(self, f"{who} was invited: the chat is in your list.")


def _refill(table: DataTable[object], rows: list[tuple[str, tuple[Text, ...]]]) -> None:
    """Replace the table's rows, keeping the cursor on the same row when it is still there."""
    current = None
    if table.row_count:
        current = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    table.clear()
    for key, row in rows:
        cells: tuple[Text, ...] = row
        table.add_row(*cells, key=key)
    keys = [key for key, _ in rows]
    if current in keys:
        table.move_cursor(row=keys.index(current), animate=False)
