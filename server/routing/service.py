"""Routing actions: accept, transfer, agent status, offers. Exactly one agent wins an accept."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any

from server.bus import Bus
from server.chat.access import access_conversation
from server.chat.directory import ConversationDirectory
from server.chat.queries import queued_event
from server.chat.visitors import conversation_visitor
from server.errors import BadRequest, Conflict, ErrorCode, Forbidden, NotFound, SteadyError
from server.foundation import audit
from server.kernel import topics
from server.kernel.actors import Actor, ConversationRef
from server.kernel.enums import ROBOT_ASSIGNEE, AgentStatus, ConversationStatus, SenderType
from server.routing import offers
from server.routing import settings as routing_settings
from server.routing.availability import now_utc, start_conversation
from server.routing.presence import Presence
from server.routing.robots import HAND_BACK_SECS, RobotDesk
from server.storage.database import Store, db, is_mysql
from server.storage.guard import TenantScope
from server.storage.models import Agent, Conversation, Department, utcnow
from steadywire.events import (
    AgentStatusChanged,
    ConvAssigned,
    ConvOffered,
    ConvOfferExpired,
    ConvTransferred,
)
from steadywire.server_frames import Sender

log = logging.getLogger(__name__)

OFFER_SWEEP_SECS = 0.5  # default of how often every node looks for expired offers
STRANDED_SCAN_SECS = 5.0  # how often a node looks for conversations never offered
STRANDED_AFTER_SECS = 3  # ... that have waited at least this long


class RoutingService:
    def __init__(
        self,
        store: Store,
        bus: Bus,
        directory: ConversationDirectory,
        presence: Presence | None = None,
        *,
        sweep_secs: float = OFFER_SWEEP_SECS,
        robot_grace_secs: float = HAND_BACK_SECS,
    ):
        self.presence = presence  # who is connected; adds visitor_online to conv.queued
        self.store = store
        self.bus = bus
        self.directory = directory
        self.sweep_secs = sweep_secs
        self._sweeper: asyncio.Task[None] | None = None
        self._stranded_scan_ms = 0  # the first sweep looks at once (after a restart)
        self.robots = RobotDesk(self, grace_secs=robot_grace_secs)

    async def accept(self, actor: Actor, conv: object) -> dict[str, Any]:
        _require_agent(actor)
        ref = await access_conversation(self.directory, actor, conv)
        last_seq = await self.store.run(_claim, ref, actor)
        me = Sender(**actor.wire())
        assigned = ConvAssigned(me, last_seq, assignee=me)
        event = assigned.to_event(ref.id)
        for_agents = await self._with_visitor(ref, assigned)
        self.bus.publish(topics.conversation(ref.id), event)
        self.bus.publish(topics.agents(ref.tenant_id), for_agents)
        return event

    async def transfer(
        self, actor: Actor, conv: object, to_agent: object, to_department: object, note: object
    ) -> dict[str, Any]:
        _require_agent(actor)
        ref = await access_conversation(self.directory, actor, conv)
        if to_agent is not None and isinstance(to_agent, str):
            target, last_seq = await self.store.run(_transfer_to_agent, ref, to_agent, actor)
            transferred = ConvTransferred(actor.wire(), target, None, last_seq, None)
            event = transferred.to_event(ref.id)
            assigned = ConvAssigned(Sender(**target), last_seq)
            for_agents = await self._with_visitor(ref, assigned)
            self._announce_transfer(ref, transferred, note)
            self.bus.publish(topics.agents(ref.tenant_id), for_agents)
        elif to_department is not None and isinstance(to_department, str):
            department = await self.store.run(_transfer_to_department, ref, to_department, actor)
            transferred = ConvTransferred(
                actor.wire(), None, department["id"], None, None, department["name"]
            )
            event = transferred.to_event(ref.id)
            self._announce_transfer(ref, transferred, note)
            queued = await self.store.run(queued_event, ref.tenant_id, ref.id)
            if queued and self.presence is not None:
                await self.presence.annotate_queued(ref.tenant_id, queued)
            if queued:
                self.bus.publish(topics.agents(ref.tenant_id), queued)
            await self._quietly(self.conversation_queued(ref.tenant_id, ref.id))
        else:
            raise BadRequest("transfer needs to_agent or to_department", code=ErrorCode.BAD_FRAME)
        await self._quietly(self.offer_waiting(ref.tenant_id))  # the previous assignee has room
        return event

    async def set_status(self, actor: Actor, state: object) -> dict[str, Any]:
        _require_agent(actor)
        if not isinstance(state, str) or state not in {s.value for s in AgentStatus}:
            raise BadRequest("state must be online, away or offline", code=ErrorCode.BAD_FRAME)
        await self.store.run(_set_status, actor, str(state))
        event = AgentStatusChanged(Sender(**actor.wire()), state).to_event(None)
        self.bus.publish(topics.agents(actor.tenant_id), event)
        if state == AgentStatus.ONLINE.value:
            await self._quietly(self.offer_waiting(actor.tenant_id))
        return event

    async def _with_visitor(self, ref: ConversationRef, assigned: ConvAssigned) -> dict[str, Any]:
        """The event as agents get it: with the visitor's context (never sent to visitors).
        The assignment is committed already: without storage the context is just null."""
        try:
            visitor = await self.store.run(conversation_visitor, ref.tenant_id, ref.id)
        except SteadyError:
            visitor = None
        return replace(assigned, visitor=visitor or {}, for_agents=True).to_event(ref.id)

    # -- offers (auto-assignment) ------------------------------------------------------
    async def conversation_started(self, tenant_id: str, conv: str) -> str | None:
        """First visitor message: department, offline flag; the greeting to send."""
        return await self.store.run(start_conversation, tenant_id, conv, now_utc())

    async def robot_takes(self, tenant_id: str, conv: str) -> bool:
        """A new conversation goes to the tenant's AI robot when its site says so."""
        return await self.robots.engage(tenant_id, conv)

    async def conversation_queued(self, tenant_id: str, conv: str) -> None:
        """A conversation waits: offer it when its department assigns automatically."""
        connected = await self._connected_agents(tenant_id)
        change = await self.store.run(
            offers.make_offer, tenant_id, conv, _now_ms(), expired=False, connected=connected
        )
        if change is not None:
            self._announce_offer(change)

    async def conversation_closed(self, tenant_id: str, conv: str) -> None:
        await self.offer_waiting(tenant_id)  # somebody may have room now

    async def offer_waiting(self, tenant_id: str) -> None:
        """An agent came online or freed capacity: offer what nobody holds an offer for."""
        connected = await self._connected_agents(tenant_id)
        for change in await self.store.run(offers.offer_waiting, tenant_id, _now_ms(), connected):
            self._announce_offer(change)

    # -- policy changes (admin) ---------------------------------------------------------
    async def set_department_routing(
        self, actor: Actor, department: str, data: dict[str, Any], ip: str
    ) -> dict[str, Any]:
        """Set a department's policy; what waits under a now automatic one is offered."""
        result = await self.store.run(
            routing_settings.set_department_routing, actor, department, data, ip
        )
        await self._offer_after_change(actor.tenant_id)
        return result

    async def set_default_routing(
        self, actor: Actor, data: dict[str, Any], ip: str
    ) -> dict[str, Any]:
        """Set the policy of conversations without a department; then offer as above."""
        result = await self.store.run(routing_settings.set_default_routing, actor, data, ip)
        await self._offer_after_change(actor.tenant_id)
        return result

    async def _offer_after_change(self, tenant_id: str) -> None:
        """Nothing else would offer what waits until another event. The change is
        committed already: if offering fails, the next trigger offers them."""
        with contextlib.suppress(SteadyError):
            await self.offer_waiting(tenant_id)

    async def sweep_once(self) -> int:
        """Take over every expired offer; on several nodes each is taken over once. Now
        and then also offer what was never offered (see ``_offer_stranded``)."""
        now_ms = _now_ms()
        taken = 0
        if now_ms - self._stranded_scan_ms >= STRANDED_SCAN_SECS * 1000:
            self._stranded_scan_ms = now_ms
            await self._offer_stranded()
        for tenant_id, conv in await self.store.run(offers.expired_offers, now_ms):
            connected = await self._connected_agents(tenant_id)
            change = await self.store.run(
                offers.make_offer, tenant_id, conv, now_ms, expired=True, connected=connected
            )
            if change is not None:
                taken += 1
                self._announce_offer(change)
        return taken

    async def _offer_stranded(self) -> None:
        """A node that dies right after a first message commits never offers it, and a
        conversation nobody could take waits for a trigger: offer such ones here."""
        older_than = utcnow() - dt.timedelta(seconds=STRANDED_AFTER_SECS)
        for tenant_id in await self.store.run(offers.stranded_tenants, older_than):
            await self.offer_waiting(tenant_id)

    async def _connected_agents(self, tenant_id: str) -> frozenset[str] | None:
        """Agents with an open connection on some node: offers go only to them. None (every
        online agent counts) without presence or while presence cannot be read."""
        if self.presence is None:
            return None
        try:
            ids = await self.store.run(offers.enabled_agent_ids, tenant_id)
            return frozenset(await self.presence.connected_ids("agent", tenant_id, ids))
        except Exception:
            log.warning("presence unavailable: offering to every online agent")
            return None

    def start_sweeper(self) -> None:
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())
        self.robots.start()

    async def stop_sweeper(self) -> None:
        await self.robots.stop()
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_secs)
            try:
                await self.sweep_once()
            except SteadyError as err:  # storage down: the next round tries again
                log.warning("offer sweep failed: %s", err.message)
            except Exception:
                log.exception("offer sweep failed")

    @staticmethod
    async def _quietly(offering: Coroutine[Any, Any, None]) -> None:
        """Offers follow an action that already succeeded: their failure must not undo
        its answer (the sweep and the next trigger try again)."""
        try:
            await offering
        except SteadyError as err:
            log.warning("offering failed: %s", err.message)

    def _announce_offer(self, change: offers.OfferChange) -> None:
        if change.previous and change.previous != change.agent_id:
            self.bus.publish(
                topics.agent(change.previous),
                ConvOfferExpired(change.previous).to_event(change.conv),
            )
        if change.agent_id is None:
            return
        offered = ConvOffered(
            Sender(SenderType.AGENT.value, change.agent_id, change.agent_name or ""),
            change.department,
            change.timeout_secs,
            change.expires_at,
            change.offer_seq,
        )
        self.bus.publish(topics.agent(change.agent_id), offered.to_event(change.conv))

    def _announce_transfer(
        self, ref: ConversationRef, transferred: ConvTransferred, note: object
    ) -> None:
        """The transfer note is for agents: the visitor's copy of the event has none."""
        self.bus.publish(topics.conversation(ref.id), transferred.to_event(ref.id))
        if isinstance(note, str) and note:
            transferred = replace(transferred, note=note[:1000])
        self.bus.publish(topics.agents(ref.tenant_id), transferred.to_event(ref.id))

    def _announce(self, ref: ConversationRef, event: dict[str, Any]) -> None:
        self.bus.publish(topics.conversation(ref.id), event)
        self.bus.publish(topics.agents(ref.tenant_id), event)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _require_agent(actor: Actor) -> None:
    if actor.type is not SenderType.AGENT:
        raise Forbidden("only agents may do this")


