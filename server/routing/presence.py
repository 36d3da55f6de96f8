"""Who is connected right now: agents and visitors with at least one open WebSocket.

Each node counts its own connections; a ``PresenceStore`` shares "this node has one"
(in process on a single node, in Redis with expiry on a cluster, so a killed node's
entries vanish by themselves). Comings and goings are announced to the tenant's agents as
``agent.presence`` / ``visitor.presence``: a going only once it has lasted
``debounce_secs`` (a reconnect is not a flap), and exactly once across nodes (the store
swaps the announced state atomically).

``status`` (online/away/offline) is what an agent chose; ``connected`` is this.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any, Protocol

from server.bus import Bus
from server.kernel import topics
from server.kernel.actors import Actor
from server.kernel.enums import SenderType
from server.storage.models import utcnow
from server.times import iso_time
from steadywire.events import PresenceChanged, VisitorCameOrWent
from steadywire.server_frames import Sender

log = logging.getLogger(__name__)

PresenceKey = tuple[str, str, str]  # (kind: "agent" | "visitor" | "ai", tenant_id, id)
STOP_TIMEOUT_SECS = 2.0
TOLD_KINDS = frozenset({"agent", "visitor"})  # their presence is told (agent.presence, ...)


class PresenceStore(Protocol):
    async def set_here(self, key: PresenceKey, here: bool) -> None:
        """Record whether this node holds a connection of ``key``."""

    async def refresh(self, keys: list[PresenceKey]) -> None:
        """Renew this node's entries before they expire."""

    async def connected(self, keys: list[PresenceKey]) -> list[bool]:
        """For each key: does any live node hold a connection?"""

    async def swap_announced(self, key: PresenceKey, on: bool) -> bool:
        """Store the announced state; return the previous one (False when unknown)."""

    async def settle(self, key: PresenceKey) -> bool | None:
        """In one atomic step: read whether ``key`` is connected and store that as the
        announced state. The new state if it changed, None if it did not."""

    async def expired(self) -> list[PresenceKey]:
        """Keys whose every entry expired (their nodes died): claimed for one check."""

    async def members(self, kind: str, tenant_id: str) -> list[str]:
        """Ids of the tenant's people of ``kind`` that may be connected (to confirm)."""


