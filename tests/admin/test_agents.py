"""Admin management of agents: create, update, disable (revocation everywhere at once),
reset password, the last-admin rule, and every denial."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import pytest

from tests.admin.conftest import call, code
from tests.support.clients import Clients, agent_login
from tests.support.server import DemoTenant, ServerProcess


def _email(tag: str) -> str:
    return f"{tag}-{secrets.token_hex(4)}@example.com"


async def _create(server: ServerProcess, token: str, **fields: Any) -> dict[str, Any]:
    body = {"email": _email("agent"), "password": "correct horse 1", **fields}
    resp = await call(server, "POST", "/api/v1/agents", token=token, body=body)
    assert resp.status_code == 201, resp.text
    created: dict[str, Any] = resp.json()
    created["password"] = body["password"]
    return created


async def test_admin_creates_an_agent_who_can_log_in(
    server: ServerProcess, demo: DemoTenant, admin_token: str
) -> None:
    dept = await call(server, "POST", "/api/v1/departments", token=admin_token,
                      body={"name": f"Sales {secrets.token_hex(3)}"})
    assert dept.status_code == 201, dept.text
    agent = await _create(server, admin_token, name="New Agent", capacity=3,
                          departments=[dept.json()["id"]])
    assert agent["role"] == "agent" and agent["capacity"] == 3
    assert agent["departments"] == [dept.json()["id"]]
    assert "password" not in (await call(server, "GET", f"/api/v1/agents/{agent['id']}",
                                         token=admin_token)).json()
    login = await agent_login(server, agent["email"], agent["password"])
    assert login.status_code == 200 and login.json()["agent"]["id"] == agent["id"]

    again = await call(server, "POST", "/api/v1/agents", token=admin_token,
                       body={"email": agent["email"], "password": "another pass 1"})
    assert again.status_code == 409 and code(again) == "already_exists"
    weak = await call(server, "POST", "/api/v1/agents", token=admin_token,
                      body={"email": _email("weak"), "password": "short"})
    assert weak.status_code == 400 and code(weak) == "bad_request"
    unknown_dept = await call(server, "POST", "/api/v1/agents", token=admin_token,
                              body={"email": _email("x"), "password": "long enough 1",
                                    "departments": ["nope"]})
    assert unknown_dept.status_code == 400
    listed = await call(server, "GET", "/api/v1/agents", token=admin_token)
    mine = next(a for a in listed.json()["agents"] if a["id"] == agent["id"])
    assert mine["capacity"] == 3 and mine["disabled"] is False


async def test_agents_and_other_tenants_cannot_manage_agents(
    server: ServerProcess, demo: DemoTenant, admin_token: str, agent_token: str,
    other_admin_token: str, visitor_token: str,
) -> None:
    agent = await _create(server, admin_token)
    target = f"/api/v1/agents/{agent['id']}"
    body = {"email": _email("nope"), "password": "long enough 1"}
    assert (await call(server, "POST", "/api/v1/agents", body=body)).status_code == 401
    for token, status in ((agent_token, 403), (visitor_token, 403)):
        assert (await call(server, "POST", "/api/v1/agents", token=token,
                           body=body)).status_code == status
        assert (await call(server, "POST", f"{target}/disable", token=token)).status_code == status
    for method, path, payload in (
        ("GET", target, None),
        ("PATCH", target, {"role": "admin"}),
        ("POST", f"{target}/disable", None),
        ("POST", f"{target}/password", {"password": "taken over 1"}),
    ):
        resp = await call(server, method, path, token=other_admin_token, body=payload)
        assert resp.status_code == 404 and code(resp) == "not_found", (method, path, resp.text)
    still = await call(server, "GET", target, token=admin_token)
    assert still.json()["role"] == "agent" and still.json()["disabled"] is False
    login = await agent_login(server, agent["email"], agent["password"])
    assert login.status_code == 200


@pytest.mark.serial
async def test_disabling_closes_websockets_and_revokes_tokens(
    server: ServerProcess, demo: DemoTenant, admin_token: str, clients: Clients
) -> None:
    agent = await _create(server, admin_token)
    login = (await agent_login(server, agent["email"], agent["password"])).json()
    ws = await clients.agent(server, login_data=login, label="to-disable")
    second = await clients.agent(server, login_data=login, label="to-disable-2")
    assert (await call(server, "GET", "/api/v1/me", token=login["token"])).status_code == 200

    started = time.monotonic()
    resp = await call(server, "POST", f"/api/v1/agents/{agent['id']}/disable", token=admin_token)
    assert resp.status_code == 200 and resp.json()["disabled"] is True
    for conn in (ws, second):
        assert await conn.wait_closed(timeout=1.0) == 4401
    assert time.monotonic() - started < 1.5

    me = await call(server, "GET", "/api/v1/me", token=login["token"])
    assert me.status_code == 401
    refused = await agent_login(server, agent["email"], agent["password"])
    assert refused.status_code == 401 and code(refused) == "bad_credentials"

    enabled = await call(server, "POST", f"/api/v1/agents/{agent['id']}/enable", token=admin_token)
    assert enabled.status_code == 200 and enabled.json()["disabled"] is False
    assert (await call(server, "GET", "/api/v1/me", token=login["token"])).status_code == 401
    assert (await agent_login(server, agent["email"], agent["password"])).status_code == 200


async def test_a_role_change_revokes_and_takes_effect(
    server: ServerProcess, demo: DemoTenant, admin_token: str, clients: Clients
) -> None:
    promoted = await _create(server, admin_token, role="admin")
    token = (await agent_login(server, promoted["email"], promoted["password"])).json()["token"]
    assert (await call(server, "GET", "/api/v1/sites", token=token)).status_code == 200
    ws = await clients.agent(server, login_data={"token": token}, label="to-demote")

    resp = await call(server, "PATCH", f"/api/v1/agents/{promoted['id']}", token=admin_token,
                      body={"role": "agent", "capacity": 7, "name": "Demoted"})
    assert resp.status_code == 200, resp.text
    assert (resp.json()["role"], resp.json()["capacity"], resp.json()["name"]) == (
        "agent", 7, "Demoted")
    assert await ws.wait_closed(timeout=1.0) == 4401
    assert (await call(server, "GET", "/api/v1/me", token=token)).status_code == 401
    fresh = (await agent_login(server, promoted["email"], promoted["password"])).json()["token"]
    assert (await call(server, "GET", "/api/v1/sites", token=fresh)).status_code == 403

    audit = await call(server, "GET", f"/api/v1/audit?target={promoted['id']}&action=agent.update",
                       token=admin_token)
    assert audit.json()["entries"][0]["changes"] == {
        "role": ["admin", "agent"], "capacity": [5, 7], "name": [promoted["name"], "Demoted"]}

    # A change that keeps the role revokes nothing.
    same = await call(server, "PATCH", f"/api/v1/agents/{promoted['id']}", token=admin_token,
                      body={"capacity": 2})
    assert same.status_code == 200
    assert (await call(server, "GET", "/api/v1/me", token=fresh)).status_code == 200
    bad = await call(server, "PATCH", f"/api/v1/agents/{promoted['id']}", token=admin_token,
                     body={"role": "operator"})
    assert bad.status_code == 400
    extra = await call(server, "PATCH", f"/api/v1/agents/{promoted['id']}", token=admin_token,
                       body={"email": "x@example.com"})
    assert extra.status_code == 400


async def test_password_reset_revokes_the_old_password_and_tokens(
    server: ServerProcess, admin_token: str
) -> None:
    agent = await _create(server, admin_token)
    token = (await agent_login(server, agent["email"], agent["password"])).json()["token"]
    resp = await call(server, "POST", f"/api/v1/agents/{agent['id']}/password",
                      token=admin_token, body={"password": "brand new secret"})
    assert resp.status_code == 200
    assert "brand new secret" not in resp.text
    assert (await call(server, "GET", "/api/v1/me", token=token)).status_code == 401
    assert (await agent_login(server, agent["email"], agent["password"])).status_code == 401
    assert (await agent_login(server, agent["email"], "brand new secret")).status_code == 200
    audit = await call(server, "GET", f"/api/v1/audit?target={agent['id']}", token=admin_token)
    entry = audit.json()["entries"][0]
    assert entry["action"] == "agent.reset_password"
    assert "brand new secret" not in audit.text


async def test_the_last_admin_cannot_disable_or_demote_themselves(server: ServerProcess) -> None:
    solo = server.run_demo("admin-solo")
    login = (await agent_login(server, solo.admin.email, solo.admin.password,
                               tenant=solo.tenant)).json()
    token, me = login["token"], login["agent"]["id"]
    for method, path, body in (
        ("POST", f"/api/v1/agents/{me}/disable", None),
        ("PATCH", f"/api/v1/agents/{me}", {"role": "agent"}),
    ):
        resp = await call(server, method, path, token=token, body=body)
        assert resp.status_code == 409 and code(resp) == "last_admin", resp.text
    assert (await call(server, "GET", "/api/v1/me", token=token)).json()["role"] == "admin"

    # With a second admin, stepping down is allowed (and revokes the old token).
    second = await _create(server, token, role="admin")
    resp = await call(server, "PATCH", f"/api/v1/agents/{me}", token=token, body={"role": "agent"})
    assert resp.status_code == 200
    assert (await call(server, "GET", "/api/v1/me", token=token)).status_code == 401
    other_token = (await agent_login(server, second["email"], second["password"],
                                     tenant=solo.tenant)).json()["token"]
    last = await call(server, "POST", f"/api/v1/agents/{second['id']}/disable", token=other_token)
    assert last.status_code == 409 and code(last) == "last_admin"


async def test_concurrent_demotions_keep_one_admin(server: ServerProcess) -> None:
    duo = server.run_demo("admin-duo")
    first = (await agent_login(server, duo.admin.email, duo.admin.password,
                               tenant=duo.tenant)).json()
    second = await _create(server, first["token"], role="admin")
    tokens = [first["token"], (await agent_login(server, second["email"], second["password"],
                                                 tenant=duo.tenant)).json()["token"]]
    ids = [first["agent"]["id"], second["id"]]
    results = await asyncio.gather(*(
        call(server, "POST", f"/api/v1/agents/{agent_id}/disable", token=token)
        for token, agent_id in zip(tokens, ids, strict=True)
    ))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 409], [r.text for r in results]
