"""Search all history through the server (``GET /api/v1/search``), notes included, and
open a hit in a tab.

Words in the box, and filters beside it: status, agent and department (by name),
label, and a date range (``YYYY-MM-DD``). Each change asks the server again (after a
short pause while typing). Only when the server cannot be asked (not reached, or an
older server without the route) does it fall back to filtering, on this machine, the
conversations the console has loaded, and says so.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from tui_agent.desk import Conversation
from tui_agent.formatting import clock
from tui_agent.untrusted import clean, safe_text

LOCAL_NOTE = "The server's search is not available: searching the conversations loaded here."
SERVER_NOTE = "Searching all conversations on the server (notes too)."
TYPING_PAUSE_SECS = 0.3
STATUSES = (("open", "open"), ("queued", "queued"), ("active", "active"), ("closed", "closed"))

ServerSearch = Callable[[dict[str, str]], Awaitable[list[dict[str, Any]] | None]]


class SearchFailed(Exception):
    """The server refused the query (a bad date, ...): shown, not a reason to go local."""


@dataclass(frozen=True)
class Hit:
    """One conversation found: the newest matching message of it, if words were given."""

    conv: str
    visitor: str
    status: str
    agent: str
    department: str
    when: str
    snippet: str
    note: bool

    @classmethod
    def from_wire(cls, row: dict[str, Any], departments: dict[str, str]) -> Hit:
        visitor = row.get("visitor") if isinstance(row.get("visitor"), dict) else {}
        agent = row.get("agent") if isinstance(row.get("agent"), dict) else {}
        dept = str(row.get("department") or "")
        return cls(
            conv=str(row.get("conv") or ""),
            visitor=str((visitor or {}).get("name") or "Visitor"),
            status=str(row.get("status") or ""),
            agent=str((agent or {}).get("name") or ""),
            department=departments.get(dept, ""),
            when=str(row.get("ts") or ""),
            snippet=str(row.get("snippet") or ""),
            note=row.get("kind") == "note",
        )


def _filter_options(pairs: Sequence[tuple[str, str]]) -> list[tuple[Text, str]]:
    return [(safe_text(name, width=30), value) for value, name in pairs]


class SearchScreen(ModalScreen[str | None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Cancel"),
        Binding("down", "to_results", show=False),
    ]
    DEFAULT_CSS = """
    #search-filters { height: auto; }
    #search-filters Select { width: 1fr; }
    #search-dates { height: auto; }
    #search-dates Input { width: 1fr; }
    #search-dates Label { padding: 1 1 0 0; }
    """

    def __init__(
        self,
        search: Callable[[str], Sequence[Conversation]],
        history: Callable[[], Sequence[Conversation]],
        server: ServerSearch | None = None,
        *,
        agents: Sequence[tuple[str, str]] = (),
        departments: Sequence[tuple[str, str]] = (),
        labels: Sequence[str] = (),
        by_label: bool = False,
    ) -> None:
        super().__init__()
        self.by_label = by_label  # opened as "open conversations with a label" (f6)
        self.search = search  # the local fallback
        self.history = history
        self.server = server
        self.agents = agents  # (id, name)
        self.departments = dict(departments)  # id -> name
        self.labels = labels
        self.local = server is None
        self.note = LOCAL_NOTE if self.local else SERVER_NOTE
        self.hits: list[Hit] = []
        self._typing: Timer | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="search-box", classes="dialog") as box:
            box.border_title = "Search all conversations"
            box.border_subtitle = "tab to the filters, down to the results, enter opens"
            yield Input(placeholder="words (messages and notes)", id="search-input")
            with Horizontal(id="search-filters"):
                yield Select(
                    _filter_options([(v, n) for v, n in STATUSES]),
                    prompt="any status",
                    id="search-status",
                )
                yield Select(
                    _filter_options([("me", "me"), *self.agents]),
                    prompt="any agent",
                    id="search-agent",
                )
                yield Select(
                    _filter_options(list(self.departments.items())),
                    prompt="any dept.",
                    id="search-department",
                )
                yield Select(
                    _filter_options([(lb, lb) for lb in self.labels]),
                    prompt="any label",
                    id="search-label",
                )
            with Horizontal(id="search-dates"):
                yield Label("from")
                yield Input(placeholder="YYYY-MM-DD", id="search-from", max_length=10)
                yield Label("to")
                yield Input(placeholder="YYYY-MM-DD", id="search-to", max_length=10)
            yield Static(safe_text(self.note), id="search-note")
            yield OptionList(id="search-results")

    def on_mount(self) -> None:
        if self.by_label:
            self.query_one("#search-status", Select).value = "open"
            self.query_one("#search-label", Select).focus()
        else:
            self.query_one("#search-input", Input).focus()
        self.refresh_results()

    def set_note(self, note: str) -> None:
        self.note = note
        self.query_one("#search-note", Static).update(safe_text(note))

    def filters(self) -> dict[str, str]:
        values = {"q": self.query_one("#search-input", Input).value.strip()}
        for name in ("status", "agent", "department", "label"):
            chosen = self.query_one(f"#search-{name}", Select).value
            values[name] = chosen if isinstance(chosen, str) else ""
        for name in ("from", "to"):
            values[name] = self.query_one(f"#search-{name}", Input).value.strip()
        return values

    @on(Input.Changed)
    def _typed(self) -> None:
        if self._typing is not None:
            self._typing.stop()
        self._typing = self.set_timer(TYPING_PAUSE_SECS, self.refresh_results)

    @on(Select.Changed)
    def refresh_results(self) -> None:
        if self.local:
            self._show_local()
        else:
            self._ask_server(self.filters())

    @work(exclusive=True, group="search", exit_on_error=False)
    async def _ask_server(self, filters: dict[str, str]) -> None:
        assert self.server is not None
        try:
            rows = await self.server(filters)
        except SearchFailed as exc:
            self.set_note(f"The server refused the search: {exc}")
            self._show([])
            return
        if rows is None:  # not reached, or no such route: what is loaded here
            self.local = True
            self.set_note(LOCAL_NOTE)
            self._show_local()
            return
        seen: set[str] = set()
        hits = []
        for row in rows:  # newest first: the newest hit of each conversation
            hit = Hit.from_wire(row, self.departments)
            if hit.conv and hit.conv not in seen:
                seen.add(hit.conv)
                hits.append(hit)
        found = f"{len(hits)} conversation{'' if len(hits) == 1 else 's'}"
        self.set_note(f"{found} found on the server (notes too).")
        self._show(hits)

    def _show_local(self) -> None:
        query = self.query_one("#search-input", Input).value.strip()
        found = self.search(query) if query else self.history()
        self._show(
            [
                Hit(
                    c.id,
                    c.title,
                    c.status,
                    c.assignee.name if c.assignee else "",
                    self.departments.get(c.department, ""),
                    c.last_message.ts if c.last_message else c.created_at,
                    c.last_message.body if c.last_message else "",
                    False,
                )
                for c in found
            ]
        )

    def _show(self, hits: list[Hit]) -> None:
        self.hits = hits
        results = self.query_one("#search-results", OptionList)
        results.clear_options()
        if not hits:
            results.add_option(Option(Text("nothing found", style="dim"), disabled=True))
            return
        results.add_options([Option(self._row(hit), id=hit.conv) for hit in hits])

    @staticmethod
    def _row(hit: Hit) -> Text:
        text = safe_text(hit.visitor, "bold", width=20)
        text.pad_right(21 - text.cell_len)
        who = hit.agent or "—"
        text.append_text(safe_text(f"{hit.status:<7} {hit.when[:10]} ", "dim"))
        agent = safe_text(who, "cyan", width=15)
        agent.pad_right(16 - agent.cell_len)
        text.append_text(agent)
        if hit.department:
            text.append_text(safe_text(f"[{hit.department}] ", "dim", width=16))
        if hit.note:
            text.append_text(Text("note: ", style="yellow"))
        snippet = f"{clock(hit.when)} {clean(hit.snippet)}" if hit.snippet else ""
        text.append_text(safe_text(snippet, width=60))
        return text

    @on(Input.Submitted, "#search-input")
    def _first(self) -> None:
        results = self.query_one("#search-results", OptionList)
        if results.option_count and results.get_option_at_index(0).id:
            self.dismiss(results.get_option_at_index(0).id)

    def action_to_results(self) -> None:
        if isinstance(self.focused, Select):
            return  # the select's own list uses down
        results = self.query_one("#search-results", OptionList)
        results.focus()
        if results.highlighted is None and results.option_count:
            results.highlighted = 0

    @on(OptionList.OptionSelected, "#search-results")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.dismiss(event.option.id)
