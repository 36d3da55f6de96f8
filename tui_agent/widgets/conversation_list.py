"""One list of conversations (the queue, mine, all open): name, wait, unread, last line.

Virtual, for a queue of thousands (issue #22): no widget per row. The list draws only
the rows on screen, straight from the desk's sorted list (``render_line``), caching each
row's two lines until the conversation changes; :meth:`sync` redraws only what changed on
screen: the rows whose conversation changed, the border line whose title or subtitle
did, all of it only when the rows on screen moved (a frame of a burst redraws a few lines,
not three lists: issue #22). Near the end of what is loaded it asks for the next page
(:class:`NeedMore`); the title shows the server's total, not what is loaded.

Narrowed to one label (:meth:`narrow`), it shows the loaded rows with that label, the
label in its title; the subtitle says when more rows are still to load.
"""

from __future__ import annotations

from collections.abc import Set
from datetime import datetime
from typing import Self

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.events import Click, Focus
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui_agent.desk import Conversation, Desk, SortedIds
from tui_agent.formatting import waited
from tui_agent.messages import ConversationChosen
from tui_agent.models import SenderType
from tui_agent.untrusted import safe_text

ROW_WIDTH = 30
ROW_LINES = 2
PREFETCH_ROWS = 30  # ask for the next page this close to the end of what is loaded


class LabelledIds:
    """The ids of a list that carry one label, in the list's order (what the widget reads
    of a :class:`SortedIds`)."""

    def __init__(self, ids: list[str]) -> None:
        self._ids = ids
        self._where = {conv: index for index, conv in enumerate(ids)}

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, conv_id: object) -> bool:
        return conv_id in self._where

    def at(self, index: int) -> str:
        return self._ids[index]

    def index(self, conv_id: str) -> int:
        return self._where[conv_id]

    def ids(self, start: int = 0, stop: int | None = None) -> list[str]:
        return self._ids[start:stop]


