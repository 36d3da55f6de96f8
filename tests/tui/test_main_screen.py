"""The desk, driven by keys only, against the real server with a visitor chatting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Static

from tests.support.clients import Clients, cached_login, post_json
from tests.support.server import ServerProcess
from tests.tui.conftest import (
    SIZE,
    bodies,
    connected,
    console,
    conversation,
    grab,
    save_login,
    visitor_starts,
    wait_until,
)
from tui_agent.screens.help import HelpScreen
from tui_agent.screens.main import MainScreen
from tui_agent.screens.search import SearchScreen
from tui_agent.screens.status import StatusScreen
from tui_agent.screens.transfer import TransferScreen
from tui_agent.widgets.composer import Composer


async def say(pilot: Pilot[Any], text: str) -> None:
    await pilot.press(*text, "enter")


def write_canned(config_dir: Path, **replies: str) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "canned.json").write_text(
        json.dumps({"replies": [{"shortcut": k, "body": v} for k, v in replies.items()]})
    )


def message_box(screen: MainScreen) -> Input:
    return screen.query_one(Composer).input


async def test_accept_next_reply_typing_and_read_receipt(
    server: ServerProcess, config_dir: Path, clients: Clients, clean_desk: None
) -> None:
    await save_login(server, config_dir)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        screen = await connected(pilot)
        visitor, conv = await visitor_starts(clients, server, "Anna", "Where is my order?")
        await grab(pilot, screen, conv)
        assert bodies(pilot.app, conv) == ["Where is my order?"]
        assert message_box(screen).has_focus

        await pilot.press(*"Let me look")
        typing = await visitor.recv_type("typing", conv=conv)
        assert typing["on"] is True
        await pilot.press("enter")
        reply = await visitor.recv_type("message", conv=conv, body="Let me look")
        assert reply["sender"]["type"] == "agent"
        off = await visitor.recv_type("typing", conv=conv)
        assert off["on"] is False

        await visitor.send_json({"type": "typing", "conv": conv, "on": True})
        typing_line = screen.query_one("#typing", Static)
        await wait_until(pilot, lambda: "typing" in str(typing_line.render()), "typing shown")
        await visitor.send_json({"type": "read", "conv": conv, "seq": reply["seq"]})
        await wait_until(
            pilot, lambda: screen.desk.get(conv).visitor_read_seq == reply["seq"], "read receipt"
        )
        await visitor.send_and_ack("Thanks!")
        await wait_until(
            pilot,
            lambda: bodies(pilot.app, conv)[-1] == "Thanks!",
            "visitor's answer shown",
        )
        read = await visitor.recv_type("read", conv=conv)
        assert read["sender"]["type"] == "agent"  # the open tab marks it read


async def test_canned_reply_by_shortcut_and_private_note(
    server: ServerProcess, config_dir: Path, clients: Clients, clean_desk: None
) -> None:
    # The server's reply is used; the local file (the offline fallback) is not.
    write_canned(config_dir, refund="a local reply the server's replaces")
    session = await save_login(server, config_dir)
    created = await post_json(
        server,
        "/api/v1/canned-replies",
        {
            "scope": "personal",
            "shortcut": "refund",
            "body": "Hi {visitor.name}, the refund is on its way.",
        },
        {"Authorization": f"Bearer {session.token}"},
    )
    assert created.status_code in (201, 409), created.text  # 409: made by an earlier run
    async with console(config_dir).run_test(size=SIZE) as pilot:
        screen = await connected(pilot)
        visitor, conv = await visitor_starts(clients, server, "Ben", "I want my money back")
        await grab(pilot, screen, conv)

        await pilot.press(*"/ref")
        suggestions = screen.query_one("#suggestions", OptionList)
        assert suggestions.display and suggestions.option_count == 1
        await pilot.press("tab")
        assert message_box(screen).value == "Hi Ben, the refund is on its way."
        await pilot.press("enter")
        await visitor.recv_type("message", conv=conv, body="Hi Ben, the refund is on its way.")

        await pilot.press("ctrl+o")
        assert screen.query_one(Composer).note_mode
        await say(pilot, "refund approved by finance")
        await wait_until(
            pilot,
            lambda: "refund approved by finance" in bodies(pilot.app, conv),
            "note shown to the agent",
        )
        note = next(
            m
            for m in conversation(pilot.app, conv).ordered()
            if m.body == "refund approved by finance"
        )
        assert note.is_note
        await visitor.expect_no_frame(lambda f: f.get("kind") == "note" or "finance" in str(f))


async def test_transfer_to_another_agent(
    server: ServerProcess, config_dir: Path, clients: Clients, clean_desk: None
) -> None:
    assert server.demo is not None
    await save_login(server, config_dir)
    other = server.demo.agents[1]
    other_login = await cached_login(server, other)
    colleague = await clients.agent(server, other, label="colleague")
    async with console(config_dir).run_test(size=SIZE) as pilot:
        screen = await connected(pilot)
        _, conv = await visitor_starts(clients, server, "Cyril", "Billing question")
        await grab(pilot, screen, conv)
        await pilot.press("ctrl+t")
        await wait_until(
            pilot, lambda: isinstance(pilot.app.screen, TransferScreen), "transfer dialog"
        )
        dialog = pilot.app.screen
        assert isinstance(dialog, TransferScreen)
        targets = dialog.query_one("#transfer-targets", OptionList)
        wanted = "agent:" + other_login["agent"]["id"]
        while targets.get_option_at_index(targets.highlighted or 0).id != wanted:
            await pilot.press("down")  # departments first, then agents, by name
        await pilot.press("enter")
        event = await colleague.recv_until(
            lambda f: (
                f.get("name") == "conv.assigned"
                and f.get("conv") == conv
                and f["data"]["agent"]["id"] == other_login["agent"]["id"]
            ),
            10,
            "assigned",
        )
        assert event["data"]["agent"]["name"]
        await wait_until(
            pilot, lambda: not screen.desk.is_mine(screen.desk.get(conv)), "gone from mine"
        )


async def test_close_with_confirmation(
    server: ServerProcess, config_dir: Path, clients: Clients, clean_desk: None
) -> None:
    await save_login(server, config_dir)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        screen = await connected(pilot)
        visitor, conv = await visitor_starts(clients, server, "Dana", "Bye soon")
        await grab(pilot, screen, conv)
        await pilot.press("ctrl+l")
        await pilot.press("n")  # changed my mind
        await pilot.press("ctrl+l", "y")
        await visitor.recv_event("conv.closed", conv)
        await wait_until(pilot, lambda: screen.desk.get(conv).status == "closed", "closed")
        assert message_box(screen).disabled


async def test_search_history_status_and_help(
    server: ServerProcess, config_dir: Path, clients: Clients, clean_desk: None
) -> None:
    await save_login(server, config_dir)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        screen = await connected(pilot)
        _, conv = await visitor_starts(clients, server, "Egon Searchable", "Parcel 8812 lost")
        await wait_until(pilot, lambda: conv in screen.desk.conversations, "known")

        await pilot.press("ctrl+f")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, SearchScreen), "search")
        await pilot.press(*"searchable", "enter")
        await wait_until(
            pilot,
            lambda: screen.active == conv and pilot.app.screen is screen,
            "opened from search",
        )

        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, StatusScreen), "status")
        await pilot.press("a")
        await wait_until(pilot, lambda: screen.desk.my_status == "away", "away")
        await pilot.press("ctrl+s", "o")
        await wait_until(pilot, lambda: screen.desk.my_status == "online", "online again")

        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), "help")
        await pilot.press("escape")
        await wait_until(pilot, lambda: pilot.app.screen is screen, "help closed")


async def test_new_queue_item_and_unread_message_notices(
    server: ServerProcess, config_dir: Path, clients: Clients, clean_desk: None
) -> None:
    await save_login(server, config_dir)
    bells: list[int] = []
    app = console(config_dir)
    app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        screen = await connected(pilot)
        first, conv1 = await visitor_starts(clients, server, "Fay", "one")
        await grab(pilot, screen, conv1)
        assert bells, "a new chat in the queue rings the bell"
        _, conv2 = await visitor_starts(clients, server, "Gus", "two")
        await grab(pilot, screen, conv2)  # now the active tab is Gus
        rung = len(bells)
        await first.send_and_ack("are you there?", conv=conv1)
        await wait_until(pilot, lambda: screen.desk.get(conv1).unread == 1, "unread counted")
        assert len(bells) > rung
        await wait_until(
            pilot, lambda: screen.tab_bar.marks(conv1)[0], "tab marked unread"
        )
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: screen.active == conv1, "next unread opened")
        assert screen.desk.get(conv1).unread == 0
        await pilot.press("alt+2")
        await wait_until(pilot, lambda: screen.active == conv2, "tab 2 by alt+2")
