"""One hostile client must not stall a node (issue #11, findings 2 and 3).

Bodies that once cost 12 ms each to render (``http://a`` and 3,992 ``)``), synced 500 at
a time as fast as allowed, with floods of typing and read frames: another client's ping
round trip stays under 50 ms at p99. ``sync``, ``read`` and ``typing`` are rate-limited
like ``send``, and a batch is sized in bytes.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.hardening.support import PingProbe
from tests.support.clients import Clients, WsClient, open_conversation, send_pipelined
from tests.support.server import ServerProcess

HOSTILE_BODY = "http://a" + ")" * 3992
BATCH_MAX_BYTES = 256 * 2**10
P99_LIMIT_MS = 50.0


async def _hostile_conversation(
    node: ServerProcess, clients: Clients, count: int
) -> tuple[WsClient, str]:
    assert node.demo is not None
    visitor = await clients.visitor(node, demo=node.demo)
    agent = await clients.agent(node, node.demo.agents[0], demo=node.demo)
    conv = await open_conversation(visitor, agent)
    await send_pipelined(visitor, conv, count - 1, body=lambda i: HOSTILE_BODY, timeout=120)
    await agent.close()
    return visitor, conv


async def test_sync_read_and_typing_are_rate_limited(server_factory, clients: Clients) -> None:  # type: ignore[no-untyped-def]
    node: ServerProcess = server_factory(
        {"STEADY_WS_SYNC_RATE_VISITOR": "5", "STEADY_WS_SIGNAL_RATE_VISITOR": "8"}
    )
    visitor, conv = await _hostile_conversation(node, clients, 2)
    for _ in range(8):
        await visitor.send_json({"type": "sync", "conv": conv, "after": 0})
    limited = await visitor.recv_error("rate_limited", timeout=5)
    assert limited.get("conv") == conv
    for n in range(12):
        await visitor.send_json({"type": "typing", "conv": conv, "on": n % 2 == 0})
        await visitor.send_json({"type": "read", "conv": conv, "seq": 1})
    await visitor.recv_until(
        lambda f: (
            f["type"] == "error" and f["code"] == "rate_limited" and "slow down" in f["message"]
        ),
        5,
        "rate_limited for typing/read",
    )
    await visitor.ping_pong()  # limited, not closed


async def test_a_batch_is_sized_in_bytes_and_paging_gets_everything(
    server_factory,
    clients: Clients,  # type: ignore[no-untyped-def]
) -> None:
    node: ServerProcess = server_factory()
    visitor, conv = await _hostile_conversation(node, clients, 60)
    batch = await visitor.sync(conv, after=0, limit=500)
    raw = [f for f in visitor.log if f is batch]
    assert raw and batch["has_more"] is True
    assert 0 < len(batch["messages"]) < 60
    size = sum(len(m["body"]) + len(m["html"]) for m in batch["messages"])
    assert size <= BATCH_MAX_BYTES, size
    history = await visitor.history(conv)
    assert [m["seq"] for m in history] == list(range(1, 61))


@pytest.mark.serial
@pytest.mark.slow
async def test_a_hostile_client_does_not_stall_other_clients(
    server_factory,
    clients: Clients,  # type: ignore[no-untyped-def]
) -> None:
    node: ServerProcess = server_factory()
    hostile, conv = await _hostile_conversation(node, clients, 500)
    assert node.demo is not None
    probe = PingProbe(await clients.visitor(node, demo=node.demo))
    for _ in range(20):  # warm: the probe's own first round trips
        await probe.client.ping_pong()
    quiet_ms = await probe.quiet_p99_ms()
    stop = asyncio.Event()

    async def attack() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            await hostile.send_json({"type": "sync", "conv": conv, "after": 0, "limit": 500})
            await hostile.send_json({"type": "typing", "conv": conv, "on": n % 2 == 0})
            await hostile.send_json({"type": "read", "conv": conv, "seq": n})
            await asyncio.sleep(0.01)

    attacker = asyncio.create_task(attack())
    pinger = asyncio.create_task(probe.run(stop))
    await asyncio.sleep(10)
    stop.set()
    await asyncio.gather(attacker, pinger)
    print(probe.summary())
    assert len(probe.rtts) > 100
    limit = probe.limit_ms(P99_LIMIT_MS, quiet_ms)
    assert probe.p99_ms() < limit, f"{probe.summary()} (quiet p99 {quiet_ms:.1f} ms)"
