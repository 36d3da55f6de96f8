"""A bridge on /ws/agent (BRIDGES.md §1, docs/bridges.md): hello, what it follows and
receives (every message and note of every open conversation in its scope, live, resumed
by seq), ``as`` on every acting frame, and every denial. Part of the protocol suite, so it
also runs against three nodes behind nginx (``task test-cluster``)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from tests.admin.conftest import call, code
from tests.support.bridges import (
    connect_bridge,
    link,
    messages_of,
    new_agent,
    new_bridge,
    new_department,
    run_cli,
    seqs_of,
    token_of,
)
from tests.support.clients import Clients, Frame, WsClient, new_cid
from tests.support.server import DemoTenant, ServerProcess

# Fixtures tenant, other and admin_token: tests/support/bridges.py (via conftest.py).


async def visitor_chat(clients: Clients, server: ServerProcess, tenant: DemoTenant,
                       body: str = "Hello, I need help", **fields: Any) -> tuple[WsClient, str]:
    visitor = await clients.visitor(server, demo=tenant, name="Vera", **fields)
    ack = await visitor.send_and_ack(body)
    return visitor, str(ack["conv"])


def event_of(name: str, conv: str) -> Any:
    return lambda f: f["type"] == "event" and f.get("name") == name and f.get("conv") == conv


async def wait_seqs(ws: WsClient, conv: str, wanted: list[int]) -> None:
    await ws.wait_state(lambda: seqs_of(ws, conv) == wanted, 5.0, f"seqs {wanted} of {conv}")


async def refused(ws: WsClient, frame: dict[str, Any]) -> Frame:
    """Send ``frame``; its `error` (matched by cid or conv). The socket stays usable."""
    await ws.send_json(frame)
    if "cid" in frame:
        err = await ws.wait_ack(frame["cid"])
    else:
        err = await ws.recv_until(lambda f: f["type"] == "error" and f.get("conv") == frame["conv"],
                                  what=f"error about {frame['conv']}")
    assert err["type"] == "error", err
    await ws.ping_pong()
    return err


# ------------------------------------------------------------------------ hello


async def test_a_bridge_says_hello_on_the_agent_socket(
    server: ServerProcess, tenant: DemoTenant, admin_token: str, clients: Clients
) -> None:
    dept = await new_department(server, admin_token)
    bridge = await new_bridge(server, admin_token, kind="telegram", departments=[dept],
                              name="Support on Telegram")
    ws = await connect_bridge(clients, server, bridge)
    assert ws.welcome is not None
    assert ws.welcome["node"] in server.node_names
    assert ws.welcome["you"] == {"type": "bridge", "id": bridge.id, "name": "Support on Telegram",
                                 "kind": "telegram", "tenant": tenant.tenant,
                                 "departments": [dept]}
    me = await call(server, "GET", "/api/v1/me", token=bridge.token)
    assert me.status_code == 200 and me.json() == ws.welcome["you"]
    await ws.ping_pong()


async def test_a_bridge_token_opens_nothing_else(
    server: ServerProcess, tenant: DemoTenant, admin_token: str, clients: Clients
) -> None:
    bridge = await new_bridge(server, admin_token)
    on_visitor_socket = await clients.connect(server, "/ws/visitor", label="bridge-as-visitor")
    await on_visitor_socket.send_json({"type": "hello", "token": bridge.token})
    assert await on_visitor_socket.wait_closed() == 4401
    made_up = await clients.connect(server, "/ws/agent", label="made-up")
    await made_up.send_json({"type": "hello", "token": "sdb_" + "x" * 43})
    assert await made_up.wait_closed() == 4401
    for method, path in (("GET", "/api/v1/sites"), ("GET", "/api/v1/bridges"),
                         ("GET", "/api/v1/labels"), ("POST", "/api/v1/me/link-code")):
        resp = await call(server, method, path, token=bridge.token)
        assert resp.status_code == 403 and code(resp) == "forbidden", (path, resp.text)
    revoked = await call(server, "DELETE", f"/api/v1/bridges/{bridge.id}", token=admin_token)
    assert revoked.status_code == 200
    again = await clients.connect(server, "/ws/agent", label="revoked")
    await again.send_json({"type": "hello", "token": bridge.token})
    assert await again.wait_closed() == 4401
    for path in ("/api/v1/me", "/api/v1/conversations", "/api/v1/sites"):
        resp = await call(server, "GET", path, token=bridge.token)
        assert resp.status_code == 401, (path, resp.text)


# ------------------------------------------------------------------------ following


async def test_every_message_and_note_of_every_open_conversation_arrives_live(
    server: ServerProcess, tenant: DemoTenant, admin_token: str, clients: Clients
) -> None:
    bridge = await new_bridge(server, admin_token)
    ws = await connect_bridge(clients, server, bridge)
    agent = await clients.agent(server, tenant.agents[0], demo=tenant)
    visitor, conv = await visitor_chat(clients, server, tenant)
    queued = await ws.recv_until(event_of("conv.queued", conv))
    assert queued["data"]["visitor"]["name"] == "Vera"
    await agent.send_json({"type": "accept", "conv": conv})
    await ws.recv_until(event_of("conv.assigned", conv))
    await agent.send_and_ack("How can I help?", conv)
    note = await agent.send_and_ack("regular customer", conv, kind="note")
    await visitor.send_and_ack("My order is late", conv)
    await wait_seqs(ws, conv, [1, 2, 3, 4])
    got = messages_of(ws, conv)
    assert [m["kind"] for m in got] == ["text", "text", "note", "text"]
    assert got[2]["cid"] == note["cid"] and got[2]["body"] == "regular customer"
    assert got[1]["sender"]["type"] == "agent" and got[3]["sender"]["type"] == "visitor"
    await agent.send_json({"type": "close", "conv": conv})
    await ws.recv_until(event_of("conv.closed", conv))


async def test_welcome_backfills_open_conversations_and_resumes_by_seq(
    server: ServerProcess, tenant: DemoTenant, admin_token: str, clients: Clients
) -> None:
    bridge = await new_bridge(server, admin_token)
    first, a = await visitor_chat(clients, server, tenant, "a1")
    await first.send_and_ack("a2", a)
    await first.send_and_ack("a3", a)
    second, b = await visitor_chat(clients, server, tenant, "b1")
    await second.send_and_ack("b2", b)
    third, c = await visitor_chat(clients, server, tenant, "c1")
    await third.send_json({"type": "close", "conv": c})
    await third.recv_until(event_of("conv.closed", c))

    ws = await connect_bridge(clients, server, bridge, resume={a: 2})
    await wait_seqs(ws, a, [3])
    await wait_seqs(ws, b, [1, 2])
    assert [m["body"] for m in messages_of(ws, b)] == ["b1", "b2"]
    await ws.recv_until(event_of("conv.queued", b))
    await ws.ping_pong()
    assert not messages_of(ws, c), "a closed conversation it did not name was replayed"
    await first.send_and_ack("a4", a)
    await wait_seqs(ws, a, [3, 4])

    # Later: a closed conversation named in resume is read to its end.
    await ws.close()
    again = await connect_bridge(clients, server, bridge, resume={c: 0, a: 4, b: 2},
                                 label="bridge-again")
    await wait_seqs(again, c, [1])
    await second.send_and_ack("b3", b)
    await wait_seqs(again, b, [3])
    assert not messages_of(again, a)


async def test_a_new_conversation_is_followed_from_its_first_message(
    server: ServerProcess, tenant: DemoTenant, admin_token: str, clients: Clients
) -> None:
    bridge = await new_bridge(server, admin_token)
    ws = await connect_bridge(clients, server, bridge)
    visitor, conv = await visitor_chat(clients, server, tenant, "first words")
    await visitor.send_and_ack("second words", conv)
    await wait_seqs(ws, conv, [1, 2])
    assert [m["body"] for m in messages_of(ws, conv)] == ["first words", "second words"]


async def test_a_bridge_of_departments_sees_only_their_conversations(
    server: ServerProcess, tenant: DemoTenant, admin_token: str, clients: Clients
) -> None:
    mine, theirs = await new_department(server, admin_token), await new_department(server,
                                                                                    admin_token)
    bridge = await new_bridge(server, admin_token, departments=[mine])
    before_visitor, before = await visitor_chat(clients, server, tenant, "in scope, earlier",
                                                department=mine)
    ws = await connect_bridge(clients, server, bridge, resume={})
    await wait_seqs(ws, before, [1])
    inside_visitor, inside = await visitor_chat(clients, server, tenant, "in scope",
                                                department=mine)
    outside_visitor, outside = await visitor_chat(clients, server, tenant, "private to them",
                                                  department=theirs)
    agent = await clients.agent(server, tenant.agents[0], demo=tenant)
    await agent.recv_until(event_of("conv.queued", outside))
    await agent.send_json({"type": "accept", "conv": outside})
    await agent.recv_until(event_of("conv.assigned", outside))
    await agent.send_and_ack("a note they keep", outside, kind="note")
    await outside_visitor.send_and_ack("more private words", outside)
    await wait_seqs(ws, inside, [1])
    await ws.ping_pong()
    assert not ws.frames_about(outside), ws.frames_about(outside)
    assert outside_visitor.welcome is not None
    outsider = outside_visitor.welcome["you"]["id"]
    assert not ws.frames_about(outsider), ws.frames_about(outsider)  # presence included

    # REST answers in scope only.
    listed = await call(server, "GET", "/api/v1/conversations?status=open&limit=200",
                        token=bridge.token)
    ids = {c["id"] for c in listed.json()["conversations"]}
    assert {before, inside} <= ids and outside not in ids
    history = await call(server, "GET", f"/api/v1/conversations/{outside}/messages",
                         token=bridge.token)
    assert history.status_code == 403
    detail = await call(server, "GET", f"/api/v1/conversations/{outside}", token=bridge.token)
    assert detail.status_code == 404
    assert (await call(server, "GET", f"/api/v1/conversations/{inside}",
                       token=bridge.token)).status_code == 200
    sync = await ws.sync(outside)
    assert sync["type"] == "error" and sync["code"] == "forbidden"
    other_ws = await connect_bridge(clients, server, bridge, resume={outside: 0},
                                    label="bridge-resume-outside")
    err = await other_ws.recv_until(lambda f: f["type"] == "error" and f.get("conv") == outside)
    assert err["code"] == "forbidden"

    # Transferred into the scope: its whole history arrives, then live traffic.
    await agent.send_json({"type": "transfer", "conv": outside, "to_department": mine})
    await ws.recv_until(event_of("conv.transferred", outside))
    await wait_seqs(ws, outside, [1, 2, 3])
    assert messages_of(ws, outside)[1]["kind"] == "note"
    await outside_visitor.send_and_ack("now you see me", outside)
    await wait_seqs(ws, outside, [1, 2, 3, 4])

    # Transferred out again: the transfer is told, then nothing more.
    await agent.send_json({"type": "transfer", "conv": outside, "to_department": theirs})
    moved = await ws.recv_until(lambda f: event_of("conv.transferred", outside)(f)
                                and f["data"].get("to_department", {}).get("id") == theirs)
    assert moved["data"]["to_department"]["id"] == theirs
    await outside_visitor.send_and_ack("gone again", outside)
    await agent.send_json({"type": "transfer", "conv": outside, "to_department": mine})
    await ws.recv_until(lambda f: event_of("conv.transferred", outside)(f)
                        and f["data"].get("to_department", {}).get("id") == mine)
    # Back in scope: it goes on where this connection left it, no seq twice.
    await wait_seqs(ws, outside, [1, 2, 3, 4, 5])
    await inside_visitor.send_and_ack("still here", inside)
    await before_visitor.send_and_ack("me too", before)
    await wait_seqs(ws, inside, [1, 2])


# ------------------------------------------------------------------------ acting


async def test_every_acting_frame_acts_as_the_linked_agent(
    server: ServerProcess, tenant: DemoTenant, admin_token: str, clients: Clients
) -> None:
    bridge = await new_bridge(server, admin_token, name="Acting Slack")
    agent_token = await token_of(server, tenant.agents[0], tenant)
    agent_id = await link(server, bridge, agent_token)
    other_id = await link(server, bridge, await token_of(server, tenant.agents[1], tenant))
    console = await clients.agent(server, tenant.agents[0], demo=tenant, label="own-console")
    ws = await connect_bridge(clients, server, bridge)
    visitor, conv = await visitor_chat(clients, server, tenant)
    await ws.recv_until(event_of("conv.queued", conv))

    await ws.send_json({"type": "accept", "conv": conv, "as": agent_id})
    assigned = await visitor.recv_until(event_of("conv.assigned", conv))
    assert assigned["data"]["agent"]["id"] == agent_id
    ack = await ws.send_and_ack("Hello from Slack", conv, **{"as": agent_id})
    seen = await visitor.recv_until(lambda f: f["type"] == "message" and f["cid"] == ack["cid"])
    assert seen["sender"]["id"] == agent_id and seen["sender"]["type"] == "agent"
    mirrored = await console.recv_until(lambda f: f["type"] == "message"
                                        and f.get("cid") == ack["cid"])
    assert mirrored["seq"] == ack["seq"]
    await ws.send_and_ack("from slack, privately", conv, kind="note", **{"as": agent_id})
    await ws.send_json({"type": "typing", "conv": conv, "on": True, "as": agent_id})
    typing = await visitor.recv_type("typing")
    assert typing["sender"]["id"] == agent_id
    await visitor.send_and_ack("thanks", conv)
    await ws.send_json({"type": "read", "conv": conv, "seq": 4, "as": agent_id})
    read = await visitor.recv_type("read")
    assert read["sender"]["id"] == agent_id and read["seq"] == 4
    await ws.send_json({"type": "transfer", "conv": conv, "to_agent": other_id, "as": agent_id})
    moved = await ws.recv_until(event_of("conv.transferred", conv))
    assert moved["data"]["from"]["id"] == agent_id
    await ws.send_json({"type": "close", "conv": conv, "as": other_id})
    closed = await visitor.recv_until(event_of("conv.closed", conv))
    assert closed["data"]["by"]["id"] == other_id

    visitor_view = [m for m in visitor.log if m["type"] == "message" and m["conv"] == conv]
    assert [m["kind"] for m in visitor_view] == ["text", "text", "text"]  # no note
    via = f"via bridge:{bridge.id}"
    expected = {(f"agent:{agent_id} {via}", "conversation.accept"),
                (f"agent:{agent_id} {via}", "message.send"),
                (f"agent:{agent_id} {via}", "conversation.transfer"),
                (f"agent:{other_id} {via}", "conversation.close")}
    # Each action is audited by its own transaction: the row is there before its event.
    audit = await call(server, "GET", f"/api/v1/audit?target={conv}&limit=50",
                       token=admin_token)
    entries = {(e["actor"], e["action"]) for e in audit.json()["entries"]}
    assert expected <= entries, entries
    mine = await call(server, "GET", f"/api/v1/audit?actor=agent:{agent_id}&limit=50",
                      token=admin_token)
    assert any(e["action"] == "message.send" for e in mine.json()["entries"])
    # By name too, with the bridge connection's user agent (the websockets client's).
    agent = await call(server, "GET", f"/api/v1/agents/{agent_id}", token=admin_token)
    bridged = [e for e in audit.json()["entries"] if e["actor"].startswith(f"agent:{agent_id} ")]
    assert bridged and all(e["actor_name"] == f"{agent.json()['name']} via Acting Slack"
                           and "websockets" in e["user_agent"] for e in bridged), bridged


async def test_a_resent_cid_gets_the_original_ack(
    server: ServerProcess, tenant: DemoTenant, admin_token: str, clients: Clients
) -> None:
    bridge = await new_bridge(server, admin_token)
    agent_id = await link(server, bridge, await token_of(server, tenant.agents[0], tenant))
    ws = await connect_bridge(clients, server, bridge)
    _, conv = await visitor_chat(clients, server, tenant)
    cid = new_cid()
    first = await ws.send_and_ack("once", conv, cid=cid, **{"as": agent_id})
    await ws.close()
    again = await connect_bridge(clients, server, bridge, resume={conv: first["seq"]},
                                 label="bridge-again")
    second = await again.send_and_ack("once", conv, cid=cid, **{"as": agent_id})
    assert (second["id"], second["seq"]) == (first["id"], first["seq"])
    history = await again.history(conv)
    assert [m["cid"] for m in history].count(cid) == 1


async def test_every_way_a_bridge_may_not_act_is_refused(
    server: ServerProcess, tenant: DemoTenant, other: DemoTenant, admin_token: str,
    clients: Clients
) -> None:
    mine, theirs = await new_department(server, admin_token), await new_department(server,
                                                                                    admin_token)
    bridge = await new_bridge(server, admin_token, departments=[mine])
    linked = await link(server, bridge, await token_of(server, tenant.agents[0], tenant))
    leaving_id, leaving_token = await new_agent(server, admin_token, tenant)
    leaving = await link(server, bridge, leaving_token)
    assert leaving == leaving_id
    unlinked_id = (await call(server, "GET", "/api/v1/me",
                              token=await token_of(server, tenant.agents[1], tenant))).json()["id"]
    foreign_id = (await call(server, "GET", "/api/v1/me",
                             token=await token_of(server, other.agents[0], other))).json()["id"]
    disabled = await call(server, "POST", f"/api/v1/agents/{leaving_id}/disable",
                          token=admin_token)
    assert disabled.status_code == 200
    ws = await connect_bridge(clients, server, bridge)
    visitor, conv = await visitor_chat(clients, server, tenant, department=mine)
    _, outside = await visitor_chat(clients, server, tenant, department=theirs)
    await ws.recv_until(event_of("conv.queued", conv))

    for who in (None, "", 42, unlinked_id, leaving_id, foreign_id, "z" * 300):
        for kind, frame in (
            ("send", {"type": "send", "conv": conv, "cid": new_cid(), "body": "sneaky"}),
            ("accept", {"type": "accept", "conv": conv}),
            ("typing", {"type": "typing", "conv": conv, "on": True}),
            ("read", {"type": "read", "conv": conv, "seq": 1}),
            ("transfer", {"type": "transfer", "conv": conv, "to_department": theirs}),
            ("close", {"type": "close", "conv": conv}),
        ):
            if who is not None:
                frame["as"] = who
            err = await refused(ws, frame)
            assert err["code"] == "forbidden", (kind, who, err)
    for frame in ({"type": "send", "conv": outside, "cid": new_cid(), "body": "x", "as": linked},
                  {"type": "accept", "conv": outside, "as": linked},
                  {"type": "close", "conv": outside, "as": linked}):
        err = await refused(ws, frame)
        assert err["code"] == "forbidden", err
    status = await refused(ws, {"type": "status", "state": "online", "conv": "-", "as": linked})
    assert status["code"] == "forbidden"
    page = await refused(ws, {"type": "page", "url": "https://e.example", "conv": "-"})
    assert page["code"] == "forbidden"

    history = await call(server, "GET", f"/api/v1/conversations/{conv}/messages",
                         token=admin_token)
    assert [m["body"] for m in history.json()["messages"]] == ["Hello, I need help"]
    detail = await call(server, "GET", f"/api/v1/conversations/{conv}", token=admin_token)
    assert detail.json()["status"] == "queued" and detail.json()["department"] == mine
    assert (await call(server, "GET", f"/api/v1/conversations/{outside}",
                       token=admin_token)).json()["status"] == "queued"
    # ... and the socket still works for what the bridge may do.
    ack = await ws.send_and_ack("allowed", conv, **{"as": linked})
    await visitor.recv_until(lambda f: f["type"] == "message" and f["cid"] == ack["cid"])


async def test_an_unlinked_user_can_no_longer_act(
    server: ServerProcess, tenant: DemoTenant, admin_token: str, clients: Clients
) -> None:
    bridge = await new_bridge(server, admin_token)
    agent_id = await link(server, bridge, await token_of(server, tenant.agents[0], tenant),
                          external_user="TUNLINK:UUNLINK")
    ws = await connect_bridge(clients, server, bridge)
    _, conv = await visitor_chat(clients, server, tenant)
    await ws.send_and_ack("before", conv, **{"as": agent_id})
    gone = await call(server, "DELETE", f"/api/v1/bridges/{bridge.id}/links/TUNLINK:UUNLINK",
                      token=admin_token)
    assert gone.status_code == 200, gone.text
    err = await refused(ws, {"type": "send", "conv": conv, "cid": new_cid(), "body": "after",
                             "as": agent_id})
    assert err["code"] == "forbidden"


# ------------------------------------------------------------------------ revocation


@pytest.mark.serial
async def test_revoking_closes_the_bridge_within_a_second(
    server: ServerProcess, tenant: DemoTenant, admin_token: str, clients: Clients
) -> None:
    by_api = await new_bridge(server, admin_token, name="by api")
    by_cli = await new_bridge(server, admin_token, name="by cli")
    api_ws = await connect_bridge(clients, server, by_api, label="api-bridge")
    cli_ws = await connect_bridge(clients, server, by_cli, label="cli-bridge")
    started = time.monotonic()
    resp = await call(server, "DELETE", f"/api/v1/bridges/{by_api.id}", token=admin_token)
    assert resp.status_code == 200 and resp.json()["revoked_at"]
    assert await api_ws.wait_closed(timeout=1.0) == 4401
    assert time.monotonic() - started < 1.5
    assert not cli_ws.closed.is_set()

    done = await asyncio.to_thread(run_cli, server, "bridge", "revoke", by_cli.id, "--json")
    started = time.monotonic()
    assert json.loads(done)["revoked_at"]
    assert await cli_ws.wait_closed(timeout=1.5) == 4401
    assert time.monotonic() - started < 1.5

