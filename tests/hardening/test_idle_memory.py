"""What an idle WebSocket costs the node (issue #17 item 3), measured by the node's own
tracemalloc snapshots (``STEADY_TRACEMALLOC_DIR``, SIGUSR1) around opening many visitor
connections that then stay silent.

Before, each held connection kept a copy of the last frames it sent (the welcome, ~3.9 KB
here), an ``asyncio.Queue`` and an ``Event`` (four deques), a writer task blocked on the
queue and four rate-limit deques: ~40.8 KB traced per connection. Now the queue is a list,
the writer exists only while something is pending and the deques are made on first use:
~28,400. Then (server/gateway/ws_lean.py) Sanic's unused assembler queue went, four empty
event deques became lists and frames are read without a task per read: ~21,600.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import tracemalloc
from pathlib import Path

import pytest

from tests.support.clients import Clients, new_visitor
from tests.support.cluster import cluster_mode
from tests.support.server import ServerFactory

CONNECTIONS = 120
VISITORS = 12
TRACED_LIMIT_PER_CONN = 25_000  # bytes; 40,800, then ~28,400, now ~21,600
OURS_LIMIT_PER_CONN = 1_200  # bytes allocated in server/gateway/connection.py


async def _snapshot(pid: int, directory: Path, number: int) -> tracemalloc.Snapshot:
    path = directory / f"tracemalloc-{number}.snap"
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 60
    while not path.exists():
        assert time.monotonic() < deadline, f"no snapshot {path}"
        await asyncio.sleep(0.1)
    return tracemalloc.Snapshot.load(str(path))


async def test_an_idle_connection_keeps_no_queue_task_or_sent_frames(
    backend: str, server_factory: ServerFactory, clients: Clients, tmp_path: Path
) -> None:
    if cluster_mode() or backend != "sqlite":
        pytest.skip("memory of one node's connections: one backend, one process suffice")
    server = server_factory({"STEADY_TRACEMALLOC_DIR": str(tmp_path)})
    assert server.pid is not None
    tokens = [str((await new_visitor(server))["token"]) for _ in range(VISITORS)]

    async def open_one(i: int) -> None:
        ws = await clients.connect(server, "/ws/visitor", compression=None, label=f"idle{i}")
        await ws.hello(tokens[i % VISITORS])

    await asyncio.gather(*(open_one(i) for i in range(10)))  # warm-up: imports, caches
    await asyncio.sleep(0.5)
    before = await _snapshot(server.pid, tmp_path, 1)
    for start in range(10, CONNECTIONS + 10, 20):
        await asyncio.gather(*(open_one(i) for i in range(start, start + 20)))
    await asyncio.sleep(1.0)  # let every welcome be written
    after = await _snapshot(server.pid, tmp_path, 2)

    stats = after.compare_to(before, "lineno")
    traced = sum(s.size_diff for s in stats) / CONNECTIONS
    ours = sum(
        s.size_diff for s in stats
        if s.traceback[0].filename.endswith(os.path.join("gateway", "connection.py"))
    ) / CONNECTIONS  # fmt: skip
    top = "\n".join(
        f"{s.size_diff / CONNECTIONS:9.1f} B/conn  {s.traceback[0].filename}:"
        f"{s.traceback[0].lineno}"
        for s in stats[:15]
    )
    assert ours < OURS_LIMIT_PER_CONN, f"{ours:.0f} B per connection in connection.py\n{top}"
    assert traced < TRACED_LIMIT_PER_CONN, f"{traced:.0f} B per connection traced\n{top}"
