"""PROTOCOL §4 handshake: hello, welcome, and every way a connection is refused."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.clients import Clients, login, new_visitor, visitor_session
from tests.support.server import DemoTenant, ServerFactory, ServerProcess


@pytest.fixture(scope="module")
def quick_server(module_server_factory: ServerFactory) -> ServerProcess:
    """A server that waits only 1 s for the hello."""
    return module_server_factory({"STEADY_HELLO_TIMEOUT_SECS": "1"})


# ------------------------------------------------------------------------ welcome


async def test_visitor_welcome_names_session_node_heartbeat_and_the_visitor(
    server: ServerProcess, clients: Clients,
) -> None:
    visitor = await clients.visitor(server, name="Grace")
    welcome = visitor.welcome
    assert welcome is not None
    assert isinstance(welcome["session"], str) and welcome["session"]
    assert welcome["node"] in server.node_names  # STEADY_NODE (of one node of a cluster)
    assert welcome["heartbeat"] == 25
    you = welcome["you"]
    assert you["type"] == "visitor"
    assert you["id"] == visitor.session["visitor_id"]
    assert "name" in you
    assert you["conversation"] is None


async def test_each_connection_gets_its_own_session(server: ServerProcess,
                                                    clients: Clients) -> None:
    session = await new_visitor(server)
    one = await clients.visitor(server, session=session)
    two = await clients.visitor(server, session=session)
    assert one.welcome and two.welcome
    assert one.welcome["session"] != two.welcome["session"]


async def test_visitor_welcome_carries_the_open_conversation(
    server: ServerProcess, clients: Clients,
) -> None:
    first = await clients.visitor(server)
    ack = await first.send_and_ack("hello there")
    again = await clients.visitor(server, session=first.session)
    assert again.welcome is not None
    assert again.welcome["you"]["conversation"] == ack["conv"]


async def test_agent_welcome_names_the_agent(server: ServerProcess, demo: DemoTenant,
                                             clients: Clients) -> None:
    agent = await clients.agent(server, demo.agents[0])
    assert agent.welcome is not None
    assert agent.welcome["node"] in server.node_names
    assert agent.welcome["heartbeat"] == 25
    you = agent.welcome["you"]
    assert you["type"] == "agent"
    assert you["id"] == agent.login["agent"]["id"]
    assert you["email"] == demo.agents[0].email
    assert you["role"] == "agent"
    assert you["tenant"] == demo.tenant
    assert {"name", "status"} <= set(you)


# ------------------------------------------------------------------------ refusals


@pytest.mark.parametrize("path", ["/ws/visitor", "/ws/agent"])
@pytest.mark.parametrize("token", ["not-a-token", "", "eyJhbGciOiJub25lIn0.e30."])
async def test_bad_token_is_closed_4401(server: ServerProcess, clients: Clients,
                                        path: str, token: str) -> None:
    ws = await clients.connect(server, path)
    await ws.send_json({"type": "hello", "token": token})
    assert await ws.wait_closed() == 4401
    assert not [f for f in ws.log if f["type"] == "welcome"]


async def test_tampered_visitor_token_is_closed_4401(server: ServerProcess,
                                                     clients: Clients) -> None:
    token = (await new_visitor(server))["token"]
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    ws = await clients.connect(server, "/ws/visitor")
    await ws.send_json({"type": "hello", "token": tampered})
    assert await ws.wait_closed() == 4401


async def test_agent_token_on_the_visitor_endpoint_is_closed_4401(
    server: ServerProcess, demo: DemoTenant, clients: Clients,
) -> None:
    token = (await login(server, demo.agents[0]))["token"]
    ws = await clients.connect(server, "/ws/visitor")
    await ws.send_json({"type": "hello", "token": token})
    assert await ws.wait_closed() == 4401


async def test_visitor_token_on_the_agent_endpoint_is_closed_4401(
    server: ServerProcess, clients: Clients,
) -> None:
    token = (await new_visitor(server))["token"]
    ws = await clients.connect(server, "/ws/agent")
    await ws.send_json({"type": "hello", "token": token})
    assert await ws.wait_closed() == 4401


async def test_browser_origin_not_allowed_on_visitor_endpoint_is_closed_4403(
    server: ServerProcess, clients: Clients,
) -> None:
    token = (await new_visitor(server))["token"]
    ws = await clients.connect(server, "/ws/visitor", origin="https://evil.example")
    await ws.send_json({"type": "hello", "token": token})
    assert await ws.wait_closed() == 4403
    assert not [f for f in ws.log if f["type"] == "welcome"]


async def test_allowed_browser_origin_on_visitor_endpoint_is_welcomed(
    server: ServerProcess, demo: DemoTenant, clients: Clients,
) -> None:
    visitor = await clients.visitor(server, origin=demo.origin)
    assert visitor.welcome is not None
    await visitor.ping_pong()


async def test_no_hello_within_the_timeout_is_closed_4408(quick_server: ServerProcess,
                                                          clients: Clients) -> None:
    ws = await clients.connect(quick_server, "/ws/visitor")
    started = time.monotonic()
    assert await ws.wait_closed(timeout=4) == 4408
    assert time.monotonic() - started >= 0.5  # it waited for the hello first


async def test_a_slow_but_timely_hello_is_welcomed(quick_server: ServerProcess,
                                                   clients: Clients) -> None:
    session = await new_visitor(quick_server)
    ws = await clients.connect(quick_server, "/ws/visitor")
    await asyncio.sleep(0.4)
    welcome = await ws.hello(session["token"])
    assert welcome["you"]["id"] == session["visitor_id"]


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_expired_tokens_are_closed_4401(server_factory: ServerFactory,
                                              clients: Clients) -> None:
    srv = server_factory({"STEADY_VISITOR_TOKEN_TTL_SECS": "3",
                          "STEADY_AGENT_TOKEN_TTL_SECS": "3"})
    assert srv.demo is not None
    session = await new_visitor(srv)
    agent = await login(srv, srv.demo.agents[0])
    expiry = max(datetime.fromisoformat(session["expires_at"]),
                 datetime.fromisoformat(agent["expires_at"]))
    assert expiry - datetime.now(UTC) <= timedelta(seconds=4)
    await asyncio.sleep((expiry - datetime.now(UTC)).total_seconds() + 1.5)
    for path, token in (("/ws/visitor", session["token"]), ("/ws/agent", agent["token"])):
        ws = await clients.connect(srv, path)
        await ws.send_json({"type": "hello", "token": token})
        assert await ws.wait_closed() == 4401, path
    # Nor does the expired token restore the visitor over HTTP.
    resp = await visitor_session(srv, token=session["token"])
    if resp.status_code == 200:
        assert resp.json()["visitor_id"] != session["visitor_id"]
