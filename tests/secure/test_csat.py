"""CSAT: the visitor rates its closed conversation once; agents see the rating.

Denials: another visitor's conversation, an open conversation, a second rating, agents
rating, a site with CSAT off, bad input.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.secure.conftest import bearer, raw_rows
from tests.support.clients import (
    Clients,
    WsClient,
    assert_error_response,
    cached_login,
    get,
    open_conversation,
    post_json,
)
from tests.support.server import DemoTenant, ServerProcess


async def closed_chat(server: ServerProcess, clients: Clients, demo: DemoTenant | None = None,
                      ) -> tuple[WsClient, WsClient, str, dict[str, Any]]:
    """A visitor and an agent in a conversation the agent closed; the visitor's conv.closed."""
    visitor = await clients.visitor(server, name="Rater", demo=demo)
    agent = await clients.agent(server, demo=demo)
    conv = await open_conversation(visitor, agent, "please help")
    await agent.send_and_ack("done, anything else?", conv)
    await agent.send_json({"type": "close", "conv": conv})
    closed = await visitor.recv_event("conv.closed", conv)
    await agent.recv_event("conv.closed", conv)
    return visitor, agent, conv, closed


def rating_path(conv: str) -> str:
    return f"/api/v1/visitor/conversations/{conv}/rating"


async def test_closing_offers_csat_and_a_ws_rating_reaches_the_agent(
    server: ServerProcess, clients: Clients
) -> None:
    visitor, agent, conv, closed = await closed_chat(server, clients)
    assert closed["data"]["csat"] is True
    await visitor.send_json({"type": "rate", "conv": conv, "rating": 4, "comment": "quick, thanks"})
    rated = await visitor.recv_event("conv.rated", conv)
    assert rated["data"]["rating"] == 4 and rated["data"]["comment"] == "quick, thanks"
    seen = await agent.recv_event("conv.rated", conv)
    assert seen["data"] == rated["data"]
    token = (await cached_login(server, server.demo.agents[0])).get("token")  # type: ignore[union-attr]
    listed = await get(server, "/api/v1/conversations?status=closed&limit=200", bearer(token))
    card = next(c for c in listed.json()["conversations"] if c["id"] == conv)
    assert card["rating"]["rating"] == 4 and card["rating"]["comment"] == "quick, thanks"


async def test_a_rest_rating_is_stored_once(server: ServerProcess, clients: Clients) -> None:
    visitor, agent, conv, _ = await closed_chat(server, clients)
    token = visitor.session["token"]
    first = await post_json(server, rating_path(conv), {"rating": 5}, bearer(token))
    assert first.status_code == 201, first.text
    assert first.json()["rating"] == 5 and first.json()["comment"] is None
    assert (await agent.recv_event("conv.rated", conv))["data"]["rating"] == 5
    again = await post_json(server, rating_path(conv), {"rating": 1}, bearer(token))
    assert_error_response(again, 409, "already_rated")
    await visitor.send_json({"type": "rate", "conv": conv, "rating": 2})
    await visitor.recv_error("already_rated", conv=conv)
    assert raw_rows(server, "SELECT rating FROM conversation WHERE id = ?", (conv,)) == [(5,)]


async def test_an_open_conversation_cannot_be_rated(
    server: ServerProcess, clients: Clients
) -> None:
    visitor = await clients.visitor(server)
    agent = await clients.agent(server)
    conv = await open_conversation(visitor, agent, "still talking")
    await visitor.send_json({"type": "rate", "conv": conv, "rating": 5})
    await visitor.recv_error("conversation_open", conv=conv)
    resp = await post_json(server, rating_path(conv), {"rating": 5},
                           bearer(visitor.session["token"]))
    assert_error_response(resp, 409, "conversation_open")
    await agent.send_json({"type": "close", "conv": conv})
    await agent.recv_event("conv.closed", conv)


