"""The presence tracker on its own (in-process store and bus, no sockets): counting
connections, announcing once, and not flapping on a reconnect within the debounce."""

from __future__ import annotations

import asyncio
from typing import Any

from server.bus.local import LocalBus
from server.chat.records import Actor
from server.routing.presence import Presence
from server.routing.presence_store import LocalPresenceStore
from server.storage.models import SenderType

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
