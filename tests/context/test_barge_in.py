"""Barging in (POST /conversations/{id}/join): a team lead joins a conversation another
agent has, and the visitor is told who joined, once. Admins only; another tenant's
conversation is as unknown as a made-up one; a closed one cannot be joined."""

from __future__ import annotations

from tests.context.conftest import Rest
from tests.support.clients import (
    Clients,
    assert_error_response,
    cached_login,
    open_conversation,
)
from tests.support.server import DemoTenant, ServerProcess


async def test_an_admin_barges_in_and_the_visitor_sees_who_joined(
    server: ServerProcess,
    clients: Clients,
    demo: DemoTenant,
    admin: Rest,
    agent2: Rest,
    foreign_admin: Rest,
) -> None:
    visitor = await clients.visitor(server, name="Vera")
    owner = await clients.agent(server, demo.agents[0], label="owner")
    conv = await open_conversation(visitor, owner, "my order is late")

    resp = await admin.call("POST", f"/conversations/{conv}/join")
    assert resp.status_code == 200, resp.text
    name = (await cached_login(server, demo.admin))["agent"]["name"]
    joined = f"{name} joined the conversation"
    assert resp.json()["body"] == joined and not resp.json()["duplicate"]
    seen = await visitor.recv_type("message", conv=conv, body=joined)
    assert seen["sender"]["type"] == "system"
    await owner.recv_type("message", conv=conv, body=joined)  # the owner knows too

    again = await admin.call("POST", f"/conversations/{conv}/join")
    assert again.json()["duplicate"] and again.json()["seq"] == resp.json()["seq"]

    # Denials: an agent, another tenant's admin, nobody.
    assert_error_response(await agent2.call("POST", f"/conversations/{conv}/join"), 403)
    assert_error_response(await foreign_admin.call("POST", f"/conversations/{conv}/join"), 404)
    assert_error_response(await Rest(server, None).call("POST", f"/conversations/{conv}/join"), 401)

    await owner.send_json({"type": "close", "conv": conv})
    await owner.recv_event("conv.closed", conv)
    assert_error_response(
        await admin.call("POST", f"/conversations/{conv}/join"), 409, "conversation_closed"
    )
