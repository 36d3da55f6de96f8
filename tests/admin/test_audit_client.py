"""Audit rows carry the client's user agent (as the login log does) and the actor's name
(``actor_name``) beside its id: agents and admins, API keys, the command line, operators
(tests/admin/test_operator.py) and agents through a bridge (tests/protocol/test_bridges.py).
Rows written before migration 11 get their names from the actors' tables."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import peewee as pw
import pytest

from server.admin.logs import list_audit
from server.kernel.actors import Actor
from server.kernel.enums import SenderType
from server.storage.guard import TenantScope, cross_tenant
from server.storage.migrations import MIGRATIONS, migrate
from server.storage.models import ALL_MODELS, Agent, Bridge, SchemaMigration, Tenant
from tests.admin.conftest import call, signed_headers
from tests.support.bridges import run_cli
from tests.support.server import DemoTenant, ServerProcess
from tests.support.services import blank_database

UA = "Integrator-Backend/2.1 (audit test)"


async def _entry(server: ServerProcess, token: str, target: str) -> dict[str, Any]:
    resp = await call(server, "GET", f"/api/v1/audit?target={target}", token=token)
    assert resp.status_code == 200, resp.text
    entries: list[dict[str, Any]] = resp.json()["entries"]
    assert entries, f"no audit entry for {target}"
    return entries[0]


async def test_admin_and_api_key_entries_carry_user_agent_and_name(
    server: ServerProcess, demo: DemoTenant, admin_token: str
) -> None:
    me = (await call(server, "GET", "/api/v1/me", token=admin_token)).json()
    made = await call(server, "POST", "/api/v1/departments", token=admin_token,
                      headers={"user-agent": UA}, body={"name": "UA " + secrets.token_hex(3)})
    assert made.status_code == 201, made.text
    entry = await _entry(server, admin_token, made.json()["id"])
    assert entry["actor"] == f"agent:{me['id']}"
    assert entry["actor_name"] == me["name"] and me["name"]
    assert entry["user_agent"] == UA

    body = json.dumps({"name": "Signed " + secrets.token_hex(3)}).encode()
    headers = signed_headers(demo.api_key, demo.api_secret, "POST", "/api/v1/departments", body)
    headers.update({"content-type": "application/json", "user-agent": "signed-client/1"})
    signed = await call(server, "POST", "/api/v1/departments", raw=body, headers=headers)
    assert signed.status_code == 201, signed.text
    keys = (await call(server, "GET", "/api/v1/api-keys", token=admin_token)).json()["api_keys"]
    key_name = next(k["name"] for k in keys if k["id"] == demo.api_key)
    entry = await _entry(server, admin_token, signed.json()["id"])
    assert entry["actor"] == f"apikey:{demo.api_key}"
    assert entry["actor_name"] == (key_name or "API key")
    assert entry["user_agent"] == "signed-client/1"


async def test_the_command_line_is_named_and_has_no_user_agent(
    server: ServerProcess, demo: DemoTenant, admin_token: str
) -> None:
    made = json.loads(await asyncio.to_thread(
        run_cli, server, "bridge", "create", "--tenant", demo.tenant, "--kind", "slack",
        "--name", "CLI-made", "--json"))
    entry = await _entry(server, admin_token, made["bridge_id"])
    assert (entry["actor"], entry["actor_name"], entry["user_agent"]) == (
        "system:cli", "command line", "")


# ------------------------------------------------------------------ migration 11


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def version_8_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[pw.Database]:
    """A database as release 8 left it: audit rows without a name or a user agent."""
    from playhouse.migrate import MySQLMigrator, SqliteMigrator
    from playhouse.migrate import migrate as run_steps

    from server.storage.database import is_mysql

    with blank_database(request.param, tmp_path / "v8.db") as database:
        with database.connection_context(), cross_tenant():
            database.create_tables(ALL_MODELS)
            for migration in MIGRATIONS:
                if migration.version <= 8:
                    SchemaMigration.create(version=migration.version, name=migration.name)
            migrator = MySQLMigrator(database) if is_mysql(database) else SqliteMigrator(database)
            run_steps(migrator.drop_column("audit_log", "actor_name"),
                      migrator.drop_column("audit_log", "user_agent"))
        yield database


def test_migration_11_adds_the_columns_and_old_rows_are_named(
    version_8_database: pw.Database,
) -> None:
    database = version_8_database
    table = "audit_log"
    with database.connection_context(), cross_tenant():
        assert {"actor_name", "user_agent"}.isdisjoint(
            c.name for c in database.get_columns(table))
        Tenant.create(id="t-old", name="Old")
        scope = TenantScope("t-old")
        scope.create(Agent, id="A" * 26, email="ann@x.test", name="Ann", password_hash="x")
        scope.create(Bridge, id="B" * 26, kind="slack", name="Team Slack", token_hash="h" * 64)
        labels = [f"agent:{'A' * 26}", f"agent:{'A' * 26} via bridge:{'B' * 26}", "system:cli",
                  "agent:gone", "cli"]
        for label in labels:
            database.execute_sql(
                f"INSERT INTO {table} (tenant_id, actor, action, target, summary, ip, created_at)"
                " VALUES (%s, %s, 'old.action', 't', '{}', '', '2026-01-01 00:00:00')"
                .replace("%s", "%s" if database.param == "%s" else "?"),
                ("t-old", label),
            )
    applied = [m.version for m in migrate(database)]
    assert 11 in applied
    with database.connection_context():
        assert {"actor_name", "user_agent"} <= {c.name for c in database.get_columns(table)}
        admin = Actor(SenderType.AGENT, "A" * 26, "t-old", "Ann", role="admin")
        entries = list_audit(admin, {"limit": "10"})["entries"]
    named = {e["actor"]: (e["actor_name"], e["user_agent"]) for e in entries}
    assert named == {
        f"agent:{'A' * 26}": ("Ann", ""),
        f"agent:{'A' * 26} via bridge:{'B' * 26}": ("Ann via Team Slack", ""),
        "system:cli": ("command line", ""),
        "agent:gone": ("agent:gone", ""),
        "cli": ("command line", ""),
    }
    assert migrate(database) == []
