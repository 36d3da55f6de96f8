"""Proactive invite: an agent starts a conversation with a browsing visitor. The visitor's
client hears ``conv.opened`` with ``invited_by`` and gets the greeting as message seq 1;
the conversation is the agent's (active, assigned), so the reply goes to that agent.
Refused: a visitor already chatting (409), one not on the site now or another tenant's
(404), visitors (403)."""

from __future__ import annotations

from tests.context.conftest import Rest
from tests.support.clients import Clients, new_visitor
from tests.support.server import DemoTenant, ServerProcess


async def test_invite_opens_an_assigned_conversation_with_the_greeting(
    server: ServerProcess, demo: DemoTenant, clients: Clients, agent: Rest,
    foreign_admin: Rest,
) -> None:
    inviter = await clients.agent(server, demo.agents[0], label="inviter")
    visitor = await clients.visitor(server, name="Window Shopper")
    vid = visitor.session["visitor_id"]

    assert (await foreign_admin.post(f"/monitor/visitors/{vid}/invite",
                                     {"body": "hi"})).status_code == 404
    as_visitor = Rest(server, visitor.session["token"])
    assert (await as_visitor.post(f"/monitor/visitors/{vid}/invite",
                                  {"body": "hi"})).status_code == 403
    assert (await agent.post(f"/monitor/visitors/{vid}/invite",
                             {"body": "  "})).status_code == 400
    away = (await new_visitor(server, name="Not Here"))["visitor_id"]  # a session, no socket
    gone = await agent.post(f"/monitor/visitors/{away}/invite", {"body": "hi"})
    assert gone.status_code == 404 and "not on the site" in gone.text

    resp = await agent.post(f"/monitor/visitors/{vid}/invite",
                            {"body": "Hello! Can I help you find a size?"})
    assert resp.status_code == 201, resp.text
    conv = resp.json()["conv"]
    opened = await visitor.recv_event("conv.opened", conv)
    assert opened["data"]["invited_by"]["id"] == inviter.welcome["you"]["id"]  # type: ignore[index]
    greeting = await visitor.recv_until(
        lambda f: f["type"] == "message" and f.get("conv") == conv)
    assert greeting["seq"] == 1 and greeting["body"] == "Hello! Can I help you find a size?"
    assert greeting["sender"]["type"] == "agent"
    assigned = await inviter.recv_event("conv.assigned", conv)
    assert assigned["data"]["visitor"]["id"] == vid
    await inviter.recv_until(lambda f: f["type"] == "message" and f.get("conv") == conv)

    again = await agent.post(f"/monitor/visitors/{vid}/invite", {"body": "still there?"})
    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"] == "conversation_open"

    reply = await visitor.send_and_ack("Yes, a 42 please", conv=conv)
    assert reply["seq"] == 2
    got = await inviter.recv_until(lambda f: f["type"] == "message" and f.get("seq") == 2
                                   and f.get("conv") == conv)
    assert got["body"] == "Yes, a 42 please"
    await inviter.expect_no_frame(lambda f: f.get("name") == "conv.queued"
                                  and f.get("conv") == conv, within=0.3)
    await inviter.send_json({"type": "close", "conv": conv})
    await inviter.recv_event("conv.closed", conv)
