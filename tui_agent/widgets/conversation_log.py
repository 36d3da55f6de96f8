"""The messages of the conversation on screen, with notes, events and delivery marks."""

from __future__ import annotations

from typing import Self

from rich.text import Text
from textual.events import Resize
from textual.geometry import Region
from textual.widgets import RichLog

from tui_agent.desk import Conversation
from tui_agent.formatting import clock
from tui_agent.models import ChatMessage, SenderType
from tui_agent.untrusted import safe_text

MAX_SHOWN = 500  # older messages stay loaded, just not drawn


class ConversationLog(RichLog):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            wrap=True, markup=False, highlight=False, auto_scroll=True, min_width=20, id=id
        )
        self.can_focus = False
        self._shown: tuple[Conversation | None, str] = (None, "")
        self._width = 0
        self._drawn: tuple[object, ...] | None = None  # what the lines on screen show
        self._drawn_top = 0  # the highest seq on screen
        self._drawn_count = 0

    def refresh(
        self, *regions: Region, repaint: bool = True, layout: bool = False, recompose: bool = False
    ) -> Self:
        """RichLog sets ``virtual_size`` on every write, which lays the whole screen out
        again (a frame with 50 tabs); only a scrollbar appearing or going needs that."""
        if layout and not recompose and self.is_mounted:
            overflows = self.virtual_size.height > self.scrollable_content_region.height
            fixed = self.styles.overflow_y != "auto"  # "scroll": always there
            if fixed or overflows == self.show_vertical_scrollbar:
                self._scroll_update(self.virtual_size)
                layout = False
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def on_resize(self, event: Resize) -> None:
        first = not self._width
        super().on_resize(event)
        if not first and event.size.width != self._width:
            self._drawn = None
            self.show(*self._shown)  # lines are wrapped when written: wrap them again
        self._width = event.size.width

    def _state(self, conv: Conversation, me_id: str) -> tuple[object, ...]:
        pending = tuple((line.cid, line.failed) for line in conv.pending.values())
        return (conv.id, me_id, len(conv.notes), pending, conv.visitor_read_seq, self._width)

    def show(self, conv: Conversation | None, me_id: str) -> None:
        """Draw ``conv``: only its new messages when nothing else changed (a busy chat),
        else from scratch (always consistent)."""
        if conv is not None and self._append_only(conv, me_id):
            return
        self._shown = (conv, me_id)
        self._drawn = None
        self.clear()
        if conv is None:
            self.write(
                Text(
                    "No conversation open. Pick one from a list (tab, arrows, "
                    "enter) or grab the next in the queue (ctrl+g).",
                    style="dim",
                )
            )
            return
        self.border_title = safe_text(conv.title, width=60)
        entries: list[tuple[float, Text]] = []
        for message in conv.ordered()[-MAX_SHOWN:]:
            entries.append((message.seq, self._message(message, me_id, conv.visitor_read_seq)))
        for note in conv.notes:
            entries.append((note.after_seq + 0.5, safe_text(f"— {note.text} —", "dim italic")))
        entries.sort(key=lambda item: item[0])
        for _, entry in entries:
            self.write(entry)
        for line in conv.pending.values():
            text = Text("      ", style="dim")
            text.append("You" + (" (note)" if line.kind == "note" else ""), style="bold green")
            text.append_text(safe_text(f": {line.body} "))
            if line.failed:
                text.append_text(safe_text(f"✗ not sent: {line.failed}", "bold red"))
            else:
                text.append("… sending", style="dim")
            self.write(text)
        if not conv.messages and not conv.pending:
            self.write(Text("Loading…", style="dim"))
        elif not conv.pending:
            self._drawn = self._state(conv, me_id)
            self._drawn_top = max(conv.messages, default=0)
            self._drawn_count = len(conv.messages)

    def _append_only(self, conv: Conversation, me_id: str) -> bool:
        """Write just the messages after the last one drawn, if that is all that changed."""
        if self._drawn is None or self._drawn != self._state(conv, me_id):
            return False
        new = len(conv.messages) - self._drawn_count
        if new < 0 or max(conv.messages, default=0) - self._drawn_top < new:
            return False  # history below the top arrived: the order needs a full draw
        fresh = sorted(seq for seq in conv.messages if seq > self._drawn_top)
        if len(fresh) != new:
            return False
        for seq in fresh[-MAX_SHOWN:]:
            self.write(self._message(conv.messages[seq], me_id, conv.visitor_read_seq))
        self._drawn_top = max(conv.messages, default=0)
        self._drawn_count = len(conv.messages)
        self._shown = (conv, me_id)
        return True

    @staticmethod
    def _message(message: ChatMessage, me_id: str, visitor_read_seq: int) -> Text:
        mine = message.sender.id == me_id and message.sender.type == SenderType.AGENT
        text = safe_text(f"{clock(message.ts):>5} ", "dim")
        if message.sender.type == SenderType.VISITOR:
            name_style = "bold cyan"
        elif mine:
            name_style = "bold green"
        elif message.sender.type == SenderType.AGENT:
            name_style = "bold magenta"
        else:
            name_style = "italic"
        name = "You" if mine else (message.sender.name or message.sender.type.title())
        if message.is_note:
            text.append_text(safe_text(f"{name} (private note): ", "bold yellow"))
            text.append_text(safe_text(message.body, "yellow"))
        else:
            text.append_text(safe_text(f"{name}: ", name_style))
            text.append_text(safe_text(message.body))
        if mine and not message.is_note:
            seen = message.seq <= visitor_read_seq
            text.append(" ✓✓" if seen else " ✓", style="green" if seen else "dim")
        return text
