"""Access tests that cannot go stale: walk the app's route table and probe every /api route
with every kind of caller.

Each /api route declares its level (``ctx_access``: public, visitor, agent, admin,
operator). For every route and method this test checks, against a running server:

* anonymous, and a forged bearer token: 401 unless public;
* a visitor's token: 403 on agent/admin/operator routes;
* an agent (role agent), and a signed request with an agent-role API key: 403 on
  admin/operator routes, let in on agent routes;
* an admin of another tenant (made with the CLI): 404 or 403 on routes that name an object,
  since the ids filled in are real ids of the first tenant's objects, and no answer of any
  route (lists included) may contain one of those ids;
* the tenant's own admin, and its admin API key: let in (neither 401 nor 403) on agent
  and admin routes;
* a platform operator naming the tenant (X-Steady-Tenant): let in everywhere but visitor
  routes, and the only caller let in on operator routes (which all others get 403 on);
* a bridge of the tenant (docs/bridges.md): let in on ``bridge`` routes and on routes that
  declare ``ctx_bridge=True``, 403 everywhere else; a bridge of another tenant: like the
  other tenant's admin on the routes that let bridges in (404/403 on this tenant's objects,
  none of their ids in any answer);
* the tenant's AI robot (an ``ai`` bridge): like a bridge, and the only caller let in on
  ``ai_bridge`` routes (its knowledge and presence), which every other caller gets 403 on;
* ``agent_self`` routes (what only a person may do): agents and admins with their own login
  are let in, API keys, operators and bridges get 403; ``bridge`` routes: bridges only.

The server runs in SaaS mode, so the operator exists (made with the CLI).

A route added without ``ctx_access``, or whose handler forgets to authenticate, fails here.
Path parameters get real ids by the collection they follow (``/sites/<x>`` a site, ...);
add a line to ``COLLECTIONS`` when a route names a new kind of object.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from server.gateway.auth import ACCESS_LEVELS
from tests.admin.conftest import call, signed_headers
from tests.admin.routes import Route, api_routes
from tests.support.clients import WsClient, agent_login, cached_login, new_visitor
from tests.support.http import http_client
from tests.support.server import REPO_ROOT, DemoTenant, ServerFactory, ServerProcess

LET_IN_IS_NOT = {401, 403}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


BRIDGE_CALLERS = ("bridge", "other_bridge", "ai_bridge")
FOREIGN_CALLERS = ("other_admin", "other_bridge")


def expected_problem(level: str, caller: str, status: int, names_object: bool,
                     bridge_ok: bool = False) -> str | None:
    """Why ``status`` is wrong for ``caller`` on a route of ``level`` (None when right);
    ``bridge_ok``: the route lets bridges in (``ctx_bridge``)."""
    if level == "public":
        return None if status not in LET_IN_IS_NOT else f"public route refused {caller}"
    if level == "signed_url":  # only the URL's signature lets in: no credential does
        return None if status == 403 else f"unsigned URL answered {status}"
    if caller in ("anonymous", "forged"):
        return None if status == 401 else f"expected 401, got {status}"
    if level == "ai_bridge":
        if caller == "ai_bridge":
            return None if status not in LET_IN_IS_NOT else f"AI bridge refused ({status})"
        return None if status == 403 else f"expected 403, got {status}"
    if caller in BRIDGE_CALLERS:
        if level != "bridge" and not bridge_ok:
            return None if status == 403 else f"expected 403, got {status}"
        if caller == "other_bridge" and names_object and level != "bridge":
            return None if status in (403, 404) else f"another tenant's object answered {status}"
        return None if status not in LET_IN_IS_NOT else f"bridge refused ({status})"
    if level == "bridge":
        return None if status == 403 else f"expected 403, got {status}"
    if level == "agent_self" and caller != "visitor":
        if caller in ("key_agent", "key_admin", "operator"):
            return None if status == 403 else f"expected 403, got {status}"
        return None if status not in LET_IN_IS_NOT else f"refused with {status}"
    rank = {"visitor": 0, "agent": 1, "admin": 2, "operator": 3, "agent_self": 1,
            "participant": 1}
    if caller == "visitor":
        if level in ("visitor", "participant"):
            return None if status not in LET_IN_IS_NOT else f"visitor refused ({status})"
        return None if status == 403 else f"expected 403, got {status}"
    if level == "visitor":  # agents and admins have no visitor session
        return None if status in LET_IN_IS_NOT else f"expected 401/403, got {status}"
    caller_rank = {"agent": 1, "key_agent": 1, "other_admin": 2, "admin": 2, "key_admin": 2,
                   "operator": 3}[caller]
    if caller_rank < rank[level]:
        return None if status == 403 else f"expected 403, got {status}"
    if caller == "other_admin" and names_object:
        return None if status in (403, 404) else f"another tenant's object answered {status}"
    return None if status not in LET_IN_IS_NOT else f"refused with {status}"


@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory) -> list[Route]:
    return api_routes(tmp_path_factory.mktemp("route-table"))


def test_every_api_route_declares_its_access(routes: list[Route]) -> None:
    undeclared = [f"{r.method} {r.path}" for r in routes if r.access not in ACCESS_LEVELS]
    assert not undeclared, (
        "routes without a valid ctx_access (one of " + ", ".join(ACCESS_LEVELS) + "): "
        + ", ".join(undeclared)
    )
    assert len(routes) >= 20, "the route table looks empty: is the app wired?"


def test_the_verdicts_catch_a_missing_check() -> None:
    """A handler that forgot require_admin answers 200 to everyone: every verdict says so."""
    for caller in ("anonymous", "forged", "visitor", "agent"):
        assert expected_problem("admin", caller, 200, True) is not None
    assert expected_problem("admin", "other_admin", 200, True) is not None
    assert expected_problem("agent", "visitor", 200, False) is not None
    assert expected_problem("admin", "admin", 403, False) is not None
    assert expected_problem("admin", "admin", 400, True) is None
    assert expected_problem("public", "anonymous", 404, False) is None
    assert expected_problem("operator", "admin", 200, False) is not None
    assert expected_problem("operator", "operator", 200, False) is None
    assert expected_problem("admin", "bridge", 200, False) is not None
    assert expected_problem("agent", "bridge", 200, False, bridge_ok=True) is None
    assert expected_problem("agent", "bridge", 403, False, bridge_ok=True) is not None
    assert expected_problem("agent", "other_bridge", 200, True, bridge_ok=True) is not None
    assert expected_problem("bridge", "admin", 200, False) is not None
    assert expected_problem("bridge", "bridge", 400, False) is None
    assert expected_problem("agent_self", "key_admin", 200, False) is not None
    assert expected_problem("agent_self", "operator", 200, False) is not None
    assert expected_problem("agent_self", "agent", 200, False) is None
    assert expected_problem("participant", "anonymous", 200, False) is not None
    assert expected_problem("participant", "other_admin", 200, True) is not None
    assert expected_problem("participant", "visitor", 200, True) is None
    assert expected_problem("signed_url", "admin", 200, True) is not None
    assert expected_problem("signed_url", "anonymous", 403, True) is None
    assert expected_problem("ai_bridge", "bridge", 200, False) is not None
    assert expected_problem("ai_bridge", "admin", 200, False) is not None
    assert expected_problem("ai_bridge", "ai_bridge", 403, False) is not None


def run_cli(server: ServerProcess, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "server", *args], cwd=REPO_ROOT,
                          env=server.env, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return done.stdout.decode()


@dataclass
class Callers:
    tokens: dict[str, str | None]
    ids: dict[str, str]
    headers: dict[str, dict[str, str]]
    keys: dict[str, tuple[str, str]]  # signed-request callers: (key id, secret)


@pytest.fixture(scope="module")
def server(module_server_factory: ServerFactory) -> ServerProcess:
    """This module's own server, in SaaS mode (the operator level exists there)."""
    return module_server_factory({"STEADY_MODE": "SaaS"})


