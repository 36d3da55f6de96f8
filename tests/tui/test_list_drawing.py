"""The conversation lists redraw only what changed on screen (issue #22: a frame of a
burst redrew three whole lists), and what the terminal shows is always what a drawing
from scratch shows.

The real widgets under Pilot with the console's stylesheet, fed by the desk model as the
main screen feeds them (``take_changes`` then ``sync``), no server; what the terminal
shows is rebuilt from every update the app wrote (tests/tui/terminal_output.py).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.pilot import Pilot
from textual.strip import Strip

import tui_agent
from tests.support.console_events import apply_event
from tests.tui.terminal_output import VirtualTerminal
from tests.tui.test_units import message
from tui_agent.desk import Desk
from tui_agent.widgets.conversation_list import ConversationList

STYLESHEET = (Path(tui_agent.__file__).parent / "styles" / "app.tcss").read_text()
ME = "me"
START = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


class CountingList(ConversationList):
    """The real list, counting the lines of rows it draws."""

    lines = 0

    def render_line(self, y: int) -> Strip:
        CountingList.lines += 1
        return super().render_line(y)


class Lists(App[None]):
    CSS = STYLESHEET

    def __init__(self, desk: Desk) -> None:
        super().__init__()
        self.desk = desk

    def compose(self) -> ComposeResult:
        with Vertical(id="lists"):
            yield CountingList("Queue", self.desk, "queue", id="queue", empty="no one")
            yield CountingList("Mine", self.desk, "mine", id="mine", empty="none yet")
            yield CountingList("All open", self.desk, "open", id="open", show_assignee=True)

    def draw(self, now: datetime | None = None) -> None:
        """What MainScreen._draw does for the lists."""
        changed, lists_changed, _ = self.desk.take_changes()
        for widget in self.query(ConversationList):
            widget.sync(changed, lists_changed, now)


def queued(desk: Desk, index: int) -> str:
    conv = f"c{index:04d}"
    created = (START + timedelta(seconds=index)).isoformat()
    apply_event(desk, "conv.queued", conv, {"created_at": created, "visitor": {"name": conv}})
    desk.add_messages(conv, [message(1, f"question {index}", conv=conv)])
    return conv


def desk_with(waiting: int, mine: int) -> Desk:
    desk = Desk()
    desk.me_id = ME
    for index in range(waiting + mine):
        queued(desk, index)
    for index in range(mine):
        apply_event(desk, "conv.assigned", f"c{index:04d}", {"agent": {"id": ME, "name": "Me"}})
    return desk


async def drawn(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, Lists)
    app.draw()
    await pilot.pause()


async def test_a_frame_redraws_the_rows_that_changed_not_the_lists() -> None:
    desk = desk_with(waiting=40, mine=4)
    async with Lists(desk).run_test(size=(40, 36)) as pilot:
        await drawn(pilot)
        CountingList.lines = 0
        queued(desk, 500)  # joins the queue below what is on screen: the title says so
        await drawn(pilot)
        assert CountingList.lines == 0, f"{CountingList.lines} lines of rows drawn again"

        desk.add_messages("c0001", [message(2, "are you there?", conv="c0001")])
        await drawn(pilot)  # its row in "mine" and in "all open", two lines each
        assert CountingList.lines == 4, f"{CountingList.lines} lines of rows drawn again"

        queue = pilot.app.query_one("#queue", ConversationList)
        queue.focus()
        await pilot.pause()
        CountingList.lines = 0
        await pilot.press("down")  # the highlight moves from one row to the next
        assert queue.highlighted == 1
        assert CountingList.lines == 4, f"{CountingList.lines} lines of rows drawn again"


async def test_what_the_terminal_shows_is_the_lists_drawn_from_scratch() -> None:
    """Conversations come, move between lists, get messages, are read, taken and closed,
    totals change, waits tick and the agent moves and scrolls, in a seeded random order:
    after every few steps the terminal's cells are those of a drawing from scratch."""
    rng = random.Random(22)
    desk = desk_with(waiting=30, mine=3)
    next_index = 1000
    async with Lists(desk).run_test(size=(40, 36)) as pilot:
        terminal = VirtualTerminal(pilot.app)
        queue = pilot.app.query_one("#queue", ConversationList)
        queue.focus()
        await drawn(pilot)
        for step in range(150):
            choice = rng.random()
            queue_ids = desk.lists["queue"].ids.ids()
            mine_ids = desk.lists["mine"].ids.ids()
            if choice < 0.25:
                next_index += 1
                queued(desk, next_index if rng.random() < 0.7 else rng.randrange(-50, 50))
            elif choice < 0.35 and queue_ids:
                conv = rng.choice(queue_ids[:15])
                apply_event(desk, "conv.assigned", conv, {"agent": {"id": ME, "name": "Me"}})
            elif choice < 0.5 and mine_ids:
                conv = rng.choice(mine_ids)
                seq = desk.get(conv).last_seq + 1
                desk.add_messages(conv, [message(seq, f"more {step}", conv=conv)])
            elif choice < 0.55 and mine_ids:
                desk.mark_read(rng.choice(mine_ids))
            elif choice < 0.6 and queue_ids:
                conv = rng.choice(queue_ids[:15])
                desk.set_taking(conv, not desk.get(conv).taking)
            elif choice < 0.65 and (queue_ids or mine_ids):
                conv = rng.choice(queue_ids[:15] + mine_ids)
                apply_event(desk, "conv.closed", conv, {"by": {"type": "visitor"}})
            elif choice < 0.7:
                desk.set_total("queue", len(queue_ids) + rng.randrange(0, 5), None)
            elif choice < 0.75:
                pilot.app.draw(START + timedelta(minutes=step))  # waits tick
            else:
                await pilot.press(rng.choice(["down", "down", "up", "pagedown", "home", "end"]))
            await drawn(pilot)
            if step % 5 == 4:
                assert terminal.stale() == [], f"after step {step}"
        assert terminal.updates > 50
