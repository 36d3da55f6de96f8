"""Helpers for tests of the bridge principal (docs/bridges.md, BRIDGES.md §1): bridges made
over the admin API, linked agents, bridge sockets, and the CLI with a server's environment."""

from __future__ import annotations

import secrets
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from tests.admin.conftest import call
from tests.support.clients import Clients, WsClient, cached_login
from tests.support.server import REPO_ROOT, Account, DemoTenant, ServerProcess


@dataclass
class Bridge:
    id: str
    token: str
    kind: str


async def token_of(server: ServerProcess, account: Account, tenant: DemoTenant) -> str:
    return str((await cached_login(server, account, demo=tenant))["token"])


# Fixtures, imported by the modules that use them: each module gets a tenant of its own,
# so a bridge that follows its whole tenant sees only what that module does.


@pytest.fixture(scope="module")
def tenant(server: ServerProcess) -> DemoTenant:
    return server.run_demo("bridges-" + secrets.token_hex(3))


@pytest.fixture(scope="module")
def other(server: ServerProcess) -> DemoTenant:
    """A second tenant on the same database."""
    return server.run_demo("bridges-other-" + secrets.token_hex(3))


@pytest_asyncio.fixture
async def admin_token(server: ServerProcess, tenant: DemoTenant) -> str:
    return await token_of(server, tenant.admin, tenant)


async def new_bridge(server: ServerProcess, admin_token: str, *, kind: str = "slack",
                     departments: list[str] | None = None, name: str = "bridge") -> Bridge:
    body: dict[str, Any] = {"kind": kind, "name": name}
    if departments is not None:
        body["departments"] = departments
    resp = await call(server, "POST", "/api/v1/bridges", token=admin_token, body=body)
    assert resp.status_code == 201, resp.text
    made = resp.json()
    return Bridge(made["bridge_id"], made["token"], kind)


async def link_code(server: ServerProcess, agent_token: str) -> str:
    resp = await call(server, "POST", "/api/v1/me/link-code", token=agent_token)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["code"])


async def link(server: ServerProcess, bridge: Bridge, agent_token: str,
               external_user: str | None = None) -> str:
    """Link a made-up chat-app user to the agent of ``agent_token``; the agent's id."""
    if external_user is None:
        external_user = (f"T{secrets.token_hex(3).upper()}:U{secrets.token_hex(3).upper()}"
                         if bridge.kind == "slack" else str(secrets.randbelow(10**9) + 1))
    resp = await call(server, "POST", "/api/v1/bridges/links", token=bridge.token,
                      body={"code": await link_code(server, agent_token),
                            "external_user": external_user})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["agent_id"])


async def new_department(server: ServerProcess, admin_token: str) -> str:
    resp = await call(server, "POST", "/api/v1/departments", token=admin_token,
                      body={"name": "dept " + secrets.token_hex(4)})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


async def new_agent(server: ServerProcess, admin_token: str, tenant: DemoTenant,
                    **fields: Any) -> tuple[str, str]:
    """A new agent of the tenant: (its id, its token)."""
    email = f"agent-{secrets.token_hex(4)}@example.com"
    resp = await call(server, "POST", "/api/v1/agents", token=admin_token,
                      body={"email": email, "password": "bridged agent 1", **fields})
    assert resp.status_code == 201, resp.text
    token = await token_of(server, Account(email, "bridged agent 1"), tenant)
    return str(resp.json()["id"]), token


async def connect_bridge(clients: Clients, server: ServerProcess, bridge: Bridge, *,
                         resume: dict[str, int] | None = None, label: str = "bridge") -> WsClient:
    ws = await clients.connect(server, "/ws/agent", label=label)
    await ws.hello(bridge.token, resume=resume)
    assert ws.log[0]["type"] == "welcome", f"{label}: the welcome was not first: {ws.log[:3]}"
    return ws


def messages_of(ws: WsClient, conv: str) -> list[dict[str, Any]]:
    return [f for f in ws.log if f["type"] == "message" and f.get("conv") == conv]


def seqs_of(ws: WsClient, conv: str) -> list[int]:
    return [int(f["seq"]) for f in messages_of(ws, conv)]


def run_cli(server: ServerProcess, *args: str, ok: bool = True) -> str:
    """``python -m server ARGS`` with the server's environment; its stdout (or stderr when
    ``ok`` is False, which expects it to fail)."""
    done = subprocess.run([sys.executable, "-m", "server", *args], cwd=REPO_ROOT,
                          env=server.env, capture_output=True, timeout=60, check=False)
    if ok:
        assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
        return done.stdout.decode()
    assert done.returncode != 0, done.stdout.decode(errors="replace")
    return done.stderr.decode()
