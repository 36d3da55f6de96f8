"""The queue row shows the visitor's words, not the site's greeting (issue #19)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from tests.support.clients import Clients, cached_login
from tests.support.http import http_client
from tests.support.server import ServerProcess
from tests.tui.conftest import SIZE, connected, console, save_login, visitor_starts, wait_until
from tui_agent.widgets.conversation_list import ConversationList

GREETING = "We are closed now; leave a message and we will write back."


async def put_hours(server: ServerProcess, body: dict[str, object]) -> None:
    assert server.demo is not None
    token = (await cached_login(server, server.demo.admin))["token"]
    async with http_client(base_url=server.url, timeout=10) as http:
        resp = await http.put(
            f"/api/v1/sites/{server.demo.site_key}/hours",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
    assert resp.status_code == 200, resp.text


@pytest_asyncio.fixture
async def greeting_site(server: ServerProcess) -> AsyncIterator[None]:
    """The demo site greets every new conversation (closed: its after-hours message);
    put back afterwards, since the server is shared."""
    await put_hours(server, {"hours": {"tz": "UTC", "days": {}}, "after_hours_message": GREETING})
    try:
        yield
    finally:
        await put_hours(server, {"hours": None, "after_hours_message": None})


async def test_queue_row_ends_with_the_visitors_words(
    server: ServerProcess,
    config_dir: Path,
    clients: Clients,
    clean_desk: None,
    greeting_site: None,
) -> None:
    await save_login(server, config_dir)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        screen = await connected(pilot)
        _, conv = await visitor_starts(clients, server, "Ivy", "Where is my parcel?")
        await wait_until(pilot, lambda: conv in [c.id for c in screen.desk.queue()], "queued")
        row = screen.desk.get(conv)
        await wait_until(pilot, lambda: row.last_message is not None, "preview loaded")
        assert row.last_message is not None
        assert row.last_message.body == "Where is my parcel?"
        queue = screen.query_one("#queue", ConversationList)
        _, detail = queue._row(row, screen.desk.me_id, 60)
        assert "Where is my parcel?" in detail.plain
        assert GREETING not in detail.plain