def _claim(ref: ConversationRef, actor: Actor) -> int:
    """Assign a queued conversation, or take one over from the AI robot; the conditional
    UPDATE lets exactly one agent win. From then on the robot's sends are refused."""
    scope = TenantScope(ref.tenant_id)
    with db.atomic():
        won = (
            scope.update(
                Conversation,
                status=ConversationStatus.ACTIVE.value,
                assignee_id=actor.id,
                assignee_type=None,
                assigned_at=utcnow(),
                offer_deadline_ms=None,
            )
            .where(
                Conversation.id == ref.id,
                (Conversation.status == ConversationStatus.QUEUED.value)
                | (
                    (Conversation.status == ConversationStatus.ACTIVE.value)
                    & (Conversation.assignee_type == ROBOT_ASSIGNEE)
                ),
            )
            .execute()
        )
        row = scope.get_or_none(Conversation, Conversation.id == ref.id)
        if row is None:
            raise NotFound("no such conversation")
        if not won:
            if row.status == ConversationStatus.CLOSED.value:
                raise Conflict("the conversation is closed", code=ErrorCode.CONVERSATION_CLOSED)
            if row.assignee_id != actor.id:
                raise Conflict("another agent has already accepted this conversation")
            # accepting twice is harmless (and audited like the first)
        audit.in_transaction(actor, "conversation.accept", ref.id)
    return int(row.last_seq)


