"""A tenant's export (JSON, CSV, SQL) and its import into another install (issue #15).

The source install seals message bodies and visitor details. An export keeps them sealed
unless ``--decrypt``; leaves out password hashes, site and API secrets and the visitor
token key unless ``--with-credentials``. Imported into a fresh install (with keys of its
own), the tenant keeps its ids and history, its agents their passwords, and its visitors
their sessions: the old visitor token restores the same visitor and conversation.
"""

from __future__ import annotations

import base64
import json
import secrets
import sqlite3
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
import pytest_asyncio

from tests.admin.conftest import call
from tests.attachments.test_attachments import fetch, upload
from tests.backups.support import cli, cli_ok, query
from tests.support.clients import Clients, agent_login, cached_login, open_conversation
from tests.support.server import ServerFactory, ServerProcess

# The target installs' own demo data lives in another tenant than the one that moves in.
LANDING = {"STEADY_TENANT": "landing"}
INVOICE = b"Invoice 4471 for Ada Lovelace, card ending 0005\n"


def keyring(kid: str) -> str:
    return json.dumps({kid: base64.b64encode(secrets.token_bytes(32)).decode()})


@dataclass
class Source:
    server: ServerProcess
    token: str  # the visitor's token, issued by the source
    visitor_id: str
    conv: str
    bodies: list[str]


@pytest.fixture(scope="module")
def source_server(module_server_factory: ServerFactory) -> ServerProcess:
    return module_server_factory({"STEADY_ENCRYPTION_KEYS": keyring("k1")})


@pytest_asyncio.fixture(scope="module")
async def source(source_server: ServerProcess) -> Source:
    srv = source_server
    assert srv.demo is not None
    clients = Clients()
    try:
        agent = await clients.agent(srv, srv.demo.agents[0])
        visitor = await clients.visitor(srv, name="Ada Lovelace", email="ada@example.com")
        conv = await open_conversation(visitor, agent, "Where is my order 42?")
        await agent.send_and_ack("Let me look that up.", conv)
        await agent.send_and_ack("VIP customer, be nice", conv, kind="note")
        await visitor.send_and_ack("Thanks! \\o/ 'quotes' and \"double\"", conv)
        up = await upload(srv, visitor.session["token"], INVOICE, "invoice.txt", conv)
        assert up.status_code == 201, up.text
        await visitor.send_and_ack("Here is the invoice", conv, attachments=[up.json()["id"]])
    finally:
        await clients.close_all()
    admin = (await cached_login(srv, srv.demo.admin))["token"]
    for method, path, body in (
        ("POST", "/api/v1/departments", {"name": "Billing"}),
        ("POST", "/api/v1/canned-replies", {"shortcut": "hi", "body": "Hello there!"}),
        ("POST", f"/api/v1/conversations/{conv}/labels", {"label": "vip"}),
    ):
        resp = await call(srv, method, path, token=admin, body=body)
        assert resp.status_code in (200, 201), resp.text
    cli_ok(srv.env, "bridge", "create", "--tenant", "default", "--kind", "slack", "--name",
           "Support Slack", "--json")
    bodies = ["Where is my order 42?", "Let me look that up.", "VIP customer, be nice",
              "Thanks! \\o/ 'quotes' and \"double\"", "Here is the invoice"]
    session = visitor.session
    return Source(srv, session["token"], session["visitor_id"], conv, bodies)


def chunk_bytes(row: dict[str, Any]) -> bytes:
    """An exported ``attachment_chunk`` row's bytes (archived as base64)."""
    return base64.b64decode(row["data"]["base64"])


def export(src: Source, tmp_path: Path, name: str, *flags: str) -> Path:
    out = tmp_path / name
    cli_ok(src.server.env, "export", "--tenant", "default", "--out", str(out), *flags)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    return out


def json_export(path: Path) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    header, tables = lines[0], {}
    for item in lines[1:-1]:
        columns = header["tables"][item["table"]]
        tables.setdefault(item["table"], []).append(dict(zip(columns, item["row"], strict=True)))
    assert lines[-1]["end"]["rows"] == {t: len(tables.get(t, [])) for t in header["tables"]}
    return header, tables


