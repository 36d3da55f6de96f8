"""Where presence is shared: in this process (one node) or in Redis with expiry (cluster).

Redis layout (all times in epoch milliseconds):
* ``sd:presence:<kind>:<tenant>:<id>``  sorted set node -> expiry; someone is connected
  while an entry has not expired. Each node renews its entries every refresh period
  with a TTL of three periods, so a killed node's entries lapse by themselves.
* ``sd:presence:index``  sorted set ``<kind>|<tenant>|<id>`` -> latest expiry of any
  node: the sweep finds people whose every node stopped renewing (died).
* ``sd:presence:on:<kind>:<tenant>:<id>``  the last announced state, swapped with
  ``SET ... GET`` so exactly one node announces each change.
"""

from __future__ import annotations

import time
from typing import cast

import redis.asyncio as aioredis

from server.routing.presence import PresenceKey

PREFIX = "sd:presence:"
INDEX_KEY = PREFIX + "index"
ANNOUNCED_TTL_SECS = 24 * 3600
SWEEP_BATCH = 500
PIPELINE_CHUNK = 1000


class LocalPresenceStore:
    """One node: its own counts are the whole truth and nothing ever expires."""

    def __init__(self) -> None:
        self._here: set[PresenceKey] = set()
        self._announced: dict[PresenceKey, bool] = {}

    async def set_here(self, key: PresenceKey, here: bool) -> None:
        if here:
            self._here.add(key)
        else:
            self._here.discard(key)

    async def refresh(self, keys: list[PresenceKey]) -> None:
        return None

    async def connected(self, keys: list[PresenceKey]) -> list[bool]:
        return [key in self._here for key in keys]

    async def swap_announced(self, key: PresenceKey, on: bool) -> bool:
        old = self._announced.get(key, False)
        if on:
            self._announced[key] = True
        else:
            self._announced.pop(key, None)
        return old

    async def expired(self) -> list[PresenceKey]:
        return []


def _person(key: PresenceKey) -> str:
    return PREFIX + ":".join(key)


def _member(key: PresenceKey) -> str:
    return "|".join(key)


def _now_ms() -> int:
    return int(time.time() * 1000)


class RedisPresenceStore:
    def __init__(self, client: aioredis.Redis, node: str, ttl_secs: float):
        self._client = client
        self._node = node
        self._ttl_ms = int(ttl_secs * 1000)

    async def set_here(self, key: PresenceKey, here: bool) -> None:
        if here:
            await self.refresh([key])
        else:
            await self._client.zrem(_person(key), self._node)

    async def refresh(self, keys: list[PresenceKey]) -> None:
        for start in range(0, len(keys), PIPELINE_CHUNK):
            now = _now_ms()
            until = now + self._ttl_ms
            async with self._client.pipeline(transaction=False) as pipe:
                for key in keys[start : start + PIPELINE_CHUNK]:
                    person = _person(key)
                    pipe.zadd(person, {self._node: until})
                    pipe.zremrangebyscore(person, 0, now)  # entries of dead nodes
                    pipe.pexpire(person, self._ttl_ms)
                    pipe.zadd(INDEX_KEY, {_member(key): until}, gt=True)
                await pipe.execute()

    async def connected(self, keys: list[PresenceKey]) -> list[bool]:
        now = _now_ms()
        async with self._client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.zcount(_person(key), now, "+inf")
            counts = await pipe.execute()
        return [int(count) > 0 for count in counts]

    async def swap_announced(self, key: PresenceKey, on: bool) -> bool:
        announced = PREFIX + "on:" + ":".join(key)
        value = b"1" if on else b"0"
        old = await self._client.set(announced, value, ex=ANNOUNCED_TTL_SECS, get=True)
        return old == b"1"

    async def expired(self) -> list[PresenceKey]:
        stale = cast(
            list[bytes],
            await self._client.zrangebyscore(INDEX_KEY, 0, _now_ms(), start=0, num=SWEEP_BATCH),
        )
        if not stale:
            return []
        async with self._client.pipeline(transaction=False) as pipe:
            for member in stale:
                pipe.zrem(INDEX_KEY, member)
            claimed = await pipe.execute()
        keys: list[PresenceKey] = []
        for member, won in zip(stale, claimed, strict=True):
            if won:  # another node's sweep may have claimed it first
                kind, tenant, ident = member.decode().split("|", 2)
                keys.append((kind, tenant, ident))
        return keys
