"""Slack bridge benchmark (issue #13 item 6), against the local Slack of tests/fakes.

1. Thread latency: 20 conversations, visitors sending 50 msg/s in all for ``--secs``;
   for each message, from the visitor's ``send`` to the local Slack storing the bridge's
   ``chat.postMessage`` in the thread: p50/p99, and the bridge's CPU per message.
2. Backlog drain: Slack answers 500 for ``--outage`` seconds (60 by default) while the
   visitors go on at 1 msg/s in all; then Slack comes back enforcing its documented
   1 message per second per channel; how long the bridge takes to post the backlog, and
   the drain rate. Every message must appear once, in order, per conversation.

    python bench/bridge.py                 # about 3.5 minutes
    python bench/bridge.py --secs 10 --outage 20

Everything runs on this machine: a throw-away node (``bench/_server.py``, SQLite), the
bridge as its own process (``python -m bots slack``, as a user starts it), visitors
speaking the protocol (``bench/_client.py``), and the local Slack in this process. The
Slack double is the one the tests use (``tests/fakes/slack.py``): it imports nothing else
of ``tests`` (tests/test_architecture.py), so one double serves both and the figures are
taken against the same Slack the suite checks.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from _client import Conn, agent_login, new_cid, visitor_session, ws_base
from _report import percentiles
from _server import REPO_ROOT, SpawnedServer, free_port, tree_cpu_secs

sys.path.insert(0, str(REPO_ROOT))
from tests.fakes.slack import FakeSlack

CONVERSATIONS = 20
CHANNEL = "C0BENCH"
READY_SECS = 30.0


class SpawnedBridge:
    """``python -m bots slack`` with its own port, state file and log; stopped by pid."""

    def __init__(self, tmp: Path, server_url: str, token: str, slack: FakeSlack) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "bridge.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("STEADY_", "SLACK_"))},
            "STEADY_BRIDGE_SERVER": server_url,
            "STEADY_BRIDGE_TOKEN": token,
            "STEADY_BRIDGE_PORT": str(self.port),
            "STEADY_BRIDGE_STATE": str(tmp / "bridge-slack.sqlite3"),
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_SIGNING_SECRET": slack.signing_secret,
            "SLACK_API_URL": slack.api_url,
            "SLACK_CHANNEL": CHANNEL,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bots", "slack"],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + READY_SECS
        async with httpx.AsyncClient(timeout=2) as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"bridge exited {self.proc.returncode}: see {self.log}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(self.url + "/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"bridge not healthy within {READY_SECS:g} s: see {self.log}")

    async def health(self) -> tuple[int, str]:
        async with httpx.AsyncClient(timeout=5) as http:
            resp = await http.get(self.url + "/healthz")
            return resp.status_code, resp.text

    def cpu_secs(self) -> float:
        return tree_cpu_secs(self.proc.pid) if self.proc else 0.0

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


async def wait_until(done: Callable[[], bool], limit_secs: float) -> None:
    deadline = time.monotonic() + limit_secs
    while not done() and time.monotonic() < deadline:  # noqa: ASYNC110 - polling a fake
        await asyncio.sleep(0.1)


async def make_bridge(server: SpawnedServer, demo_admin: str) -> str:
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as http:
        made = await http.post(
            "/api/v1/bridges",
            headers={"Authorization": f"Bearer {demo_admin}"},
            json={"kind": "slack", "name": "bench"},
        )
    made.raise_for_status()
    return str(made.json()["token"])


async def open_conversations(server: SpawnedServer, site_key: str) -> list[tuple[Conn, str]]:
    opened = []
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as http:
        for n in range(CONVERSATIONS):
            visitor = await Conn.connect(ws_base(server.url) + "/ws/visitor", f"visitor{n}")
            await visitor.hello(await visitor_session(http, site_key))
            cid = new_cid()
            acked = visitor.expect(lambda f, c=cid: f.get("type") == "ack" and f.get("cid") == c)
            await visitor.send({"type": "send", "cid": cid, "body": f"open {n}"})
            opened.append((visitor, str((await visitor.wait(acked, "ack"))["conv"])))
    return opened


async def send(visitor: Conn, conv: str, body: str) -> None:
    await visitor.send({"type": "send", "cid": new_cid(), "conv": conv, "body": body})


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--secs", type=float, default=20.0, help="latency phase length")
    parser.add_argument("--rate", type=float, default=50.0, help="messages per second in all")
    parser.add_argument("--outage", type=float, default=60.0, help="Slack outage, seconds")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-bridge-"))
    server = SpawnedServer("sqlite")
    demo, _, _ = server.start()
    slack = await FakeSlack().start()
    posted_at: dict[str, float] = {}
    slack.on_post = lambda p: posted_at.setdefault(p.text, time.perf_counter())
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as http:
        admin = await agent_login(http, demo.tenant, demo.admin)
    bridge = SpawnedBridge(tmp, server.url, await make_bridge(server, admin), slack)
    visitors: list[tuple[Conn, str]] = []
    try:
        bridge.spawn()
        await bridge.wait_ready()
        visitors = await open_conversations(server, demo.site_key)
        await wait_until(lambda: len(slack.roots()) >= CONVERSATIONS, 60)

        # -- 1. latency at a steady rate ------------------------------------------------
        sent_at: dict[str, float] = {}
        interval, total = 1.0 / args.rate, int(args.secs * args.rate)
        cpu_before = bridge.cpu_secs()
        start = time.perf_counter()
        for i in range(total):
            visitor, conv = visitors[i % CONVERSATIONS]
            body = f"lat {i}"
            await asyncio.sleep(max(0.0, start + i * interval - time.perf_counter()))
            sent_at[body] = time.perf_counter()
            await send(visitor, conv, body)
        await wait_until(lambda: all(b in posted_at for b in sent_at), 60)
        cpu = bridge.cpu_secs() - cpu_before
        latencies = [posted_at[b] - t for b, t in sent_at.items() if b in posted_at]
        pct = percentiles(latencies)
        print(
            f"latency: {total} messages at {args.rate:.0f} msg/s over {CONVERSATIONS} "
            f"conversations; posted {len(latencies)}/{total}; p50 {pct['p50']} ms, "
            f"p90 {pct['p90']} ms, p99 {pct['p99']} ms, max {pct['max']} ms, "
            f"mean {statistics.fmean(latencies) * 1000:.1f} ms; bridge CPU "
            f"{cpu * 1e6 / max(1, len(latencies)):.0f} µs/msg"
        )

        # -- 2. backlog after an outage, drained at 1 msg/s per channel ----------------
        slack.fail(500, args.outage)
        backlog: list[str] = []
        outage_end = time.perf_counter() + args.outage
        i = 0
        while time.perf_counter() < outage_end:
            visitor, conv = visitors[i % CONVERSATIONS]
            body = f"out {i}"
            backlog.append(body)
            await send(visitor, conv, body)
            i += 1
            await asyncio.sleep(1.0)
        slack.channel_rate_per_sec = 1.0
        healed = time.perf_counter()
        await wait_until(lambda: all(b in posted_at for b in backlog), len(backlog) * 3 + 60)
        done = max(posted_at[b] for b in backlog if b in posted_at)
        drained = sum(b in posted_at for b in backlog)
        secs = done - healed
        print(
            f"drain: {len(backlog)} messages queued during a {args.outage:.0f} s outage; "
            f"{drained} posted {secs:.1f} s after Slack came back at 1 msg/s per channel "
            f"({drained / secs:.2f} msg/s into 1 channel)"
        )
        problems = check_threads(slack, [conv for _, conv in visitors])
        print("history check:", problems or "every message once, in order")
        print("bridge health after: %s %s" % await bridge.health())
    finally:
        for visitor, _ in visitors:
            await visitor.close()
        bridge.stop()
        await slack.stop()
        server.stop()


def check_threads(slack: FakeSlack, convs: list[str]) -> list[str]:
    problems = []
    for n, conv in enumerate(convs):
        texts = [p.text for p in slack.bot_thread(conv)]
        if len(set(texts)) != len(texts):
            problems.append(f"conversation {n}: a post appears twice")
        for phase in ("lat ", "out "):
            numbers = [int(t.split()[1]) for t in texts if t.startswith(phase)]
            if numbers != sorted(numbers):
                problems.append(f"conversation {n}: {phase.strip()} messages out of order")
    return problems


if __name__ == "__main__":
    asyncio.run(main())
