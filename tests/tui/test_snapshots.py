"""Snapshots of the main screens at 130x40 (see snapshots.py for what is masked).

Deterministic on purpose: named visitors (no ids on screen), waits under a minute
(``<1m``), clock times masked, notifications off (``run_test``'s default), this module's
own server (so no other test's conversations or agent statuses show up).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.support.clients import Clients, cached_login
from tests.support.server import ServerProcess
from tests.tui.conftest import (
    SIZE,
    connected,
    console,
    grab,
    save_login,
    visitor_starts,
    wait_until,
)
from tests.tui.snapshots import assert_snapshot, screen_text
from tui_agent.config import SavedSession, save_session
from tui_agent.screens.help import HelpScreen
from tui_agent.screens.transfer import TransferScreen

# Snapshots catch the screen at one moment; the console coalesces its redraws, which lag
# under a second worker's load (docs/testing.md): these run alone.
pytestmark = pytest.mark.serial


async def test_login_screen(config_dir: Path) -> None:
    save_session(
        SavedSession("http://127.0.0.1:8800", "default", "agent1@default.demo"), config_dir
    )
    async with console(config_dir).run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert_snapshot(pilot.app, "login")


async def test_choose_login_screen(config_dir: Path) -> None:
    for email, name, token in (("agent1@default.demo", "Demo Agent 1", ""),
                               ("agent2@default.demo", "Demo Agent 2", "token")):
        save_session(
            SavedSession("http://127.0.0.1:8800", "default", email, token,
                         "2999-01-01T00:00:00Z", {"name": name}),
            config_dir,
        )
    async with console(config_dir).run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert_snapshot(pilot.app, "choose-login")


async def test_desk_with_a_queue_an_open_chat_and_dialogs(
    server: ServerProcess, config_dir: Path, clients: Clients
) -> None:
    assert server.demo is not None
    await save_login(server, config_dir)
    await cached_login(server, server.demo.agents[1])  # known to the agent list, offline
    async with console(config_dir).run_test(size=SIZE) as pilot:
        screen = await connected(pilot)
        await wait_until(pilot, lambda: screen.desk.my_status == "online", "online")
        iris, conv = await visitor_starts(clients, server, "Iris", "Hi, my parcel is late")
        await grab(pilot, screen, conv)
        await pilot.press(*"Sorry to hear that, let me check.", "enter")
        reply = await iris.recv_type("message", conv=conv, body="Sorry to hear that, let me check.")
        await iris.send_json({"type": "read", "conv": conv, "seq": reply["seq"]})
        await pilot.press("ctrl+o", *"carrier says Friday", "enter", "ctrl+o")
        await iris.send_and_ack("Thank you!")
        await asyncio.sleep(1.1)  # a later created_at second: a stable list order
        await visitor_starts(clients, server, "Jonas", "Do you ship to Norway?")
        await wait_until(
            pilot,
            lambda: (
                len(screen.desk.queue()) == 1
                and screen.desk.get(conv).visitor_read_seq == reply["seq"]
                and len(screen.desk.get(conv).messages) == 4
            ),
            "settled",
        )
        # The lists are redrawn on the console's next draw, not at once: under load the
        # model held Jonas while the screen still showed an empty queue.
        await wait_until(
            pilot,
            lambda: all(
                drawn in screen_text(pilot.app) for drawn in ("Queue (1)", "All open (2)")
            ),
            "drawn",
        )
        assert_snapshot(pilot.app, "desk")

        await pilot.press(*"/hel")
        await pilot.pause()
        assert_snapshot(pilot.app, "desk-canned")
        await pilot.press("escape", "ctrl+u")

        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, TransferScreen), "transfer")
        await pilot.pause()
        assert_snapshot(pilot.app, "transfer")
        await pilot.press("escape")

        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), "help")
        await pilot.pause()
        assert_snapshot(pilot.app, "help")