CLOSED = ConversationStatus.CLOSED.value


def _closed() -> Conflict:
    return Conflict("the conversation is closed", code=ErrorCode.CONVERSATION_CLOSED)


def _open_row(scope: TenantScope, ref: ConversationRef, *, lock: bool = False) -> Conversation:
    """The conversation unless closed. ``lock``: hold its row until the commit (MySQL; on
    SQLite the transaction holds the write lock already), so no close lands before the write."""
    query = scope.select(Conversation).where(Conversation.id == ref.id)
    if lock and is_mysql():
        query = query.for_update()
    row = query.first()
    if row is None:
        raise NotFound("no such conversation")
    if row.status == CLOSED:
        raise _closed()
    return row


def _transfer_to_agent(
    ref: ConversationRef, agent_id: str, actor: Actor
) -> tuple[dict[str, str], int]:
    scope = TenantScope(ref.tenant_id)
    target = scope.get_or_none(Agent, Agent.id == agent_id, Agent.disabled == False)  # noqa: E712
    if target is None:
        raise NotFound("no such agent")
    with db.atomic():
        _open_row(scope, ref, lock=True)
        # Never write a closed conversation back open; checked by reading the row again, not
        # by the row count (MySQL counts changed rows: a transfer may change nothing).
        scope.update(
            Conversation,
            status=ConversationStatus.ACTIVE.value,
            assignee_id=target.id,
            assignee_type=None,
            assigned_at=utcnow(),
            offer_deadline_ms=None,
        ).where(Conversation.id == ref.id, Conversation.status != CLOSED).execute()
        row = _open_row(scope, ref)
        audit.in_transaction(actor, "conversation.transfer", ref.id, {"to_agent": target.id})
    return {"type": "agent", "id": target.id, "name": target.name}, int(row.last_seq)


