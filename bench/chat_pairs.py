#!/usr/bin/env python3
"""Chat-pairs benchmark: K visitor/agent pairs relaying messages through a Steadydesk node.

A pure protocol client (it never imports `server`). See bench/README.md for the modes and
what each printed number means. Examples:

    python bench/chat_pairs.py --spawn sqlite                      # closed loop, 50x200
    python bench/chat_pairs.py --spawn mysql --rate 1000 --duration 20   # open loop
    python bench/chat_pairs.py --spawn sqlite --mode resume        # 1,000-message resume
    python bench/chat_pairs.py --spawn sqlite --mode idle --connections 10000   # RSS/conn
    python bench/chat_pairs.py --url http://127.0.0.1:8800 --demo-json demo.json --server-pid 123
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
from _client import (
    Account,
    Conn,
    Demo,
    Frame,
    ProtocolError,
    agent_login,
    provision_agents,
    ws_base,
)
from _idle import Snapshots, idle_test, raise_nofile
from _load import (
    Ctx,
    Pair,
    PairRun,
    closed_sender,
    measure,
    open_sender,
    setup_pairs,
    summarize,
)
from _report import cpu_figures, human, ms_since, percentiles, rate
from _server import DEFAULT_MYSQL_URL, CpuMeter, SpawnedServer, find_pid, run_demo

SETUP_CONCURRENCY = 8
perf = time.perf_counter


# --------------------------------------------------------------------------- modes


async def closed_loop(
    pairs: list[Pair], messages: int, window: int, meter: CpuMeter, within: float
) -> dict[str, Any]:
    runs = [PairRun(p, window) for p in pairs]
    phase = await measure(runs, lambda _: [closed_sender(r, messages) for r in runs], meter, within)
    return summarize(phase)


async def open_loop(
    pairs: list[Pair], offered: float, duration: float, drain: float, meter: CpuMeter
) -> dict[str, Any]:
    runs = [PairRun(p, None) for p in pairs]
    interval = len(pairs) / offered  # per pair; pairs are staggered by 1/offered

    def senders(start: float) -> list[Coroutine[Any, Any, None]]:
        begin = start
        return [
            open_sender(r, begin + i / offered, interval, begin + duration)
            for i, r in enumerate(runs)
        ]

    phase = await measure(runs, senders, meter, duration + drain)
    out = summarize(phase)
    lags = [x for r in runs for x in r.lags]
    out.update(
        offered_per_s=offered,
        duration_s=duration,
        sent_per_s=rate(out["sent"], duration),
        generator_lag_ms=percentiles(lags),
    )
    return out


async def resume_test(
    ctx: Ctx, messages: int, window: int, meter: CpuMeter, within: float
) -> dict[str, Any]:
    """The agent is away while the visitor sends `messages`; then it reconnects with
    hello{resume: {conv: last_seq}} and we time the replay."""
    (pair,) = await setup_pairs(ctx, 1)
    last_seq = pair.agent_seq
    await pair.agent.close()
    await asyncio.sleep(0.2)  # let the server notice the agent has gone

    run = PairRun(pair, window, expect_delivery=False)
    await measure([run], lambda _: [closed_sender(run, messages)], meter, within)
    if run.acked + run.failed < messages:
        raise ProtocolError(f"resume: only {run.acked} of {messages} sends acked")
    if run.failed:
        raise ProtocolError(f"resume: {run.failed} of {messages} sends failed: {dict(run.errors)}")

    agent = await Conn.connect(ctx.ws_url + "/ws/agent", "agent#resume", ctx.deflate)
    seqs: list[int] = []
    cids: set[str] = set()
    marks: dict[str, float] = {}
    finished = asyncio.Event()
    wanted = run.acked

    def on_frame(f: Frame, now: float) -> None:
        kind = f.get("type")
        if kind == "welcome":
            marks["welcome"] = now
        elif kind == "message" and f.get("conv") == pair.conv and (f.get("seq") or 0) > last_seq:
            seqs.append(int(f["seq"]))
            marks.setdefault("first", now)
            if f.get("sender", {}).get("type") == "visitor" and f.get("cid"):
                cids.add(str(f["cid"]))
                if len(cids) == wanted and "last" not in marks:
                    marks["last"] = now
                    finished.set()

    agent.handler = on_frame
    cpu_before = meter.sample()
    hello_at = perf()
    await agent.hello(pair.agent_token, resume={pair.conv: last_seq}, within=within)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(finished.wait(), within)
    cpu_after = meter.sample()
    await agent.close()
    await pair.close()
    ordered = all(a < b for a, b in itertools.pairwise(seqs))
    return {
        "complete": finished.is_set(),
        "messages": wanted,
        "replayed": len(seqs),
        "resume_from_seq": last_seq,
        "max_acked_seq": run.max_ack_seq,
        "in_order_no_duplicates": ordered,
        "hello_to_welcome_ms": ms_since(marks.get("welcome"), hello_at),
        "hello_to_first_ms": ms_since(marks.get("first"), hello_at),
        "hello_to_last_ms": ms_since(marks.get("last"), hello_at),
        **cpu_figures(cpu_before, cpu_after, wanted),
    }


# --------------------------------------------------------------------------- driver


async def run_bench(
    args: argparse.Namespace,
    url: str,
    demo: Demo,
    meter: CpuMeter,
    premade: tuple[list[Account], str],
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=url, timeout=15, trust_env=False) as http:
        accounts = agent_accounts(demo, args)
        if args.agents == "per-pair" and agents_wanted(args):
            made, why_not_cli = premade
            why_not_api = "not tried"
            if not made:
                tag = secrets.token_hex(3)
                made, why_not_api = await provision_agents(http, demo, agents_wanted(args), tag)
            if made:
                accounts = made
            else:
                results["agents_note"] = (
                    f"per-pair agents not available (CLI: {why_not_cli}; admin API: "
                    f"{why_not_api}); {len(accounts)} demo identities are shared, so each "
                    "message also reaches the other connections of its agent"
                )
        results["agent_identities"] = len(accounts)
        gate = asyncio.Semaphore(SETUP_CONCURRENCY)

        async def login(account: Account) -> str:
            if account.token:  # issued with the account: no password to check
                return account.token
            async with gate:
                return await agent_login(http, demo.tenant, account)

        t0 = perf()
        tokens = list(await asyncio.gather(*(login(a) for a in accounts)))
        results["logins_s"] = round(perf() - t0, 2)
        ctx = Ctx(http, ws_base(url), demo, tokens, make_body(args.body_bytes), args.deflate)
        if args.routing:
            await set_default_routing(http, demo, args.routing)
            results["routing"] = args.routing
        if {"closed", "open"} & set(args.mode):
            t0 = perf()
            pairs = await setup_pairs(ctx, args.pairs)
            results["setup_s"] = round(perf() - t0, 2)
            # Every frame an agent connection got while the pairs were set up: the queue's
            # fan-out (issue #17) is paid here, one new conversation per pair.
            results["setup_frames_per_agent"] = frames_per_agent(pairs)
            try:
                if "closed" in args.mode:
                    rounds = []
                    for _ in range(args.repeat):
                        before = frames_per_agent(pairs)
                        commits = await commit_counts(http)
                        one = await closed_loop(
                            pairs, args.messages, args.window, meter, args.timeout
                        )
                        one["frames_per_agent"] = round(frames_per_agent(pairs) - before, 1)
                        one.update(commit_figures(commits, await commit_counts(http)))
                        rounds.append(one)
                    results["closed"] = median_round(rounds)
                    if args.repeat > 1:
                        results["closed_rounds"] = rounds
                if "open" in args.mode:
                    commits = await commit_counts(http)
                    results["open"] = await open_loop(
                        pairs, args.rate, args.duration, args.drain, meter
                    )
                    results["open"].update(commit_figures(commits, await commit_counts(http)))
            finally:
                await asyncio.gather(*(p.close() for p in pairs))
        if "resume" in args.mode:
            results["resume"] = await resume_test(
                ctx, args.resume_messages, args.window, meter, args.timeout
            )
        if "idle" in args.mode:
            snapshots = None
            if args.snapshot_dir and meter.server_pid:
                snapshots = Snapshots(meter.server_pid, args.snapshot_dir)
            results["idle"] = await idle_test(
                http, ctx.ws_url, demo, meter.server_pid, args.connections, args.idle_visitors,
                args.hold,
                args.connect_concurrency, snapshots,
            )  # fmt: skip
    return results


async def commit_counts(http: httpx.AsyncClient) -> tuple[float, float] | None:
    """The node's group commits so far and the messages they carried, from its /metrics
    (``steadydesk_commit_batch_size``); None when /metrics is not open to this client."""
    try:
        resp = await http.get("/metrics")
    except httpx.HTTPError:
        return None
    if resp.status_code != 200:
        return None
    found: dict[str, float] = {}
    for line in resp.text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("steadydesk_commit_batch_size_count", "steadydesk_commit_batch_size_sum"):
            found[name] = float(value)
    if len(found) != 2:
        return None
    return found["steadydesk_commit_batch_size_count"], found["steadydesk_commit_batch_size_sum"]


def commit_figures(
    before: tuple[float, float] | None, after: tuple[float, float] | None
) -> dict[str, Any]:
    """Commits in a phase and messages per commit (every send the writer took, the
    phase's and any other traffic's on the node)."""
    if before is None or after is None:
        return {}
    commits, messages = after[0] - before[0], after[1] - before[1]
    per = round(messages / commits, 2) if commits else None
    return {"commits": int(commits), "messages_per_commit": per}


def frames_per_agent(pairs: list[Pair]) -> float:
    return round(sum(p.agent.frames_in for p in pairs) / max(1, len(pairs)), 1)


async def set_default_routing(http: httpx.AsyncClient, demo: Demo, policy: str) -> None:
    """The tenant's default routing (its conversations have no department)."""
    token = await agent_login(http, demo.tenant, demo.admin)
    resp = await http.put(
        "/api/v1/routing/default",
        json={"policy": policy, "offer_timeout_secs": 30},
        headers={"Authorization": f"Bearer {token}"},
    )
    resp.raise_for_status()


