"""The AI robot on the server (docs/bridges.md "Kind ai", issue #20): an ``ai`` bridge
sends as itself, only into conversations it holds or that wait unassigned; a site's
``ai_mode`` gives new conversations to it; a person's accept takes over; the robot and the
visitor hand off with a recorded reason; every denial proven (no ``as``, no ``accept``,
another tenant's conversation, a department outside its scope, after a person accepted)."""

from __future__ import annotations

import json
from typing import Any

from tests.admin.conftest import call, code
from tests.ai.support import event_of, refused, robot, robot_says, set_mode, start_chat
from tests.support.bridges import connect_bridge, new_bridge, new_department, run_cli, token_of
from tests.support.clients import Clients, new_cid
from tests.support.server import DemoTenant, ServerProcess


async def audit_rows(server: ServerProcess, admin_token: str, actor: str,
                     action: str) -> list[dict[str, Any]]:
    """The actor's audit rows of ``action`` (committed with the action: no wait needed)."""
    resp = await call(server, "GET", f"/api/v1/audit?actor={actor}&action={action}",
                      token=admin_token)
    entries: list[dict[str, Any]] = resp.json()["entries"]
    return entries


async def test_an_ai_bridge_is_made_listed_and_says_hello_as_itself(
    server: ServerProcess, tenant: DemoTenant, admin_token: str, clients: Clients
) -> None:
    bridge, ws = await robot(clients, server, admin_token, name="Aiko")
    assert ws.welcome is not None
    assert ws.welcome["you"]["kind"] == "ai" and ws.welcome["you"]["name"] == "Aiko"
    listed = await call(server, "GET", "/api/v1/bridges", token=admin_token)
    assert any(b["id"] == bridge.id and b["kind"] == "ai" for b in listed.json()["bridges"])
    made = run_cli(server, "bridge", "create", "--tenant", tenant.tenant, "--kind", "ai",
                   "--name", "Robo", "--json")
    made_id = json.loads(made)["bridge_id"]
    listed = await call(server, "GET", "/api/v1/bridges", token=admin_token)
    assert any(b["id"] == made_id and b["kind"] == "ai" for b in listed.json()["bridges"])


async def test_first_line_robot_holds_answers_and_stops_once_a_person_accepts(
    server: ServerProcess, tenant: DemoTenant, admin_token: str, clients: Clients
) -> None:
    await set_mode(server, admin_token, tenant, "first_line")
    bridge, ws = await robot(clients, server, admin_token, name="Aiko")
    agent = await clients.agent(server, tenant.agents[0], demo=tenant)
    visitor, conv = await start_chat(clients, server, tenant)
    assigned = await ws.recv_until(event_of("conv.assigned", conv))
    assert assigned["data"]["assignee"] == {"type": "ai", "id": bridge.id, "name": "Aiko"}
    await agent.recv_until(event_of("conv.assigned", conv))

    ack = await robot_says(ws, conv, "Your order left on Monday.")
    assert ack["type"] == "ack", ack
    said = await visitor.recv_until(lambda f: f["type"] == "message" and f["seq"] == ack["seq"])
    assert said["sender"] == {"type": "ai", "id": bridge.id, "name": "Aiko"}
    note = await robot_says(ws, conv, "used: Shipping times (0.82)", kind="note")
    assert note["type"] == "ack", note

    # The robot's read is relayed to the visitor but is not the agents' read mark.
    await ws.send_json({"type": "read", "conv": conv, "seq": ack["seq"]})
    relayed = await visitor.recv_until(lambda f: f["type"] == "read" and f["conv"] == conv)
    assert relayed["sender"]["type"] == "ai"
    listed = await call(server, "GET", f"/api/v1/conversations/{conv}",
                        token=await token_of(server, tenant.agents[0], tenant))
    assert listed.json()["assignee"] == {"type": "ai", "id": bridge.id, "name": "Aiko"}
    assert listed.json()["agent_read_seq"] == 0

    # The robot may neither accept nor act as someone.
    err = await refused(ws, {"type": "accept", "conv": conv})
    assert err["code"] == "forbidden"
    err = await refused(ws, {"type": "send", "conv": conv, "cid": new_cid(), "body": "x",
                             "as": "someone"})
    assert err["code"] == "forbidden"

    await agent.send_json({"type": "accept", "conv": conv})
    taken = await ws.recv_until(
        lambda f: event_of("conv.assigned", conv)(f) and f["data"]["assignee"]["type"] == "agent")
    assert taken["data"]["agent"]["type"] == "agent"
    after = await robot_says(ws, conv, "Anything else?")
    assert after["type"] == "error" and after["code"] == "forbidden", after
    assert after["reason"] == "taken_over"
    err = await refused(ws, {"type": "close", "conv": conv})
    assert err["code"] == "forbidden" and err["reason"] == "taken_over"
    await ws.ping_pong()  # the socket stays open


