"""The side panel: who the visitor is and where they came from.

Drawn as label/value lines wrapped here (values folded under their column), not as a
Rich ``Table``: the panel is redrawn on every tab switch (issue #22), and a table is
measured and rendered again each time (about a third more CPU than these lines).
"""

from __future__ import annotations

from rich.text import Text
from textual.events import Resize
from textual.widgets import Static

from tui_agent.desk import Conversation
from tui_agent.untrusted import safe_text
from tui_agent.widgets.conversation_log import joined

TEXT_WIDTH = 26  # the panel's inner width (styles/app.tcss), until it is laid out
TRAIL_SHOWN = 5  # the newest pages of the trail shown (the panel is short)
STARS = "★★★★★"


def device_line(browser: str, os: str, device: str) -> str:
    return " · ".join(part for part in (browser, os, device) if part) or "—"


def rating_line(score: int, comment: str) -> str:
    stars = STARS[:score] + "☆" * (5 - score)
    return f"{stars} {score}/5" + (f" “{comment}”" if comment else "")


class VisitorPanel(Static):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Visitor"
        self._shown: tuple[Conversation | None, str] = (None, "")
        self._width = 0
        self.department_names: dict[str, str] = {}  # id -> name (GET /departments)
        self._drawn: Text | None = None

    def on_resize(self, event: Resize) -> None:
        if self.content_region.width != self._width:
            self.show(*self._shown)  # values are wrapped to the width

    def show(self, conv: Conversation | None, me_id: str) -> None:
        self._shown = (conv, me_id)
        if conv is None:
            self._draw(Text("No conversation open.", style="dim"))
            return
        visitor = conv.visitor
        assignee = "—"
        if conv.assignee is not None:
            assignee = "you" if conv.assignee.id == me_id else conv.assignee.name
        page = [("Page", visitor.page_title), ("URL", visitor.page_url or "—")]
        rows: list[tuple[str, Text]] = [
            (label, safe_text(value))
            for label, value in (
                ("Name", visitor.name or "—"),
                ("E-mail", visitor.email or "—"),
                ("Language", visitor.language or "—"),
                *(page if visitor.page_title else [("Page", visitor.page_url or "—")]),
                ("Referrer", visitor.referrer or "—"),
                ("Visits", str(visitor.visit_count) if visitor.visit_count else "—"),
                ("", ""),
                ("Device", device_line(visitor.browser, visitor.os, visitor.device)),
                ("", ""),
                ("Status", conv.status),
                ("Agent", assignee),
                ("Dept.", self.department_names.get(conv.department, "") or "—"),
                ("Labels", ", ".join(conv.labels) or "—"),
            )
        ]
        if conv.rating is not None:
            rows.append(("Rating", safe_text(rating_line(conv.rating.score, conv.rating.comment))))
        if visitor.pages:
            rows.append(("", Text("")))
            shown = visitor.pages[-TRAIL_SHOWN:]
            for index, view in enumerate(shown):
                mark = "▸ " if index == len(shown) - 1 else "  "
                rows.append(
                    ("Trail" if index == 0 else "", safe_text(mark + (view.title or view.url)))
                )
        if visitor.previous:
            rows.append(("Earlier", safe_text(f"{len(visitor.previous)} chats (f7)")))
        if conv.visitor_typing:
            rows.append(("", Text("typing…", style="italic cyan")))
        self._draw(self._lines(rows))

    def _draw(self, text: Text) -> None:
        """Show ``text`` unless it is shown already: the panel is asked on every frame that
        touches the open conversation (a message in it changes nothing here), and drawing
        its ~35 lines costs more than the log's new line (issue #22)."""
        if text == self._drawn:
            return
        self._drawn = text
        self.update(text, layout=False)  # a fixed-size panel

    def _lines(self, rows: list[tuple[str, Text]]) -> Text:
        """Labels in a column, each value wrapped (long words folded) beside its label."""
        self._width = self.content_region.width
        label_width = max(len(label) for label, _ in rows)
        room = max(1, (self._width or TEXT_WIDTH) - label_width - 1)
        lines: list[Text] = []
        for label, value in rows:
            parts: list[Text] = list(value.wrap(self.app.console, room, overflow="fold"))
            head = label
            for part in parts:
                line = safe_text(head, "dim")
                line.pad_right(label_width + 1 - line.cell_len)
                line.append_text(part)
                lines.append(line)
                head = ""
        return joined(lines)
