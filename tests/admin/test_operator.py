"""The platform operator (SaaS mode): CLI-created, logs in, manages any tenant it names,
and exists nowhere in SelfHosted mode."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys

import httpx
import pytest

from tests.admin.conftest import call, code
from tests.support.clients import agent_login, cached_login
from tests.support.server import REPO_ROOT, ServerFactory, ServerProcess

OP_PASSWORD = "operator secret 1"


def cli(server: ServerProcess, *args: str, stdin: str = "") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "server", *args], cwd=REPO_ROOT,
                          env=server.env, capture_output=True, timeout=60, check=False,
                          input=stdin.encode())


@pytest.fixture(scope="module")
def saas(module_server_factory: ServerFactory) -> ServerProcess:
    return module_server_factory({"STEADY_MODE": "SaaS"})


async def _operator_token(server: ServerProcess) -> str:
    return (await _operator(server))[0]


async def _operator(server: ServerProcess) -> tuple[str, str]:
    """A new operator's token and id."""
    email = f"op-{secrets.token_hex(3)}@platform.example.com"
    made = cli(server, "operator", "create", "--email", email, "--password", OP_PASSWORD)
    assert made.returncode == 0, made.stderr
    resp = await call(server, "POST", "/api/v1/operator/login",
                      body={"email": email, "password": OP_PASSWORD})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["token"]), str(resp.json()["operator"]["id"])


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


async def _login(server: ServerProcess, email: str, password: str,
                 user_agent: str = "op-test/1") -> httpx.Response:
    return await call(server, "POST", "/api/v1/operator/login",
                      body={"email": email, "password": password},
                      headers={"user-agent": user_agent})


async def test_operators_are_listed_disabled_enabled_and_reset(saas: ServerProcess) -> None:
    acting, acting_id = await _operator(saas)
    me = (await call(saas, "GET", "/api/v1/operators", token=acting)).json()["operators"]
    email = f"target-{secrets.token_hex(3)}@platform.example.com"
    made = cli(saas, "operator", "create", "--email", email, "--password", OP_PASSWORD,
               "--name", "Target Op")
    assert made.returncode == 0, made.stderr
    target = json.loads(made.stdout)["id"]
    old = (await _login(saas, email, OP_PASSWORD)).json()["token"]

    listed = (await call(saas, "GET", "/api/v1/operators", token=acting)).json()["operators"]
    assert len(listed) == len(me) + 1
    row = next(o for o in listed if o["id"] == target)
    assert (row["email"], row["name"], row["disabled"]) == (email, "Target Op", False)
    assert "password_hash" not in row

    disabled = await call(saas, "POST", f"/api/v1/operators/{target}/disable", token=acting,
                          headers={"user-agent": "ops-console/3"})
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    gone = await call(saas, "GET", "/api/v1/tenants", token=old)
    assert gone.status_code == 401 and code(gone) == "bad_token"  # its session stopped
    refused = await _login(saas, email, OP_PASSWORD, user_agent="locked-out/1")
    assert refused.status_code == 401 and code(refused) == "bad_credentials"

    enabled = await call(saas, "POST", f"/api/v1/operators/{target}/enable", token=acting)
    assert enabled.status_code == 200 and enabled.json()["disabled"] is False
    assert (await call(saas, "GET", "/api/v1/tenants", token=old)).status_code == 401
    second = (await _login(saas, email, OP_PASSWORD)).json()["token"]
    assert (await call(saas, "GET", "/api/v1/tenants", token=second)).status_code == 200

    path = f"/api/v1/operators/{target}/password"
    short = await call(saas, "POST", path, token=acting, body={"password": "short"})
    assert short.status_code == 400
    new_password = "a brand new secret 2"
    reset = await call(saas, "POST", path, token=acting, body={"password": new_password})
    assert reset.status_code == 200, reset.text
    assert (await call(saas, "GET", "/api/v1/tenants", token=second)).status_code == 401
    assert (await _login(saas, email, OP_PASSWORD)).status_code == 401
    assert (await _login(saas, email, new_password)).status_code == 200

    unknown = await call(saas, "POST", "/api/v1/operators/nobody/disable", token=acting)
    assert unknown.status_code == 404

    log = await call(saas, "GET", f"/api/v1/platform/login-log?username={email}", token=acting)
    assert log.status_code == 200, log.text
    attempts = log.json()["entries"]
    assert {(e["success"], e["source"]) for e in attempts} == {(True, "operator"),
                                                               (False, "operator")}
    assert any(e["user_agent"] == "locked-out/1" and not e["success"] for e in attempts)
    audit = await call(saas, "GET", f"/api/v1/platform/audit?target={target}", token=acting)
    actions = [(e["action"], e["user_agent"]) for e in audit.json()["entries"]]
    assert ("operator.disable", "ops-console/3") in actions
    disabled_by = next(e for e in audit.json()["entries"] if e["action"] == "operator.disable")
    assert disabled_by["actor"] == f"operator:{acting_id}"
    assert disabled_by["actor_name"].startswith("op-")  # its name defaults to its email
    assert {"operator.enable", "operator.reset_password"} <= {a for a, _ in actions}
    assert "a brand new" not in audit.text


