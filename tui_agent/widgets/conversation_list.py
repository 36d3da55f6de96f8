"""One list of conversations (the queue, mine, all open): name, wait, unread, last line."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui_agent.desk import Conversation
from tui_agent.formatting import waited
from tui_agent.messages import ConversationChosen
from tui_agent.untrusted import clean, safe_text

ROW_WIDTH = 30


class ConversationList(OptionList):
    """Rows are set from above with :meth:`show`; choosing one posts ConversationChosen."""

    def __init__(
        self, title: str, *, show_assignee: bool = False, empty: str = "", id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.title = title
        self.show_assignee = show_assignee
        self.empty = empty
        self.border_title = title
        self._rows: list[str] = []

    def show(self, conversations: Sequence[Conversation], now: datetime, me_id: str) -> None:
        ids = [c.id for c in conversations]
        unread = sum(c.unread for c in conversations)
        self.border_title = f"{self.title} ({len(conversations)})"
        self.border_subtitle = f"{unread} unread" if unread else ""
        self.set_class(unread > 0, "-unread")
        highlighted = (
            self._rows[self.highlighted]
            if (self.highlighted is not None and self.highlighted < len(self._rows))
            else None
        )
        self.clear_options()
        self._rows = ids
        if not conversations:
            self.add_option(Option(Text(self.empty or "—", style="dim"), disabled=True))
            return
        self.add_options([Option(self._row(c, now, me_id), id=c.id) for c in conversations])
        if highlighted in ids:
            self.highlighted = ids.index(highlighted)

    def _row(self, conv: Conversation, now: datetime, me_id: str) -> Text:
        wait = waited(conv.waiting_since, now)
        badge = f" ●{conv.unread}" if conv.unread else ""
        right = f"{wait}{badge}"
        row = safe_text(conv.title, "bold" if conv.unread else "", width=ROW_WIDTH - len(right) - 1)
        row.append(" " * max(1, ROW_WIDTH - row.cell_len - len(right)))
        row.append(wait, style="yellow" if conv.status == "queued" else "dim")
        row.append(badge, style="bold red")
        detail = ""
        if self.show_assignee:
            who = conv.assignee.name if conv.assignee else "queued"
            detail = "you" if conv.assignee and conv.assignee.id == me_id else who
            detail = f"[{clean(detail)}] "
        last = conv.last_message
        row.append("\n  ")
        row.append_text(safe_text(detail, "italic dim"))
        if last is not None:
            row.append_text(safe_text(last.body, "dim", width=ROW_WIDTH - 2 - len(detail)))
        return row

    def on_focus(self) -> None:
        if self.highlighted is None and self._rows:
            self.highlighted = 0  # enter right away opens the first row

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(ConversationChosen(event.option.id))
