"""Read models for agents: conversation lists and cards. One query per list, no N+1."""

from __future__ import annotations

from typing import Any

from server.chat.queries import MESSAGE_COLUMNS
from server.chat.rating import rating_data
from server.chat.records import Actor, StoredMessage
from server.chat.visitors import visitor_card
from server.errors import BadRequest
from server.storage.guard import TenantScope
from server.storage.models import (
    Agent,
    Conversation,
    ConversationStatus,
    Department,
    Message,
    MessageKind,
    Visitor,
)

LIST_MAX = 200
STATUS_FILTERS = {"queued", "active", "closed", "open"}


def list_conversations(
    actor: Actor, status: str | None, assignee: str | None, limit: int, offline: bool | None = None
) -> list[dict[str, Any]]:
    if status is not None and status not in STATUS_FILTERS:
        raise BadRequest("status must be queued, active, closed or open")
    scope = TenantScope(actor.tenant_id)
    query = scope.select(Conversation)
    if actor.departments is not None:  # a bridge narrowed to departments
        query = query.where(Conversation.department_id.in_(sorted(actor.departments)))
    if status == "open":
        query = query.where(Conversation.status != ConversationStatus.CLOSED.value)
    elif status:
        query = query.where(Conversation.status == status)
    if offline is not None:  # started outside hours or with nobody online
        query = query.where(Conversation.offline == offline)
    if assignee:
        query = query.where(
            Conversation.assignee_id == (actor.id if assignee == "me" else assignee)
        )
    rows = list(query.order_by(Conversation.created_at.desc()).limit(max(1, min(limit, LIST_MAX))))
    if not rows:
        return []
    visitors = {
        v.id: v for v in scope.select(Visitor).where(Visitor.id.in_({r.visitor_id for r in rows}))
    }
    agent_ids = {r.assignee_id for r in rows if r.assignee_id}
    agents = (
        {a.id: a for a in scope.select(Agent).where(Agent.id.in_(agent_ids))} if agent_ids else {}
    )
    last = _last_messages(scope, [r for r in rows if r.last_seq])
    return [
        {
            "id": row.id,
            "status": row.status,
            "assignee": (
                {"id": row.assignee_id, "name": agents[row.assignee_id].name}
                if row.assignee_id in agents
                else None
            ),
            "department": row.department_id,
            "visitor": visitor_card(visitors.get(row.visitor_id)),
            "last_seq": row.last_seq,
            "agent_read_seq": row.agent_read_seq,
            "visitor_read_seq": row.visitor_read_seq,
            "created_at": _iso(row.created_at),
            "closed_at": _iso(row.closed_at),
            "previous": row.previous_id,
            "offline": bool(row.offline),
            "offered_to": row.offered_to if row.status == ConversationStatus.QUEUED.value else None,
            "last_message": last[row.id].wire() if row.id in last else None,
            "rating": rating_data(row),
        }
        for row in rows
    ]


def _last_messages(scope: TenantScope, rows: list[Conversation]) -> dict[str, StoredMessage]:
    """The newest visible message of each conversation, read by primary key."""
    if not rows:
        return {}
    wanted = {(row.id, row.last_seq) for row in rows}
    query = scope.select(Message, *MESSAGE_COLUMNS).where(
        Message.conversation_id.in_({conv for conv, _ in wanted}),
        Message.seq.in_({seq for _, seq in wanted}),
        Message.kind != MessageKind.NOTE.value,
    )
    found: dict[str, StoredMessage] = {}
    for values in query.tuples():
        message = StoredMessage(*values)
        if (message.conv, message.seq) in wanted:
            found[message.conv] = message
    return found


def list_agents(actor: Actor) -> list[dict[str, Any]]:
    scope = TenantScope(actor.tenant_id)
    return [
        {"id": a.id, "name": a.name, "email": a.email, "role": a.role, "status": a.status}
        for a in scope.select(Agent).where(Agent.disabled == False).order_by(Agent.name)  # noqa: E712
    ]


def list_departments(actor: Actor) -> list[dict[str, str]]:
    scope = TenantScope(actor.tenant_id)
    rows = scope.select(Department).order_by(Department.name)
    return [{"id": d.id, "name": d.name} for d in rows]


def _iso(value: Any) -> str | None:
    return value.isoformat() + "Z" if value is not None else None
