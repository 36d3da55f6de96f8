"""Slack bridge benchmark (issue #13 item 6), against the local Slack of tests/fakes.

1. Thread latency: 20 conversations, visitors sending 50 msg/s in all for ``--secs``;
   for each message, from the visitor's ``send`` to the local Slack storing the bridge's
   ``chat.postMessage`` in the thread: p50/p99.
2. Backlog drain: Slack answers 500 for ``--outage`` seconds (60 by default) while the
   visitors go on at 1 msg/s in all; then Slack comes back enforcing its documented
   1 message per second per channel; how long the bridge takes to post the backlog, and
   the drain rate. Every message must appear once, in order, per conversation.

    python bench/bridge.py                 # about 3.5 minutes
    python bench/bridge.py --secs 10 --outage 20

Everything runs on this machine: a spawned server (SQLite), the bridge as its own
process (``python -m bots slack``), the local Slack in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.bridges.support import BridgeProcess  # noqa: E402
from tests.fakes.slack import FakeSlack, Posted  # noqa: E402
from tests.support import clients as C  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402

CONVERSATIONS = 20


async def wait_until(done: Callable[[], bool], limit_secs: float) -> None:
    deadline = time.monotonic() + limit_secs
    while not done() and time.monotonic() < deadline:  # noqa: ASYNC110 - polling a fake
        await asyncio.sleep(0.1)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--secs", type=float, default=20.0, help="latency phase length")
    parser.add_argument("--rate", type=float, default=50.0, help="messages per second in all")
    parser.add_argument("--outage", type=float, default=60.0, help="Slack outage, seconds")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-bridge-"))
    server = ServerProcess(
        tmp / "server",
        f"sqlite:///{tmp}/server/steadydesk.db",
        env={"STEADY_CONN_RATE_IP": "100000", "STEADY_WS_RATE_VISITOR": "100000"},
    )
    server.start()
    slack = await FakeSlack().start()
    posted_at: dict[str, float] = {}
    slack.on_post = lambda p: posted_at.setdefault(p.text, time.perf_counter())
    assert server.demo is not None
    created = json.loads(
        subprocess.run(  # noqa: ASYNC221 - once, before anything runs
            [
                sys.executable,
                "-m",
                "server",
                "bridge",
                "create",
                "--tenant",
                server.demo.tenant,
                "--kind",
                "slack",
                "--name",
                "bench",
                "--json",
            ],
            cwd=REPO_ROOT,
            env=server.env,
            capture_output=True,
            check=True,
        ).stdout
    )
    bridge = BridgeProcess(tmp / "bridge", server.url, created["token"], slack)
    await bridge.astart()
    visitors = []
    try:
        for n in range(CONVERSATIONS):
            session = await C.new_visitor(server, name=f"Bench {n}")
            ws = await C.WsClient.connect(server.ws_url + "/ws/visitor", label=f"v{n}")
            await ws.hello(session["token"])
            conv = (await ws.send_and_ack(body=f"open {n}"))["conv"]
            visitors.append((ws, conv))
        await wait_until(lambda: len(slack.roots()) >= CONVERSATIONS, 60)

        # -- 1. latency at a steady rate ------------------------------------------------
        sent_at: dict[str, float] = {}
        interval, total = 1.0 / args.rate, int(args.secs * args.rate)
        start = time.perf_counter()
        for i in range(total):
            ws, conv = visitors[i % CONVERSATIONS]
            body = f"lat {i}"
            await asyncio.sleep(max(0.0, start + i * interval - time.perf_counter()))
            sent_at[body] = time.perf_counter()
            await ws.send_message(body, conv)
        await wait_until(lambda: all(b in posted_at for b in sent_at), 60)
        latencies = [(posted_at[b] - t) * 1000 for b, t in sent_at.items() if b in posted_at]
        achieved = total / (time.perf_counter() - start)
        print(
            f"latency: {total} messages at {args.rate:.0f} msg/s over {CONVERSATIONS} "
            f"conversations ({achieved:.1f} msg/s offered incl. drain); posted "
            f"{len(latencies)}/{total}; p50 {pct(latencies, 0.5):.1f} ms, "
            f"p99 {pct(latencies, 0.99):.1f} ms, mean {statistics.fmean(latencies):.1f} ms"
        )

        # -- 2. backlog after an outage, drained at 1 msg/s per channel ----------------
        slack.fail(500, args.outage)
        backlog: list[str] = []
        outage_end = time.perf_counter() + args.outage
        i = 0
        while time.perf_counter() < outage_end:
            ws, conv = visitors[i % CONVERSATIONS]
            body = f"out {i}"
            backlog.append(body)
            await ws.send_message(body, conv)
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
        problems = check_threads(slack, visitors)
        print("history check:", problems or "every message once, in order")
        status, health = await bridge.health()
        print(f"bridge health after: {status} {health}")
    finally:
        for ws, _ in visitors:
            await ws.close()
        bridge.stop()
        await slack.stop()
        server.stop()


def check_threads(slack: FakeSlack, visitors: list[tuple[C.WsClient, str]]) -> list[str]:
    problems = []
    for n, (_ws, conv) in enumerate(visitors):
        posts: list[Posted] = slack.bot_thread(conv)
        texts = [p.text for p in posts]
        if len(set(texts)) != len(texts):
            problems.append(f"conversation {n}: a post appears twice")
        numbers = [int(t.split()[1]) for t in texts if t.startswith(("lat ", "out "))]
        lat = [x for t, x in zip(texts, numbers, strict=False) if t.startswith("lat")]
        if lat != sorted(lat):
            problems.append(f"conversation {n}: out of order")
    return problems


if __name__ == "__main__":
    asyncio.run(main())
