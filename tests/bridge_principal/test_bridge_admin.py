"""Managing bridges (BRIDGES.md §1): the admin REST routes and ``steadydesk bridge ...``,
tokens shown once and stored hashed, the audit trail, and the denials."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

from playhouse.db_url import connect

from tests.admin.conftest import call, code
from tests.support.bridges import link, new_bridge, new_department, run_cli, token_of
from tests.support.server import DemoTenant, ServerProcess


def stored_bridges(server: ServerProcess) -> list[tuple[str, str]]:
    """(id, token_hash) of every bridge row, read straight from the server's database."""
    database = connect(server.database_url)
    try:
        cursor = database.execute_sql("SELECT id, token_hash FROM bridge")
        return [(str(row[0]), str(row[1])) for row in cursor.fetchall()]
    finally:
        database.close()


async def test_an_admin_creates_lists_and_revokes_bridges(
    server: ServerProcess, tenant: DemoTenant, admin_token: str
) -> None:
    dept = await new_department(server, admin_token)
    resp = await call(server, "POST", "/api/v1/bridges", token=admin_token,
                      body={"kind": "slack", "name": "  Support Slack ", "departments": [dept]})
    assert resp.status_code == 201, resp.text
    made = resp.json()
    assert made["bridge_id"] == made["id"] and made["token"].startswith("sdb_")
    assert (made["kind"], made["name"], made["departments"]) == ("slack", "Support Slack", [dept])
    assert made["revoked_at"] is None and made["created_at"]

    listed = await call(server, "GET", "/api/v1/bridges", token=admin_token)
    mine = next(b for b in listed.json()["bridges"] if b["id"] == made["id"])
    assert "token" not in mine and made["token"] not in listed.text
    rows = dict(stored_bridges(server))
    assert rows[made["id"]] == hashlib.sha256(made["token"].encode()).hexdigest()
    assert made["token"] not in json.dumps(rows)

    gone = await call(server, "DELETE", f"/api/v1/bridges/{made['id']}", token=admin_token)
    assert gone.status_code == 200 and gone.json()["revoked_at"]
    twice = await call(server, "DELETE", f"/api/v1/bridges/{made['id']}", token=admin_token)
    assert twice.status_code == 200 and twice.json()["revoked_at"] == gone.json()["revoked_at"]
    listed = await call(server, "GET", "/api/v1/bridges", token=admin_token)
    assert next(b for b in listed.json()["bridges"] if b["id"] == made["id"])["revoked_at"]

    audit = await call(server, "GET", f"/api/v1/audit?target={made['id']}", token=admin_token)
    actions = [e["action"] for e in audit.json()["entries"]]
    assert actions.count("bridge.create") == 1 and actions.count("bridge.revoke") == 2
    assert made["token"] not in audit.text


async def test_bad_bridges_are_refused(
    server: ServerProcess, tenant: DemoTenant, other: DemoTenant, admin_token: str
) -> None:
    foreign_dept = await new_department(server, await token_of(server, other.admin, other))
    for body in ({"kind": "irc", "name": "x"}, {"kind": "slack"}, {"kind": "slack", "name": " "},
                 {"kind": "slack", "name": "x", "departments": ["nope"]},
                 {"kind": "slack", "name": "x", "departments": [foreign_dept]},
                 {"kind": "slack", "name": "x", "token": "mine"}, ["slack"]):
        resp = await call(server, "POST", "/api/v1/bridges", token=admin_token, body=body)
        assert resp.status_code == 400 and code(resp) == "bad_request", (body, resp.text)


