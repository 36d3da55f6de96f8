"""With automatic routing the agent offered a conversation gets its full card first, also
when it is connected to another node than the visitor (``task test-cluster`` runs this
against three nodes); the other agents get ``queue.summary`` instead (issue #17)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.routing.support import Tenant, new_tenant
from tests.support.clients import Clients, WsClient
from tests.support.cluster import cluster_mode
from tests.support.server import ServerProcess

TRIES = 8  # reconnections to land an agent on another node than the visitor's


async def desk_away_from(t: Tenant, clients: Clients, n: int, node: str) -> WsClient:
    """Agent ``n`` connected to a node other than ``node`` (in three-node mode)."""
    for _ in range(TRIES):
        desk = await t.agent(clients, n)
        if not cluster_mode() or desk.welcome["node"] != node:
            return desk
        await desk.close()
    raise AssertionError(f"agent {n} never landed away from node {node}")


async def first_offered(desks: list[WsClient], conv: str) -> WsClient:
    waits = {
        asyncio.ensure_future(desk.recv_event("conv.offered", conv, 15)): desk for desk in desks
    }
    done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return waits[done.pop()]


def is_summary(waiting: int) -> Any:
    return lambda f: f.get("name") == "queue.summary" and f["data"]["waiting"] == waiting


async def test_offered_agent_on_another_node_gets_the_full_card(
    server: ServerProcess, clients: Clients
) -> None:
    t = await new_tenant(server)
    routing = {"policy": "round_robin", "offer_timeout_secs": 60}
    resp = await t.call("PUT", "/routing/default", t.admin_token, routing)
    assert resp.status_code == 200, resp.text
    session = await t.session()
    visitor = await clients.visitor(server, session=session.json(), demo=t.demo)
    node = visitor.welcome["node"]
    desks = [await desk_away_from(t, clients, n, node) for n in (0, 1)]

    conv = str((await visitor.send_and_ack("my order never came"))["conv"])
    offered = await first_offered(desks, conv)
    [other] = [d for d in desks if d is not offered]
    events = [f for f in offered.frames_about(conv) if f.get("type") == "event"]
    assert [f["name"] for f in events] == ["conv.queued", "conv.offered"], events
    card = events[0]["data"]
    assert card["visitor"]["id"] and card["messages"][-1]["body"] == "my order never came"

    await other.recv_until(is_summary(1), 10)
    assert not [f for f in other.frames_about(conv) if f.get("name") == "conv.queued"]

    await offered.send_json({"type": "accept", "conv": conv})
    await other.recv_event("conv.assigned", conv, 10)
    await other.recv_until(is_summary(0), 10)
