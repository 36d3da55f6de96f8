"""Backup while 20 clients chat, then wipe, restore and compare every table (issue #15).

On each backend: ten visitors and ten agent connections chat while ``steadydesk backup``
runs; every message acked before the backup started is in the archive. Then, with the
chat stopped, a second backup, the database wiped, ``steadydesk restore latest``, and every
table compared row by row (read with plain sqlite3/pymysql) with what was there. The
restarted server serves the restored conversations, and search finds old messages (the
SQLite full-text index is rebuilt).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.backups.support import assert_same_tables, dump, query, server_cli, wipe
from tests.support.clients import Clients, WsClient, cached_login, get, open_conversation
from tests.support.server import ServerFactory, ServerProcess

PAIRS = 10  # ten visitors and ten agent connections: twenty clients
CHAT_BEFORE_BACKUP_SECS = 1.0
WORD = "pineapple"


async def _chat(client: WsClient, conv: str, who: str, stop: asyncio.Event,
                acked: list[tuple[float, str]]) -> None:
    """Send until told to stop, one message in flight; (wall time of the ack, id)."""
    n = 0
    while not stop.is_set():
        n += 1
        ack = await client.send_and_ack(f"{who} says {WORD} {n}", conv, timeout=30)
        acked.append((time.time(), str(ack["id"])))


async def _pairs(srv: ServerProcess, clients: Clients) -> list[tuple[WsClient, WsClient, str]]:
    assert srv.demo is not None
    pairs = []
    for i in range(PAIRS):
        account = srv.demo.agents[i % 2]  # five conversations each: their capacity
        agent = await clients.agent(srv, account, label=f"agent{i}")
        visitor = await clients.visitor(srv, name=f"Visitor {i}", label=f"visitor{i}")
        conv = await open_conversation(visitor, agent, f"hello from visitor {i}")
        pairs.append((visitor, agent, conv))
    return pairs


async def test_backup_while_chatting_then_wipe_restore_compare(
    server_factory: ServerFactory, clients: Clients, tmp_path: Path
) -> None:
    srv = server_factory()
    pairs = await _pairs(srv, clients)
    stop = asyncio.Event()
    acked: list[tuple[float, str]] = []
    chatting = [
        asyncio.create_task(_chat(client, conv, who, stop, acked))
        for visitor, agent, conv in pairs
        for client, who in ((visitor, "visitor"), (agent, "agent"))
    ]
    try:
        await asyncio.sleep(CHAT_BEFORE_BACKUP_SECS)
        started = time.time()
        during = await asyncio.to_thread(server_cli, srv, "backup", "--json")
        await asyncio.sleep(0.3)
    finally:
        stop.set()
        await asyncio.gather(*chatting)
    archive = during.json()["archive"]
    before = {mid for at, mid in acked if at < started}
    after = {mid for at, mid in acked if at >= started}
    assert len(before) > PAIRS and after, "the clients did not chat across the backup"

    # Every message acked before the backup started is in it (restored elsewhere to see).
    scratch = f"sqlite:///{tmp_path / 'scratch.db'}"
    restored = await asyncio.to_thread(
        server_cli, srv, "restore", archive, "--into", scratch, "--json"
    )
    assert restored.json()["ok"] is True
    in_archive = {row[0] for row in query(scratch, "SELECT id FROM message")}
    missing = before - in_archive
    assert not missing, f"{len(missing)} messages acked before the backup are not in it"

    # Quiet now: back up, remember every table, lose the database, restore, compare.
    await clients.close_all()
    await asyncio.to_thread(server_cli, srv, "backup", "--json")
    source = dump(srv.database_url)
    assert len(source["message"]) == len(acked) + PAIRS  # + each conversation's first
    await srv.astop()
    wipe(srv.database_url)
    result = await asyncio.to_thread(server_cli, srv, "restore", "latest", "--json")
    report = result.json()
    assert report["ok"] is True and all(t["ok"] for t in report["tables"].values())
    assert_same_tables(source, dump(srv.database_url))

    # The restored install serves: a visitor resumes its conversation from the start,
    # and search (its index rebuilt after the restore) finds an old message.
    await srv.astart()
    visitor, _, conv = pairs[0]
    again = await clients.visitor(srv, session=visitor.session, resume={conv: 0})
    history = await again.history(conv)
    stored = query(srv.database_url,
                   "SELECT id FROM message WHERE conversation_id = ? ORDER BY seq", [conv])
    assert len(history) > 1 and [m["id"] for m in history] == [row[0] for row in stored]
    assert srv.demo is not None
    login = await cached_login(srv, srv.demo.agents[0])
    found = await get(srv, f"/api/v1/search?q={WORD}&limit=5",
                      {"Authorization": f"Bearer {login['token']}"})
    assert found.status_code == 200, found.text
    assert len(found.json()["results"]) == 5, found.text