async def test_other_tenants_cannot_touch_a_bridge(
    server: ServerProcess, tenant: DemoTenant, other: DemoTenant, admin_token: str
) -> None:
    bridge = await new_bridge(server, admin_token)
    await link(server, bridge, await token_of(server, tenant.agents[0], tenant),
               external_user="TX:UX")
    other_admin = await token_of(server, other.admin, other)
    other_bridge = await new_bridge(server, other_admin)
    for method, path in (("DELETE", f"/api/v1/bridges/{bridge.id}"),
                         ("GET", f"/api/v1/bridges/{bridge.id}/links"),
                         ("DELETE", f"/api/v1/bridges/{bridge.id}/links/TX:UX")):
        resp = await call(server, method, path, token=other_admin)
        assert resp.status_code == 404, (path, resp.text)
    assert bridge.id not in (await call(server, "GET", "/api/v1/bridges", token=other_admin)).text
    theirs = await call(server, "GET", f"/api/v1/bridges/{bridge.id}/links",
                        token=other_bridge.token)
    assert theirs.status_code == 404
    sibling = await new_bridge(server, admin_token)
    assert (await call(server, "GET", f"/api/v1/bridges/{bridge.id}/links",
                       token=sibling.token)).status_code == 403
    agent = await call(server, "GET", f"/api/v1/bridges/{bridge.id}/links",
                       token=await token_of(server, tenant.agents[0], tenant))
    assert agent.status_code == 403
    links = await call(server, "GET", f"/api/v1/bridges/{bridge.id}/links", token=admin_token)
    assert [x["external_user"] for x in links.json()["links"]] == ["TX:UX"]
    assert (await call(server, "DELETE", f"/api/v1/bridges/{bridge.id}/links/TX:UY",
                       token=admin_token)).status_code == 404
    unlinked = await call(server, "DELETE", f"/api/v1/bridges/{bridge.id}/links/TX:UX",
                          token=admin_token)
    assert unlinked.status_code == 200 and unlinked.json() == {"deleted": "TX:UX"}
    audit = await call(server, "GET", f"/api/v1/audit?target={bridge.id}", token=admin_token)
    assert {"bridge.create", "bridge.link", "bridge.unlink"} <= {
        e["action"] for e in audit.json()["entries"]}


async def test_the_cli_creates_lists_and_revokes(
    server: ServerProcess, tenant: DemoTenant, admin_token: str
) -> None:
    dept = await new_department(server, admin_token)

    def cli(*args: str, ok: bool = True) -> str:
        return run_cli(server, "bridge", *args, ok=ok)

    made = json.loads(await asyncio.to_thread(
        cli, "create", "--tenant", tenant.tenant, "--kind", "telegram", "--name", "Ops TG",
        "--department", dept, "--json"))
    assert set(made) == {"bridge_id", "token"}
    me = await call(server, "GET", "/api/v1/me", token=made["token"])
    assert me.status_code == 200 and me.json()["departments"] == [dept]
    plain = await asyncio.to_thread(cli, "create", "--tenant", tenant.tenant, "--kind", "slack",
                                    "--name", "Plain")
    assert "token" in plain and "sdb_" in plain

    listed: list[dict[str, Any]] = json.loads(
        await asyncio.to_thread(cli, "list", "--tenant", tenant.tenant, "--json"))
    ours = next(b for b in listed if b["id"] == made["bridge_id"])
    assert (ours["kind"], ours["name"], ours["departments"], ours["revoked_at"]) == (
        "telegram", "Ops TG", [dept], None)
    table = await asyncio.to_thread(cli, "list", "--tenant", tenant.tenant)
    assert made["bridge_id"] in table and made["token"] not in table

    revoked = await asyncio.to_thread(cli, "revoke", made["bridge_id"], "--tenant", tenant.tenant)
    assert made["bridge_id"] in revoked
    assert (await call(server, "GET", "/api/v1/me", token=made["token"])).status_code == 401
    audit = await call(server, "GET", f"/api/v1/audit?target={made['bridge_id']}",
                       token=admin_token)
    assert {(e["actor"], e["action"]) for e in audit.json()["entries"]} == {
        ("system:cli", "bridge.create"), ("system:cli", "bridge.revoke")}

    for args in (("create", "--tenant", "no-such-tenant", "--kind", "slack", "--name", "x"),
                 ("create", "--tenant", tenant.tenant, "--kind", "slack", "--name", "x",
                  "--department", "nope"),
                 ("revoke", "nope"), ("revoke", made["bridge_id"], "--tenant", "no-such-tenant"),
                 ("list", "--tenant", "no-such-tenant")):
        failed = await asyncio.to_thread(cli, *args, ok=False)
        assert failed.startswith("steadydesk: ") and len(failed.strip().splitlines()) == 1, (
            args, failed)
