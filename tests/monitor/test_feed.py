"""The live monitor's server side: the admin-only feed (``monitor`` frame, then
``visitor.online`` / ``visitor.seen`` / ``visitor.offline``), the snapshot
(``GET /api/v1/monitor/visitors``), and who is refused either."""

from __future__ import annotations

from typing import Any

from tests.context.conftest import Rest
from tests.support.bridges import connect_bridge, link, new_bridge, token_of
from tests.support.clients import Clients, WsClient, open_conversation
from tests.support.server import DemoTenant, ServerProcess


def feed(name: str, visitor: str) -> Any:
    return lambda f: (f["type"] == "event" and f.get("name") == name
                      and _visitor_id(f) == visitor)


def _visitor_id(frame: dict[str, Any]) -> str | None:
    data = frame.get("data") or {}
    who = data.get("visitor")
    return who.get("id") if isinstance(who, dict) else who


async def watch(client: WsClient) -> None:
    await client.send_json({"type": "monitor", "on": True})
    event = await client.recv_event("monitor.subscribed")
    assert event["data"] == {"on": True}


async def test_admin_sees_a_visitor_arrive_move_and_leave(
    server: ServerProcess, demo: DemoTenant, clients: Clients, admin: Rest,
) -> None:
    lead = await clients.agent(server, demo.admin, label="lead")
    await watch(lead)
    visitor = await clients.visitor(server, name="Browsing Bea")
    vid = visitor.session["visitor_id"]
    await lead.recv_until(feed("visitor.online", vid))
    await visitor.send_json({"type": "page", "url": "https://shop.example/shoes",
                             "title": "Shoes <b>sale</b>"})
    seen = await lead.recv_until(feed("visitor.seen", vid))
    assert seen["conv"] is None  # browsing: no conversation, still told to the monitor
    assert seen["data"]["title"] == "Shoes <b>sale</b>"  # as sent: each sink escapes

    snapshot = await admin.get("/monitor/visitors")
    assert snapshot.status_code == 200, snapshot.text
    body = snapshot.json()
    row = next(v for v in body["visitors"] if v["id"] == vid)
    assert row["url"] == "https://shop.example/shoes"
    assert row["title"] == "Shoes <b>sale</b>"
    assert row["conv"] is None and row["since"].endswith("Z")
    agents = {a["name"]: a for a in body["agents"]}
    assert agents and all({"status", "load", "capacity", "connected"} <= set(a)
                          for a in agents.values())
    assert any(a["connected"] for a in agents.values())  # the lead itself

    await visitor.close()
    await lead.recv_until(feed("visitor.offline", vid))
    after = (await admin.get("/monitor/visitors")).json()
    assert vid not in [v["id"] for v in after["visitors"]]


async def test_queue_and_load_in_the_snapshot(
    server: ServerProcess, demo: DemoTenant, clients: Clients, admin: Rest,
) -> None:
    waiting = await clients.visitor(server, name="Queued Quinn")
    ack = await waiting.send_and_ack("anyone there?")
    chatting = await clients.visitor(server, name="Served Sam")
    helper = await clients.agent(server, demo.agents[1], label="helper")
    served = await open_conversation(chatting, helper)
    body = (await admin.get("/monitor/visitors")).json()
    queued = next(q for q in body["queue"] if q["conv"] == ack["conv"])
    assert queued["visitor"]["name"] == "Queued Quinn"
    assert queued["waited_secs"] >= 0
    sam = next(v for v in body["visitors"] if v["id"] == chatting.session["visitor_id"])
    assert sam["conv"] == served and sam["conv_status"] == "active"
    helper_id = helper.welcome["you"]["id"] if helper.welcome else ""
    assert sam["agent"]["id"] == helper_id
    assert next(a for a in body["agents"] if a["id"] == helper_id)["load"] >= 1
    for conv, who in ((served, helper), (ack["conv"], helper)):
        await who.send_json({"type": "close", "conv": conv})
        await who.recv_event("conv.closed", conv)


async def test_only_the_tenants_admins_get_the_feed_or_the_snapshot(
    server: ServerProcess, demo: DemoTenant, other_tenant: DemoTenant, clients: Clients,
    agent: Rest, foreign_admin: Rest,
) -> None:
    plain = await clients.agent(server, demo.agents[0], label="plain agent")
    await plain.send_json({"type": "monitor", "on": True})
    await plain.recv_error("forbidden")
    stranger = await clients.agent(server, other_tenant.admin, demo=other_tenant,
                                   label="other tenant's admin")
    await watch(stranger)
    visitor = await clients.visitor(server, name="Private Pat")
    vid = visitor.session["visitor_id"]
    await visitor.send_json({"type": "monitor", "on": True})
    await visitor.recv_error("forbidden")
    await visitor.send_json({"type": "page", "url": "https://shop.example/private"})
    await stranger.expect_no_frame(lambda f: vid in str(f), within=0.7)
    await plain.expect_no_frame(lambda f: f.get("name") in ("visitor.online", "visitor.seen")
                                and f.get("conv") is None, within=0.1)

    assert (await agent.get("/monitor/visitors")).status_code == 403
    foreign = await foreign_admin.get("/monitor/visitors")
    assert foreign.status_code == 200 and vid not in foreign.text
    assert (await Rest(server, None).get("/monitor/visitors")).status_code == 401
    visitor_rest = Rest(server, visitor.session["token"])
    assert (await visitor_rest.get("/monitor/visitors")).status_code == 403


async def test_a_bridge_gets_no_feed_even_acting_as_an_admin(
    server: ServerProcess, demo: DemoTenant, clients: Clients,
) -> None:
    admin_token = await token_of(server, demo.admin, demo)
    bridge = await new_bridge(server, admin_token, name="monitor walk")
    admin_id = await link(server, bridge, admin_token)
    ws = await connect_bridge(clients, server, bridge)
    await ws.send_json({"type": "monitor", "on": True, "as": admin_id})
    await ws.recv_error("forbidden")
    await ws.send_json({"type": "monitor", "on": True})
    await ws.recv_until(lambda f: f["type"] == "error")
    visitor = await clients.visitor(server, name="Unwatched Uma")
    vid = visitor.session["visitor_id"]
    await visitor.send_json({"type": "page", "url": "https://shop.example/uma"})
    await ws.expect_no_frame(lambda f: f.get("name") in ("visitor.online", "visitor.seen",
                                                        "monitor.subscribed"), within=0.7)
    assert vid  # the visitor was real: the bridge just heard nothing of it
