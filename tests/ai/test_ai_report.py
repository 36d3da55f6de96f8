"""The AI robot's report (docs/reports.md "AI robot"): conversations resolved by the robot
without a person, hand-offs by reason, per day; admins of the tenant only."""

from __future__ import annotations

import datetime as dt

from tests.admin.conftest import call
from tests.ai.support import event_of, robot, robot_says, set_mode, start_chat
from tests.support.bridges import token_of
from tests.support.clients import Clients
from tests.support.server import DemoTenant, ServerProcess


async def test_resolved_by_the_robot_and_hand_offs_by_reason(
    server: ServerProcess, tenant: DemoTenant, other: DemoTenant, admin_token: str,
    clients: Clients
) -> None:
    await set_mode(server, admin_token, tenant, "first_line")
    bridge, ws = await robot(clients, server, admin_token, name="Reporter")
    agent = await clients.agent(server, tenant.agents[0], demo=tenant)
    convs = []
    for n in range(4):
        visitor, conv = await start_chat(clients, server, tenant, f"question {n}")
        await ws.recv_until(event_of("conv.assigned", conv))
        convs.append((visitor, conv))
    (v0, c0), (_, c1), (v2, c2), (_, c3) = convs
    assert (await robot_says(ws, c0, "Here is the answer."))["type"] == "ack"
    await v0.send_json({"type": "close", "conv": c0})
    await v0.recv_until(event_of("conv.closed", c0))
    await ws.send_json({"type": "transfer", "conv": c1, "to_queue": True,
                        "reason": "low_confidence"})
    await agent.recv_until(event_of("conv.transferred", c1))
    await v2.send_json({"type": "handoff", "conv": c2})
    await agent.recv_until(event_of("conv.transferred", c2))
    await agent.send_json({"type": "accept", "conv": c3})  # a person takes it: not the robot's
    await agent.recv_until(event_of("conv.assigned", c3))
    await agent.send_json({"type": "close", "conv": c3})
    await agent.recv_until(event_of("conv.closed", c3))
    await set_mode(server, admin_token, tenant, "off")

    resp = await call(server, "GET", "/api/v1/reports/ai", token=admin_token)
    assert resp.status_code == 200, resp.text
    report = resp.json()
    today = dt.datetime.now(dt.UTC).date().isoformat()
    [row] = report["rows"]
    assert row["day"] == today and row["resolved_by_ai"] == 1
    assert row["handoffs"]["low_confidence"] == 1 and row["handoffs"]["visitor_button"] == 1
    assert report["total"]["handoffs_total"] == 2 and report["total"]["resolved_by_ai"] == 1

    by_assignee = await call(server, "GET", "/api/v1/reports?group=agent", token=admin_token)
    named = {r["key"]: r["name"] for r in by_assignee.json()["rows"]}
    assert named[bridge.id] == "Reporter"  # the conversation the robot resolved

    theirs = await call(server, "GET", "/api/v1/reports/ai",
                        token=await token_of(server, other.admin, other))
    assert theirs.status_code == 200 and theirs.json()["rows"] == []
    agent_token = await token_of(server, tenant.agents[0], tenant)
    denied = await call(server, "GET", "/api/v1/reports/ai", token=agent_token)
    assert denied.status_code == 403
    bad = await call(server, "GET", "/api/v1/reports/ai?from=2026-13-01", token=admin_token)
    assert bad.status_code == 400
