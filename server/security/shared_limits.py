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


class NonceStore(Protocol):
    async def claim(self, key: str, nonce: str, ttl_secs: int) -> bool:
        """True the first time ``(key, nonce)`` is seen within ``ttl_secs``."""
        ...


class LocalNonces:
    def __init__(self, max_entries: int = 200_000):
        self._seen: dict[tuple[str, str], float] = {}
        self._max = max_entries

    async def claim(self, key: str, nonce: str, ttl_secs: int) -> bool:
        now = time.monotonic()
        if len(self._seen) >= self._max:
            self._seen = {k: v for k, v in self._seen.items() if v > now}
        expires = self._seen.get((key, nonce))
        if expires is not None and expires > now:
            return False
        self._seen[(key, nonce)] = now + ttl_secs
        return True


class RedisNonces:
    """Shared by every node: a nonce used on one node is refused on all of them."""

    def __init__(self, client: aioredis.Redis):
        self._client = client
        self._fallback = LocalNonces()

    async def claim(self, key: str, nonce: str, ttl_secs: int) -> bool:
        try:
            return bool(await self._client.set(f"sd:nonce:{key}:{nonce}", 1, nx=True, ex=ttl_secs))
        except (RedisError, OSError) as err:
            log.warning("nonce store falls back to this node: %s", err)
            return await self._fallback.claim(key, nonce, ttl_secs)
