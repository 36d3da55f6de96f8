"""Find a conversation (open or closed) and open it in a tab.

The server has no search API yet: this filters, on this machine, the conversations the
console has loaded (the open ones and the latest closed ones from the REST lists) by
visitor name, e-mail, page and the text of loaded messages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui_agent.desk import Conversation
from tui_agent.formatting import clock
from tui_agent.untrusted import clean, safe_text

LOCAL_NOTE = "Searching the conversations loaded here (no server-side search yet)."


class SearchScreen(ModalScreen[str | None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Cancel"),
        Binding("down", "to_results", show=False),
    ]

    def __init__(
        self,
        search: Callable[[str], Sequence[Conversation]],
        history: Callable[[], Sequence[Conversation]],
    ) -> None:
        super().__init__()
        self.search = search
        self.history = history
        self.note = LOCAL_NOTE

    def compose(self) -> ComposeResult:
        with Vertical(id="search-box", classes="dialog") as box:
            box.border_title = "Search and history"
            box.border_subtitle = "enter opens, escape cancels"
            yield Input(placeholder="visitor name, e-mail, page or words", id="search-input")
            yield Static(safe_text(self.note), id="search-note")
            yield OptionList(id="search-results")

    def on_mount(self) -> None:
        self.query_one("#search-input", Input).focus()
        self.refresh_results()

    def set_note(self, note: str) -> None:
        self.note = note
        self.query_one("#search-note", Static).update(safe_text(note))

    @on(Input.Changed, "#search-input")
    def refresh_results(self) -> None:
        query = self.query_one("#search-input", Input).value.strip()
        found = self.search(query) if query else self.history()
        results = self.query_one("#search-results", OptionList)
        results.clear_options()
        if not found:
            results.add_option(Option(Text("nothing found", style="dim"), disabled=True))
            return
        results.add_options([Option(self._row(conv), id=conv.id) for conv in found])

    @staticmethod
    def _row(conv: Conversation) -> Text:
        text = safe_text(conv.title, "bold", width=24)
        text.pad_right(25 - text.cell_len)
        when = conv.created_at[:10] if conv.created_at else ""
        text.append_text(safe_text(f"{conv.status:<7} {when} ", "dim"))
        last = conv.last_message
        if last is not None:
            text.append_text(safe_text(f"{clock(last.ts)} {clean(last.body)}", width=46))
        return text

    @on(Input.Submitted, "#search-input")
    def _first(self) -> None:
        results = self.query_one("#search-results", OptionList)
        if results.option_count and results.get_option_at_index(0).id:
            self.dismiss(results.get_option_at_index(0).id)

    def action_to_results(self) -> None:
        results = self.query_one("#search-results", OptionList)
        results.focus()
        if results.highlighted is None and results.option_count:
            results.highlighted = 0

    @on(OptionList.OptionSelected, "#search-results")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.dismiss(event.option.id)