async def test_an_operator_cannot_disable_itself(saas: ServerProcess) -> None:
    token, own_id = await _operator(saas)
    attempt = await call(saas, "POST", f"/api/v1/operators/{own_id}/disable", token=token)
    assert attempt.status_code == 409, attempt.text
    assert (await call(saas, "GET", "/api/v1/tenants", token=token)).status_code == 200


async def test_tenant_admins_never_reach_operators_or_platform_logs(saas: ServerProcess) -> None:
    assert saas.demo is not None
    admin = (await cached_login(saas, saas.demo.admin))["token"]
    operator = await _operator_token(saas)
    target = (await call(saas, "GET", "/api/v1/operators", token=operator)).json()[
        "operators"][0]["id"]
    for method, path in (("GET", "/api/v1/operators"),
                         ("POST", f"/api/v1/operators/{target}/disable"),
                         ("POST", f"/api/v1/operators/{target}/enable"),
                         ("POST", f"/api/v1/operators/{target}/password"),
                         ("GET", "/api/v1/platform/login-log"),
                         ("GET", "/api/v1/platform/audit")):
        body = {"password": "an admin's try 1"} if path.endswith("password") else None
        resp = await call(saas, method, path, token=admin, body=body)
        assert resp.status_code == 403, (method, path, resp.status_code)
    # Naming the platform as a tenant leads nowhere: it is no tenant.
    for path in ("/api/v1/login-log", "/api/v1/audit"):
        resp = await call(saas, "GET", path, token=operator,
                          headers={"X-Steady-Tenant": "_platform"})
        assert resp.status_code == 404, (path, resp.status_code)
    # The tenant's own login log never shows the operators' attempts.
    theirs = await call(saas, "GET", "/api/v1/login-log?limit=500", token=admin)
    assert all(e["source"] != "operator" for e in theirs.json()["entries"])


async def test_the_cli_lists_disables_enables_and_resets_operators(saas: ServerProcess) -> None:
    email = f"cli-{secrets.token_hex(3)}@platform.example.com"
    made = cli(saas, "operator", "create", "--email", email, "--password", OP_PASSWORD)
    assert made.returncode == 0
    listed = json.loads(cli(saas, "operator", "list", "--json").stdout)
    assert any(o["email"] == email and not o["disabled"] for o in listed)
    table = cli(saas, "operator", "list").stdout.decode()
    assert email in table and "active" in table

    token = (await _login(saas, email, OP_PASSWORD)).json()["token"]
    off = cli(saas, "operator", "disable", email)
    assert off.returncode == 0 and json.loads(off.stdout)["disabled"] is True
    assert (await call(saas, "GET", "/api/v1/tenants", token=token)).status_code == 401
    assert (await _login(saas, email, OP_PASSWORD)).status_code == 401
    assert cli(saas, "operator", "enable", email).returncode == 0
    assert (await _login(saas, email, OP_PASSWORD)).status_code == 200

    new_password = "reset from the cli 3"
    reset = cli(saas, "operator", "reset-password", email, "--password-file", "-",
                stdin=new_password + "\n")
    assert reset.returncode == 0, reset.stderr
    assert (await _login(saas, email, OP_PASSWORD)).status_code == 401
    assert (await _login(saas, email, new_password)).status_code == 200
    missing = cli(saas, "operator", "disable", "nobody@platform.example.com")
    assert missing.returncode != 0 and b"no such operator" in missing.stderr

    operator = (await _login(saas, email, new_password)).json()["token"]
    audit = await call(saas, "GET", "/api/v1/platform/audit?actor=system:cli", token=operator)
    mine = [e for e in audit.json()["entries"] if e["changes"].get("email") == email]
    assert {e["action"] for e in mine} == {"operator.disable", "operator.enable",
                                           "operator.reset_password"}
    assert all(e["actor_name"] == "command line" for e in mine)
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