async def test_sealed_columns_stay_sealed_unless_decrypted(source: Source, tmp_path: Path) -> None:
    header, tables = json_export(export(source, tmp_path, "sealed.jsonl"))
    assert header["decrypted"] is False and header["key_ids"] == ["k1"]
    messages = {m["id"]: m for m in tables["message"]}
    assert len(messages) == 5 and all(m["body"].startswith("enc:v1:k1:") for m in
                                      messages.values())
    # The attachment's bytes too, chunk by chunk; opened with --decrypt below.
    assert [chunk_bytes(c)[:11] for c in tables["attachment_chunk"]] == [b"\x00enc:v1:k1:"]
    assert tables["visitor"][0]["name"].startswith("enc:v1:k1:")
    assert "password_hash" not in header["tables"]["agent"]
    assert "secret" not in header["tables"]["site"] and "secret" not in header["tables"]["api_key"]
    assert "token_hash" not in header["tables"]["bridge"] and tables["bridge"]
    assert "link_code" not in header["tables"]  # one-time codes do not travel
    assert "tenant_token_key" not in header["tables"]

    header, tables = json_export(export(source, tmp_path, "open.jsonl", "--decrypt"))
    assert header["decrypted"] is True and header["key_ids"] == []
    assert sorted(m["body"] for m in tables["message"]) == sorted(source.bodies)
    assert [m["kind"] for m in tables["message"] if m["body"] == "VIP customer, be nice"] == [
        "note"]
    assert tables["visitor"][0]["name"] == "Ada Lovelace"
    assert [chunk_bytes(c) for c in tables["attachment_chunk"]] == [INVOICE]
    for table in ("conversation", "department", "canned_reply", "conversation_label",
                  "audit_log", "agent", "site", "setting", "tenant"):
        assert tables.get(table), f"the export has no {table}"
    audit = query(source.server.database_url,
                  "SELECT actor FROM audit_log WHERE action = ?", ["tenant.export"])
    assert ("cli",) in audit


async def test_credentials_only_when_asked(source: Source, tmp_path: Path) -> None:
    _, tables = json_export(
        export(source, tmp_path, "creds.jsonl", "--with-credentials", "--decrypt"))
    assert all(a["password_hash"].startswith("$argon2id$") for a in tables["agent"])
    assert len(tables["bridge"][0]["token_hash"]) == 64
    assert tables["site"][0]["secret"]
    kid = jwt.get_unverified_header(source.token)["kid"]
    assert [k["id"] for k in tables["tenant_token_key"]] == [kid]


async def test_csv_and_sql_hold_the_same_rows(source: Source, tmp_path: Path) -> None:
    header, tables = json_export(export(source, tmp_path, "rows.jsonl"))
    counts = {t: len(tables.get(t, [])) + (1 if t == "audit_log" else 0)
              for t in header["tables"]}  # each export adds its own audit row first

    zipped = export(source, tmp_path, "rows.zip", "--format", "csv", "--decrypt")
    with zipfile.ZipFile(zipped) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        assert {t: n for t, n in manifest["rows"].items() if t != "audit_log"} == {
            t: n for t, n in counts.items() if t != "audit_log"}
        first = zf.read("message.csv").decode().splitlines()[0]
        assert first.split(",") == header["tables"]["message"]
    # A CSV export imports too: empty cells of nullable columns come back NULL.
    scratch = f"sqlite:///{tmp_path / 'from-csv.db'}"
    keyless = {k: v for k, v in source.server.env.items() if k != "STEADY_ENCRYPTION_KEYS"}
    imported = cli_ok(keyless, "import", str(zipped), "--into", scratch, "--json").json()
    assert imported["rows"]["message"] == 5
    assert _bodies(scratch) == sorted(source.bodies)
    assert query(scratch, "SELECT COUNT(*) FROM conversation WHERE closed_at IS NULL") == [(1,)]

    sql = export(source, tmp_path, "rows.sql", "--format", "sql", "--decrypt").read_text()
    assert sql.count("INSERT INTO") >= len([c for c in counts.values() if c])
    # Without --with-credentials the rows stay whole, with stand-ins that grant nothing.
    assert "'!imported-without-credentials'" in sql and "$argon2id$" not in sql
    assert source.server.demo is not None and source.server.demo.site_secret not in sql
    target = tmp_path / "loaded"
    env = {**source.server.env, "STEADY_DATA_DIR": str(target)}
    env.pop("STEADY_ENCRYPTION_KEYS")
    if source.server.database_url.startswith("sqlite"):
        env["STEADY_DATABASE_URL"] = f"sqlite:///{target / 'loaded.db'}"
        cli_ok(env, "migrate")
        with sqlite3.connect(target / "loaded.db") as conn:
            conn.executescript(sql)
    else:
        from tests.support.services import create_mysql_database, drop_mysql_database

        made = create_mysql_database()
        try:
            env["STEADY_DATABASE_URL"] = made.url
            cli_ok(env, "migrate")
            _mysql_script(made.url, sql)
            assert _bodies(made.url) == sorted(source.bodies)
        finally:
            drop_mysql_database(made.name)
        return
    assert _bodies(env["STEADY_DATABASE_URL"]) == sorted(source.bodies)


