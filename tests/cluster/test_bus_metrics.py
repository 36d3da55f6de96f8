"""The Redis bus's metrics (ops/monitoring alerts on them): connected while subscribed,
0 while Redis is away, and one reconnection counted when it comes back."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from server.bus.redis import RedisBus
from tests.support.redis_server import PrivateRedis

pytestmark = [pytest.mark.redis]


def _value(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


async def _until(check: Any, what: str, within: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.05)


async def test_connected_gauge_and_reconnect_counter_follow_redis(tmp_path: Path) -> None:
    redis = PrivateRedis(tmp_path / "redis")
    redis.start()
    bus = RedisBus(redis.url, "metrics-node")
    try:
        await bus.start()
        await _until(lambda: _value("steadydesk_bus_connected") == 1, "connected")
        reconnects = _value("steadydesk_bus_reconnects_total")
        port = redis.port
        redis.stop()
        await _until(lambda: _value("steadydesk_bus_connected") == 0, "disconnected")
        redis.port = port
        redis.start()
        await _until(lambda: _value("steadydesk_bus_connected") == 1, "connected again")
        assert _value("steadydesk_bus_reconnects_total") == reconnects + 1
    finally:
        await bus.stop()
        redis.stop()