class ConversationList(ScrollView, can_focus=True):
    """Rows come from ``desk.lists[name]``; choosing one posts ConversationChosen."""

    BINDINGS = [
        Binding("up", "move(-1)", show=False),
        Binding("down", "move(1)", show=False),
        Binding("pageup", "page(-1)", show=False),
        Binding("pagedown", "page(1)", show=False),
        Binding("home", "move_to(0)", show=False),
        Binding("end", "move_to(-1)", show=False),
        Binding("enter", "choose", show=False),
    ]
    COMPONENT_CLASSES = {"conversation-list--highlight"}

    class NeedMore(Message):
        """The agent is near the end of what is loaded of ``name``: fetch the next page."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def __init__(
        self,
        title: str,
        desk: Desk,
        name: str,
        *,
        show_assignee: bool = False,
        empty: str = "",
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.title = title
        self.desk = desk
        self.list_name = name
        self.show_assignee = show_assignee
        self.empty = empty
        self.now = datetime.now().astimezone()
        self.highlighted: int | None = None
        self._highlighted_id: str | None = None
        self._cache: dict[str, tuple[int, int, str, Style, tuple[Strip, Strip]]] = {}
        self._asked_for: str | None = None
        self._base_style = Style()
        self._highlight_style = Style(reverse=True)
        self._shown_count = (-1, -1, -1)
        self.narrowed_to: str | None = None  # narrowed to the conversations with this label
        self._labelled: LabelledIds | None = None
        self._drawn: tuple[object, ...] | None = None  # the rows on screen when last drawn
        self._titles_shown = ("", "")
        self._borders_only = False  # a title changed: redraw the border lines, not all
        self.border_title = safe_text(title)

    @property
    def _ids(self) -> int:
        return len(self._rows())

    def _rows(self) -> SortedIds | LabelledIds:
        if self.narrowed_to is not None and self._labelled is not None:
            return self._labelled
        return self.desk.lists[self.list_name].ids

    def narrow(self, label: str | None) -> None:
        """Show only the conversations with ``label`` (None: all of them again)."""
        self.narrowed_to = label
        self._labelled = None
        self.highlighted = None
        self._highlighted_id = None
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.sync(frozenset(), True)

    def _relabel(self) -> None:
        if self.narrowed_to is None:
            return
        conversations = self.desk.conversations
        self._labelled = LabelledIds(
            [
                conv
                for conv in self.desk.lists[self.list_name].ids.ids()
                if self.narrowed_to in conversations[conv].labels
            ]
        )

    # ------------------------------------------------------------------ attributes down

    def sync(self, changed: Set[str], lists_changed: bool, now: datetime | None = None) -> None:
        """Redraw what ``changed`` touches on screen (all rows when ``now`` moved)."""
        if now is not None:
            self.now = now
            self._cache.clear()
        state = self.desk.lists[self.list_name]
        if self.narrowed_to is not None and (lists_changed or changed or self._labelled is None):
            before = self._labelled.ids() if self._labelled is not None else None
            self._relabel()  # a label added or removed moves a row in or out
            lists_changed = lists_changed or before != self._rows().ids()
        if lists_changed or (state.count, state.unread, self._ids) != self._shown_count:
            self._shown_count = (state.count, state.unread, self._ids)
            self._titles(state.count, state.unread, state.complete)
            self._keep_highlight()
            self._resize(Size(ROW_WIDTH, ROW_LINES * max(1, self._ids)))
            if self._ids:
                first, shown = self._window_rows()
                self._maybe_need_more(first + max(0, len(shown) - 1), self._ids)
        if now is not None or self._window() != self._drawn:
            self.refresh()  # rows came, went or moved on screen (or the waits ticked)
        else:
            self._refresh_rows()

    def refresh(
        self, *regions: Region, repaint: bool = True, layout: bool = False, recompose: bool = False
    ) -> Self:
        """A new title or subtitle (Textual redraws the whole widget for one) redraws the
        border lines only."""
        if self._borders_only and not regions and not layout and not recompose:
            regions = self._border_lines()
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def _border_lines(self) -> tuple[Region, ...]:
        """The top and bottom lines of the widget (title, subtitle), as content regions."""
        left, top = self.content_offset
        width, height = self.outer_size
        if not height:
            return ()
        return (Region(-left, -top, width, 1), Region(-left, height - 1 - top, width, 1))

    def _titles(self, count: int, unread: int, complete: bool) -> None:
        unread = unread if complete else 0  # of the loaded rows only: no sum
        if self.narrowed_to is None:
            title = f"{self.title} ({count})"
            subtitle = f"{unread} unread" if unread else ""
        else:
            title = f"{self.title} #{self.narrowed_to} ({self._ids})"
            subtitle = "" if complete else f"of {count}, more to load"
        if (title, subtitle) != self._titles_shown:
            self._titles_shown = (title, subtitle)
            self._borders_only = self.is_mounted
            try:
                self.border_title = safe_text(title)
                self.border_subtitle = safe_text(subtitle)
            finally:
                self._borders_only = False
        self.set_class(unread > 0, "-unread")

    def _window_rows(self) -> tuple[int, list[str]]:
        """The index of the first row on screen, and the ids of the rows on screen."""
        first = int(self.scroll_offset.y) // ROW_LINES
        rows = self.size.height // ROW_LINES + 2
        return first, self._rows().ids(first, first + rows)

    def _window(self) -> tuple[object, ...]:
        """What the lines on screen depend on besides each row's conversation."""
        _, shown = self._window_rows()
        return (
            int(self.scroll_offset.y),
            self.size,
            self.highlighted,
            self._ids == 0,
            tuple(shown),
            self.narrowed_to,
        )

    def _refresh_rows(self, only: Set[int] | None = None) -> None:
        """Redraw the rows on screen whose conversation changed since they were drawn (and
        the rows at the indexes in ``only``)."""
        first, shown = self._window_rows()
        me, width = self.desk.me_id, self.scrollable_content_region.width
        conversations = self.desk.conversations
        scroll_y = int(self.scroll_offset.y)
        left = self.content_offset.x
        outer_width = self.outer_size.width
        regions = []
        for index, conv_id in enumerate(shown, start=first):
            cached = self._cache.get(conv_id)
            conv = conversations.get(conv_id)
            stale = (
                cached is None
                or conv is None
                or cached[:4] != (conv.version, width, me, self._base_style)
            )
            if stale or (only is not None and index in only):
                top = index * ROW_LINES - scroll_y
                regions.append(Region(-left, top, outer_width, ROW_LINES))
        if regions:
            self.refresh(*regions)

    def _resize(self, size: Size) -> None:
        """A new virtual size. Setting ``virtual_size`` lays out the whole screen (~60 ms
        with 50 tabs), once per frame during a burst; only a scrollbar appearing or going
        needs that, so otherwise the size is set quietly and the scrollbar told."""
        old = self.virtual_size
        height = self.scrollable_content_region.height
        if old == size:
            return
        fixed = self.styles.overflow_y != "auto"  # "scroll": always there
        if old.height == 0 or not (fixed or (old.height > height) == (size.height > height)):
            self.virtual_size = size
            return
        self.set_reactive(ConversationList.virtual_size, size)
        self._scroll_update(size)

    def _keep_highlight(self) -> None:
        """The highlight stays on its conversation when rows come and go above it."""
        ids = self._rows()
        if self._highlighted_id is not None and self._highlighted_id in ids:
            self.highlighted = ids.index(self._highlighted_id)
        elif self.highlighted is not None:
            self.highlighted = min(self.highlighted, len(ids) - 1) if len(ids) else None
            self._highlighted_id = (
                ids.at(self.highlighted) if self.highlighted is not None else None
            )

    # ------------------------------------------------------------------ drawing

    def render_lines(self, crop: Region) -> list[Strip]:
        # Computing a widget's style walks its ancestors (~0.5 ms): once per draw, not per line.
        self._base_style = self.rich_style
        self._highlight_style = self.get_component_rich_style("conversation-list--highlight")
        self._drawn = self._window()
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        line = int(self.scroll_offset.y) + y
        index, part = divmod(line, ROW_LINES)
        count = self._ids
        if count == 0:
            text = safe_text(self.empty or "—", "dim") if line == 0 else Text()
            return self._strip(text, width)
        if index >= count:
            return Strip.blank(width, self._base_style)
        self._maybe_need_more(index, count)
        conv = self.desk.conversations[self._rows().at(index)]
        strips = self._row_strips(conv, width)[part]
        if index == self.highlighted:
            strips = strips.apply_style(self._highlight_style)
        return strips

    def _strip(self, text: Text, width: int) -> Strip:
        segments = list(text.render(self.app.console, end=""))
        return Strip(segments).crop_extend(0, width, self._base_style)

    def _row_strips(self, conv: Conversation, width: int) -> tuple[Strip, Strip]:
        me = self.desk.me_id
        cached = self._cache.get(conv.id)
        if cached is not None and cached[:4] == (conv.version, width, me, self._base_style):
            return cached[4]
        name, detail = self._row(conv, me, max(12, min(ROW_WIDTH, width)))
        strips = (self._strip(name, width), self._strip(detail, width))
        if len(self._cache) > 500:  # only rows on screen matter: forget the rest
            self._cache.clear()
        self._cache[conv.id] = (conv.version, width, me, self._base_style, strips)
        return strips

    def _row(self, conv: Conversation, me_id: str, room: int) -> tuple[Text, Text]:
        wait = waited(conv.waiting_since, self.now)
        badge = f" ●{conv.unread}" if conv.unread else ""
        right = f"{wait}{badge}"
        row = safe_text(conv.title, "bold" if conv.unread else "", width=room - len(right) - 1)
        row.append(" " * max(1, room - row.cell_len - len(right)))
        row.append_text(safe_text(wait, "yellow" if conv.status == "queued" else "dim"))
        row.append_text(safe_text(badge, "bold red"))
        detail = ""
        if self.show_assignee:
            who = conv.assignee.name if conv.assignee else "queued"
            detail = "you" if conv.assignee and conv.assignee.id == me_id else who
            if conv.assignee and conv.assignee.type == SenderType.AI:
                detail = f"with {who} (AI)"  # an agent may still accept it
            detail = f"[{detail}] "
        line = Text("  ")
        line.append_text(safe_text(detail, "italic dim", width=room - 2))
        if detail:
            line.append(" ")
        if conv.labels:  # before the last line: what the team sorted it as
            tags = " ".join(f"#{label}" for label in conv.labels)
            line.append_text(safe_text(tags, "magenta", width=max(1, (room - line.cell_len) // 2)))
            line.append(" ")
        last = conv.last_message
        if conv.taking:  # ctrl+g was pressed: shown at once, before the server answers
            line.append_text(safe_text("taking…", "bold yellow"))
        elif last is not None:
            line.append_text(safe_text(last.body, "dim", width=max(1, room - line.cell_len)))
        return row, line

    def _maybe_need_more(self, index: int, count: int) -> None:
        state = self.desk.lists[self.list_name]
        if state.more and index >= count - PREFETCH_ROWS and self._asked_for != state.next_cursor:
            self._asked_for = state.next_cursor  # once per page
            self.post_message(self.NeedMore(self.list_name))

    # ------------------------------------------------------------------ keys and mouse

    def _highlight(self, index: int | None) -> None:
        count = self._ids
        before = self.highlighted
        if index is None or count == 0:
            self.highlighted = None
            self._highlighted_id = None
        else:
            self.highlighted = max(0, min(index, count - 1))
            self._highlighted_id = self._rows().at(self.highlighted)
            region = Region(0, self.highlighted * ROW_LINES, self.size.width, ROW_LINES)
            self.scroll_to_region(region, animate=False, immediate=True)
            self._maybe_need_more(self.highlighted, count)
        if self._drawn is not None and self._window()[:2] == self._drawn[:2]:
            # Not scrolled: the rows that were and are highlighted (an arrow key redraws
            # two rows, not the list).
            self._refresh_rows({i for i in (before, self.highlighted) if i is not None})
        else:
            self.refresh()

    def action_move(self, step: int) -> None:
        self._highlight(0 if self.highlighted is None else self.highlighted + step)

    def action_page(self, step: int) -> None:
        rows = max(1, self.size.height // ROW_LINES - 1)
        self._highlight(0 if self.highlighted is None else self.highlighted + step * rows)

    def action_move_to(self, index: int) -> None:
        self._highlight(index if index >= 0 else self._ids - 1)

    def action_choose(self) -> None:
        if self.highlighted is not None and self.highlighted < self._ids:
            self.post_message(ConversationChosen(self._rows().at(self.highlighted)))

    def on_focus(self, event: Focus) -> None:
        if self.highlighted is None and self._ids:
            self._highlight(0)  # enter right away opens the first row

    def on_click(self, event: Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        index = (offset.y + int(self.scroll_offset.y)) // ROW_LINES
        if index < self._ids:
            self._highlight(index)
            self.action_choose()
