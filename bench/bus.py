"""The Redis bus's per-message cost on a receiving node: one PSUBSCRIBE vs per-topic SUBSCRIBE.

    python bench/bus.py                                  # both modes, defaults below
    python bench/bus.py --mode topics --messages 200000 --convs 3000

Three receiver processes (``--nodes``) stand for three nodes; each runs the server's
own ``RedisBus`` (a micro-benchmark of one component, like bench/sanitizer.py, so it
imports ``server``) and follows a third of the conversations, as a node serving a third
of the clients would. A publisher sends ``--messages`` message publications (the real envelope: a
``StoredMessage`` with a 100-byte body), spread evenly over ``--convs`` conversations,
straight to a private redis-server, in pipelines, at most ``--rate`` per second.
Prints per receiving node: publications received from Redis, delivered to a local
subscriber, CPU seconds of the node's process, and CPU per published message.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from server.bus.redis import CHANNEL_PREFIX, RedisBus  # noqa: E402
from server.chat.bus_codec import ChatCodec  # noqa: E402
from server.chat.records import StoredMessage  # noqa: E402
from tests.support.redis_server import PrivateRedis  # noqa: E402

NODES = 3
BODY = "x" * 100


def _topic(i: int) -> str:
    return f"conv:bench{i:06d}"


def _receiver(
    url: str,
    mode: str,
    node: int,
    nodes: int,
    convs: int,
    expected: int,
    out: mp.Queue,  # type: ignore[type-arg]
) -> None:
    async def main() -> None:
        bus = RedisBus(url, f"node{node}", per_topic=mode == "topics", codec=ChatCodec())
        got = 0
        done = asyncio.Event()

        def handler(topic: str, payload: dict[str, object]) -> None:
            nonlocal got
            got += 1
            if got >= expected:
                done.set()

        await bus.start()
        for i in range(node, convs, nodes):
            bus.subscribe(_topic(i), handler)
        await asyncio.sleep(2.0)  # subscriptions settle
        out.put(("ready", node, 0.0, 0))
        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.wait_for(done.wait(), 600)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
        out.put(("done", node, cpu, got, wall, bus.received))
        await bus.stop()

    asyncio.run(main())


async def _publish(url: str, messages: int, convs: int, rate: int) -> float:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    frames = []
    for i in range(convs):
        stored = StoredMessage(
            id="m" * 26,
            tenant_id="default",
            conv=f"bench{i:06d}",
            seq=1,
            kind="text",
            sender_type="visitor",
            sender_id="v" * 26,
            sender_name="Visitor",
            cid="c" * 36,
            body=BODY,
            created_ms=int(time.time() * 1000),
        )
        frames.append(ChatCodec().encode("publisher", {"type": "message", "message": stored}))
    started = time.perf_counter()
    batch = 500
    sent = 0
    while sent < messages:
        async with client.pipeline(transaction=False) as pipe:
            for n in range(sent, min(sent + batch, messages)):
                c = n % convs
                pipe.publish(CHANNEL_PREFIX + _topic(c), frames[c])
            await pipe.execute()
        sent = min(sent + batch, messages)
        ahead = sent / rate - (time.perf_counter() - started)
        if ahead > 0:
            await asyncio.sleep(ahead)
    await client.aclose()
    return time.perf_counter() - started


def run_mode(mode: str, messages: int, convs: int, rate: int, nodes: int) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="steadybench-bus-"))
    redis = PrivateRedis(work)
    redis.start()
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    per_node = [len(range(n, convs, nodes)) for n in range(nodes)]
    expected = [messages * k // convs for k in per_node]
    procs = [
        ctx.Process(target=_receiver, args=(redis.url, mode, n, nodes, convs, expected[n], out))
        for n in range(nodes)
    ]
    try:
        for p in procs:
            p.start()
        for _ in procs:
            assert out.get(timeout=60)[0] == "ready"
        publish_secs = asyncio.run(_publish(redis.url, messages, convs, rate))
        results = [out.get(timeout=600) for _ in procs]
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
        redis.stop()
    per_receiver = []
    for _, node, cpu, got, wall, received in sorted(results, key=lambda r: r[1]):
        per_receiver.append(
            {
                "node": node,
                "received_from_redis": received,
                "delivered": got,
                "cpu_s": round(cpu, 3),
                "cpu_us_per_published": round(cpu / messages * 1e6, 1),
                "cpu_us_per_delivered": round(cpu / max(got, 1) * 1e6, 1),
                "wall_s": round(wall, 2),
            }
        )
    return {
        "mode": mode,
        "receivers": nodes,
        "messages": messages,
        "convs": convs,
        "publish_msgs_per_s": round(messages / publish_secs),
        "nodes": per_receiver,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["pattern", "topics", "both"], default="both")
    parser.add_argument("--messages", type=int, default=60_000)
    parser.add_argument("--convs", type=int, default=600)
    parser.add_argument("--rate", type=int, default=20_000, help="publications per second")
    parser.add_argument("--nodes", type=int, default=NODES, help="receiving nodes")
    args = parser.parse_args()
    modes = ["pattern", "topics"] if args.mode == "both" else [args.mode]
    for mode in modes:
        result = run_mode(mode, args.messages, args.convs, args.rate, args.nodes)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
