"""Hostile edges of the WebSocket protocol (issue #11, finding 6), on both backends.

Integers out of range are ``bad_frame`` (counted toward 4400), never ``internal_error``
or a 1011 close; invalid UTF-8 in a text frame closes 1007 at once; a deleted site's
visitors and a token that expires are closed 4401.
"""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from tests.hardening.conftest import chat as _chat  # noqa: F401  (fixture)
from tests.protocol.conftest import Chat
from tests.support.clients import Clients, login
from tests.support.http import http_client
from tests.support.server import DemoTenant, ServerProcess

HUGE = [2**63, -(2**63) - 1, 10**30]


def _closes(server: ServerProcess, code: int) -> float:
    text = httpx.get(server.url + "/metrics", timeout=10).text
    match = re.search(rf'^steadydesk_ws_closes_total\{{code="{code}"\}} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


@pytest.mark.parametrize("value", HUGE, ids=["2^63", "-2^63-1", "10^30"])
async def test_sync_and_read_with_an_integer_out_of_range_are_bad_frames(
    chat: Chat, value: int
) -> None:
    for frame in (
        {"type": "sync", "conv": chat.conv, "after": value},
        {"type": "sync", "conv": chat.conv, "limit": value},
        {"type": "read", "conv": chat.conv, "seq": value},
    ):
        await chat.visitor.send_json(frame)
        error = await chat.visitor.recv_error(timeout=5)
        assert error["code"] == "bad_frame", (frame, error)
    await chat.visitor.ping_pong()  # the connection stays


async def test_resume_with_a_seq_out_of_range_is_a_bad_frame_not_a_close(
    server: ServerProcess, demo: DemoTenant, chat: Chat, clients: Clients
) -> None:
    again = await clients.connect(server, "/ws/visitor")
    await again.hello(chat.visitor.session["token"], resume={chat.conv: 2**63})
    error = await again.recv_error("bad_frame", timeout=5)
    assert error.get("conv") == chat.conv
    await again.ping_pong()
    assert not again.closed.is_set()


async def test_out_of_range_integers_count_toward_the_bad_frame_close(
    server: ServerProcess, chat: Chat
) -> None:
    for _ in range(11):
        await chat.agent.send_json({"type": "sync", "conv": chat.conv, "after": 2**64})
    assert await chat.agent.wait_closed(10) == 4400


async def test_invalid_utf8_in_a_text_frame_closes_1007_and_is_counted(
    server: ServerProcess, demo: DemoTenant, clients: Clients
) -> None:
    before = _closes(server, 1007)
    visitor = await clients.visitor(server)
    await visitor.ws.send(b'{"type": "ping", "x": "\xff\xfe"}', text=True)
    assert await visitor.wait_closed(5) == 1007
    assert _closes(server, 1007) == before + 1


async def test_deleting_a_site_closes_its_visitors_4401(
    server: ServerProcess, demo: DemoTenant, clients: Clients
) -> None:
    admin = await login(server, demo.admin)
    headers = {"authorization": f"Bearer {admin['token']}"}
    async with http_client(base_url=server.url, timeout=10) as http:
        created = await http.post("/api/v1/sites", json={"name": "doomed"}, headers=headers)
        assert created.status_code in (200, 201), created.text
        site_key = created.json()["site_key"]
        doomed = await clients.visitor(server, site_key=site_key)
        bystander = await clients.visitor(server)
        deleted = await http.delete(f"/api/v1/sites/{site_key}", headers=headers)
        assert deleted.status_code == 200, deleted.text
    assert await doomed.wait_closed(5) == 4401
    await bystander.ping_pong()
    assert not bystander.closed.is_set()


@pytest.mark.slow
async def test_sockets_close_4401_when_their_token_expires(
    server_factory,
    clients: Clients,  # type: ignore[no-untyped-def]
) -> None:
    node: ServerProcess = server_factory(
        {"STEADY_VISITOR_TOKEN_TTL_SECS": "3", "STEADY_AGENT_TOKEN_TTL_SECS": "4"}
    )
    assert node.demo is not None
    visitor = await clients.visitor(node, demo=node.demo)
    agent = await clients.agent(node, node.demo.agents[0], demo=node.demo)
    started = asyncio.get_running_loop().time()
    assert await visitor.wait_closed(10) == 4401
    assert await agent.wait_closed(10) == 4401
    assert asyncio.get_running_loop().time() - started < 9
