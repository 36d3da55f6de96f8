"""Queue events (``conv.queued``, ``conv.updated``) to the agents who may serve them, and
written in batches (issue #17, item 1).

Before, every waiting conversation's card and each of its updates went to every agent of
the tenant, one socket write each: with 500 agents, 500 new conversations were 250,000
writes. Two changes, neither visible in a frame's content:

* **Audience.** A conversation of a department that has members goes only to those
  members (and to admins, who supervise every queue); a conversation without a
  department, or of a department without members, to every agent, as routing offers
  it (``Candidate.serves`` in ``server/routing/policy.py``). The roster (who is in which
  department) is read per tenant and kept ``ROSTER_TTL_SECS``; until it is read, or if
  it cannot be, the event goes to every agent, as before.
* **Coalescing.** Queue events are held up to ``COALESCE_SECS`` and then written
  together: one wake-up and one socket write per agent connection for a burst, instead
  of one per event. Any other tenant event (``conv.assigned``, ``conv.closed``, …) or
  agent event (``conv.offered``) first flushes what is held, so no client sees an
  assignment before the card it assigns.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from server.bus import Payload
from server.errors import SteadyError
from server.gateway.connection import Connection, dumps
from server.kernel.actors import Actor
from server.kernel.enums import Role
from server.routing.roster import Roster, read_roster
from server.storage.database import Store

log = logging.getLogger(__name__)

QUEUE_EVENTS = frozenset({"conv.queued", "conv.updated"})
COALESCE_SECS = 0.025  # a queue card may wait this long for others to share its write
ROSTER_TTL_SECS = 2.0  # a department membership change reaches the queue within this
DEPARTMENTS_KEPT = 20_000  # conversation -> department, for conv.updated (no department)
CARDS_KEPT = 2_000  # waiting conversations' cards, sent with an offer (automatic routing)
MISSING = b""  # card_for_offer: the agent needs a card this node never saw


class Rosters:
    """Per-tenant rosters, read in the background and kept ``ROSTER_TTL_SECS``."""

    def __init__(self, store: Store, spawn: Callable[[Coroutine[Any, Any, None]], None]):
        self._store = store
        self._spawn = spawn
        self._rosters: dict[str, tuple[float, Roster]] = {}
        self._reading: set[str] = set()

    def get(self, tenant_id: str) -> Roster | None:
        """The tenant's roster, or None while it is read for the first time."""
        held = self._rosters.get(tenant_id)
        if held is None or time.monotonic() - held[0] > ROSTER_TTL_SECS:
            self._refresh(tenant_id)
        return held[1] if held else None

    async def read(self, tenant_id: str) -> Roster | None:
        held = self._rosters.get(tenant_id)
        if held is not None and time.monotonic() - held[0] <= ROSTER_TTL_SECS:
            return held[1]
        try:
            roster = await self._store.run(read_roster, tenant_id)
        except SteadyError as err:
            log.warning("could not read the department roster of %s: %s", tenant_id, err)
            return held[1] if held else None
        self._rosters[tenant_id] = (time.monotonic(), roster)
        return roster

    def _refresh(self, tenant_id: str) -> None:
        if tenant_id in self._reading:
            return
        self._reading.add(tenant_id)

        async def refresh() -> None:
            try:
                await self.read(tenant_id)
            finally:
                self._reading.discard(tenant_id)

        self._spawn(refresh())


