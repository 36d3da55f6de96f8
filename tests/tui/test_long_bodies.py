"""A stored body longer than the send limit reaches the console whole (issue #21, item 6):
the limit applies to what a client sent, and masking lengthens a body (a 13-digit card
becomes 19 characters). A module of its own: masking is switched on for the demo tenant."""

from __future__ import annotations

from pathlib import Path

from server.security.masking import mask_cards
from tests.support.clients import Clients, cached_login
from tests.support.http import http_client
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
from tui_agent.widgets.conversation_log import ConversationLog

SEND_LIMIT = 4000  # the node's default body limit (characters)
CARD = "4222222222222;"  # a Luhn-valid 13-digit card: "**** **** **** 2222;" once masked


async def test_the_console_shows_a_stored_body_longer_than_the_send_limit(
    server: ServerProcess, config_dir: Path, clients: Clients
) -> None:
    assert server.demo is not None
    admin = (await cached_login(server, server.demo.admin))["token"]
    async with http_client(base_url=server.url, timeout=10) as http:
        resp = await http.put(
            "/api/v1/settings",
            json={"masking": {"cards": True}},
            headers={"Authorization": f"Bearer {admin}"},
        )
    assert resp.status_code == 200, resp.text
    body = CARD * (SEND_LIMIT // len(CARD))
    body += "x" * (SEND_LIMIT - len(body))
    stored = mask_cards(body)
    assert len(body) == SEND_LIMIT < len(stored)

    await save_login(server, config_dir)
    async with console(config_dir).run_test(size=SIZE) as pilot:
        screen = await connected(pilot)
        visitor, conv = await visitor_starts(clients, server, "Carla", "about my card")
        await grab(pilot, screen, conv)
        ack = await visitor.send_and_ack(body, conv=conv)  # at the limit as sent: accepted
        await wait_until(pilot, lambda: len(bodies(pilot.app, conv)) == 2, "the long one")
        assert bodies(pilot.app, conv) == ["about my card", stored]
        assert screen.desk.get(conv).messages[ack["seq"]].body == stored
        log = screen.query_one(ConversationLog)
        await pilot.pause(0.2)
        drawn = "".join(strip.text for strip in log.lines)  # wrapped: words stay whole
        assert drawn.count("2222;") == stored.count("2222;") == SEND_LIMIT // len(CARD)