class Presence:
    def __init__(
        self, store: PresenceStore, bus: Bus, *, refresh_secs: float, debounce_secs: float
    ):
        self.store = store
        self.bus = bus
        self.refresh_secs = refresh_secs
        self.debounce_secs = debounce_secs
        self._local: dict[PresenceKey, int] = {}
        self._held: set[PresenceKey] = set()  # keys the store lists on this node
        self._ops: asyncio.Queue[tuple[str, PresenceKey]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._store_ok = True

    # -- connections of this node (called on the event loop, never block) -----------------
    def arrive(self, actor: Actor) -> None:
        key = _key(actor)
        self._local[key] = self._local.get(key, 0) + 1
        if self._local[key] == 1:
            self._ops.put_nowait(("sync", key))
            self._ops.put_nowait(("check", key))

    def leave(self, actor: Actor) -> None:
        key = _key(actor)
        left = self._local.get(key, 0) - 1
        if left > 0:
            self._local[key] = left
            return
        self._local.pop(key, None)
        self._ops.put_nowait(("sync", key))
        loop = asyncio.get_running_loop()
        loop.call_later(self.debounce_secs, self._ops.put_nowait, ("check", key))

    # -- questions -------------------------------------------------------------------------
    async def is_connected(self, agent: Actor) -> bool:
        """True while the agent has a WebSocket open on any node."""
        return bool(await self.connected_ids("agent", agent.tenant_id, [agent.id]))

    async def connected_ids(self, kind: str, tenant_id: str, ids: Iterable[str]) -> set[str]:
        wanted = sorted(set(ids))
        keys = [(kind, tenant_id, i) for i in wanted]
        if not keys:
            return set()
        try:
            found = await self.store.connected(keys)
        except Exception as err:  # the store is away: this node's own knowledge is all we have
            log.warning("presence store unavailable: %s", err)
            found = [self._local.get(k, 0) > 0 for k in keys]
        return {i for i, on in zip(wanted, found, strict=True) if on}

    async def connected_of_tenant(self, kind: str, tenant_id: str) -> set[str]:
        """Everyone of ``kind`` connected to the tenant on any node (the live monitor)."""
        try:
            candidates = await self.store.members(kind, tenant_id)
        except Exception as err:
            log.warning("presence store unavailable: %s", err)
            candidates = [
                k[2] for k, n in self._local.items() if n > 0 and k[:2] == (kind, tenant_id)
            ]
        return await self.connected_ids(kind, tenant_id, candidates)

    async def annotate_queued(
        self, tenant_id: str, event: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """Add ``visitor_online`` to a ``conv.queued`` event's data (in place)."""
        data = (event or {}).get("data")
        visitor = (data or {}).get("visitor") or {}
        if data is not None and visitor.get("id"):
            online = await self.connected_ids("visitor", tenant_id, [visitor["id"]])
            data["visitor_online"] = visitor["id"] in online
        return event

    async def annotate_queued_many(self, tenant_id: str, events: list[dict[str, Any]]) -> None:
        """``annotate_queued`` for many events with one presence question (an agent's
        welcome lists the whole queue: one round trip, not one per conversation)."""
        visitors = [((e.get("data") or {}).get("visitor") or {}).get("id") for e in events]
        online = await self.connected_ids("visitor", tenant_id, [v for v in visitors if v])
        for event, visitor in zip(events, visitors, strict=True):
            data = event.get("data")
            if data is not None and visitor:
                data["visitor_online"] = visitor in online

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._work_forever(), name="presence-worker"),
            loop.create_task(self._refresh_forever(), name="presence-refresh"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        # Leaving for good: drop this node's entries now rather than when they expire
        # (including those whose connections closed just now, before the worker got to them).
        with contextlib.suppress(Exception):
            async with asyncio.timeout(STOP_TIMEOUT_SECS):
                for key in list(self._held):
                    await self.store.set_here(key, False)
                    self._held.discard(key)
        self._local.clear()

    # -- background ------------------------------------------------------------------------
    async def _work_forever(self) -> None:
        """One operation at a time, in order, so a key's sync always precedes its check."""
        while True:
            op, key = await self._ops.get()
            try:
                if op == "sync":
                    here = self._local.get(key, 0) > 0
                    await self.store.set_here(key, here)
                    if here:
                        self._held.add(key)
                    else:
                        self._held.discard(key)
                else:
                    await self._check(key)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.warning("presence %s of %s failed: %s", op, key[0], err)

    async def _check(self, key: PresenceKey) -> None:
        # One step, not "read connected, then swap": between the two, another node could
        # take the person's new connection and check, and this node's stale "gone" would
        # be announced last.
        on = await self.store.settle(key)
        if on is None:
            return
        kind, tenant_id, ident = key
        if kind not in TOLD_KINDS:
            return  # an AI robot's presence is asked for (server/routing/robots.py), not told
        changed = PresenceChanged(Sender(kind, ident), on)
        self.bus.publish(topics.agents(tenant_id), changed.to_event(None))
        if kind == "visitor":  # the live monitor's feed (admins who asked for it)
            self.bus.publish(topics.monitor(tenant_id), monitor_event(ident, on))

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_secs)
            try:
                await self.store.refresh([k for k, n in self._local.items() if n > 0])
                gone = await self.store.expired()
            except asyncio.CancelledError:
                raise
            except Exception as err:
                if self._store_ok:
                    log.warning("presence refresh failed: %s", err)
                self._store_ok = False
                continue
            if not self._store_ok:
                # Back after an outage: peers may have announced our people gone meanwhile.
                self._store_ok = True
                for key in list(self._local):
                    self._ops.put_nowait(("check", key))
            for key in gone:
                self._ops.put_nowait(("check", key))


def monitor_event(visitor_id: str, on: bool) -> dict[str, Any]:
    visitor = Sender(SenderType.VISITOR.value, visitor_id)
    return VisitorCameOrWent(visitor, iso_time(utcnow()), online=on).to_event(None)


def _key(actor: Actor) -> PresenceKey:
    if actor.is_bridge:  # only an ai bridge's connection is counted (gateway/hub.py)
        return ("ai", actor.tenant_id, actor.id)
    kind = "visitor" if actor.type is SenderType.VISITOR else "agent"
    return (kind, actor.tenant_id, actor.id)
