"""The AI robot on a two-node cluster (MariaDB + Redis; docs/bridges.md "Kind ai"): a
robot connected to node b is given a conversation that starts on node a, answers it,
and stops once a person accepts on node a (the refusal is read from the database on the
send path); a robot gone from every node past the grace hands its conversations back."""

from __future__ import annotations

import time

import pytest

from tests.admin.conftest import call
from tests.ai.support import event_of, robot_says, set_mode
from tests.cluster.conftest import ClusterMaker
from tests.support.bridges import connect_bridge, new_bridge
from tests.support.clients import Clients, login

pytestmark = [pytest.mark.mysql, pytest.mark.redis]

GRACE_SECS = 2


async def test_the_robot_stops_across_nodes_and_hands_back_when_gone(
    make_cluster: ClusterMaker, clients: Clients
) -> None:
    cluster = make_cluster(2, env={"STEADY_AI_HANDBACK_SECS": str(GRACE_SECS)})
    demo = cluster.demo
    admin = (await login(cluster.a, demo.admin))["token"]
    await set_mode(cluster.a, admin, demo, "first_line")
    bridge = await new_bridge(cluster.a, admin, kind="ai", name="Aiko")
    bot = await connect_bridge(clients, cluster.b, bridge, label="robot@b")
    agent = await clients.agent(cluster.a, demo.agents[0], label="agent@a")

    visitor = await clients.visitor(cluster.a, name="Across")
    conv = str((await visitor.send_and_ack("asked on node a"))["conv"])
    assigned = await bot.recv_until(event_of("conv.assigned", conv))
    assert assigned["data"]["assignee"]["type"] == "ai"
    ack = await robot_says(bot, conv, "answered from node b")
    assert ack["type"] == "ack", ack
    said = await visitor.recv_until(lambda f: f["type"] == "message" and f["seq"] == ack["seq"])
    assert said["sender"]["type"] == "ai"

    await agent.send_json({"type": "accept", "conv": conv})
    # The person's assignment, not the robot's earlier one (agents are told of both).
    taken = event_of("conv.assigned", conv)
    await agent.recv_until(lambda f: taken(f) and f["data"]["assignee"]["type"] == "agent")
    refused = await robot_says(bot, conv, "still here?")
    assert refused["type"] == "error" and refused["reason"] == "taken_over", refused

    second = await clients.visitor(cluster.a, name="Left alone")
    conv2 = str((await second.send_and_ack("anyone?"))["conv"])
    await bot.recv_until(event_of("conv.assigned", conv2))
    await bot.close()
    gone = time.monotonic()
    moved = await agent.recv_until(event_of("conv.transferred", conv2), timeout=GRACE_SECS + 8)
    assert moved["data"]["reason"] == "ai_unavailable"
    assert time.monotonic() - gone >= GRACE_SECS - 0.5
    listed = await call(cluster.a, "GET", f"/api/v1/conversations/{conv2}", token=admin)
    assert listed.json()["status"] == "queued" and listed.json()["assignee"] is None
