"""Presence across nodes: shared through Redis, expiring when a node dies, announced to the
tenant's agents only, and not flapping on a quick reconnect."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.cluster.conftest import ClusterMaker
from tests.support.clients import Clients, WsClient, get, new_visitor
from tests.support.server import DemoTenant, ServerProcess

pytestmark = [pytest.mark.mysql, pytest.mark.redis]

REFRESH_SECS = 0.5  # entries expire after three refreshes: 1.5 s
DEBOUNCE_SECS = 1.5
FAST_PRESENCE = {
    "STEADY_PRESENCE_REFRESH_SECS": str(REFRESH_SECS),
    "STEADY_PRESENCE_DEBOUNCE_SECS": str(DEBOUNCE_SECS),
}
GONE_WITHIN_SECS = 3 * REFRESH_SECS + DEBOUNCE_SECS + 6  # expiry, sweep, slack for 2 cores


def _id(client: WsClient) -> str:
    assert client.welcome is not None
    return str(client.welcome["you"]["id"])


def _auth(client: WsClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.login['token']}"}


async def _agents(node: ServerProcess, as_agent: WsClient) -> dict[str, dict[str, Any]]:
    resp = await get(node, "/api/v1/agents", headers=_auth(as_agent))
    assert resp.status_code == 200, resp.text
    return {a["id"]: a for a in resp.json()["agents"]}


async def _conversations(node: ServerProcess, as_agent: WsClient) -> dict[str, dict[str, Any]]:
    resp = await get(node, "/api/v1/conversations?status=open", headers=_auth(as_agent))
    assert resp.status_code == 200, resp.text
    return {c["id"]: c for c in resp.json()["conversations"]}


async def _eventually(check: Any, timeout: float, what: str) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.2)


def _presence(name: str, kind: str, ident: str, connected: bool) -> Any:
    return lambda f: (
        f["type"] == "event"
        and f.get("name") == name
        and (f.get("data") or {}).get(kind, {}).get("id") == ident
        and f["data"].get("connected") is connected
    )


@pytest.mark.timeout(180)
async def test_agent_on_node_a_is_connected_on_node_b_until_a_is_killed(
    make_cluster: ClusterMaker, clients: Clients
) -> None:
    cluster = make_cluster(2, env=FAST_PRESENCE)
    demo = cluster.demo
    watcher = await clients.agent(cluster.b, demo.admin, demo=demo, label="admin@B")
    agent = await clients.agent(cluster.a, demo.agents[0], demo=demo, label="agent@A")
    agent_id = _id(agent)
    await watcher.recv_until(_presence("agent.presence", "agent", agent_id, True), 5)
    listed = await _agents(cluster.b, watcher)
    assert listed[agent_id]["connected"] is True
    assert listed[agent_id]["status"] in ("online", "away", "offline")  # still the chosen one
    assert listed[_id(watcher)]["connected"] is True
    others = [a for i, a in listed.items() if i not in (agent_id, _id(watcher))]
    assert others and all(a["connected"] is False for a in others)

    await cluster.a.akill9()
    started = time.monotonic()
    await watcher.recv_until(
        _presence("agent.presence", "agent", agent_id, False), GONE_WITHIN_SECS
    )
    print(f"agent reported gone {time.monotonic() - started:.1f} s after kill -9")

    async def gone() -> bool:
        return (await _agents(cluster.b, watcher))[agent_id]["connected"] is False

    await _eventually(gone, 2, "node B's REST reports the agent not connected")


@pytest.mark.timeout(180)
async def test_visitor_presence_reaches_agents_and_conversation_lists(
    make_cluster: ClusterMaker, clients: Clients
) -> None:
    cluster = make_cluster(2, env=FAST_PRESENCE)
    demo = cluster.demo
    watcher = await clients.agent(cluster.b, demo.agents[1], demo=demo, label="agent@B")
    visitor = await clients.visitor(cluster.a, demo=demo, label="visitor@A")
    visitor_id = _id(visitor)
    await watcher.recv_until(_presence("visitor.presence", "visitor", visitor_id, True), 5)
    conv = (await visitor.send_and_ack("anyone there?"))["conv"]
    queued = await watcher.recv_event("conv.queued", conv, 5)
    assert queued["data"]["visitor_online"] is True
    assert (await _conversations(cluster.b, watcher))[conv]["visitor_online"] is True

    # A reconnect within the debounce is not a flap.
    await visitor.close()
    visitor = await clients.visitor(
        cluster.b, session=visitor.session, demo=demo, label="visitor@B"
    )
    await watcher.expect_no_frame(
        lambda f: f["type"] == "event" and f.get("name") == "visitor.presence",
        within=DEBOUNCE_SECS + 1,
    )
    # An agent connecting later sees the queued conversation with the visitor online.
    late = await clients.agent(cluster.a, demo.agents[0], demo=demo, label="late agent@A")
    replayed = await late.recv_event("conv.queued", conv, 5)
    assert replayed["data"]["visitor_online"] is True

    await visitor.close()
    await watcher.recv_until(
        _presence("visitor.presence", "visitor", visitor_id, False), DEBOUNCE_SECS + 5
    )
    assert (await _conversations(cluster.a, late))[conv]["visitor_online"] is False


@pytest.mark.timeout(180)
async def test_presence_never_crosses_tenants(make_cluster: ClusterMaker, clients: Clients) -> None:
    cluster = make_cluster(2, env=FAST_PRESENCE)
    demo = cluster.demo
    other: DemoTenant = await asyncio.to_thread(cluster.a.run_demo, "other")
    outsider = await clients.agent(cluster.b, other.agents[0], demo=other, label="other@B")
    outsider_id = _id(outsider)
    watcher = await clients.agent(cluster.b, demo.admin, demo=demo, label="admin@B")

    agent = await clients.agent(cluster.a, demo.agents[0], demo=demo, label="agent@A")
    visitor = await clients.visitor(cluster.a, demo=demo, label="visitor@A")
    await watcher.recv_until(_presence("agent.presence", "agent", _id(agent), True), 5)
    await watcher.recv_until(_presence("visitor.presence", "visitor", _id(visitor), True), 5)
    await agent.close()
    await visitor.close()
    await watcher.recv_until(
        _presence("visitor.presence", "visitor", _id(visitor), False), DEBOUNCE_SECS + 5
    )
    await watcher.recv_until(
        _presence("agent.presence", "agent", _id(agent), False), DEBOUNCE_SECS + 5
    )
    await outsider.ping_pong()
    foreign = [
        f
        for f in outsider.log
        if f["type"] == "event"
        and str(f.get("name", "")).endswith(".presence")
        and f["data"].get("agent", f["data"].get("visitor", {})).get("id") != outsider_id
    ]
    assert not foreign, f"tenant {other.tenant} saw presence of another tenant: {foreign}"
    # Nor does its REST list tell anything about the other tenant's agents.
    listed = await _agents(cluster.a, outsider)
    assert _id(watcher) not in listed and _id(agent) not in listed
    assert listed[outsider_id]["connected"] is True


async def test_visitors_cannot_read_the_agent_list(
    make_cluster: ClusterMaker, clients: Clients
) -> None:
    cluster = make_cluster(1, env=FAST_PRESENCE)
    session = await new_visitor(cluster.a)
    for path in ("/api/v1/agents", "/api/v1/conversations"):
        resp = await get(cluster.a, path, headers={"Authorization": f"Bearer {session['token']}"})
        assert resp.status_code == 403, (path, resp.text)
        assert "connected" not in resp.text
        resp = await get(cluster.a, path)
        assert resp.status_code == 401, (path, resp.text)


@pytest.mark.timeout(120)
async def test_a_node_shutting_down_gracefully_withdraws_its_presence_at_once(
    make_cluster: ClusterMaker, clients: Clients
) -> None:
    # Entries would take 15 s to expire: only the node's own withdrawal can be this fast.
    cluster = make_cluster(2, env={"STEADY_PRESENCE_REFRESH_SECS": "5"})
    demo = cluster.demo
    watcher = await clients.agent(cluster.b, demo.admin, demo=demo, label="admin@B")
    agent = await clients.agent(cluster.a, demo.agents[0], demo=demo, label="agent@A")
    assert (await _agents(cluster.b, watcher))[_id(agent)]["connected"] is True
    cluster.a.terminate()
    assert await agent.wait_closed(timeout=10) == 1012
    assert await asyncio.to_thread(cluster.a.wait, 15) is not None

    async def gone() -> bool:
        return (await _agents(cluster.b, watcher))[_id(agent)]["connected"] is False

    await _eventually(gone, 3, "node B's REST reports the agent gone after A's shutdown")


@pytest.mark.serial
@pytest.mark.timeout(180)
async def test_an_agent_gets_the_queue_promptly_while_redis_stalls(
    make_cluster: ClusterMaker, clients: Clients
) -> None:
    # Each queued conversation's visitor_online is a presence question; asked one by one,
    # a stalled Redis costs its timeout per conversation before the agent sees its queue.
    import os
    import signal

    cluster = make_cluster(1)
    node = cluster.a
    queued = []
    for i in range(12):
        visitor = await clients.visitor(node, demo=cluster.demo, label=f"v{i}")
        queued.append((await visitor.send_and_ack("waiting"))["conv"])
    assert cluster.redis.proc is not None
    os.kill(cluster.redis.proc.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        agent = await clients.agent(node, cluster.demo.agents[0])
        for conv in queued:
            await agent.recv_event("conv.queued", conv=conv, timeout=30)
        elapsed = time.monotonic() - started
    finally:
        os.kill(cluster.redis.proc.pid, signal.SIGCONT)
    assert elapsed < 3.0, f"the queue took {elapsed:.1f} s to arrive"