class QueueFanout:
    """Holds one node's queue events per tenant topic and writes them in batches."""

    def __init__(self, rosters: Rosters, coalesce_secs: float = COALESCE_SECS):
        self.rosters = rosters
        self._coalesce_secs = coalesce_secs
        self._held: dict[str, list[tuple[Payload, bytes]]] = {}  # topic -> events
        self._members: dict[str, Callable[[], Iterable[Connection]]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._departments: OrderedDict[str, str | None] = OrderedDict()
        # Automatically routed conversations: the card, and the agents who were given it
        # (offered it), who alone also get its updates.
        self._cards: OrderedDict[str, bytes] = OrderedDict()
        self._carded: dict[str, set[str]] = {}

    @staticmethod
    def holds(payload: Payload) -> bool:
        return payload.get("type") == "event" and payload.get("name") in QUEUE_EVENTS

    def hold(
        self, topic: str, payload: Payload, members: Callable[[], Iterable[Connection]]
    ) -> None:
        frame = dumps(payload)
        if payload.get("name") == "conv.queued":
            self._remember(payload, frame)
        self._held.setdefault(topic, []).append((payload, frame))
        self._members[topic] = members
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._coalesce_secs, self.flush)

    def flush(self) -> None:
        """Write everything held, in the order it came."""
        if not self._held:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        held, self._held = self._held, {}
        members, self._members = self._members, {}
        for topic, events in held.items():
            tenant_id = topic.split(":", 1)[1]
            roster = self.rosters.get(tenant_id)
            audiences = [(p.get("conv") or "", self._department(p), frame) for p, frame in events]
            for conn in tuple(members[topic]()):
                if conn.bridge is not None:
                    continue  # bridges get queue events through their own feed
                for conv, department, frame in audiences:
                    if self._shows_card(roster, conn, conv, department):
                        conn.push(frame)

    def may_see(self, roster: Roster | None, conn: Connection, payload: Payload) -> bool:
        """For a queued card sent outside the live feed (the queue replayed on hello)."""
        conv = payload.get("conv") or ""
        return self._shows_card(roster, conn, conv, self._department(payload))

    def _shows_card(
        self, roster: Roster | None, conn: Connection, conv: str, department: str | None
    ) -> bool:
        """Who may serve it; of an automatically routed one, only admins and the agents
        offered it (the others count it in their ``queue.summary``)."""
        if roster is None:
            return True
        actor = conn.actor
        if not roster.may_serve(actor.id, actor.role, department):
            return False
        if actor.role == Role.ADMIN.value or not roster.routes_automatically(department):
            return True
        return actor.id in self._carded.get(conv, ())

    # -- automatic routing: the card goes with the offer -----------------------------
    def routes_automatically(self, roster: Roster | None, payload: Payload) -> bool:
        return roster is not None and roster.routes_automatically(self._department(payload))

    def given(self, conv: str, agent_id: str) -> None:
        """``agent_id`` has the card of ``conv`` (it was offered it, or replayed it)."""
        self._carded.setdefault(conv, set()).add(agent_id)

    def card_for_offer(self, actor: Actor, offer: Payload) -> bytes | None:
        """The card to send before ``conv.offered`` to ``actor``: None when the agent has
        it already, ``MISSING`` when this node never saw it (read it from the database)."""
        conv = offer.get("conv") or ""
        if actor.role == Role.ADMIN.value or actor.id in self._carded.get(conv, ()):
            return None
        self.given(conv, actor.id)
        roster = self.rosters.get(actor.tenant_id)
        if roster is not None and not roster.routes_automatically(self._department(offer)):
            return None  # a manual queue's card went to everyone who may serve it
        return self._cards.get(conv, MISSING)

    def left_queue(self, payload: Payload) -> None:
        """Assigned or closed: its card is no longer offered to anyone."""
        if payload.get("name") in ("conv.assigned", "conv.closed"):
            conv = payload.get("conv") or ""
            self._cards.pop(conv, None)
            self._carded.pop(conv, None)

    # -- what this node knows of waiting conversations --------------------------------
    def _remember(self, payload: Payload, frame: bytes) -> None:
        conv = payload.get("conv")
        if not isinstance(conv, str):
            return
        data = payload.get("data") or {}
        self._departments[conv] = data.get("department")
        self._departments.move_to_end(conv)
        self._cards[conv] = frame
        self._cards.move_to_end(conv)
        self._carded.pop(conv, None)  # queued again (a transfer): offered afresh
        if len(self._departments) > DEPARTMENTS_KEPT:
            gone, _ = self._departments.popitem(last=False)
            self._carded.pop(gone, None)
        if len(self._cards) > CARDS_KEPT:
            gone, _ = self._cards.popitem(last=False)
            self._carded.pop(gone, None)

    def _department(self, payload: Payload) -> str | None:
        data = payload.get("data") or {}
        if "department" in data:
            return data["department"]
        # conv.updated has no department: the card this node announced had it. Unknown
        # (announced by another node before this one started): every agent, as before.
        return self._departments.get(payload.get("conv") or "")