def _transfer_to_department(
    ref: ConversationRef, department_id: str, actor: Actor
) -> dict[str, str]:
    scope = TenantScope(ref.tenant_id)
    department = scope.get_or_none(Department, Department.id == department_id)
    if department is None:
        raise NotFound("no such department")
    with db.atomic():
        _open_row(scope, ref, lock=True)
        scope.update(
            Conversation,
            status=ConversationStatus.QUEUED.value,
            assignee_id=None,
            assignee_type=None,
            department_id=department.id,
            # A fresh start in the new department: nobody holds an offer, nobody was tried.
            offered_to=None,
            offer_deadline_ms=None,
            offers_tried="",
            offer_seq=Conversation.offer_seq + 1,
        ).where(Conversation.id == ref.id, Conversation.status != CLOSED).execute()
        _open_row(scope, ref)  # as above: a close that got in first stays closed
        audit.in_transaction(
            actor, "conversation.transfer", ref.id, {"to_department": department.id}
        )
    return {"id": department.id, "name": department.name}


def _set_status(actor: Actor, state: str) -> None:
    scope = TenantScope(actor.tenant_id)
    with db.atomic():
        scope.update(Agent, status=state).where(Agent.id == actor.id).execute()
        if state != AgentStatus.ONLINE.value:
            # Away or offline: the offers it holds expire now; the next sweep moves them on.
            offers.expire_offers_of(scope, actor.id, _now_ms())