def _bodies(url: str) -> list[str]:
    return sorted(row[0] for row in query(url, "SELECT body FROM message"))


def _mysql_script(url: str, sql: str) -> None:
    """Run a whole SQL file, as the ``mysql`` client would."""
    import pymysql
    from pymysql.constants import CLIENT

    parts = urlsplit(url)
    conn = pymysql.connect(host=parts.hostname, port=parts.port or 3306,
                           user=parts.username or "root", password=parts.password or "",
                           database=parts.path.lstrip("/"), charset="utf8mb4",
                           client_flag=CLIENT.MULTI_STATEMENTS)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql)
            while cursor.nextset():
                pass
        conn.commit()
    finally:
        conn.close()


async def test_sealed_values_need_the_keys_where_they_are_imported(
    source: Source, tmp_path: Path, server_factory: ServerFactory
) -> None:
    target = server_factory(start=False)
    result = cli(target.env, "import", str(export(source, tmp_path, "sealed.jsonl")))
    assert result.code == 1 and "key id(s) k1" in result.last_error_line, result.err


async def test_the_tenant_moves_with_its_history_logins_and_visitor_sessions(
    source: Source, tmp_path: Path, server_factory: ServerFactory, clients: Clients
) -> None:
    moved = export(source, tmp_path, "move.jsonl", "--decrypt", "--with-credentials")
    # Its own secret key and tenant; the import lands while it runs.
    target = server_factory({"STEADY_ENCRYPTION_KEYS": keyring("k2"), **LANDING})
    report = cli_ok(target.env, "import", str(moved), "--json").json()
    assert report["ok"] is True and report["rows"]["message"] == 5

    # The visitor's old token (signed by the source) restores the same visitor and chat.
    assert source.server.demo is not None
    again = await clients.visitor(target, demo=source.server.demo, token=source.token)
    assert again.session["visitor_id"] == source.visitor_id
    assert again.session["conversation"] == source.conv
    history = await again.history(source.conv)
    assert [m["body"] for m in history] == [b for b in source.bodies if "VIP" not in b]
    # The agents sign in with their old passwords and see everything, notes included.
    agent = await clients.agent(target, source.server.demo.agents[0], demo=source.server.demo)
    seen = await agent.history(source.conv)
    assert len(seen) == 5
    # Sealed again, with this install's key; the file opens there.
    rows = query(target.database_url, "SELECT name FROM visitor WHERE id = ?",
                 [source.visitor_id])
    assert rows[0][0].startswith("enc:v1:k2:")
    chunk = query(target.database_url, "SELECT data FROM attachment_chunk", [])
    assert [bytes(c[0])[:11] for c in chunk] == [b"\x00enc:v1:k2:"]
    sent = next(m for m in seen if m.get("attachments"))
    assert (await fetch(target, sent["attachments"][0]["url"])).content == INVOICE
    assert ("cli", "tenant.import") in query(
        target.database_url, "SELECT actor, action FROM audit_log WHERE action = ?",
        ["tenant.import"])


async def test_without_credentials_sessions_and_passwords_stay_behind(
    source: Source, tmp_path: Path, server_factory: ServerFactory, clients: Clients
) -> None:
    bare = export(source, tmp_path, "bare.jsonl", "--decrypt")
    target = server_factory(LANDING)
    cli_ok(target.env, "import", str(bare))
    assert source.server.demo is not None
    again = await clients.visitor(target, demo=source.server.demo, token=source.token)
    assert again.session["visitor_id"] != source.visitor_id  # a new visitor
    account = source.server.demo.agents[0]
    refused = await agent_login(target, account.email, account.password,
                                tenant=source.server.demo.tenant)
    assert refused.status_code == 401
    # API keys arrive revoked, sites with a new secret.
    for table in ("api_key", "bridge"):  # their secrets stayed behind: revoked
        rows = query(target.database_url,
                     f"SELECT revoked_at FROM {table} WHERE tenant_id = ?", ["default"])
        assert rows and all(revoked for (revoked,) in rows), table
    secret = query(target.database_url, "SELECT secret FROM site WHERE tenant_id = ?",
                   ["default"])[0][0]
    assert secret and secret != source.server.demo.site_secret
