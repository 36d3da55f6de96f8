"""A stored body may be longer than the send limit (issue #21, item 6): the limit applies
to what a client sent, and masking then lengthens it (a 13-digit card becomes 19
characters). The widget shows such a body whole, live and from its cache after a reload.
A module of its own: masking is switched on for the demo tenant."""

from __future__ import annotations

import uuid

from server.security.masking import mask_cards
from tests.conftest import backend  # noqa: F401  (both backends: stored bodies are its subject)
from tests.support.clients import Clients, cached_login
from tests.support.http import http_client
from tests.support.server import ServerProcess
from tests.widget.helpers import WidgetPage, accept

SEND_LIMIT = 4000  # the node's default body limit (characters)
CARD = "4222222222222;"  # a Luhn-valid 13-digit card: "**** **** **** 2222;" once masked


def card_body(limit: int = SEND_LIMIT) -> str:
    """Exactly ``limit`` characters, most of them cards."""
    body = CARD * (limit // len(CARD))
    return body + "x" * (limit - len(body))


async def mask_cards_for(server: ServerProcess) -> None:
    assert server.demo is not None
    token = (await cached_login(server, server.demo.admin))["token"]
    async with http_client(base_url=server.url, timeout=10) as http:
        resp = await http.put(
            "/api/v1/settings",
            json={"masking": {"cards": True}},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert resp.status_code == 200, resp.text


async def test_the_widget_shows_a_stored_body_longer_than_the_send_limit(
    widget_server: ServerProcess, widget: WidgetPage, clients: Clients
) -> None:
    await mask_cards_for(widget_server)
    agent = await clients.agent(widget_server)
    tag = uuid.uuid4().hex[:8]
    await widget.goto(widget_server.url + "/")
    await widget.open()
    await widget.send(f"Did my card payment go through? {tag}")
    conv = await widget.conversation()
    await accept(agent, conv)

    body = card_body()
    stored = mask_cards(body)
    assert len(body) == SEND_LIMIT < len(stored)
    ack = await agent.send_and_ack(body, conv=conv)  # at the limit as sent: accepted
    await widget.wait_text(stored)
    assert [m["body"] for m in await agent.history(conv) if m["seq"] == ack["seq"]] == [stored]
    await widget.reload()  # the widget's own cache, and what it syncs, hold it whole too
    await widget.open()
    await widget.wait_text(stored)
    assert not widget.errors
