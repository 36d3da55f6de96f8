"""Telegram bridge benchmark (issue #14 item 4), against the local Telegram of tests/fakes.

1. Topic latency: 20 conversations (20 topics of one supergroup), visitors sending
   50 msg/s in all for ``--secs``; for each message, from the visitor's ``send`` to the
   local Telegram storing the bridge's ``sendMessage`` in the topic: p50/p99. Telegram's
   per-group limit is off in this phase (it is 20 messages a minute, far below 50/s): the
   figure is the bridge's own latency.
2. Backlog drain: Telegram answers 500 for ``--outage`` seconds (60 by default) while the
   visitors go on at 1 msg/s in all; then Telegram comes back enforcing its documented
   limit for a group, "no more than 20 messages per minute" (429 with ``retry_after``);
   how long the bridge takes to post the backlog, and the drain rate. Every message must
   appear once, in order, per topic.

    python bench/bridge_telegram.py                 # about 6 minutes
    python bench/bridge_telegram.py --secs 10 --outage 20

Everything runs on this machine: a spawned server (SQLite), the bridge as its own process
(``python -m bots telegram``, long polling), the local Telegram in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from _server import tree_cpu_secs  # noqa: E402

from tests.bridges.tg_support import TelegramBridge  # noqa: E402
from tests.fakes.telegram import FakeTelegram, Posted  # noqa: E402
from tests.support import clients as C  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402

CONVERSATIONS = 20
GROUP_PER_MINUTE = 20  # core.telegram.org/bots/faq: "no more than 20 messages per minute"


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
    parser.add_argument("--outage", type=float, default=60.0, help="Telegram outage, seconds")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-bridge-telegram-"))
    server = ServerProcess(
        tmp / "server",
        f"sqlite:///{tmp}/server/steadydesk.db",
        env={"STEADY_CONN_RATE_IP": "100000", "STEADY_WS_RATE_VISITOR": "100000"},
    )
    server.start()
    telegram = await FakeTelegram().start()
    posted_at: dict[str, float] = {}
    telegram.on_post = lambda p: posted_at.setdefault(p.plain, time.perf_counter())
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
                "telegram",
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
    bridge = TelegramBridge(tmp / "bridge", server.url, created["token"], telegram)
    await bridge.astart()
    visitors = []
    try:
        for n in range(CONVERSATIONS):
            session = await C.new_visitor(server, name=f"Bench {n}")
            ws = await C.WsClient.connect(server.ws_url + "/ws/visitor", label=f"v{n}")
            await ws.hello(session["token"])
            conv = (await ws.send_and_ack(body=f"open {n}"))["conv"]
            visitors.append((ws, conv))
        await wait_until(lambda: len(telegram.topics) >= CONVERSATIONS, 60)
        await wait_until(lambda: all(f"open {n}" in posted_at for n in range(CONVERSATIONS)), 60)

        # -- 1. latency at a steady rate ------------------------------------------------
        sent_at: dict[str, float] = {}
        assert bridge.proc is not None
        cpu_before = tree_cpu_secs(bridge.proc.pid)
        interval, total = 1.0 / args.rate, int(args.secs * args.rate)
        start = time.perf_counter()
        for i in range(total):
            ws, conv = visitors[i % CONVERSATIONS]
            body = f"lat {i}"
            await asyncio.sleep(max(0.0, start + i * interval - time.perf_counter()))
            sent_at[body] = time.perf_counter()
            await ws.send_message(body, conv)
        await wait_until(lambda: all(b in posted_at for b in sent_at), 60)
        cpu_ms = (tree_cpu_secs(bridge.proc.pid) - cpu_before) * 1000 / max(1, len(sent_at))
        latencies = [(posted_at[b] - t) * 1000 for b, t in sent_at.items() if b in posted_at]
        achieved = total / (time.perf_counter() - start)
        print(
            f"latency: {total} messages at {args.rate:.0f} msg/s over {CONVERSATIONS} "
            f"topics ({achieved:.1f} msg/s offered incl. drain); posted "
            f"{len(latencies)}/{total}; p50 {pct(latencies, 0.5):.1f} ms, "
            f"p99 {pct(latencies, 0.99):.1f} ms, mean {statistics.fmean(latencies):.1f} ms; "
            f"bridge CPU {cpu_ms:.1f} ms per message; load average {os.getloadavg()[0]:.1f}"
        )

        # -- 2. backlog after an outage, drained under the group limit ------------------
        telegram.fail(500, args.outage)
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
        telegram.group_per_minute = GROUP_PER_MINUTE
        healed = time.perf_counter()
        limit = len(backlog) * 60 / GROUP_PER_MINUTE * 2 + 120
        await wait_until(lambda: all(b in posted_at for b in backlog), limit)
        done = max(posted_at[b] for b in backlog if b in posted_at)
        drained = sum(b in posted_at for b in backlog)
        secs = done - healed
        limited = sum(1 for method, _ in telegram.calls if method == "sendMessage")
        print(
            f"drain: {len(backlog)} messages queued during a {args.outage:.0f} s outage; "
            f"{drained} posted {secs:.1f} s after Telegram came back at {GROUP_PER_MINUTE} "
            f"messages per minute per group ({drained / secs * 60:.1f} msg/min into 1 group; "
            f"{limited} sendMessage calls in all)"
        )
        problems = check_topics(telegram, visitors)
        print("history check:", problems or "every message once, in order")
        status, health = await bridge.health()
        print(f"bridge health after: {status} {health}")
    finally:
        for ws, _ in visitors:
            await ws.close()
        bridge.stop()
        await telegram.stop()
        server.stop()


def check_topics(telegram: FakeTelegram, visitors: list[tuple[C.WsClient, str]]) -> list[str]:
    problems = []
    for n in range(len(visitors)):
        topic = telegram.topic_named(f"Bench {n}")
        if topic is None:
            problems.append(f"conversation {n}: no topic")
            continue
        posts: list[Posted] = telegram.bot_posts(topic.thread_id)
        texts = [p.plain for p in posts if p.plain.startswith(("open ", "lat ", "out "))]
        if len(set(texts)) != len(texts):
            problems.append(f"conversation {n}: a post appears twice")
        for prefix in ("lat ", "out "):
            numbers = [int(t.split()[1]) for t in texts if t.startswith(prefix)]
            if numbers != sorted(numbers):
                problems.append(f"conversation {n}: {prefix.strip()} out of order")
    return problems


if __name__ == "__main__":
    asyncio.run(main())
