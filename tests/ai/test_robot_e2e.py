"""The robot end to end (docs/ai.md): a real server, the real ``Robot`` on the agent
WebSocket with an ``ai`` bridge token, a visitor and an agent. It answers only what the
server gives it, hands off by phrase, and stops when a person accepts: its late send is
refused (``taken_over``) and it carries on without crashing."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from bots.ai.responder import Reply
from bots.ai.robot import Robot
from bots.core.config import BridgeConfig
from tests.ai.support import event_of, set_mode, start_chat
from tests.support.bridges import new_bridge
from tests.support.clients import Clients
from tests.support.server import DemoTenant, ServerProcess, free_port

FIRST_REPLY_SECS = 3.0


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"  # the robot is a protocol client: the server's backend is not its concern


@pytest_asyncio.fixture
async def robot(
    server: ServerProcess, tenant: DemoTenant, admin_token: str
) -> AsyncIterator[Robot]:
    await set_mode(server, admin_token, tenant, "first_line")
    bridge = await new_bridge(server, admin_token, kind="ai", name="Aiko")
    config = BridgeConfig(
        kind="ai",
        server=server.url,
        token=bridge.token,
        port=free_port(),
        ai_first_reply_secs=FIRST_REPLY_SECS,
        ai_low_turns=3,
    )
    robot = Robot(config)
    task = asyncio.get_running_loop().create_task(robot.run())
    await asyncio.wait_for(robot.welcomed.wait(), 10)
    yield robot
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def from_robot(robot: Robot, conv: str):  # type: ignore[no-untyped-def]
    return lambda f: (
        f["type"] == "message"
        and f["conv"] == conv
        and f["sender"]["type"] == "ai"
        and f["sender"]["id"] == robot.bridge_id
    )


async def test_the_robot_answers_as_itself_and_hands_off_by_phrase(
    server: ServerProcess, tenant: DemoTenant, robot: Robot, clients: Clients
) -> None:
    agent = await clients.agent(server, tenant.agents[0], demo=tenant)
    started = time.monotonic()
    visitor, conv = await start_chat(clients, server, tenant, body="Hmm, bonjour?")
    said = await visitor.recv_until(from_robot(robot, conv))
    assert time.monotonic() - started < FIRST_REPLY_SECS
    assert said["sender"]["name"] == "Aiko"
    assert conv in robot.held

    await visitor.send_and_ack("我要转人工", conv=conv)
    bye = await visitor.recv_until(lambda f: from_robot(robot, conv)(f) and "转接" in f["body"])
    assert bye["body"].startswith("正在为您转接")
    await agent.recv_until(event_of("conv.queued", conv))
    assert conv not in robot.held

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{robot.config.port}") as http:
        metrics = (await http.get("/metrics")).text
        health = await http.get("/healthz")
    assert 'steadydesk_bridge_ai_handoffs_total{reason="visitor_asked"} 1.0' in metrics
    assert 'steadydesk_bridge_breaker_state{breaker="llm",platform="ai"} 0.0' in metrics
    assert "steadydesk_bridge_ai_reply_seconds_count" in metrics
    assert health.status_code == 200
    assert health.json()["generation"] == "off" and health.json()["server"] == "OK"


async def test_the_robot_stops_when_a_person_accepts_and_survives_a_refusal(
    server: ServerProcess, tenant: DemoTenant, robot: Robot, clients: Clients
) -> None:
    agent = await clients.agent(server, tenant.agents[0], demo=tenant)
    visitor, conv = await start_chat(clients, server, tenant, body="Hello?")
    await visitor.recv_until(from_robot(robot, conv))

    robot.let_go.clear()
    await agent.send_json({"type": "accept", "conv": conv})
    await asyncio.wait_for(robot.let_go.wait(), 10)
    assert conv not in robot.held

    # The visitor writes on: only the person answers (the robot's reply would come first).
    await visitor.send_and_ack("Are you a person now?", conv=conv)
    await agent.recv_until(
        lambda f: f["type"] == "message" and f.get("body") == "Are you a person now?"
    )
    ack = await agent.send_and_ack("Yes, I'm Alex.", conv=conv)
    seen = await visitor.recv_until(lambda f: f["type"] == "message" and f["seq"] == ack["seq"])
    assert seen["sender"]["type"] == "agent"
    assert sum(1 for f in visitor.log if from_robot(robot, conv)(f)) == 1  # "Hello?" only

    # A send that crossed the accept on the wire: refused, the robot lets go and lives on.
    robot.held.add(conv)
    robot.let_go.clear()
    await robot._deliver(conv, Reply("Late answer from the robot"))
    await asyncio.wait_for(robot.let_go.wait(), 10)
    assert conv in robot.taken_over and conv not in robot.held and robot.client.live
    late = [f for f in visitor.log if f["type"] == "message" and "Late answer" in f["body"]]
    assert not late
    other, conv2 = await start_chat(clients, server, tenant, body="Anyone there?")
    await other.recv_until(from_robot(robot, conv2))  # still answering new chats
