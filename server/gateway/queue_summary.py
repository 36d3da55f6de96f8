"""``queue.summary``: how many conversations wait, per department, for each agent (issue
#17, item 1).

With automatic routing an agent gets the card of a waiting conversation only when it is
offered it (``queue_fanout.py``); what it may serve but was not offered it learns as a
count. An agent who may serve some automatically routed conversation gets summaries; they
cover every waiting conversation it may serve, whatever the routing, so a client can
count its queue from them alone (the console does). A tenant that routes only by hand
sends every card to whoever may serve it and no summaries (nothing to read or write).

It is read from the database (one grouped query per tenant) when the queue may have
changed, at most every ``SUMMARY_EVERY_SECS``, and written only to the agent connections
whose own summary changed: a burst of new conversations costs each agent one frame per
period, not one per conversation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from server.errors import SteadyError
from server.gateway.connection import Connection, dumps
from server.gateway.queue_fanout import COALESCE_SECS, Roster, Rosters
from server.kernel.enums import Role
from server.routing.roster import Waiting, waiting_by_department
from server.storage.database import Store
from steadywire.events import QueueSummary

log = logging.getLogger(__name__)

SUMMARY_EVERY_SECS = 2.0  # an agent gets at most one summary this often
QUEUE_CHANGES = frozenset({"conv.queued", "conv.assigned", "conv.transferred", "conv.closed"})


def summary_event(waiting: Iterable[Waiting]) -> dict[str, Any]:
    shown = tuple(waiting)
    return QueueSummary(sum(w.waiting for w in shown), shown).to_event(None)


def visible_to(roster: Roster, conn: Connection, waiting: list[Waiting]) -> list[Waiting]:
    actor = conn.actor
    if actor.role == Role.ADMIN.value:
        return waiting
    return [w for w in waiting if roster.may_serve(actor.id, actor.role, w.department)]


def wants_summary(roster: Roster, conn: Connection) -> bool:
    """An agent (not a bridge: they get every card) not sent the card of everything it
    may serve, because some of that routes automatically."""
    actor = conn.actor
    return conn.bridge is None and not conn.closing and roster.automatic_for(actor.id, actor.role)


class QueueSummaries:
    """One node's ``queue.summary`` writer, per tenant."""

    def __init__(
        self,
        store: Store,
        rosters: Rosters,
        members: Callable[[str], Iterable[Connection]],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
        every_secs: float = SUMMARY_EVERY_SECS,
    ):
        self._store = store
        self._rosters = rosters
        self._members = members  # tenant id -> its agent connections on this node
        self._spawn = spawn
        self._every_secs = every_secs
        self._read_at: dict[str, float] = {}  # tenant -> when its queue was last read
        self._waiting: dict[str, list[Waiting]] = {}
        self._pending: set[str] = set()  # tenants with a refresh scheduled
        self._sent: dict[str, dict[Connection, bytes]] = {}  # tenant -> conn -> last frame

    @staticmethod
    def changes_queue(payload: dict[str, Any]) -> bool:
        return payload.get("type") == "event" and payload.get("name") in QUEUE_CHANGES

    def changed(self, tenant_id: str) -> None:
        """The tenant's queue may have changed: summaries go out within the period."""
        if tenant_id in self._pending:
            return
        self._pending.add(tenant_id)
        since = time.monotonic() - self._read_at.get(tenant_id, 0.0)
        # At least one coalescing window: the cards held with this change go out first.
        delay = max(COALESCE_SECS * 2, self._every_secs - since)
        asyncio.get_running_loop().call_later(delay, self._start_refresh, tenant_id)

    def _start_refresh(self, tenant_id: str) -> None:
        self._spawn(self._refresh(tenant_id))

    async def _refresh(self, tenant_id: str) -> None:
        try:
            self._pending.discard(tenant_id)
            roster = self._rosters.get(tenant_id)
            if roster is None or not roster.any_automatic:
                return  # every card goes to whoever may serve it: no count needed
            waiting = await self._read(tenant_id)
            if waiting is None:
                return
            sent = self._sent.get(tenant_id, {})
            now: dict[Connection, bytes] = {}
            frames: dict[tuple[str | None, ...], bytes] = {}
            for conn in tuple(self._members(tenant_id)):
                if not wants_summary(roster, conn):
                    continue
                shown = visible_to(roster, conn, waiting)
                key = tuple(w.department for w in shown)
                frame = frames.get(key)
                if frame is None:
                    frame = frames[key] = dumps(summary_event(shown))
                if sent.get(conn) != frame:
                    conn.push(frame)
                now[conn] = frame
            self._sent[tenant_id] = now
        except Exception:
            log.exception("queue summary of %s failed", tenant_id)

    async def send_to(self, conn: Connection) -> None:
        """An agent's first summary, after the queue replayed on hello."""
        tenant_id = conn.actor.tenant_id
        roster = await self._rosters.read(tenant_id)
        if roster is None or not wants_summary(roster, conn):
            return
        held = self._waiting.get(tenant_id)
        fresh = time.monotonic() - self._read_at.get(tenant_id, 0.0) < self._every_secs
        waiting = held if held is not None and fresh else await self._read(tenant_id)
        if waiting is None:
            return
        frame = dumps(summary_event(visible_to(roster, conn, waiting)))
        conn.push(frame)
        self._sent.setdefault(tenant_id, {})[conn] = frame

    def forget(self, conn: Connection) -> None:
        self._sent.get(conn.actor.tenant_id, {}).pop(conn, None)

    async def _read(self, tenant_id: str) -> list[Waiting] | None:
        self._read_at[tenant_id] = time.monotonic()
        try:
            waiting = await self._store.run(waiting_by_department, tenant_id)
        except SteadyError as err:
            log.warning("could not count the queue of %s: %s", tenant_id, err)
            return None
        self._waiting[tenant_id] = waiting
        return waiting
