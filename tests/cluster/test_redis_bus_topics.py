"""RedisBus in per-topic mode against a private redis-server, without nodes: a node
receives only the conversations it follows, hears when a subscription takes effect (so
the hub can re-read what was published before), keeps event topics on patterns, and
subscribes everything again after Redis restarts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from server.bus.codec import JsonCodec
from server.bus.redis import RedisBus
from tests.support.redis_server import PrivateRedis

pytestmark = [pytest.mark.redis]


@pytest_asyncio.fixture
async def redis_server(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def _until(check: Any, what: str, within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.02)


async def test_per_topic_bus_receives_only_followed_conversations(
    redis_server: PrivateRedis,
) -> None:
    bus = RedisBus(redis_server.url, "node-a", per_topic=True)
    peer = aioredis.Redis.from_url(redis_server.url)
    got: list[tuple[str, Any]] = []
    took_effect: list[str] = []
    bus.on_subscribed(took_effect.append)
    await bus.start()
    try:
        await _until(bus.healthy, "bus connected")

        def handler(topic: str, payload: dict[str, Any]) -> None:
            got.append((topic, payload.get("n")))

        async def publish(topic: str, n: int) -> None:
            data = JsonCodec().encode("node-b", {"type": "event", "n": n})
            try:
                await peer.publish("sd:" + topic, data)
            except (RedisError, OSError):  # the peer's pooled connection died with Redis
                await peer.publish("sd:" + topic, data)

        bus.subscribe("conv:mine", handler)
        bus.subscribe("agents:t1", handler)  # an event topic: on a pattern, at once
        await _until(lambda: "conv:mine" in took_effect, "subscription confirmed")
        assert took_effect == ["conv:mine"]
        await publish("conv:mine", 1)
        await publish("conv:theirs", 2)  # followed by another node only
        await publish("agents:t1", 3)
        await _until(lambda: len(got) == 2, "two publications delivered")
        assert got == [("conv:mine", 1), ("agents:t1", 3)]
        assert bus.received == 2, "a conversation nobody here follows still reached the node"

        bus.unsubscribe("conv:mine", handler)
        await asyncio.sleep(0.2)
        await publish("conv:mine", 4)
        await publish("agents:t1", 5)
        await _until(lambda: len(got) == 3, "the event topic still delivered")
        assert got[-1] == ("agents:t1", 5) and bus.received == 3

        # Redis restarts: every followed conversation is subscribed again.
        bus.subscribe("conv:again", handler)
        await _until(lambda: "conv:again" in took_effect, "second subscription confirmed")
        redis_server.stop()
        await _until(lambda: not bus.healthy(), "bus notices Redis is gone")
        redis_server.start()
        await _until(bus.healthy, "bus reconnected", within=20)
        await _until(lambda: took_effect.count("conv:again") == 2, "resubscribed")
        await publish("conv:again", 6)
        await _until(lambda: got[-1] == ("conv:again", 6), "delivered after the restart")
    finally:
        await bus.stop()
        await peer.aclose()
