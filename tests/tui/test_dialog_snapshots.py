"""Snapshots of the last console dialogs (issue #18 item 6; 130x40, masked as snapshots.py
says): the visitor's earlier chats (f7), the open conversation's files (f6), send a file
by path (f4), narrow the lists by a label (alt+f) and the live monitor's invite greeting
(i on f8). This module's own server; real visitors over plain WebSockets (no browser).
Masked: the attachment's size (as the server stores it), dates and clock times (by
snapshots.py); no id is on screen. The visitor names and the page title carry markup: it
must show as text. The invite test runs first, so the monitor's agents table (statuses,
loads) does not depend on the desk test; either test passes alone."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.support.clients import HTTP_TIMEOUT, Clients, cached_login
from tests.support.http import http_client
from tests.support.server import ServerProcess
from tests.tui.conftest import SIZE, connected, console, grab, save_login, wait_until
from tests.tui.snapshots import assert_snapshot, masked
from tui_agent.screens.earlier import EarlierChatsScreen
from tui_agent.screens.files import FilesScreen
from tui_agent.screens.invite import InviteScreen
from tui_agent.screens.main import MainScreen
from tui_agent.screens.monitor import MonitorScreen
from tui_agent.screens.pick_label import PickLabelScreen
from tui_agent.screens.send_file import SendFileScreen
from tui_agent.widgets.visitor_panel import VisitorPanel

# Snapshots catch the screen at one moment; the console coalesces its redraws, which lag
# under a second worker's load (docs/testing.md): these run alone.
pytestmark = pytest.mark.serial

SIZE_MASK = masked(r"\b\d+(?:\.\d)? [KM]?B\b", "size")
SHOPPER = "Window [b]Shopper[/b]"


# A 40x30 red PNG, fixed bytes (an encoder's output may change between versions).
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAACgAAAAeCAIAAADRv8uKAAAALElEQVR4nO3NMQEAAAQAMKTRP4VYKvg8W4HldMeH"
    "elnFYrFYLBaLxWKxWHyyOVEBVAxZuC4AAAAASUVORK5CYII="
)


async def test_invite_greeting_on_the_monitor(
    server: ServerProcess, config_dir: Path, clients: Clients
) -> None:
    assert server.demo is not None
    shopper = await clients.visitor(server, name=SHOPPER)
    await shopper.send_json(
        {"type": "page", "url": "https://shop.example/checkout", "title": "Checkout [i]now[/i]"}
    )
    await save_login(server, config_dir, server.demo.admin)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        app = pilot.app
        await connected(pilot)
        await pilot.press("f8")
        await wait_until(pilot, lambda: isinstance(app.screen, MonitorScreen), "monitor")
        monitor = app.screen
        assert isinstance(monitor, MonitorScreen)
        await wait_until(
            pilot,
            lambda: monitor.loaded
            and [v.title for v in monitor.state.visitors.values() if v.name == SHOPPER]
            == ["Checkout [i]now[/i]"],
            "the shopper on the checkout page",
        )
        monitor.redraw()
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(app.screen, InviteScreen), "invite dialog")
        await pilot.pause()
        assert_snapshot(app, "invite")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, MonitorScreen), "cancelled")


async def test_earlier_chats_files_send_file_and_pick_label(
    server: ServerProcess, config_dir: Path, clients: Clients
) -> None:
    assert server.demo is not None
    me = server.demo.agents[0]
    token = (await cached_login(server, me))["token"]
    visitor = await clients.visitor(
        server, name="Nora [red]N[/red]", email="nora@example.com", language="en"
    )
    first = str((await visitor.send_and_ack("First question"))["conv"])
    await save_login(server, config_dir, me)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        app = pilot.app
        screen = await connected(pilot)
        await grab(pilot, screen, first)
        await pilot.press("ctrl+l", "y")
        await visitor.recv_event("conv.closed", first)

        second = str((await visitor.send_and_ack("The label is torn"))["conv"])
        async with http_client(
            base_url=server.url, timeout=HTTP_TIMEOUT
        ) as http:
            up = await http.post(
                "/api/v1/attachments",
                headers={"Authorization": f"Bearer {visitor.session['token']}"},
                data={"conv": second},
                files={"file": ("torn label.png", PNG)},
            )
            assert up.status_code == 201, up.text
            await visitor.send_and_ack("", second, attachments=[up.json()["id"]])
            for label in ("vip", "returns"):
                made = await http.post(
                    f"/api/v1/conversations/{second}/labels",
                    json={"label": label},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert made.status_code in (200, 201), made.text
        await grab(pilot, screen, second)
        await wait_until(
            pilot,
            lambda: (
                "Earlier" in str(screen.query_one(VisitorPanel).render())
                and any(m.attachments for m in screen.desk.get(second).ordered())
                and len(screen.desk.get(second).messages) == 2
            ),
            "earlier chats and the file known",
        )

        await pilot.press("f7")
        await wait_until(pilot, lambda: isinstance(app.screen, EarlierChatsScreen), "earlier")
        await pilot.pause()
        assert_snapshot(app, "earlier-chats", [SIZE_MASK])
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), "closed")

        await pilot.press("f6")
        await wait_until(pilot, lambda: isinstance(app.screen, FilesScreen), "files")
        await pilot.pause()
        assert_snapshot(app, "files", [SIZE_MASK])
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), "closed")

        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, SendFileScreen), "send a file")
        await pilot.press(*"nowhere/label.png", "enter")
        await wait_until(
            pilot, lambda: "No such file" in str(app.screen.query_one("#send-file-error").render()),
            "the path refused",
        )
        assert_snapshot(app, "send-file", [SIZE_MASK])
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), "closed")

        await pilot.press("alt+f")
        await wait_until(pilot, lambda: isinstance(app.screen, PickLabelScreen), "pick a label")
        picker = app.screen
        assert isinstance(picker, PickLabelScreen)
        assert sorted(picker.labels) == ["returns", "vip"]
        await pilot.pause()
        assert_snapshot(app, "pick-label", [SIZE_MASK])
        await pilot.press("escape")
