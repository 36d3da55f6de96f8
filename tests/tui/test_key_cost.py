"""What the desk's keys cost the screen (issue #22: key to screen during a burst): a tab
switch, a message in the open conversation and a focus move lay nothing out and repaint
only the widgets they concern, not the whole screen (each ~25-35 ms with 50 tabs).

The real console against the real server; the screen's own layout and whole-screen
repaint are counted on the instance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Static

from tests.support.clients import Clients
from tests.support.server import ServerProcess
from tests.tui.conftest import (
    SIZE,
    bodies,
    connected,
    console,
    grab,
    save_login,
    visitor_starts,
    wait_until,
)
from tui_agent.screens.main import MainScreen
from tui_agent.widgets.composer import Composer
from tui_agent.widgets.conversation_list import ConversationList

SAME = ("#visitor", "#typing")  # what a message in the open chat does not change


def counted_updates(widget: Static) -> list[object]:
    """The contents ``widget`` is given from now on."""
    calls: list[object] = []
    update = widget.update

    def counting(*args: Any, **kwargs: Any) -> None:
        calls.append(args)
        update(*args, **kwargs)

    widget.update = counting  # type: ignore[method-assign]
    return calls


class Counted:
    """Whole-screen layouts and repaints of ``screen`` from now on."""

    def __init__(self, screen: MainScreen) -> None:
        self.layouts = 0
        self.repaints = 0
        layout, full = screen._refresh_layout, screen._compositor.render_full_update

        def counting_layout(*args: Any, **kwargs: Any) -> Any:
            self.layouts += 1
            return layout(*args, **kwargs)

        def counting_full(*args: Any, **kwargs: Any) -> Any:
            self.repaints += 1
            return full(*args, **kwargs)

        screen._refresh_layout = counting_layout  # type: ignore[method-assign]
        screen._compositor.render_full_update = counting_full  # type: ignore[method-assign]


async def two_chats(
    pilot: Pilot[Any], screen: MainScreen, clients: Clients, server: ServerProcess
) -> tuple[Any, str, str]:
    """Two grabbed conversations in tabs, the second open; notices gone."""
    first_visitor, first = await visitor_starts(clients, server, "Ada", "First question")
    await grab(pilot, screen, first)
    _, second = await visitor_starts(clients, server, "Bob", "Second question")
    await grab(pilot, screen, second)
    pilot.app.clear_notifications()  # a toast going away lays its layer out
    await pilot.pause(0.3)
    return first_visitor, first, second


async def test_tab_switches_and_messages_in_the_open_chat_lay_nothing_out(
    server: ServerProcess, config_dir: Path, clients: Clients, clean_desk: None
) -> None:
    await save_login(server, config_dir)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        screen = await connected(pilot)
        visitor, first, second = await two_chats(pilot, screen, clients, server)
        counted = Counted(screen)
        for key, shown in (("alt+1", first), ("alt+2", second), ("alt+1", first)):
            await pilot.press(key)
            await wait_until(pilot, lambda: screen.active == shown, key)  # noqa: B023
            await pilot.pause(0.1)
        updates = {name: counted_updates(screen.query_one(name, Static)) for name in SAME}
        await visitor.send_and_ack("One more thing")
        await wait_until(pilot, lambda: bodies(pilot.app, first)[-1] == "One more thing", "shown")
        await pilot.pause(0.2)
        assert counted.layouts == 0, f"{counted.layouts} layouts of the whole screen"
        assert counted.repaints == 0, f"{counted.repaints} repaints of the whole screen"
        drawn = {name: len(calls) for name, calls in updates.items() if calls}
        assert drawn == {}, f"drawn again with nothing new to show: {drawn}"


async def test_moving_the_focus_repaints_only_what_it_concerns(
    server: ServerProcess, config_dir: Path, clients: Clients, clean_desk: None
) -> None:
    await save_login(server, config_dir)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        screen = await connected(pilot)
        await two_chats(pilot, screen, clients, server)
        queue = screen.query_one("#queue", ConversationList)
        box = screen.query_one(Composer).input
        counted = Counted(screen)
        for _ in range(3):
            await pilot.press("alt+q")
            await wait_until(pilot, lambda: queue.has_focus, "queue focused")
            await pilot.pause(0.1)
            await pilot.press("escape")
            await wait_until(pilot, lambda: box.has_focus, "message box focused")
            await pilot.pause(0.1)
        assert counted.repaints == 0, f"{counted.repaints} repaints of the whole screen"
        assert counted.layouts == 0, f"{counted.layouts} layouts of the whole screen"
