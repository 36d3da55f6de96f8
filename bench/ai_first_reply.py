"""The AI robot's first reply (issue #20 item 6), with the embedded default (retrieval
only, no model): from a visitor's first ``send`` to the robot's answer arriving on the
visitor's socket, p50/p99, through a real node and the robot as its own process.

    python bench/ai_first_reply.py                  # 80 conversations, 4 at a time
    python bench/ai_first_reply.py --chats 200 --parallel 8

A throw-away node (``bench/_server.py``, SQLite) with a site in ``first_line`` mode and
the labelled knowledge base of ``bench/ai_kb`` (80 articles) imported through the admin
API; the robot is ``python -m bots ai`` (as a user starts it); each visitor opens a
conversation with one of the labelled questions (English and Chinese in turn).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _client import Conn, agent_login, new_cid, visitor_session, ws_base
from _report import percentiles
from _server import REPO_ROOT, SpawnedServer, free_port

sys.path.insert(0, str(REPO_ROOT))
from bench.ai_corpus import articles, questions

READY_SECS = 60.0


async def prepare(server: SpawnedServer, site_key: str, admin: str) -> str:
    """ai_mode first_line, the knowledge base, an ai bridge; returns its token."""
    auth = {"Authorization": f"Bearer {admin}"}
    async with httpx.AsyncClient(base_url=server.url, timeout=15, headers=auth) as http:
        (
            await http.patch(f"/api/v1/sites/{site_key}", json={"ai_mode": "first_line"})
        ).raise_for_status()
        for article in articles("en") + articles("zh"):
            body = {k: v for k, v in article.items() if k != "id"}
            (await http.post("/api/v1/knowledge/articles", json=body)).raise_for_status()
        made = await http.post("/api/v1/bridges", json={"kind": "ai", "name": "Aiko"})
        made.raise_for_status()
        return str(made.json()["token"])


def spawn_robot(tmp: Path, server_url: str, token: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STEADY_")},
        "STEADY_BRIDGE_SERVER": server_url,
        "STEADY_BRIDGE_TOKEN": token,
        "STEADY_BRIDGE_PORT": str(port),
        "STEADY_DATA_DIR": str(tmp),
    }
    with (tmp / "robot.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "bots", "ai"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


async def wait_ready(proc: subprocess.Popen[bytes], port: int, docs: int) -> None:
    deadline = time.monotonic() + READY_SECS
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"robot exited {proc.returncode}")
            with contextlib.suppress(httpx.HTTPError, ValueError):
                health = (await http.get(f"http://127.0.0.1:{port}/healthz")).json()
                if health["server"] == "OK" and health["knowledge"]["docs"] >= docs:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError("robot not ready")


async def one_chat(server: SpawnedServer, site_key: str, n: int, question: str) -> float:
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as http:
        token = await visitor_session(http, site_key)
    visitor = await Conn.connect(ws_base(server.url) + "/ws/visitor", f"visitor{n}")
    try:
        await visitor.hello(token)
        answered = visitor.expect(
            lambda f: f.get("type") == "message" and (f.get("sender") or {}).get("type") == "ai"
        )
        started = time.perf_counter()
        await visitor.send({"type": "send", "cid": new_cid(), "body": question})
        await visitor.wait(answered, "the robot's answer", 30)
        return time.perf_counter() - started
    finally:
        await visitor.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chats", type=int, default=80)
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-ai-"))
    server = SpawnedServer("sqlite")
    demo, _, _ = server.start()
    proc = None
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=15) as http:
            admin = await agent_login(http, demo.tenant, demo.admin)
        token = await prepare(server, demo.site_key, admin)
        port = free_port()
        proc = spawn_robot(tmp, server.url, token, port)
        await wait_ready(proc, port, 80)
        pairs = [q for pair in zip(questions("en"), questions("zh"), strict=True) for q in pair]
        gate = asyncio.Semaphore(args.parallel)

        async def limited(n: int) -> float:
            async with gate:
                return await one_chat(server, demo.site_key, n, pairs[n % len(pairs)][0])

        await limited(0)  # warm-up: jieba's dictionary, first connections
        took = await asyncio.gather(*(limited(n) for n in range(1, args.chats + 1)))
        pct = percentiles(list(took))
        print(
            f"first reply, embedded retrieval: {args.chats} conversations, {args.parallel} "
            f"at a time: p50 {pct['p50']} ms, p90 {pct['p90']} ms, p99 {pct['p99']} ms, "
            f"max {pct['max']} ms"
        )
        async with httpx.AsyncClient(timeout=5) as http:
            metrics = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
        got = {
            line.split()[0]: float(line.split()[1])
            for line in metrics.splitlines()
            if line.startswith("steadydesk_bridge_ai_reply_seconds_")
        }
        count = got.get("steadydesk_bridge_ai_reply_seconds_count", 0.0)
        mean = got.get("steadydesk_bridge_ai_reply_seconds_sum", 0.0) / max(1.0, count)
        print(
            f"inside the robot (message in to reply sent): mean {mean * 1000:.1f} ms "
            f"over {count:.0f} replies"
        )
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(15)
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
