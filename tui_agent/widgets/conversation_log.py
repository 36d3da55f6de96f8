"""The messages of the conversation on screen, with notes, events and delivery marks.

Switching tabs is the agent's most frequent key (issue #22): the lines drawn for a
conversation are kept when another one is shown (:class:`_Drawn`, for the last
:data:`KEPT_DRAWINGS` conversations), so coming back to it shows them again and writes
only the messages that arrived meanwhile; a drawing from scratch is written at once, not
line by line (each write measures, lays out and scrolls).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Self

from rich.style import Style
from rich.text import Text
from textual.events import Resize
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widgets import RichLog

from tui_agent.attachments import describe
from tui_agent.desk import Conversation
from tui_agent.formatting import clock
from tui_agent.models import ChatMessage, SenderType
from tui_agent.untrusted import safe_text

MAX_SHOWN = 500  # older messages stay loaded, just not drawn
KEPT_DRAWINGS = 64  # conversations whose drawn lines are kept for the next switch to them


@dataclass
class _Drawn:
    """A conversation's lines as drawn, and what they show (to tell whether they still do)."""

    state: tuple[object, ...]
    top: int  # the highest seq drawn
    count: int  # how many messages were loaded
    lines: list[Strip]
    widest: int


def joined(lines: list[Text]) -> Text:
    """``lines`` as one text, a line each."""
    return Text("\n").join(lines)


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
        self._kept: OrderedDict[str, _Drawn] = OrderedDict()  # other conversations' lines
        self._style = Style()

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

    def render_lines(self, crop: Region) -> list[Strip]:
        # A widget's style walks its ancestors: once per draw, not twice per line.
        self._style = self.rich_style
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        return self._render_line(scroll_y + y, scroll_x, width).apply_style(self._style)

    def _render_line(self, y: int, scroll_x: int, width: int) -> Strip:
        if y >= len(self.lines):
            return Strip.blank(width, self._style)
        key = (y + self._start_line, scroll_x, width, self._widest_line_width)
        line = self._line_cache.get(key)
        if line is None:
            line = self.lines[y].crop_extend(scroll_x, scroll_x + width, self._style)
            self._line_cache[key] = line
        return line

    def on_resize(self, event: Resize) -> None:
        first = not self._width
        super().on_resize(event)
        if not first and event.size.width != self._width:
            self._drawn = None
            self._kept.clear()  # wrapped for the old width
            self._width = event.size.width
            self.show(*self._shown)  # lines are wrapped when written: wrap them again
        self._width = event.size.width

    def _state(self, conv: Conversation, me_id: str) -> tuple[object, ...]:
        pending = tuple((line.cid, line.failed) for line in conv.pending.values())
        return (conv.id, me_id, len(conv.notes), pending, conv.visitor_read_seq, self._width)

    def show(self, conv: Conversation | None, me_id: str) -> None:
        """Draw ``conv``: only its new messages when nothing else changed (a busy chat, or
        a conversation shown before), else from scratch (always consistent)."""
        if conv is not None and self._append_only(conv, me_id):
            return
        leaving = self._shown[0]
        if leaving is not None and (conv is None or conv.id != leaving.id):
            self._keep(leaving.id)
        if conv is not None and self._restore(conv, me_id):
            return
        self._shown = (conv, me_id)
        self._drawn = None
        self._start_afresh()
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
        lines = [entry for _, entry in entries]
        for line in conv.pending.values():
            text = Text("      ", style="dim")
            text.append("You" + (" (note)" if line.kind == "note" else ""), style="bold green")
            text.append_text(safe_text(f": {line.body} "))
            if line.failed:
                text.append_text(safe_text(f"✗ not sent: {line.failed}", "bold red"))
            else:
                text.append("… sending", style="dim")
            lines.append(text)
        if not conv.messages and not conv.pending:
            lines.append(Text("Loading…", style="dim"))
        self._write_all(lines)
        if conv.messages and not conv.pending:
            self._drawn = self._state(conv, me_id)
            self._drawn_top = max(conv.messages, default=0)
            self._drawn_count = len(conv.messages)

    def _start_afresh(self) -> None:
        """An empty log, leaving the lines of the one shown before to :attr:`_kept`
        (``clear`` would empty that very list)."""
        self.lines = []
        self.clear()

    def _write_all(self, lines: list[Text]) -> None:
        """Write ``lines`` with one write: each is wrapped on its own as before, but the
        log is measured, sized and scrolled once, not once a line."""
        if lines:
            self.write(joined(lines))

    def _keep(self, conv_id: str) -> None:
        """Keep the lines on screen for the next time ``conv_id`` is shown."""
        if self._drawn is None or not self._size_known:
            return
        self._kept[conv_id] = _Drawn(
            self._drawn, self._drawn_top, self._drawn_count, self.lines, self._widest_line_width
        )
        self._kept.move_to_end(conv_id)
        while len(self._kept) > KEPT_DRAWINGS:
            self._kept.popitem(last=False)

    def _restore(self, conv: Conversation, me_id: str) -> bool:
        """Show the lines kept for ``conv`` and write what arrived since, if they still
        show it (False: draw it from scratch)."""
        kept = self._kept.pop(conv.id, None)
        if kept is None or kept.state != self._state(conv, me_id):
            return False
        self._shown = (conv, me_id)
        self._drawn, self._drawn_top, self._drawn_count = kept.state, kept.top, kept.count
        self.lines = kept.lines
        self._widest_line_width = kept.widest
        self._start_line = 0
        self._line_cache.clear()
        self.border_title = safe_text(conv.title, width=60)
        self.virtual_size = Size(kept.widest, len(kept.lines))
        self.scroll_end(animate=False, immediate=False, x_axis=False)
        self.refresh()
        if self._append_only(conv, me_id):
            return True
        self._drawn = None  # history below what was drawn arrived: from scratch
        return False

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
        self._write_all(
            [
                self._message(conv.messages[seq], me_id, conv.visitor_read_seq)
                for seq in fresh[-MAX_SHOWN:]
            ]
        )
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
        elif message.sender.type == SenderType.AI:
            name_style = "bold blue"
        else:
            name_style = "italic"
        name = "You" if mine else (message.sender.name or message.sender.type.title())
        if message.sender.type == SenderType.AI:
            name = f"{message.sender.name or 'Robot'} (AI)"  # the robot never passes for a person
        if message.is_note:
            text.append_text(safe_text(f"{name} (private note): ", "bold yellow"))
            text.append_text(safe_text(message.body, "yellow"))
        else:
            text.append_text(safe_text(f"{name}: ", name_style))
            text.append_text(safe_text(message.body))
        for att in message.attachments:
            line: Text = describe(att)  # safe: made of safe_text
            text.append("\n      ")
            text.append_text(line)
        if mine and not message.is_note:
            seen = message.seq <= visitor_read_seq
            text.append(" ✓✓" if seen else " ✓", style="green" if seen else "dim")
        return text