def agents_wanted(args: argparse.Namespace) -> int:
    if args.agents != "per-pair" or args.mode == ["idle"]:
        return 0
    return args.pairs if {"closed", "open"} & set(args.mode) else 1


def agent_accounts(demo: Demo, args: argparse.Namespace) -> list[Account]:
    return [*demo.agents, demo.admin] if args.use_admin else list(demo.agents)


def median_round(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median delivered msg/s (rounds are whole, not mixed)."""
    ranked = sorted(rounds, key=lambda r: r["delivered_per_s"])
    return ranked[len(ranked) // 2]


def make_body(size: int) -> str:
    text = "Hello, I have a question about my order #12345 and the delivery date. "
    return (text * (size // len(text) + 1))[:size]


# --------------------------------------------------------------------------- CLI


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="a running node, e.g. http://127.0.0.1:8800")
    target.add_argument("--spawn", choices=["sqlite", "mysql"], help="start a throw-away node")
    p.add_argument("--demo-json", type=Path, help="output of `steadydesk demo --json` (with --url)")
    p.add_argument("--server-pid", type=int, help="server PID for CPU figures (with --url)")
    p.add_argument(
        "--db-pid",
        default="auto",
        help="database PID, 'auto' (mariadbd with --spawn mysql) or 'none'",
    )
    p.add_argument("--mysql-url", default=DEFAULT_MYSQL_URL, help="MariaDB for --spawn mysql")
    p.add_argument(
        "--redis", help="STEADY_REDIS_URL for the spawned node (default: in-process bus)"
    )
    p.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="K=V",
        help="extra env for the spawned node",
    )
    p.add_argument(
        "--mode",
        action="append",
        choices=["closed", "open", "resume", "idle"],
        help="repeatable; default closed (open if --rate)",
    )
    p.add_argument("--pairs", "-K", type=int, default=50)
    p.add_argument("--messages", "-M", type=int, default=200, help="per pair, closed loop")
    p.add_argument("--window", "-W", type=int, default=10, help="max un-acked sends per visitor")
    p.add_argument("--body-bytes", type=int, default=100)
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="closed-loop rounds on the same pairs; median reported",
    )
    p.add_argument(
        "--rate", type=float, default=0.0, help="open loop: offered msg/s over all pairs"
    )
    p.add_argument("--duration", type=float, default=10.0, help="open loop: seconds of sending")
    p.add_argument(
        "--drain", type=float, default=30.0, help="open loop: seconds to wait for stragglers"
    )
    p.add_argument("--resume-messages", type=int, default=1000)
    p.add_argument("--connections", type=int, default=1000, help="idle: connections to hold")
    p.add_argument("--hold", type=float, default=5.0, help="idle: seconds to hold them")
    p.add_argument(
        "--idle-visitors", type=int, default=500, help="idle: visitor sessions, shared round-robin"
    )
    p.add_argument(
        "--connect-concurrency", type=int, default=64, help="idle: connections opened at once"
    )
    p.add_argument(
        "--tracemalloc",
        action="store_true",
        help="idle with --spawn: the node snapshots tracemalloc before and after (slow)",
    )
    p.add_argument("--timeout", type=float, default=300.0, help="per phase, seconds")
    p.add_argument("--deflate", action="store_true", help="offer permessage-deflate like a browser")
    p.add_argument(
        "--no-admin",
        dest="use_admin",
        action="store_false",
        help="do not use the demo admin as an agent",
    )
    p.add_argument(
        "--agents",
        choices=["per-pair", "shared"],
        default="per-pair",
        help="one agent account per pair (created via the admin API; falls back to shared) "
        "or the demo's agents shared round-robin",
    )
    p.add_argument(
        "--routing",
        choices=["manual", "round_robin", "least_loaded"],
        help="set the tenant's default routing first (the bench's agents stay offline, so "
        "nobody is offered; with an automatic policy agents get queue.summary, not cards)",
    )
    p.add_argument(
        "--py-spy",
        type=Path,
        metavar="FILE",
        help="record the server with py-spy over each measured phase (FILE-1, FILE-2...: "
        "collapsed stacks of the thread holding the GIL)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    args = p.parse_args(argv)
    if args.mode is None:
        args.mode = ["open"] if args.rate else ["closed"]
    if "open" in args.mode and args.rate <= 0:
        p.error("--mode open needs --rate")
    return args


def _loop_runner() -> Callable[[Coroutine[Any, Any, Any]], Any]:
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    spawned: SpawnedServer | None = None
    args.snapshot_dir = None
    if "idle" in args.mode:
        # The bench's own limit (a spawned node inherits it), never the server's settings.
        raise_nofile(args.connections + 1024)
    try:
        if args.spawn:
            extra = dict(kv.split("=", 1) for kv in args.server_env)
            if args.tracemalloc:
                args.snapshot_dir = Path(tempfile.mkdtemp(prefix="steadybench-tm-"))
                extra["STEADY_TRACEMALLOC_DIR"] = str(args.snapshot_dir)
            spawned = SpawnedServer(args.spawn, args.mysql_url, args.redis, extra)
            wanted = agents_wanted(args)
            demo, made, why = spawned.start(wanted)
            url, server_pid, backend = spawned.url, spawned.pid, args.spawn
        else:
            made, why = [], "not spawned"
            url, server_pid = args.url.rstrip("/"), args.server_pid
            demo = (
                Demo.parse(args.demo_json.read_text())
                if args.demo_json
                else run_demo(dict(os.environ))
            )
            backend = os.environ.get("STEADY_DATABASE_URL", "unknown db").split(":", 1)[0]
        if args.db_pid == "auto":
            db_pid = find_pid("mariadbd", "mysqld") if args.spawn == "mysql" else None
        else:
            db_pid = None if args.db_pid == "none" else int(args.db_pid)
        meter = CpuMeter(server_pid, db_pid, args.py_spy)
        result: dict[str, Any] = {
            "config": {
                "url": url,
                "backend": backend + (" + redis" if args.redis else ""),
                "pairs": args.pairs,
                "messages": args.messages,
                "window": args.window,
                "body_bytes": args.body_bytes,
                "modes": args.mode,
                "server_pid": server_pid,
                "db_pid": db_pid,
                "deflate": args.deflate,
            }
        }
        if spawned is not None and spawned.agents_s is not None:
            result["agents_s"] = spawned.agents_s
        result.update(_loop_runner()(run_bench(args, url, demo, meter, (made, why))))
    except (ProtocolError, OSError, httpx.HTTPError) as exc:
        print(f"chat_pairs: {exc}", file=sys.stderr)
        if spawned is not None:
            print(spawned.log_tail(), file=sys.stderr)
        return 2
    finally:
        if spawned is not None:
            spawned.stop()
        if args.snapshot_dir is not None:
            shutil.rmtree(args.snapshot_dir, ignore_errors=True)
    if args.json:
        print(human(result), file=sys.stderr)
        print(json.dumps(result))
    else:
        print(human(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
