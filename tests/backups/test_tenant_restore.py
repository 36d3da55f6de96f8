"""A single tenant restored into a live install that has other tenants (issue #15).

Tenant ``default`` loses data after the backup; tenant ``other`` keeps chatting. Restoring
``default`` alone (``--tenant default --force``, the server running) brings its rows back
exactly as they were, and leaves every row of ``other`` byte-identical, including the
messages it wrote after the backup. Also: a tenant's own archive (``backup --tenant``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.backups.support import cli, dump, query, server_cli
from tests.support.clients import Clients, open_conversation
from tests.support.server import DemoTenant, ServerFactory, ServerProcess


async def _chat(srv: ServerProcess, clients: Clients, demo: DemoTenant, n: int) -> str:
    agent = await clients.agent(srv, demo.agents[0], demo=demo)
    visitor = await clients.visitor(srv, demo=demo, name=f"Visitor of {demo.tenant}",
                                    email=f"v@{demo.tenant}.example")
    conv = await open_conversation(visitor, agent, f"hello {demo.tenant}")
    for i in range(n):
        await visitor.send_and_ack(f"{demo.tenant} visitor {i}", conv)
        await agent.send_and_ack(f"{demo.tenant} agent {i}", conv)
    await agent.send_and_ack("a private note", conv, kind="note")
    return conv


async def test_restoring_one_tenant_leaves_the_others_untouched(
    server_factory: ServerFactory, clients: Clients, tmp_path: Path
) -> None:
    srv = server_factory()
    assert srv.demo is not None
    other = srv.run_demo("other")
    kept_conv = await _chat(srv, clients, srv.demo, 5)
    await _chat(srv, clients, other, 3)
    archive = server_cli(srv, "backup", "--json").json()["archive"]
    at_backup = dump(srv.database_url, tenant="default")
    assert at_backup["message"] and at_backup["visitor"]

    # After the backup: default loses a conversation's messages and its canned data,
    # other goes on chatting.
    query(srv.database_url, "DELETE FROM message WHERE conversation_id = ?", [kept_conv])
    query(srv.database_url, "DELETE FROM visitor WHERE tenant_id = ?", ["default"])
    await _chat(srv, clients, other, 2)
    others_before = dump(srv.database_url, tenant="other")
    assert dump(srv.database_url, tenant="default") != at_backup

    refused = cli(srv.env, "restore", archive, "--tenant", "default")
    assert refused.code == 1 and "add --force" in refused.last_error_line, refused.err
    restored = server_cli(srv, "restore", archive, "--tenant", "default", "--force", "--json")
    report = restored.json()
    assert report["ok"] is True and report["tenant"] == "default"
    assert "operator" not in report["tables"]  # install-wide tables are not a tenant's

    assert dump(srv.database_url, tenant="default") == at_backup
    assert dump(srv.database_url, tenant="other") == others_before  # byte for byte

    # The running server serves the restored conversation at once.
    agent = await clients.agent(srv, srv.demo.agents[0])
    history = await agent.history(kept_conv)
    assert [m["body"] for m in history][:2] == ["hello default", "default visitor 0"]


async def test_a_tenant_archive_holds_that_tenant_only(
    server_factory: ServerFactory, clients: Clients, tmp_path: Path
) -> None:
    srv = server_factory()
    assert srv.demo is not None
    other = srv.run_demo("other")
    await _chat(srv, clients, srv.demo, 1)
    await _chat(srv, clients, other, 1)
    made = server_cli(srv, "backup", "--tenant", "other", "--json").json()
    assert made["tenant"] == "other" and ".tenant-other." in made["archive"]
    assert "operator" not in made["rows"] and made["rows"]["tenant"] == 1

    scratch = f"sqlite:///{tmp_path / 'other.db'}"
    restored = server_cli(srv, "restore", made["archive"], "--into", scratch, "--json").json()
    assert restored["ok"] is True and restored["tenant"] == "other"
    assert query(scratch, "SELECT id FROM tenant") == [("other",)]
    assert dump(scratch) == {
        table: rows for table, rows in dump(srv.database_url, tenant="other").items()
    } | {"encryption_key_use": [], "operator": []}
    wrong = cli(srv.env, "restore", made["archive"], "--tenant", "default", "--into", scratch)
    assert wrong.code == 1 and "holds tenant other only" in wrong.last_error_line
    await asyncio.sleep(0)