async def test_another_visitor_cannot_rate(server: ServerProcess, clients: Clients,
                                           other_tenant: DemoTenant) -> None:
    _victim, _agent, conv, _ = await closed_chat(server, clients)
    intruder = await clients.visitor(server, name="Intruder")
    await intruder.send_json({"type": "rate", "conv": conv, "rating": 1})
    await intruder.recv_error("forbidden", conv=conv)
    resp = await post_json(server, rating_path(conv), {"rating": 1},
                           bearer(intruder.session["token"]))
    assert_error_response(resp, 403, "forbidden")
    foreigner = await clients.visitor(server, demo=other_tenant)
    resp = await post_json(server, rating_path(conv), {"rating": 1},
                           bearer(foreigner.session["token"]))
    assert_error_response(resp, 403, "forbidden")
    unknown = await post_json(server, rating_path("nosuchconversation"), {"rating": 1},
                              bearer(intruder.session["token"]))
    assert_error_response(unknown, 403, "forbidden")  # unknown looks like foreign
    await intruder.ping_pong()
    assert not [f for f in intruder.log if f.get("name") == "conv.rated"]
    assert raw_rows(server, "SELECT rating FROM conversation WHERE id = ?", (conv,)) == [(None,)]


async def test_agents_cannot_rate(server: ServerProcess, clients: Clients) -> None:
    _, agent, conv, _ = await closed_chat(server, clients)
    await agent.send_json({"type": "rate", "conv": conv, "rating": 5})
    await agent.recv_error("forbidden", conv=conv)
    token = agent.login["token"]
    resp = await post_json(server, rating_path(conv), {"rating": 5}, bearer(token))
    assert_error_response(resp, 403, "forbidden")
    anonymous = await post_json(server, rating_path(conv), {"rating": 5})
    assert_error_response(anonymous, 401, "unauthorized")
    assert raw_rows(server, "SELECT rating FROM conversation WHERE id = ?", (conv,)) == [(None,)]


@pytest.mark.parametrize("body", [
    {"rating": 0}, {"rating": 6}, {"rating": "5"}, {"rating": True}, {},
    {"rating": 3, "comment": "x" * 1001}, {"rating": 3, "comment": 7},
])
async def test_bad_ratings_are_refused(server: ServerProcess, clients: Clients,
                                       body: dict[str, Any]) -> None:
    visitor, _, conv, _ = await closed_chat(server, clients)
    resp = await post_json(server, rating_path(conv), body, bearer(visitor.session["token"]))
    assert_error_response(resp, 400, "bad_request")
    assert raw_rows(server, "SELECT rating FROM conversation WHERE id = ?", (conv,)) == [(None,)]


async def test_bad_ratings_over_the_socket_are_bad_request_not_bad_frames(
    server: ServerProcess, clients: Clients
) -> None:
    """docs/protocol.md: a bad rating or comment is ``bad_request`` with the conv (steadywire's
    InvalidValue), not a bad frame: eleven of them do not close the socket with 4400."""
    visitor, _, conv, _ = await closed_chat(server, clients)
    bad = [{"rating": 0}, {"rating": 6}, {"rating": "5"}, {"rating": True}, {},
           {"rating": 3, "comment": "x" * 1001}, {"rating": 3, "comment": 7}]
    for fields in bad + bad[:4]:
        await visitor.send_json({"type": "rate", "conv": conv, **fields})
        await visitor.recv_error("bad_request", conv=conv)
    await visitor.send_json({"type": "rate", "conv": conv, "rating": 4})
    await visitor.recv_event("conv.rated", conv)


async def test_a_site_without_csat_offers_nothing(server: ServerProcess, clients: Clients) -> None:
    tenant = server.run_demo("nocsat")
    raw_rows(server, "UPDATE site SET csat_enabled = ? WHERE tenant_id = ?", (False, tenant.tenant))
    visitor, _, conv, closed = await closed_chat(server, clients, demo=tenant)
    assert "csat" not in closed["data"]
    await visitor.send_json({"type": "rate", "conv": conv, "rating": 5})
    await visitor.recv_error("csat_disabled", conv=conv)


async def test_a_visitor_who_ends_the_chat_is_offered_csat_too(
    server: ServerProcess, clients: Clients
) -> None:
    visitor = await clients.visitor(server)
    agent = await clients.agent(server)
    conv = await open_conversation(visitor, agent, "bye soon")
    await visitor.send_json({"type": "close", "conv": conv})
    closed = await visitor.recv_event("conv.closed", conv)
    assert closed["data"]["csat"] is True and closed["data"]["by"]["type"] == "visitor"
    await visitor.send_json({"type": "rate", "conv": conv, "rating": 1, "comment": "  "})
    rated = await visitor.recv_event("conv.rated", conv)
    assert rated["data"]["rating"] == 1 and rated["data"]["comment"] is None  # blank: none
    await agent.recv_event("conv.rated", conv)
