"""A bridge on a two-node cluster (MariaDB + Redis): it follows conversations served by the
other node, acts there through ``as``, and revoking it on one node closes its sockets on
every node within a second, from the admin API and from the command line alike."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.admin.conftest import call
from tests.cluster.conftest import ClusterMaker
from tests.support.bridges import Bridge, connect_bridge, link, new_bridge, run_cli, seqs_of
from tests.support.clients import Clients, login

pytestmark = [pytest.mark.mysql, pytest.mark.redis]


@pytest.mark.serial
async def test_a_bridge_spans_nodes_and_revocation_reaches_every_node(
    make_cluster: ClusterMaker, clients: Clients
) -> None:
    cluster = make_cluster(2)
    demo = cluster.demo
    admin = (await login(cluster.a, demo.admin))["token"]
    bridge = await new_bridge(cluster.a, admin)
    agent_id = await link(cluster.a, bridge, (await login(cluster.a, demo.agents[0]))["token"])
    on_b = await connect_bridge(clients, cluster.b, bridge, label="bridge@b")
    on_a = await connect_bridge(clients, cluster.a, bridge, label="bridge@a")

    visitor = await clients.visitor(cluster.a, name="Across")
    conv = str((await visitor.send_and_ack("on node a"))["conv"])
    await on_b.wait_state(lambda: seqs_of(on_b, conv) == [1], 5.0, "seq 1 on node b")
    ack = await on_b.send_and_ack("answered from node b", conv, **{"as": agent_id})
    got = await visitor.recv_until(lambda f: f["type"] == "message" and f["cid"] == ack["cid"])
    assert got["sender"]["id"] == agent_id
    await on_a.wait_state(lambda: seqs_of(on_a, conv) == [1, 2], 5.0, "seqs on node a")

    started = time.monotonic()
    resp = await call(cluster.a, "DELETE", f"/api/v1/bridges/{bridge.id}", token=admin)
    assert resp.status_code == 200
    assert await on_b.wait_closed(timeout=1.0) == 4401
    assert await on_a.wait_closed(timeout=1.0) == 4401
    assert time.monotonic() - started < 1.5

    # The command line has no bus of its own: each node's watch finds the revocation.
    by_cli = await new_bridge(cluster.b, admin, name="revoked from the shell")
    watched: list[tuple[str, Bridge]] = [("a", by_cli), ("b", by_cli)]
    sockets = [await connect_bridge(clients, getattr(cluster, node), b, label=f"cli@{node}")
               for node, b in watched]
    await asyncio.to_thread(run_cli, cluster.a, "bridge", "revoke", by_cli.id)
    started = time.monotonic()
    for ws in sockets:
        assert await ws.wait_closed(timeout=1.0) == 4401
    assert time.monotonic() - started < 1.5


async def test_a_conversation_that_opened_while_redis_was_away_is_followed_after(
    make_cluster: ClusterMaker, clients: Clients
) -> None:
    """Its conv.queued was lost with the bus: the resync after Redis returns finds it."""
    cluster = make_cluster(2)
    admin = (await login(cluster.a, cluster.demo.admin))["token"]
    bridge = await new_bridge(cluster.a, admin)
    on_b = await connect_bridge(clients, cluster.b, bridge, label="bridge@b")
    visitor = await clients.visitor(cluster.a, name="During the outage")
    port = cluster.redis.port
    cluster.redis.stop()
    conv = str((await visitor.send_and_ack("anyone there?", timeout=15))["conv"])
    await asyncio.sleep(1.0)
    cluster.redis.port = port
    cluster.redis.start()
    await on_b.wait_state(lambda: seqs_of(on_b, conv) == [1], 20.0, "the lost conversation")
