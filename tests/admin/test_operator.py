"""The platform operator (SaaS mode): CLI-created, logs in, manages any tenant it names,
and exists nowhere in SelfHosted mode."""

from __future__ import annotations

import secrets
import subprocess
import sys

import pytest

from tests.admin.conftest import call, code
from tests.support.clients import agent_login, cached_login
from tests.support.server import REPO_ROOT, ServerFactory, ServerProcess

OP_PASSWORD = "operator secret 1"


def cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "server", *args], cwd=REPO_ROOT,
                          env=server.env, capture_output=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def saas(module_server_factory: ServerFactory) -> ServerProcess:
    return module_server_factory({"STEADY_MODE": "SaaS"})


async def _operator_token(server: ServerProcess) -> str:
    email = f"op-{secrets.token_hex(3)}@platform.example.com"
    made = cli(server, "operator", "create", "--email", email, "--password", OP_PASSWORD)
    assert made.returncode == 0, made.stderr
    resp = await call(server, "POST", "/api/v1/operator/login",
                      body={"email": email, "password": OP_PASSWORD})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["token"])


async def test_operator_manages_tenants_it_names(saas: ServerProcess) -> None:
    assert saas.demo is not None
    token = await _operator_token(saas)
    listed = await call(saas, "GET", "/api/v1/tenants", token=token)
    assert saas.demo.tenant in {t["id"] for t in listed.json()["tenants"]}

    tenant = "op-made-" + secrets.token_hex(3)
    made = await call(saas, "POST", "/api/v1/tenants", token=token, body={"id": tenant})
    assert made.status_code == 201, made.text
    dup = await call(saas, "POST", "/api/v1/tenants", token=token, body={"id": tenant})
    assert dup.status_code == 409
    bad = await call(saas, "POST", "/api/v1/tenants", token=token, body={"id": "Not A Slug"})
    assert bad.status_code == 400

    admin = await call(saas, "POST", f"/api/v1/agents?tenant={tenant}", token=token,
                       body={"email": "first@new.example.com", "password": "first admin 1",
                             "role": "admin"})
    assert admin.status_code == 201, admin.text
    login = await agent_login(saas, "first@new.example.com", "first admin 1", tenant=tenant)
    assert login.status_code == 200 and login.json()["agent"]["role"] == "admin"

    here = {"X-Steady-Tenant": saas.demo.tenant}
    sites = await call(saas, "GET", "/api/v1/sites", token=token, headers=here)
    assert saas.demo.site_key in {s["site_key"] for s in sites.json()["sites"]}
    me = await call(saas, "GET", "/api/v1/me", token=token, headers=here)
    assert me.json()["type"] == "operator" and me.json()["tenant"] == saas.demo.tenant
    dept = await call(saas, "POST", "/api/v1/departments", token=token, headers=here,
                      body={"name": "By operator " + secrets.token_hex(2)})
    assert dept.status_code == 201
    admin_token = (await cached_login(saas, saas.demo.admin))["token"]
    audit = await call(saas, "GET", f"/api/v1/audit?target={dept.json()['id']}",
                       token=admin_token)
    assert audit.json()["entries"][0]["actor"] == f"operator:{me.json()['id']}"

    nameless = await call(saas, "GET", "/api/v1/sites", token=token)
    assert nameless.status_code == 400
    unknown = await call(saas, "GET", "/api/v1/sites?tenant=no-such-tenant", token=token)
    assert unknown.status_code == 404


async def test_only_operators_reach_operator_routes(saas: ServerProcess) -> None:
    assert saas.demo is not None
    admin = (await cached_login(saas, saas.demo.admin))["token"]
    agent = (await cached_login(saas, saas.demo.agents[0]))["token"]
    assert (await call(saas, "GET", "/api/v1/tenants")).status_code == 401
    for token in (admin, agent):
        resp = await call(saas, "GET", "/api/v1/tenants", token=token)
        assert resp.status_code == 403 and code(resp) == "forbidden"
        resp = await call(saas, "POST", "/api/v1/tenants", token=token, body={"id": "sneaky"})
        assert resp.status_code == 403
    wrong = await call(saas, "POST", "/api/v1/operator/login",
                       body={"email": saas.demo.admin.email, "password": saas.demo.admin.password})
    assert wrong.status_code == 401 and code(wrong) == "bad_credentials"
    log = await call(saas, "GET", f"/api/v1/login-log?username={saas.demo.admin.email}",
                     token=admin)
    assert all(e["source"] != "operator" for e in log.json()["entries"])


async def test_no_operators_in_self_hosted_mode(server: ServerProcess) -> None:
    refused = cli(server, "operator", "create", "--email", "op@example.com",
                  "--password", OP_PASSWORD)
    assert refused.returncode != 0 and b"SaaS" in refused.stderr
    login = await call(server, "POST", "/api/v1/operator/login",
                       body={"email": "op@example.com", "password": OP_PASSWORD})
    assert login.status_code == 404


async def test_operator_login_is_throttled_like_an_agents(saas: ServerProcess) -> None:
    # Agents and operators share one login function (server/admin/login.py): the
    # operator's failures are counted per account, and past the limit even the right
    # password is refused, while another operator still logs in.
    email = f"op-{secrets.token_hex(3)}@platform.example.com"
    made = cli(saas, "operator", "create", "--email", email, "--password", OP_PASSWORD)
    assert made.returncode == 0, made.stderr
    for attempt in range(1, 11):
        resp = await call(saas, "POST", "/api/v1/operator/login",
                          body={"email": email, "password": f"wrong-{attempt}"})
        assert resp.status_code == 401 and code(resp) == "bad_credentials", resp.text
    for password in ("wrong-11", OP_PASSWORD):
        resp = await call(saas, "POST", "/api/v1/operator/login",
                          body={"email": email, "password": password})
        assert resp.status_code == 429 and code(resp) == "too_many_attempts", resp.text
    assert await _operator_token(saas)
