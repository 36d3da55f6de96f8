"""REST authorisation: every route is public on purpose or refuses the wrong caller.

The route walk reads the app's own route table, so a route added without an entry in
PUBLIC_ROUTES or AGENT_ROUTES below fails this suite until its access is decided.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from server.app import create_app
from server.config import load_settings
from tests.support.clients import WsClient, get, login, new_visitor
from tests.support.server import ServerProcess

# Routes anyone may call (each does its own checks: site key, password, token in hello).
PUBLIC_ROUTES = {
    ("GET", "/api/healthz"),
    ("GET", "/metrics"),  # loopback or metrics token, tested elsewhere
    ("POST", "/api/v1/visitor/session"),
    ("OPTIONS", "/api/v1/visitor/session"),  # CORS preflight for the widget
    ("POST", "/api/v1/auth/login"),
    ("GET", "/ws/visitor"),
    ("GET", "/ws/agent"),
    ("GET", "/"),  # the demo page
    ("GET", "/widget.js"),
    ("GET", "/docs/api"),  # the API reference page and its files (tests/widget/test_api_docs.py)
    ("GET", "/docs/api/init.js"),
    ("GET", "/docs/api/assets/<name:str>"),
}
# Routes for agents of the caller's tenant only, with a sample path to probe.
AGENT_ROUTES = {
    ("GET", "/api/v1/me"): "/api/v1/me",
    ("GET", "/api/v1/conversations"): "/api/v1/conversations",
    ("GET", "/api/v1/conversations/<conv:str>/messages"): "/api/v1/conversations/x/messages",
    ("GET", "/api/v1/agents"): "/api/v1/agents",
    ("GET", "/api/v1/departments"): "/api/v1/departments",
    ("GET", "/api/v1/reports"): "/api/v1/reports",  # admins only: tests/secure/test_reports.py
}
# Routes for a visitor's own data (tested in tests/secure/test_csat.py).
VISITOR_ROUTES = {
    ("POST", "/api/v1/visitor/conversations/<conv:str>/rating"),
}

# Admin-only routes; their denials (agent 403, other tenant 404, anonymous 401) are
# probed in tests/routing/test_access.py.
ROUTING_ADMIN_ROUTES = {
    (method, path)
    for method in ("GET", "PUT")
    for path in (
        "/api/v1/departments/<department:str>/routing",
        "/api/v1/routing/default",
        "/api/v1/sites/<site:str>/hours",
        "/api/v1/sites/<site:str>/prechat",
    )
}


def _app_routes(tmp_path: Path) -> set[tuple[str, str]]:
    app = create_app(load_settings(data_dir=tmp_path))
    try:
        routes = set()
        for route in app.router.routes:
            if getattr(route.ctx, "access", None):
                continue  # declares ctx_access: tests/admin/test_route_access.py walks it
            path = "/" + route.path.lstrip("/")
            for method in route.methods:
                if method not in ("HEAD", "OPTIONS"):
                    routes.add((method, path))
        return routes
    finally:
        app.ctx.services.store.close()


def test_every_route_has_a_decided_access(tmp_path: Path) -> None:
    undecided = (
        _app_routes(tmp_path) - PUBLIC_ROUTES - set(AGENT_ROUTES) - VISITOR_ROUTES
    ) - ROUTING_ADMIN_ROUTES
    assert not undecided, f"routes without an access decision in this test: {sorted(undecided)}"


async def test_agent_routes_refuse_anonymous_and_visitors(server: ServerProcess) -> None:
    visitor = await new_visitor(server)
    for path in AGENT_ROUTES.values():
        anonymous = await get(server, path)
        assert anonymous.status_code == 401, path
        assert anonymous.json()["error"]["code"] == "unauthorized"
        forged = await get(server, path, {"authorization": "Bearer not.a.token"})
        assert forged.status_code == 401, path
        as_visitor = await get(server, path, {"authorization": f"Bearer {visitor['token']}"})
        assert as_visitor.status_code == 403, path
        assert as_visitor.json()["error"]["code"] == "forbidden"


async def test_agent_reads_own_tenant_and_never_another(server: ServerProcess) -> None:
    assert server.demo is not None
    agent = await login(server, server.demo.agents[0])
    bearer = {"authorization": f"Bearer {agent['token']}"}
    visitor = await new_visitor(server, name="Rest Visitor")
    ws = await WsClient.connect(server.ws_url + "/ws/visitor", label="visitor")
    try:
        await ws.hello(visitor["token"])
        ack = await ws.send_and_ack("hello over rest")
    finally:
        await ws.close()
    conv = ack["conv"]

    me = await get(server, "/api/v1/me", bearer)
    assert me.status_code == 200 and me.json()["email"] == server.demo.agents[0].email
    listed = await get(server, "/api/v1/conversations?status=queued", bearer)
    assert listed.status_code == 200
    card = next(c for c in listed.json()["conversations"] if c["id"] == conv)
    assert card["visitor"]["name"] == "Rest Visitor"
    assert card["last_message"]["body"] == "hello over rest"
    history = await get(server, f"/api/v1/conversations/{conv}/messages", bearer)
    assert [m["seq"] for m in history.json()["messages"]] == [1]
    agents = await get(server, "/api/v1/agents", bearer)
    assert {a["email"] for a in agents.json()["agents"]} >= {a.email for a in server.demo.agents}

    other = server.run_demo(tenant="rest-other")
    stranger = await login(server, other.agents[0], demo=other)
    foreign = {"authorization": f"Bearer {stranger['token']}"}
    denied = await get(server, f"/api/v1/conversations/{conv}/messages", foreign)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
    theirs = await get(server, "/api/v1/conversations", foreign)
    assert conv not in {c["id"] for c in theirs.json()["conversations"]}
    assert server.demo.agents[0].email not in {
        a["email"] for a in (await get(server, "/api/v1/agents", foreign)).json()["agents"]
    }


@pytest.mark.parametrize("query", ["?status=bogus", "?limit=abc"])
async def test_bad_filters_are_400(server: ServerProcess, query: str) -> None:
    assert server.demo is not None
    agent = await login(server, server.demo.agents[0])
    response = await get(
        server, "/api/v1/conversations" + query, {"authorization": f"Bearer {agent['token']}"}
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_request"
