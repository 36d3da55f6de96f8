"""Stopping the Redis bus is bounded even when a task ignores its cancellation.

redis-py can swallow a cancellation that lands inside a blocking read
(redis/redis-py#2028); the bus's stop() awaited each task once and hung forever, which is
how `tests/cluster/test_bus_metrics.py` once outlived its 120 s timeout.
"""

from __future__ import annotations

import asyncio

from server.bus.redis import RedisBus


async def _swallows_one_cancellation(cancelled: list[int]) -> None:
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(1)
            if len(cancelled) > 1:
                raise  # the second request is honoured, as redis-py's next read would be


async def test_stop_returns_when_a_task_swallows_its_cancellation() -> None:
    bus = RedisBus("redis://127.0.0.1:1/0", "stop-node")  # nothing listens: no Redis needed
    await bus.start()
    cancelled: list[int] = []
    stubborn = asyncio.get_running_loop().create_task(_swallows_one_cancellation(cancelled))
    bus._tasks.append(stubborn)
    await asyncio.sleep(0)  # let it start waiting
    loop = asyncio.get_running_loop()
    started = loop.time()
    # A timeout here would cancel stop() itself and so cancel the task a second time:
    # the bound is measured instead.
    await asyncio.wait_for(bus.stop(), timeout=30)
    assert loop.time() - started < 5
    assert stubborn.cancelled()
    assert len(cancelled) == 2
    assert all(task.done() for task in bus._tasks)
