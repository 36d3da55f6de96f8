"""Routing actions: accept, transfer, agent status. Exactly one agent wins an accept."""

from __future__ import annotations

from typing import Any

from server.bus import Bus
from server.chat import topics
from server.chat.access import access_conversation
from server.chat.directory import ConversationDirectory
from server.chat.queries import queued_event
from server.chat.records import Actor, ConversationRef
from server.errors import BadRequest, Conflict, ErrorCode, Forbidden, NotFound
from server.routing.presence import Presence
from server.storage.database import Store, db
from server.storage.guard import TenantScope
from server.storage.models import (
    Agent,
    AgentStatus,
    Conversation,
    ConversationStatus,
    Department,
    SenderType,
    utcnow,
)


class RoutingService:
    def __init__(
        self,
        store: Store,
        bus: Bus,
        directory: ConversationDirectory,
        presence: Presence | None = None,
    ):
        self.presence = presence  # who is connected; adds visitor_online to conv.queued
        self.store = store
        self.bus = bus
        self.directory = directory

    async def accept(self, actor: Actor, conv: object) -> dict[str, Any]:
        _require_agent(actor)
        ref = await access_conversation(self.directory, actor, conv)
        last_seq = await self.store.run(_claim, ref, actor.id)
        event = _event("conv.assigned", ref.id, {"agent": actor.wire(), "last_seq": last_seq})
        self._announce(ref, event)
        return event

    async def transfer(
        self, actor: Actor, conv: object, to_agent: object, to_department: object, note: object
    ) -> dict[str, Any]:
        _require_agent(actor)
        ref = await access_conversation(self.directory, actor, conv)
        if to_agent is not None and isinstance(to_agent, str):
            target, last_seq = await self.store.run(_transfer_to_agent, ref, to_agent)
            data = {"from": actor.wire(), "to_agent": target, "last_seq": last_seq}
            event = _event("conv.transferred", ref.id, data)
            assigned = _event("conv.assigned", ref.id, {"agent": target, "last_seq": last_seq})
            self._announce(ref, event)
            self.bus.publish(topics.agents(ref.tenant_id), assigned)
        elif to_department is not None and isinstance(to_department, str):
            department = await self.store.run(_transfer_to_department, ref, to_department)
            data = {"from": actor.wire(), "to_department": department}
            event = _event("conv.transferred", ref.id, data)
            self._announce(ref, event)
            queued = await self.store.run(queued_event, ref.tenant_id, ref.id)
            if queued and self.presence is not None:
                await self.presence.annotate_queued(ref.tenant_id, queued)
            if queued:
                self.bus.publish(topics.agents(ref.tenant_id), queued)
        else:
            raise BadRequest("transfer needs to_agent or to_department", code=ErrorCode.BAD_FRAME)
        if isinstance(note, str) and note:
            event["data"]["note"] = note[:1000]
        return event

    async def set_status(self, actor: Actor, state: object) -> dict[str, Any]:
        _require_agent(actor)
        if state not in {s.value for s in AgentStatus}:
            raise BadRequest("state must be online, away or offline", code=ErrorCode.BAD_FRAME)
        await self.store.run(_set_status, actor, str(state))
        event = {
            "type": "event",
            "name": "agent.status",
            "conv": None,
            "data": {"agent": actor.wire(), "state": state},
        }
        self.bus.publish(topics.agents(actor.tenant_id), event)
        return event

    def _announce(self, ref: ConversationRef, event: dict[str, Any]) -> None:
        self.bus.publish(topics.conversation(ref.id), event)
        self.bus.publish(topics.agents(ref.tenant_id), event)


def _event(name: str, conv: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "event", "name": name, "conv": conv, "data": data}


def _require_agent(actor: Actor) -> None:
    if actor.type is not SenderType.AGENT:
        raise Forbidden("only agents may do this")


def _claim(ref: ConversationRef, agent_id: str) -> int:
    """Assign a queued conversation; the conditional UPDATE lets exactly one agent win."""
    scope = TenantScope(ref.tenant_id)
    with db.atomic():
        won = (
            scope.update(
                Conversation,
                status=ConversationStatus.ACTIVE.value,
                assignee_id=agent_id,
                assigned_at=utcnow(),
            )
            .where(
                Conversation.id == ref.id, Conversation.status == ConversationStatus.QUEUED.value
            )
            .execute()
        )
        row = scope.get_or_none(Conversation, Conversation.id == ref.id)
    if row is None:
        raise NotFound("no such conversation")
    if not won:
        if row.status == ConversationStatus.CLOSED.value:
            raise Conflict("the conversation is closed", code=ErrorCode.CONVERSATION_CLOSED)
        if row.assignee_id == agent_id:
            return int(row.last_seq)  # accepting twice is harmless
        raise Conflict("another agent has already accepted this conversation")
    return int(row.last_seq)


def _open_row(scope: TenantScope, ref: ConversationRef) -> Conversation:
    row = scope.get_or_none(Conversation, Conversation.id == ref.id)
    if row is None:
        raise NotFound("no such conversation")
    if row.status == ConversationStatus.CLOSED.value:
        raise Conflict("the conversation is closed", code=ErrorCode.CONVERSATION_CLOSED)
    return row


def _transfer_to_agent(ref: ConversationRef, agent_id: str) -> tuple[dict[str, str], int]:
    scope = TenantScope(ref.tenant_id)
    target = scope.get_or_none(Agent, Agent.id == agent_id, Agent.disabled == False)  # noqa: E712
    if target is None:
        raise NotFound("no such agent")
    with db.atomic():
        _open_row(scope, ref)
        scope.update(
            Conversation,
            status=ConversationStatus.ACTIVE.value,
            assignee_id=target.id,
            assigned_at=utcnow(),
        ).where(Conversation.id == ref.id).execute()
        row = _open_row(scope, ref)
    return {"type": "agent", "id": target.id, "name": target.name}, int(row.last_seq)


def _transfer_to_department(ref: ConversationRef, department_id: str) -> dict[str, str]:
    scope = TenantScope(ref.tenant_id)
    department = scope.get_or_none(Department, Department.id == department_id)
    if department is None:
        raise NotFound("no such department")
    with db.atomic():
        _open_row(scope, ref)
        scope.update(
            Conversation,
            status=ConversationStatus.QUEUED.value,
            assignee_id=None,
            department_id=department.id,
        ).where(Conversation.id == ref.id).execute()
    return {"id": department.id, "name": department.name}


def _set_status(actor: Actor, state: str) -> None:
    TenantScope(actor.tenant_id).update(Agent, status=state).where(Agent.id == actor.id).execute()
