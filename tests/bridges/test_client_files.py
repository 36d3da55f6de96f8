"""How a bridge fetches a visitor's attachments (``SteadyClient.fetch_file``), against the
real server through a TCP proxy that counts connections: the bytes as stored, over one kept
connection for the files, and nothing without the bridge's token."""

from __future__ import annotations

from typing import Any

import pytest

from bots.core.breakers import Breakers
from bots.core.client import ApiError, SteadyClient
from tests.support.bridges import admin_token, new_bridge, other, tenant, token_of
from tests.support.clients import Clients
from tests.support.http import http_client
from tests.support.server import DemoTenant, ServerProcess
from tests.support.tcp_proxy import TcpProxy

__all__ = ["admin_token", "other", "tenant"]  # fixtures

FILES = 5


class Unused:
    """The client's listener: these tests make no WebSocket connection."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the listener was called: {name}")


async def no_resume() -> dict[str, int]:
    return {}


def bridge_client(url: str, token: str) -> SteadyClient:
    breakers = Breakers(threshold=5, reset_secs=30, exclude=[], on_change=lambda *_: None)
    return SteadyClient(url, token, Unused(), no_resume, breakers)


async def visitor_files(
    server: ServerProcess, tenant: DemoTenant, clients: Clients
) -> dict[str, bytes]:
    """A visitor's message with ``FILES`` attachments: each one's id and bytes."""
    visitor = await clients.visitor(server, demo=tenant, name="Vera")
    conv = (await visitor.send_and_ack("files follow"))["conv"]
    sent: dict[str, bytes] = {}
    async with http_client(base_url=server.url) as http:
        for n in range(FILES):
            data = f"receipt {n}\n".encode() * (n + 1)
            resp = await http.post(
                "/api/v1/attachments",
                headers={"Authorization": f"Bearer {visitor.token}"},
                data={"conv": conv},
                files={"file": (f"receipt-{n}.txt", data)},
            )
            assert resp.status_code == 201, resp.text
            sent[resp.json()["id"]] = data
    await visitor.send_and_ack("see attached", conv=conv, attachments=list(sent))
    return sent


async def test_a_bridge_fetches_attachments_over_one_kept_connection(
    server: ServerProcess, tenant: DemoTenant, admin_token: str, clients: Clients
) -> None:
    sent = await visitor_files(server, tenant, clients)
    bridge = await new_bridge(server, admin_token, name="files")
    proxy = TcpProxy(server.port)
    await proxy.start()
    client = bridge_client(proxy.url, bridge.token)
    try:
        for file_id, data in sent.items():
            assert await client.fetch_file(file_id) == data
    finally:
        await client.aclose()
        await proxy.stop()
    # One connection for the API's signed URLs and one for the files, whatever their
    # number (a client made per file opened one each and cost 15-30 ms of the loop).
    assert proxy.accepted == 2


async def refused_status(url: str, token: str, file_id: str) -> int:
    client = bridge_client(url, token)
    try:
        with pytest.raises(ApiError) as refused:
            await client.fetch_file(file_id)
    finally:
        await client.aclose()
    return refused.value.status


async def test_no_attachment_without_the_tenants_bridge_token(
    server: ServerProcess, tenant: DemoTenant, other: DemoTenant, clients: Clients
) -> None:
    file_id = next(iter(await visitor_files(server, tenant, clients)))
    assert await refused_status(server.url, "not-a-token", file_id) == 401
    # Another tenant's bridge: as unknown as a made-up id.
    others = await new_bridge(server, await token_of(server, other.admin, other), name="theirs")
    assert await refused_status(server.url, others.token, file_id) == 404
