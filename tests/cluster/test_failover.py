"""Faults across a cluster: a node killed behind nginx, two nodes racing to assign, and
MariaDB dropping the node's connections mid-stream. Nothing acked may be lost or doubled."""

from __future__ import annotations

import asyncio
from typing import Any

import pymysql
import pytest

from tests.cluster.conftest import ClusterMaker, Front
from tests.protocol.test_delivery import Writer
from tests.support.checker import Sent, check_history
from tests.support.clients import Clients, WsClient, identity, new_visitor, open_conversation
from tests.support.server import ServerProcess
from tests.support.services import mysql_base_url

pytestmark = [pytest.mark.mysql, pytest.mark.redis, pytest.mark.slow]


def _node_of(client: WsClient) -> str:
    assert client.welcome is not None
    return str(client.welcome["node"])


async def _writers(clients: Clients, target: Any, pairs: int) -> list[Writer]:
    writers: list[Writer] = []
    accounts = [*target.demo.agents, target.demo.admin]
    for i in range(pairs):
        visitor = await clients.visitor(target, label=f"visitor{i}")
        agent = await clients.agent(target, accounts[i % len(accounts)], label=f"agent{i}")
        conv = await open_conversation(visitor, agent, timeout=10)

        def again_visitor(resume: dict[str, int], v: WsClient = visitor, i: int = i) -> Any:
            return clients.visitor(target, session=v.session, resume=resume, label=f"visitor{i}+")

        def again_agent(resume: dict[str, int], a: WsClient = agent, i: int = i) -> Any:
            return clients.agent(target, login_data=a.login, resume=resume, label=f"agent{i}+")

        for client, again in ((visitor, again_visitor), (agent, again_agent)):
            baseline = {m["seq"] for m in await client.history(conv)}
            writers.append(
                Writer(client.label, conv, client, identity(client), again, seen=baseline)
            )
    return writers


async def _recover_and_check(writers: list[Writer]) -> None:
    """Reconnect whoever lost its connection, resend every un-acked cid, then check."""

    async def come_back(w: Writer) -> None:
        if w.client.closed.is_set():
            w.seen |= set(w.client.message_seqs(w.conv))
            w.old_clients.append(w.client)
            for attempt in range(40):  # nginx may still route one try to the dead node
                try:
                    w.client = await w.reconnect({w.conv: max(w.seen, default=0)})
                    break
                except Exception:
                    if attempt == 39:
                        raise
                    await asyncio.sleep(0.25)
        for cid in [c for c in w.sent if c not in w.acked]:
            w.record(await w.client.send_and_ack(w.bodies[cid], w.conv, cid=cid, timeout=15))

    await asyncio.wait_for(asyncio.gather(*(come_back(w) for w in writers)), 90)
    history: dict[str, list[dict[str, Any]]] = {}
    for conv in sorted({w.conv for w in writers}):
        reader = next(w for w in writers if w.conv == conv)
        history[conv] = await reader.client.history(conv, timeout=15)
    result = check_history(
        history,
        [a for w in writers for a in w.acks],
        [Sent(w.conv, w.sender, cid) for w in writers for cid in w.sent],
    )
    assert result.ok, str(result)


@pytest.mark.timeout(300)
async def test_kill_9_of_a_node_behind_nginx_loses_nothing(
    make_cluster: ClusterMaker, clients: Clients
) -> None:
    cluster = make_cluster(2, nginx=True)
    front: Front = cluster.front
    writers = await _writers(clients, front, pairs=4)
    on_a = [w for w in writers if _node_of(w.client) == cluster.a.node_name]
    assert on_a, "nginx put no client on node A: nothing to fail over"
    stop = asyncio.Event()
    running = [asyncio.create_task(w.run(stop)) for w in writers]
    await asyncio.sleep(1.0)
    await cluster.a.akill9()
    for w in on_a:
        await w.client.wait_closed(timeout=10)
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*running), 40)
    assert sum(len(w.acked) for w in writers) > 20, "too little traffic before the kill"
    await _recover_and_check(writers)
    for w in on_a:
        assert _node_of(w.client) == cluster.b.node_name, "reconnected, but not to node B"


@pytest.mark.timeout(300)
async def test_two_nodes_racing_to_accept_have_exactly_one_winner(
    make_cluster: ClusterMaker, clients: Clients
) -> None:
    cluster = make_cluster(2)
    demo = cluster.demo
    first = await clients.agent(cluster.a, demo.agents[0], demo=demo, label="agent@A")
    second = await clients.agent(cluster.b, demo.agents[1], demo=demo, label="agent@B")
    convs = []
    for _ in range(100):
        session = await new_visitor(cluster.a)
        visitor = await WsClient.connect(cluster.a.ws_url + "/ws/visitor", label="v")
        try:
            await visitor.hello(session["token"])
            convs.append((await visitor.send_and_ack("race me"))["conv"])
        finally:
            await visitor.close()

    def answer(client: WsClient, conv: str) -> Any:
        return client.recv_until(
            lambda f: (
                f.get("conv") == conv
                and (
                    f.get("type") == "error"
                    or (f.get("type") == "event" and f.get("name") == "conv.assigned")
                )
            ),
            15,
        )

    for conv in convs:
        await asyncio.gather(
            first.send_json({"type": "accept", "conv": conv}),
            second.send_json({"type": "accept", "conv": conv}),
        )
        got_first, got_second = await asyncio.gather(answer(first, conv), answer(second, conv))
        winners = {
            f["data"]["agent"]["id"] for f in (got_first, got_second) if f["type"] == "event"
        }
        errors = [f for f in (got_first, got_second) if f["type"] == "error"]
        assert len(errors) <= 1, f"{conv}: both refused: {errors}"
        assert len(winners) == 1, f"{conv}: winners {winners}"
        for error in errors:
            assert error["code"] == "already_assigned"


def _kill_node_connections(database: str) -> int:
    from urllib.parse import urlsplit

    parts = urlsplit(mysql_base_url())
    admin = pymysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        autocommit=True,
    )
    killed = 0
    try:
        with admin.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM information_schema.processlist"
                " WHERE db = %s AND id <> CONNECTION_ID()",
                (database,),
            )
            for (thread_id,) in cursor.fetchall():
                try:
                    cursor.execute(f"KILL {int(thread_id)}")
                    killed += 1
                except pymysql.MySQLError:
                    pass  # it ended by itself meanwhile
    finally:
        admin.close()
    return killed


@pytest.mark.timeout(300)
async def test_mariadb_dropping_connections_under_load_loses_nothing_acked(
    make_cluster: ClusterMaker, clients: Clients
) -> None:
    cluster = make_cluster(1)
    node: ServerProcess = cluster.a
    writers = await _writers(clients, node, pairs=3)
    stop = asyncio.Event()
    running = [asyncio.create_task(w.run(stop)) for w in writers]
    killed = 0
    for _ in range(4):
        await asyncio.sleep(0.7)
        killed += await asyncio.to_thread(_kill_node_connections, cluster.database)
    await asyncio.sleep(0.7)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*running), 40)
    assert killed > 0, "no connection of the node was killed: nothing was tested"
    assert sum(len(w.acked) for w in writers) > 20
    await _recover_and_check(writers)
    health = await asyncio.to_thread(__import__("httpx").get, node.url + "/api/healthz")
    assert health.status_code == 200