async def test_a_robot_cannot_touch_another_tenant_or_another_department(
    server: ServerProcess, tenant: DemoTenant, other: DemoTenant, admin_token: str,
    clients: Clients
) -> None:
    await set_mode(server, admin_token, tenant, "off")
    mine = await new_department(server, admin_token)
    theirs = await new_department(server, admin_token)
    bridge = await new_bridge(server, admin_token, kind="ai", name="Scoped", departments=[mine])
    ws = await connect_bridge(clients, server, bridge, label="scoped robot")
    _, foreign = await start_chat(clients, server, other)
    _, outside = await start_chat(clients, server, tenant, department=theirs)
    _, inside = await start_chat(clients, server, tenant, department=mine)
    for conv in (foreign, outside):
        err = await robot_says(ws, conv, "hello from the robot")
        assert err["type"] == "error" and err["code"] == "forbidden", err
        err = await refused(ws, {"type": "transfer", "conv": conv, "to_queue": True,
                                 "reason": "other"})
        assert err["code"] == "forbidden", err
    ok = await robot_says(ws, inside, "Waiting and unassigned: I may answer.")
    assert ok["type"] == "ack", ok


async def test_the_robot_hands_off_with_a_reason_and_the_visitor_by_the_button(
    server: ServerProcess, tenant: DemoTenant, admin_token: str, clients: Clients
) -> None:
    await set_mode(server, admin_token, tenant, "first_line")
    bridge, ws = await robot(clients, server, admin_token, name="Helper")
    agent = await clients.agent(server, tenant.agents[0], demo=tenant)
    visitor, conv = await start_chat(clients, server, tenant)
    await ws.recv_until(event_of("conv.assigned", conv))

    err = await refused(ws, {"type": "transfer", "conv": conv, "to_queue": True,
                             "reason": "because"})
    assert err["code"] == "bad_frame"
    await ws.send_json({"type": "transfer", "conv": conv, "to_queue": True,
                        "reason": "low_confidence"})
    moved = await agent.recv_until(event_of("conv.transferred", conv))
    assert moved["data"]["reason"] == "low_confidence" and moved["data"]["to_queue"] is True
    assert moved["data"]["from"] == {"type": "ai", "id": bridge.id, "name": "Helper"}
    await agent.recv_until(
        lambda f: event_of("conv.queued", conv)(f) and f["data"]["status"] == "queued")
    audited = await audit_rows(server, admin_token, f"ai:{bridge.id}", "conversation.transfer")
    assert audited[0]["target"] == conv and audited[0]["actor_name"] == "Helper"
    assert audited[0]["changes"] == {"to_queue": True, "reason": "low_confidence"}

    # Not held by the robot any more: the visitor's button is refused.
    await visitor.send_json({"type": "handoff", "conv": conv})
    err = await visitor.recv_error("bad_request")
    assert err["conv"] == conv

    visitor2, conv2 = await start_chat(clients, server, tenant)
    await ws.recv_until(event_of("conv.assigned", conv2))
    await visitor2.send_json({"type": "handoff", "conv": conv2})
    moved = await agent.recv_until(event_of("conv.transferred", conv2))
    assert moved["data"]["reason"] == "visitor_button"
    # Another visitor cannot press this visitor's button.
    await visitor.send_json({"type": "handoff", "conv": conv2})
    assert (await visitor.recv_error("forbidden"))["conv"] == conv2


async def test_a_revoked_robot_hands_its_conversations_back(
    server: ServerProcess, tenant: DemoTenant, admin_token: str, clients: Clients
) -> None:
    await set_mode(server, admin_token, tenant, "first_line")
    bridge, ws = await robot(clients, server, admin_token, name="Gone")
    agent = await clients.agent(server, tenant.agents[0], demo=tenant)
    _, conv = await start_chat(clients, server, tenant)
    await ws.recv_until(event_of("conv.assigned", conv))
    revoked = await call(server, "DELETE", f"/api/v1/bridges/{bridge.id}", token=admin_token)
    assert revoked.status_code == 200
    assert await ws.wait_closed() == 4401
    moved = await agent.recv_until(event_of("conv.transferred", conv), timeout=10)
    assert moved["data"]["reason"] == "ai_unavailable"


async def test_when_no_agent_the_robot_takes_only_while_nobody_can(
    server: ServerProcess, tenant: DemoTenant, admin_token: str, clients: Clients
) -> None:
    await set_mode(server, admin_token, tenant, "when_no_agent")
    bridge, ws = await robot(clients, server, admin_token, name="Night")
    _, conv = await start_chat(clients, server, tenant)
    assert (await ws.recv_until(event_of("conv.assigned", conv)))["data"]["assignee"]["id"] \
        == bridge.id
    agent = await clients.agent(server, tenant.agents[1], demo=tenant)
    await agent.send_json({"type": "status", "state": "online"})
    await agent.recv_until(lambda f: f.get("name") == "agent.status")
    _, conv2 = await start_chat(clients, server, tenant)
    await agent.recv_until(event_of("conv.queued", conv2))
    await ws.expect_no_frame(event_of("conv.assigned", conv2), within=1.0)
    await agent.send_json({"type": "status", "state": "offline"})
    await agent.recv_until(lambda f: f.get("name") == "agent.status"
                           and f["data"]["state"] == "offline")
    await set_mode(server, admin_token, tenant, "off")
    resp = await call(server, "GET", "/api/v1/sites", token=admin_token)
    assert {s["ai_mode"] for s in resp.json()["sites"]} == {"off"}
    bad = await call(server, "PATCH", f"/api/v1/sites/{tenant.site_key}", token=admin_token,
                     body={"ai_mode": "always"})
    assert bad.status_code == 400 and code(bad) == "bad_request"
