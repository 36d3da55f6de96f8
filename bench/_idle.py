"""Idle connections (`chat_pairs.py --mode idle --connections N`): N visitor WebSockets past
hello/welcome, held and silent; the server's RSS per held connection. The connections
share `--idle-visitors` visitor sessions round-robin (a visitor with several tabs), so
that making sessions does not dominate the run.

Memory is read from /proc (VmRSS of the server and its descendants) after a warm-up (a
first small batch opened and closed, so imports and caches are not charged to the
connections), then after all N are held and a settle pause. With `--tracemalloc` (spawned
node only) the node takes a tracemalloc snapshot on SIGUSR1 (STEADY_TRACEMALLOC_DIR) before
and after, and the report lists the allocation sites that grew, per held connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import time
import tracemalloc
from pathlib import Path
from typing import Any

import httpx
from _client import Conn, Demo, ProtocolError, visitor_session

WARMUP_CONNECTIONS = 50
SETTLE_SECS = 3.0
SNAPSHOT_TIMEOUT_SECS = 120.0


def raise_nofile(wanted: int) -> tuple[int, int]:
    """Lift this process's soft RLIMIT_NOFILE towards the hard limit (a spawned node
    inherits it); returns the limits now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard == resource.RLIM_INFINITY else min(hard, max(soft, wanted))
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def rss_kib(root: int) -> int:
    """VmRSS of `root` and its descendants, KiB."""
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{pid}/task"):
                children = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
                todo.extend(int(c) for c in children)
    return total


class Snapshots:
    """tracemalloc snapshots the node writes on SIGUSR1 into `directory`."""

    def __init__(self, pid: int, directory: Path) -> None:
        self.pid, self.directory, self.taken = pid, directory, 0

    async def take(self) -> tracemalloc.Snapshot:
        self.taken += 1
        path = self.directory / f"tracemalloc-{self.taken}.snap"
        os.kill(self.pid, signal.SIGUSR1)
        deadline = time.monotonic() + SNAPSHOT_TIMEOUT_SECS
        while not path.exists():
            if time.monotonic() > deadline:
                raise ProtocolError(f"no tracemalloc snapshot {path} (STEADY_TRACEMALLOC_DIR?)")
            await asyncio.sleep(0.2)
        return tracemalloc.Snapshot.load(str(path))


def growth(
    before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, per: int, top: int = 25
) -> list[dict[str, Any]]:
    """The allocation sites (file:line) that grew most, in bytes per held connection."""
    stats = after.compare_to(before, "lineno")
    out = []
    for stat in stats[:top]:
        frame = stat.traceback[0]
        out.append(
            {
                "site": f"{_short(frame.filename)}:{frame.lineno}",
                "bytes_per_conn": round(stat.size_diff / per, 1),
                "blocks_per_conn": round(stat.count_diff / per, 2),
            }
        )
    total = sum(s.size_diff for s in stats)
    out.append({"site": "(all sites)", "bytes_per_conn": round(total / per, 1)})
    return out


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


async def _open(ws_url: str, token: str, i: int, gate: asyncio.Semaphore) -> Conn:
    async with gate:
        conn = await Conn.connect(ws_url + "/ws/visitor", f"idle#{i}")
        await conn.hello(token)
        return conn


async def _sessions(http: httpx.AsyncClient, site_key: str, count: int, gate: int) -> list[str]:
    sem = asyncio.Semaphore(gate)

    async def one() -> str:
        async with sem:
            return await visitor_session(http, site_key)

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def _open_all(ws_url: str, tokens: list[str], gate: int) -> tuple[list[Conn], list[str]]:
    sem = asyncio.Semaphore(gate)
    results = await asyncio.gather(
        *(_open(ws_url, t, i, sem) for i, t in enumerate(tokens)), return_exceptions=True
    )
    conns = [r for r in results if isinstance(r, Conn)]
    errors = [repr(r)[:200] for r in results if not isinstance(r, Conn)]
    return conns, errors


async def _close_all(conns: list[Conn], gate: int) -> None:
    sem = asyncio.Semaphore(gate)

    async def one(conn: Conn) -> None:
        async with sem:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 5)

    await asyncio.gather(*(one(c) for c in conns))


async def idle_test(
    http: httpx.AsyncClient,
    ws_url: str,
    demo: Demo,
    server_pid: int | None,
    connections: int,
    visitors: int,
    hold: float,
    gate: int,
    snapshots: Snapshots | None,
) -> dict[str, Any]:
    if server_pid is None:
        raise ProtocolError("--mode idle reads the server's RSS: give --server-pid or --spawn")
    t0 = time.perf_counter()
    made = await _sessions(http, demo.site_key, max(1, min(visitors, connections)), gate)
    sessions_s = time.perf_counter() - t0
    tokens = [made[i % len(made)] for i in range(connections + WARMUP_CONNECTIONS)]
    warm, errors = await _open_all(ws_url, tokens[:WARMUP_CONNECTIONS], gate)
    await _close_all(warm, gate)
    if errors:
        raise ProtocolError(f"idle warm-up: {len(errors)} connections failed: {errors[:3]}")
    await asyncio.sleep(SETTLE_SECS)
    before_snap = await snapshots.take() if snapshots else None
    rss_before = rss_kib(server_pid)

    t1 = time.perf_counter()
    conns, errors = await _open_all(ws_url, tokens[WARMUP_CONNECTIONS:], gate)
    open_s = time.perf_counter() - t1
    await asyncio.sleep(max(hold, SETTLE_SECS))
    held = sum(1 for c in conns if not c.closed.is_set())
    rss_after = rss_kib(server_pid)
    after_snap = await snapshots.take() if snapshots else None
    still = sum(1 for c in conns if not c.closed.is_set())
    result: dict[str, Any] = {
        "wanted": connections,
        "visitors": len(made),
        "opened": len(conns),
        "held": min(held, still),
        "failed": len(errors),
        "errors": errors[:5],
        "sessions_s": round(sessions_s, 1),
        "open_s": round(open_s, 1),
        "server_rss_before_kib": rss_before,
        "server_rss_after_kib": rss_after,
        "server_rss_per_conn_kib": round((rss_after - rss_before) / held, 2) if held else None,
    }
    if before_snap is not None and after_snap is not None and held:
        result["tracemalloc_top"] = growth(before_snap, after_snap, held)
    await _close_all(conns, gate)
    return result


def human_idle(r: dict[str, Any]) -> list[str]:
    lines = [
        f"idle: {r['held']} of {r['wanted']} connections held ({r['failed']} failed; "
        f"{r['visitors']} visitor sessions in {r['sessions_s']} s, opened in {r['open_s']} s)",
        f"  server RSS      {r['server_rss_before_kib']} KiB -> {r['server_rss_after_kib']} KiB"
        f" = {r['server_rss_per_conn_kib']} KiB per held connection",
    ]
    if r["errors"]:
        lines.append(f"  errors          {r['errors']}")
    for row in r.get("tracemalloc_top", []):
        blocks = f" ({row['blocks_per_conn']} blocks)" if "blocks_per_conn" in row else ""
        lines.append(f"  {row['bytes_per_conn']:>9} B/conn{blocks}  {row['site']}")
    return lines
