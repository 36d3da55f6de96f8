"""The Slack bridge through a cluster (issue #13 item 1): two nodes on MariaDB and Redis
behind nginx, visitors and console agents writing, a linked agent answering from every
Slack thread, and ``kill -9`` of the node that holds the bridge's socket. Afterwards the
history checker finds nothing lost or doubled in Steadydesk, every message is in its
Slack thread once and in order, and every reply written in Slack reached its visitor
once."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.bridges.actions import thread_bodies, thread_for, without_notices
from tests.bridges.conftest import create_bridge, link_code
from tests.bridges.support import CHANNEL, BridgeProcess, eventually
from tests.cluster.conftest import ClusterMaker
from tests.cluster.test_failover import _recover_and_check, _writers
from tests.fakes.slack import FakeSlack
from tests.support.clients import Clients, WsClient
from tests.support.http import http_client
from tests.support.server import ServerProcess

pytestmark = [pytest.mark.mysql, pytest.mark.redis, pytest.mark.slow]
SLACK_USER = "U0CLUSTER"
REPLY_EVERY_SECS = 0.15
ROUNDS_AFTER_KILL = 5
BRIDGE_SOCKETS = re.compile(r'^steadydesk_ws_connections\{kind="bridge"\} ([0-9.]+)$', re.M)


async def bridge_sockets(node: ServerProcess) -> int:
    async with http_client(timeout=5) as http:
        text = (await http.get(node.url + "/metrics")).text
    found = BRIDGE_SOCKETS.search(text)
    return int(float(found.group(1))) if found else 0


async def node_of_bridge(nodes: list[ServerProcess]) -> ServerProcess:
    for _ in range(100):
        holding = [node for node in nodes if await bridge_sockets(node) > 0]
        if len(holding) == 1:
            return holding[0]
        await asyncio.sleep(0.1)
    raise AssertionError("no single node holds the bridge's socket")


async def answer_from_slack(
    slack: FakeSlack,
    bridge: BridgeProcess,
    roots: dict[str, str],
    killed: asyncio.Event,
    stop: asyncio.Event,
) -> dict[str, list[str]]:
    """The linked agent answers in every thread, round after round, until ``stop`` and at
    least ``ROUNDS_AFTER_KILL`` rounds after the node died."""
    said: dict[str, list[str]] = {conv: [] for conv in roots}
    n = after_kill = 0
    while not stop.is_set() or after_kill < ROUNDS_AFTER_KILL:
        n += 1
        after_kill += killed.is_set()
        for conv, root in roots.items():
            text = f"from slack {n} in {conv[-6:]}"
            posted = slack.user_message(CHANNEL, root, SLACK_USER, text)
            status, _ = await slack.post_event(bridge.events_url, slack.message_event(posted))
            assert status == 200  # stored by the bridge, whatever the server's state
            said[conv].append(text)
        await asyncio.sleep(REPLY_EVERY_SECS)
    return said


async def stored_with(
    client: WsClient, conv: str, texts: list[str], within: float = 60
) -> list[dict[str, Any]]:
    """The conversation's history once every one of ``texts`` is in it (the bridge resends
    what it holds when it is back)."""
    deadline = time.monotonic() + within
    while True:
        history: list[dict[str, Any]] = await client.history(conv, timeout=15)
        missing = set(texts) - {m["body"] for m in history}
        if not missing:
            return history
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(missing)} Slack replies never stored: {sorted(missing)}")
        await asyncio.sleep(0.25)


@pytest.mark.timeout(300)
async def test_kill_9_of_the_bridges_node_loses_and_doubles_nothing_in_slack(
    make_cluster: ClusterMaker, clients: Clients, tmp_path: Path
) -> None:
    cluster = make_cluster(2, nginx=True)
    front = cluster.front
    created = create_bridge(cluster.a, "slack-cluster")
    slack = await FakeSlack().start()
    bridge = BridgeProcess(tmp_path / "bridge", front.url, created["token"], slack)
    try:
        await bridge.astart()
        code = link_code(cluster.a, cluster.demo.admin.email)  # an admin may write anywhere
        status, body = await slack.post_form(
            bridge.events_url, slack.command_fields(f"link {code}", SLACK_USER, CHANNEL)
        )
        assert status == 200 and "Linked" in body, body

        writers = await _writers(clients, front, pairs=3)
        convs = sorted({w.conv for w in writers})
        roots = await eventually(
            lambda: (
                {c: r.ts for c in convs if (r := slack.root_of(c))}
                if all(slack.root_of(c) for c in convs)
                else None
            ),
            within=30,
            what="a thread for every conversation",
        )
        victim = await node_of_bridge(cluster.nodes)

        stop, killed = asyncio.Event(), asyncio.Event()
        running = [asyncio.create_task(w.run(stop)) for w in writers]
        answering = asyncio.create_task(answer_from_slack(slack, bridge, roots, killed, stop))
        await asyncio.sleep(1.0)
        await asyncio.to_thread(victim.kill9)
        killed.set()
        health = await bridge.health()
        await asyncio.sleep(1.5)  # writers on the other node and Slack go on meanwhile
        stop.set()
        await asyncio.wait_for(asyncio.gather(*running), 40)
        said = await answering
        assert sum(len(w.acked) for w in writers) > 20, "too little traffic before the kill"

        await _recover_and_check(writers)  # nothing acked lost or doubled in Steadydesk
        survivor = next(node for node in cluster.nodes if node is not victim)
        assert await node_of_bridge([survivor]) is survivor
        await bridge.wait_healthy(30)

        for conv in convs:
            reader = next(w for w in writers if w.conv == conv)
            history = await stored_with(reader.client, conv, said[conv])
            bodies = Counter(m["body"] for m in history)
            for text in said[conv]:  # each Slack reply reached Steadydesk once
                assert bodies[text] == 1, f"{text!r} stored {bodies[text]} times"
            expected = thread_for(history)
            await eventually(
                lambda c=conv, e=expected: without_notices(thread_bodies(slack, c)) == e,  # type: ignore[misc]
                within=60,
                what=f"the thread of {conv} to match its history",
            )
            visitor = next(w for w in writers if w.conv == conv and w.sender[0] == "visitor")
            replies = {m["seq"] for m in history if m["body"] in said[conv]}
            assert replies <= visitor.seen_now(), "a Slack reply never reached the visitor"
        assert len(slack.roots()) == len(convs)  # no thread opened twice
        assert "Traceback" not in bridge.log_tail(400), bridge.log_tail(60)
        assert health[0] in (200, 503)  # answered all along
    finally:
        bridge.stop()
        await slack.stop()
