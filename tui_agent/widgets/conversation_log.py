"""The messages of the conversation on screen, with notes, events and delivery marks."""

from __future__ import annotations

from rich.text import Text
from textual.events import Resize
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

    def on_resize(self, event: Resize) -> None:
        first = not self._width
        super().on_resize(event)
        if not first and event.size.width != self._width:
            self.show(*self._shown)  # lines are wrapped when written: wrap them again
        self._width = event.size.width

    def show(self, conv: Conversation | None, me_id: str) -> None:
        """Draw ``conv`` from scratch (cheap at chat sizes, and always consistent)."""
        self._shown = (conv, me_id)
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
