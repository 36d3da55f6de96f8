"""Snapshots of the agent-tools dialogs (130x40, masked as snapshots.py says): the
server's search with a note found, a read-only conversation someone else has (banner,
visitor panel with labels), the labels dialog and my canned replies. This module's own
server, named visitors and departments: nothing random on screen."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.clients import HTTP_TIMEOUT, Clients, cached_login, open_conversation
from tests.support.http import http_client
from tests.support.server import Account, ServerProcess
from tests.tui.conftest import SIZE, connected, console, save_login, wait_until
from tests.tui.snapshots import assert_snapshot
from tui_agent.screens.canned_editor import CannedEditorScreen
from tui_agent.screens.labels import LabelsScreen
from tui_agent.screens.main import MainScreen
from tui_agent.screens.search import SearchScreen

# Snapshots catch the screen at one moment; the console coalesces its redraws, which lag
# under a second worker's load (docs/testing.md): these run alone.
pytestmark = pytest.mark.serial


async def post(server: ServerProcess, account: Account, path: str, body: object) -> None:
    login = await cached_login(server, account)
    async with http_client(base_url=server.url, timeout=HTTP_TIMEOUT) as h:
        resp = await h.post(
            "/api/v1" + path, json=body, headers={"Authorization": f"Bearer {login['token']}"}
        )
    assert resp.status_code in (200, 201), resp.text


async def test_search_read_only_chat_labels_and_my_replies(
    server: ServerProcess, config_dir: Path, clients: Clients
) -> None:
    assert server.demo is not None
    admin, me = server.demo.admin, server.demo.agents[0]
    for name in ("Billing", "Returns"):
        await post(server, admin, "/departments", {"name": name})
    await post(
        server,
        admin,
        "/canned-replies",
        {"scope": "tenant", "shortcut": "hours", "body": "We are open 9-17."},
    )
    await post(
        server,
        me,
        "/canned-replies",
        {"shortcut": "eta", "body": "Hi {visitor.name}, it ships today."},
    )
    visitor = await clients.visitor(server, name="Rosa", email="rosa@example.com")
    owner = await clients.agent(server, server.demo.agents[1], label="owner")
    conv = await open_conversation(visitor, owner, "Where is my refund?")
    await owner.send_json(
        {
            "type": "send",
            "conv": conv,
            "cid": "n1",
            "body": "refund approved by finance",
            "kind": "note",
        }
    )
    await owner.recv_type("ack", cid="n1")
    await post(server, me, f"/conversations/{conv}/labels", {"label": "vip"})

    await save_login(server, config_dir, me)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        screen = await connected(pilot)
        await wait_until(pilot, lambda: screen.canned.from_server, "server replies")
        await pilot.press("ctrl+f")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, SearchScreen), "search")
        search = pilot.app.screen
        assert isinstance(search, SearchScreen)
        await pilot.press(*"approved")
        await wait_until(pilot, lambda: [h.note for h in search.hits] == [True], "note found")
        await pilot.pause()
        assert_snapshot(pilot.app, "search")

        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: (
                screen.active == conv
                and screen.desk.get(conv).detailed
                and len(screen.desk.get(conv).messages) == 2
            ),
            "opened with its context",
        )
        await pilot.pause()
        assert_snapshot(pilot.app, "desk-read-only")

        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, LabelsScreen), "labels")
        await pilot.pause()
        assert_snapshot(pilot.app, "labels")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, MainScreen), "closed")

        await pilot.press("f5")
        await wait_until(
            pilot, lambda: isinstance(pilot.app.screen, CannedEditorScreen), "my replies"
        )
        await pilot.pause()
        assert_snapshot(pilot.app, "canned-editor")
        await pilot.press("escape")
