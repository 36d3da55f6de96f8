"""The presence tracker on its own (in-process store and bus, no sockets): counting
connections, announcing once, and not flapping on a reconnect within the debounce."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from server.bus.local import LocalBus
from server.kernel.actors import Actor
from server.kernel.enums import SenderType
from server.routing.presence import Presence
from server.routing.presence_store import LocalPresenceStore

DEBOUNCE = 0.2


def _agent(ident: str, tenant: str = "t1") -> Actor:
    return Actor(SenderType.AGENT, ident, tenant, name=ident)


async def _tracker() -> tuple[Presence, list[tuple[str, dict[str, Any]]]]:
    bus = LocalBus()
    events: list[tuple[str, dict[str, Any]]] = []
    for tenant in ("t1", "t2"):
        bus.subscribe(f"agents:{tenant}", lambda topic, payload: events.append((topic, payload)))
    presence = Presence(LocalPresenceStore(), bus, refresh_secs=10, debounce_secs=DEBOUNCE)
    await presence.start()
    return presence, events


async def _settle() -> None:
    await asyncio.sleep(0.05)


async def test_connected_while_any_connection_is_open() -> None:
    presence, events = await _tracker()
    try:
        alice = _agent("alice")
        presence.arrive(alice)
        presence.arrive(alice)
        await _settle()
        assert await presence.is_connected(alice)
        presence.leave(alice)
        await _settle()
        assert await presence.is_connected(alice), "one connection is still open"
        presence.leave(alice)
        await _settle()
        assert not await presence.is_connected(alice)
        await asyncio.sleep(DEBOUNCE + 0.1)
        names = [(p["name"], p["data"]["connected"]) for _, p in events]
        assert names == [("agent.presence", True), ("agent.presence", False)]
    finally:
        await presence.stop()


async def test_a_reconnect_within_the_debounce_announces_nothing() -> None:
    presence, events = await _tracker()
    try:
        bob = _agent("bob")
        presence.arrive(bob)
        await _settle()
        events.clear()
        presence.leave(bob)
        await asyncio.sleep(DEBOUNCE / 4)
        presence.arrive(bob)
        await asyncio.sleep(DEBOUNCE + 0.1)
        assert events == []
        assert await presence.is_connected(bob)
    finally:
        await presence.stop()


async def test_events_go_to_the_tenant_of_the_person_only() -> None:
    presence, events = await _tracker()
    try:
        presence.arrive(_agent("carol", tenant="t2"))
        presence.arrive(Actor(SenderType.VISITOR, "v1", "t2"))
        await _settle()
        assert {topic for topic, _ in events} == {"agents:t2"}
        assert {p["name"] for _, p in events} == {"agent.presence", "visitor.presence"}
        assert await presence.connected_ids("agent", "t1", ["carol"]) == set()
    finally:
        await presence.stop()


class _PausingStore:
    """A store whose ``connected`` answer can be held back: lets a test run another node's
    whole arrival between one node's reading of "connected" and its announcement."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.hold: asyncio.Event | None = None
        self.held = asyncio.Event()

    async def connected(self, keys: list[Any]) -> list[bool]:
        found: list[bool] = await self.inner.connected(keys)
        if self.hold is not None:
            self.held.set()
            await self.hold.wait()
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_a_move_to_another_node_never_ends_announced_as_gone() -> None:
    # Node A's check after the agent left there reads "nobody", then node B takes the
    # agent's new connection and checks; A's announcement must not land after B's and
    # leave the tenant believing a connected agent is gone.
    import uuid

    import redis.asyncio as aioredis

    from server.routing.presence_store import RedisPresenceStore
    from tests.support.services import redis_url_or_skip

    client = aioredis.Redis.from_url(redis_url_or_skip())
    bus = LocalBus()
    events: list[dict[str, Any]] = []
    tenant = "t" + uuid.uuid4().hex[:12]
    bus.subscribe(f"agents:{tenant}", lambda topic, payload: events.append(payload))
    store_a = _PausingStore(RedisPresenceStore(client, "node-a", ttl_secs=30))
    node_a = Presence(store_a, bus, refresh_secs=10, debounce_secs=0.05)  # type: ignore[arg-type]
    node_b = Presence(RedisPresenceStore(client, "node-b", ttl_secs=30), bus, refresh_secs=10,
                      debounce_secs=0.05)
    await node_a.start()
    await node_b.start()
    try:
        dave = _agent("dave", tenant=tenant)
        node_a.arrive(dave)
        await _settle()
        store_a.hold = asyncio.Event()
        node_a.leave(dave)
        # A has read "nobody"... (or its check does not read and announce in two steps)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(store_a.held.wait(), 1.0)
        node_b.arrive(dave)  # ...and B takes the agent before A announces
        await _settle()
        store_a.hold.set()
        await asyncio.sleep(0.2)
        assert await node_a.is_connected(dave)
        announced = [p["data"]["connected"] for p in events]
        assert announced and announced[-1] is True, announced
    finally:
        if store_a.hold is not None:
            store_a.hold.set()
        await node_a.stop()
        await node_b.stop()
        await client.aclose()
