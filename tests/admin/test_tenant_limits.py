"""A tenant's own limits (PUT /api/v1/settings) apply to its new WebSocket connections:
the send rate replaces the node default, the body limit applies when below the node's."""

from __future__ import annotations

from tests.admin.conftest import call
from tests.support.clients import Clients, cached_login
from tests.support.server import ServerFactory, ServerProcess


async def test_tenant_limits_reach_new_connections(server: ServerProcess, clients: Clients) -> None:
    limited = server.run_demo("admin-limits")
    admin = (await cached_login(server, limited.admin, demo=limited))["token"]
    resp = await call(server, "PUT", "/api/v1/settings", token=admin,
                      body={"limits": {"ws_rate_visitor": 3, "body_max_chars": 10}})
    assert resp.status_code == 200, resp.text

    visitor = await clients.visitor(server, demo=limited, label="limited")
    too_long = await visitor.send_message("x" * 11)
    await visitor.recv_error("body_too_long", cid=too_long)
    acked = [await visitor.send_and_ack(f"m{i}") for i in range(2)]
    assert len(acked) == 2
    over = await visitor.send_message("one too many")
    await visitor.recv_error("rate_limited", cid=over)

    # The shared demo tenant keeps the node's defaults (lifted for the test servers).
    free = await clients.visitor(server, label="unlimited")
    for i in range(6):
        await free.send_and_ack(f"free {i} " + "y" * 20)


async def test_in_saas_mode_a_tenant_cannot_raise_its_rate_above_the_node(
    server_factory: ServerFactory, clients: Clients
) -> None:
    """The node's rate is the operator's ceiling: a tenant admin may lower it, not lift it."""
    server = server_factory({"STEADY_MODE": "SaaS", "STEADY_WS_RATE_VISITOR": "3"})
    assert server.demo is not None
    admin = (await cached_login(server, server.demo.admin))["token"]
    resp = await call(server, "PUT", "/api/v1/settings", token=admin,
                      body={"limits": {"ws_rate_visitor": 1000}})
    assert resp.status_code == 200, resp.text
    visitor = await clients.visitor(server, label="greedy")
    acked = [await visitor.send_and_ack(f"m{i}") for i in range(3)]
    assert len(acked) == 3
    over = await visitor.send_message("one too many")
    await visitor.recv_error("rate_limited", cid=over)
