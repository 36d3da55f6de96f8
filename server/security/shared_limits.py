"""Limits shared by every node: counted in Redis when there is one, else in this process."""

from __future__ import annotations

import logging
import time
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from server.security.ratelimit import KeyedWindows

log = logging.getLogger(__name__)

REDIS_TIMEOUT_SECS = 0.5


class SharedLimit(Protocol):
    async def allow(self, key: str) -> bool: ...


class LocalLimit:
    def __init__(self, limit: int, window_secs: float):
        self._windows = KeyedWindows(limit, window_secs)

    async def allow(self, key: str) -> bool:
        return self._windows.allow(key)


class RedisLimit:
    """A fixed window per key in Redis (INCR + EXPIRE in one round trip).

    When Redis does not answer, this node falls back to counting alone: a limit that
    is briefly per node beats refusing every visitor while Redis restarts.
    """

    def __init__(self, client: aioredis.Redis, name: str, limit: int, window_secs: int):
        self._client = client
        self._name = name
        self._limit = limit
        self._window = window_secs
        self._fallback = LocalLimit(limit, window_secs)

    async def allow(self, key: str) -> bool:
        bucket = int(time.time()) // self._window
        redis_key = f"sd:limit:{self._name}:{key}:{bucket}"
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.incr(redis_key)
                pipe.expire(redis_key, self._window + 1)
                count, _ = await pipe.execute()
        except (RedisError, OSError) as err:
            log.warning("shared limit %s falls back to this node: %s", self._name, err)
            return await self._fallback.allow(key)
        return int(count) <= self._limit