# Path segment before a parameter -> which object's id fills it.
COLLECTIONS = {
    "sites": "site",
    "agents": "agent",
    "departments": "department",
    "api-keys": "api_key",
    "conversations": "conversation",
    "visitors": "visitor",
    "bridges": "bridge",
    "links": "link",
    "export": "export_job",
    "operators": "operator",
    "attachments": "attachment",
    "articles": "article",
}


def fill(route: Route, ids: dict[str, str]) -> tuple[str, bool]:
    """The probe URL, and whether every parameter got a real id of the first tenant."""
    values: dict[str, str] = {}
    real = True
    parts = route.path.split("/")
    for i, part in enumerate(parts):
        if part.startswith("<"):
            name = part[1:].split(":")[0].rstrip(">")
            kind = COLLECTIONS.get(parts[i - 1])
            if kind is None:
                real = False
            values[name] = ids[kind] if kind else "zz" + secrets.token_hex(12)
    return route.url(values), real


@pytest_asyncio.fixture(scope="module")
async def callers(server: ServerProcess) -> Callers:
    assert server.demo is not None
    demo: DemoTenant = server.demo
    admin = (await cached_login(server, demo.admin))["token"]

    async def make(path: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = await call(server, "POST", path, token=admin, body=body)
        assert resp.status_code == 201, resp.text
        made: dict[str, Any] = resp.json()
        return made

    agent_key = await make("/api/v1/api-keys", {"name": "walk agent key", "role": "agent"})
    ids = {
        "site": (await make("/api/v1/sites", {"name": "walk"}))["site_key"],
        "department": (await make("/api/v1/departments", {"name": "walk " + secrets.token_hex(3)}))[
            "id"],
        "agent": (await make("/api/v1/agents", {"email": f"walk-{secrets.token_hex(4)}@ex.com",
                                                "password": "walk the routes"}))["id"],
        "api_key": (await make("/api/v1/api-keys", {"name": "walk"}))["id"],
    }
    job = await call(server, "POST", "/api/v1/export", token=admin, body={"format": "json"})
    assert job.status_code == 202, job.text
    ids["export_job"] = job.json()["id"]
    visitor = await new_visitor(server, name="Walker")
    ws = await WsClient.connect(server.ws_url + "/ws/visitor", label="walk-visitor")
    try:
        await ws.hello(visitor["token"])
        ids["conversation"] = (await ws.send_and_ack("walk"))["conv"]
        async with http_client(base_url=server.url) as http:
            uploaded = await http.post(
                "/api/v1/attachments", data={"conv": ids["conversation"]},
                files={"file": ("walk.txt", b"walk the routes", "text/plain")},
                headers={"authorization": f"Bearer {visitor['token']}"})
        assert uploaded.status_code == 201, uploaded.text
        ids["attachment"] = uploaded.json()["id"]
    finally:
        await ws.close()
    ids["visitor"] = visitor["visitor_id"]

    # The second tenant and its admin, made with the CLI as an operator would.
    tenant = "walk-" + secrets.token_hex(3)
    run_cli(server, "tenant", "create", tenant)
    email, password = f"boss@{tenant}.example.com", "other tenant admin"
    run_cli(server, "agent", "create", "--tenant", tenant, "--email", email,
            "--password", password, "--role", "admin")
    other = await agent_login(server, email, password, tenant=tenant)
    assert other.status_code == 200, other.text
    op_email, op_password = f"op-{secrets.token_hex(3)}@platform.example.com", "operator secret 1"
    run_cli(server, "operator", "create", "--email", op_email, "--password", op_password)
    operator = await call(server, "POST", "/api/v1/operator/login",
                          body={"email": op_email, "password": op_password})
    assert operator.status_code == 200, operator.text
    # The operator's own id: its probes cannot disable it (409), so the walk goes on.
    ids["operator"] = operator.json()["operator"]["id"]

    # A bridge of each tenant, with one chat-app user linked to this tenant's agent.
    bridge = await make("/api/v1/bridges", {"kind": "slack", "name": "walk bridge"})
    ids["bridge"] = bridge["id"]
    agent_token = (await cached_login(server, demo.agents[1]))["token"]
    code = await call(server, "POST", "/api/v1/me/link-code", token=agent_token)
    assert code.status_code == 200, code.text
    ids["link"] = "TWALK:UWALK"
    linked = await call(server, "POST", "/api/v1/bridges/links", token=bridge["token"],
                        body={"code": code.json()["code"], "external_user": ids["link"]})
    assert linked.status_code == 200, linked.text
    ai_bridge = await make("/api/v1/bridges", {"kind": "ai", "name": "walk robot"})
    ids["article"] = (await make("/api/v1/knowledge/articles",
                                 {"title": "Walk", "body": "Routes are walked."}))["id"]
    other_bridge = json.loads(run_cli(server, "bridge", "create", "--tenant", tenant,
                                      "--kind", "telegram", "--name", "other", "--json"))

    return Callers(
        tokens={
            "anonymous": None,
            "forged": "not.a.token",
            "visitor": visitor["token"],
            "agent": agent_token,
            "other_admin": other.json()["token"],
            "admin": admin,
            "operator": operator.json()["token"],
            "bridge": bridge["token"],
            "other_bridge": other_bridge["token"],
            "ai_bridge": ai_bridge["token"],
        },
        ids=ids,
        headers={"operator": {"X-Steady-Tenant": demo.tenant}},
        keys={"key_admin": (demo.api_key, demo.api_secret),
              "key_agent": (agent_key["id"], agent_key["secret"])},
    )


async def _probe(server: ServerProcess, route: Route, callers: Callers, caller: str,
                 url: str) -> tuple[int, str]:
    raw = b"{}" if route.method in WRITE_METHODS else b""
    headers = dict(callers.headers.get(caller, {}))
    if raw:
        headers["content-type"] = "application/json"
    if caller in callers.keys:
        key, secret = callers.keys[caller]
        headers.update(signed_headers(key, secret, route.method, url, raw))
    resp = await call(server, route.method, url, token=callers.tokens.get(caller), raw=raw,
                      headers=headers)
    return resp.status_code, resp.text


# About 1,300 probes (every route times eleven callers): well within a minute on an idle
# machine, several on two cores shared with other suites.
@pytest.mark.timeout(600)
async def test_every_route_gives_each_caller_exactly_its_due(
    server: ServerProcess, routes: list[Route], callers: Callers
) -> None:
    problems: list[str] = []
    # Everyone but the tenant's own admin first: their probes must change nothing, and the
    # admin's own probes (which may delete the walk's objects) come last.
    for phase in (("anonymous", "forged", "visitor", "agent", "key_agent", "other_admin",
                   "bridge", "other_bridge", "ai_bridge"),
                  ("admin", "key_admin", "operator")):
        for route in routes:
            url, real_ids = fill(route, callers.ids)
            for caller in phase:
                if route.access not in ACCESS_LEVELS:
                    continue  # reported by test_every_api_route_declares_its_access
                status, text = await _probe(server, route, callers, caller, url)
                names_object = bool(route.params) and real_ids
                problem = expected_problem(route.access, caller, status, names_object,
                                           route.bridge)
                if caller == "ai_bridge" and "/bridges/<" in route.path and status == 403:
                    problem = None  # the walk's Slack bridge: another bridge's, not the robot's
                if caller in FOREIGN_CALLERS and not problem:
                    leaked = [kind for kind, value in callers.ids.items() if value in text]
                    if leaked:
                        problem = f"another tenant's answer names this tenant's {leaked}"
                if problem:
                    problems.append(f"{route.method} {url} [{route.access}] as {caller}: {problem}")
    assert not problems, "access violations:\n" + "\n".join(problems)


def test_route_table_is_read_from_the_app(tmp_path: Path) -> None:
    methods = {(r.method, r.path) for r in api_routes(tmp_path)}
    assert ("GET", "/api/v1/openapi.json") in methods
    assert ("POST", "/api/v1/agents/<agent_id:str>/disable") in methods
