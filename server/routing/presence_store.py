"""Where presence is shared: in this process (one node) or in Redis with expiry (cluster).

Redis layout (all times in epoch milliseconds):
* ``sd:presence:<kind>:<tenant>:<id>``  sorted set node -> expiry; someone is connected
  while an entry has not expired. Each node renews its entries every refresh period
  with a TTL of three periods, so a killed node's entries lapse by themselves.
* ``sd:presence:index``  sorted set ``<kind>|<tenant>|<id>`` -> latest expiry of any
  node: the sweep finds people whose every node stopped renewing (died).
* ``sd:presence:tenant:<kind>:<tenant>``  sorted set id -> latest expiry of any node: who
  of a tenant may be connected now (the live monitor lists them; each is then confirmed
  with its own node set).
* ``sd:presence:on:<kind>:<tenant>:<id>``  the last announced state, compared and set in
  one script with the reading of the node set, so exactly one node announces each change
  and the last announcement matches the last state read.
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

    async def settle(self, key: PresenceKey) -> bool | None:
        on = key in self._here  # no await in between: atomic on the event loop
        return None if await self.swap_announced(key, on) == on else on

    async def expired(self) -> list[PresenceKey]:
        return []

    async def members(self, kind: str, tenant_id: str) -> list[str]:
        return [k[2] for k in self._here if k[0] == kind and k[1] == tenant_id]


def _person(key: PresenceKey) -> str:
    return PREFIX + ":".join(key)


def _announced(key: PresenceKey) -> str:
    return PREFIX + "on:" + ":".join(key)


# KEYS: the person's node set, its announced state; ARGV: now (ms), the state's TTL.
# Returns 1 or 0, the new state, when it differs from the announced one; else -1.
_SETTLE_LUA = """
local on = redis.call('ZCOUNT', KEYS[1], ARGV[1], '+inf') > 0 and '1' or '0'
local old = redis.call('GET', KEYS[2])
redis.call('SET', KEYS[2], on, 'EX', ARGV[2])
if (old == '1') == (on == '1') then return -1 end
return tonumber(on)
"""


def _tenant_index(kind: str, tenant_id: str) -> str:
    return f"{PREFIX}tenant:{kind}:{tenant_id}"


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
                    tenant_index = _tenant_index(key[0], key[1])
                    pipe.zadd(tenant_index, {key[2]: until}, gt=True)
                    pipe.zremrangebyscore(tenant_index, 0, now)  # lapsed: gone or dead node
                    pipe.pexpire(tenant_index, self._ttl_ms)
                await pipe.execute()

    async def connected(self, keys: list[PresenceKey]) -> list[bool]:
        now = _now_ms()
        async with self._client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.zcount(_person(key), now, "+inf")
            counts = await pipe.execute()
        return [int(count) > 0 for count in counts]

    async def members(self, kind: str, tenant_id: str) -> list[str]:
        """Who of the tenant has an unexpired entry (possibly just gone: confirm each)."""
        found = cast(
            list[bytes],
            await self._client.zrangebyscore(_tenant_index(kind, tenant_id), _now_ms(), "+inf"),
        )
        return [member.decode() for member in found]

    async def swap_announced(self, key: PresenceKey, on: bool) -> bool:
        old = await self._client.set(
            _announced(key), b"1" if on else b"0", ex=ANNOUNCED_TTL_SECS, get=True
        )
        return old == b"1"

    async def settle(self, key: PresenceKey) -> bool | None:
        result = await self._client.eval(
            _SETTLE_LUA, 2, _person(key), _announced(key), _now_ms(), ANNOUNCED_TTL_SECS
        )
        return None if int(result) < 0 else bool(int(result))

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
